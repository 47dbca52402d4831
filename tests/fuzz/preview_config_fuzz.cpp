// libFuzzer target for the preview server's config parser (ParseConfig: what
// LoadConfig runs on the file's text). Any text either loads or raises
// std::runtime_error with a message (anything else escaping aborts the
// fuzzer as an uncaught exception). A config that loads:
//   - passes CheckConfig (main.cpp checks again after command-line overrides);
//   - holds every key's value exactly as written (no bool read as 1, no
//     80.5 cut to 80, no 4294967297 wrapped to 1);
//   - written back as JSON, loads as the same config.
#include "preview_config.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>

namespace {

using elicense::preview::Config;
using nlohmann::json;

json ToJson(const Config &c) {
	return json {{"conninfo", c.conninfo},
	             {"listen", c.listen},
	             {"port", c.port},
	             {"path_prefix", c.path_prefix},
	             {"threads", c.threads},
	             {"max_concurrent_renders", c.max_concurrent_renders},
	             {"render_wait_ms", c.render_wait_ms},
	             {"cache_bytes", c.cache_bytes},
	             {"pixels_per_mm", c.pixels_per_mm},
	             {"request_timeout_ms", c.request_timeout_ms},
	             {"write_timeout_ms", c.write_timeout_ms},
	             {"keep_alive_timeout_ms", c.keep_alive_timeout_ms},
	             {"max_header_bytes", c.max_header_bytes},
	             {"max_header_count", c.max_header_count},
	             {"max_request_bytes", c.max_request_bytes},
	             {"max_connections", c.max_connections},
	             {"max_connections_per_client", c.max_connections_per_client},
	             {"max_queued_requests", c.max_queued_requests},
	             {"access_rows_per_minute", c.access_rows_per_minute},
	             {"access_rows_burst", c.access_rows_burst},
	             {"retry_after_s", c.retry_after_s},
	             {"trust_forwarded_for", c.trust_forwarded_for}};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
	const std::string text(reinterpret_cast<const char *>(data), size);
	Config c;
	try {
		c = elicense::preview::ParseConfig(text, "fuzz.json");
	} catch (const std::runtime_error &e) {
		if (std::string(e.what()).empty())
			std::abort();
		return 0;
	}
	try {
		elicense::preview::CheckConfig(c);
	} catch (const std::runtime_error &) {
		std::abort();  // a loaded config the server would then refuse
	}
	// It loaded, so the text is a JSON object of known keys.
	const json written = json::parse(text);
	const json loaded = ToJson(c);
	for (auto it = written.begin(); it != written.end(); ++it)  // read_timeout_ms: the old name of request_timeout_ms
		if (!it->is_null() && loaded.at(it.key() == "read_timeout_ms" ? "request_timeout_ms" : it.key()) != *it)
			std::abort();  // the value used is not the value written
	if (ToJson(elicense::preview::ParseConfig(loaded.dump(), "round trip")) != loaded)
		std::abort();
	return 0;
}
