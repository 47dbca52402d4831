// DES and RSA of the platform's QR and assignment crypto: the PLATFORM.md
// DES vectors, the random key alphabet, RSA round trips with keys made here
// (512 and 2048 bits, every PEM form), and the errors for small keys, bad
// PEM, bad hex and bad base64 (which must not echo key material).
#include "elicense/error.hpp"
#include "elicense/legacy_crypto.hpp"

#include <gtest/gtest.h>

#include <openssl/encoder.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/provider.h>

#include <memory>
#include <set>
#include <vector>

namespace elicense::core {
namespace {

// Made with `openssl asn1parse -genconf` from an arbitrary 256-bit odd
// modulus and e = 65537, because OpenSSL 3 refuses to generate RSA keys
// below 512 bits.
constexpr char kRsa256Pkcs1[] = "-----BEGIN RSA PUBLIC KEY-----\n"
                                "MCgCIQDHo/HZ4mtIBaHzyW0LLoT3xdGjueYPKEfTwbWp5/INYwIDAQAB\n"
                                "-----END RSA PUBLIC KEY-----\n";
constexpr char kRsa256Spki[] = "-----BEGIN PUBLIC KEY-----\n"
                               "MDwwDQYJKoZIhvcNAQEBBQADKwAwKAIhAMej8dnia0gFofPJbQsuhPfF0aO55g8o\n"
                               "R9PBtann8g1jAgMBAAE=\n"
                               "-----END PUBLIC KEY-----\n";

struct PkeyFree {
	void operator()(EVP_PKEY *p) const noexcept {
		EVP_PKEY_free(p);
	}
};
struct EncoderFree {
	void operator()(OSSL_ENCODER_CTX *p) const noexcept {
		OSSL_ENCODER_CTX_free(p);
	}
};

// PEM of `key`; structure "SubjectPublicKeyInfo"/"PrivateKeyInfo" (X.509,
// PKCS#8) or "type-specific" (PKCS#1).
std::string Pem(EVP_PKEY *key, int selection, const char *structure) {
	std::unique_ptr<OSSL_ENCODER_CTX, EncoderFree> ctx(
	    OSSL_ENCODER_CTX_new_for_pkey(key, selection, "PEM", structure, nullptr));
	EXPECT_TRUE(ctx);
	unsigned char *data = nullptr;
	std::size_t len = 0;
	EXPECT_EQ(OSSL_ENCODER_to_data(ctx.get(), &data, &len), 1);
	std::string pem(reinterpret_cast<char *>(data), len);
	OPENSSL_free(data);
	return pem;
}

struct KeyPair {
	std::string public_spki;
	std::string public_pkcs1;
	std::string private_pkcs8;
	std::string private_pkcs1;
};

KeyPair MakeKeyPair(std::size_t bits) {
	std::unique_ptr<EVP_PKEY, PkeyFree> key(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", bits));
	EXPECT_TRUE(key);
	return {Pem(key.get(), EVP_PKEY_PUBLIC_KEY, "SubjectPublicKeyInfo"),
	        Pem(key.get(), EVP_PKEY_PUBLIC_KEY, "type-specific"), Pem(key.get(), EVP_PKEY_KEYPAIR, "PrivateKeyInfo"),
	        Pem(key.get(), EVP_PKEY_KEYPAIR, "type-specific")};
}

// Runs `f`, expects core::Error with `sqlstate`, returns message + detail + hint.
template <typename F>
std::string ErrorText(F &&f, const char *sqlstate) {
	try {
		f();
	} catch (const Error &e) {
		EXPECT_STREQ(e.sqlstate(), sqlstate) << e.what();
		return std::string(e.what()) + "|" + e.detail() + "|" + e.hint();
	}
	ADD_FAILURE() << "no error";
	return {};
}

TEST(Des, PlatformVectors) {
	EXPECT_EQ(DesEncryptHex("202232000001000001", "12345678"), "5353694DE19F0844170B462090902EC5DDCD676751F31AFB");
	EXPECT_EQ(DesEncryptHex("202232000001000001", "86037418"), "34E1DB6526F03BCF94A15AAA6984819F92F7500ADF71863C");
	EXPECT_EQ(DesDecryptHex("5353694DE19F0844170B462090902EC5DDCD676751F31AFB", "12345678", "ID"),
	          "202232000001000001");
	EXPECT_EQ(DesDecryptHex("34e1db6526f03bcf94a15aaa6984819f92f7500adf71863c", "86037418", "ID"),
	          "202232000001000001");
}

TEST(Des, LeavesOpenSslsDefaultContextAlone) {
	// The legacy provider is loaded into our private context only: the
	// process-wide default context (PostgreSQL's own SSL, pgcrypto) still
	// has no DES after we used it.
	EXPECT_EQ(DesEncryptHex("202232000001000001", "12345678").size(), 48u);
	EXPECT_FALSE(OSSL_PROVIDER_available(nullptr, "legacy"));
	EVP_CIPHER *des = EVP_CIPHER_fetch(nullptr, "DES-ECB", nullptr);
	EXPECT_EQ(des, nullptr);
	EVP_CIPHER_free(des);
}

TEST(Des, PaddingAddsAFullBlockToWholeBlocks) {
	EXPECT_EQ(DesEncryptHex("", "12345678").size(), 16u);
	EXPECT_EQ(DesEncryptHex("12345678", "12345678").size(), 32u);
	EXPECT_EQ(DesDecryptHex(DesEncryptHex("12345678", "abcdefgh"), "abcdefgh", "ID"), "12345678");
}

TEST(Des, Errors) {
	std::string text = ErrorText([] { DesEncryptHex("x", "1234567"); }, "22023");
	EXPECT_NE(text.find("7 bytes, expected 8"), std::string::npos) << text;
	EXPECT_EQ(text.find("1234567"), std::string::npos) << "key echoed: " << text;
	text = ErrorText([] { DesDecryptHex("5353694DE19F08G4", "12345678", "encryCertid"); }, "22P02");
	EXPECT_NE(text.find("\"encryCertid\" is not hexadecimal: character 15"), std::string::npos) << text;
	text = ErrorText([] { DesDecryptHex("5353694", "12345678", "encryCertid"); }, "22P02");
	EXPECT_NE(text.find("odd number of digits"), std::string::npos) << text;
	text = ErrorText([] { DesDecryptHex("5353694DE19F08", "12345678", "encryCertid"); }, "22023");
	EXPECT_NE(text.find("not a positive multiple of 8"), std::string::npos) << text;
	text =
	    ErrorText([] { DesDecryptHex("5353694DE19F0844170B462090902EC5DDCD676751F31AFB", "87654321", "ID"); }, "22023");
	EXPECT_NE(text.find("does not decrypt under the DES key"), std::string::npos) << text;
	EXPECT_EQ(text.find("87654321"), std::string::npos) << "key echoed: " << text;
}

TEST(RandomDesKey, LengthAlphabetAndSpread) {
	std::set<std::string> keys;
	std::set<char> seen;
	for (int i = 0; i < 2000; ++i) {
		std::string key = RandomDesKey();
		ASSERT_EQ(key.size(), kDesKeyLength);
		for (char c : key) {
			ASSERT_TRUE((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')) << key;
			seen.insert(c);
		}
		keys.insert(key);
	}
	EXPECT_EQ(keys.size(), 2000u) << "62^8 keys: a repeat in 2000 draws means a broken generator";
	EXPECT_EQ(seen.size(), 62u) << "16000 draws should hit every one of the 62 characters";
}

TEST(Rsa, RoundTripEveryPemFormAndSize) {
	for (std::size_t bits : {512u, 2048u}) {
		KeyPair pair = MakeKeyPair(bits);
		EXPECT_NE(pair.public_pkcs1.find("BEGIN RSA PUBLIC KEY"), std::string::npos);
		EXPECT_NE(pair.private_pkcs1.find("BEGIN RSA PRIVATE KEY"), std::string::npos);
		EXPECT_EQ(RsaPublicKeyBits(pair.public_spki), static_cast<int>(bits));
		EXPECT_EQ(RsaPublicKeyBits(pair.public_pkcs1), static_cast<int>(bits));
		EXPECT_EQ(RsaPrivateKeyBits(pair.private_pkcs8), static_cast<int>(bits));
		EXPECT_EQ(RsaPrivateKeyBits(pair.private_pkcs1), static_cast<int>(bits));
		std::string key8 = RandomDesKey();
		std::string b64 = RsaEncrypt(pair.public_spki, key8, CipherTextFormat::kBase64);
		EXPECT_EQ(b64.size(), (bits / 8 + 2) / 3 * 4) << bits;  // 512 bits: 88 characters
		EXPECT_EQ(RsaDecrypt(pair.private_pkcs8, b64, CipherTextFormat::kBase64, "k"), key8);
		std::string hex = RsaEncrypt(pair.public_pkcs1, key8, CipherTextFormat::kHex);
		EXPECT_EQ(hex.size(), bits / 4);
		EXPECT_EQ(hex, HexUpper(HexDecode(hex, "k"))) << "hex output is upper-case";
		EXPECT_EQ(RsaDecrypt(pair.private_pkcs1, hex, CipherTextFormat::kHex, "k"), key8);
		EXPECT_NE(RsaEncrypt(pair.public_spki, key8, CipherTextFormat::kBase64), b64) << "PKCS#1 v1.5 is randomised";
	}
}

TEST(Rsa, RejectsSmallKeysBadPemAndWrongKeys) {
	for (const char *pem : {kRsa256Pkcs1, kRsa256Spki}) {
		std::string text = ErrorText([&] { RsaEncrypt(pem, "12345678", CipherTextFormat::kBase64); }, "22023");
		EXPECT_NE(text.find("has 256 bits, fewer than the 512"), std::string::npos) << text;
	}
	KeyPair pair = MakeKeyPair(512);
	std::string broken = pair.public_spki;
	broken[40] = broken[40] == 'A' ? 'B' : 'A';
	broken.erase(60, 10);
	for (const std::string &pem : {std::string("not a key"), std::string(), broken, pair.private_pkcs8}) {
		std::string text = ErrorText([&] { RsaPublicKeyBits(pem); }, "22023");
		EXPECT_NE(text.find("is not a valid PEM RSA key"), std::string::npos) << text;
		EXPECT_NE(text.find("BEGIN PUBLIC KEY"), std::string::npos) << "hint names the forms: " << text;
		EXPECT_EQ(text.find("MII"), std::string::npos) << "key material echoed: " << text;
	}
	std::string text = ErrorText([&] { RsaPrivateKeyBits(pair.public_spki); }, "22023");
	EXPECT_NE(text.find("RSA private key is not a valid PEM RSA key"), std::string::npos) << text;
	KeyPair other = MakeKeyPair(512);
	std::string k = RsaEncrypt(pair.public_spki, "12345678", CipherTextFormat::kBase64);
	text = ErrorText([&] { RsaDecrypt(other.private_pkcs8, k, CipherTextFormat::kBase64, "encryKey"); }, "22023");
	EXPECT_NE(text.find("\"encryKey\" does not decrypt under the RSA private key"), std::string::npos) << text;
	text =
	    ErrorText([&] { RsaDecrypt(pair.private_pkcs8, k.substr(4), CipherTextFormat::kBase64, "encryKey"); }, "22023");
	EXPECT_NE(text.find("has 61 bytes, the RSA key needs 64"), std::string::npos) << text;
}

TEST(Rsa, LeavesNoErrorsInOpenSslsQueue) {
	// PostgreSQL's SSL code reads OpenSSL's thread-local error queue; stale
	// entries from our decoding (which tries several structures) or from a
	// failure must not be left there.
	KeyPair pair = MakeKeyPair(512);
	ERR_clear_error();
	EXPECT_EQ(RsaPublicKeyBits(pair.public_pkcs1), 512);
	EXPECT_EQ(RsaPrivateKeyBits(pair.private_pkcs1), 512);
	std::string k = RsaEncrypt(pair.public_pkcs1, "12345678", CipherTextFormat::kBase64);
	EXPECT_EQ(RsaDecrypt(pair.private_pkcs1, k, CipherTextFormat::kBase64, "k"), "12345678");
	EXPECT_EQ(ERR_peek_error(), 0u);
	ErrorText([] { RsaPublicKeyBits("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"); }, "22023");
	ErrorText([] { DesDecryptHex("5353694DE19F0844170B462090902EC5DDCD676751F31AFB", "87654321", "ID"); }, "22023");
	EXPECT_EQ(ERR_peek_error(), 0u);
}

TEST(Rsa, DecodedPublicKeysAreCachedAndEvicted) {
	// More keys than the cache holds, each used twice, in two passes: every
	// encryption must use its own key whether it comes from the cache or not.
	std::vector<KeyPair> pairs;
	for (int i = 0; i < 20; ++i)
		pairs.push_back(MakeKeyPair(512));
	for (int pass = 0; pass < 2; ++pass)
		for (const KeyPair &pair : pairs)
			for (int use = 0; use < 2; ++use)
				EXPECT_EQ(
				    RsaDecrypt(pair.private_pkcs8, RsaEncrypt(pair.public_spki, "12345678", CipherTextFormat::kBase64),
				               CipherTextFormat::kBase64, "k"),
				    "12345678");
	for (int i = 0; i < 2; ++i)
		ErrorText([] { RsaPublicKeyBits(kRsa256Spki); }, "22023");  // failures are never cached as keys
}

TEST(Codecs, Base64MatchesRfc4648AndIsStrict) {
	EXPECT_EQ(Base64Encode(""), "");
	EXPECT_EQ(Base64Encode("f"), "Zg==");
	EXPECT_EQ(Base64Encode("fo"), "Zm8=");
	EXPECT_EQ(Base64Encode("foobar"), "Zm9vYmFy");
	EXPECT_EQ(Base64Decode("Zm9v\nYmE=", "k"), "fooba");
	EXPECT_EQ(Base64Decode("Zg==", "k"), "f");
	for (const char *bad : {"Zg=", "Zm9v!mFy", "Zg==Zg==", "Z===", "", "Zh==", "553="}) {
		std::string text = ErrorText([&] { Base64Decode(bad, "k"); }, "22P02");
		EXPECT_NE(text.find("field \"k\" is not base64"), std::string::npos) << bad << ": " << text;
	}
	EXPECT_EQ(HexUpper(std::string("\x00\xff\x10", 3)), "00FF10");
}

TEST(Codecs, CipherTextFormatNames) {
	EXPECT_EQ(ParseCipherTextFormat("base64"), CipherTextFormat::kBase64);
	EXPECT_EQ(ParseCipherTextFormat("hex"), CipherTextFormat::kHex);
	ErrorText([] { ParseCipherTextFormat("HEX"); }, "22023");
}

}  // namespace
}  // namespace elicense::core
