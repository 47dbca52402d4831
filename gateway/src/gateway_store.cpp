#include "gateway_store.hpp"

#include <cctype>
#include <memory>
#include <utility>

namespace elicense::gateway {
namespace {

using common::FirstLine;

struct FreeMem {
	void operator()(char *p) const noexcept {
		PQfreemem(p);
	}
};

std::string Quote(PGconn *conn, const Param &value) {
	if (!value)
		return "NULL";
	std::unique_ptr<char, FreeMem> q(PQescapeLiteral(conn, value->data(), value->size()));
	if (!q)
		throw StoreError("cannot quote a value: " + FirstLine(PQerrorMessage(conn)));
	return q.get();
}

// `sql` with $n replaced by the quoted params.
std::string Bind(PGconn *conn, const std::string &sql, const std::vector<Param> &params) {
	std::string out;
	out.reserve(sql.size() + 64);
	for (std::size_t i = 0; i < sql.size(); ++i) {
		if (sql[i] == '$' && i + 1 < sql.size() && std::isdigit(static_cast<unsigned char>(sql[i + 1]))) {
			std::size_t j = i + 1;
			std::size_t n = 0;
			while (j < sql.size() && std::isdigit(static_cast<unsigned char>(sql[j])))
				n = n * 10 + static_cast<std::size_t>(sql[j++] - '0');
			if (n == 0 || n > params.size())
				throw std::logic_error("statement names $" + std::to_string(n) + " beyond its parameters");
			out += Quote(conn, params[n - 1]);
			i = j - 1;
		} else {
			out.push_back(sql[i]);
		}
	}
	return out;
}

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
	std::unique_ptr<char, FreeMem> quoted_role(PQescapeIdentifier(c, role.data(), role.size()));
	if (!quoted_role)
		throw StoreError("cannot quote a role: " + FirstLine(PQerrorMessage(c)));
	std::string text = std::string("SET LOCAL ROLE ") + quoted_role.get() + "; " + Bind(c, sql, params);
	if (!PQsendQuery(c, text.c_str()))
		throw StoreError("cannot send a statement: " + FirstLine(PQerrorMessage(c)));
	// Two results (SET, then the call) or an error that ends the string.
	CallResult out;
	bool role_set = false;
	while (PGresult *raw = PQgetResult(c)) {
		common::PgResult r(raw);
		ExecStatusType status = PQresultStatus(r.get());
		if (status == PGRES_FATAL_ERROR) {
			const char *state = PQresultErrorField(r.get(), PG_DIAG_SQLSTATE);
			out.sqlstate = state ? state : "XX000";
			out.message = FirstLine(PQresultErrorField(r.get(), PG_DIAG_MESSAGE_PRIMARY));
			if (!role_set) {  // the gateway's login is not a member of the role: configuration, not the caller
				out.message = "SET ROLE " + role + " failed: " + out.message;
				out.sqlstate = kRoleNotSet;
			}
			out.result.reset();
		} else if (!role_set && status == PGRES_COMMAND_OK) {
			role_set = true;
		} else if (out.sqlstate.empty()) {
			out.result = std::move(r);
		}
	}
	if (PQstatus(c) != CONNECTION_OK)
		throw StoreError("database connection lost: " + FirstLine(PQerrorMessage(c)));
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
