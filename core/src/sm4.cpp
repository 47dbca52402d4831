// SM4-ECB-PKCS#7 with OpenSSL 3's EVP interface in a private library context
// (see sm4.hpp). The padding is OpenSSL's (EVP_CIPHER_CTX_set_padding on,
// the default), which is PKCS#7 for a 16-byte block.
#include "elicense/sm4.hpp"

#include "elicense/error.hpp"

#include <openssl/err.h>
#include <openssl/evp.h>

#include <climits>
#include <memory>

namespace elicense::core {
namespace {

struct LibCtxFree {
	void operator()(OSSL_LIB_CTX *p) const noexcept {
		OSSL_LIB_CTX_free(p);
	}
};
struct CipherFree {
	void operator()(EVP_CIPHER *p) const noexcept {
		EVP_CIPHER_free(p);
	}
};
struct CipherCtxFree {
	void operator()(EVP_CIPHER_CTX *p) const noexcept {
		EVP_CIPHER_CTX_free(p);
	}
};

[[noreturn]] void Fail(const char *sqlstate, std::string message, std::string detail = {}, std::string hint = {}) {
	ERR_clear_error();  // a stale entry must never surface in unrelated code
	throw Error(sqlstate, std::move(message), std::move(detail), std::move(hint));
}

// The private context and the SM4-ECB cipher fetched once from it. The
// default provider is activated in that context on the first fetch.
class Sm4Context {
public:
	Sm4Context() : ctx_(OSSL_LIB_CTX_new()) {
		if (!ctx_)
			Fail(sqlstate::kInternalError, "OpenSSL failed in OSSL_LIB_CTX_new");
		cipher_.reset(EVP_CIPHER_fetch(ctx_.get(), "SM4-ECB", nullptr));
		if (!cipher_)
			Fail(sqlstate::kFeatureNotSupported, "OpenSSL has no SM4-ECB cipher",
			     "EVP_CIPHER_fetch(\"SM4-ECB\") failed in a private library context with the default provider.",
			     "Use an OpenSSL 3 build with SM4 enabled (Debian's libssl3 has it).");
	}
	const EVP_CIPHER *cipher() const noexcept {
		return cipher_.get();
	}

private:
	std::unique_ptr<OSSL_LIB_CTX, LibCtxFree> ctx_;  // declared first: destroyed after the cipher
	std::unique_ptr<EVP_CIPHER, CipherFree> cipher_;
};

const EVP_CIPHER *Sm4Ecb() {
	static const Sm4Context context;  // thread-safe initialisation; a failure is retried on the next call
	return context.cipher();
}

std::string Run(std::string_view input, std::string_view key, bool encrypt) {
	if (key.size() != kSm4KeyLength)
		Fail(sqlstate::kInvalidParameterValue, "the SM4 key must be 16 bytes",
		     "The key has " + std::to_string(key.size()) + " bytes.",
		     "Give the relay's key as exactly 16 ASCII characters (relay.sm4_key_file or ELICENSE_SM4_KEY).");
	if (input.size() > static_cast<std::size_t>(INT_MAX) - kSm4BlockLength)
		Fail(sqlstate::kInvalidParameterValue, "the SM4 input is too large", std::to_string(input.size()) + " bytes.");
	if (!encrypt && (input.empty() || input.size() % kSm4BlockLength != 0))
		Fail(sqlstate::kInvalidParameterValue, "the SM4 ciphertext is not a whole number of 16-byte blocks",
		     "It has " + std::to_string(input.size()) + " bytes.", "Check the key and the relay's envelope.");
	const EVP_CIPHER *cipher = Sm4Ecb();
	std::unique_ptr<EVP_CIPHER_CTX, CipherCtxFree> ctx(EVP_CIPHER_CTX_new());
	if (!ctx || EVP_CipherInit_ex2(ctx.get(), cipher, reinterpret_cast<const unsigned char *>(key.data()), nullptr,
	                               encrypt ? 1 : 0, nullptr) != 1)
		Fail(sqlstate::kInternalError, "OpenSSL failed in EVP_CipherInit_ex2 (SM4-ECB)");
	std::string out(input.size() + kSm4BlockLength, '\0');
	int written = 0, last = 0;
	auto *dst = reinterpret_cast<unsigned char *>(out.data());
	if (EVP_CipherUpdate(ctx.get(), dst, &written, reinterpret_cast<const unsigned char *>(input.data()),
	                     static_cast<int>(input.size())) != 1)
		Fail(sqlstate::kInternalError, "OpenSSL failed in EVP_CipherUpdate (SM4-ECB)");
	if (EVP_CipherFinal_ex(ctx.get(), dst + written, &last) != 1) {
		if (encrypt)
			Fail(sqlstate::kInternalError, "OpenSSL failed in EVP_CipherFinal_ex (SM4-ECB)");
		Fail(sqlstate::kInvalidParameterValue, "the SM4 ciphertext does not decrypt under the configured key",
		     "Its PKCS#7 padding does not check.", "Check that both ends use the same 16-character key.");
	}
	out.resize(static_cast<std::size_t>(written) + static_cast<std::size_t>(last));
	return out;
}

}  // namespace

std::string Sm4EcbEncrypt(std::string_view plain, std::string_view key) {
	return Run(plain, key, true);
}

std::string Sm4EcbDecrypt(std::string_view cipher, std::string_view key) {
	return Run(cipher, key, false);
}

}  // namespace elicense::core
