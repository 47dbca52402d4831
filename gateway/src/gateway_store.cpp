#include "gateway_store.hpp"

#include <memory>
#include <utility>

namespace elicense::gateway {
namespace {

using common::FirstLine;

const std::string kSetRole = "SELECT pg_catalog.set_config('role', $1, true)";

}  // namespace

std::string CallResult::First() const {
	if (!result || PQntuples(result.get()) < 1 || PQnfields(result.get()) < 1 || PQgetisnull(result.get(), 0, 0))
		return "";
	return std::string(PQgetvalue(result.get(), 0, 0), static_cast<std::size_t>(PQgetlength(result.get(), 0, 0)));
}

GatewayStore::GatewayStore(std::string conninfo, int connections, std::chrono::milliseconds wait,
                           int statement_timeout_ms)
    : pool_(std::move(conninfo), "elicense-gateway", connections, wait, statement_timeout_ms) {
}

PGconn *GatewayStore::Open(common::PgPool::Session &session) {
	bool fresh = false;
	PGconn *c = session.Open(&fresh);
	if (fresh) {
		std::lock_guard<std::mutex> lock(mu_);
		prepared_.erase(c);  // a new session (or one reset): nothing prepared in it
	}
	return c;
}

CallResult GatewayStore::Call(const std::string &role, const std::string &sql, const std::vector<Param> &params) {
	common::PgPool::Session session = pool_.Borrow();
	PGconn *c = Open(session);
	std::vector<const char *> values;
	values.reserve(params.size());
	for (const Param &p : params)
		values.push_back(p ? p->c_str() : nullptr);
	const char *role_value = role.c_str();
	// Both statements are prepared once per session (named by their text's
	// number in statement_ids_); a new session prepares them in the same
	// pipeline, first.
	int ids[2];
	bool known[2];
	{
		std::lock_guard<std::mutex> lock(mu_);
		const std::string *texts[2] = {&kSetRole, &sql};
		for (int i = 0; i < 2; ++i) {
			ids[i] = statement_ids_.emplace(*texts[i], static_cast<int>(statement_ids_.size())).first->second;
			known[i] = prepared_[c].count(ids[i]) > 0;
		}
	}
	std::string names[2] = {"gw" + std::to_string(ids[0]), "gw" + std::to_string(ids[1])};
	int preparing = !known[0] + !known[1];
	// One pipeline, one sync: both statements run in one implicit
	// transaction, so the role set with is_local ends with it.
	bool sent = PQenterPipelineMode(c);
	sent = sent && (known[0] || PQsendPrepare(c, names[0].c_str(), kSetRole.c_str(), 1, nullptr));
	sent =
	    sent && (known[1] || PQsendPrepare(c, names[1].c_str(), sql.c_str(), static_cast<int>(values.size()), nullptr));
	sent = sent && PQsendQueryPrepared(c, names[0].c_str(), 1, &role_value, nullptr, nullptr, 0);
	sent = sent && PQsendQueryPrepared(c, names[1].c_str(), static_cast<int>(values.size()), values.data(), nullptr,
	                                   nullptr, 0);
	sent = sent && PQpipelineSync(c);
	if (!sent) {
		std::string why = FirstLine(PQerrorMessage(c));
		session.Discard();  // a half-sent pipeline: start afresh next time
		throw StoreError("cannot send a statement: " + why);
	}
	std::string prepare_error;
	for (int i = 0, p = 0; p < preparing; ++i) {
		if (known[i])
			continue;
		++p;
		bool ok = false;
		while (PGresult *raw = PQgetResult(c)) {
			common::PgResult r(raw);
			ok = PQresultStatus(r.get()) == PGRES_COMMAND_OK;
			if (!ok && prepare_error.empty())
				prepare_error = FirstLine(PQresultErrorMessage(r.get()));
		}
		if (ok) {
			std::lock_guard<std::mutex> lock(mu_);
			prepared_[c].insert(ids[i]);
		}
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
		session.Discard();
		throw StoreError("database connection lost: " + why);
	}
	if (!prepare_error.empty())
		throw StoreError("cannot prepare a statement: " + prepare_error);
	if (out.sqlstate.empty() && !out.result)
		throw StoreError("the statement returned nothing");
	return out;
}

void GatewayStore::CheckLogin() {
	common::PgPool::Session session = pool_.Borrow();
	PGconn *c = Open(session);
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
