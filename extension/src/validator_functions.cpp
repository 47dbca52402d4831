// SQL validators. Each kind of value gets three functions:
//   is_valid_<kind>(text) -> boolean        never raises; for CHECK constraints
//   <kind>_problem(text)  -> text           why not valid, NULL when valid
//   check_<kind>(text, field) -> boolean    true, or raises 22P02 naming field and value
#include "elicense/identifier.hpp"
#include "elicense/pem_check.hpp"
#include "elicense/validators.hpp"

#include "cpp_guard.hpp"

extern "C" {
#include "utils/datetime.h"
}

namespace core = elicense::core;
using elicense::pg::ArgText;
using elicense::pg::GuardedRun;
using elicense::pg::TextDatum;

namespace {

using ProblemFn = std::optional<std::string> (*)(std::string_view);
using RequireFn = void (*)(std::string_view value, std::string_view field);

Datum IsValid(FunctionCallInfo fcinfo, ProblemFn problem) {
	std::string_view value = ArgText(fcinfo, 0);
	bool valid = false;
	GuardedRun([&] { valid = !problem(value); });
	PG_RETURN_BOOL(valid);
}

Datum ProblemText(FunctionCallInfo fcinfo, ProblemFn problem) {
	std::string_view value = ArgText(fcinfo, 0);
	Datum result = 0;
	bool valid = true;
	GuardedRun([&] {
		if (auto p = problem(value)) {
			result = TextDatum(*p);
			valid = false;
		}
	});
	if (valid)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(result);
}

Datum Check(FunctionCallInfo fcinfo, RequireFn require) {
	std::string_view value = ArgText(fcinfo, 0);
	std::string_view field = ArgText(fcinfo, 1);
	GuardedRun([&] { require(value, field); });
	PG_RETURN_BOOL(true);
}

void RequireIdentifier(std::string_view value, std::string_view /*field: named in the message already*/) {
	core::ParseIdentifier(value);
}

}  // namespace

#define ELICENSE_VALIDATOR(kind, problem, require) \
	ELICENSE_FUNCTION(elicense_is_valid_##kind) {  \
		return IsValid(fcinfo, problem);           \
	}                                              \
	ELICENSE_FUNCTION(elicense_##kind##_problem) { \
		return ProblemText(fcinfo, problem);       \
	}                                              \
	ELICENSE_FUNCTION(elicense_check_##kind) {     \
		return Check(fcinfo, require);             \
	}

ELICENSE_VALIDATOR(uscc, core::UsccProblem, core::RequireUscc)
ELICENSE_VALIDATOR(resident_id, core::ResidentIdProblem, core::RequireResidentId)
ELICENSE_VALIDATOR(division, core::DivisionProblem, core::RequireDivision)
ELICENSE_VALIDATOR(province_code, core::ProvinceCodeProblem, core::RequireProvinceCode)
ELICENSE_VALIDATOR(identifier, core::IdentifierProblem, RequireIdentifier)

ELICENSE_FUNCTION(elicense_resident_id_birth_date) {
	std::string_view value = ArgText(fcinfo, 0);
	core::CivilDate date {0, 0, 0};
	bool valid = false;
	GuardedRun([&] {
		if (auto d = core::ResidentIdBirthDate(value)) {
			date = *d;
			valid = true;
		}
	});
	if (!valid)
		PG_RETURN_NULL();
	PG_RETURN_DATEADT(date2j(date.year, date.month, date.day) - POSTGRES_EPOCH_JDATE);
}

// elicense.pem_problem(kind text, pem text) -> text: why pem is not a
// private_key / public_key / certificate, or NULL (the key triggers).
ELICENSE_FUNCTION(elicense_pem_problem) {
	std::string_view kind = ArgText(fcinfo, 0);
	std::string_view pem = ArgText(fcinfo, 1);
	Datum result = 0;
	bool valid = true;
	GuardedRun([&] {
		if (auto p = core::PemProblem(kind, pem)) {
			result = TextDatum(*p);
			valid = false;
		}
	});
	if (valid)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(result);
}
