// Verification as GB/T 38540 intends, against the attacks of issue 19: a
// forged re-signature, a swapped seal picture, a moved signing time, an extra
// part under Signs/../, an unsigned file, a seal the forger made; the trust
// anchors and certificate chains; and the signature maths cross-checked with
// the openssl command-line tool (a second SM2 implementation).
#include "elicense/ofd_signature.hpp"
#include "elicense/ofd_writer.hpp"
#include "ofd_crypto.hpp"
#include "ofd_der.hpp"
#include "ofd_forgery.hpp"
#include "ofd_test_keys.hpp"
#include "openssl_cli.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <ctime>
#include <fstream>

namespace elicense::core {
namespace {

const std::string kTemplates = std::string(ELICENSE_SOURCE_DIR) + "/extension/templates/";
constexpr char kSignedValue[] = "Doc_0/Signs/Sign_0/SignedValue.dat";

const test::TestKeyPair &Authority() {
	static const test::TestKeyPair keys = test::MakeTestKeyPair("SM2", "福建省住房和城乡建设厅行政审批专用章");
	return keys;
}

const test::TestKeyPair &Forger() {
	static const test::TestKeyPair keys = test::MakeTestKeyPair("SM2", "福建省住房和城乡建设厅行政审批专用章");
	return keys;
}

Bytes Render(const test::TestKeyPair *keys, const std::string &time = "20261123093000Z") {
	OfdTemplate face = LoadOfdTemplateFile(kTemplates + "W032.json");
	OfdFieldValues values = {{"name", "李四"},
	                         {"gender", "男"},
	                         {"id_no", "350102199001011234"},
	                         {"category", "建筑电工"},
	                         {"cert_no", "闽A042023000123"},
	                         {"first_issue_date", "2023-05-06"},
	                         {"valid_period", "2023-05-06至2025-05-05"},
	                         {"issuer", "福建省住房和城乡建设厅"}};
	OfdRenderOptions options;
	options.doc_id = "00112233445566778899aabbccddeeff";
	options.creation_date = "2026-11-23";
	OfdSeal seal;
	if (keys) {
		seal.private_key_pem = keys->private_key_pem;
		seal.certificate_pem = keys->certificate_pem;
		seal.picture_png = test::TinyPng();
		seal.signature_time = time;
	}
	return RenderLicenceOfd(face, values, test::TinyPng(), options, keys ? &seal : nullptr);
}

// UTC "YYYYMMDDhhmmssZ" `seconds` from now.
std::string TimeFromNow(long seconds) {
	std::time_t at = std::time(nullptr) + seconds;
	std::tm utc {};
	gmtime_r(&at, &utc);
	char text[16];
	std::strftime(text, sizeof text, "%Y%m%d%H%M%SZ", &utc);
	return text;
}

OfdVerifyResult Verify(const Bytes &zip, std::vector<std::string> anchors = {Authority().certificate_pem}) {
	return VerifyOfd(zip, {}, anchors);
}

std::string Verdict(const OfdVerifyResult &result) {
	return OfdVerdictName(OfdVerdictOf(result.status));
}

class OfdTamperTest : public ::testing::Test {
protected:
	Bytes sealed_ = Render(&Authority());
};

TEST_F(OfdTamperTest, TheHonestFileIsSealed) {
	OfdVerifyResult result = Verify(sealed_);
	EXPECT_TRUE(result.ok()) << result.message;
	EXPECT_EQ(Verdict(result), "sealed");
}

// Issue 19: this verified "ok" before. The forger's certificate is not one
// the seal lists, whatever the forger's certificate says or who trusts it.
TEST_F(OfdTamperTest, ForgedResignatureIsTampered) {
	Bytes forged = test::ForgeResignature(sealed_, Forger());
	OfdVerifyResult result = Verify(forged);
	EXPECT_EQ(result.status, OfdVerifyStatus::kSealMismatch) << result.message;
	EXPECT_EQ(Verdict(result), "tampered");
	EXPECT_EQ(result.part, kSignedValue);
	result = Verify(forged, {Authority().certificate_pem, Forger().certificate_pem});
	EXPECT_EQ(result.status, OfdVerifyStatus::kSealMismatch) << "trusting the forger too changes nothing";
	// The forgery is otherwise consistent: only the seal check catches it.
	OfdParts parts = ReadOfdZip(forged);
	EXPECT_NE(parts.Get(test::forgery::kContent), ReadOfdZip(sealed_).Get(test::forgery::kContent));
}

// A seal the forger made for the forger's own certificate: every signature
// verifies, the trust anchors alone tell it apart.
TEST_F(OfdTamperTest, ASealTheForgerMadeIsUntrusted) {
	Bytes forged = test::ForgeWithOwnSeal(sealed_, Forger());
	OfdVerifyResult result = Verify(forged);
	EXPECT_EQ(result.status, OfdVerifyStatus::kUntrusted) << result.message;
	EXPECT_EQ(Verdict(result), "untrusted");
	EXPECT_NE(result.message.find("does not chain to a trust anchor"), std::string::npos) << result.message;
	// Were the forger's certificate an anchor, it would pass: the anchors decide.
	EXPECT_TRUE(Verify(forged, {Forger().certificate_pem}).ok());
}

TEST_F(OfdTamperTest, SwappedSealPictureIsTampered) {
	Bytes other_picture = test::TinyPng();
	other_picture.push_back(0);  // another PNG file (trailing byte)
	// Re-signed by a forger who also listed the forger's certificate in the
	// seal: the seal maker's signature no longer matches the seal.
	OfdVerifyResult result = Verify(test::SwapSealPicture(sealed_, other_picture, Forger()));
	EXPECT_EQ(result.status, OfdVerifyStatus::kBadSeal) << result.message;
	EXPECT_EQ(Verdict(result), "tampered");
	// Only the picture swapped, nothing re-signed: the TBS signature fails.
	OfdParts parts = ReadOfdZip(sealed_);
	test::forgery::RebuildSes(parts, test::forgery::ChangedSeal(parts, other_picture, {}), {}, nullptr, {});
	result = Verify(WriteOfdZip(parts));
	EXPECT_EQ(result.status, OfdVerifyStatus::kBadSignature) << result.message;
	EXPECT_EQ(Verdict(result), "tampered");
}

TEST_F(OfdTamperTest, MovedSigningTimeIsTampered) {
	// Moved by someone without the key: the signature over TBS fails.
	OfdVerifyResult result = Verify(test::MoveSigningTime(sealed_, "20261124093000Z"));
	EXPECT_EQ(result.status, OfdVerifyStatus::kBadSignature) << result.message;
	EXPECT_EQ(Verdict(result), "tampered");
	// Backdated by the key's holder to before the certificate's validity
	// (2020-01-01): issue 19 says this passed.
	result = Verify(test::MoveSigningTime(sealed_, "20191231235959Z", &Authority()));
	EXPECT_EQ(result.status, OfdVerifyStatus::kOutsideValidity) << result.message;
	EXPECT_EQ(Verdict(result), "tampered");
	// A time after the seal's and the certificate's end.
	result = Verify(test::MoveSigningTime(sealed_, "20991231000000Z", &Authority()));
	EXPECT_EQ(result.status, OfdVerifyStatus::kOutsideValidity) << result.message;
	// Post-dated by the key's holder, inside every validity but a day after
	// the verification: no one could have witnessed that time yet.
	result = Verify(test::MoveSigningTime(sealed_, TimeFromNow(24 * 3600), &Authority()));
	EXPECT_EQ(result.status, OfdVerifyStatus::kOutsideValidity) << result.message;
	EXPECT_NE(result.message.find("later than the time of verification"), std::string::npos) << result.message;
	// The same key at a time inside every validity, a minute ahead of the
	// verifier's clock (skew) or in the past: sealed.
	result = Verify(test::MoveSigningTime(sealed_, TimeFromNow(60), &Authority()));
	EXPECT_TRUE(result.ok()) << result.message;
	result = Verify(test::MoveSigningTime(sealed_, "20261124093000Z", &Authority()));
	EXPECT_TRUE(result.ok()) << result.message;
}

TEST_F(OfdTamperTest, ASealMadeBeforeTheCertificateIsValidIsOutsideValidity) {
	OfdVerifyResult result = Verify(Render(&Authority(), "20190601000000Z"));
	EXPECT_EQ(result.status, OfdVerifyStatus::kOutsideValidity) << result.message;
	EXPECT_NE(result.message.find("2019-06-01 00:00:00Z"), std::string::npos) << result.message;
}

TEST_F(OfdTamperTest, ExtraPartUnderSignsIsTampered) {
	OfdVerifyResult result = Verify(test::AddPartUnderSigns(sealed_));
	EXPECT_EQ(result.status, OfdVerifyStatus::kUnreferencedPart) << result.message;
	EXPECT_EQ(Verdict(result), "tampered");
	EXPECT_EQ(result.part, "Doc_0/Signs/../Pages/Page_0/Content.xml");
}

TEST_F(OfdTamperTest, UnsignedFileIsUnsigned) {
	OfdVerifyResult result = Verify(Render(nullptr));
	EXPECT_EQ(result.status, OfdVerifyStatus::kUnsigned);
	EXPECT_EQ(Verdict(result), "unsigned");
	EXPECT_FALSE(result.ok());
}

// A changed part outranks an untrusted signer: tampered, not untrusted.
TEST_F(OfdTamperTest, TamperedOutranksUntrusted) {
	OfdParts parts = ReadOfdZip(sealed_);
	test::forgery::FlipContentByte(parts);
	OfdVerifyResult result = Verify(WriteOfdZip(parts), {});
	EXPECT_EQ(result.status, OfdVerifyStatus::kDigestMismatch) << result.message;
	parts = ReadOfdZip(sealed_);
	parts.Put("Doc_0/Res/extra.png", test::TinyPng());
	EXPECT_EQ(Verify(WriteOfdZip(parts), {}).status, OfdVerifyStatus::kUnreferencedPart);
}

// A seal certificate a CA issued: trusting the CA is enough; trusting
// another CA is not; the CA's validity counts at the signing time.
TEST(OfdTrustChainTest, ACertificateIssuedByATrustedCaIsSealed) {
	test::TestKeyPair ca = test::MakeTestKeyPair("SM2", "seal CA", nullptr, true);
	test::TestKeyPair other_ca = test::MakeTestKeyPair("SM2", "other CA", nullptr, true);
	test::TestKeyPair seal = test::MakeTestKeyPair("SM2", "issued seal", &ca);
	Bytes sealed = Render(&seal);
	OfdVerifyResult result = Verify(sealed, {ca.certificate_pem});
	EXPECT_TRUE(result.ok()) << OfdVerifyStatusName(result.status) << ": " << result.message;
	EXPECT_EQ(Verify(sealed, {other_ca.certificate_pem}).status, OfdVerifyStatus::kUntrusted);
	// A non-CA certificate does not make its holder a CA.
	test::TestKeyPair leaf = test::MakeTestKeyPair("SM2", "not a CA");
	test::TestKeyPair below_leaf = test::MakeTestKeyPair("SM2", "issued by a non-CA", &leaf);
	EXPECT_EQ(Verify(Render(&below_leaf), {leaf.certificate_pem}).status, OfdVerifyStatus::kUntrusted);
}

TEST(OfdTrustChainTest, AnUnreadableTrustAnchorIsAnErrorNotAVerdict) {
	try {
		VerifyOfd(Render(nullptr), {}, {Authority().certificate_pem, "not a certificate SECRET"});
		FAIL();
	} catch (const Error &e) {
		EXPECT_STREQ(e.sqlstate(), "22023");
		EXPECT_NE(std::string(e.what()).find("trust anchor 2"), std::string::npos) << e.what();
		EXPECT_EQ(std::string(e.what()).find("SECRET"), std::string::npos);
	}
}

// The openssl command-line tool, a second implementation, agrees on the
// signature over TBS_Sign, the seal maker's signature and the forgery.
class OpensslCrossCheck : public OfdTamperTest {
protected:
	static std::string Write(const std::string &name, const std::string &data) {
		std::string path = "/tmp/elicense_tamper_" + std::to_string(getpid()) + "_" + name;
		std::ofstream(path, std::ios::binary) << data;
		return path;
	}
	static std::string Str(const Bytes &bytes) {
		return std::string(bytes.begin(), bytes.end());
	}
	// `openssl pkeyutl -verify` of an SM2-with-SM3 signature (GM/T 0009 ID).
	static bool OpensslVerifies(const std::string &cert_pem, const Bytes &data, const Bytes &signature,
	                            const std::string &id = "1234567812345678") {
		std::string cert = Write("cert.pem", cert_pem), sig = Write("sig.der", Str(signature));
		bool ok = true;
		try {
			test::RunOpensslCli("pkeyutl -verify -certin -inkey " + cert + " -rawin -digest sm3 -pkeyopt distid:" + id +
			                        " -sigfile " + sig,
			                    Str(data));
		} catch (const std::runtime_error &) {
			ok = false;
		}
		std::remove(cert.c_str());
		std::remove(sig.c_str());
		return ok;
	}
	static std::string Pem(const Bytes &der_cert) {
		ofd::X509Ptr cert = ofd::CertificateFromDer(der_cert);
		std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
		PEM_write_bio_X509(bio.get(), cert.get());
		char *data = nullptr;
		long size = BIO_get_mem_data(bio.get(), &data);
		return std::string(data, static_cast<std::size_t>(size));
	}
};

TEST_F(OpensslCrossCheck, SignatureAndSealVerifyWithOpensslToo) {
	std::vector<der::Element> ses = der::Children(der::Read(ReadOfdZip(sealed_).Get(kSignedValue)));
	EXPECT_TRUE(OpensslVerifies(Pem(ses[1].content), ses[0].whole, der::BitsValue(ses[3])));
	std::vector<der::Element> eseal = der::Children(der::Children(ses[0])[1]);
	Bytes to_sign = test::forgery::SequenceOf({eseal[0], eseal[1], eseal[2]});
	EXPECT_TRUE(OpensslVerifies(Pem(eseal[1].content), to_sign, der::BitsValue(eseal[3])));
	// openssl also says no to a changed byte or another SM2 signer ID (it
	// is SM2 with the GM/T 0009 ID, not ECDSA over SM3).
	EXPECT_FALSE(OpensslVerifies(Pem(ses[1].content), ses[0].whole, der::BitsValue(ses[3]), "1234567812345679"));
	Bytes changed = ses[0].whole;
	changed[changed.size() / 2] ^= 1;
	EXPECT_FALSE(OpensslVerifies(Pem(ses[1].content), changed, der::BitsValue(ses[3])));
}

TEST_F(OpensslCrossCheck, TheForgedResignatureIsMathematicallySoundButNotTheSeals) {
	std::vector<der::Element> ses =
	    der::Children(der::Read(ReadOfdZip(test::ForgeResignature(sealed_, Forger())).Get(kSignedValue)));
	// The forger's signature over the forged TBS verifies with the forger's
	// certificate (as our Verify said: not bad_signature) ...
	EXPECT_TRUE(OpensslVerifies(Forger().certificate_pem, ses[0].whole, der::BitsValue(ses[3])));
	// ... but not with the certificate the seal lists.
	std::vector<der::Element> eseal = der::Children(der::Children(ses[0])[1]);
	std::vector<der::Element> property = der::Children(der::Children(eseal[0])[2]);
	Bytes listed = der::Children(property[3])[0].content;
	EXPECT_EQ(Pem(listed), Authority().certificate_pem);
	EXPECT_FALSE(OpensslVerifies(Pem(listed), ses[0].whole, der::BitsValue(ses[3])));
}

// The chain check agrees with `openssl verify` at the signing time.
TEST_F(OpensslCrossCheck, ChainAgreesWithOpensslVerify) {
	test::TestKeyPair ca = test::MakeTestKeyPair("SM2", "seal CA", nullptr, true);
	test::TestKeyPair seal = test::MakeTestKeyPair("SM2", "issued seal", &ca);
	std::string ca_file = Write("ca.pem", ca.certificate_pem),
	            forger_file = Write("forger.pem", Forger().certificate_pem);
	auto openssl_verify = [](const std::string &ca_path, const std::string &leaf) {
		try {
			test::RunOpensslCli("x509 -noout", leaf);  // leaf is readable
			std::string leaf_path = Write("leaf.pem", leaf);
			int rc = std::system(("openssl verify -vfyopt distid:1234567812345678 -attime 1795426200 -CAfile " +
			                      ca_path + " " + leaf_path + " >/dev/null 2>&1")
			                         .c_str());
			std::remove(leaf_path.c_str());
			return rc == 0;
		} catch (const std::runtime_error &) {
			return false;
		}
	};
	EXPECT_TRUE(openssl_verify(ca_file, seal.certificate_pem));
	EXPECT_TRUE(Verify(Render(&seal), {ca.certificate_pem}).ok());
	EXPECT_FALSE(openssl_verify(forger_file, seal.certificate_pem));
	EXPECT_EQ(Verify(Render(&seal), {Forger().certificate_pem}).status, OfdVerifyStatus::kUntrusted);
	std::remove(ca_file.c_str());
	std::remove(forger_file.c_str());
}

}  // namespace
}  // namespace elicense::core
