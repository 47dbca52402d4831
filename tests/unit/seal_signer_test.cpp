// Signers as a plug (ofd_signer.hpp) and secrets under a master key
// (secret_box.hpp): every signer's files verify with the one VerifyOfd, the
// seal's esID is the one given, a signer that signs wrong is caught, and a
// box opens only with its key and purpose, untouched.
#include "elicense/error.hpp"
#include "elicense/ofd_signature.hpp"
#include "elicense/ofd_signer.hpp"
#include "elicense/ofd_writer.hpp"
#include "elicense/secret_box.hpp"
#include "ofd_sample_fields.hpp"
#include "ofd_test_keys.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

namespace elicense::core {
namespace {

const std::string kTemplates = std::string(ELICENSE_SOURCE_DIR) + "/extension/templates/";

Bytes Unsigned() {
	OfdTemplate face = LoadOfdTemplateFile(kTemplates + "W050.json");
	OfdRenderOptions options;
	options.doc_id = "00112233445566778899aabbccddeeff";
	options.creation_date = "2026-11-23";
	return RenderLicenceOfd(face, SampleW050Values(), test::TinyPng(), options, nullptr);
}

OfdSeal Seal(const std::string &es_id) {
	OfdSeal seal;
	seal.picture_png = test::TinyPng();
	seal.es_id = es_id;
	return seal;
}

bool Contains(const Bytes &data, const std::string &text) {
	return std::search(data.begin(), data.end(), text.begin(), text.end()) != data.end();
}

// Wraps a signer: counts calls, remembers digest sizes, can spoil signatures.
class SpySigner : public OfdSigner {
public:
	explicit SpySigner(std::unique_ptr<OfdSigner> inner) : inner_(std::move(inner)) {
	}
	const Bytes &CertificateDer() const override {
		return inner_->CertificateDer();
	}
	Bytes SignDigest(const Bytes &digest) override {
		++calls;
		digest_size = digest.size();
		Bytes signature = inner_->SignDigest(digest);
		if (spoil)
			signature[signature.size() / 2] ^= 1;
		return signature;
	}
	int calls = 0;
	std::size_t digest_size = 0;
	bool spoil = false;

private:
	std::unique_ptr<OfdSigner> inner_;
};

class SealSignerTest : public ::testing::TestWithParam<const char *> {};

TEST_P(SealSignerTest, KeySignerSealsWhatVerifyOfdAccepts) {
	test::TestKeyPair keys = test::MakeTestKeyPair(GetParam(), "seal signer test");
	SpySigner signer(MakeKeySigner(keys.private_key_pem, keys.certificate_pem));
	Bytes sealed = SignOfd(Unsigned(), Seal("fj-350100-test"), signer);
	EXPECT_EQ(signer.calls, 2) << "the seal (SESeal) and the signature";
	EXPECT_EQ(signer.digest_size, 32u);
	// The test certificate is self-signed: it is its own trust anchor.
	OfdVerifyResult result = VerifyOfd(sealed, keys.certificate_pem, {keys.certificate_pem});
	EXPECT_TRUE(result.ok()) << result.message;
	EXPECT_EQ(result.signer, "CN=seal signer test");
	const Bytes &ses = ReadOfdZip(sealed).Get("Doc_0/Signs/Sign_0/SignedValue.dat");
	EXPECT_TRUE(Contains(ses, "fj-350100-test"));
	EXPECT_FALSE(Contains(ses, "elicense-seal"));
}

TEST_P(SealSignerTest, AWrongSignatureFromASignerIsCaught) {
	test::TestKeyPair keys = test::MakeTestKeyPair(GetParam(), "seal signer test");
	SpySigner signer(MakeKeySigner(keys.private_key_pem, keys.certificate_pem));
	signer.spoil = true;
	Bytes sealed = SignOfd(Unsigned(), Seal("x"), signer);
	EXPECT_EQ(VerifyOfd(sealed).status, OfdVerifyStatus::kBadSignature);
}

INSTANTIATE_TEST_SUITE_P(Algorithms, SealSignerTest, ::testing::Values("SM2", "P-256", "RSA"));

TEST(SealSigner, KeyAndCertificateMustBelongTogether) {
	test::TestKeyPair a = test::MakeTestKeyPair("SM2", "a"), b = test::MakeTestKeyPair("SM2", "b");
	EXPECT_THROW(MakeKeySigner(a.private_key_pem, b.certificate_pem), Error);
}

TEST(SealSigner, EsIdMustBePrintableAscii) {
	test::TestKeyPair keys = test::MakeTestKeyPair("SM2", "a");
	std::unique_ptr<OfdSigner> signer = MakeKeySigner(keys.private_key_pem, keys.certificate_pem);
	EXPECT_THROW(SignOfd(Unsigned(), Seal(""), *signer), Error);
	EXPECT_THROW(SignOfd(Unsigned(), Seal("福州"), *signer), Error);
}

TEST(SealSigner, Pkcs11RefusesSm2WithoutLoadingAModule) {
	test::TestKeyPair keys = test::MakeTestKeyPair("SM2", "a");
	Pkcs11Config config {"/nonexistent/module.so", "token", "key", "1234"};
	try {
		MakePkcs11Signer(config, keys.certificate_pem);
		FAIL() << "an SM2 certificate was accepted by the PKCS#11 signer";
	} catch (const Error &e) {
		EXPECT_STREQ(e.sqlstate(), sqlstate::kFeatureNotSupported);
		EXPECT_EQ(std::string(e.what()).find("1234"), std::string::npos);
	}
}

Bytes Key(std::uint8_t fill) {
	return Bytes(kMasterKeyBytes, fill);
}

TEST(SecretBox, OpensWithItsKeyAndPurposeOnly) {
	const std::string secret =
	    "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqBHM9V\n-----END PRIVATE KEY-----\n";
	Bytes box = SealSecret(Key(1), "seal", secret);
	EXPECT_FALSE(Contains(box, "PRIVATE KEY"));
	EXPECT_EQ(SecretBoxKeyId(box), MasterKeyId(Key(1)));
	EXPECT_EQ(OpenSecret({Key(2), Key(1)}, "seal", box), secret);
	EXPECT_NE(SealSecret(Key(1), "seal", secret), box) << "a fresh nonce each time";
	try {
		OpenSecret({Key(2)}, "seal", box);
		FAIL() << "opened with another key";
	} catch (const Error &e) {
		EXPECT_NE(std::string(e.what()).find("not configured"), std::string::npos) << e.what();
	}
	EXPECT_THROW(OpenSecret({Key(1)}, "other purpose", box), Error);
	Bytes tampered = box;
	tampered[tampered.size() - 20] ^= 1;
	EXPECT_THROW(OpenSecret({Key(1)}, "seal", tampered), Error);
	EXPECT_THROW(OpenSecret({Key(1)}, "seal", Bytes(secret.begin(), secret.end())), Error);
	EXPECT_TRUE(SecretBoxKeyId(Bytes(secret.begin(), secret.end())).empty());
}

TEST(SecretBox, MasterKeyFileIsRawOrHexAndNeverQuoted) {
	std::string path = ::testing::TempDir() + "/elicense-master-key-test";
	{ std::ofstream(path, std::ios::binary) << std::string(32, 'k'); }
	EXPECT_EQ(ReadMasterKeyFile(path), Bytes(32, 'k'));
	{ std::ofstream(path, std::ios::binary) << std::string(64, 'a') << "\n"; }
	EXPECT_EQ(ReadMasterKeyFile(path), Bytes(32, 0xaa));
	{ std::ofstream(path, std::ios::binary) << "sw0rdfish-not-a-key"; }
	try {
		ReadMasterKeyFile(path);
		FAIL() << "a short key file was accepted";
	} catch (const Error &e) {
		EXPECT_EQ(std::string(e.what()).find("sw0rdfish"), std::string::npos) << e.what();
	}
	std::remove(path.c_str());
	EXPECT_THROW(ReadMasterKeyFile(path), Error);
}

}  // namespace
}  // namespace elicense::core
