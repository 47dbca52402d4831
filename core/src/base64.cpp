#include "base64.hpp"

namespace elicense::core {

namespace {

const char *Symbols(Base64Alphabet alphabet) noexcept {
	return alphabet == Base64Alphabet::kUrl ? "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	                                        : "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
}

}  // namespace

int Base64SymbolValue(char c, Base64Alphabet alphabet) noexcept {
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	const char *symbols = Symbols(alphabet);
	if (c == symbols[62])
		return 62;
	if (c == symbols[63])
		return 63;
	return -1;
}

std::string EncodeBase64(const std::uint8_t *data, std::size_t size, Base64Alphabet alphabet) {
	const char *symbols = Symbols(alphabet);
	std::string out;
	out.reserve((size + 2) / 3 * 4);
	std::size_t i = 0;
	for (; i + 3 <= size; i += 3) {
		std::uint32_t v = std::uint32_t {data[i]} << 16 | std::uint32_t {data[i + 1]} << 8 | data[i + 2];
		for (int shift : {18, 12, 6, 0})
			out.push_back(symbols[(v >> shift) & 63]);
	}
	std::size_t rest = size - i;
	if (rest > 0) {
		std::uint32_t v = std::uint32_t {data[i]} << 16 | (rest == 2 ? std::uint32_t {data[i + 1]} << 8 : 0);
		out.push_back(symbols[(v >> 18) & 63]);
		out.push_back(symbols[(v >> 12) & 63]);
		if (rest == 2)
			out.push_back(symbols[(v >> 6) & 63]);
		if (alphabet == Base64Alphabet::kStandard)
			out.append(3 - rest, '=');
	}
	return out;
}

}  // namespace elicense::core
