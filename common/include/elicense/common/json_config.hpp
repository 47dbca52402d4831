// Reading the daemons' JSON config files strictly: unknown keys are refused
// (a misspelt key would otherwise be ignored in silence), and each value must
// have its key's own JSON type: a value must have the key's own JSON type. nlohmann's
// get<T>() would turn true into 1, cut 80.5 to 80, wrap 4294967297 to 1 and
// convert an out-of-range float with undefined behaviour (found by
// tests/fuzz/preview_config_fuzz.cpp, which checks every value loads as written).
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace elicense::common {

// The whole text of the file at `path`; throws std::runtime_error naming it.
std::string ReadConfigFile(const std::string &path);

// Parses a config file's text (`source` names it in errors): a JSON object
// whose keys are all in `known`. Throws std::runtime_error otherwise.
nlohmann::json ParseConfigObject(const std::string &text, const std::string &source,
                                 const std::vector<std::string_view> &known);

// Throws std::runtime_error naming `key` unless low <= value <= high.
void CheckConfigRange(const char *key, double value, double low, double high);

// Sets out to obj[key] when the key is present and not null; throws
// std::runtime_error naming the key when the value does not fit T.
template <typename T>
void TakeConfigValue(const nlohmann::json &obj, const char *key, T &out) {
	auto it = obj.find(key);
	if (it == obj.end() || it->is_null())
		return;
	bool fits;
	if constexpr (std::is_same_v<T, bool>) {
		fits = it->is_boolean();
	} else if constexpr (std::is_integral_v<T>) {
		using Limits = std::numeric_limits<T>;
		if (it->is_number_unsigned())
			fits = it->template get<std::uint64_t>() <= static_cast<std::uint64_t>(Limits::max());
		else if (it->is_number_integer())  // negative
			fits = Limits::is_signed && it->template get<std::int64_t>() >= static_cast<std::int64_t>(Limits::min());
		else
			fits = false;
		if (!fits && it->is_number())
			throw std::runtime_error(std::string("config key ") + key + " must be a whole number in range");
	} else if constexpr (std::is_floating_point_v<T>) {
		fits = it->is_number();
	} else if constexpr (std::is_same_v<T, std::string>) {
		fits = it->is_string();
	} else {  // maps: an object of strings
		fits = it->is_object();
		if (fits)
			for (const auto &item : it->items())
				fits = fits && item.value().is_string();
	}
	if (!fits)
		throw std::runtime_error(std::string("config key ") + key + " has the wrong type");
	out = it->template get<T>();
}

}  // namespace elicense::common
