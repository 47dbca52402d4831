#include "token_cache.hpp"

#include <algorithm>
#include <cmath>

namespace elicense::worker {

bool TokenCache::NeedsRefresh(Clock::time_point now) const {
	return token_.empty() || now >= refresh_at_;
}

bool TokenCache::Usable(Clock::time_point now) const {
	return !token_.empty() && now < expires_at_;
}

void TokenCache::Store(std::string token, int expires_in_s, Clock::time_point now) {
	int margin_s = std::min(std::clamp(expires_in_s / 10, 5, 120), expires_in_s / 2);
	token_ = std::move(token);
	refresh_at_ = now + std::chrono::seconds(std::max(0, expires_in_s - margin_s));
	expires_at_ = now + std::chrono::seconds(std::max(0, expires_in_s));
}

void TokenCache::Invalidate() {
	token_.clear();
}

TokenRetry::TokenRetry(Millis base, Millis cap, Millis floor) : base_(base), cap_(cap), floor_(floor) {
}

Millis TokenRetry::Failed(Clock::time_point now) {
	++failures_;
	double nominal = static_cast<double>(base_.count()) * std::ldexp(1.0, std::min(failures_ - 1, 30));
	Millis wait(static_cast<Millis::rep>(std::min(nominal, static_cast<double>(cap_.count()))));
	next_fetch_ = now + wait;
	return wait;
}

void TokenRetry::Succeeded() {
	failures_ = 0;
	next_fetch_ = {};
}

}  // namespace elicense::worker
