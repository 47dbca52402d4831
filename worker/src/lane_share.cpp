#include "lane_share.hpp"

#include <algorithm>
#include <stdexcept>

namespace elicense::worker {

Lane LaneNamed(std::string_view name) {
	return name == "stock" ? Lane::kStock : Lane::kLive;
}

LaneShare::LaneShare(double stock_share) : stock_share_(stock_share) {
	if (!(stock_share >= 0 && stock_share <= 1))  // also refuses NaN
		throw std::invalid_argument("stock_share must be between 0 and 1");
}

// One more stock token keeps stock within its share of the tokens taken
// while live steps wait, counting that token too.
bool LaneShare::StockOwed() const {
	return static_cast<double>(stock_taken_ + 1) <= stock_share_ * static_cast<double>(taken_ + 1) + 1e-9;
}

int LaneShare::StockSlots(int in_flight) {
	if (in_flight < 2)
		return in_flight;
	return in_flight - std::max(1, in_flight / 4);
}

bool LaneShare::MayTake(Lane lane, bool live_waiting, bool stock_waiting) const {
	if (!live_waiting)
		return true;  // stock takes everything while live is idle
	if (lane == Lane::kStock)
		return StockOwed();
	return !(stock_waiting && StockOwed());
}

void LaneShare::Took(Lane lane, bool live_waiting) {
	if (!live_waiting) {
		taken_ = stock_taken_ = 0;
		return;
	}
	++taken_;
	if (lane == Lane::kStock)
		++stock_taken_;
}

}  // namespace elicense::worker
