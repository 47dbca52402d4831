// Gateway configuration: a JSON file, some keys overridable by flags. It
// holds no secret: applications' secrets are hashes in the database, and the
// database password, if any, comes from libpq's usual places (~/.pgpass,
// PGPASSFILE), never from this file.
#pragma once

#include <cstddef>
#include <string>

namespace elicense::gateway {

struct Config {
	std::string conninfo;  // libpq conninfo of the gateway's login (NOINHERIT, member of elicense_gateway)
	std::string listen = "127.0.0.1";
	int port = 8089;              // 0: any free port (printed at start)
	std::string public_base_url;  // how clients reach this service (download links); empty: http://listen:port
	int threads = 8;              // HTTP worker threads = database connections
	int statement_timeout_ms = 10000;
	int token_lifetime_s = 900;  // access tokens (60-86400)
	int token_cache_s = 5;       // a checked token is trusted this long without asking the database
	int link_lifetime_s = 300;   // download links, unless the request asks for less (expirySeconds)
	int max_link_lifetime_s = 3600;
	int token_requests_per_second = 2;  // per application id, against secret guessing
	// The front end's limits (preview/src/http_front_end.hpp).
	int request_timeout_ms = 10000;
	int write_timeout_ms = 20000;
	int keep_alive_timeout_ms = 5000;
	std::size_t max_header_bytes = 8192;
	int max_header_count = 64;
	std::size_t max_request_bytes = 8u << 20;  // a file to verify, Base64 in JSON
	int max_connections = 512;
	int max_connections_per_client = 64;
	int max_queued_requests = 256;
	int retry_after_s = 1;
	bool trust_forwarded_for = false;  // behind the reverse proxy: take the client from X-Forwarded-For
};

// Reads `path` (empty: defaults). Throws std::runtime_error naming the key.
Config LoadConfig(const std::string &path);
// Throws std::runtime_error if a value is out of range.
void CheckConfig(const Config &config);

}  // namespace elicense::gateway
