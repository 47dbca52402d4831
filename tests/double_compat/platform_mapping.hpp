// Stand-in for worker/src/platform_mapping.hpp, which issue 15 removed (the
// worker no longer knows any field names). Only the old test double in
// tests/double includes it; the double's rewrite (its own data from
// PLATFORM.md) drops that include, and then this directory goes away.
#pragma once

#include "step_names.hpp"

#include <nlohmann/json.hpp>

#include <string>

namespace elicense::worker {

// The licence identifier an AcceptData item is about.
inline std::string ItemIdentifier(const nlohmann::json &item) {
	for (const char *key : {"eCertID", "zzeCertID"})
		if (auto it = item.find(key); it != item.end() && it->is_string())
			return it->get<std::string>();
	return {};
}

}  // namespace elicense::worker
