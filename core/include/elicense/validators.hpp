// Validators for the identifiers that licence data carries: unified social
// credit code (USCC, GB 32100-2015), resident identity number (GB 11643-1999)
// and administrative division code (GB/T 2260).
//
// Each validator comes in three strengths, all pure and thread-safe:
//   XxxProblem(value)        -> nullopt if valid, else why not (for DETAIL)
//   IsValidXxx(value)        -> bool, never throws (for CHECK constraints)
//   RequireXxx(value, field) -> throws Error naming the field and the value
#pragma once

#include "elicense/cpp_only.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace elicense::core {

struct CivilDate {
	int year;
	int month;
	int day;
};

bool IsValidCivilDate(int year, int month, int day) noexcept;

std::optional<std::string> UsccProblem(std::string_view value);
std::optional<std::string> ResidentIdProblem(std::string_view value);
std::optional<std::string> DivisionProblem(std::string_view value);
std::optional<std::string> ProvinceCodeProblem(std::string_view value);

bool IsValidUscc(std::string_view value) noexcept;
bool IsValidResidentId(std::string_view value) noexcept;
bool IsValidDivision(std::string_view value) noexcept;
bool IsValidProvinceCode(std::string_view value) noexcept;

// Birth date encoded in a valid resident identity number, else nullopt.
std::optional<CivilDate> ResidentIdBirthDate(std::string_view value) noexcept;

void RequireUscc(std::string_view value, std::string_view field);
void RequireResidentId(std::string_view value, std::string_view field);
void RequireDivision(std::string_view value, std::string_view field);
void RequireProvinceCode(std::string_view value, std::string_view field);

// Shared by every RequireXxx: throws 22P02 naming the kind, field and value.
[[noreturn]] void ThrowInvalid(std::string_view kind, std::string_view field, std::string_view value,
                               std::string problem, std::string hint);

}  // namespace elicense::core
