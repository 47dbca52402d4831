// The worker's single event loop. It leases due prechecks (checks before
// approval, elicense.precheck) first, then due outbox rows (woken by NOTIFY,
// or by the poll timer), plans each (step_plan.hpp: send, query
// first, hold, or done without a call), sends the request item the extension
// built through the profile's envelope with at most `in_flight` requests at
// once and a token-bucket rate limit, turns each answer into a decision
// (step_answer.hpp) and records it through the extension's functions.
//
// Tokens: one cache per credential pair (client_id, secret), fetched without
// blocking the loop; a refusing token endpoint is retried with capped
// backoff (TokenRetry), and the steps waiting for it keep their leases.
//
// Results that cannot be recorded (the database connection is lost, or the
// statement is refused) are remembered and released with step_failed as
// soon as the database takes it: kind 'unknown' after a lost connection (the
// platform may have acted), 'hold' after a refused statement.
//
// Expiry: every expire_interval_ms (and at start) it calls elicense.expire_due,
// which queues the expiries and lifted suspensions that are due, each once
// however many workers call it; the status updates then flow as any step.
//
// Outage (circuit_breaker.hpp): after breaker.failures requests in a row get
// no answer from the platform, the worker sends one probe at a time and keeps
// its other leased steps waiting; an answer resumes delivery. A request that
// never left (refused, DNS, TLS) is released with step_failed 'not_sent',
// which gives its attempt back: an outage never uses up a step's retry budget.
//
// Stop (SIGTERM): no new leases; steps not yet sent are released at once
// (step_failed 'not_sent', due now); requests in flight may finish for
// stop_grace_ms, then the loop exits and their leases lapse (the next worker
// treats them as unknown outcomes).
#pragma once

#include "backoff.hpp"
#include "circuit_breaker.hpp"
#include "config.hpp"
#include "endpoint_selector.hpp"
#include "envelope.hpp"
#include "lane_share.hpp"
#include "http_client.hpp"
#include "outbox_store.hpp"
#include "step_plan.hpp"
#include "token_cache.hpp"

#include <atomic>
#include <deque>
#include <functional>
#include <map>
#include <unordered_map>
#include <memory>
#include <optional>
#include <random>
#include <vector>

namespace elicense::worker {

class DeliveryLoop {
public:
	DeliveryLoop(Config config, const std::atomic<bool> &stop);
	// Runs until `stop` (then finishes what is in flight within the grace
	// period), or with `once` until nothing is due and nothing is in flight.
	// Returns the exit code.
	int Run(bool once);

private:
	struct TokenSlot {
		TokenCache cache;
		TokenRetry retry;
		bool fetching = false;
	};
	struct Active {
		LeasedStep step;     // a precheck's: outbox_id < 0 (a key of active_ only), step validate
		std::string ticket;  // non-empty: a precheck (elicense.precheck), not an outbox step
		StepPlan plan;       // kSend or kQuery
		const Credential *credential = nullptr;
		bool auth_retried = false;  // a refused token was replaced once already
		bool probe = false;         // sent as the probe of the open circuit breaker
	};
	using ActivePtr = std::shared_ptr<Active>;
	// A result waiting for the group commit: the attempt row and the call
	// that records the step's outcome (either may be empty), and what follows
	// once it is committed, given the call's value.
	using Then = std::function<void(const std::optional<std::string> &)>;
	struct PendingResult {
		ActivePtr a;
		DbCall attempt, result;
		Then then;
	};
	struct Unrecorded {
		long long outbox_id;
		std::string identifier, step, kind, reason;
		int tries = 0;
	};

	int LeaseRoom() const;
	// Whether a lease may be sent now, given a reason to look (NOTIFY, poll timer).
	bool MayLease() const;
	void LeaseMore();
	void LeasePrechecks(int &room);
	bool ExpireDue();  // true if the batch was full: more may be due
	void Begin(const ActivePtr &a);
	void Send(const ActivePtr &a, const std::string &token);
	void OnResult(const ActivePtr &a, const std::string &base_url, const std::string &path, const HttpResult &result);
	void NoteBreaker(bool outage, bool probe);
	void CompleteWithoutCall(const ActivePtr &a, const std::string &message);
	void Succeed(const ActivePtr &a, const nlohmann::json &answer, bool already_done, DbCall attempt = {});
	void Queried(const ActivePtr &a, const nlohmann::json &answer, DbCall attempt = {});
	void AfterQuery(const ActivePtr &a, const std::string &verdict);
	void Fail(const ActivePtr &a, const std::string &kind, const std::string &error, DbCall attempt = {});
	// Records a result: into the group commit (result_batch_ms > 0), else now.
	void Record(const ActivePtr &a, DbCall attempt, DbCall result, Then then);
	void RecordNow(PendingResult &r);
	void FlushResults();
	void RecordPipelined(std::vector<PendingResult> &batch);
	void SendGroup(std::vector<PendingResult> &batch);
	void GroupLost(std::vector<PendingResult> &batch, const std::string &why);
	void RecordRefusedGroup(std::vector<PendingResult> &batch, const std::string &why);
	void CollectDb();
	void Started(LeasedStep s);  // a leased step: active, planned
	// The result of `a` could not be recorded: remembered for ReleaseUnrecorded.
	void KeepUnrecorded(const ActivePtr &a, const std::string &kind, const std::string &reason);
	void ReleaseUnrecorded();
	void ReleaseWaiting(const std::string &why);
	static std::string SlotKey(const Credential &c);
	TokenSlot &SlotFor(const Credential &c);
	// The slot of a credential's pair, or nullptr before SlotFor made it.
	const TokenSlot *FindSlot(const Credential &c) const;
	bool TokenReady(TokenSlot &slot, const Credential &c);
	// Whether a's credential has a usable token now (no fetch started).
	bool HasToken(const Active &a, Clock::time_point now) const;
	void FetchToken(TokenSlot &slot, const Credential &c);
	void FlushWaiting();
	Clock::time_point NextWake(Clock::time_point next_poll);
	void Reconnect();
	void LogProgress();

	Config cfg_;
	const std::atomic<bool> &stop_;
	OutboxStore store_;          // leases, renewals, expiry, prechecks; LISTENs
	OutboxStore results_store_;  // the results (group commit): its own backend, so a lease
	                             // and a group of results run at once, on two cores
	bool DbConnected() const {
		return store_.Connected() && results_store_.Connected();
	}
	HttpClient http_;
	std::unique_ptr<Envelope> envelope_;
	std::map<std::string, TokenSlot> tokens_;  // by credential pair
	// tokens_ by the address of a credential of cfg_ (both stay put): the
	// pair's string, built for every waiting step at every turn of the loop,
	// was a malloc-heavy part of the worker's CPU.
	std::unordered_map<const Credential *, TokenSlot *> slot_by_credential_;
	EndpointSelector endpoints_;
	TokenBucket bucket_;
	CircuitBreaker breaker_;
	LaneShare lane_share_;  // bucket_ between live and stock steps
	std::mt19937_64 rng_;
	std::map<long long, ActivePtr> active_;  // by outbox id: waiting or in flight
	std::deque<ActivePtr> waiting_;          // leased, waiting for the rate limit or a token
	std::vector<Unrecorded> unrecorded_;
	std::vector<PendingResult> results_;     // waiting for the group commit
	std::vector<PendingResult> committing_;  // sent with record_results, its answer pending
	bool once_ = false;
	Clock::time_point results_due_ {};  // when they are committed at the latest
	long long batches_ = 0, batched_ = 0;
	Clock::time_point next_db_retry_ {};
	int db_failures_ = 0;
	bool wake_ = true;  // look for due rows now: NOTIFY arrived or a step finished
	long long done_ = 0, failed_ = 0, retried_ = 0, held_ = 0, duplicates_avoided_ = 0;
	long long prechecks_answered_ = 0, expired_ = 0, lifted_ = 0;
	long long next_precheck_key_ = 0;  // prechecks are active_ under -1, -2, …
	// An extension older than 0.3.0 has neither prechecks nor expire_due: the
	// worker delivers without them and looks again after a minute (an ALTER
	// EXTENSION UPDATE may have come meanwhile).
	Clock::time_point prechecks_missing_until_ {}, expire_missing_until_ {}, record_results_missing_until_ {};
	bool Missing(const DbStatementError &e, const char *what, Clock::time_point &until);
};

}  // namespace elicense::worker
