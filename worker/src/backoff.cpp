#include "backoff.hpp"

#include <algorithm>
#include <cmath>

namespace elicense::worker {

Millis BackoffDelay(const BackoffPolicy &policy, int attempt, std::mt19937_64 &rng) {
	int exponent = std::clamp(attempt - 1, 0, 30);
	double nominal = std::min(static_cast<double>(policy.cap.count()),
	                          static_cast<double>(policy.base.count()) * std::ldexp(1.0, exponent));
	std::uniform_real_distribution<double> jitter(nominal / 2, nominal);
	return Millis(static_cast<Millis::rep>(jitter(rng)));
}

TokenBucket::TokenBucket(double rate_per_s, double burst)
    : rate_per_s_(rate_per_s), burst_(std::max(1.0, burst)), tokens_(burst_), last_(Clock::now()) {
}

void TokenBucket::Refill(Clock::time_point now) {
	if (now <= last_)
		return;
	double elapsed_s = std::chrono::duration<double>(now - last_).count();
	tokens_ = std::min(burst_, tokens_ + elapsed_s * rate_per_s_);
	last_ = now;
}

bool TokenBucket::TryTake(Clock::time_point now) {
	if (rate_per_s_ <= 0)
		return true;  // unlimited
	Refill(now);
	if (tokens_ < 1.0)
		return false;
	tokens_ -= 1.0;
	return true;
}

Millis TokenBucket::WaitTime(Clock::time_point now) {
	if (rate_per_s_ <= 0)
		return Millis(0);
	Refill(now);
	if (tokens_ >= 1.0)
		return Millis(0);
	return Millis(static_cast<Millis::rep>(std::ceil((1.0 - tokens_) / rate_per_s_ * 1000.0)));
}

}  // namespace elicense::worker
