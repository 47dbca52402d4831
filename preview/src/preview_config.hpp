// Preview server configuration: a JSON file, some keys overridable by flags.
// It holds no secret: the token key stays in the database (the server calls
// elicense.preview_open / preview_ofd as a member of elicense_preview). The
// database password, if any, comes from libpq's usual places (~/.pgpass,
// PGPASSFILE), never from this file.
#pragma once

#include <cstddef>
#include <string>

namespace elicense::preview {

struct Config {
	std::string conninfo;                // libpq conninfo; empty: PG* environment
	std::string listen = "127.0.0.1";
	int port = 8088;                     // 0: any free port (printed at start)
	std::string path_prefix = "/p/";     // the URL template's path up to {token}
	int threads = 8;                     // HTTP worker threads = database connections
	int max_concurrent_renders = 2;      // OFD->PNG renders at once; more wait, then 503
	int render_wait_ms = 3000;           // how long a request waits for a render slot
	std::size_t cache_bytes = 64u << 20; // rendered PNGs kept, by content hash
	double pixels_per_mm = 150 / 25.4;   // 150 dpi: a QR module is ~5 px
	int read_timeout_ms = 5000;
	int write_timeout_ms = 10000;
	int keep_alive_timeout_ms = 5000;
	std::size_t max_request_bytes = 8192; // request body limit (GET has none)
	int retry_after_s = 2;               // Retry-After of a 503
	bool trust_forwarded_for = false;    // take the client from X-Forwarded-For (behind a proxy)
};

// Reads `path` (empty: defaults). Throws std::runtime_error naming the key.
Config LoadConfig(const std::string &path);

// Parses a config file's text (what LoadConfig does after reading it);
// `source` names the file in errors. Throws std::runtime_error, and returns
// only configs that pass CheckConfig.
Config ParseConfig(const std::string &text, const std::string &source);

// Throws std::runtime_error if a value is out of range.
void CheckConfig(const Config &config);

}  // namespace elicense::preview
