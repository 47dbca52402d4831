#include "gateway_store.hpp"

#include <memory>
#include <utility>

namespace elicense::gateway {
namespace {

using common::FirstLine;

}  // namespace

std::string CallResult::First() const {
	if (!result || PQntuples(result.get()) < 1 || PQnfields(result.get()) < 1 || PQgetisnull(result.get(), 0, 0))
		return "";
	return std::string(PQgetvalue(result.get(), 0, 0), static_cast<std::size_t>(PQgetlength(result.get(), 0, 0)));
}

GatewayStore::GatewayStore(std::string conninfo, int connections, std::chrono::milliseconds wait,
                           int statement_timeout_ms)
    : conninfo_(std::move(conninfo)), wait_(wait), statement_timeout_ms_(statement_timeout_ms) {
	idle_.resize(static_cast<std::size_t>(connections));
}

common::PgConnection GatewayStore::Acquire() {
	std::unique_lock<std::mutex> lock(mu_);
	if (!cv_.wait_for(lock, wait_, [&] { return !idle_.empty(); }))
		throw StoreError("no database connection free");
	common::PgConnection conn = std::move(idle_.back());
	idle_.pop_back();
	return conn;
}

void GatewayStore::Release(common::PgConnection conn) {
	{
		std::lock_guard<std::mutex> lock(mu_);
		idle_.push_back(std::move(conn));
	}
	cv_.notify_one();
}

PGconn *GatewayStore::Open(common::PgConnection &conn) {
	bool fresh = false;
	if (!conn) {
		conn = common::ConnectPg(conninfo_, "elicense-gateway");
		fresh = true;
	} else if (PQstatus(conn.get()) != CONNECTION_OK) {
		PQreset(conn.get());
		fresh = true;
	}
	if (PQstatus(conn.get()) != CONNECTION_OK)
		throw StoreError("database connection failed: " + FirstLine(PQerrorMessage(conn.get())));
	if (fresh) {
		std::string set = "SET statement_timeout = " + std::to_string(statement_timeout_ms_);
		common::PgResult ok(PQexec(conn.get(), set.c_str()));
		if (!ok || PQresultStatus(ok.get()) != PGRES_COMMAND_OK)
			throw StoreError("cannot set statement_timeout: " + FirstLine(PQerrorMessage(conn.get())));
	}
	return conn.get();
}

CallResult GatewayStore::Call(const std::string &role, const std::string &sql, const std::vector<Param> &params) {
	common::PgConnection conn = Acquire();
	struct Back {
		GatewayStore &store;
		common::PgConnection &conn;
		~Back() {
			store.Release(std::move(conn));
		}
	} back {*this, conn};
	PGconn *c = Open(conn);
	std::vector<const char *> values;
	for (const Param &p : params)
		values.push_back(p ? p->c_str() : nullptr);
	const char *role_value = role.c_str();
	// One pipeline, one sync: both statements run in one implicit
	// transaction, so the role set with is_local ends with it.
	if (!PQenterPipelineMode(c) ||
	    !PQsendQueryParams(c, "SELECT pg_catalog.set_config('role', $1, true)", 1, nullptr, &role_value, nullptr,
	                       nullptr, 0) ||
	    !PQsendQueryParams(c, sql.c_str(), static_cast<int>(values.size()), nullptr, values.data(), nullptr, nullptr,
	                       0) ||
	    !PQpipelineSync(c)) {
		std::string why = FirstLine(PQerrorMessage(c));
		conn.reset();  // a half-sent pipeline: start afresh next time
		throw StoreError("cannot send a statement: " + why);
	}
	CallResult out;
	for (int statement = 0; statement < 2; ++statement) {
		while (PGresult *raw = PQgetResult(c)) {
			common::PgResult r(raw);
			ExecStatusType status = PQresultStatus(r.get());
			if (status == PGRES_FATAL_ERROR && out.sqlstate.empty()) {
				const char *state = PQresultErrorField(r.get(), PG_DIAG_SQLSTATE);
				out.sqlstate = state ? state : "XX000";
				out.message = FirstLine(PQresultErrorField(r.get(), PG_DIAG_MESSAGE_PRIMARY));
				if (statement == 0) {  // the login is not a member of the role: the operator's mistake
					out.message = "SET ROLE " + role + " failed: " + out.message;
					out.sqlstate = kRoleNotSet;
				}
			} else if (statement == 1 && status == PGRES_TUPLES_OK && out.sqlstate.empty()) {
				out.result = std::move(r);
			}
		}
	}
	common::PgResult sync(PQgetResult(c));
	bool synced = sync && PQresultStatus(sync.get()) == PGRES_PIPELINE_SYNC;
	if (!synced || !PQexitPipelineMode(c)) {
		std::string why = FirstLine(PQerrorMessage(c));
		conn.reset();
		throw StoreError("database connection lost: " + why);
	}
	if (out.sqlstate.empty() && !out.result)
		throw StoreError("the statement returned nothing");
	return out;
}

void GatewayStore::CheckLogin() {
	common::PgConnection conn = Acquire();
	struct Back {
		GatewayStore &store;
		common::PgConnection &conn;
		~Back() {
			store.Release(std::move(conn));
		}
	} back {*this, conn};
	PGconn *c = Open(conn);
	common::PgResult r(PQexec(c,
	                          "SELECT r.rolinherit, r.rolsuper, pg_has_role(session_user, 'elicense_gateway', 'MEMBER')"
	                          " FROM pg_roles r WHERE r.rolname = session_user"));
	if (!r || PQresultStatus(r.get()) != PGRES_TUPLES_OK || PQntuples(r.get()) != 1)
		throw StoreError("cannot read the login role: " + FirstLine(PQerrorMessage(c)));
	if (PQgetvalue(r.get(), 0, 1)[0] == 't')
		throw StoreError(
		    "the gateway's login is a superuser: use a NOINHERIT login that is a member of elicense_gateway");
	if (PQgetvalue(r.get(), 0, 0)[0] == 't')
		throw StoreError("the gateway's login inherits its roles' privileges: ALTER ROLE ... NOINHERIT (README, For "
		                 "departments), so that it holds no application's grants without SET ROLE");
	if (PQgetvalue(r.get(), 0, 2)[0] != 't')
		throw StoreError("the gateway's login is not a member of elicense_gateway");
}

bool GatewayStore::Ready() {
	try {
		CallResult r = Call("elicense_gateway", "SELECT 'elicense.gateway_token_app(bytea)'::regprocedure::text", {});
		return r.ok();
	} catch (const std::exception &) {
		return false;
	}
}

}  // namespace elicense::gateway
