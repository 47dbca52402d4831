// The rate limit shared between the live and stock lanes (lane_share.hpp):
// the proportion stock gets while live steps wait, everything while live is
// idle, no stock at all with a share of 0, and a fresh count after an idle
// stretch.
#include "lane_share.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace elicense::worker {
namespace {

// Hands out `tokens` tokens one at a time as the delivery loop does: the
// first lane (live first, as the steps are leased) that may take it.
struct Tally {
	int live = 0;
	int stock = 0;
	double max_stock_fraction = 0;  // over every prefix of at least 10 tokens
};
Tally HandOut(LaneShare &share, int tokens, bool live_waiting, bool stock_waiting) {
	Tally t;
	for (int i = 0; i < tokens; ++i) {
		Lane lane;
		if (live_waiting && share.MayTake(Lane::kLive, live_waiting, stock_waiting))
			lane = Lane::kLive;
		else if (stock_waiting && share.MayTake(Lane::kStock, live_waiting, stock_waiting))
			lane = Lane::kStock;
		else
			break;
		share.Took(lane, live_waiting);
		(lane == Lane::kLive ? t.live : t.stock)++;
		if (i + 1 >= 10)
			t.max_stock_fraction = std::max(t.max_stock_fraction, static_cast<double>(t.stock) / (i + 1));
	}
	return t;
}

TEST(LaneShare, StockGetsItsShareWhileLiveWaits) {
	LaneShare share(0.25);
	Tally t = HandOut(share, 1000, true, true);
	EXPECT_EQ(t.live + t.stock, 1000);
	EXPECT_EQ(t.stock, 250);
	EXPECT_LE(t.max_stock_fraction, 0.25 + 1e-9);
}

TEST(LaneShare, StockTakesEverythingWhileLiveIsIdle) {
	LaneShare share(0.1);
	Tally t = HandOut(share, 500, false, true);
	EXPECT_EQ(t.stock, 500);
	EXPECT_EQ(t.live, 0);
}

TEST(LaneShare, LiveTakesEverythingWithoutStock) {
	LaneShare share(0.5);
	Tally t = HandOut(share, 300, true, false);
	EXPECT_EQ(t.live, 300);
	EXPECT_EQ(t.stock, 0);
}

TEST(LaneShare, ZeroShareSendsNoStockWhileLiveWaits) {
	LaneShare share(0);
	Tally t = HandOut(share, 200, true, true);
	EXPECT_EQ(t.stock, 0);
	EXPECT_EQ(t.live, 200);
	EXPECT_FALSE(share.MayTake(Lane::kStock, true, true));
	EXPECT_TRUE(share.MayTake(Lane::kStock, false, true));
}

TEST(LaneShare, FullShareLetsStockTakeAll) {
	LaneShare share(1);
	Tally t = HandOut(share, 100, true, true);
	EXPECT_EQ(t.stock, 100);  // what a share of 1 asks for
}

TEST(LaneShare, CountStartsAnewAfterLiveWasIdle) {
	LaneShare share(0.5);
	HandOut(share, 10, true, true);
	EXPECT_EQ(share.taken(), 10);
	EXPECT_EQ(share.stock_taken(), 5);
	HandOut(share, 50, false, true);  // live idle: stock takes these and the count resets
	EXPECT_EQ(share.taken(), 0);
	EXPECT_EQ(share.stock_taken(), 0);
	// Live waits again: stock is not owed the 50 tokens it took while live was idle,
	// nor barred for them.
	Tally t = HandOut(share, 20, true, true);
	EXPECT_EQ(t.stock, 10);
	EXPECT_EQ(t.live, 10);
}

TEST(LaneShare, RefusesAShareOutsideZeroToOne) {
	EXPECT_THROW(LaneShare(-0.1), std::invalid_argument);
	EXPECT_THROW(LaneShare(1.5), std::invalid_argument);
	EXPECT_THROW(LaneShare(std::nan("")), std::invalid_argument);
}

TEST(LaneShare, StockSlotsKeepRoomForLive) {
	EXPECT_EQ(LaneShare::StockSlots(1), 1);  // a single slot: stock is not shut out
	EXPECT_EQ(LaneShare::StockSlots(2), 1);
	EXPECT_EQ(LaneShare::StockSlots(8), 6);
	EXPECT_EQ(LaneShare::StockSlots(16), 12);
	for (int f = 2; f <= 64; ++f) {
		EXPECT_GE(f - LaneShare::StockSlots(f), 1) << f;
		EXPECT_GE(LaneShare::StockSlots(f), 1) << f;
	}
}

TEST(LaneShare, LanesByName) {
	EXPECT_EQ(LaneNamed("stock"), Lane::kStock);
	EXPECT_EQ(LaneNamed("live"), Lane::kLive);
	EXPECT_EQ(LaneNamed(""), Lane::kLive);
}

}  // namespace
}  // namespace elicense::worker
