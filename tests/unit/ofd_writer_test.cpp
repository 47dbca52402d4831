// The OFD writer: package layout, well-formed XML in the ofd namespace, the
// face text equal to the field values, escaping, watermark and purpose
// annotations, IDs, resources, wrapping, and the shipped templates.
#include "elicense/error.hpp"
#include "elicense/ofd_fonts.hpp"
#include "elicense/ofd_writer.hpp"
#include "ofd_sample_fields.hpp"
#include "ofd_test_keys.hpp"

#include <gtest/gtest.h>
#include <pugixml.hpp>

#include <cmath>
#include <set>

namespace elicense::core {
namespace {

const std::string kTemplates = std::string(ELICENSE_SOURCE_DIR) + "/extension/templates/";

OfdRenderOptions FixedOptions() {
	OfdRenderOptions options;
	options.doc_id = "0123456789abcdef0123456789abcdef";
	options.creation_date = "2026-11-23";
	return options;
}

pugi::xml_document Parse(const OfdParts &parts, const std::string &name) {
	pugi::xml_document doc;
	const Bytes &data = parts.Get(name);
	EXPECT_TRUE(doc.load_buffer(data.data(), data.size())) << name;
	return doc;
}

// Text of every TextObject below `root`, lines joined.
std::vector<std::string> TextObjects(pugi::xml_node root) {
	std::vector<std::string> texts;
	for (pugi::xpath_node object : root.select_nodes("//ofd:TextObject")) {
		std::string text;
		for (pugi::xml_node code : object.node().children("ofd:TextCode"))
			text += code.text().as_string();
		texts.push_back(text);
	}
	return texts;
}

class OfdWriterTest : public ::testing::Test {
protected:
	OfdTemplate face_ = LoadOfdTemplateFile(kTemplates + "W050.json");
	Bytes qr_ = test::TinyPng();
};

TEST_F(OfdWriterTest, PackageHasTheOfdLayout) {
	OfdParts parts = ReadOfdZip(RenderLicenceOfd(face_, SampleW050Values(), qr_, FixedOptions()));
	std::set<std::string> names;
	for (const auto &part : parts.All())
		names.insert(part.name);
	EXPECT_EQ(names,
	          (std::set<std::string> {"OFD.xml", "Doc_0/Document.xml", "Doc_0/PublicRes.xml", "Doc_0/DocumentRes.xml",
	                                  "Doc_0/Res/qr.png", "Doc_0/Pages/Page_0/Content.xml", "Doc_0/Annots.xml",
	                                  "Doc_0/Pages/Page_0/Annotation.xml"}));
	EXPECT_EQ(parts.Get("Doc_0/Res/qr.png"), qr_);

	pugi::xml_document ofd = Parse(parts, "OFD.xml");
	pugi::xml_node info = ofd.select_node("/ofd:OFD/ofd:DocBody/ofd:DocInfo").node();
	EXPECT_STREQ(info.child("ofd:DocID").text().as_string(), "0123456789abcdef0123456789abcdef");
	EXPECT_STREQ(info.child("ofd:CreationDate").text().as_string(), "2026-11-23");
	EXPECT_STREQ(info.child("ofd:Creator").text().as_string(), "elicense");
	EXPECT_STREQ(ofd.select_node("/ofd:OFD/ofd:DocBody/ofd:DocRoot").node().text().as_string(), "Doc_0/Document.xml");

	pugi::xml_document document = Parse(parts, "Doc_0/Document.xml");
	EXPECT_STREQ(document.select_node("//ofd:PageArea/ofd:PhysicalBox").node().text().as_string(), "0 0 210 297");
	EXPECT_STREQ(document.select_node("//ofd:Pages/ofd:Page").node().attribute("BaseLoc").as_string(),
	             "Pages/Page_0/Content.xml");
}

TEST_F(OfdWriterTest, EveryXmlPartIsWellFormedAndUsesTheOfdPrefix) {
	OfdRenderOptions options = FixedOptions();
	options.purpose = "招投标资格审查";
	options.valid_until = "2026-12-31";
	OfdParts parts = ReadOfdZip(RenderLicenceOfd(face_, SampleW050Values(), qr_, options));
	int xml_parts = 0;
	for (const auto &part : parts.All()) {
		if (part.name.size() < 4 || part.name.substr(part.name.size() - 4) != ".xml")
			continue;
		++xml_parts;
		pugi::xml_document doc;
		ASSERT_TRUE(doc.load_buffer(part.data.data(), part.data.size())) << part.name;
		pugi::xml_node root = doc.document_element();
		EXPECT_STREQ(root.attribute("xmlns:ofd").as_string(), "http://www.ofdspec.org/2016") << part.name;
		for (pugi::xpath_node node : doc.select_nodes("//*"))
			EXPECT_EQ(std::string(node.node().name()).rfind("ofd:", 0), 0u) << part.name << ": " << node.node().name();
	}
	EXPECT_EQ(xml_parts, 7);
}

TEST_F(OfdWriterTest, FaceTextEqualsTheFieldValues) {
	OfdParts parts = BuildLicenceParts(face_, SampleW050Values(), qr_, FixedOptions());
	std::vector<std::string> texts = TextObjects(Parse(parts, "Doc_0/Pages/Page_0/Content.xml"));
	std::multiset<std::string> on_face(texts.begin(), texts.end());
	EXPECT_EQ(on_face.count("建筑施工企业安全生产许可证"), 1u);  // the title
	for (const auto &[key, value] : SampleW050Values())
		EXPECT_EQ(on_face.count(value), 1u) << key;
	for (const auto &field : face_.fields)
		EXPECT_GE(on_face.count(field.label), 1u) << field.label;
}

TEST_F(OfdWriterTest, EscapesXmlMarkupInValues) {
	OfdFieldValues values = SampleW050Values();
	values["unit_name"] = "A<B>&\"C'</ofd:TextCode>";
	OfdParts parts = BuildLicenceParts(face_, values, qr_, FixedOptions());
	const Bytes &content = parts.Get("Doc_0/Pages/Page_0/Content.xml");
	std::string raw(content.begin(), content.end());
	EXPECT_EQ(raw.find("A<B>"), std::string::npos);
	EXPECT_NE(raw.find("A&lt;B&gt;&amp;"), std::string::npos);
	std::vector<std::string> texts = TextObjects(Parse(parts, "Doc_0/Pages/Page_0/Content.xml"));
	EXPECT_NE(std::find(texts.begin(), texts.end(), values["unit_name"]), texts.end());
}

TEST_F(OfdWriterTest, DropsControlCharactersXmlCannotCarry) {
	OfdFieldValues values = SampleW050Values();
	values["principal"] = std::string("张\x01三\x1f");
	OfdParts parts = BuildLicenceParts(face_, values, qr_, FixedOptions());
	std::vector<std::string> texts = TextObjects(Parse(parts, "Doc_0/Pages/Page_0/Content.xml"));
	EXPECT_NE(std::find(texts.begin(), texts.end(), "张三"), texts.end());
}

TEST_F(OfdWriterTest, WatermarkIsCentredFangSong24ptGrey) {
	OfdParts parts = BuildLicenceParts(face_, SampleW050Values(), qr_, FixedOptions());
	pugi::xml_document annots = Parse(parts, "Doc_0/Annots.xml");
	EXPECT_STREQ(annots.select_node("//ofd:Page/ofd:FileLoc").node().text().as_string(), "Pages/Page_0/Annotation.xml");
	pugi::xml_document annotation = Parse(parts, "Doc_0/Pages/Page_0/Annotation.xml");
	pugi::xpath_node_set annot_nodes = annotation.select_nodes("//ofd:Annot");
	ASSERT_EQ(annot_nodes.size(), 1u);
	pugi::xml_node annot = annot_nodes.first().node();
	EXPECT_STREQ(annot.attribute("Type").as_string(), "Watermark");
	pugi::xml_node text = annot.select_node("ofd:Appearance/ofd:TextObject").node();
	EXPECT_STREQ(text.child("ofd:TextCode").text().as_string(), kPlatformWatermark);
	EXPECT_NEAR(text.attribute("Size").as_double(), 24 * 25.4 / 72, 0.001);
	EXPECT_STREQ(text.child("ofd:FillColor").attribute("Value").as_string(), "128 128 128");

	pugi::xml_document res = Parse(parts, "Doc_0/PublicRes.xml");
	std::string font_id = text.attribute("Font").as_string();
	pugi::xml_node font = res.select_node(("//ofd:Font[@ID='" + font_id + "']").c_str()).node();
	EXPECT_STREQ(font.attribute("FontName").as_string(), "FangSong");
	EXPECT_STREQ(font.attribute("FamilyName").as_string(), "仿宋");

	// Centred: the text's middle is the page's middle, horizontally and
	// (within a line) vertically.
	double x = 0, y = 0, w = 0, h = 0;
	ASSERT_EQ(std::sscanf(text.attribute("Boundary").as_string(), "%lf %lf %lf %lf", &x, &y, &w, &h), 4);
	double text_width = 22 * text.attribute("Size").as_double();
	EXPECT_NEAR(x + text_width / 2, 105, 0.01);
	EXPECT_NEAR(y + h / 2, 148.5, text.attribute("Size").as_double());
}

TEST_F(OfdWriterTest, NoAnnotationsWithoutWatermarkOrPurpose) {
	OfdRenderOptions options = FixedOptions();
	options.watermark = false;
	OfdParts parts = BuildLicenceParts(face_, SampleW050Values(), qr_, options);
	EXPECT_EQ(parts.Find("Doc_0/Annots.xml"), nullptr);
	EXPECT_EQ(parts.Find("Doc_0/Pages/Page_0/Annotation.xml"), nullptr);
	EXPECT_FALSE(Parse(parts, "Doc_0/Document.xml").select_node("//ofd:Annotations"));
}

TEST_F(OfdWriterTest, PurposeAndValidityIsASecondAnnotation) {
	OfdRenderOptions options = FixedOptions();
	options.purpose = "招投标资格审查";
	options.valid_until = "2026-12-31";
	OfdParts parts = BuildLicenceParts(face_, SampleW050Values(), qr_, options);
	std::vector<std::string> texts = TextObjects(Parse(parts, "Doc_0/Pages/Page_0/Annotation.xml"));
	ASSERT_EQ(texts.size(), 2u);
	EXPECT_EQ(texts[0], kPlatformWatermark);
	EXPECT_EQ(texts[1], "用途：招投标资格审查　有效期至：2026-12-31");

	options.valid_until.clear();
	EXPECT_THROW(BuildLicenceParts(face_, SampleW050Values(), qr_, options), Error);
}

TEST_F(OfdWriterTest, IdsAreUniqueAndMaxUnitIdIsTheLargest) {
	OfdRenderOptions options = FixedOptions();
	options.purpose = "备案";
	options.valid_until = "2027-01-01";
	OfdParts parts = BuildLicenceParts(face_, SampleW050Values(), qr_, options);
	std::set<int> ids;
	for (const char *name : {"Doc_0/Document.xml", "Doc_0/PublicRes.xml", "Doc_0/DocumentRes.xml",
	                         "Doc_0/Pages/Page_0/Content.xml", "Doc_0/Pages/Page_0/Annotation.xml"}) {
		pugi::xml_document doc = Parse(parts, name);
		for (pugi::xpath_node node : doc.select_nodes("//*[@ID]"))
			EXPECT_TRUE(ids.insert(node.node().attribute("ID").as_int()).second) << name << " repeats an ID";
	}
	pugi::xml_document document = Parse(parts, "Doc_0/Document.xml");
	EXPECT_EQ(document.select_node("//ofd:MaxUnitID").node().text().as_int(), *ids.rbegin());
	EXPECT_EQ(*ids.begin(), 1);
	EXPECT_EQ(static_cast<int>(ids.size()), *ids.rbegin());
}

TEST_F(OfdWriterTest, ResourcesResolve) {
	OfdParts parts = BuildLicenceParts(face_, SampleW050Values(), qr_, FixedOptions());
	pugi::xml_document res = Parse(parts, "Doc_0/PublicRes.xml");
	std::set<std::string> font_ids;
	std::set<std::string> families;
	for (pugi::xpath_node font : res.select_nodes("//ofd:Font")) {
		font_ids.insert(font.node().attribute("ID").as_string());
		families.insert(font.node().attribute("FamilyName").as_string());
	}
	EXPECT_EQ(families, (std::set<std::string> {"宋体", "仿宋", "黑体"}));
	pugi::xml_document content = Parse(parts, "Doc_0/Pages/Page_0/Content.xml");
	for (pugi::xpath_node text : content.select_nodes("//ofd:TextObject"))
		EXPECT_TRUE(font_ids.count(text.node().attribute("Font").as_string()));

	pugi::xml_node image = content.select_node("//ofd:ImageObject").node();
	EXPECT_STREQ(image.attribute("Boundary").as_string(), "164 18 30 30");
	EXPECT_STREQ(image.attribute("CTM").as_string(), "30 0 0 30 0 0");
	pugi::xml_document media = Parse(parts, "Doc_0/DocumentRes.xml");
	pugi::xml_node multimedia = media.select_node("//ofd:MultiMedia").node();
	EXPECT_STREQ(multimedia.attribute("ID").as_string(), image.attribute("ResourceID").as_string());
	EXPECT_STREQ(multimedia.attribute("Type").as_string(), "Image");
	EXPECT_STREQ(media.document_element().attribute("BaseLoc").as_string(), "Res");
	EXPECT_STREQ(multimedia.child("ofd:MediaFile").text().as_string(), "qr.png");

	pugi::xml_node frame = content.select_node("//ofd:PathObject").node();
	EXPECT_STREQ(frame.child("ofd:AbbreviatedData").text().as_string(), "M 10 10 L 200 10 L 200 287 L 10 287 C");
}

TEST_F(OfdWriterTest, EveryCharacterHasAnAdvance) {
	OfdParts parts = BuildLicenceParts(face_, SampleW050Values(), qr_, FixedOptions());
	pugi::xml_document content = Parse(parts, "Doc_0/Pages/Page_0/Content.xml");
	pugi::xml_node code = content.select_node("//ofd:TextCode[text()='张三']").node();
	ASSERT_TRUE(code);
	EXPECT_STREQ(code.attribute("DeltaX").as_string(), "4.939");  // one em of 14 pt, for the first character
}

TEST_F(OfdWriterTest, LongValuesWrapThenShrinkWithinTheirWidth) {
	OfdFieldValues values = SampleW050Values();
	values["scope"] = std::string("房屋建筑工程施工总承包一级、市政公用工程施工总承包二级、机电工程施工总承包三级、") +
	                  "地基基础工程专业承包一级、建筑装修装饰工程专业承包二级、钢结构工程专业承包二级、" +
	                  "环保工程专业承包三级、模板脚手架专业承包不分等级";
	OfdParts parts = BuildLicenceParts(face_, values, qr_, FixedOptions());
	pugi::xml_document content = Parse(parts, "Doc_0/Pages/Page_0/Content.xml");
	pugi::xml_node scope;
	for (pugi::xpath_node object : content.select_nodes("//ofd:TextObject")) {
		std::string text;
		for (pugi::xml_node code : object.node().children("ofd:TextCode"))
			text += code.text().as_string();
		if (text == values["scope"])
			scope = object.node();
	}
	ASSERT_TRUE(scope) << "the wrapped lines join back to the value";
	int lines = 0;
	double size = scope.attribute("Size").as_double();
	for (pugi::xml_node code : scope.children("ofd:TextCode")) {
		++lines;
		double width = size;  // the last character
		std::istringstream delta(code.attribute("DeltaX").as_string());
		for (double d; delta >> d;)
			width += d;
		EXPECT_LE(width, 115.001);
	}
	EXPECT_EQ(lines, 3);
	EXPECT_LT(size, 14 * 25.4 / 72) << "shrunk to fit three lines";

	values["scope"] = std::string(2000, 'x');
	try {
		BuildLicenceParts(face_, values, qr_, FixedOptions());
		FAIL() << "a value that cannot fit must be rejected";
	} catch (const Error &e) {
		EXPECT_STREQ(e.sqlstate(), "22023");
		EXPECT_NE(std::string(e.what()).find("scope"), std::string::npos);
	}
}

TEST_F(OfdWriterTest, RejectsMissingAndUnknownFieldsAndNonPngQr) {
	OfdFieldValues values = SampleW050Values();
	values.erase("uscc");
	EXPECT_THROW(BuildLicenceParts(face_, values, qr_, FixedOptions()), Error);
	values = SampleW050Values();
	values["usc"] = "x";
	EXPECT_THROW(BuildLicenceParts(face_, values, qr_, FixedOptions()), Error);
	EXPECT_THROW(BuildLicenceParts(face_, SampleW050Values(), ToBytes("GIF89a"), FixedOptions()), Error);
	values = SampleW050Values();
	values["unit_name"] = "\xff\xfe";
	EXPECT_THROW(BuildLicenceParts(face_, values, qr_, FixedOptions()), Error);
	OfdTemplate built_in_code = face_;
	built_in_code.fields[0].font = "Arial";
	EXPECT_THROW(BuildLicenceParts(built_in_code, SampleW050Values(), qr_, FixedOptions()), Error);
}

TEST(OfdTemplate, ShippedTemplatesCoverTheFieldsOfTheirFaces) {
	OfdTemplate w050 = LoadOfdTemplateFile(kTemplates + "W050.json");
	EXPECT_EQ(w050.type_code, "11100000000013338W050");
	std::vector<std::string> labels;
	for (const auto &f : w050.fields)
		labels.push_back(f.label);
	EXPECT_EQ(labels, (std::vector<std::string> {"证书编号", "单位名称", "统一社会信用代码", "主要负责人", "单位地址",
	                                             "经济类型", "许可范围", "有效期", "发证机关", "发证日期"}));
	OfdTemplate w032 = LoadOfdTemplateFile(kTemplates + "W032.json");
	EXPECT_EQ(w032.type_code, "11100000000013338W032");
	labels.clear();
	for (const auto &f : w032.fields)
		labels.push_back(f.label);
	EXPECT_EQ(labels, (std::vector<std::string> {"姓名", "性别", "身份证号", "操作类别", "证书编号", "初次领证日期",
	                                             "有效期", "发证机关"}));
}

TEST(OfdTemplate, RejectsBadTemplatesNamingTheItem) {
	EXPECT_THROW(ParseOfdTemplate("{"), Error);
	std::string good = R"({"type_code": "T", "name": "N", "title": {"text": "t", "y": 40, "font": "黑体", "size": 20},
	  "label": {"font": "黑体", "size": 12}, "qr": {"x": 160, "y": 10, "size": 30},
	  "seal": {"x": 100, "y": 200, "size": 40},
	  "fields": [{"key": "a", "label": "A", "x": 20, "y": 80, "width": 100, "font": "宋体", "size": 12}]})";
	EXPECT_NO_THROW(ParseOfdTemplate(good));
	std::string bad_font = good;
	bad_font.replace(bad_font.find("宋体"), std::string("宋体").size(), "Comic Sans");
	try {
		ParseOfdTemplate(bad_font);
		FAIL();
	} catch (const Error &e) {
		EXPECT_NE(std::string(e.what()).find("fields[0] (a).font"), std::string::npos) << e.what();
	}
	std::string off_page = good;
	off_page.replace(off_page.find("\"x\": 160"), 8, "\"x\": 190");
	EXPECT_THROW(ParseOfdTemplate(off_page), Error);
}

}  // namespace
}  // namespace elicense::core

namespace elicense::core {
namespace {

TEST(OfdPackage, DeflatedAndStoredPackagesHoldTheSameParts) {
	OfdTemplate face = LoadOfdTemplateFile(kTemplates + "W050.json");
	OfdRenderOptions options = FixedOptions();
	Bytes stored = RenderLicenceOfd(face, SampleW050Values(), test::TinyPng(), options);
	options.deflate = true;
	Bytes deflated = RenderLicenceOfd(face, SampleW050Values(), test::TinyPng(), options);
	EXPECT_LT(deflated.size(), stored.size());
	OfdParts a = ReadOfdZip(stored);
	OfdParts b = ReadOfdZip(deflated);
	ASSERT_EQ(a.All().size(), b.All().size());
	for (std::size_t i = 0; i < a.All().size(); ++i) {
		EXPECT_EQ(a.All()[i].name, b.All()[i].name);
		EXPECT_EQ(a.All()[i].data, b.All()[i].data) << a.All()[i].name;
	}
}

}  // namespace
}  // namespace elicense::core

namespace elicense::core {
namespace {

TEST(OfdFieldValues, ReadsAJsonObjectOfStrings) {
	OfdFieldValues values = ParseOfdFieldValues(R"({"name": "林晓峰", "gender": null})");
	EXPECT_EQ(values, (OfdFieldValues {{"name", "林晓峰"}, {"gender", ""}}));
	EXPECT_THROW(ParseOfdFieldValues("["), Error);
	EXPECT_THROW(ParseOfdFieldValues("[1]"), Error);
	try {
		ParseOfdFieldValues(R"({"id_no": 350102})");
		FAIL();
	} catch (const Error &e) {
		EXPECT_NE(std::string(e.what()).find("id_no"), std::string::npos);
	}
}

}  // namespace
}  // namespace elicense::core
