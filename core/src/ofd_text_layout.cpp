// Line wrapping and shrink-to-fit of face values (see ofd_text_layout.hpp).
#include "ofd_text_layout.hpp"

#include "elicense/error.hpp"

#include <cstdint>

namespace elicense::core::ofd {
namespace {

struct CodePoint {
	std::uint32_t value;
	std::string_view bytes;
};

// Decodes UTF-8 strictly (no overlongs, no surrogates).
std::vector<CodePoint> Decode(std::string_view text) {
	std::vector<CodePoint> out;
	out.reserve(text.size());
	std::size_t i = 0;
	while (i < text.size()) {
		auto lead = static_cast<unsigned char>(text[i]);
		std::size_t length = lead < 0x80           ? 1
		                     : (lead >> 5) == 0x6  ? 2
		                     : (lead >> 4) == 0xE  ? 3
		                     : (lead >> 3) == 0x1E ? 4
		                                           : 0;
		if (length == 0 || i + length > text.size())
			throw Error(sqlstate::kInvalidTextRepresentation, "licence field value is not valid UTF-8");
		std::uint32_t value = length == 1 ? lead : lead & (0x7F >> length);
		for (std::size_t k = 1; k < length; ++k) {
			auto next = static_cast<unsigned char>(text[i + k]);
			if ((next & 0xC0) != 0x80)
				throw Error(sqlstate::kInvalidTextRepresentation, "licence field value is not valid UTF-8");
			value = (value << 6) | (next & 0x3F);
		}
		static constexpr std::uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
		if (value < kMin[length] || value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF))
			throw Error(sqlstate::kInvalidTextRepresentation, "licence field value is not valid UTF-8");
		out.push_back({value, text.substr(i, length)});
		i += length;
	}
	return out;
}

// Characters XML 1.0 cannot carry, and other controls, are dropped.
bool Printable(std::uint32_t c) {
	return c >= 0x20 && c != 0x7F && !(c >= 0x80 && c < 0xA0) && c != 0xFFFE && c != 0xFFFF;
}

bool Wide(std::uint32_t c) {
	return (c >= 0x1100 && c <= 0x115F) || (c >= 0x2E80 && c <= 0xA4CF) || (c >= 0xAC00 && c <= 0xD7A3) ||
	       (c >= 0xF900 && c <= 0xFAFF) || (c >= 0xFE30 && c <= 0xFE4F) || (c >= 0xFF00 && c <= 0xFF60) ||
	       (c >= 0xFFE0 && c <= 0xFFE6) || c >= 0x20000;
}

double Advance(std::uint32_t c, double size) {
	return Wide(c) ? size : size * 0.5;
}

void Push(std::vector<TextLine> &lines, TextLine &line) {
	lines.push_back(std::move(line));
	line = TextLine();
}

}  // namespace

std::vector<TextLine> WrapText(std::string_view text, double size, double width) {
	std::vector<TextLine> lines;
	TextLine line;
	std::size_t last_space = std::string::npos;  // character index of a space in `line`
	std::size_t last_space_byte = 0;
	for (const CodePoint &cp : Decode(text)) {
		if (cp.value == '\n') {
			Push(lines, line);
			last_space = std::string::npos;
			continue;
		}
		std::uint32_t c = cp.value == '\t' ? ' ' : cp.value;
		if (!Printable(c))
			continue;
		std::string_view bytes = cp.value == '\t' ? std::string_view(" ") : cp.bytes;
		double advance = Advance(c, size);
		if (!line.advances.empty() && line.width + advance > width + 1e-9) {
			TextLine rest;
			// Latin words are broken at their last space; CJK breaks anywhere.
			if (c != ' ' && c < 0x80 && last_space != std::string::npos && last_space + 1 < line.advances.size()) {
				rest.text = line.text.substr(last_space_byte + 1);
				rest.advances.assign(line.advances.begin() + static_cast<long>(last_space) + 1, line.advances.end());
				for (double a : rest.advances)
					rest.width += a;
				line.text.resize(last_space_byte);
				line.advances.resize(last_space);
				line.width = 0;
				for (double a : line.advances)
					line.width += a;
			}
			Push(lines, line);
			line = std::move(rest);
			last_space = std::string::npos;
			if (c == ' ' && line.advances.empty())
				continue;  // no leading space on a wrapped line
		}
		if (c == ' ') {
			last_space = line.advances.size();
			last_space_byte = line.text.size();
		}
		line.text.append(bytes);
		line.advances.push_back(advance);
		line.width += advance;
	}
	if (!line.advances.empty() || lines.empty())
		Push(lines, line);
	return lines;
}

TextBlock FitText(std::string_view text, double size, double width, int max_lines, std::string_view what,
                  double min_scale) {
	// NOLINTNEXTLINE(clang-analyzer-security.FloatLoopCounter): these exact scales lay out every file issued so far
	for (double scale = 1.0; scale >= min_scale - 1e-9; scale -= 0.05) {
		TextBlock block;
		block.size = size * scale;
		block.lines = WrapText(text, block.size, width);
		if (static_cast<int>(block.lines.size()) <= max_lines)
			return block;
	}
	throw Error(sqlstate::kInvalidParameterValue,
	            "value of licence field " + std::string(what) + " does not fit its box",
	            "even at " + std::to_string(static_cast<int>(min_scale * 100)) +
	                "% of the template font size it needs more than " + std::to_string(max_lines) + " lines",
	            "shorten the value or give the field more width or max_lines in the template");
}

TextLine SingleLine(std::string_view text, double size) {
	TextLine line;
	for (const CodePoint &cp : Decode(text)) {
		if (!Printable(cp.value))
			continue;
		line.text.append(cp.bytes);
		line.advances.push_back(Advance(cp.value, size));
		line.width += line.advances.back();
	}
	return line;
}

}  // namespace elicense::core::ofd
