// Builds the OFD parts of one licence from a face template and field values
// (see ofd_writer.hpp for the package layout). Units are millimetres; every
// ID comes from one counter so IDs are unique and MaxUnitID is the last one.
#include "elicense/ofd_writer.hpp"

#include "elicense/cancel.hpp"
#include "elicense/error.hpp"
#include "elicense/limits.hpp"
#include "elicense/ofd_fonts.hpp"
#include "elicense/validators.hpp"
#include "ofd_text_layout.hpp"
#include "ofd_xml.hpp"

#include <openssl/rand.h>

#include <algorithm>
#include <ctime>

namespace elicense::core {
namespace {

using ofd::Add;
using ofd::Num;

constexpr char kDocRoot[] = "Doc_0/Document.xml";
constexpr char kContentPart[] = "Doc_0/Pages/Page_0/Content.xml";
constexpr char kAnnotationPart[] = "Doc_0/Pages/Page_0/Annotation.xml";
constexpr char kTextColor[] = "0 0 0";

class IdSource {
public:
	int Next() noexcept {
		return ++last_;
	}
	int Last() const noexcept {
		return last_;
	}

private:
	int last_ = 0;
};

std::string Box(double x, double y, double w, double h) {
	return Num(x) + " " + Num(y) + " " + Num(w) + " " + Num(h);
}

std::string RandomDocId() {
	unsigned char random[16];
	if (RAND_bytes(random, sizeof random) != 1)
		throw Error(sqlstate::kInternalError, "no randomness for the OFD DocID");
	static constexpr char kHex[] = "0123456789abcdef";
	std::string id;
	for (unsigned char b : random) {
		id.push_back(kHex[b >> 4]);
		id.push_back(kHex[b & 15]);
	}
	return id;
}

std::string Today() {
	std::time_t now = std::time(nullptr);
	std::tm tm {};
	gmtime_r(&now, &tm);
	char buf[16];
	std::strftime(buf, sizeof buf, "%Y-%m-%d", &tm);
	return buf;
}

bool IsDate(const std::string &date) {
	if (date.size() != 10 || date[4] != '-' || date[7] != '-')
		return false;
	for (std::size_t i : {0, 1, 2, 3, 5, 6, 8, 9})
		if (date[i] < '0' || date[i] > '9')
			return false;
	// A real date: 2025-13-45 has the shape but is no day.
	return IsValidCivilDate(std::stoi(date.substr(0, 4)), std::stoi(date.substr(5, 2)), std::stoi(date.substr(8, 2)));
}

// A TextObject holding one block of lines; `baseline` is the first line's.
void AddTextObject(pugi::xml_node layer, IdSource &ids, int font_id, const ofd::TextBlock &block, double x,
                   double baseline, double line_height, const char *color) {
	double width = 0;
	for (const auto &line : block.lines)
		width = std::max(width, line.width);
	double top = baseline - block.size;
	double height = (static_cast<double>(block.lines.size()) - 1) * line_height + block.size * 1.3;
	pugi::xml_node text = Add(layer, "TextObject");
	text.append_attribute("ID") = ids.Next();
	text.append_attribute("Boundary") = Box(x, top, width + block.size * 0.5, height).c_str();
	text.append_attribute("Font") = font_id;
	text.append_attribute("Size") = Num(block.size).c_str();
	Add(text, "FillColor").append_attribute("Value") = color;
	for (std::size_t i = 0; i < block.lines.size(); ++i) {
		const ofd::TextLine &line = block.lines[i];
		if (line.advances.empty())
			continue;
		pugi::xml_node code = Add(text, "TextCode", line.text);
		code.append_attribute("X") = "0";
		code.append_attribute("Y") = Num(block.size + static_cast<double>(i) * line_height).c_str();
		if (line.advances.size() > 1) {
			std::string delta;
			for (std::size_t k = 0; k + 1 < line.advances.size(); ++k) {
				if (k)
					delta.push_back(' ');
				delta += Num(line.advances[k]);
			}
			code.append_attribute("DeltaX") = delta.c_str();
		}
	}
}

// The resource ID of a font; templates read from JSON are checked already,
// this catches one built in code with a font we do not declare.
int FontId(const int font_ids[], const std::string &name) {
	int index = FindOfdFont(name);
	if (index < 0)
		throw Error(sqlstate::kInvalidParameterValue, "OFD template names an unknown font " + name);
	return font_ids[index];
}

ofd::TextBlock OneLine(std::string_view text, double size) {
	ofd::TextBlock block;
	block.size = size;
	block.lines.push_back(ofd::SingleLine(text, size));
	return block;
}

void CheckValues(const OfdTemplate &face, const OfdFieldValues &values) {
	if (values.size() > kMaxTemplateFields)
		throw Error(sqlstate::kProgramLimitExceeded,
		            "the licence has " + std::to_string(values.size()) + " field values", {},
		            "A licence face may have at most " + std::to_string(kMaxTemplateFields) + " fields.");
	for (const auto &entry : values)
		if (entry.second.size() > kMaxFieldValueBytes)
			throw Error(
			    sqlstate::kProgramLimitExceeded,
			    "licence field " + entry.first.substr(0, 64) + " has " + std::to_string(entry.second.size()) + " bytes",
			    {}, "A field value may have at most " + std::to_string(kMaxFieldValueBytes) + " bytes.");
	for (const auto &field : face.fields)
		if (!values.count(field.key))
			throw Error(sqlstate::kInvalidParameterValue, "licence field " + field.key + " has no value",
			            "template " + face.type_code + " prints " + field.key);
	for (const auto &entry : values) {
		const std::string &key = entry.first;
		bool known = std::any_of(face.fields.begin(), face.fields.end(), [&](const auto &f) { return f.key == key; });
		if (!known)
			throw Error(sqlstate::kInvalidParameterValue,
			            "licence field " + key + " is not in template " + face.type_code);
	}
}

Bytes OfdXml(const OfdTemplate &face, const OfdRenderOptions &options, const std::string &doc_id,
             const std::string &date) {
	pugi::xml_document doc;
	pugi::xml_node root = ofd::NewPart(doc, "OFD");
	root.append_attribute("Version") = "1.0";
	root.append_attribute("DocType") = "OFD";
	pugi::xml_node body = Add(root, "DocBody");
	pugi::xml_node info = Add(body, "DocInfo");
	Add(info, "DocID", doc_id);
	Add(info, "Title", face.name);
	Add(info, "CreationDate", date);
	Add(info, "Creator", options.creator);
	pugi::xml_node custom = Add(info, "CustomDatas");
	Add(custom, "CustomData", face.type_code).append_attribute("Name") = "certype";
	Add(body, "DocRoot", kDocRoot);
	return ofd::Serialize(doc);
}

Bytes PublicRes(const int font_ids[]) {
	pugi::xml_document doc;
	pugi::xml_node root = ofd::NewPart(doc, "Res");
	root.append_attribute("BaseLoc") = "Res";
	pugi::xml_node fonts = Add(root, "Fonts");
	for (std::size_t i = 0; i < kOfdFonts.size(); ++i) {
		pugi::xml_node font = Add(fonts, "Font");
		font.append_attribute("ID") = font_ids[i];
		font.append_attribute("FontName") = std::string(kOfdFonts[i].font_name).c_str();
		font.append_attribute("FamilyName") = std::string(kOfdFonts[i].family_name).c_str();
	}
	return ofd::Serialize(doc);
}

Bytes DocumentRes(int qr_id) {
	pugi::xml_document doc;
	pugi::xml_node root = ofd::NewPart(doc, "Res");
	root.append_attribute("BaseLoc") = "Res";
	pugi::xml_node media = Add(Add(root, "MultiMedias"), "MultiMedia");
	media.append_attribute("ID") = qr_id;
	media.append_attribute("Type") = "Image";
	media.append_attribute("Format") = "PNG";
	Add(media, "MediaFile", "qr.png");
	return ofd::Serialize(doc);
}

Bytes Content(const OfdTemplate &face, const OfdFieldValues &values, const int font_ids[], int qr_id, IdSource &ids) {
	pugi::xml_document doc;
	pugi::xml_node root = ofd::NewPart(doc, "Page");
	Add(Add(root, "Area"), "PhysicalBox", Box(0, 0, face.page_width, face.page_height));
	pugi::xml_node layer = Add(Add(root, "Content"), "Layer");
	layer.append_attribute("ID") = ids.Next();
	layer.append_attribute("Type") = "Body";

	if (face.frame_margin > 0) {
		double m = face.frame_margin;
		double r = face.page_width - m;
		double b = face.page_height - m;
		pugi::xml_node path = Add(layer, "PathObject");
		path.append_attribute("ID") = ids.Next();
		path.append_attribute("Boundary") = Box(0, 0, face.page_width, face.page_height).c_str();
		path.append_attribute("LineWidth") = Num(face.frame_line_width).c_str();
		path.append_attribute("Stroke") = "true";
		path.append_attribute("Fill") = "false";
		Add(path, "StrokeColor").append_attribute("Value") = face.frame_color.c_str();
		Add(path, "AbbreviatedData",
		    "M " + Num(m) + " " + Num(m) + " L " + Num(r) + " " + Num(m) + " L " + Num(r) + " " + Num(b) + " L " +
		        Num(m) + " " + Num(b) + " C");
	}

	double title_size = ofd::PointsToMm(face.title_size_pt);
	ofd::TextBlock title = OneLine(face.title, title_size);
	double title_x = std::max(0.0, (face.page_width - title.lines[0].width) / 2);
	AddTextObject(layer, ids, FontId(font_ids, face.title_font), title, title_x, face.title_y, title_size, kTextColor);

	double label_size = ofd::PointsToMm(face.label_size_pt);
	int label_font = FontId(font_ids, face.label_font);
	for (const auto &field : face.fields) {
		ThrowIfCancelled();
		if (!field.label.empty())
			AddTextObject(layer, ids, label_font, OneLine(field.label, label_size), field.x, field.y, label_size,
			              kTextColor);
		const std::string &value = values.at(field.key);
		if (value.empty())
			continue;
		double size = ofd::PointsToMm(field.size_pt);
		ofd::TextBlock block = ofd::FitText(value, size, field.width, field.max_lines, field.key);
		AddTextObject(layer, ids, FontId(font_ids, field.font), block, field.value_x, field.y,
		              block.size * field.line_gap, kTextColor);
	}

	pugi::xml_node image = Add(layer, "ImageObject");
	image.append_attribute("ID") = ids.Next();
	image.append_attribute("Boundary") = Box(face.qr.x, face.qr.y, face.qr.size, face.qr.size).c_str();
	image.append_attribute("CTM") = (Num(face.qr.size) + " 0 0 " + Num(face.qr.size) + " 0 0").c_str();
	image.append_attribute("ResourceID") = qr_id;
	return ofd::Serialize(doc);
}

// One annotation whose appearance is a block of centred text.
void AddTextAnnot(pugi::xml_node page_annot, IdSource &ids, const OfdTemplate &face, const char *subtype,
                  const std::string &remark, const ofd::TextBlock &block, double baseline, int font_id,
                  const std::string &date, const std::string &creator) {
	pugi::xml_node annot = Add(page_annot, "Annot");
	annot.append_attribute("ID") = ids.Next();
	annot.append_attribute("Type") = "Watermark";
	annot.append_attribute("Subtype") = subtype;
	annot.append_attribute("Creator") = creator.c_str();
	annot.append_attribute("LastModDate") = date.c_str();
	annot.append_attribute("Visible") = "true";
	annot.append_attribute("Print") = "true";
	annot.append_attribute("ReadOnly") = "true";
	Add(annot, "Remark", remark);
	pugi::xml_node appearance = Add(annot, "Appearance");
	appearance.append_attribute("Boundary") = Box(0, 0, face.page_width, face.page_height).c_str();
	double width = 0;
	for (const auto &line : block.lines)
		width = std::max(width, line.width);
	double x = std::max(0.0, (face.page_width - width) / 2);
	AddTextObject(appearance, ids, font_id, block, x, baseline, block.size * 1.3, kWatermarkColor);
}

}  // namespace

OfdParts BuildLicenceParts(const OfdTemplate &face, const OfdFieldValues &values, const Bytes &qr_png,
                           const OfdRenderOptions &options) {
	CheckValues(face, values);
	if (qr_png.size() < 8 || qr_png[0] != 0x89 || qr_png[1] != 'P' || qr_png[2] != 'N' || qr_png[3] != 'G')
		throw Error(sqlstate::kInvalidParameterValue, "the QR code image is not a PNG");
	if (options.purpose.empty() != options.valid_until.empty())
		throw Error(sqlstate::kInvalidParameterValue, "purpose and valid_until go together",
		            "a copy for another department states both its purpose and its validity (seed 000 §8.4)");
	std::string date = options.creation_date.empty() ? Today() : options.creation_date;
	if (!IsDate(date))
		throw Error(sqlstate::kInvalidParameterValue, "creation_date is not a date YYYY-MM-DD");
	std::string doc_id = options.doc_id.empty() ? RandomDocId() : options.doc_id;

	IdSource ids;
	int font_ids[kOfdFonts.size()];
	for (auto &id : font_ids)
		id = ids.Next();
	int qr_id = ids.Next();
	int page_id = ids.Next();
	Bytes content = Content(face, values, font_ids, qr_id, ids);

	bool annotated = options.watermark || !options.purpose.empty();
	Bytes annotations;
	if (annotated) {
		pugi::xml_document doc;
		pugi::xml_node root = ofd::NewPart(doc, "PageAnnot");
		double middle = face.page_height / 2;
		int fangsong = FontId(font_ids, kWatermarkFont);
		if (options.watermark) {
			double size = ofd::PointsToMm(kWatermarkSizePt);
			ofd::TextBlock block =
			    ofd::FitText(options.watermark_text, size, face.page_width - 10, 3, "watermark", 1.0);
			double height = (static_cast<double>(block.lines.size()) - 1) * size * 1.3;
			AddTextAnnot(root, ids, face, "PlatformNotice", "watermark for the national platform (seed 000 §8.2)",
			             block, middle - height / 2 + size * 0.35, fangsong, date, options.creator);
		}
		if (!options.purpose.empty()) {
			double size = ofd::PointsToMm(14);
			ofd::TextBlock block = ofd::FitText("用途：" + options.purpose + "　有效期至：" + options.valid_until, size,
			                                    face.page_width - 40, 3, "purpose", 0.7);
			AddTextAnnot(root, ids, face, "PurposeAndValidity", "purpose and validity (seed 000 §8.4)", block,
			             middle + ofd::PointsToMm(kWatermarkSizePt) * 1.6, fangsong, date, options.creator);
		}
		annotations = ofd::Serialize(doc);
	}

	pugi::xml_document document;
	pugi::xml_node root = ofd::NewPart(document, "Document");
	pugi::xml_node common = Add(root, "CommonData");
	Add(common, "MaxUnitID", std::to_string(ids.Last()));
	Add(Add(common, "PageArea"), "PhysicalBox", Box(0, 0, face.page_width, face.page_height));
	Add(common, "PublicRes", "PublicRes.xml");
	Add(common, "DocumentRes", "DocumentRes.xml");
	pugi::xml_node page = Add(Add(root, "Pages"), "Page");
	page.append_attribute("ID") = page_id;
	page.append_attribute("BaseLoc") = "Pages/Page_0/Content.xml";
	if (annotated)
		Add(root, "Annotations", "Annots.xml");

	OfdParts parts;
	parts.Put("OFD.xml", OfdXml(face, options, doc_id, date));
	parts.Put(kDocRoot, ofd::Serialize(document));
	parts.Put("Doc_0/PublicRes.xml", PublicRes(font_ids));
	parts.Put("Doc_0/DocumentRes.xml", DocumentRes(qr_id));
	parts.Put("Doc_0/Res/qr.png", qr_png);
	parts.Put(kContentPart, std::move(content));
	if (annotated) {
		pugi::xml_document annots;
		pugi::xml_node annots_root = ofd::NewPart(annots, "Annotations");
		pugi::xml_node annot_page = Add(annots_root, "Page");
		annot_page.append_attribute("PageID") = page_id;
		Add(annot_page, "FileLoc", "Pages/Page_0/Annotation.xml");
		parts.Put("Doc_0/Annots.xml", ofd::Serialize(annots));
		parts.Put(kAnnotationPart, std::move(annotations));
	}
	return parts;
}

Bytes RenderLicenceOfd(const OfdTemplate &face, const OfdFieldValues &values, const Bytes &qr_png,
                       const OfdRenderOptions &options, const OfdSeal *seal) {
	OfdParts parts = BuildLicenceParts(face, values, qr_png, options);
	if (seal) {
		OfdSeal placed = *seal;
		placed.x = face.seal.x;
		placed.y = face.seal.y;
		placed.width = placed.height = face.seal.size;
		SignOfdParts(parts, placed);
	}
	return WriteOfdZip(parts, options.deflate);
}

}  // namespace elicense::core
