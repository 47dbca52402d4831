// libFuzzer target for the identifier parser and the validators. Besides
// "no crash, no sanitizer report" it checks their invariants:
//   - a parse that succeeds rebuilds to exactly the input;
//   - IsValidX(v) == !XProblem(v), and RequireX throws exactly when invalid;
//   - only elicense::core::Error ever escapes (anything else aborts).
#include "elicense/error.hpp"
#include "elicense/identifier.hpp"
#include "elicense/validators.hpp"

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

namespace core = elicense::core;

namespace {

void Check(bool condition) {
	if (!condition)
		std::abort();
}

template <typename Problem, typename IsValid, typename Require>
void CheckValidator(std::string_view v, Problem problem, IsValid is_valid, Require require) {
	bool valid = !problem(v);
	Check(is_valid(v) == valid);
	bool threw = false;
	try {
		require(v, "field");
	} catch (const core::Error &e) {
		threw = true;
		Check(std::string_view(e.sqlstate()).size() == 5);
	}
	Check(threw == !valid);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
	std::string_view input(reinterpret_cast<const char *>(data), size);

	bool parsed = false;
	core::IdentifierParts parts;
	try {
		parts = core::ParseIdentifier(input);
		parsed = true;
	} catch (const core::Error &) {
	}
	Check(parsed == !core::IdentifierProblem(input));
	if (parsed)
		Check(core::BuildIdentifier(parts.type_code, parts.issuer, parts.sequence, parts.version) == input);

	CheckValidator(input, core::UsccProblem, core::IsValidUscc, core::RequireUscc);
	CheckValidator(input, core::ResidentIdProblem, core::IsValidResidentId, core::RequireResidentId);
	CheckValidator(input, core::DivisionProblem, core::IsValidDivision, core::RequireDivision);
	CheckValidator(input, core::ProvinceCodeProblem, core::IsValidProvinceCode, core::RequireProvinceCode);

	// Build from fields separated by '|': type|issuer|sequence|version.
	std::string_view fields[4];
	std::string_view rest = input;
	for (auto &f : fields) {
		std::size_t bar = rest.find('|');
		f = rest.substr(0, bar);
		rest = bar == rest.npos ? std::string_view() : rest.substr(bar + 1);
	}
	int version = fields[3].empty() ? 0 : static_cast<unsigned char>(fields[3][0]) * 4 - 1;
	try {
		std::string id = core::BuildIdentifier(fields[0], fields[1], fields[2], version);
		Check(!core::IdentifierProblem(id));
	} catch (const core::Error &) {
	}
	return 0;
}
