// Every shipped face template (extension/templates/*.json) leaves the bands of
// the page's annotations free: rendered as the platform copy, no text of the
// face (title, labels, values) overlaps the box of the platform watermark
// (仅供全国工程质量安全监管信息平台信息公开使用, centred on the page), and
// rendered as a copy for another department none overlaps the purpose and
// validity note under it. The values are the longest each field can hold at
// its full font size (every line of max_lines filled), so a real licence
// cannot reach further down. W050's 单位地址 row lay under the watermark and
// could not be read on the platform copy or the preview picture.
#include "elicense/ofd_template.hpp"
#include "elicense/ofd_writer.hpp"
#include "ofd_test_keys.hpp"
#include "ofd_text_layout.hpp"

#include <gtest/gtest.h>
#include <pugixml.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <sstream>

namespace elicense::core {
namespace {

const std::string kTemplates = std::string(ELICENSE_SOURCE_DIR) + "/extension/templates";

struct Rect {
	double x = 0, y = 0, w = 0, h = 0;
	bool Overlaps(const Rect &o) const {
		return x < o.x + o.w && o.x < x + w && y < o.y + o.h && o.y < y + h;
	}
};

std::ostream &operator<<(std::ostream &os, const Rect &r) {
	return os << "x " << r.x << "..." << r.x + r.w << " mm, y " << r.y << "..." << r.y + r.h << " mm";
}

Rect Boundary(pugi::xml_node object) {
	std::istringstream in(object.attribute("Boundary").as_string());
	Rect r;
	in >> r.x >> r.y >> r.w >> r.h;
	EXPECT_FALSE(in.fail()) << "Boundary \"" << object.attribute("Boundary").as_string() << "\"";
	return r;
}

std::string Text(pugi::xml_node object) {
	std::string text;
	for (pugi::xml_node code : object.children("ofd:TextCode"))
		text += code.text().as_string();
	return text;
}

pugi::xml_document Parse(const OfdParts &parts, const std::string &name) {
	pugi::xml_document doc;
	const Bytes &data = parts.Get(name);
	EXPECT_TRUE(doc.load_buffer(data.data(), data.size())) << name;
	return doc;
}

// Per field, the longest value it shows at its full size: one full-width
// character per em of its width on each of its max_lines lines.
OfdFieldValues LongestValues(const OfdTemplate &face) {
	OfdFieldValues values;
	for (const auto &field : face.fields) {
		double em = ofd::PointsToMm(field.size_pt);
		auto per_line = static_cast<std::size_t>(std::floor(field.width / em + 1e-9));
		std::string value;
		for (std::size_t i = 0; i < per_line * static_cast<std::size_t>(field.max_lines); ++i)
			value += "国";
		values[field.key] = value;
	}
	return values;
}

std::vector<std::string> TemplateFiles() {
	std::vector<std::string> files;
	for (const auto &entry : std::filesystem::directory_iterator(kTemplates))
		if (entry.path().extension() == ".json")
			files.push_back(entry.path().string());
	std::sort(files.begin(), files.end());
	return files;
}

// Each text of the face that overlaps the box of the annotation `subtype`, described.
std::vector<std::string> FaceTextUnder(const OfdTemplate &face, const OfdRenderOptions &options, const char *subtype) {
	OfdParts parts = BuildLicenceParts(face, LongestValues(face), test::TinyPng(), options);
	pugi::xml_document annotations = Parse(parts, "Doc_0/Pages/Page_0/Annotation.xml");
	std::string path = std::string("//ofd:Annot[@Subtype='") + subtype + "']//ofd:TextObject";
	pugi::xpath_node_set bands = annotations.select_nodes(path.c_str());
	pugi::xml_document content = Parse(parts, "Doc_0/Pages/Page_0/Content.xml");
	pugi::xpath_node_set texts = content.select_nodes("//ofd:TextObject");
	if (bands.empty() || texts.size() <= face.fields.size())
		return {face.type_code + ": no " + subtype + " annotation or no face text to check"};
	std::vector<std::string> under;
	for (pugi::xpath_node band : bands) {
		Rect band_box = Boundary(band.node());
		for (pugi::xpath_node text : texts) {
			Rect text_box = Boundary(text.node());
			if (!text_box.Overlaps(band_box))
				continue;
			std::ostringstream what;
			what << face.type_code << ": \"" << Text(text.node()) << "\" (" << text_box << ") lies under the "
			     << subtype << " \"" << Text(band.node()) << "\" (" << band_box << ")";
			under.push_back(what.str());
		}
	}
	return under;
}

std::string Lines(const std::vector<std::string> &lines) {
	std::string out;
	for (const auto &line : lines)
		out += line + "\n";
	return out;
}

TEST(OfdWatermarkBandTest, EveryTemplateIsChecked) {
	std::vector<std::string> files = TemplateFiles();
	EXPECT_GE(files.size(), 2u) << kTemplates;
	for (const auto &file : files)
		EXPECT_NO_THROW(LoadOfdTemplateFile(file)) << file;
}

TEST(OfdWatermarkBandTest, PlatformCopyHasNoFaceTextUnderTheWatermark) {
	for (const auto &file : TemplateFiles()) {
		OfdRenderOptions options;  // the platform copy: the watermark, no purpose
		std::vector<std::string> under = FaceTextUnder(LoadOfdTemplateFile(file), options, "PlatformNotice");
		EXPECT_TRUE(under.empty()) << file << ": move these fields out of the watermark's band\n" << Lines(under);
	}
}

TEST(OfdWatermarkBandTest, CopyForAnotherDepartmentHasNoFaceTextUnderThePurposeNote) {
	for (const auto &file : TemplateFiles()) {
		OfdRenderOptions options;
		options.watermark = false;
		options.purpose = "招投标资格审查";
		options.valid_until = "2026-12-31";
		std::vector<std::string> under = FaceTextUnder(LoadOfdTemplateFile(file), options, "PurposeAndValidity");
		EXPECT_TRUE(under.empty()) << file << ": move these fields out of the purpose note's band\n" << Lines(under);
	}
}

TEST(OfdWatermarkBandTest, AFieldUnderTheWatermarkIsFound) {
	// The check itself: a field moved onto the middle of the page is found, its label and its value.
	OfdTemplate face = LoadOfdTemplateFile(kTemplates + "/W050.json");
	face.fields.back().y = face.page_height / 2;
	EXPECT_EQ(FaceTextUnder(face, OfdRenderOptions(), "PlatformNotice").size(), 2u);
}

}  // namespace
}  // namespace elicense::core
