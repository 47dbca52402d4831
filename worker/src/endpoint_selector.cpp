#include "endpoint_selector.hpp"

namespace elicense::worker {

EndpointSelector::EndpointSelector(std::string primary, std::string backup, int failures_to_switch,
                                   Millis probe_interval)
    : primary_(std::move(primary)), backup_(std::move(backup)), failures_to_switch_(failures_to_switch),
      probe_interval_(probe_interval) {
}

const std::string &EndpointSelector::Choose(Clock::time_point now) {
	if (!on_backup_)
		return primary_;
	if (now >= next_probe_) {
		next_probe_ = now + probe_interval_;  // one probe per interval
		return primary_;
	}
	return backup_;
}

void EndpointSelector::ReportSuccess(const std::string &base_url) {
	if (base_url == primary_) {
		consecutive_failures_ = 0;
		on_backup_ = false;
	}
}

void EndpointSelector::ReportFailure(const std::string &base_url, Clock::time_point now) {
	if (base_url != primary_ || backup_.empty())
		return;
	if (++consecutive_failures_ >= failures_to_switch_ && !on_backup_) {
		on_backup_ = true;
		next_probe_ = now + probe_interval_;
	}
}

}  // namespace elicense::worker
