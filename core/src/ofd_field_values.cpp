// Licence field values from JSON (the SQL function's jsonb, the CLI's file).
#include "elicense/error.hpp"
#include "elicense/ofd_writer.hpp"

#include <nlohmann/json.hpp>

namespace elicense::core {

OfdFieldValues ParseOfdFieldValues(std::string_view json_text) {
	nlohmann::json json = nlohmann::json::parse(json_text.begin(), json_text.end(), nullptr, false);
	if (json.is_discarded())
		throw Error(sqlstate::kInvalidTextRepresentation, "licence field values are not valid JSON");
	if (!json.is_object())
		throw Error(sqlstate::kInvalidParameterValue, "licence field values must be a JSON object of strings");
	OfdFieldValues values;
	for (const auto &[key, value] : json.items()) {
		if (value.is_null())
			values[key] = std::string();
		else if (value.is_string())
			values[key] = value.get<std::string>();
		else
			throw Error(sqlstate::kInvalidParameterValue, "licence field " + key + " is not a string",
			            "write numbers and dates as the text the licence shows");
	}
	return values;
}

}  // namespace elicense::core
