// pugixml helpers for OFD parts (see ofd_xml.hpp).
#include "ofd_xml.hpp"

#include "elicense/error.hpp"

#include <cmath>
#include <cstdio>

namespace elicense::core::ofd {
namespace {

std::string Prefixed(const char *name) {
	return std::string("ofd:") + name;
}

// pugixml writer that appends to a byte vector.
class ByteWriter : public pugi::xml_writer {
public:
	explicit ByteWriter(Bytes &out) : out_(out) {
	}
	void write(const void *data, size_t size) override {
		const auto *bytes = static_cast<const std::uint8_t *>(data);
		out_.insert(out_.end(), bytes, bytes + size);
	}

private:
	Bytes &out_;
};

}  // namespace

pugi::xml_node NewPart(pugi::xml_document &doc, const char *root) {
	pugi::xml_node declaration = doc.append_child(pugi::node_declaration);
	declaration.append_attribute("version") = "1.0";
	declaration.append_attribute("encoding") = "UTF-8";
	pugi::xml_node node = doc.append_child(Prefixed(root).c_str());
	node.append_attribute("xmlns:ofd") = kNamespace;
	return node;
}

pugi::xml_node Add(pugi::xml_node parent, const char *name) {
	return parent.append_child(Prefixed(name).c_str());
}

pugi::xml_node Add(pugi::xml_node parent, const char *name, std::string_view text) {
	pugi::xml_node node = Add(parent, name);
	node.append_child(pugi::node_pcdata).set_value(std::string(text).c_str());
	return node;
}

pugi::xml_node Child(pugi::xml_node parent, const char *name) {
	return parent.child(Prefixed(name).c_str());
}

std::string Text(pugi::xml_node node) {
	return node.text().as_string();
}

// Raw format: no indentation, so no whitespace text nodes that readers
// which keep whitespace (ofd.js parses with trimValues: false) would see.
Bytes Serialize(const pugi::xml_document &doc) {
	Bytes out;
	out.reserve(2048);
	ByteWriter writer(out);
	doc.save(writer, "", pugi::format_raw, pugi::encoding_utf8);
	return out;
}

void ParsePart(pugi::xml_document &doc, const Bytes &data, std::string_view part_name) {
	pugi::xml_parse_result result = doc.load_buffer(data.data(), data.size(), pugi::parse_default, pugi::encoding_utf8);
	if (!result)
		throw Error(sqlstate::kInvalidTextRepresentation,
		            "OFD part " + std::string(part_name) + " is not well-formed XML", result.description());
}

std::string Num(double value) {
	if (std::fabs(value) < 0.0005)
		return "0";
	char buf[32];
	std::snprintf(buf, sizeof buf, "%.3f", value);
	std::string text = buf;
	while (text.back() == '0')
		text.pop_back();
	if (text.back() == '.')
		text.pop_back();
	return text;
}

}  // namespace elicense::core::ofd
