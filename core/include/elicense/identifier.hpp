// The licence identifier (电子证照标识, GB/T 36904-2018):
//
//   1.2.156.3005.2 . type code . issuer USCC . sequence . version . check
//
//   type code  21 characters: the defining authority's USCC + 3 digits
//              (e.g. 11100000000013338W050)
//   issuer     the issuing authority's 18-character USCC
//   sequence   1-40 characters 0-9 A-Z (MOHURD: year + 6 digits)
//   version    001-999, raised by one for every reissue of the same licence
//   check      ISO/IEC 7064 MOD 37,36 over type+issuer+sequence+version
#pragma once

#include "elicense/cpp_only.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace elicense::core {

inline constexpr std::string_view kIdentifierRoot = "1.2.156.3005.2";
inline constexpr std::size_t kTypeCodeLength = 21;
inline constexpr std::size_t kMaxSequenceLength = 40;
inline constexpr int kMaxVersion = 999;

struct IdentifierParts {
	std::string type_code;
	std::string issuer;
	std::string sequence;
	int version = 0;
	char check = '\0';
};

// Builds the identifier; throws Error naming the first bad argument.
std::string BuildIdentifier(std::string_view type_code, std::string_view issuer, std::string_view sequence,
                            int version);

// Splits and checks an identifier; throws Error (22P02) saying what is wrong.
IdentifierParts ParseIdentifier(std::string_view text);

// nullopt if the identifier is valid in every part, else why not.
std::optional<std::string> IdentifierProblem(std::string_view text);

std::optional<std::string> TypeCodeProblem(std::string_view type_code);
std::optional<std::string> SequenceProblem(std::string_view sequence);

}  // namespace elicense::core
