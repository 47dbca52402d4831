// Primary and optional backup endpoint: after `failures_to_switch`
// consecutive retryable failures on the primary the worker uses the backup,
// and every `probe_interval` it tries the primary again; one success there
// switches back.
#pragma once

#include "backoff.hpp"

#include <string>

namespace elicense::worker {

class EndpointSelector {
public:
	EndpointSelector(std::string primary, std::string backup, int failures_to_switch, Millis probe_interval);

	// The base URL for the next request at `now`.
	const std::string &Choose(Clock::time_point now);
	void ReportSuccess(const std::string &base_url);
	void ReportFailure(const std::string &base_url, Clock::time_point now);
	bool OnBackup() const {
		return on_backup_;
	}

private:
	std::string primary_;
	std::string backup_;
	int failures_to_switch_;
	Millis probe_interval_;
	int consecutive_failures_ = 0;
	bool on_backup_ = false;
	Clock::time_point next_probe_ {};
};

}  // namespace elicense::worker
