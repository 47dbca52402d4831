// libFuzzer target for the parsers of the QR and assignment code: hex,
// base64, URL query parameters, QR base URLs, assignment plain texts, DES
// ciphertext and PEM keys. Besides "no crash, no sanitizer report" it
// checks their invariants:
//   - a successful hex/base64 decode re-encodes to the input (upper-cased
//     hex; base64 without the whitespace it skips);
//   - DES ciphertext that decrypts re-encrypts to the same hex;
//   - a classified assignment is a valid code, or a URL whose ID it returns;
//   - only elicense::core::Error ever escapes (anything else aborts).
#include "elicense/assignment.hpp"
#include "elicense/error.hpp"
#include "elicense/legacy_crypto.hpp"
#include "elicense/qr_url.hpp"

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

namespace core = elicense::core;

namespace {

void Check(bool condition) {
	if (!condition)
		std::abort();
}

template <typename F>
void OnlyCoreErrors(F &&f) {
	try {
		f();
	} catch (const core::Error &e) {
		Check(std::string_view(e.sqlstate()).size() == 5);
	}
}

std::string Upper(std::string_view s) {
	std::string out(s);
	for (char &c : out)
		if (c >= 'a' && c <= 'z')
			c = static_cast<char>(c - 'a' + 'A');
	return out;
}

std::string WithoutSpaces(std::string_view s) {
	std::string out;
	for (char c : s)
		if (c != ' ' && c != '\n' && c != '\r' && c != '\t')
			out.push_back(c);
	return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
	std::string_view input(reinterpret_cast<const char *>(data), size);
	OnlyCoreErrors([&] { Check(core::HexUpper(core::HexDecode(input, "f")) == Upper(input)); });
	OnlyCoreErrors([&] { Check(core::Base64Encode(core::Base64Decode(input, "f")) == WithoutSpaces(input)); });
	OnlyCoreErrors([&] {
		std::string plain = core::DesDecryptHex(input, "12345678", "f");
		Check(core::DesEncryptHex(plain, "12345678") == Upper(input));
	});
	OnlyCoreErrors([&] {
		core::Assignment a = core::ClassifyAssignmentPlain(input);
		Check(!core::AssignedCodeProblem(a.code));
		Check(a.is_url ? a.url == input && core::QueryParameter(input, "ID") == a.code : a.code == input);
	});
	OnlyCoreErrors([&] { core::RequireQrBaseUrl(input); });
	OnlyCoreErrors([&] { core::QueryParameter(input, "k"); });
	if (input.find("-----BEGIN") != std::string_view::npos) {
		OnlyCoreErrors([&] { Check(core::RsaPublicKeyBits(input) >= core::kMinRsaBits); });
		OnlyCoreErrors([&] { Check(core::RsaPrivateKeyBits(input) >= core::kMinRsaBits); });
	}
	return 0;
}
