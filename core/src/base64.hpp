// Base64 (RFC 4648) as the core uses it: the standard alphabet with '='
// padding for the QR key k and OFD signatures, the URL-safe alphabet without
// padding for preview tokens. Decoding stays with each caller: they differ
// in what they tolerate (whitespace, padding) and in how they report errors.
#pragma once

#include "elicense/cpp_only.hpp"

#include <cstddef>
#include <cstdint>
#include <string>

namespace elicense::core {

enum class Base64Alphabet {
	kStandard,  // A-Z a-z 0-9 + /, padded with '=' (§4)
	kUrl,       // A-Z a-z 0-9 - _, unpadded (§5)
};

// The 6-bit value of c in the alphabet, or -1 if c is not one of its symbols.
int Base64SymbolValue(char c, Base64Alphabet alphabet) noexcept;

std::string EncodeBase64(const std::uint8_t *data, std::size_t size, Base64Alphabet alphabet);

}  // namespace elicense::core
