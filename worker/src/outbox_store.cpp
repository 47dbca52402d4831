#include "outbox_store.hpp"

namespace elicense::worker {

OutboxStore::OutboxStore(std::string conninfo, std::string worker_id)
    : conninfo_(std::move(conninfo)), worker_id_(std::move(worker_id)) {
}

void OutboxStore::Connect() {
	std::string app = "elicense-sync/" + worker_id_;
	const char *keys[] = {"dbname", "fallback_application_name", nullptr};
	const char *values[] = {conninfo_.c_str(), app.c_str(), nullptr};
	// expand_dbname=1: "dbname" may be a whole conninfo string or URI.
	conn_.reset(PQconnectdbParams(keys, values, 1));
	if (PQstatus(conn_.get()) != CONNECTION_OK) {
		std::string msg = PQerrorMessage(conn_.get());
		conn_.reset();
		throw DbError("cannot connect to the database: " + msg);
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
	if (!PQconsumeInput(conn_.get()))
		throw DbError(std::string("lost the database connection: ") + PQerrorMessage(conn_.get()));
	bool any = false;
	while (PGnotify *n = PQnotifies(conn_.get())) {
		any = true;
		PQfreemem(n);
	}
	return any;
}

OutboxStore::Result OutboxStore::Exec(const char *sql, const std::vector<std::optional<std::string>> &params) {
	if (!conn_)
		throw DbError("not connected");
	std::vector<const char *> values;
	for (const auto &p : params)
		values.push_back(p ? p->c_str() : nullptr);
	Result res(PQexecParams(conn_.get(), sql, static_cast<int>(values.size()), nullptr, values.data(), nullptr,
	                        nullptr, 0));
	ExecStatusType st = PQresultStatus(res.get());
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		std::string msg = PQresultErrorMessage(res.get());
		if (PQstatus(conn_.get()) != CONNECTION_OK)
			conn_.reset();
		throw DbError(msg);
	}
	return res;
}

std::vector<LeasedStep> OutboxStore::Lease(int max_rows, int lease_seconds) {
	Result res = Exec("SELECT outbox_id, identifier, step, attempts, needs_query, licence::text "
	                  "FROM elicense.lease_steps($1, $2, $3)",
	                  {worker_id_, std::to_string(max_rows), std::to_string(lease_seconds)});
	std::vector<LeasedStep> out;
	for (int i = 0; i < PQntuples(res.get()); ++i) {
		LeasedStep s;
		s.outbox_id = std::stoll(PQgetvalue(res.get(), i, 0));
		s.identifier = PQgetvalue(res.get(), i, 1);
		s.step = PQgetvalue(res.get(), i, 2);
		s.attempts = std::stoi(PQgetvalue(res.get(), i, 3));
		s.needs_query = PQgetvalue(res.get(), i, 4)[0] == 't';
		s.licence = nlohmann::json::parse(PQgetvalue(res.get(), i, 5), nullptr, false);
		out.push_back(std::move(s));
	}
	return out;
}

void OutboxStore::RenewLeases(int lease_seconds) {
	Exec("SELECT elicense.renew_leases($1, $2)", {worker_id_, std::to_string(lease_seconds)});
}

void OutboxStore::RecordAttempt(const AttemptRecord &a) {
	Exec("SELECT elicense.record_attempt($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
	     {std::to_string(a.outbox_id), a.identifier, a.step, a.endpoint,
	      a.http_status > 0 ? std::optional<std::string>(std::to_string(a.http_status)) : std::nullopt,
	      a.return_code.empty() ? std::nullopt : std::optional<std::string>(a.return_code),
	      a.return_message.empty() ? std::nullopt : std::optional<std::string>(a.return_message),
	      std::to_string(a.duration_ms), worker_id_, a.outcome});
}

bool OutboxStore::Succeeded(long long outbox_id, const nlohmann::json &answer) {
	Result res = Exec("SELECT elicense.step_succeeded($1, $2, $3::jsonb)",
	                  {std::to_string(outbox_id), worker_id_, answer.dump()});
	return PQgetvalue(res.get(), 0, 0)[0] == 't';
}

std::string OutboxStore::Failed(long long outbox_id, const std::string &kind, const std::string &error,
                                long retry_in_ms, int max_attempts) {
	Result res = Exec("SELECT elicense.step_failed($1, $2, $3, $4, $5, $6)",
	                  {std::to_string(outbox_id), worker_id_, kind, error, std::to_string(retry_in_ms),
	                   std::to_string(max_attempts)});
	return PQgetisnull(res.get(), 0, 0) ? "lease lost" : PQgetvalue(res.get(), 0, 0);
}

long long OutboxStore::Backlog() {
	Result res = Exec("SELECT count(*) FROM elicense.outbox WHERE status IN ('pending', 'in_flight')", {});
	return std::stoll(PQgetvalue(res.get(), 0, 0));
}

}  // namespace elicense::worker
