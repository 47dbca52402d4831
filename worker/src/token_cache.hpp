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

// Pacing of token fetches after the endpoint refused or failed: the n-th
// consecutive failure waits min(cap, base * 2^(n-1)) before the next fetch,
// so a refusing endpoint costs one request per interval, never a busy loop.
class TokenRetry {
public:
	explicit TokenRetry(Millis base = Millis(1000), Millis cap = Millis(60000));
	bool MayFetch(Clock::time_point now) const {
		return now >= next_fetch_;
	}
	Clock::time_point next_fetch() const {
		return next_fetch_;
	}
	int failures() const {
		return failures_;
	}
	// Returns the wait before the next fetch.
	Millis Failed(Clock::time_point now);
	void Succeeded();

private:
	Millis base_, cap_;
	int failures_ = 0;
	Clock::time_point next_fetch_ {};
};

}  // namespace elicense::worker
