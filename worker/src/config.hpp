// Worker configuration: a JSON file, overridable by command-line flags.
// Secrets (client secrets, the relay's SM4 key) come from the environment or
// from files only their owner can read; they live in this struct only, are
// never logged (see elicense/common/log.hpp) and never sent anywhere but where they belong
// (the token endpoint; the SM4 key is never sent at all).
//
//   { "profile": "direct" | "relay-sm4",            (default "direct"; profile_presets.hpp)
//     "platform": { "base_url", "backup_url", "token_path", "token_url" (absolute, wins),
//                   "request_timeout_ms", "connect_timeout_ms", "max_answer_bytes",
//                   "failures_to_switch", "probe_interval_ms",
//                   "client_id", "client_secret_file",    (= the "*" credentials)
//                   "paths": {"<type>/<step>": "/…"} },   (older form of "paths")
//     "credentials": { "<type code>" | "*": {"client_id", "client_secret_file"} },
//     "paths": { "<type code>" | "*": {"<catalogue step>": "/…"} },
//     "unknown_outcome": "query" | "resend" | "hold",  (default "query"; step_plan.hpp)
//     "already_done_patterns": ["已存在", "重复"],
//     "relay": { "citynum": "350100", "sm4_key_file": "/…" },   (key also from ELICENSE_SM4_KEY)
//     "in_flight", "lease_seconds", "poll_interval_ms", "summary_interval_ms", "expire_interval_ms", "expire_batch",
//     "stop_grace_ms",
//     "rate_per_s", "burst", "stock_share", "backoff": {"base_ms", "cap_ms", "max_attempts"}, "conninfo", "worker_id" }
// ELICENSE_CLIENT_SECRET, when set, is the "*" credentials' secret.
#pragma once

#include "backoff.hpp"
#include "circuit_breaker.hpp"
#include "profile_presets.hpp"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace elicense::worker {

enum class UnknownOutcome { kQuery, kResend, kHold };

const char *UnknownOutcomeName(UnknownOutcome rule);

struct Credential {
	std::string client_id;
	std::string client_secret;
};

struct Config {
	std::string conninfo;   // libpq conninfo; empty: PG* environment
	std::string worker_id;  // empty: host:pid
	std::string profile = std::string(kProfileDirect);
	std::string base_url;                           // gateway (or relay) of the business calls
	std::string backup_url;                         // optional second gateway
	std::string token_url;                          // OAuth2 token endpoint, resolved (absolute)
	std::map<std::string, Credential> credentials;  // type code or "*"
	PathTable paths;                                // preset, then the config's own paths
	UnknownOutcome unknown_outcome = UnknownOutcome::kQuery;
	std::vector<std::string> already_done_patterns {"已存在", "重复"};
	std::string relay_citynum;  // relay-sm4: city division code for licences of a provincial authority
	std::string sm4_key;        // relay-sm4: 16 bytes
	// Concurrent requests (and connections); four times as many steps leased
	// (DeliveryLoop::LeaseRoom).
	// 32: with the platform answering in 5 ms one worker may send 6,400
	// requests/s (in_flight / latency). With 16 it reached 740-1,200/s in
	// bench/sync.sh, with 32 1,760-2,040/s (larger leases and groups: the
	// database's cost per step fell from ~0.6 to ~0.4 ms).
	int in_flight = 32;
	int lease_seconds = 60;
	int poll_interval_ms = 2000;      // look for due rows even without NOTIFY
	int summary_interval_ms = 10000;  // progress/backlog log line
	int expire_interval_ms = 300000;  // elicense.expire_due every so often (and at start); 0: never (pg_cron does it)
	int expire_batch = 1000;          // licences per expire_due call (a full batch calls again at once)
	int stop_grace_ms = 20000;        // after SIGTERM: how long requests in flight may still finish
	long request_timeout_ms = 30000;
	long connect_timeout_ms = 5000;
	long max_answer_bytes = 1048576;  // a longer answer is cut off: outcome unknown
	double rate_per_s = 0;            // 0: unlimited
	double burst = 10;
	double stock_share = 0.2;  // of the rate, for stock steps while live steps wait (lane_share.hpp)
	BackoffPolicy backoff;
	int failures_to_switch = 5;
	int probe_interval_ms = 30000;
	BreakerPolicy breaker;  // "breaker": {"failures", "probe_base_ms", "probe_cap_ms"}
	// Group commit of results: recorded in one transaction every
	// result_batch_ms (default 5), or at once when result_batch_max are
	// waiting; 0: each call in its own transaction as it comes. It cuts the
	// database round trips (and commits) per request about 3 times.
	int result_batch_ms = 5;
	int result_batch_max = 64;
	// A group goes to the database as one elicense.record_results call
	// (set-based: one statement per kind of row for the whole group); false
	// sends one call per attempt row and per result in one pipeline (the
	// way before record_results, kept as the benchmark's baseline). An
	// extension without record_results gets the pipeline either way.
	bool result_set_based = true;
};

// Reads `path` (may be empty: defaults and environment only). Throws
// std::runtime_error naming the problem (never a secret).
Config LoadConfig(const std::string &path);

// Things worth a warning at start (a test path in the preset, settings the
// profile ignores); empty when there is nothing to say.
std::vector<std::string> ConfigWarnings(const Config &config);

// The path of a catalogue step for a licence type (its own entry, else "*"),
// or nothing when none is configured.
std::optional<std::string> PathFor(const Config &config, const std::string &type_code, std::string_view step);

// The credentials of a licence type (its own, else "*"), or nullptr.
const Credential *CredentialFor(const Config &config, const std::string &type_code);

// Reads a secret file, refusing one that group or others may read.
std::string ReadSecretFile(const std::string &path);

}  // namespace elicense::worker
