// Bounded inputs and cancellation (limits.hpp, cancel.hpp): inputs over a
// limit are refused with 54000 before the work they would drive, the writer
// refuses what the reader would refuse, and long work stops with 57014 as
// soon as the installed check asks it to, whatever the package holds.
#include "elicense/cancel.hpp"
#include "elicense/limits.hpp"
#include "elicense/ofd_signature.hpp"
#include "elicense/ofd_writer.hpp"
#include "elicense/qr_image.hpp"
#include "ofd_test_keys.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <string>

namespace elicense::core {
namespace {

const std::string kTemplates = std::string(ELICENSE_SOURCE_DIR) + "/extension/templates/";

std::string SqlStateOf(const std::function<void()> &work) {
	try {
		work();
	} catch (const Error &e) {
		return e.sqlstate();
	}
	return "none";
}

// A check that says "stop" from its n-th call on; counts every call.
int checks_seen = 0;
int stop_at = 0;
bool StopAtN() noexcept {
	return ++checks_seen >= stop_at;
}

TEST(Limits, QrTextOverTheSymbolCapacityIsRefusedBeforeEncoding) {
	std::string huge(100u << 20, 'a');  // the 100 MB argument that once OOM-killed a backend
	auto start = std::chrono::steady_clock::now();
	EXPECT_EQ(SqlStateOf([&] { QrPng(huge, QrEcLevel::kM, 4); }), "54000");
	EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(100));
	EXPECT_EQ(SqlStateOf([&] { QrPng(std::string(kMaxQrTextBytes + 1, 'a'), QrEcLevel::kL, 1); }), "54000");
	EXPECT_EQ(SqlStateOf([&] { QrPng(std::string(kMaxQrTextBytes, 'a'), QrEcLevel::kL, 1); }), "none");
}

TEST(Limits, WriterRefusesPackagesTheReaderWouldRefuse) {
	OfdParts big;
	big.Put("OFD.xml", ToBytes("<ofd:OFD/>"));
	big.Put("Doc_0/Res/big.png", Bytes(kMaxOfdPartBytes + 1, 0x42));
	EXPECT_EQ(SqlStateOf([&] { WriteOfdZip(big); }), "54000");
	OfdParts many;
	for (std::size_t i = 0; i <= kMaxOfdParts; ++i)
		many.Put("p" + std::to_string(i), ToBytes("x"));
	EXPECT_EQ(SqlStateOf([&] { WriteOfdZip(many); }), "54000");
	OfdParts fine;
	fine.Put("OFD.xml", ToBytes("<ofd:OFD/>"));
	EXPECT_EQ(ReadOfdZip(WriteOfdZip(fine)).All().size(), 1u);
}

TEST(Limits, ReaderRefusesAnOversizedPackageBeforeOpeningIt) {
	Bytes huge(kMaxOfdPackageBytes + 1, 0);
	EXPECT_EQ(SqlStateOf([&] { ReadOfdZip(huge); }), "54000");
}

TEST(Limits, TemplateWithTooManyFieldsIsRefused) {
	std::string fields;
	for (std::size_t i = 0; i <= kMaxTemplateFields; ++i)
		fields += std::string(i ? "," : "") + R"({"key":"f)" + std::to_string(i) +
		          R"(","x":10,"y":10,"width":50,"font":"宋体","size":10})";
	std::string json = R"({"type_code":"11100000000013338W032","name":"t","page":{"width":210,"height":297},)"
	                   R"("title":{"text":"t","font":"黑体","size":20,"y":20},"label":{"font":"宋体","size":10},)"
	                   R"("qr":{"x":10,"y":200,"size":30},"seal":{"x":100,"y":200,"size":40},"fields":[)" +
	                   fields + "]}";
	EXPECT_EQ(SqlStateOf([&] { ParseOfdTemplate(json); }), "54000");
}

TEST(Limits, FieldValueOverItsLimitIsRefused) {
	OfdTemplate face = LoadOfdTemplateFile(kTemplates + "W032.json");
	OfdFieldValues values;
	for (const auto &field : face.fields)
		values[field.key] = "x";
	values[face.fields.front().key] = std::string(kMaxFieldValueBytes + 1, 'x');
	EXPECT_EQ(SqlStateOf([&] { RenderLicenceOfd(face, values, test::TinyPng(), OfdRenderOptions {}); }), "54000");
}

class CancelTest : public ::testing::Test {
protected:
	// A sealed licence whose QR picture is a large part, so verifying it
	// digests many megabytes.
	Bytes SealedWithLargePart() {
		OfdTemplate face = LoadOfdTemplateFile(kTemplates + "W032.json");
		OfdFieldValues values;
		for (const auto &field : face.fields)
			values[field.key] = "值";
		Bytes picture = test::TinyPng();
		picture.resize(24u << 20, 0x42);  // PNG signature first, then 24 MiB
		OfdSeal seal;
		test::TestKeyPair keys = test::MakeTestKeyPair("SM2", "cancel test seal");
		seal.private_key_pem = keys.private_key_pem;
		seal.certificate_pem = keys.certificate_pem;
		seal.picture_png = test::TinyPng();
		seal.signature_time = "20261123093000Z";
		OfdRenderOptions options;
		options.doc_id = "00112233445566778899aabbccddeeff";
		options.creation_date = "2026-11-23";
		return RenderLicenceOfd(face, values, picture, options, &seal);
	}
};

TEST_F(CancelTest, VerificationStopsAtTheFirstCheckThatSaysSo) {
	Bytes zip = SealedWithLargePart();
	checks_seen = 0;
	stop_at = 1 << 30;
	{
		ScopedCancelCheck counting(StopAtN);
		// Every check runs: with no trust anchor the verdict is the last one.
		EXPECT_EQ(VerifyOfd(zip).status, OfdVerifyStatus::kUntrusted);
	}
	int checks_of_a_full_run = checks_seen;
	// 24 MiB digested in 1 MiB slices: at least that many checks.
	EXPECT_GE(checks_of_a_full_run, 24);

	for (int n : {1, checks_of_a_full_run / 2, checks_of_a_full_run}) {
		checks_seen = 0;
		stop_at = n;
		ScopedCancelCheck stopping(StopAtN);
		EXPECT_EQ(SqlStateOf([&] { VerifyOfd(zip); }), "57014") << "stop at check " << n;
		EXPECT_EQ(checks_seen, n) << "work went on after the check said stop";
	}
}

TEST_F(CancelTest, NoCheckInstalledMeansNeverCancelled) {
	ScopedCancelCheck none(nullptr);
	EXPECT_NO_THROW(ThrowIfCancelled());
	stop_at = 0;
	{
		ScopedCancelCheck stopping(StopAtN);
		EXPECT_THROW(ThrowIfCancelled(), Cancelled);
	}
	EXPECT_NO_THROW(ThrowIfCancelled());  // the scope put the previous check back
}

}  // namespace
}  // namespace elicense::core
