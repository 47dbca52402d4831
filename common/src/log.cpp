#include "elicense/common/log.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

namespace elicense::common {
namespace {

std::string NowIso8601() {
	auto now = std::chrono::system_clock::now();
	std::time_t secs = std::chrono::system_clock::to_time_t(now);
	int millis =
	    static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000);
	std::tm tm {};
	gmtime_r(&secs, &tm);
	char buf[64];
	std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
	              tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
	return buf;
}

}  // namespace

void LogEvent(const char *level, const char *event, nlohmann::json fields) {
	static std::mutex mu;
	nlohmann::json line = {{"ts", NowIso8601()}, {"level", level}, {"event", event}};
	for (auto it = fields.begin(); it != fields.end(); ++it)
		line[it.key()] = it->is_string() ? nlohmann::json(MaskSecrets(it->get<std::string>())) : *it;
	std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
	std::lock_guard<std::mutex> lock(mu);
	std::fprintf(stderr, "%s\n", text.c_str());
	std::fflush(stderr);
}

std::string MaskSecrets(std::string_view text) {
	static constexpr std::string_view kKeys[] = {"access_token=", "client_secret=", "refresh_token="};
	std::string out(text);
	for (std::string_view key : kKeys) {
		for (std::size_t pos = out.find(key); pos != std::string::npos; pos = out.find(key, pos)) {
			pos += key.size();
			std::size_t end = out.find_first_of("&# \"'", pos);
			out.replace(pos, (end == std::string::npos ? out.size() : end) - pos, "***");
		}
	}
	return out;
}

}  // namespace elicense::common
