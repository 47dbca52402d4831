// The gateway's view of the database: a pool of sessions of its login
// (elicense/common/pg_pool.hpp), one per HTTP thread at most. Every statement runs in a transaction
// that starts with SET LOCAL ROLE: the application's role for its calls (so
// the sharing functions, their grants, masking and audit see the
// application), elicense_gateway for the gateway's own tables. The role
// (set_config('role', <role>, true), what SET LOCAL ROLE does) and the call
// go as one pipeline with one sync: one round trip, one implicit
// transaction, the role gone at its end, on error too. Values are bound
// parameters, never statement text, so PostgreSQL's log of a failed
// statement (log_min_error_statement) shows $1, not a usage code. Each
// statement is prepared once per session (in the pipeline that first uses it).
#pragma once

#include "elicense/common/pg_pool.hpp"

#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace elicense::gateway {

// The database could not answer (down, no free connection, broken session).
using StoreError = common::DatabaseError;

using Param = std::optional<std::string>;  // nullopt: SQL NULL

// The sqlstate of a call whose SET ROLE failed (the gateway's login is not a
// member of the application's role): an operator's mistake, not the caller's.
constexpr char kRoleNotSet[] = "GW001";

// One statement's outcome: rows, or the error's SQLSTATE and first line.
struct CallResult {
	common::PgResult result;
	std::string sqlstate;  // empty: success
	std::string message;
	bool ok() const {
		return sqlstate.empty();
	}
	// Column 0 of row 0 as text ("" when no row or NULL).
	std::string First() const;
};

class GatewayStore {
public:
	GatewayStore(std::string conninfo, int connections, std::chrono::milliseconds wait, int statement_timeout_ms);

	// Runs `sql` (parameters $1, $2, ... bound to `params`, as text) as `role`. Throws StoreError when the
	// database cannot be reached; SQL errors are returned.
	CallResult Call(const std::string &role, const std::string &sql, const std::vector<Param> &params);

	// Refuses to start a gateway whose login would hold applications'
	// grants without SET ROLE (it must be NOINHERIT) or is not a member of
	// elicense_gateway. Throws StoreError naming the problem.
	void CheckLogin();
	// Readiness: the database answers and has the gateway functions.
	bool Ready();

private:
	// The session's connection, and forgets what was prepared in it when it is new.
	PGconn *Open(common::PgPool::Session &session);

	common::PgPool pool_;
	std::mutex mu_;                                                   // guards the two maps
	std::unordered_map<std::string, int> statement_ids_;              // statement text -> its number
	std::unordered_map<PGconn *, std::unordered_set<int>> prepared_;  // per session: the numbers prepared
};

}  // namespace elicense::gateway
