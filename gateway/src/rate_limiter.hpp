// Per-application token buckets of one gateway instance: an application may
// make `rate` requests a second with bursts of `burst`. Each instance keeps
// its own buckets (instances share nothing but the database), so behind N
// instances an application gets up to N times the rate: README says how to
// set it. Buckets idle for a minute are dropped.
#pragma once

#include <chrono>
#include <mutex>
#include <string>
#include <unordered_map>

namespace elicense::gateway {

class RateLimiter {
public:
	using Clock = std::chrono::steady_clock;

	// Takes one request from `key`'s bucket; false (and the seconds until one
	// is free in retry_after_s) when it is empty.
	bool Take(const std::string &key, double rate, double burst, Clock::time_point now, int &retry_after_s);

private:
	struct Bucket {
		double tokens = 0;
		Clock::time_point last;
	};
	std::mutex mu_;
	std::unordered_map<std::string, Bucket> buckets_;
	Clock::time_point last_sweep_ {};
};

}  // namespace elicense::gateway
