#include "outbox_store.hpp"

#include <algorithm>

namespace elicense::worker {
namespace {

using common::PgText;

std::optional<std::string> Nullable(const std::string &s) {
	return s.empty() ? std::nullopt : std::optional<std::string>(s);
}

// SQLSTATE classes that mean the session is unusable, even if libpq still
// reports CONNECTION_OK for a moment (the server is shutting down).
bool ConnectionFailure(PGresult *res) {
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
	if (state == nullptr)
		return res == nullptr;
	std::string s(state);
	return s.rfind("08", 0) == 0 || s == "57P01" || s == "57P02" || s == "57P03";
}

}  // namespace

OutboxStore::OutboxStore(std::string conninfo, std::string worker_id)
    : conninfo_(std::move(conninfo)), worker_id_(std::move(worker_id)) {
}

void OutboxStore::Connect() {
	conn_ = common::ConnectPg(conninfo_, "elicense-sync/" + worker_id_);
	if (PQstatus(conn_.get()) != CONNECTION_OK) {
		std::string msg = PQerrorMessage(conn_.get());
		conn_.reset();
		throw DbConnectionLost("cannot connect to the database: " + msg);
	}
	Exec("LISTEN elicense_outbox", {});
}

bool OutboxStore::Connected() const {
	return conn_ && PQstatus(conn_.get()) == CONNECTION_OK;
}

int OutboxStore::Socket() const {
	return conn_ ? PQsocket(conn_.get()) : -1;
}

bool OutboxStore::TakeNotifications() {
	if (!conn_)
		return false;
	if (!PQconsumeInput(conn_.get())) {
		std::string msg = PQerrorMessage(conn_.get());
		conn_.reset();
		throw DbConnectionLost("lost the database connection: " + msg);
	}
	bool any = false;
	while (PGnotify *n = PQnotifies(conn_.get())) {
		any = true;
		PQfreemem(n);
	}
	return any;
}

OutboxStore::Result OutboxStore::Exec(const char *sql, const std::vector<std::optional<std::string>> &params) {
	if (!conn_)
		throw DbConnectionLost("not connected");
	std::vector<std::optional<std::string>> clean = params;
	for (auto &p : clean)
		if (p)
			p->erase(std::remove(p->begin(), p->end(), '\0'), p->end());
	std::vector<const char *> values;
	for (const auto &p : clean)
		values.push_back(p ? p->c_str() : nullptr);
	Result res(
	    PQexecParams(conn_.get(), sql, static_cast<int>(values.size()), nullptr, values.data(), nullptr, nullptr, 0));
	ExecStatusType st = res ? PQresultStatus(res.get()) : PGRES_FATAL_ERROR;
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		// "SQLSTATE: message" on one line (the server's CONTEXT lines stay out of last_error and logs).
		const char *state = res ? PQresultErrorField(res.get(), PG_DIAG_SQLSTATE) : nullptr;
		const char *primary = res ? PQresultErrorField(res.get(), PG_DIAG_MESSAGE_PRIMARY) : nullptr;
		std::string msg = primary ? std::string(state ? state : "?????") + ": " + primary
		                          : std::string(res ? PQresultErrorMessage(res.get()) : PQerrorMessage(conn_.get()));
		std::replace(msg.begin(), msg.end(), '\n', ' ');
		while (!msg.empty() && msg.back() == ' ')
			msg.pop_back();
		if (PQstatus(conn_.get()) != CONNECTION_OK || ConnectionFailure(res.get())) {
			conn_.reset();
			throw DbConnectionLost(msg);
		}
		throw DbStatementError(msg);
	}
	return res;
}

std::vector<LeasedStep> OutboxStore::Lease(int max_rows, int lease_seconds, int max_stock) {
	Result res = Exec("SELECT outbox_id, identifier, step, attempts, needs_query, type_code, authority_division, "
	                  "ecert_id, request::text, query_request::text, lane FROM elicense.lease_steps($1, $2, $3, "
	                  "nullif($4::integer, -1))",
	                  {worker_id_, std::to_string(max_rows), std::to_string(lease_seconds), std::to_string(max_stock)});
	std::vector<LeasedStep> out;
	for (int i = 0; i < PQntuples(res.get()); ++i) {
		LeasedStep s;
		s.outbox_id = std::stoll(PQgetvalue(res.get(), i, 0));
		s.identifier = PgText(res.get(), i, 1);
		s.step = PgText(res.get(), i, 2);
		s.attempts = std::stoi(PQgetvalue(res.get(), i, 3));
		s.needs_query = PQgetvalue(res.get(), i, 4)[0] == 't';
		s.type_code = PgText(res.get(), i, 5);
		s.authority_division = PgText(res.get(), i, 6);
		s.ecert_id = PgText(res.get(), i, 7);
		s.request = PgText(res.get(), i, 8);
		s.query_request = PgText(res.get(), i, 9);
		s.lane = PgText(res.get(), i, 10);
		out.push_back(std::move(s));
	}
	return out;
}

void OutboxStore::RenewLeases(int lease_seconds) {
	Exec("SELECT elicense.renew_leases($1, $2)", {worker_id_, std::to_string(lease_seconds)});
}

void OutboxStore::RecordAttempt(const AttemptRecord &a) {
	Exec(
	    "SELECT elicense.record_attempt($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
	    {a.outbox_id > 0 ? std::optional<std::string>(std::to_string(a.outbox_id)) : std::nullopt, a.identifier, a.step,
	     a.endpoint, a.http_status > 0 ? std::optional<std::string>(std::to_string(a.http_status)) : std::nullopt,
	     Nullable(a.return_code), Nullable(a.return_message), std::to_string(a.duration_ms), worker_id_, a.outcome,
	     Nullable(a.ecert_id)});
}

bool OutboxStore::Succeeded(long long outbox_id, const nlohmann::json &answer) {
	Result res = Exec(
	    "SELECT elicense.step_succeeded($1, $2, $3::jsonb)",
	    {std::to_string(outbox_id), worker_id_, answer.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)});
	return PQgetvalue(res.get(), 0, 0)[0] == 't';
}

std::string OutboxStore::Queried(long long outbox_id, const nlohmann::json &answer) {
	Result res = Exec(
	    "SELECT elicense.step_queried($1, $2, $3::jsonb)",
	    {std::to_string(outbox_id), worker_id_, answer.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)});
	return PgText(res.get(), 0, 0);
}

std::string OutboxStore::Failed(long long outbox_id, const std::string &kind, const std::string &error,
                                long retry_in_ms, int max_attempts) {
	Result res = Exec("SELECT elicense.step_failed($1, $2, $3, $4, $5, $6)",
	                  {std::to_string(outbox_id), worker_id_, kind, error, std::to_string(retry_in_ms),
	                   std::to_string(max_attempts)});
	return PQgetisnull(res.get(), 0, 0) ? "lease lost" : PQgetvalue(res.get(), 0, 0);
}

std::vector<LeasedPrecheck> OutboxStore::LeasePrechecks(int max_rows, int lease_seconds) {
	Result res = Exec("SELECT ticket, type_code, authority_division, attempts, request::text "
	                  "FROM elicense.lease_prechecks($1, $2, $3)",
	                  {worker_id_, std::to_string(max_rows), std::to_string(lease_seconds)});
	std::vector<LeasedPrecheck> out;
	for (int i = 0; i < PQntuples(res.get()); ++i)
		out.push_back({PgText(res.get(), i, 0), PgText(res.get(), i, 1), PgText(res.get(), i, 2),
		               std::stoi(PQgetvalue(res.get(), i, 3)), PgText(res.get(), i, 4)});
	return out;
}

bool OutboxStore::PrecheckAnswered(const std::string &ticket, const nlohmann::json &answer) {
	Result res = Exec("SELECT elicense.precheck_answered($1::uuid, $2, $3::jsonb)",
	                  {ticket, worker_id_, answer.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)});
	return PQgetvalue(res.get(), 0, 0)[0] == 't';
}

std::string OutboxStore::PrecheckFailed(const std::string &ticket, const std::string &error, long retry_in_ms,
                                        int max_attempts) {
	Result res = Exec("SELECT elicense.precheck_failed($1::uuid, $2, $3, $4, $5)",
	                  {ticket, worker_id_, error, std::to_string(retry_in_ms), std::to_string(max_attempts)});
	return PQgetisnull(res.get(), 0, 0) ? "lease lost" : PQgetvalue(res.get(), 0, 0);
}

std::pair<long long, long long> OutboxStore::ExpireDue(int max_rows) {
	Result res = Exec("SELECT expired, lifted FROM elicense.expire_due($1)", {std::to_string(max_rows)});
	return {std::stoll(PQgetvalue(res.get(), 0, 0)), std::stoll(PQgetvalue(res.get(), 0, 1))};
}

long long OutboxStore::Backlog() {
	Result res = Exec("SELECT count(*) FROM elicense.outbox WHERE status IN ('pending', 'in_flight')", {});
	return std::stoll(PQgetvalue(res.get(), 0, 0));
}

}  // namespace elicense::worker
