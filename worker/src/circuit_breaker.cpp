#include "circuit_breaker.hpp"

#include <algorithm>
#include <cmath>

namespace elicense::worker {

bool CircuitBreaker::Sending() {
	if (!open_)
		return false;
	probe_out_ = true;
	return true;
}

bool CircuitBreaker::Answered() {
	bool was_open = open_;
	open_ = probe_out_ = false;
	failures_ = probes_failed_ = 0;
	return was_open;
}

bool CircuitBreaker::Failed(Clock::time_point now, bool probe) {
	++failures_;
	if (!open_) {
		if (policy_.threshold <= 0 || failures_ < policy_.threshold)
			return false;
		open_ = true;
		probe_out_ = false;
		probes_failed_ = 0;
		opened_at_ = now;
		next_probe_ = now + policy_.probe_base;
		return true;
	}
	if (probe) {  // failures of requests sent before it opened change nothing
		probe_out_ = false;
		++probes_failed_;
		double wait = static_cast<double>(policy_.probe_base.count()) * std::ldexp(1.0, std::min(probes_failed_, 30));
		next_probe_ =
		    now + Millis(static_cast<Millis::rep>(std::min(wait, static_cast<double>(policy_.probe_cap.count()))));
	}
	return false;
}

void CircuitBreaker::ProbeLost(Clock::time_point now) {
	if (open_ && probe_out_) {
		probe_out_ = false;
		next_probe_ = std::max(next_probe_, now);
	}
}

}  // namespace elicense::worker
