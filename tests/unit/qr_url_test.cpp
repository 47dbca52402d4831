// The QR URL: the seed's format, raw k by default (PLATFORM.md) and
// percent-encoded as an option, validation of certype/province/code/base,
// and a full round trip of BuildQrUrl back to the code with the private key.
#include "elicense/assignment.hpp"
#include "elicense/error.hpp"
#include "elicense/legacy_crypto.hpp"
#include "elicense/qr_url.hpp"

#include <gtest/gtest.h>

#include <openssl/encoder.h>
#include <openssl/evp.h>

#include <memory>

namespace elicense::core {
namespace {

// The example of seed 000 §6.8.
constexpr char kSeedUrl[] =
    "https://zlaq.mohurd.gov.cn/fwmh/middlepage.html?ID=8B9704DDABA730072E5546FD5B8F61E4890FE52BAB2E71B8&k=XX8U+"
    "FFI3yRWEZ0UQ1qJxS+gsdth779BypvXY5MKfNRELdegoHfCoymJUNG4Q/rTco69eBZ1TYEK+rCNrCbVAg==&certype=11100000000013338W050&"
    "province=510000";

std::string PemOf(EVP_PKEY *key, int selection, const char *structure) {
	std::unique_ptr<OSSL_ENCODER_CTX, void (*)(OSSL_ENCODER_CTX *)> ctx(
	    OSSL_ENCODER_CTX_new_for_pkey(key, selection, "PEM", structure, nullptr), OSSL_ENCODER_CTX_free);
	unsigned char *data = nullptr;
	std::size_t len = 0;
	EXPECT_EQ(OSSL_ENCODER_to_data(ctx.get(), &data, &len), 1);
	std::string pem(reinterpret_cast<char *>(data), len);
	OPENSSL_free(data);
	return pem;
}

bool AllOf(std::string_view s, std::string_view alphabet) {
	return s.find_first_not_of(alphabet) == std::string_view::npos;
}

// The seed's shape: the default base, ID of 48 upper-case hex digits, k of
// 86 base64 characters and "==" (512-bit key), then certype and province.
// (No std::regex: GCC 12's <regex> trips -Wmaybe-uninitialized under ASan.)
bool HasSeedShape(const std::string &url, std::string_view certype, std::string_view province) {
	constexpr std::string_view kBase64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	std::string prefix = std::string(kDefaultQrBaseUrl) + "?ID=";
	std::string suffix = "&certype=" + std::string(certype) + "&province=" + std::string(province);
	if (url.size() != prefix.size() + 48 + 3 + 88 + suffix.size() || url.compare(0, prefix.size(), prefix) != 0 ||
	    url.compare(url.size() - suffix.size(), suffix.size(), suffix) != 0)
		return false;
	std::string_view rest(url);
	rest.remove_prefix(prefix.size());
	return AllOf(rest.substr(0, 48), "0123456789ABCDEF") && rest.substr(48, 3) == "&k=" &&
	       AllOf(rest.substr(51, 86), kBase64) && rest.substr(137, 2) == "==";
}

std::string ErrorOf(void (*f)(), const char *sqlstate) {
	try {
		f();
	} catch (const Error &e) {
		EXPECT_STREQ(e.sqlstate(), sqlstate) << e.what();
		return std::string(e.what()) + "|" + e.detail();
	}
	ADD_FAILURE() << "no error";
	return {};
}

TEST(QrUrl, FormatsTheSeedExampleByteForByte) {
	auto id = QueryParameter(kSeedUrl, "ID");
	auto k = QueryParameter(kSeedUrl, "k");
	ASSERT_TRUE(id && k);
	EXPECT_EQ(k->size(), 88u);
	EXPECT_EQ(FormatQrUrl(*id, *k, "11100000000013338W050", "510000", QrUrlOptions {}), kSeedUrl);
	EXPECT_EQ(QueryParameter(kSeedUrl, "certype"), "11100000000013338W050");
	EXPECT_EQ(QueryParameter(kSeedUrl, "province"), "510000");
	EXPECT_FALSE(QueryParameter(kSeedUrl, "K"));
}

TEST(QrUrl, PercentEncodingIsAnOption) {
	QrUrlOptions options;
	options.percent_encode = true;
	options.base_url = "http://localhost:8080/qr";
	EXPECT_EQ(FormatQrUrl("8B97", "a+b/c==", "11100000000013338W032", "350000", options),
	          "http://localhost:8080/qr?ID=8B97&k=a%2Bb%2Fc%3D%3D&certype=11100000000013338W032&province=350000");
	EXPECT_EQ(PercentEncode("-._~ \xE4"), "-._~%20%E4");
}

TEST(QrUrl, ValidatesItsParts) {
	std::string text = ErrorOf([] { FormatQrUrl("AB", "k", "11100000000013338W05", "510000", {}); }, "22P02");
	EXPECT_NE(text.find("invalid licence type code in field \"certype\""), std::string::npos) << text;
	// Which types exist is data: any well-formed code gets its URL.
	EXPECT_EQ(FormatQrUrl("AB", "k", "11100000000013338W099", "510000", {}),
	          std::string(kDefaultQrBaseUrl) + "?ID=AB&k=k&certype=11100000000013338W099&province=510000");
	text = ErrorOf([] { FormatQrUrl("AB", "k", "11100000000013338W050", "510100", {}); }, "22P02");
	EXPECT_NE(text.find("invalid province code in field \"province\""), std::string::npos) << text;
	for (const char *base : {"ftp://x/y", "https://", "https://x/y?a=b", "https://x/a b", "zlaq.mohurd.gov.cn"}) {
		QrUrlOptions options;
		options.base_url = base;
		try {
			FormatQrUrl("AB", "k", "11100000000013338W050", "510000", options);
			ADD_FAILURE() << base;
		} catch (const Error &e) {
			EXPECT_STREQ(e.sqlstate(), "22023");
			EXPECT_NE(std::string(e.what()).find("invalid QR base URL"), std::string::npos) << e.what();
		}
	}
	EXPECT_FALSE(AssignedCodeProblem("202232000001000001"));
	EXPECT_EQ(*AssignedCodeProblem(""), "the value is empty");
	EXPECT_EQ(*AssignedCodeProblem("2022-32"), "character 5 '-' is not an ASCII letter or digit");
	EXPECT_TRUE(IsLicenceTypeCode("11100000000013338W032"));
	EXPECT_TRUE(IsLicenceTypeCode("11350000003591037R123"));
	EXPECT_FALSE(IsLicenceTypeCode("11100000000013338w032"));  // lower case
	EXPECT_FALSE(IsLicenceTypeCode("11100000000013338I032"));  // I is no USCC character
	EXPECT_FALSE(IsLicenceTypeCode("11100000000013338W0321"));
	EXPECT_EQ(*LicenceTypeProblem("11100000000013338WA32"), "character 19 'A' is not a digit");
}

TEST(QrUrl, BuildsAUrlThatDecryptsBackToTheCode) {
	std::unique_ptr<EVP_PKEY, void (*)(EVP_PKEY *)> key(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", std::size_t {512}),
	                                                    EVP_PKEY_free);
	ASSERT_TRUE(key);
	std::string pub = PemOf(key.get(), EVP_PKEY_PUBLIC_KEY, "SubjectPublicKeyInfo");
	std::string priv = PemOf(key.get(), EVP_PKEY_KEYPAIR, "PrivateKeyInfo");
	std::string first = BuildQrUrl("202232000001000001", "11100000000013338W050", "510000", pub, {});
	EXPECT_TRUE(HasSeedShape(first, "11100000000013338W050", "510000")) << first;
	EXPECT_FALSE(HasSeedShape(first, "11100000000013338W032", "510000"));
	std::string second = BuildQrUrl("202232000001000001", "11100000000013338W050", "510000", pub, {});
	EXPECT_NE(first, second) << "every URL gets a fresh key";
	for (const std::string &url : {first, second}) {
		std::string key8 = RsaDecrypt(priv, *QueryParameter(url, "k"), CipherTextFormat::kBase64, "k");
		EXPECT_EQ(key8.size(), 8u);
		EXPECT_EQ(DesDecryptHex(*QueryParameter(url, "ID"), key8, "ID"), "202232000001000001");
	}
	QrUrlOptions hex;
	hex.k_format = CipherTextFormat::kHex;
	std::string url = BuildQrUrl("202232000001000001", "11100000000013338W032", "350000", pub, hex);
	EXPECT_EQ(QueryParameter(url, "k")->size(), 128u);
	std::string key8 = RsaDecrypt(priv, *QueryParameter(url, "k"), CipherTextFormat::kHex, "k");
	EXPECT_EQ(DesDecryptHex(*QueryParameter(url, "ID"), key8, "ID"), "202232000001000001");
}

TEST(Assignment, BothSchemesAndBothPlainForms) {
	std::unique_ptr<EVP_PKEY, void (*)(EVP_PKEY *)> key(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", std::size_t {512}),
	                                                    EVP_PKEY_free);
	AssignmentSecret rsa;
	rsa.private_key_pem = PemOf(key.get(), EVP_PKEY_KEYPAIR, "PrivateKeyInfo");
	std::string pub = PemOf(key.get(), EVP_PKEY_PUBLIC_KEY, "SubjectPublicKeyInfo");
	std::string k = RsaEncrypt(pub, "86037418", CipherTextFormat::kBase64);
	Assignment a = DecryptAssignment("34E1DB6526F03BCF94A15AAA6984819F92F7500ADF71863C", k, rsa);
	EXPECT_FALSE(a.is_url);
	EXPECT_EQ(a.code, "202232000001000001");
	EXPECT_EQ(a.url, "");

	AssignmentSecret des;
	des.scheme = AssignmentScheme::kDes;
	des.des_key = "12345678";
	a = DecryptAssignment("5353694DE19F0844170B462090902EC5DDCD676751F31AFB", "", des);
	EXPECT_EQ(a.code, "202232000001000001");

	a = DecryptAssignment(DesEncryptHex(kSeedUrl, "12345678"), "", des);
	EXPECT_TRUE(a.is_url);
	EXPECT_EQ(a.url, kSeedUrl);
	EXPECT_EQ(a.code, "8B9704DDABA730072E5546FD5B8F61E4890FE52BAB2E71B8");

	try {
		DecryptAssignment(DesEncryptHex("not a code!", "12345678"), "", des);
		ADD_FAILURE();
	} catch (const Error &e) {
		EXPECT_STREQ(e.sqlstate(), "22023");
		EXPECT_EQ(std::string(e.what()), "encryCertid decrypts to neither an assigned code nor a QR URL");
		EXPECT_EQ(e.detail().find("not a code"), std::string::npos) << "plain text echoed";
	}
	des.des_key = "1234567";
	try {
		RequireAssignmentSecret(des);
		ADD_FAILURE();
	} catch (const Error &e) {
		EXPECT_EQ(std::string(e.what()).find("1234567"), std::string::npos) << "key echoed";
	}
	EXPECT_EQ(ParseAssignmentScheme("des"), AssignmentScheme::kDes);
	EXPECT_EQ(ParseAssignmentScheme("rsa-des"), AssignmentScheme::kRsaDes);
}

// The batch form (one key decoded for a group of assignments, record_results)
// gives what DecryptAssignment gives, element by element, and an element that
// does not decrypt leaves the decryptor usable for the next ones.
TEST(Assignment, BatchDecryptorMatchesOneByOne) {
	std::unique_ptr<EVP_PKEY, void (*)(EVP_PKEY *)> key(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", std::size_t {512}),
	                                                    EVP_PKEY_free);
	AssignmentSecret rsa;
	rsa.private_key_pem = PemOf(key.get(), EVP_PKEY_KEYPAIR, "PrivateKeyInfo");
	std::string pub = PemOf(key.get(), EVP_PKEY_PUBLIC_KEY, "SubjectPublicKeyInfo");
	AssignmentDecryptor batch(rsa);
	const char *codes[] = {"202232000001000001", "202232000001000002", "350000000000000077"};
	for (const char *code : codes) {
		std::string k = RsaEncrypt(pub, "86037418", CipherTextFormat::kBase64);
		std::string id = DesEncryptHex(code, "86037418");
		Assignment one = DecryptAssignment(id, k, rsa);
		Assignment many = batch.Decrypt(id, k);
		EXPECT_EQ(many.code, code);
		EXPECT_EQ(many.code, one.code);
		EXPECT_EQ(many.is_url, one.is_url);
		try {  // an encryKey that is no DES key, between good ones
			batch.Decrypt(id, RsaEncrypt(pub, "short", CipherTextFormat::kBase64));
			ADD_FAILURE();
		} catch (const Error &e) {
			EXPECT_EQ(std::string(e.what()), "encryKey decrypts to 5 bytes, not an 8-character DES key");
		}
	}
	AssignmentSecret des;
	des.scheme = AssignmentScheme::kDes;
	des.des_key = "12345678";
	EXPECT_EQ(AssignmentDecryptor(des).Decrypt(DesEncryptHex(kSeedUrl, "12345678"), "").url, kSeedUrl);
	rsa.private_key_pem = "not a key";
	EXPECT_THROW(AssignmentDecryptor {rsa}, Error);
}

}  // namespace
}  // namespace elicense::core
