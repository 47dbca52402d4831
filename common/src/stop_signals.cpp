#include "elicense/common/stop_signals.hpp"

#include <pthread.h>

#include <stdexcept>
#include <utility>

namespace elicense::common {

StopSignals::StopSignals() {
	sigemptyset(&signals_);
	sigaddset(&signals_, SIGTERM);
	sigaddset(&signals_, SIGINT);
	if (pthread_sigmask(SIG_BLOCK, &signals_, nullptr) != 0)
		throw std::runtime_error("cannot block SIGTERM and SIGINT");
	std::signal(SIGPIPE, SIG_IGN);
}

StopSignals::~StopSignals() {
	Release();
}

void StopSignals::Release() {
	if (!waiter_.joinable())
		return;
	released_ = true;
	// NOLINTNEXTLINE(bugprone-bad-signal-to-kill-thread): SIGTERM is what our waiter sigwaits for; it ends the wait,
	// not the thread
	pthread_kill(waiter_.native_handle(), SIGTERM);  // ends sigwait; released_ says it was us
	waiter_.join();
}

void StopSignals::OnStop(std::function<void(int)> on_stop) {
	if (waiter_.joinable())
		throw std::logic_error("StopSignals::OnStop called twice");
	waiter_ = std::thread([this, on_stop = std::move(on_stop)] {
		int sig = 0;
		sigwait(&signals_, &sig);
		if (!released_)
			on_stop(sig);
	});
}

}  // namespace elicense::common
