// Logging for both daemons (elicense-sync, elicense-preview): one JSON object per line on stderr, e.g.
//   {"ts":"2026-11-23T09:40:01.123Z","level":"info","event":"step_done","step":"assign",…}
// Values that may hold a token are masked before they are written.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

namespace elicense::common {

void LogEvent(const char *level, const char *event, nlohmann::json fields = nlohmann::json::object());

// Replaces the value of every access_token / client_secret / token query or
// form parameter with "***".
std::string MaskSecrets(std::string_view text);

}  // namespace elicense::common
