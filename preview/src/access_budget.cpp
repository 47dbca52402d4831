#include "access_budget.hpp"

#include <algorithm>

namespace elicense::preview {

AccessBudget::AccessBudget(double rows_per_minute, int burst, std::size_t max_tokens)
    : per_second_(rows_per_minute / 60.0), burst_(std::max(1, burst)),
      max_tokens_(std::max<std::size_t>(1, max_tokens)) {
}

bool AccessBudget::Take(const std::string &token, Clock::time_point now, std::int64_t unix_now, PreviewState &state) {
	std::lock_guard<std::mutex> lock(mu_);
	auto it = entries_.find(token);
	if (it == entries_.end()) {
		if (entries_.size() >= max_tokens_) {
			entries_.erase(lru_.back());
			lru_.pop_back();
		}
		lru_.push_front(token);
		Entry fresh;
		fresh.level = burst_;
		fresh.refilled = now;
		fresh.lru = lru_.begin();
		it = entries_.emplace(token, std::move(fresh)).first;
	} else {
		lru_.splice(lru_.begin(), lru_, it->second.lru);
	}
	Entry &e = it->second;
	double seconds = std::chrono::duration<double>(now - e.refilled).count();
	if (seconds > 0) {
		e.level = std::min(burst_, e.level + seconds * per_second_);
		e.refilled = now;
	}
	bool usable = e.has_state && !(e.state.code == 200 && e.state.token_expires_at <= unix_now);
	if (e.level >= 1 || !usable) {
		e.level = std::max(0.0, e.level - 1);
		return true;
	}
	state = e.state;
	++dropped_;
	return false;
}

void AccessBudget::Remember(const std::string &token, const PreviewState &state) {
	std::lock_guard<std::mutex> lock(mu_);
	auto it = entries_.find(token);
	if (it == entries_.end())
		return;  // forgotten meanwhile: the next request asks again
	it->second.state = state;
	it->second.has_state = true;
}

std::size_t AccessBudget::tracked() const {
	std::lock_guard<std::mutex> lock(mu_);
	return entries_.size();
}

}  // namespace elicense::preview
