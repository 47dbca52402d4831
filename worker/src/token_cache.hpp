// The OAuth2 access token: cached, refreshed shortly before it expires, and
// dropped when the platform refuses it, so the next request fetches a new one.
#pragma once

#include "backoff.hpp"

#include <string>

namespace elicense::worker {

class TokenCache {
public:
	// True if there is no token or it expires within the refresh margin
	// (10% of its lifetime, at least 5 s, at most 120 s).
	bool NeedsRefresh(Clock::time_point now) const;
	void Store(std::string token, int expires_in_s, Clock::time_point now);
	void Invalidate();
	const std::string &token() const {
		return token_;
	}

private:
	std::string token_;
	Clock::time_point refresh_at_ {};
};

}  // namespace elicense::worker
