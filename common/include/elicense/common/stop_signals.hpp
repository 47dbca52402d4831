// How both daemons stop: SIGTERM and SIGINT are blocked in every thread and
// taken by one waiting thread, which runs the daemon's stop action there, as
// ordinary code (neither httplib's Stop nor a log line is async-signal-safe).
// SIGPIPE is ignored: a peer that hangs up is an error return, not a death.
#pragma once

#include <atomic>
#include <csignal>
#include <functional>
#include <thread>

namespace elicense::common {

class StopSignals {
public:
	// Blocks SIGTERM and SIGINT in the calling thread. Construct it before
	// any other thread starts, so that they inherit the mask.
	StopSignals();
	// Release() if not done.
	~StopSignals();
	StopSignals(const StopSignals &) = delete;
	StopSignals &operator=(const StopSignals &) = delete;

	// Starts the waiting thread: on_stop(signal) runs once, on the first
	// SIGTERM or SIGINT, and not at all if none comes before destruction.
	void OnStop(std::function<void(int)> on_stop);
	// Ends the waiting thread (without running on_stop if no signal came)
	// and joins it: after this, on_stop is not running and will not run.
	void Release();

private:
	sigset_t signals_;
	std::atomic<bool> released_ {false};
	std::thread waiter_;
};

}  // namespace elicense::common
