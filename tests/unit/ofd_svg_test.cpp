// OFD page -> SVG: the page box and pixel size, every face value and the
// title drawn glyph by glyph at the writer's positions, the QR image, the
// frame path, the watermark annotation in grey, the seal picture taken out
// of SignedValue.dat at the stamp's box, the font stand-ins, and errors for
// a package without the parts a page needs.
#include "elicense/error.hpp"
#include "elicense/ofd_svg.hpp"
#include "elicense/ofd_writer.hpp"
#include "ofd_crypto.hpp"
#include "ofd_sample_fields.hpp"
#include "ofd_test_keys.hpp"
#include "ofd_xml.hpp"

#include <gtest/gtest.h>
#include <pugixml.hpp>

#include <string>

namespace elicense::core {
namespace {

const std::string kTemplates = std::string(ELICENSE_SOURCE_DIR) + "/extension/templates/";

// Every drawn glyph in document order, concatenated (for <g> of `cls`, or all).
std::string DrawnText(const pugi::xml_document &svg, const char *only_class = nullptr) {
	std::string text;
	for (pugi::xpath_node n : svg.select_nodes("//text")) {
		if (only_class) {
			bool inside = false;
			for (pugi::xml_node p = n.node().parent(); p; p = p.parent())
				inside = inside || std::string(p.attribute("class").as_string()) == only_class;
			if (!inside)
				continue;
		}
		text += n.node().text().as_string();
	}
	return text;
}

class OfdSvgTest : public ::testing::Test {
protected:
	OfdParts Render(bool watermark, const OfdSeal *seal = nullptr) {
		OfdRenderOptions options;
		options.watermark = watermark;
		options.doc_id = "0123456789abcdef0123456789abcdef";
		options.creation_date = "2026-11-23";
		return ReadOfdZip(RenderLicenceOfd(face_, SampleW050Values(), test::TinyPng(), options, seal));
	}
	pugi::xml_document Svg(const OfdParts &parts, OfdSvgOptions options = {}) {
		std::string svg = OfdPageToSvg(parts, options);
		pugi::xml_document doc;
		EXPECT_TRUE(doc.load_string(svg.c_str())) << svg.substr(0, 200);
		return doc;
	}
	OfdTemplate face_ = LoadOfdTemplateFile(kTemplates + "W050.json");
};

TEST_F(OfdSvgTest, PageBoxAndPixelSize) {
	OfdSvgOptions options;
	options.pixels_per_mm = 4;
	pugi::xml_document svg = Svg(Render(true), options);
	pugi::xml_node root = svg.child("svg");
	EXPECT_STREQ(root.attribute("viewBox").as_string(), "0 0 210 297");
	EXPECT_EQ(root.attribute("width").as_int(), 840);
	EXPECT_EQ(root.attribute("height").as_int(), 1188);
	EXPECT_STREQ(root.attribute("xml:lang").as_string(), "zh-CN");
}

TEST_F(OfdSvgTest, EveryFaceValueAndLabelIsDrawn) {
	pugi::xml_document svg = Svg(Render(false));
	std::string text = DrawnText(svg);
	EXPECT_NE(text.find(face_.title), std::string::npos);
	for (const auto &[key, value] : SampleW050Values()) {
		std::string no_spaces;
		for (const std::string &glyph : {value})
			for (char c : glyph)
				if (c != ' ')
					no_spaces.push_back(c);
		EXPECT_NE(text.find(no_spaces), std::string::npos) << key << ": " << value;
	}
	for (const auto &field : face_.fields)
		EXPECT_NE(text.find(field.label), std::string::npos) << field.label;
	EXPECT_EQ(text.find(kPlatformWatermark), std::string::npos) << "no watermark was asked for";
}

TEST_F(OfdSvgTest, GlyphsFollowDeltaX) {
	pugi::xml_document svg = Svg(Render(false));
	// The first two glyphs of the title: one em apart, on one baseline.
	pugi::xpath_node_set texts = svg.select_nodes("//text");
	ASSERT_GT(texts.size(), 2u);
	pugi::xml_node first = texts[0].node(), second = texts[1].node();
	EXPECT_DOUBLE_EQ(first.attribute("y").as_double(), second.attribute("y").as_double());
	double size = first.parent().attribute("font-size").as_double();
	EXPECT_NEAR(second.attribute("x").as_double() - first.attribute("x").as_double(), size, 0.01);
}

TEST_F(OfdSvgTest, QrImageFrameAndWatermark) {
	pugi::xml_document svg = Svg(Render(true));
	pugi::xpath_node_set images = svg.select_nodes("//image");
	ASSERT_EQ(images.size(), 1u);
	pugi::xml_node qr = images[0].node();
	EXPECT_EQ(std::string(qr.attribute("xlink:href").as_string()).rfind("data:image/png;base64,iVBORw0KGgo", 0), 0u);
	EXPECT_STREQ(qr.parent().attribute("transform").as_string(),
	             ("translate(" + ofd::Num(face_.qr.x) + " " + ofd::Num(face_.qr.y) + ") matrix(" +
	              ofd::Num(face_.qr.size) + " 0 0 " + ofd::Num(face_.qr.size) + " 0 0)")
	                 .c_str());
	pugi::xpath_node frame = svg.select_node("//path");
	ASSERT_TRUE(frame);
	EXPECT_STREQ(frame.node().attribute("stroke").as_string(), "rgb(176,32,32)");
	EXPECT_EQ(std::string(frame.node().attribute("d").as_string()).back(), 'Z');
	EXPECT_NE(DrawnText(svg, "annotation").find(kPlatformWatermark), std::string::npos);
	pugi::xpath_node mark = svg.select_node("//g[@class='annotation']//g[@fill]");
	ASSERT_TRUE(mark);
	EXPECT_STREQ(mark.node().attribute("fill").as_string(), "rgb(128,128,128)");
}

TEST_F(OfdSvgTest, SealPictureAtTheStamp) {
	static const test::TestKeyPair keys = test::MakeTestKeyPair("SM2", "测试专用章");
	OfdSeal seal;
	seal.private_key_pem = keys.private_key_pem;
	seal.certificate_pem = keys.certificate_pem;
	seal.picture_png = test::TinyPng();
	pugi::xml_document svg = Svg(Render(true, &seal));
	pugi::xpath_node stamp = svg.select_node("//image[@class='seal']");
	ASSERT_TRUE(stamp);
	EXPECT_DOUBLE_EQ(stamp.node().attribute("x").as_double(), face_.seal.x);
	EXPECT_DOUBLE_EQ(stamp.node().attribute("width").as_double(), face_.seal.size);
	EXPECT_EQ(std::string(stamp.node().attribute("xlink:href").as_string()),
	          "data:image/png;base64," + ofd::Base64Encode(test::TinyPng()));
	OfdSvgOptions no_seal;
	no_seal.seal = false;
	EXPECT_FALSE(Svg(Render(true, &seal), no_seal).select_node("//image[@class='seal']"));
}

TEST(OfdSvgFonts, StandInsFollowTheOfdNames) {
	EXPECT_EQ(OfdSvgFontFamily("SimSun", "宋体"),
	          "'SimSun', '宋体', 'Noto Serif CJK SC', 'Noto Sans CJK SC', 'Droid Sans Fallback', serif");
	EXPECT_EQ(OfdSvgFontFamily("SimHei", "黑体"),
	          "'SimHei', '黑体', 'Noto Sans CJK SC', 'Droid Sans Fallback', sans-serif");
	EXPECT_EQ(OfdSvgFontFamily("Evil';}<x>", ""),
	          "'Evil}x', 'Noto Serif CJK SC', 'Noto Sans CJK SC', 'Droid Sans Fallback', serif");
}

TEST(OfdSvgErrors, MissingPartsAndBadOptions) {
	OfdParts empty;
	EXPECT_THROW(OfdPageToSvg(empty), Error);
	OfdParts not_xml;
	not_xml.Put("OFD.xml", ToBytes("<ofd:OFD"));
	EXPECT_THROW(OfdPageToSvg(not_xml), Error);
	OfdParts no_doc;
	no_doc.Put("OFD.xml", ToBytes("<ofd:OFD xmlns:ofd=\"http://www.ofdspec.org/2016\"><ofd:DocBody><ofd:DocRoot>"
	                              "Doc_0/Document.xml</ofd:DocRoot></ofd:DocBody></ofd:OFD>"));
	EXPECT_THROW(OfdPageToSvg(no_doc), Error);
	OfdSvgOptions bad;
	bad.pixels_per_mm = 0;
	EXPECT_THROW(OfdPageToSvg(no_doc, bad), Error);
}

}  // namespace
}  // namespace elicense::core
