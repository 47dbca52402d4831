// The test double's knowledge of what the national platform accepts: the
// rules of tests/double/platform_spec.json (written by hand from
// ../shared/PLATFORM.md) and the formats they name. Independent of the
// worker and of our SQL catalogue on purpose: a field name both of them get
// wrong must still be refused here.
#pragma once

#include <nlohmann/json.hpp>

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace elicense::testdouble {

// One thing wrong with one field of a request item.
struct Violation {
	std::string field;
	std::string problem;
	std::string Message() const {
		return field + ": " + problem;
	}
};

// ISO/IEC 7064 MOD 37,36 check character over `payload` (characters 0-9 and
// A-Z), as PLATFORM.md states the rule; '\0' if another character occurs or
// the payload is empty.
char Mod37_36CheckCharacter(std::string_view payload);

// Why `identifier` is not a well-formed GB/T 36904 licence identifier of
// `type_code` with a correct check character, or nullopt if it is.
std::optional<std::string> IdentifierProblem(std::string_view identifier, std::string_view type_code);

// The rules of one spec document. Licence types are named by their last four
// characters ("W032", "W050"); steps as in the spec (check, assign, collect,
// status_update, key_change, query).
class PlatformSpec {
public:
	// Parses a spec document; throws std::runtime_error naming what is malformed.
	explicit PlatformSpec(const nlohmann::json &document);
	// tests/double/platform_spec.json as compiled into the binary.
	static const nlohmann::json &BuiltinDocument();

	bool HasStep(const std::string &type, const std::string &step) const;
	// "11100000000013338W032" for "W032"; throws for an unknown type.
	const std::string &TypeCode(const std::string &type) const;
	std::vector<std::string> Types() const;

	// Everything wrong with `item` for this type and step; empty if it is
	// acceptable. Violations come in the spec's field order, then extra fields.
	std::vector<Violation> Check(const std::string &type, const std::string &step, const nlohmann::json &item) const;

private:
	struct Condition {
		std::string field;
		std::vector<std::string> in;
	};
	struct Field {
		std::string name;
		bool required = false;
		std::optional<Condition> required_when, absent_when, absent_unless;
		std::string format;
		std::vector<std::string> codes;
		std::string id_type_field;
	};
	struct Step {
		std::vector<Field> fields;
		std::vector<std::string> one_of;
	};
	struct Type {
		std::string type_code;
		std::map<std::string, Step> steps;
	};

	std::optional<std::string> ValueProblem(const Type &type, const Field &field, const nlohmann::json &value,
	                                        const nlohmann::json &item) const;

	std::map<std::string, Type> types_;
};

}  // namespace elicense::testdouble
