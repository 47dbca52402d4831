// DES-ECB/PKCS#5 and RSA-PKCS#1 v1.5 with OpenSSL 3 in a private library
// context (see legacy_crypto.hpp). Every OpenSSL handle is owned by a
// unique_ptr; the OpenSSL error queue is cleared after every failure so that
// a stale entry never surfaces in unrelated code of the same process (the
// PostgreSQL backend's own SSL).
#include "elicense/legacy_crypto.hpp"

#include "elicense/error.hpp"

#include "base64.hpp"

#include <openssl/crypto.h>
#include <openssl/decoder.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/provider.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

namespace elicense::core {
namespace {

struct LibCtxFree {
	void operator()(OSSL_LIB_CTX *p) const noexcept {
		OSSL_LIB_CTX_free(p);
	}
};
struct ProviderUnload {
	void operator()(OSSL_PROVIDER *p) const noexcept {
		OSSL_PROVIDER_unload(p);
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
struct PkeyFree {
	void operator()(EVP_PKEY *p) const noexcept {
		EVP_PKEY_free(p);
	}
};
struct PkeyCtxFree {
	void operator()(EVP_PKEY_CTX *p) const noexcept {
		EVP_PKEY_CTX_free(p);
	}
};
struct DecoderCtxFree {
	void operator()(OSSL_DECODER_CTX *p) const noexcept {
		OSSL_DECODER_CTX_free(p);
	}
};

using LibCtxPtr = std::unique_ptr<OSSL_LIB_CTX, LibCtxFree>;
using ProviderPtr = std::unique_ptr<OSSL_PROVIDER, ProviderUnload>;
using CipherPtr = std::unique_ptr<EVP_CIPHER, CipherFree>;
using CipherCtxPtr = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxFree>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree>;
using DecoderCtxPtr = std::unique_ptr<OSSL_DECODER_CTX, DecoderCtxFree>;

// Throws after clearing OpenSSL's thread-local error queue.
[[noreturn]] void Fail(const char *sqlstate, std::string message, std::string detail = {}, std::string hint = {}) {
	ERR_clear_error();
	throw Error(sqlstate, std::move(message), std::move(detail), std::move(hint));
}

[[noreturn]] void FailInternal(const char *what) {
	Fail(sqlstate::kInternalError, std::string("OpenSSL failed in ") + what);
}

PkeyPtr DecodeRsaPem(std::string_view pem, int selection, const char *what);

// Public keys already decoded, by PEM text, most recently used first.
// OpenSSL 3's PEM decoder costs more than an RSA-512 encryption, and every
// QR URL of a province uses the same platform key. Only public keys are
// kept: a province's private key is decoded for each (rare) assignment and
// freed (OpenSSL clears its private parts) right after. EVP_PKEY objects are
// read-only after decoding and safe to share between threads.
class PublicKeyCache {
public:
	std::shared_ptr<EVP_PKEY> Get(std::string_view pem) {
		{
			std::lock_guard<std::mutex> lock(mutex_);
			for (std::size_t i = 0; i < entries_.size(); ++i)
				if (entries_[i].first == pem) {
					std::rotate(entries_.begin(), entries_.begin() + i, entries_.begin() + i + 1);
					return entries_.front().second;
				}
		}
		// Decode outside the lock; two threads may both decode a new key,
		// which is harmless.
		std::shared_ptr<EVP_PKEY> key(DecodeRsaPem(pem, EVP_PKEY_PUBLIC_KEY, "RSA public key").release(), PkeyFree());
		std::lock_guard<std::mutex> lock(mutex_);
		if (entries_.size() == kCapacity)
			entries_.pop_back();
		entries_.emplace(entries_.begin(), std::string(pem), key);
		return key;
	}

private:
	static constexpr std::size_t kCapacity = 16;  // one platform key per configured province
	std::mutex mutex_;
	std::vector<std::pair<std::string, std::shared_ptr<EVP_PKEY>>> entries_;
};

// The private library context with the legacy and default providers and
// the DES-ECB cipher fetched once, and the public keys decoded in it.
// Members are destroyed in reverse order: keys, cipher, providers, then
// the context they all live in.
class CryptoContext {
public:
	CryptoContext() {
		ctx_.reset(OSSL_LIB_CTX_new());
		if (!ctx_)
			FailInternal("OSSL_LIB_CTX_new");
		legacy_.reset(OSSL_PROVIDER_load(ctx_.get(), "legacy"));
		if (!legacy_) {
			const char *env = std::getenv("OPENSSL_MODULES");
			const char *dir = env != nullptr ? env : OPENSSL_info(OPENSSL_INFO_MODULES_DIR);
			Fail(sqlstate::kFeatureNotSupported, "the OpenSSL legacy provider (needed for DES) cannot be loaded",
			     std::string("OpenSSL looked for legacy.so in ") + (dir != nullptr ? dir : "(unknown)") + ".",
			     "On Debian, legacy.so comes with package libssl3 (/usr/lib/<arch>/ossl-modules/); if it lives "
			     "elsewhere, set OPENSSL_MODULES in the server's environment.");
		}
		default_.reset(OSSL_PROVIDER_load(ctx_.get(), "default"));
		if (!default_)
			Fail(sqlstate::kFeatureNotSupported, "the OpenSSL default provider cannot be loaded",
			     "OSSL_PROVIDER_load(\"default\") failed in elicense's private OpenSSL library context.",
			     "Check the OpenSSL installation (package libssl3) and OPENSSL_MODULES.");
		des_ecb_.reset(EVP_CIPHER_fetch(ctx_.get(), "DES-ECB", nullptr));
		if (!des_ecb_)
			Fail(sqlstate::kFeatureNotSupported, "OpenSSL has no DES-ECB cipher in its legacy provider",
			     "EVP_CIPHER_fetch(\"DES-ECB\") failed although the legacy provider loaded.",
			     "Use the OpenSSL 3 build of Debian (package libssl3), which ships DES in legacy.so.");
	}

	OSSL_LIB_CTX *ctx() const noexcept {
		return ctx_.get();
	}
	const EVP_CIPHER *des_ecb() const noexcept {
		return des_ecb_.get();
	}
	std::shared_ptr<EVP_PKEY> PublicKey(std::string_view pem) const {
		return public_keys_.Get(pem);
	}

private:
	LibCtxPtr ctx_;
	ProviderPtr legacy_;
	ProviderPtr default_;
	CipherPtr des_ecb_;
	mutable PublicKeyCache public_keys_;
};

// Created on first use; C++11 makes that thread-safe. If the constructor
// throws (legacy provider missing), the next call tries again.
const CryptoContext &Crypto() {
	static const CryptoContext context;
	return context;
}

const unsigned char *Bytes(std::string_view s) noexcept {
	return reinterpret_cast<const unsigned char *>(s.data());
}

void RequireDesKey(std::string_view key8) {
	if (key8.size() != kDesKeyLength)
		Fail(sqlstate::kInvalidParameterValue,
		     "the DES key has " + std::to_string(key8.size()) + " bytes, expected " + std::to_string(kDesKeyLength), {},
		     "The platform's DES keys are 8 ASCII characters.");
}

// One DES-ECB pass with PKCS#5 padding; false if decryption finds bad padding.
bool DesRun(std::string_view input, std::string_view key8, bool encrypt, std::string &out) {
	CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
	if (!ctx)
		throw std::bad_alloc();
	if (EVP_CipherInit_ex2(ctx.get(), Crypto().des_ecb(), Bytes(key8), nullptr, encrypt ? 1 : 0, nullptr) != 1)
		FailInternal("EVP_CipherInit_ex2(DES-ECB)");
	std::vector<unsigned char> buf(input.size() + 16);
	int n = 0;
	int tail = 0;
	if (EVP_CipherUpdate(ctx.get(), buf.data(), &n, Bytes(input), static_cast<int>(input.size())) != 1)
		FailInternal("EVP_CipherUpdate(DES-ECB)");
	if (EVP_CipherFinal_ex(ctx.get(), buf.data() + n, &tail) != 1) {
		ERR_clear_error();
		return false;
	}
	out.assign(reinterpret_cast<const char *>(buf.data()),
	           static_cast<std::size_t>(n) + static_cast<std::size_t>(tail));
	return true;
}

// Reads one RSA key from PEM; `selection` says public or key pair. Both the
// X.509 SubjectPublicKeyInfo / PKCS#8 and the PKCS#1 structures are accepted
// because the decoder is not restricted to one input structure.
PkeyPtr DecodeRsaPem(std::string_view pem, int selection, const char *what) {
	std::string hint = selection == EVP_PKEY_PUBLIC_KEY
	                       ? "Give an RSA public key in PEM: \"-----BEGIN PUBLIC KEY-----\" or \"-----BEGIN RSA PUBLIC "
	                         "KEY-----\"."
	                       : "Give an unencrypted RSA private key in PEM: \"-----BEGIN PRIVATE KEY-----\" (PKCS#8) "
	                         "or \"-----BEGIN RSA PRIVATE KEY-----\" (PKCS#1).";
	EVP_PKEY *raw = nullptr;
	DecoderCtxPtr dctx(OSSL_DECODER_CTX_new_for_pkey(&raw, "PEM", nullptr, "RSA", selection, Crypto().ctx(), nullptr));
	if (!dctx)
		FailInternal("OSSL_DECODER_CTX_new_for_pkey");
	const unsigned char *data = Bytes(pem);
	std::size_t len = pem.size();
	if (pem.find("-----BEGIN") == std::string_view::npos || OSSL_DECODER_from_data(dctx.get(), &data, &len) != 1 ||
	    raw == nullptr) {
		EVP_PKEY_free(raw);
		Fail(sqlstate::kInvalidParameterValue, std::string("the ") + what + " is not a valid PEM RSA key", {},
		     std::move(hint));
	}
	PkeyPtr key(raw);
	int bits = EVP_PKEY_get_bits(key.get());
	if (bits < kMinRsaBits)
		Fail(sqlstate::kInvalidParameterValue,
		     std::string("the ") + what + " has " + std::to_string(bits) + " bits, fewer than the " +
		         std::to_string(kMinRsaBits) + " the platform accepts",
		     {}, "Use an RSA key of at least 512 bits (the platform's keys are 512-bit).");
	return key;
}

PkeyCtxPtr RsaCtx(EVP_PKEY *key) {
	PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(Crypto().ctx(), key, nullptr));
	if (!ctx)
		FailInternal("EVP_PKEY_CTX_new_from_pkey");
	return ctx;
}

int HexValue(char c) noexcept {
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

std::string Quoted(std::string_view field) {
	return "\"" + std::string(field) + "\"";
}

}  // namespace

CipherTextFormat ParseCipherTextFormat(std::string_view name) {
	if (name == "base64")
		return CipherTextFormat::kBase64;
	if (name == "hex")
		return CipherTextFormat::kHex;
	Fail(sqlstate::kInvalidParameterValue, "unknown ciphertext format \"" + std::string(name.substr(0, 16)) + "\"", {},
	     "Use base64 or hex.");
}

std::string RandomDesKey() {
	static constexpr char kAlphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
	constexpr unsigned kSize = sizeof kAlphabet - 1;  // 62
	// Rejection sampling: bytes >= 248 (= 4 * 62) are dropped, so every
	// character is exactly equally likely (no modulo bias).
	constexpr unsigned kLimit = 256 - 256 % kSize;
	std::string key;
	unsigned char buf[32];
	while (key.size() < kDesKeyLength) {
		if (RAND_bytes_ex(Crypto().ctx(), buf, sizeof buf, 0) != 1)
			FailInternal("RAND_bytes_ex");
		for (unsigned char b : buf)
			if (b < kLimit && key.size() < kDesKeyLength)
				key.push_back(kAlphabet[b % kSize]);
	}
	return key;
}

std::string DesEncryptHex(std::string_view plain, std::string_view key8) {
	RequireDesKey(key8);
	std::string out;
	if (!DesRun(plain, key8, true, out))
		FailInternal("EVP_CipherFinal_ex(DES-ECB encrypt)");
	return HexUpper(out);
}

std::string DesDecryptHex(std::string_view hex, std::string_view key8, std::string_view field) {
	RequireDesKey(key8);
	std::string cipher = HexDecode(hex, field);
	if (cipher.empty() || cipher.size() % 8 != 0)
		Fail(sqlstate::kInvalidParameterValue,
		     "field " + Quoted(field) + " is not DES ciphertext: " + std::to_string(cipher.size()) +
		         " bytes is not a positive multiple of 8",
		     {}, "DES-ECB with PKCS#5 padding gives 8, 16, 24, ... bytes (16, 32, 48, ... hex digits).");
	std::string out;
	if (!DesRun(cipher, key8, false, out))
		Fail(sqlstate::kInvalidParameterValue, "field " + Quoted(field) + " does not decrypt under the DES key",
		     "The PKCS#5 padding is wrong after decryption.",
		     "The ciphertext and the key do not belong together: check the configured key.");
	return out;
}

int RsaPublicKeyBits(std::string_view public_pem) {
	return EVP_PKEY_get_bits(Crypto().PublicKey(public_pem).get());
}

int RsaPrivateKeyBits(std::string_view private_pem) {
	return EVP_PKEY_get_bits(DecodeRsaPem(private_pem, EVP_PKEY_KEYPAIR, "RSA private key").get());
}

std::string RsaEncrypt(std::string_view public_pem, std::string_view plain, CipherTextFormat format) {
	std::shared_ptr<EVP_PKEY> key = Crypto().PublicKey(public_pem);
	PkeyCtxPtr ctx = RsaCtx(key.get());
	if (EVP_PKEY_encrypt_init(ctx.get()) != 1 || EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PADDING) != 1)
		FailInternal("EVP_PKEY_encrypt_init(RSA PKCS#1 v1.5)");
	std::size_t max_plain = static_cast<std::size_t>(EVP_PKEY_get_size(key.get())) - 11;
	if (plain.size() > max_plain)
		Fail(sqlstate::kInvalidParameterValue,
		     "the RSA key is too small for " + std::to_string(plain.size()) + " bytes with PKCS#1 v1.5 padding");
	std::size_t len = 0;
	if (EVP_PKEY_encrypt(ctx.get(), nullptr, &len, Bytes(plain), plain.size()) != 1)
		FailInternal("EVP_PKEY_encrypt (size)");
	std::vector<unsigned char> out(len);
	if (EVP_PKEY_encrypt(ctx.get(), out.data(), &len, Bytes(plain), plain.size()) != 1)
		FailInternal("EVP_PKEY_encrypt");
	std::string_view bytes(reinterpret_cast<const char *>(out.data()), len);
	return format == CipherTextFormat::kBase64 ? Base64Encode(bytes) : HexUpper(bytes);
}

RsaPrivateKey::RsaPrivateKey(std::string_view private_pem)
    : key_(DecodeRsaPem(private_pem, EVP_PKEY_KEYPAIR, "RSA private key").release()) {
}

RsaPrivateKey::~RsaPrivateKey() {
	EVP_PKEY_free(static_cast<EVP_PKEY *>(key_));
}

std::string RsaPrivateKey::Decrypt(std::string_view cipher_text, CipherTextFormat format,
                                   std::string_view field) const {
	EVP_PKEY *key = static_cast<EVP_PKEY *>(key_);
	std::string cipher =
	    format == CipherTextFormat::kBase64 ? Base64Decode(cipher_text, field) : HexDecode(cipher_text, field);
	if (cipher.size() != static_cast<std::size_t>(EVP_PKEY_get_size(key)))
		Fail(sqlstate::kInvalidParameterValue,
		     "field " + Quoted(field) + " has " + std::to_string(cipher.size()) + " bytes, the RSA key needs " +
		         std::to_string(EVP_PKEY_get_size(key)),
		     {}, "RSA ciphertext is exactly as long as the key's modulus: check that the right key is configured.");
	PkeyCtxPtr ctx = RsaCtx(key);
	if (EVP_PKEY_decrypt_init(ctx.get()) != 1 || EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PADDING) != 1)
		FailInternal("EVP_PKEY_decrypt_init(RSA PKCS#1 v1.5)");
	std::size_t len = 0;
	if (EVP_PKEY_decrypt(ctx.get(), nullptr, &len, Bytes(cipher), cipher.size()) != 1)
		FailInternal("EVP_PKEY_decrypt (size)");
	std::vector<unsigned char> out(len);
	if (EVP_PKEY_decrypt(ctx.get(), out.data(), &len, Bytes(cipher), cipher.size()) != 1)
		Fail(sqlstate::kInvalidParameterValue, "field " + Quoted(field) + " does not decrypt under the RSA private key",
		     "The PKCS#1 v1.5 padding is wrong after decryption.",
		     "The ciphertext was made for another key: check the configured private key.");
	std::string plain(reinterpret_cast<const char *>(out.data()), len);
	OPENSSL_cleanse(out.data(), out.size());
	return plain;
}

std::string RsaDecrypt(std::string_view private_pem, std::string_view cipher_text, CipherTextFormat format,
                       std::string_view field) {
	return RsaPrivateKey(private_pem).Decrypt(cipher_text, format, field);
}

std::string HexUpper(std::string_view bytes) {
	static constexpr char kDigits[] = "0123456789ABCDEF";
	std::string out;
	out.reserve(bytes.size() * 2);
	for (unsigned char b : bytes) {
		out.push_back(kDigits[b >> 4]);
		out.push_back(kDigits[b & 0x0F]);
	}
	return out;
}

std::string HexDecode(std::string_view hex, std::string_view field) {
	if (hex.size() % 2 != 0)
		Fail(
		    sqlstate::kInvalidTextRepresentation,
		    "field " + Quoted(field) + " is not hexadecimal: odd number of digits (" + std::to_string(hex.size()) + ")",
		    {}, "Hexadecimal ciphertext has two digits 0-9 A-F per byte.");
	std::string out;
	out.reserve(hex.size() / 2);
	for (std::size_t i = 0; i < hex.size(); i += 2) {
		int hi = HexValue(hex[i]);
		int lo = HexValue(hex[i + 1]);
		if (hi < 0 || lo < 0)
			Fail(sqlstate::kInvalidTextRepresentation,
			     "field " + Quoted(field) + " is not hexadecimal: character " + std::to_string(i + (hi < 0 ? 1 : 2)) +
			         " is not 0-9, A-F or a-f",
			     {}, "Hexadecimal ciphertext has two digits 0-9 A-F per byte.");
		out.push_back(static_cast<char>(hi << 4 | lo));
	}
	return out;
}

std::string Base64Encode(std::string_view bytes) {
	return EncodeBase64(reinterpret_cast<const std::uint8_t *>(bytes.data()), bytes.size(), Base64Alphabet::kStandard);
}

// Strict standard base64 (RFC 4648 §4): padding required, line breaks and
// spaces between characters ignored (PEM-style wrapping from some clients).
std::string Base64Decode(std::string_view text, std::string_view field) {
	const std::string hint = "Base64 uses A-Z a-z 0-9 + / and = padding to a multiple of 4 characters.";
	std::string symbols;
	std::size_t pad = 0;
	for (std::size_t i = 0; i < text.size(); ++i) {
		char c = text[i];
		if (c == ' ' || c == '\n' || c == '\r' || c == '\t')
			continue;
		if (c == '=') {
			++pad;
			symbols.push_back(c);
			continue;
		}
		if (Base64SymbolValue(c, Base64Alphabet::kStandard) < 0 || pad > 0)
			Fail(sqlstate::kInvalidTextRepresentation,
			     "field " + Quoted(field) + " is not base64: character " + std::to_string(i + 1) +
			         (pad > 0 ? " follows the = padding" : " is not in the base64 alphabet"),
			     {}, hint);
		symbols.push_back(c);
	}
	if (symbols.empty() || symbols.size() % 4 != 0 || pad > 2)
		Fail(sqlstate::kInvalidTextRepresentation,
		     "field " + Quoted(field) + " is not base64: " + std::to_string(symbols.size()) + " characters with " +
		         std::to_string(pad) + " padding",
		     {}, hint);
	// Canonical only (RFC 4648 §3.5): the bits below the last byte are zero,
	// so every byte string has exactly one accepted encoding.
	std::size_t last = symbols.size() - 1 - pad;
	unsigned unused_bits = pad == 1 ? 0x03u : pad == 2 ? 0x0Fu : 0u;
	if (static_cast<unsigned>(Base64SymbolValue(symbols[last], Base64Alphabet::kStandard)) & unused_bits)
		Fail(sqlstate::kInvalidTextRepresentation,
		     "field " + Quoted(field) + " is not base64: the bits after the last byte are not zero", {}, hint);
	std::string out;
	out.reserve(symbols.size() / 4 * 3);
	for (std::size_t i = 0; i < symbols.size(); i += 4) {
		unsigned v = 0;
		for (std::size_t j = 0; j < 4; ++j) {
			int value = symbols[i + j] == '=' ? 0 : Base64SymbolValue(symbols[i + j], Base64Alphabet::kStandard);
			v = v << 6 | static_cast<unsigned>(value);
		}
		out.push_back(static_cast<char>(v >> 16 & 0xFF));
		if (symbols[i + 2] != '=')
			out.push_back(static_cast<char>(v >> 8 & 0xFF));
		if (symbols[i + 3] != '=')
			out.push_back(static_cast<char>(v & 0xFF));
	}
	return out;
}

}  // namespace elicense::core
