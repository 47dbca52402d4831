// pugixml helpers for OFD parts: every element is written with the literal
// `ofd:` prefix (ofd.js and easyofd look elements up by that prefix, not by
// namespace), and every value goes through pugixml so it is escaped.
#pragma once

#include "elicense/cpp_only.hpp"
#include "elicense/ofd_package.hpp"

#include <pugixml.hpp>

#include <string>
#include <string_view>

namespace elicense::core::ofd {

inline constexpr char kNamespace[] = "http://www.ofdspec.org/2016";

// A new document: XML declaration (UTF-8) and root element ofd:<root>.
pugi::xml_node NewPart(pugi::xml_document &doc, const char *root);

// Appends ofd:<name>, optionally with text content.
pugi::xml_node Add(pugi::xml_node parent, const char *name);
pugi::xml_node Add(pugi::xml_node parent, const char *name, std::string_view text);

// The child ofd:<name> (empty node if absent).
pugi::xml_node Child(pugi::xml_node parent, const char *name);

// The text content of a node ("" for an empty node).
std::string Text(pugi::xml_node node);

Bytes Serialize(const pugi::xml_document &doc);

// Parses a part; throws Error (22P02) naming the part if it is not XML.
void ParsePart(pugi::xml_document &doc, const Bytes &data, std::string_view part_name);

// Millimetres and other numbers as OFD writes them: at most 3 decimals,
// no trailing zeros, always with '.'.
std::string Num(double value);

}  // namespace elicense::core::ofd
