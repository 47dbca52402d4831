// The worker's side of the database: one libpq session that LISTENs on
// elicense_outbox and calls the extension's delivery functions
// (extension/sql/parts/60_delivery.sql). The worker holds no domain rules:
// leasing order, the request items, what a returned code means and what is
// recorded where are decided in SQL. Every call is a short autocommit
// statement. No parameter ever carries a NUL character (PostgreSQL text and
// jsonb refuse them): Exec removes any that slipped through.
//
// Leases belong to a process, not to a name: every call passes the lease
// owner, worker_id plus a random instance id made when the process starts
// ("w1#3f9c0a12b4d7"). A worker restarted under the same worker_id (systemd,
// worker_id in the config) is another owner: it never renews, completes or
// fails the dead process's leases, which lapse and are taken over like any
// other worker's. History (delivery_attempt.worker_id, delivery_event.actor)
// names the owner, so each process's calls can be told apart.
#pragma once

#include "elicense/common/pg_connection.hpp"

#include <libpq-fe.h>
#include <nlohmann/json.hpp>

#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace elicense::worker {

// A database call failed. DbConnectionLost: the session is gone (reconnect;
// nothing of the call happened). DbStatementError: the session is fine but
// the statement was refused (a bug or a value the SQL rejects): the same call
// would fail again.
class DbError : public std::runtime_error {
	using std::runtime_error::runtime_error;
};
class DbConnectionLost : public DbError {
	using DbError::DbError;
};
class DbStatementError : public DbError {
	using DbError::DbError;
};

struct LeasedStep {
	long long outbox_id = 0;
	std::string identifier;
	std::string step;
	int attempts = 0;          // including this one
	bool needs_query = false;  // an earlier attempt may have taken effect
	std::string type_code;
	std::string authority_division;
	std::string ecert_id;       // the step's eCertID, the same for every resend
	std::string request;        // AcceptData item, JSON text; empty when NULL (confirm)
	std::string query_request;  // the type's query item, JSON text; empty when NULL
	std::string lane;           // live or stock (lane_share.hpp)
};

// A check before approval (elicense.precheck), leased like a step.
struct LeasedPrecheck {
	std::string ticket;  // also the eCertID of the item
	std::string type_code;
	std::string authority_division;
	int attempts = 0;
	std::string request;  // the check item, JSON text
};

struct AttemptRecord {
	long long outbox_id;                     // <= 0: a call outside a step (a precheck): NULL
	std::string identifier, step, endpoint;  // endpoint without the token
	long http_status;                        // 0: no answer
	std::string return_code, return_message;
	long duration_ms;
	std::string outcome;  // done, business_error, retry, not_sent, unknown, held
	std::string ecert_id;
};

// One call of a delivery function, to run now (Run) or with others in one
// transaction (RunBatch). `fallback`: the call to make instead when an
// extension older than 0.3.0 refuses this one (a 'not_sent' it does not know).
// `item`: the same call as an element of elicense.record_results (an
// attempt row's fields, or {"call", "outbox_id" | "ticket", …}).
struct DbCall {
	const char *sql = nullptr;  // nullptr: no call
	std::vector<std::optional<std::string>> params;
	std::shared_ptr<DbCall> fallback;
	nlohmann::json item;
};

// One element of a group recorded by RecordResults: the attempt row and the
// result call (either may be absent).
struct GroupElement {
	const DbCall *attempt = nullptr;
	const DbCall *result = nullptr;
};
// What elicense.record_results says of one element: the call's value, or
// why the call (error) or the attempt row (attempt_error) was refused.
struct GroupOutcome {
	std::optional<std::string> value, error, attempt_error;
};

class OutboxStore {
public:
	// `owner`: the lease owner of this process (LeaseOwner). `listen`: the
	// session LISTENs on elicense_outbox (the leasing one; the session that
	// records results does not).
	OutboxStore(std::string conninfo, std::string owner, bool listen = true);
	// worker_id + '#' + 12 random hex digits: unique per process start.
	static std::string LeaseOwner(const std::string &worker_id);
	const std::string &owner() const {
		return worker_id_;
	}

	void Connect();  // (re)connects and LISTENs; throws DbConnectionLost
	bool Connected() const;
	int Socket() const;
	bool TakeNotifications();  // true if a NOTIFY arrived since the last call

	// max_stock: at most so many stock-lane steps among them (-1: no cap).
	std::vector<LeasedStep> Lease(int max_rows, int lease_seconds, int max_stock = -1);
	void RenewLeases(int lease_seconds);
	void RecordAttempt(const AttemptRecord &a);
	// The step took effect; `answer` is the canonical answer (step_answer.hpp).
	// False if the lease was lost.
	bool Succeeded(long long outbox_id, const nlohmann::json &answer);
	// A query's canonical answer: "done", "send", "retry" (confirm: not shown
	// yet, the lease stays), "dead" (assign_code: the assignment shown cannot
	// be used; the SQL made the step dead), or "" (lease lost).
	std::string Queried(long long outbox_id, const nlohmann::json &answer);
	// kind: retry | not_sent | unknown | business_error | hold. not_sent: the
	// request never left, the attempt is given back (no retry budget used).
	// Returns the row's new status, or "lease lost".
	std::string Failed(long long outbox_id, const std::string &kind, const std::string &error, long retry_in_ms,
	                   int max_attempts);
	long long Backlog();  // open rows (pending + in_flight)

	// The calls behind RecordAttempt, Succeeded, Queried, Failed,
	// PrecheckAnswered and PrecheckFailed, to run later. Each returns one
	// value (NULL: nullopt): step_succeeded/precheck_answered 't' or 'f',
	// step_queried the verdict, step_failed/precheck_failed the new status.
	DbCall AttemptCall(const AttemptRecord &a) const;
	DbCall SucceededCall(long long outbox_id, const nlohmann::json &answer) const;
	DbCall QueriedCall(long long outbox_id, const nlohmann::json &answer) const;
	DbCall FailedCall(long long outbox_id, const std::string &kind, const std::string &error, long retry_in_ms,
	                  int max_attempts) const;
	DbCall PrecheckAnsweredCall(const std::string &ticket, const nlohmann::json &answer) const;
	// not_sent: the check never reached the platform; its attempt is given back.
	DbCall PrecheckFailedCall(const std::string &ticket, const std::string &error, long retry_in_ms, int max_attempts,
	                          bool not_sent = false) const;
	// Runs one call in its own transaction (its fallback if the extension
	// refuses it as too old) and returns its value.
	std::optional<std::string> Run(const DbCall &call);
	// Group commit: runs the calls in one implicit transaction through
	// libpq's pipeline mode (one round trip, one commit) and returns their
	// values. If any call fails, none took effect: DbStatementError (run them
	// one by one to find it) or DbConnectionLost (whether the commit happened
	// is unknown: the unknown-outcome rule covers it, as for a single call).
	std::vector<std::optional<std::string>> RunBatch(const std::vector<const DbCall *> &calls);
	// Group commit in one statement: elicense.record_results with the
	// elements' items (one round trip, one commit, set-based in the
	// database). An element the database refuses is reported in its outcome
	// and the others are recorded. DbStatementError: the call itself failed
	// (42883: the extension has no record_results), nothing was recorded;
	// DbConnectionLost as for RunBatch.
	std::vector<GroupOutcome> RecordResults(const std::vector<GroupElement> &group);
	// Asynchronous calls, one at a time on the session, so that the loop
	// keeps its HTTP requests going while the database works: Send* sends
	// the call and returns; the loop waits on Socket() and calls
	// PollPending, which reads what has come without blocking and says when
	// the answer is complete; Take* then returns it (throwing DbStatementError
	// or DbConnectionLost for a failed call, as the synchronous form would).
	// A synchronous call made meanwhile first waits for the pending answer,
	// which stays to be taken.
	enum class PendingCall { kNone, kLease, kGroup };
	void SendLease(int max_rows, int lease_seconds, int max_stock = -1);
	void SendRecordResults(const std::vector<GroupElement> &group);
	PendingCall pending() const {
		return pending_;
	}
	bool PollPending();  // true: the pending call's answer is complete (Take it)
	bool PendingComplete() const {
		return pending_ != PendingCall::kNone && pending_complete_;
	}
	void WaitPending();  // blocks until it is
	std::vector<LeasedStep> TakeLease();
	std::vector<GroupOutcome> TakeGroup();

	// Statements sent one by one plus batches: each is one round trip and
	// one transaction (the database cost the group commit cuts).
	long long round_trips() const {
		return round_trips_;
	}

	// Prechecks (extension/sql/parts/61_precheck.sql): leased before steps.
	std::vector<LeasedPrecheck> LeasePrechecks(int max_rows, int lease_seconds);
	// The platform answered (any ReturnCode): recorded, NOTIFY elicense_precheck. False if the lease was lost.
	bool PrecheckAnswered(const std::string &ticket, const nlohmann::json &answer);
	// No usable answer: pending again, or "failed" after max_attempts; "lease lost" if not ours.
	// not_sent: it never reached the platform: pending again, the attempt given back.
	std::string PrecheckFailed(const std::string &ticket, const std::string &error, long retry_in_ms, int max_attempts,
	                           bool not_sent = false);
	// elicense.expire_due(max_rows): expiries and lifted suspensions queued by this run.
	std::pair<long long, long long> ExpireDue(int max_rows);

private:
	using Result = common::PgResult;

	Result Exec(const char *sql, const std::vector<std::optional<std::string>> &params);
	void SendPrepared(const char *sql, const std::vector<std::optional<std::string>> &params, PendingCall kind);
	Result TakePending(PendingCall kind);  // the complete answer, or throws for a failed call
	static std::vector<LeasedStep> LeasedRows(PGresult *res);
	static std::vector<GroupOutcome> GroupRows(PGresult *res, std::size_t size);
	static std::string GroupText(const std::vector<GroupElement> &group);
	[[noreturn]] void ThrowFor(PGresult *res);
	const std::string &Prepared(const char *sql);  // the statement's name in this session

	std::string conninfo_;
	std::string worker_id_;  // the lease owner
	bool listen_ = true;
	common::PgConnection conn_;
	std::map<std::string, std::string> prepared_;  // SQL text -> prepared statement name, this session
	long long round_trips_ = 0;
	PendingCall pending_ = PendingCall::kNone;
	bool pending_complete_ = false;
	Result pending_result_;         // the call's (first) result
	std::size_t pending_size_ = 0;  // a group's elements
};

}  // namespace elicense::worker
