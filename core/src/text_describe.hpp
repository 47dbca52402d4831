// Small helpers that put user input into error texts safely: positions are
// counted in characters, non-ASCII input is never cut in the middle of a
// UTF-8 sequence, and long values are shortened.
#pragma once

#include "elicense/cpp_only.hpp"

#include <string>
#include <string_view>

namespace elicense::core {

// 1-based character position of byte offset `byte` in UTF-8 `text`.
std::size_t CharPosition(std::string_view text, std::size_t byte) noexcept;

// Number of characters (code points) in UTF-8 `text`.
std::size_t CharCount(std::string_view text) noexcept;

// "character 9 'I'" or "character 9 (non-ASCII)".
std::string DescribeCharAt(std::string_view text, std::size_t byte);

// The value, double-quoted, shortened to at most `max_chars` characters.
std::string QuoteValue(std::string_view value, std::size_t max_chars = 64);

}  // namespace elicense::core
