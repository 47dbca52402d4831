// The lane's circuit breaker. When the platform stops answering (requests
// not sent: refused, DNS, TLS; transport errors after sending; 5xx) for
// `threshold` requests in a row, whatever their steps, the breaker opens: the
// worker stops sending, keeps its leased steps waiting (their leases renewed)
// and sends one step at a time as a probe, at capped exponential intervals.
// Any answer of the platform closes it. So an outage costs a handful of
// attempts, not every open step's retry budget.
#pragma once

#include "backoff.hpp"

namespace elicense::worker {

struct BreakerPolicy {
	int threshold = 5;  // consecutive failures that open it; 0: never opens
	Millis probe_base {1000};
	Millis probe_cap {10000};
};

class CircuitBreaker {
public:
	explicit CircuitBreaker(BreakerPolicy policy) : policy_(policy) {
	}
	bool open() const {
		return open_;
	}
	// True if a request may go now: closed, or open with a probe due and none out.
	bool MaySend(Clock::time_point now) const {
		return !open_ || (!probe_out_ && now >= next_probe_);
	}
	// A request goes (after MaySend): true if it is the probe of an open breaker.
	bool Sending();
	// The platform answered (anything but an outage): closes it.
	// Returns true if it was open.
	bool Answered();
	// An outage failure. `probe`: the request was the probe. Returns true if
	// this failure opened the breaker.
	bool Failed(Clock::time_point now, bool probe);
	// The probe ended without telling anything (released, internal error).
	void ProbeLost(Clock::time_point now);
	// Open and waiting for the time of the next probe (no probe out).
	bool ProbeDue() const {
		return open_ && !probe_out_;
	}
	// When the next probe may go (meaningful while open).
	Clock::time_point next_probe() const {
		return next_probe_;
	}
	int failures() const {
		return failures_;
	}
	Clock::time_point opened_at() const {
		return opened_at_;
	}

private:
	BreakerPolicy policy_;
	bool open_ = false;
	bool probe_out_ = false;
	int failures_ = 0;       // consecutive outage failures
	int probes_failed_ = 0;  // while open
	Clock::time_point next_probe_ {}, opened_at_ {};
};

}  // namespace elicense::worker
