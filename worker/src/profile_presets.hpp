// The shipped profiles of the worker (PLATFORM.md "Transport", "Request
// items", "Provincial relay"): what each fills in before the config file's
// own keys are applied.
//   direct     the national gateway: its token path and the observed W032
//              paths; W050 has only a TEST check path (a warning at start);
//              every other W050 path, and any query path, must be configured
//   relay-sm4  a provincial relay with the SM4 envelope: nothing is known in
//              advance; the token endpoint and every path are configured
#pragma once

#include <map>
#include <string>
#include <string_view>

namespace elicense::worker {

inline constexpr std::string_view kProfileDirect = "direct";
inline constexpr std::string_view kProfileRelaySm4 = "relay-sm4";

inline constexpr std::string_view kTypeW032 = "11100000000013338W032";
inline constexpr std::string_view kTypeW050 = "11100000000013338W050";
// The only W050 path seen in a client, and it is a test endpoint.
inline constexpr std::string_view kW050TestCheckPath = "/epoint-gateway/axzchecktest/rest/axzcheckrest/Axz_Check";

// licence type code (or "*": every type) → catalogue step → path
using PathTable = std::map<std::string, std::map<std::string, std::string>>;

struct ProfilePreset {
	std::string token_path;  // appended to platform.base_url; empty: must be configured
	PathTable paths;
};

// The preset of a profile name; throws std::runtime_error for an unknown name.
ProfilePreset PresetOf(std::string_view profile);

}  // namespace elicense::worker
