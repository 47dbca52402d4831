#include "elicense/common/json_config.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>

namespace elicense::common {

std::string ReadConfigFile(const std::string &path) {
	std::ifstream in(path, std::ios::binary);
	if (!in)
		throw std::runtime_error("cannot read " + path);
	std::stringstream text;
	text << in.rdbuf();
	return text.str();
}

nlohmann::json ParseConfigObject(const std::string &text, const std::string &source,
                                 const std::vector<std::string_view> &known) {
	nlohmann::json doc = nlohmann::json::parse(text, nullptr, false);
	if (doc.is_discarded() || !doc.is_object())
		throw std::runtime_error("config file " + source + " is not a JSON object");
	for (auto it = doc.begin(); it != doc.end(); ++it)
		if (std::find(known.begin(), known.end(), it.key()) == known.end())
			throw std::runtime_error("unknown config key " + it.key());
	return doc;
}

void CheckConfigRange(const char *key, double value, double low, double high) {
	if (!(value >= low && value <= high))
		throw std::runtime_error(std::string("config key ") + key + " must be in " + std::to_string(low) + ".." +
		                         std::to_string(high));
}

}  // namespace elicense::common
