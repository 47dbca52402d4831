// Validators for USCC (GB 32100-2015), resident identity number (GB 11643-1999)
// and division code (GB/T 2260). Problems are phrased for a DETAIL line.
#include "elicense/validators.hpp"

#include "elicense/check_characters.hpp"
#include "elicense/error.hpp"
#include "text_describe.hpp"

#include <algorithm>
#include <array>

namespace elicense::core {
namespace {

using Problem = std::optional<std::string>;

// Two-digit province-level prefixes of GB/T 2260 (31 provinces, Taiwan 71,
// Hong Kong 81, Macao 82).
constexpr std::array<std::string_view, 34> kProvincePrefixes = {
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37", "41", "42",
    "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65", "71", "81", "82"};

bool IsKnownProvincePrefix(std::string_view two) noexcept {
	return std::find(kProvincePrefixes.begin(), kProvincePrefixes.end(), two) != kProvincePrefixes.end();
}

bool IsDigit(char c) noexcept {
	return c >= '0' && c <= '9';
}

int DigitsValue(std::string_view s) noexcept {
	int v = 0;
	for (char c : s)
		v = v * 10 + (c - '0');
	return v;
}

Problem LengthProblem(std::string_view value, std::size_t expected) {
	if (value.empty())
		return "the value is empty";
	if (value.size() == expected)
		return std::nullopt;
	return "the value has " + std::to_string(CharCount(value)) + " characters, expected " + std::to_string(expected);
}

// Problem with the six-digit division part of a code, or nullopt.
// `extra_prefix` is a prefix valid in that context only ("10": central-level
// authorities in a USCC; "83": Taiwan residents' permits in an ID number).
Problem DivisionPartProblem(std::string_view value, std::size_t start, std::string_view extra_prefix) {
	std::string_view part = value.substr(start, 6);
	for (std::size_t i = 0; i < part.size(); ++i)
		if (!IsDigit(part[i]))
			return DescribeCharAt(value, start + i) + " is not a digit; the division code is digits only";
	std::string_view prefix = part.substr(0, 2);
	if (!IsKnownProvincePrefix(prefix) && prefix != extra_prefix)
		return "division code " + std::string(part) + " does not start with a province-level code of GB/T 2260";
	if (part.substr(2, 2) == "00" && part.substr(4, 2) != "00")
		return "division code " + std::string(part) + " has a county part under no prefecture";
	return std::nullopt;
}

}  // namespace

bool IsValidCivilDate(int year, int month, int day) noexcept {
	static constexpr std::array<int, 12> kDays = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (month < 1 || month > 12 || day < 1)
		return false;
	bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
	int max_day = kDays[month - 1] + (month == 2 && leap ? 1 : 0);
	return day <= max_day;
}

Problem UsccProblem(std::string_view value) {
	if (auto p = LengthProblem(value, 18))
		return p;
	for (std::size_t i = 0; i < value.size(); ++i)
		if (UsccCharValue(value[i]) < 0)
			return DescribeCharAt(value, i) + " is not in the USCC alphabet 0-9 A-H J-N P-R T-U W-Y";
	if (auto p = DivisionPartProblem(value, 2, "10"))
		return p;
	// Characters 9-17 are the GB 11714 organisation code with its own check.
	char org_check = OrganisationCodeCheck(value.substr(8, 8));
	if (org_check != value[16])
		return std::string("organisation code check character (character 17) is '") + value[16] + "', expected '" +
		       org_check + "'";
	char check = UsccCheck(value.substr(0, 17));
	if (check != value[17])
		return std::string("check character is '") + value[17] + "', expected '" + check + "'";
	return std::nullopt;
}

Problem ResidentIdProblem(std::string_view value) {
	if (auto p = LengthProblem(value, 18))
		return p;
	for (std::size_t i = 0; i < 17; ++i)
		if (!IsDigit(value[i]))
			return DescribeCharAt(value, i) + " is not a digit; the first 17 characters are digits";
	char last = value[17];
	if (last == 'x')
		return "check character is a lower-case 'x'; GB 11643 writes it upper-case";
	if (!IsDigit(last) && last != 'X')
		return DescribeCharAt(value, 17) + " is neither a digit nor 'X'";
	if (auto p = DivisionPartProblem(value, 0, "83"))
		return p;
	int year = DigitsValue(value.substr(6, 4));
	int month = DigitsValue(value.substr(10, 2));
	int day = DigitsValue(value.substr(12, 2));
	// Not the digits: a message reaches logs and error tables (personal data).
	if (year < 1850 || year > 2099 || !IsValidCivilDate(year, month, day))
		return "birth date (characters 7-14) is not a date between 1850 and 2099";
	char check = Mod11_2Check(value.substr(0, 17));
	if (check != last)
		return std::string("check character is '") + last + "', expected '" + check + "'";
	return std::nullopt;
}

Problem DivisionProblem(std::string_view value) {
	if (auto p = LengthProblem(value, 6))
		return p;
	return DivisionPartProblem(value, 0, {});
}

Problem ProvinceCodeProblem(std::string_view value) {
	if (auto p = DivisionProblem(value))
		return p;
	if (value.substr(2) != "0000")
		return "division code " + std::string(value) + " is not a province-level code (those end in 0000)";
	return std::nullopt;
}

bool IsValidUscc(std::string_view value) noexcept {
	try {
		return !UsccProblem(value);
	} catch (...) {  // only std::bad_alloc is possible
		return false;
	}
}

bool IsValidResidentId(std::string_view value) noexcept {
	try {
		return !ResidentIdProblem(value);
	} catch (...) {
		return false;
	}
}

bool IsValidDivision(std::string_view value) noexcept {
	try {
		return !DivisionProblem(value);
	} catch (...) {
		return false;
	}
}

bool IsValidProvinceCode(std::string_view value) noexcept {
	try {
		return !ProvinceCodeProblem(value);
	} catch (...) {
		return false;
	}
}

std::optional<CivilDate> ResidentIdBirthDate(std::string_view value) noexcept {
	if (!IsValidResidentId(value))
		return std::nullopt;
	return CivilDate {DigitsValue(value.substr(6, 4)), DigitsValue(value.substr(10, 2)),
	                  DigitsValue(value.substr(12, 2))};
}

void ThrowInvalid(std::string_view kind, std::string_view field, std::string_view value, std::string problem,
                  std::string hint) {
	if (!problem.empty() && problem[0] >= 'a' && problem[0] <= 'z')
		problem[0] = static_cast<char>(problem[0] - 'a' + 'A');
	throw Error(sqlstate::kInvalidTextRepresentation,
	            "invalid " + std::string(kind) + " in field \"" + std::string(field) + "\": " + QuoteValue(value),
	            problem + ".", std::move(hint));
}

void RequireUscc(std::string_view value, std::string_view field) {
	if (auto p = UsccProblem(value))
		ThrowInvalid("USCC", field, value, *p,
		             "A unified social credit code (统一社会信用代码, GB 32100) has 18 characters; copy it from the "
		             "business licence.");
}

namespace {

// A resident ID number as an error message may show it: the first 6 and the
// last 4 characters, as the sharing functions mask it (the error reaches the
// server log at default settings and error tables such as stock_error; the
// full number stays in the caller's row). Anything not printable ASCII is
// not shown at all.
std::string MaskedResidentId(std::string_view value) {
	bool ascii = true;
	for (char c : value)
		ascii = ascii && c > ' ' && c < 0x7F;
	if (!ascii || value.size() < 10)
		return std::to_string(value.size()) + " characters, not shown";
	return std::string(value.substr(0, 6)) + std::string(value.size() - 10, '*') +
	       std::string(value.substr(value.size() - 4));
}

}  // namespace

void RequireResidentId(std::string_view value, std::string_view field) {
	if (auto p = ResidentIdProblem(value))
		ThrowInvalid("resident ID number", field, MaskedResidentId(value), *p,
		             "A resident identity number (身份证号, GB 11643) has 17 digits and a check digit or X.");
}

void RequireDivision(std::string_view value, std::string_view field) {
	if (auto p = DivisionProblem(value))
		ThrowInvalid("division code", field, value, *p,
		             "Use the six-digit administrative division code of GB/T 2260, e.g. 350100.");
}

void RequireProvinceCode(std::string_view value, std::string_view field) {
	if (auto p = ProvinceCodeProblem(value))
		ThrowInvalid("province code", field, value, *p,
		             "Use the six-digit province-level division code, e.g. 350000 for Fujian.");
}

}  // namespace elicense::core
