// Reads face templates (JSON, see ofd_template.hpp) with nlohmann::json and
// checks every item, so a bad template fails when loaded, not half-way
// through rendering a licence.
#include "elicense/ofd_template.hpp"

#include "elicense/cancel.hpp"
#include "elicense/limits.hpp"

#include "elicense/error.hpp"
#include "elicense/ofd_fonts.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

namespace elicense::core {
namespace {

using Json = nlohmann::json;

[[noreturn]] void Bad(const std::string &where, const std::string &what) {
	throw Error(sqlstate::kInvalidParameterValue, "OFD template: " + where + " " + what);
}

const Json &Member(const Json &object, const char *key, const std::string &where) {
	if (!object.is_object())
		Bad(where, "is not a JSON object");
	auto it = object.find(key);
	if (it == object.end())
		Bad(where, std::string("has no \"") + key + "\"");
	return *it;
}

double Number(const Json &object, const char *key, const std::string &where, double min, double max) {
	const Json &value = Member(object, key, where);
	if (!value.is_number())
		Bad(where + "." + key, "is not a number");
	double number = value.get<double>();
	if (number < min || number > max)
		Bad(where + "." + key, "is out of range");
	return number;
}

double NumberOr(const Json &object, const char *key, const std::string &where, double min, double max,
                double fallback) {
	return object.contains(key) ? Number(object, key, where, min, max) : fallback;
}

std::string Text(const Json &object, const char *key, const std::string &where) {
	const Json &value = Member(object, key, where);
	if (!value.is_string())
		Bad(where + "." + key, "is not a string");
	return value.get<std::string>();
}

std::string Font(const Json &object, const char *key, const std::string &where) {
	std::string font = Text(object, key, where);
	if (FindOfdFont(font) < 0)
		Bad(where + "." + key, "names an unknown font (use 宋体, 仿宋 or 黑体)");
	return font;
}

std::string Color(const Json &object, const char *key, const std::string &where, std::string fallback) {
	if (!object.contains(key))
		return fallback;
	std::string color = Text(object, key, where);
	std::istringstream in(color);
	int component = 0;
	int count = 0;
	while (in >> component) {
		if (component < 0 || component > 255)
			Bad(where + "." + key, "has a component outside 0-255");
		++count;
	}
	if (count != 3 || !in.eof())
		Bad(where + "." + key, "is not \"R G B\"");
	return color;
}

OfdBox Box(const Json &object, const char *key, const OfdTemplate &t) {
	const Json &box = Member(object, key, "template");
	std::string where = key;
	OfdBox out;
	out.size = Number(box, "size", where, 5, std::min(t.page_width, t.page_height));
	out.x = Number(box, "x", where, 0, t.page_width - out.size);
	out.y = Number(box, "y", where, 0, t.page_height - out.size);
	return out;
}

}  // namespace

OfdTemplate ParseOfdTemplate(std::string_view json_text) {
	Json root = Json::parse(json_text.begin(), json_text.end(), nullptr, false);
	if (root.is_discarded())
		throw Error(sqlstate::kInvalidTextRepresentation, "OFD template is not valid JSON");
	if (!root.is_object())
		Bad("template", "is not a JSON object");

	OfdTemplate t;
	t.type_code = Text(root, "type_code", "template");
	t.name = Text(root, "name", "template");
	if (root.contains("page")) {
		const Json &page = root["page"];
		t.page_width = Number(page, "width", "page", 50, 1000);
		t.page_height = Number(page, "height", "page", 50, 1000);
	}
	if (root.contains("frame")) {
		const Json &frame = root["frame"];
		t.frame_margin = Number(frame, "margin", "frame", 0, std::min(t.page_width, t.page_height) / 4);
		t.frame_line_width = NumberOr(frame, "line_width", "frame", 0.1, 5, 1);
		t.frame_color = Color(frame, "color", "frame", "0 0 0");
	} else {
		t.frame_margin = 0;
	}

	const Json &title = Member(root, "title", "template");
	t.title = Text(title, "text", "title");
	t.title_y = Number(title, "y", "title", 0, t.page_height);
	t.title_font = Font(title, "font", "title");
	t.title_size_pt = Number(title, "size", "title", 4, 96);

	const Json &label = Member(root, "label", "template");
	t.label_font = Font(label, "font", "label");
	t.label_size_pt = Number(label, "size", "label", 4, 96);

	t.qr = Box(root, "qr", t);
	t.seal = Box(root, "seal", t);

	const Json &fields = Member(root, "fields", "template");
	if (!fields.is_array() || fields.empty())
		Bad("template.fields", "is not a non-empty array");
	if (fields.size() > kMaxTemplateFields)
		throw Error(sqlstate::kProgramLimitExceeded,
		            "the OFD template has " + std::to_string(fields.size()) + " fields", {},
		            "A template may have at most " + std::to_string(kMaxTemplateFields) + " fields.");
	std::set<std::string> keys;
	for (std::size_t i = 0; i < fields.size(); ++i) {
		ThrowIfCancelled();
		const Json &f = fields[i];
		std::string where = "fields[" + std::to_string(i) + "]";
		OfdTemplateField field;
		field.key = Text(f, "key", where);
		if (field.key.empty() || !keys.insert(field.key).second)
			Bad(where + ".key", "is empty or repeated");
		where += " (" + field.key + ")";
		field.label = f.contains("label") ? Text(f, "label", where) : std::string();
		field.x = Number(f, "x", where, 0, t.page_width);
		field.y = Number(f, "y", where, 0, t.page_height);
		field.value_x = NumberOr(f, "value_x", where, 0, t.page_width, field.x);
		field.width = Number(f, "width", where, 5, t.page_width - field.value_x);
		field.font = Font(f, "font", where);
		field.size_pt = Number(f, "size", where, 4, 96);
		field.max_lines = static_cast<int>(NumberOr(f, "max_lines", where, 1, 20, 1));
		field.line_gap = NumberOr(f, "line_gap", where, 1, 3, 1.5);
		t.fields.push_back(std::move(field));
	}
	return t;
}

OfdTemplate LoadOfdTemplateFile(const std::string &path) {
	std::ifstream in(path, std::ios::binary);
	if (!in)
		throw Error(sqlstate::kInvalidParameterValue, "cannot read OFD template file " + path);
	std::ostringstream text;
	text << in.rdbuf();
	return ParseOfdTemplate(text.str());
}

}  // namespace elicense::core
