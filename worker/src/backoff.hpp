// Retry pacing: capped exponential backoff with jitter, and a token bucket
// that bounds the request rate toward the platform.
#pragma once

#include <chrono>
#include <random>

namespace elicense::worker {

using Clock = std::chrono::steady_clock;
using Millis = std::chrono::milliseconds;

struct BackoffPolicy {
	Millis base {500};
	Millis cap {5 * 60 * 1000};
	int max_attempts = 10;  // after this many attempts a step is dead
};

// Delay before attempt `attempt + 1`, given `attempt` failed attempts so far
// (>= 1): "equal jitter", uniformly in [d/2, d] with d = min(cap, base * 2^(attempt-1)),
// so retries spread out but never come sooner than half the nominal delay.
Millis BackoffDelay(const BackoffPolicy &policy, int attempt, std::mt19937_64 &rng);

// Allows `rate` requests per second on average with bursts of `burst`.
class TokenBucket {
public:
	TokenBucket(double rate_per_s, double burst);
	// Takes one token if available at `now`.
	bool TryTake(Clock::time_point now);
	// Time until a token is available (zero if one is).
	Millis WaitTime(Clock::time_point now);

private:
	void Refill(Clock::time_point now);
	double rate_per_s_;
	double burst_;
	double tokens_;
	Clock::time_point last_;
};

}  // namespace elicense::worker
