// Worker configuration: a JSON file, overridable by command-line flags, with
// the client secret from the environment (ELICENSE_CLIENT_SECRET) or from a
// file only its owner can read. The secret lives in this struct only; it is
// never logged (see log.hpp) and never sent anywhere but the token endpoint.
#pragma once

#include "backoff.hpp"

#include <map>
#include <string>

namespace elicense::worker {

struct Config {
	std::string conninfo;            // libpq conninfo; empty: PG* environment
	std::string worker_id;           // empty: host:pid
	std::string base_url;            // gateway of the business calls
	std::string backup_url;          // optional second gateway
	std::string token_url;           // OAuth2 token endpoint
	std::string client_id;
	std::string client_secret;
	std::map<std::string, std::string> paths;  // "<type code>/<step>" -> path; else DefaultPath
	int in_flight = 8;               // concurrent requests
	int lease_seconds = 60;
	int poll_interval_ms = 2000;     // look for due rows even without NOTIFY
	int summary_interval_ms = 10000; // progress/backlog log line
	long request_timeout_ms = 30000;
	long connect_timeout_ms = 5000;
	double rate_per_s = 0;           // 0: unlimited
	double burst = 10;
	BackoffPolicy backoff;
	int failures_to_switch = 5;
	int probe_interval_ms = 30000;
};

// Reads `path` (may be empty: defaults and environment only). Throws
// std::runtime_error naming the problem (never the secret).
Config LoadConfig(const std::string &path);

// Reads a secret file, refusing one that group or others may read.
std::string ReadSecretFile(const std::string &path);

}  // namespace elicense::worker
