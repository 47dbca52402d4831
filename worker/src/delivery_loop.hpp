// The worker's single event loop. It leases due outbox rows (woken by
// NOTIFY, or by the poll timer), sends each step to the platform with at most
// `in_flight` requests at once and a token-bucket rate limit, classifies the
// answers (outcome.hpp) and records them through the extension's functions.
//
// Exactly once: a step whose earlier attempt may have taken effect
// (needs_query: a timeout after sending, a dropped connection, a 5xx, a lease
// that lapsed because a worker died) first asks the platform (query) and only
// sends again if the platform does not have it.
#pragma once

#include "backoff.hpp"
#include "config.hpp"
#include "endpoint_selector.hpp"
#include "http_client.hpp"
#include "outbox_store.hpp"
#include "token_cache.hpp"

#include <atomic>
#include <deque>
#include <map>
#include <memory>
#include <random>

namespace elicense::worker {

class DeliveryLoop {
public:
	DeliveryLoop(Config config, const std::atomic<bool> &stop);
	// Runs until `stop` (then finishes what is in flight), or with `once`
	// until nothing is due and nothing is in flight. Returns the exit code.
	int Run(bool once);

private:
	struct Active {
		LeasedStep step;
		bool querying = false;      // the request in flight is a query
		bool auth_retried = false;  // a refused token was replaced once already
	};
	using ActivePtr = std::shared_ptr<Active>;

	void LeaseMore();
	void Begin(ActivePtr a);
	void Send(ActivePtr a);
	void OnResult(ActivePtr a, const std::string &base_url, const std::string &path, HttpResult result);
	void Handle(const ActivePtr &a, const std::string &base_url, const std::string &path, HttpResult result);
	void Succeed(const ActivePtr &a, const nlohmann::json &answer);
	void Fail(const ActivePtr &a, const char *kind, const std::string &error);
	bool EnsureToken();
	void FlushWaiting();
	void Reconnect();
	void LogProgress();
	std::string PathFor(const LeasedStep &s, bool query) const;

	Config cfg_;
	const std::atomic<bool> &stop_;
	OutboxStore store_;
	HttpClient http_;
	TokenCache token_;
	EndpointSelector endpoints_;
	TokenBucket bucket_;
	std::mt19937_64 rng_;
	std::map<long long, ActivePtr> active_;  // by outbox id
	std::deque<ActivePtr> waiting_;          // leased, waiting for the rate limit or a token
	Clock::time_point token_retry_at_ {};
	Clock::time_point next_db_retry_ {};
	int db_failures_ = 0;
	bool wake_ = true;  // look for due rows now: NOTIFY arrived or a step finished
	long long done_ = 0, failed_ = 0, retried_ = 0, duplicates_avoided_ = 0;
};

}  // namespace elicense::worker
