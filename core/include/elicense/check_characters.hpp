// Check-character systems used by Chinese identifiers.
//
// Vocabulary: "payload" is the text a check character protects; every
// function returns the check character for a payload that has already been
// checked for length and alphabet (callers validate first), or '\0' if a
// character is outside the system's alphabet.
#pragma once

#include "elicense/cpp_only.hpp"

#include <string_view>

namespace elicense::core {

// ISO/IEC 7064 MOD 37,36 (GB/T 17710-2008 clause 10, hybrid system), alphabet
// 0-9 A-Z. GB/T 36904-2018 prescribes it for the licence identifier.
char Mod37_36Check(std::string_view payload) noexcept;

// ISO/IEC 7064 MOD 11-2 (GB/T 17710-2008 clause 7), 17 digits -> 0-9 or X.
// GB 11643-1999 uses it for the resident identity number.
char Mod11_2Check(std::string_view payload) noexcept;

// GB 32100-2015 clause 4.2: the unified social credit code's check character
// over its first 17 characters, mod 31 with the standard's weights.
char UsccCheck(std::string_view payload) noexcept;

// GB 11714-1997: the organisation code's check character over its first 8
// characters (0-9 A-Z), mod 11 -> 0-9 or X.
char OrganisationCodeCheck(std::string_view payload) noexcept;

// Value of a character in the USCC alphabet 0-9 A-H J-N P-R T-U W-Y, or -1.
int UsccCharValue(char c) noexcept;

}  // namespace elicense::core
