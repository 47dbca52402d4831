#include "outbox_store.hpp"

#include <sys/select.h>

#include <algorithm>
#include <cstdio>
#include <random>
#include <string_view>

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

OutboxStore::OutboxStore(std::string conninfo, std::string owner, bool listen)
    : conninfo_(std::move(conninfo)), worker_id_(std::move(owner)), listen_(listen) {
}

std::string OutboxStore::LeaseOwner(const std::string &worker_id) {
	std::random_device rd;
	unsigned long long id = (static_cast<unsigned long long>(rd()) << 32 | rd()) & 0xffffffffffffULL;
	char hex[16];
	std::snprintf(hex, sizeof hex, "%012llx", id);
	return worker_id + '#' + hex;
}

void OutboxStore::Connect() {
	prepared_.clear();              // a new session has none
	pending_ = PendingCall::kNone;  // an answer of the old session never comes
	pending_complete_ = false;
	pending_result_.reset();
	conn_ = common::ConnectPg(conninfo_, "elicense-sync/" + worker_id_);
	if (PQstatus(conn_.get()) != CONNECTION_OK) {
		std::string msg = PQerrorMessage(conn_.get());
		conn_.reset();
		throw DbConnectionLost("cannot connect to the database: " + msg);
	}
	if (listen_)
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

// Throws for a failed result: "SQLSTATE: message" on one line (the server's
// CONTEXT lines stay out of last_error and logs); DbConnectionLost if the
// session is gone.
void OutboxStore::ThrowFor(PGresult *res) {
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
	const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
	std::string msg = primary ? std::string(state ? state : "?????") + ": " + primary
	                          : std::string(res ? PQresultErrorMessage(res) : PQerrorMessage(conn_.get()));
	std::replace(msg.begin(), msg.end(), '\n', ' ');
	while (!msg.empty() && msg.back() == ' ')
		msg.pop_back();
	if (PQstatus(conn_.get()) != CONNECTION_OK || ConnectionFailure(res)) {
		conn_.reset();
		throw DbConnectionLost(msg);
	}
	throw DbStatementError(msg);
}

// The worker sends a handful of statements, each thousands of times: each is
// prepared once per session (parsed and planned once), then only executed.
const std::string &OutboxStore::Prepared(const char *sql) {
	auto it = prepared_.find(sql);
	if (it != prepared_.end())
		return it->second;
	std::string name = "elicense_sync_" + std::to_string(prepared_.size() + 1);
	++round_trips_;
	Result res(PQprepare(conn_.get(), name.c_str(), sql, 0, nullptr));
	if (!res || PQresultStatus(res.get()) != PGRES_COMMAND_OK)
		ThrowFor(res.get());  // say 42883: an older extension lacks the function
	return prepared_.emplace(sql, std::move(name)).first->second;
}

OutboxStore::Result OutboxStore::Exec(const char *sql, const std::vector<std::optional<std::string>> &params) {
	if (!conn_)
		throw DbConnectionLost("not connected");
	WaitPending();
	std::vector<std::optional<std::string>> clean = params;
	for (auto &p : clean)
		if (p)
			p->erase(std::remove(p->begin(), p->end(), '\0'), p->end());
	std::vector<const char *> values;
	values.reserve(clean.size());
	for (const auto &p : clean)
		values.push_back(p ? p->c_str() : nullptr);
	const std::string &name = Prepared(sql);
	++round_trips_;
	Result res(
	    PQexecPrepared(conn_.get(), name.c_str(), static_cast<int>(values.size()), values.data(), nullptr, nullptr, 0));
	ExecStatusType st = res ? PQresultStatus(res.get()) : PGRES_FATAL_ERROR;
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
		ThrowFor(res.get());
	return res;
}

namespace {

const char *const kLeaseSql =
    "SELECT outbox_id, identifier, step, attempts, needs_query, type_code, authority_division, "
    "ecert_id, request::text, query_request::text, lane FROM elicense.lease_steps($1, $2, $3, "
    "nullif($4::integer, -1))";
const char *const kRecordResultsSql =
    "SELECT n, value, error, attempt_error FROM elicense.record_results($1, $2::jsonb)";

}  // namespace

std::vector<LeasedStep> OutboxStore::LeasedRows(PGresult *res) {
	std::vector<LeasedStep> out;
	for (int i = 0; i < PQntuples(res); ++i) {
		LeasedStep s;
		s.outbox_id = std::stoll(PQgetvalue(res, i, 0));
		s.identifier = PgText(res, i, 1);
		s.step = PgText(res, i, 2);
		s.attempts = std::stoi(PQgetvalue(res, i, 3));
		s.needs_query = PQgetvalue(res, i, 4)[0] == 't';
		s.type_code = PgText(res, i, 5);
		s.authority_division = PgText(res, i, 6);
		s.ecert_id = PgText(res, i, 7);
		s.request = PgText(res, i, 8);
		s.query_request = PgText(res, i, 9);
		s.lane = PgText(res, i, 10);
		out.push_back(std::move(s));
	}
	return out;
}

std::vector<LeasedStep> OutboxStore::Lease(int max_rows, int lease_seconds, int max_stock) {
	Result res = Exec(kLeaseSql,
	                  {worker_id_, std::to_string(max_rows), std::to_string(lease_seconds), std::to_string(max_stock)});
	return LeasedRows(res.get());
}

void OutboxStore::SendPrepared(const char *sql, const std::vector<std::optional<std::string>> &params,
                               PendingCall kind) {
	if (!conn_)
		throw DbConnectionLost("not connected");
	WaitPending();
	if (pending_ != PendingCall::kNone)
		throw std::logic_error("a database call is already pending");
	std::vector<std::optional<std::string>> clean = params;
	std::vector<const char *> values;
	for (auto &p : clean) {
		if (p)
			p->erase(std::remove(p->begin(), p->end(), '\0'), p->end());
		values.push_back(p ? p->c_str() : nullptr);
	}
	const std::string &name = Prepared(sql);
	++round_trips_;
	if (PQsendQueryPrepared(conn_.get(), name.c_str(), static_cast<int>(values.size()), values.data(), nullptr, nullptr,
	                        0) != 1) {
		std::string msg = PQerrorMessage(conn_.get());
		std::replace(msg.begin(), msg.end(), '\n', ' ');
		conn_.reset();
		throw DbConnectionLost("cannot send a call: " + msg);
	}
	PQflush(conn_.get());  // a large group may need more than one write: PollPending flushes the rest
	pending_ = kind;
	pending_complete_ = false;
	pending_result_.reset();
}

void OutboxStore::SendLease(int max_rows, int lease_seconds, int max_stock) {
	SendPrepared(kLeaseSql,
	             {worker_id_, std::to_string(max_rows), std::to_string(lease_seconds), std::to_string(max_stock)},
	             PendingCall::kLease);
}

void OutboxStore::SendRecordResults(const std::vector<GroupElement> &group) {
	SendPrepared(kRecordResultsSql, {worker_id_, GroupText(group)}, PendingCall::kGroup);
	pending_size_ = group.size();
}

bool OutboxStore::PollPending() {
	if (pending_ == PendingCall::kNone || pending_complete_)
		return pending_complete_;
	if (!conn_) {
		pending_ = PendingCall::kNone;
		throw DbConnectionLost("not connected");
	}
	PGconn *c = conn_.get();
	auto lost = [&](const char *what) {
		std::string msg = std::string(what) + ": " + PQerrorMessage(c);
		std::replace(msg.begin(), msg.end(), '\n', ' ');
		conn_.reset();
		pending_ = PendingCall::kNone;
		throw DbConnectionLost(msg);
	};
	if (PQflush(c) < 0)
		lost("cannot send a call");
	if (!PQconsumeInput(c))
		lost("lost the database connection");
	while (!PQisBusy(c)) {
		PGresult *r = PQgetResult(c);
		if (r == nullptr) {
			pending_complete_ = true;
			return true;
		}
		if (!pending_result_)
			pending_result_.reset(r);  // the call's result; any other (none expected) is dropped
		else
			PQclear(r);
	}
	return false;
}

void OutboxStore::WaitPending() {
	while (pending_ != PendingCall::kNone && !pending_complete_ && conn_) {
		if (PollPending())
			break;
		int fd = PQsocket(conn_.get());
		fd_set readable;
		FD_ZERO(&readable);
		FD_SET(fd, &readable);
		select(fd + 1, &readable, nullptr, nullptr, nullptr);
	}
}

OutboxStore::Result OutboxStore::TakePending(PendingCall kind) {
	if (pending_ != kind || !pending_complete_)
		throw std::logic_error("no complete answer of that call to take");
	pending_ = PendingCall::kNone;
	pending_complete_ = false;
	Result res = std::move(pending_result_);
	ExecStatusType st = res ? PQresultStatus(res.get()) : PGRES_FATAL_ERROR;
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
		ThrowFor(res.get());
	return res;
}

std::vector<LeasedStep> OutboxStore::TakeLease() {
	Result res = TakePending(PendingCall::kLease);
	return LeasedRows(res.get());
}

std::vector<GroupOutcome> OutboxStore::TakeGroup() {
	std::size_t size = pending_size_;
	Result res = TakePending(PendingCall::kGroup);
	return GroupRows(res.get(), size);
}

void OutboxStore::RenewLeases(int lease_seconds) {
	Exec("SELECT elicense.renew_leases($1, $2)", {worker_id_, std::to_string(lease_seconds)});
}

namespace {

std::string AnswerText(const nlohmann::json &answer) {
	return answer.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// jsonb refuses \u0000: every string of a group loses its NUL characters,
// as Exec's parameters do.
void DropNuls(nlohmann::json &j) {
	if (j.is_string()) {
		std::string &s = j.get_ref<std::string &>();
		s.erase(std::remove(s.begin(), s.end(), '\0'), s.end());
	} else if (j.is_structured()) {
		for (auto &v : j)
			DropNuls(v);
	}
}

nlohmann::json JsonOrNull(const std::optional<std::string> &v) {
	return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
}

}  // namespace

DbCall OutboxStore::AttemptCall(const AttemptRecord &a) const {
	auto call = [&](const std::string &outcome) {
		return DbCall {"SELECT elicense.record_attempt($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
		               {a.outbox_id > 0 ? std::optional<std::string>(std::to_string(a.outbox_id)) : std::nullopt,
		                a.identifier, a.step, a.endpoint,
		                a.http_status > 0 ? std::optional<std::string>(std::to_string(a.http_status)) : std::nullopt,
		                Nullable(a.return_code), Nullable(a.return_message), std::to_string(a.duration_ms), worker_id_,
		                outcome, Nullable(a.ecert_id)},
		               nullptr,
		               {}};
	};
	DbCall c = call(a.outcome);
	if (a.outcome == "not_sent")  // an extension older than 0.3.0 knows no 'not_sent' outcome
		c.fallback = std::make_shared<DbCall>(call("retry"));
	c.item = {{"outbox_id", a.outbox_id > 0 ? nlohmann::json(a.outbox_id) : nlohmann::json(nullptr)},
	          {"identifier", a.identifier},
	          {"step", a.step},
	          {"endpoint", a.endpoint},
	          {"http_status", a.http_status > 0 ? nlohmann::json(a.http_status) : nlohmann::json(nullptr)},
	          {"return_code", JsonOrNull(Nullable(a.return_code))},
	          {"return_message", JsonOrNull(Nullable(a.return_message))},
	          {"duration_ms", a.duration_ms},
	          {"outcome", a.outcome},
	          {"ecert_id", JsonOrNull(Nullable(a.ecert_id))}};
	return c;
}

DbCall OutboxStore::SucceededCall(long long outbox_id, const nlohmann::json &answer) const {
	return {"SELECT elicense.step_succeeded($1, $2, $3::jsonb)",
	        {std::to_string(outbox_id), worker_id_, AnswerText(answer)},
	        nullptr,
	        {{"call", "succeeded"}, {"outbox_id", outbox_id}, {"answer", answer}}};
}

DbCall OutboxStore::QueriedCall(long long outbox_id, const nlohmann::json &answer) const {
	return {"SELECT elicense.step_queried($1, $2, $3::jsonb)",
	        {std::to_string(outbox_id), worker_id_, AnswerText(answer)},
	        nullptr,
	        {{"call", "queried"}, {"outbox_id", outbox_id}, {"answer", answer}}};
}

DbCall OutboxStore::FailedCall(long long outbox_id, const std::string &kind, const std::string &error, long retry_in_ms,
                               int max_attempts) const {
	auto call = [&](const std::string &k) {
		return DbCall {"SELECT elicense.step_failed($1, $2, $3, $4, $5, $6)",
		               {std::to_string(outbox_id), worker_id_, k, error, std::to_string(retry_in_ms),
		                std::to_string(max_attempts)},
		               nullptr,
		               {}};
	};
	DbCall c = call(kind);
	if (kind == "not_sent")  // an extension older than 0.3.0 knows no 'not_sent': the attempt counts
		c.fallback = std::make_shared<DbCall>(call("retry"));
	c.item = {{"call", "failed"}, {"outbox_id", outbox_id},     {"kind", kind},
	          {"error", error},   {"retry_in_ms", retry_in_ms}, {"max_attempts", max_attempts}};
	return c;
}

DbCall OutboxStore::PrecheckAnsweredCall(const std::string &ticket, const nlohmann::json &answer) const {
	return {"SELECT elicense.precheck_answered($1::uuid, $2, $3::jsonb)",
	        {ticket, worker_id_, AnswerText(answer)},
	        nullptr,
	        {{"call", "precheck_answered"}, {"ticket", ticket}, {"answer", answer}}};
}

DbCall OutboxStore::PrecheckFailedCall(const std::string &ticket, const std::string &error, long retry_in_ms,
                                       int max_attempts, bool not_sent) const {
	return {
	    "SELECT elicense.precheck_failed($1::uuid, $2, $3, $4, $5, $6)",
	    {ticket, worker_id_, error, std::to_string(retry_in_ms), std::to_string(max_attempts), not_sent ? "t" : "f"},
	    nullptr,
	    {{"call", "precheck_failed"},
	     {"ticket", ticket},
	     {"error", error},
	     {"retry_in_ms", retry_in_ms},
	     {"max_attempts", max_attempts},
	     {"not_sent", not_sent}}};
}

std::optional<std::string> OutboxStore::Run(const DbCall &call) {
	try {
		Result res = Exec(call.sql, call.params);
		if (PQntuples(res.get()) < 1 || PQnfields(res.get()) < 1 || PQgetisnull(res.get(), 0, 0))
			return std::nullopt;
		return std::string(PQgetvalue(res.get(), 0, 0));
	} catch (const DbStatementError &e) {
		// 22023 (invalid_parameter_value) or 23514 (check_violation): an older extension
		std::string_view what(e.what());
		if (!call.fallback || (what.rfind("22023", 0) != 0 && what.rfind("23514", 0) != 0))
			throw;
	}
	return Run(*call.fallback);
}

std::vector<std::optional<std::string>> OutboxStore::RunBatch(const std::vector<const DbCall *> &calls) {
	if (!conn_)
		throw DbConnectionLost("not connected");
	WaitPending();
	PGconn *c = conn_.get();
	auto lost = [&](const std::string &what) {
		std::string msg = what + ": " + PQerrorMessage(c);
		std::replace(msg.begin(), msg.end(), '\n', ' ');
		conn_.reset();
		return DbConnectionLost(msg);
	};
	std::vector<const std::string *> names;  // prepared before the pipeline: one round trip each, once per session
	names.reserve(calls.size());
	for (const DbCall *call : calls)
		names.push_back(&Prepared(call->sql));
	if (PQenterPipelineMode(c) != 1)
		throw lost("cannot enter pipeline mode");
	++round_trips_;
	std::vector<std::vector<std::optional<std::string>>> kept;  // the parameters live until sent
	kept.reserve(calls.size());
	for (std::size_t i = 0; i < calls.size(); ++i) {
		const DbCall *call = calls[i];
		kept.push_back(call->params);
		std::vector<const char *> values;
		for (auto &p : kept.back()) {
			if (p)
				p->erase(std::remove(p->begin(), p->end(), '\0'), p->end());
			values.push_back(p ? p->c_str() : nullptr);
		}
		if (PQsendQueryPrepared(c, names[i]->c_str(), static_cast<int>(values.size()), values.data(), nullptr, nullptr,
		                        0) != 1)
			throw lost("cannot send a call of the batch");
	}
	if (PQpipelineSync(c) != 1)
		throw lost("cannot end the batch");
	std::vector<std::optional<std::string>> out(calls.size());
	std::string error;  // the first failed call's "SQLSTATE: message"
	for (std::size_t i = 0; i < calls.size(); ++i) {
		Result res(PQgetResult(c));
		if (!res)
			throw lost("the batch's answer ended early");
		ExecStatusType st = PQresultStatus(res.get());
		if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
			if (PQntuples(res.get()) > 0 && PQnfields(res.get()) > 0 && !PQgetisnull(res.get(), 0, 0))
				out[i] = std::string(PQgetvalue(res.get(), 0, 0));
		} else if (st == PGRES_FATAL_ERROR) {
			if (ConnectionFailure(res.get()) || PQstatus(c) != CONNECTION_OK)
				throw lost("the connection failed during a batch");
			if (error.empty()) {
				const char *state = PQresultErrorField(res.get(), PG_DIAG_SQLSTATE);
				const char *primary = PQresultErrorField(res.get(), PG_DIAG_MESSAGE_PRIMARY);
				error = std::string(state ? state : "?????") + ": " + (primary ? primary : "error");
			}
		}                            // PGRES_PIPELINE_ABORTED: skipped after an earlier failure
		Result end(PQgetResult(c));  // NULL ends each call's results
	}
	for (int nulls = 0;;) {  // up to the sync: the implicit transaction's end
		Result res(PQgetResult(c));
		if (!res) {
			if (PQstatus(c) != CONNECTION_OK || ++nulls > 2)
				throw lost("the connection failed at the batch's commit");
			continue;
		}
		if (PQresultStatus(res.get()) == PGRES_PIPELINE_SYNC)
			break;
		if (PQresultStatus(res.get()) == PGRES_FATAL_ERROR) {
			if (ConnectionFailure(res.get()) || PQstatus(c) != CONNECTION_OK)
				throw lost("the connection failed at the batch's commit");
			if (error.empty())
				error = std::string("commit failed: ") + PQresultErrorMessage(res.get());
		}
	}
	if (PQexitPipelineMode(c) != 1)
		throw lost("cannot leave pipeline mode");
	if (!error.empty()) {
		std::replace(error.begin(), error.end(), '\n', ' ');
		throw DbStatementError(error);
	}
	return out;
}

std::string OutboxStore::GroupText(const std::vector<GroupElement> &group) {
	nlohmann::json elements = nlohmann::json::array();
	for (const GroupElement &g : group) {
		nlohmann::json e = g.result ? g.result->item : nlohmann::json::object();
		if (g.attempt)
			e["attempt"] = g.attempt->item;
		elements.push_back(std::move(e));
	}
	DropNuls(elements);
	return AnswerText(elements);
}

std::vector<GroupOutcome> OutboxStore::GroupRows(PGresult *res, std::size_t size) {
	std::vector<GroupOutcome> out(size);
	auto field = [&](int row, int col) {
		return PQgetisnull(res, row, col) ? std::nullopt : std::optional<std::string>(PQgetvalue(res, row, col));
	};
	for (int i = 0; i < PQntuples(res); ++i) {
		long n = std::stol(PQgetvalue(res, i, 0));
		if (n < 1 || static_cast<std::size_t>(n) > out.size())
			continue;
		out[static_cast<std::size_t>(n - 1)] = {field(i, 1), field(i, 2), field(i, 3)};
	}
	return out;
}

std::vector<GroupOutcome> OutboxStore::RecordResults(const std::vector<GroupElement> &group) {
	Result res = Exec(kRecordResultsSql, {worker_id_, GroupText(group)});
	return GroupRows(res.get(), group.size());
}

void OutboxStore::RecordAttempt(const AttemptRecord &a) {
	Run(AttemptCall(a));
}

bool OutboxStore::Succeeded(long long outbox_id, const nlohmann::json &answer) {
	return Run(SucceededCall(outbox_id, answer)).value_or("f") == "t";
}

std::string OutboxStore::Queried(long long outbox_id, const nlohmann::json &answer) {
	return Run(QueriedCall(outbox_id, answer)).value_or("");
}

std::string OutboxStore::Failed(long long outbox_id, const std::string &kind, const std::string &error,
                                long retry_in_ms, int max_attempts) {
	return Run(FailedCall(outbox_id, kind, error, retry_in_ms, max_attempts)).value_or("lease lost");
}

std::vector<LeasedPrecheck> OutboxStore::LeasePrechecks(int max_rows, int lease_seconds) {
	Result res = Exec("SELECT ticket, type_code, authority_division, attempts, request::text "
	                  "FROM elicense.lease_prechecks($1, $2, $3)",
	                  {worker_id_, std::to_string(max_rows), std::to_string(lease_seconds)});
	std::vector<LeasedPrecheck> out;
	out.reserve(static_cast<std::size_t>(PQntuples(res.get())));
	for (int i = 0; i < PQntuples(res.get()); ++i)
		out.push_back({PgText(res.get(), i, 0), PgText(res.get(), i, 1), PgText(res.get(), i, 2),
		               std::stoi(PQgetvalue(res.get(), i, 3)), PgText(res.get(), i, 4)});
	return out;
}

bool OutboxStore::PrecheckAnswered(const std::string &ticket, const nlohmann::json &answer) {
	return Run(PrecheckAnsweredCall(ticket, answer)).value_or("f") == "t";
}

std::string OutboxStore::PrecheckFailed(const std::string &ticket, const std::string &error, long retry_in_ms,
                                        int max_attempts, bool not_sent) {
	return Run(PrecheckFailedCall(ticket, error, retry_in_ms, max_attempts, not_sent)).value_or("lease lost");
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
