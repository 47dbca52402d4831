#include "token_cache.hpp"

#include <algorithm>

namespace elicense::worker {

bool TokenCache::NeedsRefresh(Clock::time_point now) const {
	return token_.empty() || now >= refresh_at_;
}

void TokenCache::Store(std::string token, int expires_in_s, Clock::time_point now) {
	int margin_s = std::clamp(expires_in_s / 10, 5, 120);
	token_ = std::move(token);
	refresh_at_ = now + std::chrono::seconds(std::max(0, expires_in_s - margin_s));
}

void TokenCache::Invalidate() {
	token_.clear();
}

}  // namespace elicense::worker
