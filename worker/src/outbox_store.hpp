// The worker's side of the database: one libpq session that LISTENs on
// elicense_outbox and calls the extension's delivery functions
// (extension/sql/parts/60_delivery.sql). The worker holds no domain rules:
// leasing order, the request items, what a returned code means and what is
// recorded where are decided in SQL. Every call is a short autocommit
// statement. No parameter ever carries a NUL character (PostgreSQL text and
// jsonb refuse them): Exec removes any that slipped through.
#pragma once

#include "elicense/common/pg_connection.hpp"

#include <libpq-fe.h>
#include <nlohmann/json.hpp>

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
	std::string outcome;  // done, business_error, retry, unknown, held
	std::string ecert_id;
};

class OutboxStore {
public:
	OutboxStore(std::string conninfo, std::string worker_id);

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
	// kind: retry | unknown | business_error | hold. Returns the row's new
	// status, or "lease lost".
	std::string Failed(long long outbox_id, const std::string &kind, const std::string &error, long retry_in_ms,
	                   int max_attempts);
	long long Backlog();  // open rows (pending + in_flight)

	// Prechecks (extension/sql/parts/61_precheck.sql): leased before steps.
	std::vector<LeasedPrecheck> LeasePrechecks(int max_rows, int lease_seconds);
	// The platform answered (any ReturnCode): recorded, NOTIFY elicense_precheck. False if the lease was lost.
	bool PrecheckAnswered(const std::string &ticket, const nlohmann::json &answer);
	// No usable answer: pending again, or "failed" after max_attempts; "lease lost" if not ours.
	std::string PrecheckFailed(const std::string &ticket, const std::string &error, long retry_in_ms, int max_attempts);
	// elicense.expire_due(max_rows): expiries and lifted suspensions queued by this run.
	std::pair<long long, long long> ExpireDue(int max_rows);

private:
	using Result = common::PgResult;

	Result Exec(const char *sql, const std::vector<std::optional<std::string>> &params);

	std::string conninfo_;
	std::string worker_id_;
	common::PgConnection conn_;
};

}  // namespace elicense::worker
