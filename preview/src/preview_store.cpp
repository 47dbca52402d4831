#include "preview_store.hpp"

#include <cstdlib>
#include <utility>

namespace elicense::preview {
namespace {

using common::FirstLine;
using Result = common::PgResult;

constexpr char kOpen[] =
    "SELECT code, identifier, version, status, content_hash, extract(epoch FROM token_expires_at)::bigint"
    " FROM elicense.preview_open($1::text, $2::text)";
constexpr char kOfd[] = "SELECT elicense.preview_ofd($1::text)";

}  // namespace

// A connection borrowed from the pool for one call.
class PreviewStore::Lease {
public:
	explicit Lease(PreviewStore &store) : store_(store), conn_(store.Acquire()) {
	}
	~Lease() {
		store_.Release(std::move(conn_));
	}
	Lease(const Lease &) = delete;
	Lease &operator=(const Lease &) = delete;

	// Runs one statement (text parameters, results in `binary` or text format),
	// connecting or resetting the connection first if needed.
	Result Exec(const char *sql, const std::vector<std::string> &params, bool binary) {
		bool fresh = false;
		if (!conn_) {
			conn_ = common::ConnectPg(store_.conninfo_, "elicense-preview");
			fresh = true;
		} else if (PQstatus(conn_.get()) != CONNECTION_OK) {
			common::ResetPg(conn_.get(), "elicense-preview");
			fresh = true;
		}
		if (PQstatus(conn_.get()) != CONNECTION_OK)
			throw StoreError("database connection failed: " + FirstLine(PQerrorMessage(conn_.get())));
		if (fresh) {  // a slow database must not hold an HTTP thread for long
			std::string set = "SET statement_timeout = " + std::to_string(store_.wait_.count());
			Result ok(PQexec(conn_.get(), set.c_str()));
			if (!ok || PQresultStatus(ok.get()) != PGRES_COMMAND_OK)
				throw StoreError("cannot set statement_timeout: " + FirstLine(PQerrorMessage(conn_.get())));
		}
		std::vector<const char *> values;
		for (const auto &p : params)
			values.push_back(p.c_str());
		Result result(PQexecParams(conn_.get(), sql, static_cast<int>(values.size()), nullptr, values.data(), nullptr,
		                           nullptr, binary ? 1 : 0));
		if (!result || PQresultStatus(result.get()) != PGRES_TUPLES_OK)
			throw StoreError(FirstLine(result ? PQresultErrorMessage(result.get()) : PQerrorMessage(conn_.get())));
		return result;
	}

private:
	PreviewStore &store_;
	common::PgConnection conn_;
};

PreviewStore::PreviewStore(std::string conninfo, int connections, std::chrono::milliseconds wait)
    : conninfo_(std::move(conninfo)), wait_(wait) {
	idle_.resize(static_cast<std::size_t>(connections));
}

common::PgConnection PreviewStore::Acquire() {
	std::unique_lock<std::mutex> lock(mu_);
	if (!cv_.wait_for(lock, wait_, [&] { return !idle_.empty(); }))
		throw StoreError("no database connection free");
	common::PgConnection conn = std::move(idle_.back());
	idle_.pop_back();
	return conn;
}

void PreviewStore::Release(common::PgConnection conn) {
	{
		std::lock_guard<std::mutex> lock(mu_);
		idle_.push_back(std::move(conn));
	}
	cv_.notify_one();
}

void PreviewStore::Ping() {
	Lease lease(*this);
	lease.Exec("SELECT 'elicense.preview_open(text, text)'::regprocedure", {}, false);
}

PreviewState PreviewStore::Open(const std::string &token, const std::string &client) {
	Lease lease(*this);
	Result r = lease.Exec(kOpen, {token, client}, false);
	PreviewState state;
	if (PQntuples(r.get()) != 1)
		throw StoreError("preview_open returned no row");
	state.code = std::atoi(PQgetvalue(r.get(), 0, 0));
	state.identifier = PQgetvalue(r.get(), 0, 1);
	state.version = std::atoi(PQgetvalue(r.get(), 0, 2));
	state.status = PQgetvalue(r.get(), 0, 3);
	state.content_hash = PQgetvalue(r.get(), 0, 4);
	state.token_expires_at = std::atoll(PQgetvalue(r.get(), 0, 5));
	return state;
}

std::vector<std::uint8_t> PreviewStore::WatermarkedOfd(const std::string &token) {
	Lease lease(*this);
	Result r = lease.Exec(kOfd, {token}, true);  // binary: bytea as raw bytes
	if (PQntuples(r.get()) != 1 || PQgetisnull(r.get(), 0, 0))
		throw StoreError("preview_ofd returned no file");
	const auto *data = reinterpret_cast<const std::uint8_t *>(PQgetvalue(r.get(), 0, 0));
	return std::vector<std::uint8_t>(data, data + PQgetlength(r.get(), 0, 0));
}

}  // namespace elicense::preview
