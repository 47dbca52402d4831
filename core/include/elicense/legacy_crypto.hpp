// The national platform's crypto for QR codes and code assignment (赋码):
// DES-ECB with PKCS#5 padding under an 8-character key, and RSA with PKCS#1
// v1.5 padding. Vocabulary:
//   key8    the 8 printable ASCII characters whose bytes are the DES key
//   ID      UPPERHEX(DES-ECB-PKCS5(code, key8))
//   k       RSA-PKCS#1v1.5(platform public key, key8), base64 or hex text
//
// OpenSSL 3 keeps DES in its "legacy" provider. We load it, with "default",
// into a private OSSL_LIB_CTX that this file owns, so the server's default
// context (used by PostgreSQL's own SSL) is never changed. Every function is
// thread-safe. Errors are core::Error; messages never contain key material.
#pragma once

#include "elicense/cpp_only.hpp"

#include <string>
#include <string_view>

namespace elicense::core {

inline constexpr std::size_t kDesKeyLength = 8;
inline constexpr int kMinRsaBits = 512;

// How RSA ciphertext is written as text.
enum class CipherTextFormat { kBase64, kHex };

// "base64" or "hex"; throws Error 22023 otherwise.
CipherTextFormat ParseCipherTextFormat(std::string_view name);

// A fresh key of kDesKeyLength characters drawn uniformly from [0-9A-Za-z]
// with the OpenSSL CSPRNG.
std::string RandomDesKey();

// UPPERHEX(DES-ECB-PKCS5(plain, key8)).
// \throws Error 22023 if key8 is not kDesKeyLength bytes.
std::string DesEncryptHex(std::string_view plain, std::string_view key8);

// Inverse of DesEncryptHex; `field` names the ciphertext in errors.
// \throws Error 22P02 for bad hex, 22023 if it does not decrypt under key8.
std::string DesDecryptHex(std::string_view hex, std::string_view key8, std::string_view field);

// Size in bits of an RSA public key in PEM ("BEGIN PUBLIC KEY" or
// "BEGIN RSA PUBLIC KEY"). \throws Error 22023 for anything else or if it
// has fewer than kMinRsaBits bits.
int RsaPublicKeyBits(std::string_view public_pem);

// Size in bits of an RSA private key in PEM (PKCS#8 "BEGIN PRIVATE KEY" or
// PKCS#1 "BEGIN RSA PRIVATE KEY", unencrypted). Same errors.
int RsaPrivateKeyBits(std::string_view private_pem);

// RSA-PKCS#1 v1.5 encryption of `plain` under the public key, as text.
std::string RsaEncrypt(std::string_view public_pem, std::string_view plain, CipherTextFormat format);

// RSA-PKCS#1 v1.5 decryption of `cipher_text` (base64 or hex) with the
// private key; `field` names the ciphertext in errors.
std::string RsaDecrypt(std::string_view private_pem, std::string_view cipher_text, CipherTextFormat format,
                       std::string_view field);

// An RSA private key decoded once from PEM (same errors as
// RsaPrivateKeyBits), for several decryptions: a batch of assignments pays
// the PEM decoding once. OpenSSL holds the key until the object goes.
class RsaPrivateKey {
public:
	explicit RsaPrivateKey(std::string_view private_pem);
	~RsaPrivateKey();
	RsaPrivateKey(const RsaPrivateKey &) = delete;
	RsaPrivateKey &operator=(const RsaPrivateKey &) = delete;
	// As RsaDecrypt, with this key.
	std::string Decrypt(std::string_view cipher_text, CipherTextFormat format, std::string_view field) const;

private:
	void *key_;  // EVP_PKEY
};

// Codecs used above, exposed for the tests and the URL builder.
std::string HexUpper(std::string_view bytes);
std::string HexDecode(std::string_view hex, std::string_view field);  // \throws Error 22P02
std::string Base64Encode(std::string_view bytes);
std::string Base64Decode(std::string_view text, std::string_view field);  // \throws Error 22P02

}  // namespace elicense::core
