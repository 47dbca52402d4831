#include "profile_presets.hpp"

#include <stdexcept>

namespace elicense::worker {

ProfilePreset PresetOf(std::string_view profile) {
	if (profile == kProfileDirect)
		return {"/epoint-soa-web/rest/oauth2/token",
		        {{std::string(kTypeW032),
		          {{"validate", "/epoint-gateway/tzrycheck/rest/tzryzsrest/tzry_check"},
		           {"assign_code", "/epoint-gateway/tzryfm/rest/tzryzsrest/tzry_fm"},
		           {"collect", "/epoint-gateway/tzryhj/rest/tzryzsrest/tzry_gj"},
		           {"status_update", "/epoint-gateway/tzryfm/rest/tzryzsrest/tzry_update"},
		           {"key_change", "/epoint-gateway/tzryfm/rest/tzryrest/Tzry_Change"}}},
		         {std::string(kTypeW050), {{"validate", std::string(kW050TestCheckPath)}}}}};
	if (profile == kProfileRelaySm4)
		return {};
	throw std::runtime_error("config key profile must be \"direct\" or \"relay-sm4\", not \"" + std::string(profile) +
	                         "\"");
}

}  // namespace elicense::worker
