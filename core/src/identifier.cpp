// Licence identifier (GB/T 36904-2018): build, parse, validate.
#include "elicense/identifier.hpp"

#include "elicense/check_characters.hpp"
#include "elicense/error.hpp"
#include "elicense/validators.hpp"
#include "text_describe.hpp"

#include <array>
#include <cctype>

namespace elicense::core {
namespace {

using Problem = std::optional<std::string>;

bool IsUpperAlnum(char c) noexcept {
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z');
}

std::string FormatVersion(int version) {
	char buf[4] = {static_cast<char>('0' + version / 100), static_cast<char>('0' + version / 10 % 10),
	               static_cast<char>('0' + version % 10), '\0'};
	return buf;
}

// The check character over the four payload segments, joined without dots.
char IdentifierCheck(std::string_view type_code, std::string_view issuer, std::string_view sequence,
                     std::string_view version) {
	std::string payload;
	payload.reserve(type_code.size() + issuer.size() + sequence.size() + version.size());
	payload.append(type_code).append(issuer).append(sequence).append(version);
	return Mod37_36Check(payload);
}

Problem VersionProblem(std::string_view version) {
	if (version.size() != 3 || version.find_first_not_of("0123456789") != version.npos)
		return "version " + QuoteValue(version) + " is not three digits";
	if (version == "000")
		return std::string("version 000 is not allowed; the first version is 001");
	return std::nullopt;
}

// The five segments after the root, or the reason there are not five.
Problem SplitSegments(std::string_view text, std::array<std::string_view, 5> &out) {
	if (text.substr(0, kIdentifierRoot.size()) != kIdentifierRoot || text.size() == kIdentifierRoot.size() ||
	    text[kIdentifierRoot.size()] != '.')
		return "the identifier does not start with the root " + std::string(kIdentifierRoot);
	std::string_view rest = text.substr(kIdentifierRoot.size() + 1);
	std::size_t n = 0;
	while (true) {
		std::size_t dot = rest.find('.');
		if (n == out.size())
			return "the identifier has more than 5 segments after the root";
		out[n++] = rest.substr(0, dot);
		if (dot == rest.npos)
			break;
		rest.remove_prefix(dot + 1);
	}
	if (n != out.size())
		return "the identifier has " + std::to_string(n) +
		       " segments after the root, expected 5 (type code, "
		       "issuer, sequence, version, check character)";
	return std::nullopt;
}

// Everything that can be wrong with an identifier, checked in reading order.
Problem Analyse(std::string_view text, IdentifierParts *parts) {
	std::array<std::string_view, 5> seg;
	if (auto p = SplitSegments(text, seg))
		return p;
	if (auto p = TypeCodeProblem(seg[0]))
		return "type code " + *p;
	if (auto p = UsccProblem(seg[1]))
		return "issuer USCC: " + *p;
	if (auto p = SequenceProblem(seg[2]))
		return "sequence " + *p;
	if (auto p = VersionProblem(seg[3]))
		return p;
	if (seg[4].size() != 1 || !IsUpperAlnum(seg[4][0]))
		return "check character " + QuoteValue(seg[4]) + " is not one character 0-9 A-Z";
	char expected = IdentifierCheck(seg[0], seg[1], seg[2], seg[3]);
	if (seg[4][0] != expected)
		return std::string("check character is '") + seg[4][0] + "', expected '" + expected + "'";
	if (parts) {
		parts->type_code = seg[0];
		parts->issuer = seg[1];
		parts->sequence = seg[2];
		parts->version = std::stoi(std::string(seg[3]));
		parts->check = seg[4][0];
	}
	return std::nullopt;
}

}  // namespace

Problem TypeCodeProblem(std::string_view type_code) {
	if (type_code.size() != kTypeCodeLength)
		return QuoteValue(type_code) + " has " + std::to_string(CharCount(type_code)) + " characters, expected " +
		       std::to_string(kTypeCodeLength);
	if (auto p = UsccProblem(type_code.substr(0, 18)))
		return "does not start with a valid USCC of the defining authority: " + *p;
	if (type_code.substr(18).find_first_not_of("0123456789") != std::string_view::npos)
		return QuoteValue(type_code) + " does not end in three digits";
	return std::nullopt;
}

Problem SequenceProblem(std::string_view sequence) {
	if (sequence.empty())
		return std::string("is empty");
	if (sequence.size() > kMaxSequenceLength)
		return "has " + std::to_string(CharCount(sequence)) + " characters, at most " +
		       std::to_string(kMaxSequenceLength) + " are allowed";
	for (std::size_t i = 0; i < sequence.size(); ++i)
		if (!IsUpperAlnum(sequence[i]))
			return DescribeCharAt(sequence, i) + " is not 0-9 or A-Z";
	return std::nullopt;
}

std::string BuildIdentifier(std::string_view type_code, std::string_view issuer, std::string_view sequence,
                            int version) {
	const char *kHint = "An identifier is built from the licence type code, the issuer's USCC, a sequence "
	                    "number and a version 1-999.";
	if (auto p = TypeCodeProblem(type_code))
		throw Error(sqlstate::kInvalidTextRepresentation, "invalid licence type code " + QuoteValue(type_code),
		            "Type code " + *p + ".",
		            "A type code is the defining authority's USCC plus three digits, e.g. 11100000000013338W050.");
	RequireUscc(issuer, "issuer");
	if (auto p = SequenceProblem(sequence))
		throw Error(sqlstate::kInvalidTextRepresentation, "invalid identifier sequence " + QuoteValue(sequence),
		            "Sequence " + *p + ".", kHint);
	if (version < 1 || version > kMaxVersion)
		throw Error(sqlstate::kInvalidParameterValue, "invalid identifier version " + std::to_string(version),
		            "The version must be between 1 and " + std::to_string(kMaxVersion) + ".", kHint);
	std::string v = FormatVersion(version);
	char check = IdentifierCheck(type_code, issuer, sequence, v);
	std::string out;
	out.reserve(kIdentifierRoot.size() + type_code.size() + issuer.size() + sequence.size() + 10);
	out.append(kIdentifierRoot).append(".").append(type_code).append(".").append(issuer).append(".");
	out.append(sequence).append(".").append(v).append(".").push_back(check);
	return out;
}

IdentifierParts ParseIdentifier(std::string_view text) {
	IdentifierParts parts;
	if (auto p = Analyse(text, &parts)) {
		(*p)[0] = static_cast<char>(std::toupper(static_cast<unsigned char>((*p)[0])));
		throw Error(sqlstate::kInvalidTextRepresentation, "invalid licence identifier " + QuoteValue(text, 120),
		            *p + ".",
		            "A licence identifier (GB/T 36904) reads 1.2.156.3005.2.<type code>.<issuer USCC>.<sequence>."
		            "<version>.<check character>.");
	}
	return parts;
}

Problem IdentifierProblem(std::string_view text) {
	return Analyse(text, nullptr);
}

}  // namespace elicense::core
