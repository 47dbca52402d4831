#include "relay_envelope.hpp"

#include "elicense/legacy_crypto.hpp"

#include <openssl/evp.h>

#include <memory>
#include <stdexcept>

namespace elicense::testdouble {

namespace {

constexpr std::size_t kSm4KeyBytes = 16;

std::string Sm4Ecb(std::string_view in, std::string_view key, bool encrypt, bool padding) {
	if (key.size() != kSm4KeyBytes)
		throw std::runtime_error("the SM4 key must be 16 bytes, got " + std::to_string(key.size()));
	std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)> ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
	std::unique_ptr<EVP_CIPHER, decltype(&EVP_CIPHER_free)> cipher(EVP_CIPHER_fetch(nullptr, "SM4-ECB", nullptr),
	                                                               EVP_CIPHER_free);
	if (!ctx || !cipher)
		throw std::runtime_error("OpenSSL has no SM4-ECB");
	const auto *k = reinterpret_cast<const unsigned char *>(key.data());
	if (EVP_CipherInit_ex2(ctx.get(), cipher.get(), k, nullptr, encrypt ? 1 : 0, nullptr) != 1 ||
	    EVP_CIPHER_CTX_set_padding(ctx.get(), padding ? 1 : 0) != 1)
		throw std::runtime_error("SM4-ECB initialisation failed");
	std::string out(in.size() + 16, '\0');
	int n = 0, tail = 0;
	auto *o = reinterpret_cast<unsigned char *>(out.data());
	if (EVP_CipherUpdate(ctx.get(), o, &n, reinterpret_cast<const unsigned char *>(in.data()),
	                     static_cast<int>(in.size())) != 1 ||
	    EVP_CipherFinal_ex(ctx.get(), o + n, &tail) != 1)
		throw std::runtime_error(encrypt ? "SM4-ECB encryption failed"
		                                 : "SM4-ECB decryption failed (wrong key, or length/padding not PKCS#7)");
	out.resize(static_cast<std::size_t>(n + tail));
	return out;
}

bool ValidUtf8(std::string_view s) {
	for (std::size_t i = 0; i < s.size();) {
		const auto c = static_cast<unsigned char>(s[i]);
		const std::size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
		if (len == 0 || i + len > s.size())
			return false;
		for (std::size_t k = 1; k < len; ++k)
			if ((static_cast<unsigned char>(s[i + k]) >> 6) != 0x2)
				return false;
		i += len;
	}
	return true;
}

}  // namespace

std::string Sm4EcbEncrypt(std::string_view plain, std::string_view key) {
	return Sm4Ecb(plain, key, true, true);
}

std::string Sm4EcbDecrypt(std::string_view cipher, std::string_view key) {
	if (cipher.empty() || cipher.size() % 16 != 0)
		throw std::runtime_error("SM4 ciphertext length " + std::to_string(cipher.size()) +
		                         " is not a positive multiple of 16");
	return Sm4Ecb(cipher, key, false, true);
}

std::string Sm4EncryptBlock(std::string_view block16, std::string_view key) {
	if (block16.size() != 16)
		throw std::runtime_error("an SM4 block is 16 bytes");
	return Sm4Ecb(block16, key, true, false);
}

std::string SealRelayData(std::string_view json_text, std::string_view key) {
	return core::Base64Encode(Sm4EcbEncrypt(json_text, key));
}

std::string OpenRelayData(std::string_view data, std::string_view key) {
	std::string cipher;
	try {
		cipher = core::Base64Decode(data, "data");
	} catch (const std::exception &) {
		throw std::runtime_error("data is not valid Base64");
	}
	std::string plain = Sm4EcbDecrypt(cipher, key);
	if (!ValidUtf8(plain))
		throw std::runtime_error("decrypted data is not UTF-8");
	return plain;
}

}  // namespace elicense::testdouble
