// libFuzzer target for what the preview server reads from the Internet
// before any database call: the token in the URL. Besides "no crash, no
// sanitizer report" it checks:
//   - base64url decoding is canonical: a decoded value re-encodes to the input;
//   - a token ReadPreviewToken accepts rebuilds, with its claims and any key,
//     to a token of the same length and the same claims;
//   - no input verifies against a fixed key unless it is the token made
//     from its own claims with that key (the MAC cannot be skipped).
#include "elicense/preview_token.hpp"

#include <cstdint>
#include <cstdlib>
#include <string>

namespace core = elicense::core;

namespace {

void Check(bool condition) {
	if (!condition)
		std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size) {
	std::string text(reinterpret_cast<const char *>(data), size);
	if (auto decoded = core::Base64UrlDecode(text))
		Check(core::Base64UrlEncode(*decoded) == text);

	static const core::Bytes key(32, 0x5a);
	auto claims = core::ReadPreviewToken(text);
	bool signed_ok = core::VerifyPreviewToken(text, key).has_value();
	if (!claims) {
		Check(!signed_ok);
		return 0;
	}
	std::string remade = core::MakePreviewToken(key, claims->key_id, claims->identifier, claims->expires_at);
	Check(remade.size() == text.size());
	auto again = core::ReadPreviewToken(remade);
	Check(again && again->identifier == claims->identifier && again->expires_at == claims->expires_at &&
	      again->key_id == claims->key_id);
	Check(signed_ok == (remade == text));
	return 0;
}
