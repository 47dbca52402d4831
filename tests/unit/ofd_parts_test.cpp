// Building blocks of the OFD writer and seal: the DER encoder/reader, line
// wrapping, and the limits on packages read from outside.
#include "elicense/error.hpp"
#include "elicense/ofd_package.hpp"
#include "ofd_der.hpp"
#include "ofd_text_layout.hpp"

#include <gtest/gtest.h>
#include <zip.h>

namespace elicense::core {
namespace {

Bytes Hex(std::initializer_list<int> bytes) {
	Bytes out;
	for (int b : bytes)
		out.push_back(static_cast<std::uint8_t>(b));
	return out;
}

TEST(OfdDer, EncodesIntegersMinimally) {
	EXPECT_EQ(der::Integer(0), Hex({0x02, 0x01, 0x00}));
	EXPECT_EQ(der::Integer(4), Hex({0x02, 0x01, 0x04}));
	EXPECT_EQ(der::Integer(127), Hex({0x02, 0x01, 0x7F}));
	EXPECT_EQ(der::Integer(128), Hex({0x02, 0x02, 0x00, 0x80}));
	EXPECT_EQ(der::Integer(256), Hex({0x02, 0x02, 0x01, 0x00}));
	EXPECT_EQ(der::Integer(-1), Hex({0x02, 0x01, 0xFF}));
	EXPECT_EQ(der::Integer(-129), Hex({0x02, 0x02, 0xFF, 0x7F}));
}

TEST(OfdDer, OidsRoundTrip) {
	// sm2sign-with-sm3, as OpenSSL encodes it.
	EXPECT_EQ(der::Oid("1.2.156.10197.1.501"), Hex({0x06, 0x08, 0x2A, 0x81, 0x1C, 0xCF, 0x55, 0x01, 0x83, 0x75}));
	for (const char *oid : {"1.2.156.10197.1.401", "2.16.840.1.101.3.4.2.1", "1.2.840.113549.1.1.11"})
		EXPECT_EQ(der::OidValue(der::Read(der::Oid(oid))), oid);
	EXPECT_THROW(der::Oid("1..2"), Error);
}

TEST(OfdDer, LongLengthsAndNestingReadBack) {
	Bytes big(300, 0xAB);
	Bytes octets = der::Octets(big);
	EXPECT_EQ(Bytes(octets.begin(), octets.begin() + 4), Hex({0x04, 0x82, 0x01, 0x2C}));
	Bytes text = der::String(der::kUtf8String, "电子印章");
	Bytes bits = der::Bits(Hex({1, 2, 3}));
	Bytes seq = der::Sequence({&octets, &text, &bits});
	std::vector<der::Element> children = der::Children(der::Read(seq));
	ASSERT_EQ(children.size(), 3u);
	EXPECT_EQ(children[0].content, big);
	EXPECT_EQ(std::string(children[1].content.begin(), children[1].content.end()), "电子印章");
	EXPECT_EQ(der::BitsValue(children[2]), Hex({1, 2, 3}));
}

TEST(OfdDer, RejectsMalformedInput) {
	EXPECT_THROW(der::Read(Hex({0x30})), Error);                    // truncated header
	EXPECT_THROW(der::Read(Hex({0x04, 0x05, 0x00})), Error);        // length beyond data
	EXPECT_THROW(der::Read(Hex({0x04, 0x81, 0x01, 0x00})), Error);  // non-minimal length
	EXPECT_THROW(der::Read(Hex({0x04, 0x01, 0x00, 0x00})), Error);  // trailing bytes
	EXPECT_THROW(der::Children(der::Read(Hex({0x04, 0x00}))), Error);
	EXPECT_THROW(der::BitsValue(der::Read(Hex({0x03, 0x02, 0x01, 0xFF}))), Error);  // unused bits
}

TEST(OfdTextLayout, WrapsLatinAtSpacesAndCjkAnywhere) {
	// 10 mm per CJK character, 5 mm per Latin one; 40 mm per line.
	std::vector<ofd::TextLine> lines = ofd::WrapText("alpha beta gamma", 10, 40);
	ASSERT_EQ(lines.size(), 3u);
	EXPECT_EQ(lines[0].text, "alpha");
	EXPECT_EQ(lines[1].text, "beta");
	EXPECT_EQ(lines[2].text, "gamma");
	lines = ofd::WrapText("建筑施工企业安全", 10, 40);
	ASSERT_EQ(lines.size(), 2u);
	EXPECT_EQ(lines[0].text, "建筑施工");
	EXPECT_DOUBLE_EQ(lines[0].width, 40);
	lines = ofd::WrapText("第一行\n第二行", 10, 100);
	ASSERT_EQ(lines.size(), 2u);
	EXPECT_EQ(lines[1].text, "第二行");
}

TEST(OfdTextLayout, ShrinksOnlyAsFarAsNeeded) {
	ofd::TextBlock block = ofd::FitText("建筑施工企业", 10, 50, 1, "f");  // 60 mm at full size
	ASSERT_EQ(block.lines.size(), 1u);
	EXPECT_LE(block.lines[0].width, 50);
	EXPECT_NEAR(block.size, 8, 1e-9);  // the largest 5 % step that fits: at 85 % it is 51 mm
	EXPECT_THROW(ofd::FitText(std::string(300, 'x'), 10, 50, 1, "f"), Error);
}

// A ZIP whose one deflated entry unpacks to more than a part may hold. Made
// with libzip directly: our writer refuses such a package (limits.hpp).
Bytes ZipBomb() {
	static const Bytes spaces(kMaxOfdPartBytes + 1, ' ');
	zip_error_t error;
	zip_error_init(&error);
	zip_source_t *buffer = zip_source_buffer_create(nullptr, 0, 0, &error);
	zip_t *zip = zip_open_from_source(buffer, ZIP_TRUNCATE, &error);
	zip_source_keep(buffer);
	zip_source_t *source = zip_source_buffer(zip, spaces.data(), spaces.size(), 0);
	zip_int64_t index = zip_file_add(zip, "OFD.xml", source, 0);
	zip_set_file_compression(zip, static_cast<zip_uint64_t>(index), ZIP_CM_DEFLATE, 9);
	zip_close(zip);
	zip_source_open(buffer);
	zip_source_seek(buffer, 0, SEEK_END);
	Bytes out(static_cast<std::size_t>(zip_source_tell(buffer)));
	zip_source_seek(buffer, 0, SEEK_SET);
	zip_source_read(buffer, out.data(), out.size());
	zip_source_close(buffer);
	zip_source_free(buffer);
	return out;
}

TEST(OfdPackage, RefusesPartsBeyondTheLimit) {
	Bytes bomb = ZipBomb();  // deflates to a few KB
	EXPECT_LT(bomb.size(), 100000u);
	try {
		ReadOfdZip(bomb);
		FAIL();
	} catch (const Error &e) {
		EXPECT_STREQ(e.sqlstate(), "54000");
	}
}

}  // namespace
}  // namespace elicense::core
