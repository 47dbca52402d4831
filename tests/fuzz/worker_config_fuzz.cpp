// libFuzzer target for the worker's config file parser: any file content
// either loads or raises std::runtime_error with a message, never crashes,
// and a loaded config satisfies the invariants LoadConfig promises and holds
// its whole-number keys as written.
#include "config.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <unistd.h>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
	static const std::string path = "/tmp/elicense_config_fuzz_" + std::to_string(getpid()) + ".json";
	FILE *f = std::fopen(path.c_str(), "wb");
	if (f == nullptr)
		return 0;
	std::fwrite(data, 1, size, f);
	std::fclose(f);
	unsetenv("ELICENSE_CLIENT_SECRET");
	try {
		elicense::worker::Config c = elicense::worker::LoadConfig(path);
		if (c.in_flight < 1 || c.lease_seconds < 5 || c.backoff.max_attempts < 1 || c.worker_id.empty())
			std::abort();
		auto doc = nlohmann::json::parse(data, data + size);
		auto as_written = [&](const char *key, long value) {
			if (doc.contains(key) && !doc[key].is_null() && doc[key].get<long>() != value)
				std::abort();
		};
		as_written("in_flight", c.in_flight);
		as_written("lease_seconds", c.lease_seconds);
	} catch (const std::runtime_error &e) {
		if (std::string(e.what()).empty())
			std::abort();
	}
	return 0;
}
