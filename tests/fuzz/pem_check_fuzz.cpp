// libFuzzer target for the key and certificate check of the seal triggers and load_seal
// (elicense.pem_problem), which reads what a DBA or an attacker with INSERT
// on the table stores. The first input byte picks the kind (private key,
// public key, certificate), the rest is the PEM text. Besides "no crash, no
// sanitizer report": PemProblem never throws, and its reason never quotes the
// input (it may be key material).
#include "elicense/limits.hpp"
#include "elicense/pem_check.hpp"

#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

namespace core = elicense::core;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
	if (size == 0)
		return 0;
	static const char *const kKinds[] = {"private_key", "public_key", "certificate"};
	std::string_view kind = kKinds[data[0] % 3];
	std::string_view pem(reinterpret_cast<const char *>(data + 1), size - 1);
	std::optional<std::string> problem;
	try {
		problem = core::PemProblem(kind, pem);
	} catch (...) {
		std::abort();
	}
	// The reason is one of the fixed sentences: it cannot quote the input.
	if (problem) {
		const std::string known[] = {"is longer than " + std::to_string(core::kMaxPemBytes) + " bytes",
		                             "is an encrypted PEM private key, not an unencrypted PEM private key",
		                             "is not an unencrypted PEM private key",
		                             "is not a PEM public key (BEGIN PUBLIC KEY)", "is not a PEM X.509 certificate"};
		bool is_known = false;
		for (const auto &reason : known)
			is_known = is_known || *problem == reason;
		if (!is_known)
			std::abort();
	}
	return 0;
}
