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
	std::string conninfo;  // libpq conninfo; empty: PG* environment
	std::string listen = "127.0.0.1";
	int port = 8088;                      // 0: any free port (printed at start)
	std::string path_prefix = "/p/";      // the URL template's path up to {token}
	int threads = 8;                      // HTTP worker threads = database connections
	int max_concurrent_renders = 2;       // OFD->PNG renders at once; more wait, then 503
	int render_wait_ms = 3000;            // how long a request waits for a render slot
	std::size_t cache_bytes = 64u << 20;  // rendered PNGs kept, by content hash
	double pixels_per_mm = 150 / 25.4;    // 150 dpi: a QR module is ~5 px
	// Slow and oversized clients (http_front_end.hpp): limits on the request
	// before any worker thread sees it.
	int request_timeout_ms = 5000;         // request line + headers + body, from the request's first byte
	int write_timeout_ms = 10000;          // the whole answer
	int keep_alive_timeout_ms = 5000;      // idle between requests
	std::size_t max_header_bytes = 8192;   // request line + headers (431 beyond)
	int max_header_count = 64;             // header lines (431 beyond)
	std::size_t max_request_bytes = 8192;  // request body (413 beyond; GET has none)
	int max_connections = 512;             // open connections in all (503 beyond)
	int max_connections_per_client = 8;    // open connections per client address (429 beyond)
	int max_queued_requests = 64;          // whole requests waiting for a thread (503 beyond)
	// Rows in elicense.preview_access per token (access_budget.hpp).
	double access_rows_per_minute = 12;
	int access_rows_burst = 6;
	int retry_after_s = 2;             // Retry-After of a 503 or 429
	bool trust_forwarded_for = false;  // take the client from X-Forwarded-For (behind a proxy)
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
