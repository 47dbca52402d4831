// A budget of access rows per token. Every request with a genuine token
// used to call preview_open, which writes a row to elicense.preview_access:
// one public URL requested in a loop added ~1,500 rows a second, forever.
// Now each token has a token bucket (`rows_per_minute`, up to `burst` at
// once): a request within it asks the database (and so is recorded); one
// beyond it is answered from the state the last recorded request of that
// token saw, without a database call, and counted in dropped(). So a
// hammered link writes at most burst + rows_per_minute rows a minute, and
// what it shows is at most 60 / rows_per_minute seconds old (a bucket
// refills a row in that time, and the next request then asks again). A
// cached 200 is not used past the token's expiry. Thread-safe.
#pragma once

#include "preview_store.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <list>
#include <mutex>
#include <string>
#include <unordered_map>

namespace elicense::preview {

class AccessBudget {
public:
	using Clock = std::chrono::steady_clock;

	// `max_tokens`: tokens tracked at once (least recently used forgotten).
	AccessBudget(double rows_per_minute, int burst, std::size_t max_tokens = 10000);

	// True: ask the database (the request will be recorded). False: `state`
	// holds the last recorded state of this token; answer from it.
	// `unix_now`: wall-clock seconds, for the token's expiry.
	bool Take(const std::string &token, Clock::time_point now, std::int64_t unix_now, PreviewState &state);
	// The state the database gave for a request Take let through.
	void Remember(const std::string &token, const PreviewState &state);

	long long dropped() const noexcept {
		return dropped_.load();
	}
	std::size_t tracked() const;

private:
	struct Entry {
		double level = 0;            // rows the token may still write now
		Clock::time_point refilled;  // when `level` was last brought up to date
		bool has_state = false;
		PreviewState state;
		std::list<std::string>::iterator lru;
	};

	double per_second_;
	double burst_;
	std::size_t max_tokens_;
	mutable std::mutex mu_;
	std::unordered_map<std::string, Entry> entries_;
	std::list<std::string> lru_;  // most recent first
	std::atomic<long long> dropped_ {0};
};

}  // namespace elicense::preview
