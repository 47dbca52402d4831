// A cap on concurrent renders (a counting semaphore with a deadline): a
// burst of cold pages waits a bounded time for a slot and is then answered
// 503 + Retry-After instead of queueing without end behind the CPU.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

namespace elicense::preview {

class RenderGate {
public:
	explicit RenderGate(int slots) : free_(slots) {
	}

	// True with a slot taken (give it back with Leave), false after `wait`.
	bool Enter(std::chrono::milliseconds wait) {
		std::unique_lock<std::mutex> lock(mu_);
		if (!cv_.wait_for(lock, wait, [&] { return free_ > 0; }))
			return false;
		--free_;
		return true;
	}
	void Leave() {
		{
			std::lock_guard<std::mutex> lock(mu_);
			++free_;
		}
		cv_.notify_one();
	}

private:
	std::mutex mu_;
	std::condition_variable cv_;
	int free_;
};

// Holds a slot for a scope.
class GateSlot {
public:
	GateSlot(RenderGate &gate, std::chrono::milliseconds wait) : gate_(gate), held_(gate.Enter(wait)) {
	}
	~GateSlot() {
		if (held_)
			gate_.Leave();
	}
	GateSlot(const GateSlot &) = delete;
	GateSlot &operator=(const GateSlot &) = delete;
	bool held() const noexcept {
		return held_;
	}

private:
	RenderGate &gate_;
	bool held_;
};

}  // namespace elicense::preview
