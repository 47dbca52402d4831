// The OFD seal (GB/T 38540 structure): what is written, that it verifies with
// SM2/SM3 and RSA/SHA-256, and that changing any signed part, the signature
// file or the signer is reported, naming the part.
#include "elicense/error.hpp"
#include "elicense/ofd_signature.hpp"
#include "elicense/ofd_writer.hpp"
#include "ofd_crypto.hpp"
#include "ofd_der.hpp"
#include "ofd_test_keys.hpp"

#include <gtest/gtest.h>
#include <pugixml.hpp>

#include <set>

namespace elicense::core {
namespace {

const std::string kTemplates = std::string(ELICENSE_SOURCE_DIR) + "/extension/templates/";

const test::TestKeyPair &Sm2Keys() {
	static const test::TestKeyPair keys = test::MakeTestKeyPair("SM2", "福建省住房和城乡建设厅行政审批专用章");
	return keys;
}

const test::TestKeyPair &RsaKeys() {
	static const test::TestKeyPair keys = test::MakeTestKeyPair("RSA", "rsa test seal");
	return keys;
}

OfdSeal SealWith(const test::TestKeyPair &keys) {
	OfdSeal seal;
	seal.private_key_pem = keys.private_key_pem;
	seal.certificate_pem = keys.certificate_pem;
	seal.picture_png = test::TinyPng();
	seal.signature_time = "20261123093000Z";
	return seal;
}

class OfdSignatureTest : public ::testing::Test {
protected:
	Bytes Render(const OfdSeal *seal) const {
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
		return RenderLicenceOfd(face, values, test::TinyPng(), options, seal);
	}

	// The package with one byte of `part` changed, re-zipped.
	static Bytes Tamper(const Bytes &zip, const std::string &part) {
		OfdParts parts = ReadOfdZip(zip);
		Bytes data = parts.Get(part);
		data[data.size() / 2] ^= 0x01;
		parts.Put(part, data);
		return WriteOfdZip(parts);
	}

	OfdSeal seal_ = SealWith(Sm2Keys());
	Bytes signed_ = Render(&seal_);
};

pugi::xml_document Parse(const OfdParts &parts, const std::string &name) {
	pugi::xml_document doc;
	const Bytes &data = parts.Get(name);
	EXPECT_TRUE(doc.load_buffer(data.data(), data.size())) << name;
	return doc;
}

TEST_F(OfdSignatureTest, Sm2SignedPackageVerifies) {
	OfdVerifyResult result = VerifyOfd(signed_, {}, {Sm2Keys().certificate_pem});
	EXPECT_TRUE(result.ok()) << result.message;
	EXPECT_EQ(OfdVerdictOf(result.status), OfdVerdict::kSealed);
	EXPECT_EQ(result.algorithm, "1.2.156.10197.1.501");
	EXPECT_EQ(result.signing_time, "20261123093000Z");
	EXPECT_NE(result.signer.find("福建省住房和城乡建设厅行政审批专用章"), std::string::npos) << result.signer;
	EXPECT_TRUE(VerifyOfd(signed_, Sm2Keys().certificate_pem, {Sm2Keys().certificate_pem}).ok());
}

// Every digest and signature holds, but nothing says whom to trust.
TEST_F(OfdSignatureTest, WithoutATrustAnchorASealedPackageIsUntrusted) {
	OfdVerifyResult result = VerifyOfd(signed_);
	EXPECT_EQ(result.status, OfdVerifyStatus::kUntrusted) << result.message;
	EXPECT_EQ(OfdVerdictOf(result.status), OfdVerdict::kUntrusted);
	EXPECT_NE(result.message.find("no trust anchor"), std::string::npos) << result.message;
	EXPECT_NE(result.signer.find("专用章"), std::string::npos) << "the signer is still named";
	result = VerifyOfd(signed_, {}, {RsaKeys().certificate_pem});
	EXPECT_EQ(result.status, OfdVerifyStatus::kUntrusted) << result.message;
}

TEST_F(OfdSignatureTest, RsaSignedPackageVerifies) {
	OfdSeal seal = SealWith(RsaKeys());
	OfdVerifyResult result = VerifyOfd(Render(&seal), RsaKeys().certificate_pem, {RsaKeys().certificate_pem});
	EXPECT_TRUE(result.ok()) << result.message;
	EXPECT_EQ(result.algorithm, "1.2.840.113549.1.1.11");
}

TEST_F(OfdSignatureTest, WritesTheGbT38540Structure) {
	OfdParts parts = ReadOfdZip(signed_);
	pugi::xml_document ofd = Parse(parts, "OFD.xml");
	EXPECT_STREQ(ofd.select_node("/ofd:OFD/ofd:DocBody/ofd:Signatures").node().text().as_string(),
	             "Doc_0/Signs/Signatures.xml");

	pugi::xml_document list = Parse(parts, "Doc_0/Signs/Signatures.xml");
	EXPECT_EQ(list.select_node("/ofd:Signatures/ofd:MaxSignId").node().text().as_int(), 1);
	pugi::xml_node sign = list.select_node("/ofd:Signatures/ofd:Signature").node();
	EXPECT_STREQ(sign.attribute("ID").as_string(), "1");
	EXPECT_STREQ(sign.attribute("BaseLoc").as_string(), "/Doc_0/Signs/Sign_0/Signature.xml");

	pugi::xml_document signature = Parse(parts, "Doc_0/Signs/Sign_0/Signature.xml");
	pugi::xml_node info = signature.select_node("/ofd:Signature/ofd:SignedInfo").node();
	EXPECT_STREQ(info.child("ofd:Provider").attribute("ProviderName").as_string(), "elicense");
	EXPECT_STREQ(info.child("ofd:SignatureMethod").text().as_string(), "1.2.156.10197.1.501");
	EXPECT_STREQ(info.child("ofd:SignatureDateTime").text().as_string(), "20261123093000Z");
	EXPECT_STREQ(info.child("ofd:References").attribute("CheckMethod").as_string(), "1.2.156.10197.1.401");

	// One Reference per part outside Signs/, each with the part's SM3 digest.
	std::set<std::string> referenced;
	for (pugi::xml_node reference : info.child("ofd:References").children("ofd:Reference")) {
		std::string part = std::string(reference.attribute("FileRef").as_string()).substr(1);
		referenced.insert(part);
		EXPECT_EQ(reference.child("ofd:CheckValue").text().as_string(),
		          ofd::Base64Encode(ofd::Digest(ofd::Algorithm::kSm2Sm3, parts.Get(part))))
		    << part;
	}
	std::set<std::string> unsigned_parts;
	for (const auto &part : parts.All())
		if (part.name.rfind("Doc_0/Signs/", 0) != 0)
			unsigned_parts.insert(part.name);
	EXPECT_EQ(referenced, unsigned_parts);
	EXPECT_GE(referenced.size(), 2u) << "ofd.js fails on a single Reference";
	EXPECT_TRUE(referenced.count("OFD.xml"));

	// The seal sits in the template's seal box on the page.
	pugi::xml_node stamp = info.child("ofd:StampAnnot");
	EXPECT_STREQ(stamp.attribute("Boundary").as_string(), "122 195 42 42");
	pugi::xml_document document = Parse(parts, "Doc_0/Document.xml");
	EXPECT_STREQ(stamp.attribute("PageRef").as_string(),
	             document.select_node("//ofd:Pages/ofd:Page").node().attribute("ID").as_string());
	EXPECT_STREQ(signature.select_node("/ofd:Signature/ofd:SignedValue").node().text().as_string(),
	             "/Doc_0/Signs/Sign_0/SignedValue.dat");
}

TEST_F(OfdSignatureTest, SignedValueIsAnSesSignatureCarryingTheSealPicture) {
	OfdParts parts = ReadOfdZip(signed_);
	der::Element ses = der::Read(parts.Get("Doc_0/Signs/Sign_0/SignedValue.dat"));
	std::vector<der::Element> top = der::Children(ses);
	ASSERT_EQ(top.size(), 4u);
	std::vector<der::Element> tbs = der::Children(top[0]);
	ASSERT_EQ(tbs.size(), 5u);
	std::vector<der::Element> eseal = der::Children(tbs[1]);
	std::vector<der::Element> seal_info = der::Children(eseal[0]);
	std::vector<der::Element> picture = der::Children(seal_info[3]);
	EXPECT_EQ(std::string(picture[0].content.begin(), picture[0].content.end()), "PNG");
	EXPECT_EQ(picture[1].content, test::TinyPng());
	EXPECT_EQ(der::BitsValue(tbs[3]),
	          ofd::Digest(ofd::Algorithm::kSm2Sm3, parts.Get("Doc_0/Signs/Sign_0/Signature.xml")));
	EXPECT_EQ(der::OidValue(top[2]), "1.2.156.10197.1.501");
}

TEST_F(OfdSignatureTest, ChangingOneByteOfASignedPartNamesThePart) {
	for (const std::string part :
	     {"OFD.xml", "Doc_0/Document.xml", "Doc_0/PublicRes.xml", "Doc_0/DocumentRes.xml", "Doc_0/Res/qr.png",
	      "Doc_0/Pages/Page_0/Content.xml", "Doc_0/Annots.xml", "Doc_0/Pages/Page_0/Annotation.xml"}) {
		OfdVerifyResult result = VerifyOfd(Tamper(signed_, part));
		EXPECT_EQ(result.status, OfdVerifyStatus::kDigestMismatch) << part << ": " << result.message;
		EXPECT_EQ(result.part, part);
	}
}

TEST_F(OfdSignatureTest, ChangingTheSignatureFilesBreaksTheSignature) {
	OfdVerifyResult result = VerifyOfd(Tamper(signed_, "Doc_0/Signs/Sign_0/Signature.xml"));
	EXPECT_FALSE(result.ok());
	EXPECT_EQ(result.status, OfdVerifyStatus::kBadSignature) << result.message;

	// Flip a byte of the signature value itself (its last bytes).
	OfdParts parts = ReadOfdZip(signed_);
	Bytes value = parts.Get("Doc_0/Signs/Sign_0/SignedValue.dat");
	value[value.size() - 3] ^= 0x01;
	parts.Put("Doc_0/Signs/Sign_0/SignedValue.dat", value);
	result = VerifyOfd(WriteOfdZip(parts));
	EXPECT_EQ(result.status, OfdVerifyStatus::kBadSignature) << result.message;
}

TEST_F(OfdSignatureTest, AddedOrRemovedPartsAreReported) {
	OfdParts parts = ReadOfdZip(signed_);
	parts.Put("Doc_0/Res/extra.png", test::TinyPng());
	OfdVerifyResult result = VerifyOfd(WriteOfdZip(parts));
	EXPECT_EQ(result.status, OfdVerifyStatus::kUnreferencedPart);
	EXPECT_EQ(result.part, "Doc_0/Res/extra.png");

	OfdParts fewer;
	OfdParts all = ReadOfdZip(signed_);
	for (const auto &part : all.All())
		if (part.name != "Doc_0/Res/qr.png")
			fewer.Put(part.name, part.data);
	result = VerifyOfd(WriteOfdZip(fewer));
	EXPECT_EQ(result.status, OfdVerifyStatus::kMissingPart);
	EXPECT_EQ(result.part, "Doc_0/Res/qr.png");
}

TEST_F(OfdSignatureTest, AnotherExpectedSignerFails) {
	OfdVerifyResult result = VerifyOfd(signed_, RsaKeys().certificate_pem);
	EXPECT_EQ(result.status, OfdVerifyStatus::kWrongSigner);
	test::TestKeyPair other = test::MakeTestKeyPair("SM2", "other");
	EXPECT_EQ(VerifyOfd(signed_, other.certificate_pem).status, OfdVerifyStatus::kWrongSigner);
}

TEST_F(OfdSignatureTest, ASignatureMadeWithAnotherKeyDoesNotVerify) {
	// Sign with key B but embed A's certificate: swap in B's signature value.
	test::TestKeyPair other = test::MakeTestKeyPair("SM2", "other");
	OfdSeal seal = SealWith(other);
	seal.certificate_pem = Sm2Keys().certificate_pem;
	EXPECT_THROW(Render(&seal), Error) << "key and certificate must match";

	OfdParts good = ReadOfdZip(signed_);
	der::Element ses = der::Read(good.Get("Doc_0/Signs/Sign_0/SignedValue.dat"));
	std::vector<der::Element> top = der::Children(ses);
	ofd::PkeyPtr key = ofd::LoadPrivateKey(other.private_key_pem);
	Bytes forged_signature = der::Bits(ofd::Sign(key.get(), ofd::Algorithm::kSm2Sm3, top[0].whole));
	Bytes forged = der::Sequence({&top[0].whole, &top[1].whole, &top[2].whole, &forged_signature});
	good.Put("Doc_0/Signs/Sign_0/SignedValue.dat", forged);
	EXPECT_EQ(VerifyOfd(WriteOfdZip(good)).status, OfdVerifyStatus::kBadSignature);
}

TEST_F(OfdSignatureTest, UnsignedAndMalformedPackages) {
	EXPECT_EQ(VerifyOfd(Render(nullptr)).status, OfdVerifyStatus::kUnsigned);
	EXPECT_EQ(VerifyOfd(ToBytes("not a zip")).status, OfdVerifyStatus::kMalformed);
	EXPECT_THROW(SignOfd(signed_, seal_), Error) << "signing twice";
}

// An entry whose name normalises to another path is not ignored: it is a part
// outside the signed references (tampered), and ReadOfdZip refuses the
// package (its parts are ambiguous). Before, the first name below was exempt
// from the coverage check (it starts with Doc_0/Signs/) while a viewer
// resolving ".." showed it as the page: the package verified.
TEST_F(OfdSignatureTest, EntriesWhoseNamesNormaliseElsewhereAreUnreferencedParts) {
	const char *names[] = {"Doc_0/Signs/../Pages/Page_0/Content.xml", "./Doc_0/Pages/Page_0/Content.xml",
	                       "Doc_0//Pages/Page_0/Content.xml",         "/Doc_0/Pages/Page_0/Content.xml",
	                       "Doc_0\\Pages\\Page_0\\Content.xml",       "Doc_0/Signs/./Sign_0/x.xml"};
	for (const char *name : names) {
		OfdParts parts = ReadOfdZip(signed_);
		parts.Put(name, ToBytes("<ofd:Page xmlns:ofd=\"http://www.ofdspec.org/2016\">forged</ofd:Page>"));
		OfdVerifyResult result = VerifyOfd(WriteOfdZip(parts), Sm2Keys().certificate_pem, {Sm2Keys().certificate_pem});
		EXPECT_EQ(result.status, OfdVerifyStatus::kUnreferencedPart) << name << ": " << result.message;
		EXPECT_EQ(OfdVerdictOf(result.status), OfdVerdict::kTampered) << name;
		EXPECT_NE(result.message.find("not a part name"), std::string::npos) << name << ": " << result.message;
		EXPECT_EQ(result.part, name);
		EXPECT_THROW(ReadOfdZip(WriteOfdZip(parts)), Error) << name;
	}
	// The same content under its canonical name is a changed part, as before.
	OfdParts parts = ReadOfdZip(signed_);
	parts.Put("Doc_0/Pages/Page_0/Content.xml", ToBytes("<forged/>"));
	EXPECT_EQ(VerifyOfd(WriteOfdZip(parts)).status, OfdVerifyStatus::kDigestMismatch);
}

TEST_F(OfdSignatureTest, SignOfdSealsAnExistingPackage) {
	Bytes sealed = SignOfd(Render(nullptr), seal_);
	EXPECT_TRUE(VerifyOfd(sealed, Sm2Keys().certificate_pem, {Sm2Keys().certificate_pem}).ok());
}

TEST_F(OfdSignatureTest, KeyMaterialNeverAppearsInErrors) {
	OfdSeal seal = seal_;
	seal.private_key_pem = "-----BEGIN PRIVATE KEY-----\nSECRETSECRETSECRET\n-----END PRIVATE KEY-----\n";
	try {
		Render(&seal);
		FAIL();
	} catch (const Error &e) {
		std::string all = std::string(e.what()) + e.detail() + e.hint();
		EXPECT_EQ(all.find("SECRET"), std::string::npos) << all;
		EXPECT_STREQ(e.sqlstate(), "22023");
	}
	seal = seal_;
	seal.certificate_pem = "garbage SECRET";
	try {
		Render(&seal);
		FAIL();
	} catch (const Error &e) {
		EXPECT_EQ(std::string(e.what()).find("SECRET"), std::string::npos);
	}
}

}  // namespace
}  // namespace elicense::core
