// OFD page -> SVG (see ofd_svg.hpp). Every OFD graphic object becomes an SVG
// group translated to the object's Boundary origin (OFD places object
// content relative to it) and, when it has one, transformed by its CTM.
// Each glyph is its own <text> at the position DeltaX gives it: per-glyph x
// lists are not drawn the same way by every SVG renderer.
#include "elicense/ofd_svg.hpp"

#include "elicense/cancel.hpp"

#include "elicense/error.hpp"
#include "ofd_crypto.hpp"
#include "ofd_der.hpp"
#include "ofd_xml.hpp"

#include <cmath>
#include <cstdlib>
#include <map>
#include <sstream>
#include <vector>

namespace elicense::core {
namespace {

using ofd::Child;
using ofd::Num;
using ofd::Text;

struct Rect {
	double x = 0, y = 0, w = 0, h = 0;
};

std::vector<double> Numbers(std::string_view text) {
	std::vector<double> out;
	std::string s(text);
	const char *p = s.c_str();
	char *end = nullptr;
	for (;;) {
		double v = std::strtod(p, &end);
		if (end == p)
			break;
		out.push_back(v);
		p = end;
	}
	return out;
}

Rect ParseBox(const char *text) {
	std::vector<double> n = Numbers(text);
	Rect r;
	if (n.size() == 4)
		r = {n[0], n[1], n[2], n[3]};
	return r;
}

// "R G B" (0-255) as an SVG colour; black if unreadable.
std::string Colour(pugi::xml_node color_node, const char *fallback) {
	std::vector<double> n = Numbers(color_node.attribute("Value").as_string());
	if (n.size() < 3)
		return fallback;
	auto channel = [](double v) { return std::to_string(static_cast<int>(v < 0 ? 0 : v > 255 ? 255 : v)); };
	return "rgb(" + channel(n[0]) + "," + channel(n[1]) + "," + channel(n[2]) + ")";
}

// x, y, width and height of an SVG element from a box.
void SetBox(pugi::xml_node node, const Rect &box) {
	node.append_attribute("x") = Num(box.x).c_str();
	node.append_attribute("y") = Num(box.y).c_str();
	node.append_attribute("width") = Num(box.w).c_str();
	node.append_attribute("height") = Num(box.h).c_str();
}

std::string Directory(std::string_view part) {
	std::size_t slash = part.rfind('/');
	return slash == std::string_view::npos ? std::string() : std::string(part.substr(0, slash + 1));
}

// A location in a part (absolute from the package root with '/', else
// relative to `base_dir`).
std::string Resolve(const std::string &base_dir, std::string_view loc) {
	if (!loc.empty() && loc.front() == '/')
		return std::string(loc.substr(1));
	return base_dir + std::string(loc);
}

void Parse(pugi::xml_document &doc, const OfdParts &parts, const std::string &name) {
	const Bytes *data = parts.Find(name);
	if (!data)
		throw Error(sqlstate::kInvalidTextRepresentation, "OFD part " + name + " is missing");
	ofd::ParsePart(doc, *data, name);
}

// UTF-8 code points of a string, each as its bytes.
std::vector<std::string> Glyphs(std::string_view text) {
	std::vector<std::string> out;
	for (std::size_t i = 0; i < text.size();) {
		unsigned char c = static_cast<unsigned char>(text[i]);
		std::size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
		out.emplace_back(text.substr(i, n));
		i += n;
	}
	return out;
}

// DeltaX with OFD's "g COUNT VALUE" repetition expanded.
std::vector<double> Deltas(std::string_view text) {
	std::vector<double> out;
	std::istringstream in {std::string(text)};
	std::string word;
	while (in >> word) {
		if (word == "g") {
			int count = 0;
			double value = 0;
			if (!(in >> count >> value) || count < 0 || count > 100000)
				break;
			out.insert(out.end(), static_cast<std::size_t>(count), value);
		} else {
			out.push_back(std::strtod(word.c_str(), nullptr));
		}
	}
	return out;
}

// OFD AbbreviatedData -> SVG path data: M, L, B (cubic), Q, A and C (close).
std::string PathData(std::string_view abbreviated) {
	std::istringstream in {std::string(abbreviated)};
	std::string word, out;
	while (in >> word) {
		char command = word.size() == 1 ? word[0] : 0;
		switch (command) {
		case 'M':
		case 'L':
		case 'B':
		case 'Q':
		case 'A':
		case 'C':
		case 'S':
			if (!out.empty())
				out.push_back(' ');
			out.push_back(command == 'B' ? 'C' : command == 'C' ? 'Z' : command == 'S' ? 'M' : command);
			break;
		default: out.push_back(' '); out += Num(std::strtod(word.c_str(), nullptr));
		}
	}
	return out;
}

class PageWriter {
public:
	PageWriter(const OfdParts &parts, const OfdSvgOptions &options) : parts_(parts), options_(options) {
	}

	std::string Run();

private:
	void LoadResources(pugi::xml_node common, const std::string &doc_dir);
	void LoadResourcePart(const std::string &part);
	void DrawObjects(pugi::xml_node container, pugi::xml_node out);
	void DrawText(pugi::xml_node text, pugi::xml_node out);
	void DrawImage(pugi::xml_node image, pugi::xml_node out);
	void DrawPath(pugi::xml_node path, pugi::xml_node out);
	void DrawAnnotations(pugi::xml_node document, const std::string &doc_dir, const std::string &page_id,
	                     pugi::xml_node out);
	void DrawSeals(pugi::xml_node doc_body, const std::string &page_id, pugi::xml_node out);
	pugi::xml_node Group(pugi::xml_node out, pugi::xml_node object, const Rect &box);
	static std::string DataUri(const Bytes &png);

	const OfdParts &parts_;
	const OfdSvgOptions &options_;
	std::map<std::string, std::string> font_family_;  // resource ID -> CSS family list
	std::map<std::string, std::string> media_part_;   // resource ID -> part name
};

pugi::xml_node PageWriter::Group(pugi::xml_node out, pugi::xml_node object, const Rect &box) {
	pugi::xml_node g = out.append_child("g");
	std::string transform = "translate(" + Num(box.x) + " " + Num(box.y) + ")";
	std::vector<double> ctm = Numbers(object.attribute("CTM").as_string());
	if (ctm.size() == 6) {
		transform += " matrix(";
		for (std::size_t i = 0; i < 6; ++i)
			transform += (i ? " " : "") + Num(ctm[i]);
		transform += ")";
	}
	g.append_attribute("transform") = transform.c_str();
	return g;
}

std::string PageWriter::DataUri(const Bytes &png) {
	return "data:image/png;base64," + ofd::Base64Encode(png);
}

void PageWriter::LoadResourcePart(const std::string &part) {
	pugi::xml_document doc;
	Parse(doc, parts_, part);
	pugi::xml_node res = Child(doc, "Res");
	std::string base = Directory(part);
	std::string base_loc = res.attribute("BaseLoc").as_string();
	if (!base_loc.empty())
		base = Resolve(base, base_loc) + "/";
	for (pugi::xml_node font : Child(res, "Fonts").children("ofd:Font"))
		font_family_[font.attribute("ID").as_string()] =
		    OfdSvgFontFamily(font.attribute("FontName").as_string(), font.attribute("FamilyName").as_string());
	for (pugi::xml_node media : Child(res, "MultiMedias").children("ofd:MultiMedia"))
		media_part_[media.attribute("ID").as_string()] = Resolve(base, Text(Child(media, "MediaFile")));
}

void PageWriter::LoadResources(pugi::xml_node common, const std::string &doc_dir) {
	for (const char *name : {"PublicRes", "DocumentRes"})
		for (pugi::xml_node res : common.children((std::string("ofd:") + name).c_str()))
			LoadResourcePart(Resolve(doc_dir, Text(res)));
}

void PageWriter::DrawText(pugi::xml_node text, pugi::xml_node out) {
	Rect box = ParseBox(text.attribute("Boundary").as_string());
	double size = text.attribute("Size").as_double();
	auto family = font_family_.find(text.attribute("Font").as_string());
	pugi::xml_node g = Group(out, text, box);
	g.append_attribute("font-family") =
	    (family != font_family_.end() ? family->second : OfdSvgFontFamily("", "")).c_str();
	g.append_attribute("font-size") = Num(size).c_str();
	g.append_attribute("fill") = Colour(Child(text, "FillColor"), "rgb(0,0,0)").c_str();
	for (pugi::xml_node code : text.children("ofd:TextCode")) {
		std::vector<std::string> glyphs = Glyphs(Text(code));
		std::vector<double> deltas = Deltas(code.attribute("DeltaX").as_string());
		double x = code.attribute("X").as_double();
		double y = code.attribute("Y").as_double();
		for (std::size_t i = 0; i < glyphs.size(); ++i) {
			if (glyphs[i] != " " && glyphs[i] != "\xe3\x80\x80") {  // nothing to draw for spaces
				pugi::xml_node t = g.append_child("text");
				t.append_attribute("x") = Num(x).c_str();
				t.append_attribute("y") = Num(y).c_str();
				t.append_child(pugi::node_pcdata).set_value(glyphs[i].c_str());
			}
			// Without a delta the next glyph follows at one em (CJK advance).
			x += i < deltas.size() ? deltas[i] : (deltas.empty() ? size : deltas.back());
		}
	}
}

void PageWriter::DrawImage(pugi::xml_node image, pugi::xml_node out) {
	auto media = media_part_.find(image.attribute("ResourceID").as_string());
	if (media == media_part_.end())
		return;
	const Bytes *png = parts_.Find(media->second);
	if (!png)
		return;
	Rect box = ParseBox(image.attribute("Boundary").as_string());
	pugi::xml_node g = Group(out, image, box);
	pugi::xml_node img = g.append_child("image");
	// The CTM maps the unit square onto the image's place.
	img.append_attribute("x") = "0";
	img.append_attribute("y") = "0";
	img.append_attribute("width") = "1";
	img.append_attribute("height") = "1";
	img.append_attribute("preserveAspectRatio") = "none";
	img.append_attribute("style") = "image-rendering:pixelated;image-rendering:optimizeSpeed";
	img.append_attribute("xlink:href") = DataUri(*png).c_str();
}

void PageWriter::DrawPath(pugi::xml_node path, pugi::xml_node out) {
	Rect box = ParseBox(path.attribute("Boundary").as_string());
	pugi::xml_node g = Group(out, path, box);
	pugi::xml_node p = g.append_child("path");
	p.append_attribute("d") = PathData(Text(Child(path, "AbbreviatedData"))).c_str();
	bool stroke = path.attribute("Stroke").empty() || path.attribute("Stroke").as_bool();
	bool fill = path.attribute("Fill").as_bool();
	p.append_attribute("fill") = fill ? Colour(Child(path, "FillColor"), "rgb(0,0,0)").c_str() : "none";
	if (stroke) {
		p.append_attribute("stroke") = Colour(Child(path, "StrokeColor"), "rgb(0,0,0)").c_str();
		double width = path.attribute("LineWidth").empty() ? 0.353 : path.attribute("LineWidth").as_double();
		p.append_attribute("stroke-width") = Num(width).c_str();
	}
}

void PageWriter::DrawObjects(pugi::xml_node container, pugi::xml_node out) {
	for (pugi::xml_node node : container.children()) {
		ThrowIfCancelled();
		std::string_view name = node.name();
		if (name == "ofd:TextObject")
			DrawText(node, out);
		else if (name == "ofd:ImageObject")
			DrawImage(node, out);
		else if (name == "ofd:PathObject")
			DrawPath(node, out);
		else if (name == "ofd:PageBlock" || name == "ofd:Layer")
			DrawObjects(node, out);
	}
}

void PageWriter::DrawAnnotations(pugi::xml_node document, const std::string &doc_dir, const std::string &page_id,
                                 pugi::xml_node out) {
	std::string list_loc = Text(Child(document, "Annotations"));
	if (list_loc.empty())
		return;
	std::string list_part = Resolve(doc_dir, list_loc);
	pugi::xml_document list;
	Parse(list, parts_, list_part);
	for (pugi::xml_node page : Child(list, "Annotations").children("ofd:Page")) {
		if (std::string(page.attribute("PageID").as_string()) != page_id)
			continue;
		pugi::xml_document annots;
		Parse(annots, parts_, Resolve(Directory(list_part), Text(Child(page, "FileLoc"))));
		for (pugi::xml_node annot : Child(annots, "PageAnnot").children("ofd:Annot")) {
			if (std::string_view(annot.attribute("Visible").as_string("true")) == "false")
				continue;
			pugi::xml_node appearance = Child(annot, "Appearance");
			Rect box = ParseBox(appearance.attribute("Boundary").as_string());
			pugi::xml_node g = Group(out, appearance, box);
			g.append_attribute("class") = "annotation";
			DrawObjects(appearance, g);
		}
	}
}

// The seal picture: SES_Signature.toSign.eseal.esealInfo.picture.data
// (GB/T 38540 §7.1), drawn in the StampAnnot box.
void PageWriter::DrawSeals(pugi::xml_node doc_body, const std::string &page_id, pugi::xml_node out) {
	std::string list_loc = Text(Child(doc_body, "Signatures"));
	if (list_loc.empty())
		return;
	std::string list_part = Resolve("", list_loc);
	pugi::xml_document list;
	Parse(list, parts_, list_part);
	for (pugi::xml_node sign : Child(list, "Signatures").children("ofd:Signature")) {
		std::string sign_part = Resolve(Directory(list_part), sign.attribute("BaseLoc").as_string());
		if (!parts_.Find(sign_part))
			sign_part = Resolve("", sign.attribute("BaseLoc").as_string());
		pugi::xml_document signature;
		Parse(signature, parts_, sign_part);
		pugi::xml_node root = Child(signature, "Signature");
		pugi::xml_node stamp = Child(Child(root, "SignedInfo"), "StampAnnot");
		if (std::string(stamp.attribute("PageRef").as_string()) != page_id)
			continue;
		std::string value_loc = Text(Child(root, "SignedValue"));
		const Bytes *value = parts_.Find(Resolve(Directory(sign_part), value_loc));
		if (!value)
			continue;
		try {
			der::Element ses = der::Read(*value);
			der::Element tbs = der::Children(ses).at(0);
			der::Element eseal = der::Children(tbs).at(1);
			der::Element info = der::Children(eseal).at(0);
			der::Element picture = der::Children(info).at(3);
			std::vector<der::Element> fields = der::Children(picture);
			std::string type(fields.at(0).content.begin(), fields.at(0).content.end());
			const Bytes &png = fields.at(1).content;
			if (type != "PNG" || png.size() < 8 || png[1] != 'P')
				continue;
			Rect box = ParseBox(stamp.attribute("Boundary").as_string());
			pugi::xml_node img = out.append_child("image");
			img.append_attribute("class") = "seal";
			SetBox(img, box);
			img.append_attribute("preserveAspectRatio") = "none";
			img.append_attribute("xlink:href") = DataUri(png).c_str();
		} catch (const Cancelled &) {
			throw;
		} catch (const std::exception &) {
			continue;  // an unreadable SignedValue: the page without that seal
		}
	}
}

std::string PageWriter::Run() {
	pugi::xml_document ofd_xml;
	Parse(ofd_xml, parts_, "OFD.xml");
	pugi::xml_node doc_body = Child(Child(ofd_xml, "OFD"), "DocBody");
	std::string doc_root = Resolve("", Text(Child(doc_body, "DocRoot")));
	pugi::xml_document document;
	Parse(document, parts_, doc_root);
	pugi::xml_node doc = Child(document, "Document");
	std::string doc_dir = Directory(doc_root);
	pugi::xml_node common = Child(doc, "CommonData");
	LoadResources(common, doc_dir);

	pugi::xml_node page_ref = Child(Child(doc, "Pages"), "Page");
	if (!page_ref)
		throw Error(sqlstate::kInvalidTextRepresentation, "OFD document has no page");
	std::string page_id = page_ref.attribute("ID").as_string();
	std::string page_part = Resolve(doc_dir, page_ref.attribute("BaseLoc").as_string());
	pugi::xml_document page;
	Parse(page, parts_, page_part);
	pugi::xml_node page_root = Child(page, "Page");

	Rect area = ParseBox(Text(Child(Child(page_root, "Area"), "PhysicalBox")).c_str());
	if (area.w <= 0 || area.h <= 0)
		area = ParseBox(Text(Child(Child(common, "PageArea"), "PhysicalBox")).c_str());
	if (area.w <= 0 || area.h <= 0 || area.w > 2000 || area.h > 2000)
		throw Error(sqlstate::kInvalidTextRepresentation, "OFD page has no usable PhysicalBox");

	pugi::xml_document svg_doc;
	pugi::xml_node decl = svg_doc.append_child(pugi::node_declaration);
	decl.append_attribute("version") = "1.0";
	decl.append_attribute("encoding") = "UTF-8";
	pugi::xml_node svg = svg_doc.append_child("svg");
	svg.append_attribute("xmlns") = "http://www.w3.org/2000/svg";
	svg.append_attribute("xmlns:xlink") = "http://www.w3.org/1999/xlink";
	svg.append_attribute("xml:lang") = "zh-CN";
	svg.append_attribute("width") = std::to_string(std::lround(area.w * options_.pixels_per_mm)).c_str();
	svg.append_attribute("height") = std::to_string(std::lround(area.h * options_.pixels_per_mm)).c_str();
	svg.append_attribute("viewBox") = (Num(area.x) + " " + Num(area.y) + " " + Num(area.w) + " " + Num(area.h)).c_str();
	pugi::xml_node background = svg.append_child("rect");
	SetBox(background, area);
	background.append_attribute("fill") = "white";

	DrawObjects(Child(page_root, "Content"), svg);
	if (options_.seal)
		DrawSeals(doc_body, page_id, svg);
	if (options_.annotations)
		DrawAnnotations(doc, doc_dir, page_id, svg);

	std::ostringstream out;
	svg_doc.save(out, "", pugi::format_raw, pugi::encoding_utf8);
	return out.str();
}

}  // namespace

std::string OfdSvgFontFamily(std::string_view font_name, std::string_view family_name) {
	// Stand-ins by style: Song and FangSong and Kai are serif faces, Hei is sans.
	bool sans = font_name == "SimHei" || family_name == "黑体" || font_name.find("Hei") != std::string_view::npos;
	std::string list;
	auto quoted = [](std::string_view name) {
		std::string q;
		for (char c : name)
			if (c != '\'' && c != '"' && c != ';' && c != '\\' && c != '<' && c != '>')
				q.push_back(c);
		return "'" + q + "'";
	};
	for (std::string_view name : {font_name, family_name})
		if (!name.empty())
			list += quoted(name) + ", ";
	list += sans ? "'Noto Sans CJK SC', 'Droid Sans Fallback', sans-serif"
	             : "'Noto Serif CJK SC', 'Noto Sans CJK SC', 'Droid Sans Fallback', serif";
	return list;
}

std::string OfdPageToSvg(const OfdParts &parts, const OfdSvgOptions &options) {
	if (!(options.pixels_per_mm > 0) || options.pixels_per_mm > 50)
		throw Error(sqlstate::kInvalidParameterValue, "pixels_per_mm must be in (0, 50]");
	return PageWriter(parts, options).Run();
}

}  // namespace elicense::core
