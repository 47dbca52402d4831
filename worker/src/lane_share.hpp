// Sharing the platform's rate limit between the outbox lanes: live
// approvals and stock (converted paper licences, elicense.convert_stock).
// While live steps wait to be sent, stock steps get at most stock_share of
// the tokens taken; while none waits, stock steps take every token.
#pragma once

#include <string_view>

namespace elicense::worker {

enum class Lane { kLive, kStock };

// The lane of an outbox row as elicense.lease_steps names it; anything but
// "stock" (prechecks, rows of an older schema) is live.
Lane LaneNamed(std::string_view name);

class LaneShare {
public:
	// stock_share in [0, 1]: 0 sends no stock step while a live one waits.
	explicit LaneShare(double stock_share);

	// Whether a step of `lane` may take the next token, given whether steps
	// of each lane are waiting. Live is refused only while stock is owed its
	// share, so that the two take turns in that proportion.
	bool MayTake(Lane lane, bool live_waiting, bool stock_waiting) const;
	// Counts a token taken. Counting starts anew whenever no live step waits:
	// the share holds over each stretch of time in which live steps wait.
	void Took(Lane lane, bool live_waiting);

	// In-flight slots stock steps may hold out of in_flight: all but a
	// quarter (at least one) kept for live steps, so that a live step is
	// leased at once however many stock steps are due; all with in_flight 1.
	static int StockSlots(int in_flight);

	long long taken() const {
		return taken_;
	}
	long long stock_taken() const {
		return stock_taken_;
	}

private:
	bool StockOwed() const;
	double stock_share_;
	long long taken_ = 0;  // since live steps began to wait
	long long stock_taken_ = 0;
};

}  // namespace elicense::worker
