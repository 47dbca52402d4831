// The OAuth2 access token: cached, refreshed shortly before it expires (in
// the background: the current token stays in use until it expires), and
// dropped when the platform refuses it, so the next request fetches a new one.
#pragma once

#include "backoff.hpp"

#include <algorithm>
#include <string>

namespace elicense::worker {

class TokenCache {
public:
	// True if there is no token or it expires within the refresh margin
	// (10% of its lifetime, at least 5 s, at most 120 s, and never more than
	// half of it, so a short-lived token is still used before it is renewed).
	bool NeedsRefresh(Clock::time_point now) const;
	// True if there is a token that has not expired.
	bool Usable(Clock::time_point now) const;
	void Store(std::string token, int expires_in_s, Clock::time_point now);
	void Invalidate();
	const std::string &token() const {
		return token_;
	}

private:
	std::string token_;
	Clock::time_point refresh_at_ {};
	Clock::time_point expires_at_ {};
};

// Pacing of token fetches: the n-th consecutive failure waits
// min(cap, base * 2^(n-1)) before the next fetch, so a refusing endpoint
// costs one request per interval, never a busy loop; and fetches start at
// most once per `floor` even when they succeed (a platform handing out
// tokens that expire at once must not be asked in a loop either).
class TokenRetry {
public:
	explicit TokenRetry(Millis base = Millis(1000), Millis cap = Millis(60000), Millis floor = Millis(1000));
	bool MayFetch(Clock::time_point now) const {
		return now >= next_fetch();
	}
	Clock::time_point next_fetch() const {
		return std::max(next_fetch_, last_start_ + floor_);
	}
	void Started(Clock::time_point now) {
		last_start_ = now;
	}
	int failures() const {
		return failures_;
	}
	// Returns the wait before the next fetch.
	Millis Failed(Clock::time_point now);
	void Succeeded();

private:
	Millis base_, cap_, floor_;
	int failures_ = 0;
	Clock::time_point next_fetch_ {};
	Clock::time_point last_start_ {};  // steady clock epoch: long past
};

}  // namespace elicense::worker
