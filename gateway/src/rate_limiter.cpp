#include "rate_limiter.hpp"

#include <algorithm>
#include <cmath>

namespace elicense::gateway {

bool RateLimiter::Take(const std::string &key, double rate, double burst, Clock::time_point now, int &retry_after_s) {
	std::lock_guard<std::mutex> lock(mu_);
	if (now - last_sweep_ > std::chrono::minutes(1)) {
		for (auto it = buckets_.begin(); it != buckets_.end();)
			it = now - it->second.last > std::chrono::minutes(1) ? buckets_.erase(it) : std::next(it);
		last_sweep_ = now;
	}
	auto [it, fresh] = buckets_.try_emplace(key);
	Bucket &b = it->second;
	if (fresh) {
		b.tokens = burst;
	} else {
		double elapsed = std::chrono::duration<double>(now - b.last).count();
		b.tokens = std::min(burst, b.tokens + elapsed * rate);
	}
	b.last = now;
	if (b.tokens >= 1) {
		b.tokens -= 1;
		return true;
	}
	retry_after_s = std::max(1, static_cast<int>(std::ceil((1 - b.tokens) / rate)));
	return false;
}

}  // namespace elicense::gateway
