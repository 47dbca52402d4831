// libFuzzer target for OFD verification, which reads untrusted packages.
// The first input byte picks what the rest is:
//   even: a whole package (ZIP) for VerifyOfd;
//   odd:  the SignedValue.dat (DER SES_Signature) of an otherwise valid
//         sealed package, which reaches the hand-written DER reader.
// Bits 1-3 of the first byte pick a cancellation: 0 none, else the check
// says "stop" at its (2^n)-th call, as statement_timeout would mid-work; the
// verification then ends with core::Cancelled and nothing else (ASan sees
// every object freed on that path too).
// Besides "no crash, no sanitizer report": VerifyOfd never throws, and a
// replaced SignedValue.dat that verifies must still be our signer's (parts
// of SES_Signature outside TBS_Sign, such as an optional time stamp, are not
// signed, so other bytes may verify, but never another signer). The signer's
// certificate is the trust anchor, so the seal and chain checks run too.
#include "elicense/cancel.hpp"
#include "elicense/ofd_signature.hpp"
#include "elicense/ofd_writer.hpp"
#include "../support/ofd_test_keys.hpp"

#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>

namespace core = elicense::core;

namespace {

constexpr char kSignedValue[] = "Doc_0/Signs/Sign_0/SignedValue.dat";

elicense::test::TestKeyPair &Keys() {
	static elicense::test::TestKeyPair keys = elicense::test::MakeTestKeyPair("SM2", "fuzz");
	return keys;
}

const core::OfdParts &SealedParts() {
	static const core::OfdParts parts = [] {
		core::OfdTemplate face = core::ParseOfdTemplate(R"({"type_code": "T", "name": "N",
		  "title": {"text": "证书", "y": 40, "font": "黑体", "size": 20}, "label": {"font": "黑体", "size": 12},
		  "qr": {"x": 160, "y": 10, "size": 30}, "seal": {"x": 100, "y": 200, "size": 40},
		  "fields": [{"key": "name", "label": "姓名", "x": 20, "y": 80, "width": 100, "font": "宋体", "size": 12}]})");
		const elicense::test::TestKeyPair &keys = Keys();
		core::OfdSeal seal;
		seal.private_key_pem = keys.private_key_pem;
		seal.certificate_pem = keys.certificate_pem;
		seal.picture_png = elicense::test::TinyPng();
		core::OfdParts built = core::BuildLicenceParts(face, {{"name", "林晓峰"}}, elicense::test::TinyPng(), {});
		core::SignOfdParts(built, seal);
		return built;
	}();
	return parts;
}

int checks_left = 0;
bool StopWhenCountedDown() noexcept {
	return --checks_left == 0;
}

// The verdict, or nullopt when the installed check cancelled the work.
std::optional<core::OfdVerifyResult> VerifyNoThrow(const core::Bytes &zip, const std::string &cert = {}) {
	try {
		// The signer's own certificate is the trust anchor: a verdict other
		// than untrusted is reachable, so every check runs.
		return core::VerifyOfd(zip, cert, {Keys().certificate_pem});
	} catch (const core::Cancelled &) {
		return std::nullopt;
	} catch (...) {
		std::abort();  // VerifyOfd promises not to throw for a bad package
	}
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size) {
	if (size == 0)
		return 0;
	core::Bytes rest(data + 1, data + size);
	int cancel_at = (data[0] >> 1) & 7;
	// Verifies with the input's cancellation installed around the call only.
	auto verify = [cancel_at](const core::Bytes &zip) {
		checks_left = cancel_at == 0 ? -1 : 1 << (cancel_at - 1);
		core::ScopedCancelCheck cancel(cancel_at == 0 ? nullptr : StopWhenCountedDown);
		std::optional<core::OfdVerifyResult> verdict = VerifyNoThrow(zip);
		if (!verdict && cancel_at == 0)
			std::abort();  // cancelled without a check installed
		return verdict;
	};
	if ((data[0] & 1) == 0) {
		verify(rest);
		return 0;
	}
	core::OfdParts parts = SealedParts();
	bool original = rest == parts.Get(kSignedValue);
	parts.Put(kSignedValue, rest);
	core::Bytes zip = core::WriteOfdZip(parts);
	std::optional<core::OfdVerifyResult> verdict = verify(zip);
	if (!verdict)
		return 0;
	bool ok = verdict->ok();
	if ((original && !ok) || (ok && !VerifyNoThrow(zip, Keys().certificate_pem)->ok()))
		std::abort();
	return 0;
}
