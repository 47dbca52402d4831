#include "text_describe.hpp"

namespace elicense::core {
namespace {

bool IsContinuationByte(char c) noexcept {
	return (static_cast<unsigned char>(c) & 0xC0) == 0x80;
}

}  // namespace

std::size_t CharPosition(std::string_view text, std::size_t byte) noexcept {
	std::size_t pos = 0;
	for (std::size_t i = 0; i <= byte && i < text.size(); ++i)
		if (!IsContinuationByte(text[i]))
			++pos;
	return pos;
}

std::size_t CharCount(std::string_view text) noexcept {
	return text.empty() ? 0 : CharPosition(text, text.size() - 1);
}

std::string DescribeCharAt(std::string_view text, std::size_t byte) {
	std::string out = "character " + std::to_string(CharPosition(text, byte));
	char c = text[byte];
	if (c >= 0x20 && c < 0x7F)
		out += std::string(" '") + c + "'";
	else
		out += " (not printable ASCII)";
	return out;
}

std::string QuoteValue(std::string_view value, std::size_t max_chars) {
	std::string out = "\"";
	std::size_t chars = 0;
	for (std::size_t i = 0; i < value.size(); ++i) {
		if (!IsContinuationByte(value[i]) && ++chars > max_chars) {
			out += "...";
			break;
		}
		out += value[i];
	}
	out += '"';
	return out;
}

}  // namespace elicense::core
