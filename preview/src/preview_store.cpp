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

// Runs one statement (text parameters, results in `binary` or text format)
// on a session of the pool.
Result Exec(common::PgPool &pool, const char *sql, const std::vector<std::string> &params, bool binary) {
	common::PgPool::Session session = pool.Borrow();
	PGconn *conn = session.Open();
	std::vector<const char *> values;
	values.reserve(params.size());
	for (const auto &p : params)
		values.push_back(p.c_str());
	Result result(PQexecParams(conn, sql, static_cast<int>(values.size()), nullptr, values.data(), nullptr, nullptr,
	                           binary ? 1 : 0));
	if (!result || PQresultStatus(result.get()) != PGRES_TUPLES_OK)
		throw StoreError(FirstLine(result ? PQresultErrorMessage(result.get()) : PQerrorMessage(conn)));
	return result;
}

}  // namespace

// The wait for a session is also each session's statement_timeout.
PreviewStore::PreviewStore(std::string conninfo, int connections, std::chrono::milliseconds wait)
    : pool_(std::move(conninfo), "elicense-preview", connections, wait, static_cast<int>(wait.count())) {
}

void PreviewStore::Ping() {
	Exec(pool_, "SELECT 'elicense.preview_open(text, text)'::regprocedure", {}, false);
}

PreviewState PreviewStore::Open(const std::string &token, const std::string &client) {
	Result r = Exec(pool_, kOpen, {token, client}, false);
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
	Result r = Exec(pool_, kOfd, {token}, true);  // binary: bytea as raw bytes
	if (PQntuples(r.get()) != 1 || PQgetisnull(r.get(), 0, 0))
		throw StoreError("preview_ofd returned no file");
	const auto *data = reinterpret_cast<const std::uint8_t *>(PQgetvalue(r.get(), 0, 0));
	return std::vector<std::uint8_t>(data, data + PQgetlength(r.get(), 0, 0));
}

}  // namespace elicense::preview
