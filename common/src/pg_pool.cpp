#include "elicense/common/pg_pool.hpp"

#include <utility>

namespace elicense::common {

PgPool::PgPool(std::string conninfo, std::string application_name, int sessions, std::chrono::milliseconds wait,
               int statement_timeout_ms)
    : conninfo_(std::move(conninfo)), application_name_(std::move(application_name)), wait_(wait),
      statement_timeout_ms_(statement_timeout_ms) {
	idle_.resize(static_cast<std::size_t>(sessions));
}

PgPool::Session PgPool::Borrow() {
	std::unique_lock<std::mutex> lock(mu_);
	if (!cv_.wait_for(lock, wait_, [&] { return !idle_.empty(); }))
		throw DatabaseError("no database connection free");
	PgConnection conn = std::move(idle_.back());
	idle_.pop_back();
	return Session(*this, std::move(conn));
}

void PgPool::Return(PgConnection conn) {
	{
		std::lock_guard<std::mutex> lock(mu_);
		idle_.push_back(std::move(conn));
	}
	cv_.notify_one();
}

PgPool::Session::Session(PgPool &pool, PgConnection conn) : pool_(&pool), conn_(std::move(conn)) {
}

PgPool::Session::Session(Session &&other) noexcept : pool_(other.pool_), conn_(std::move(other.conn_)) {
	other.pool_ = nullptr;
}

PgPool::Session::~Session() {
	if (pool_)
		pool_->Return(std::move(conn_));
}

void PgPool::Session::Discard() {
	conn_.reset();
}

PGconn *PgPool::Session::Open(bool *fresh) {
	bool reconnected = false;
	if (!conn_) {
		conn_ = ConnectPg(pool_->conninfo_, pool_->application_name_);
		reconnected = true;
	} else if (PQstatus(conn_.get()) != CONNECTION_OK) {
		ResetPg(conn_.get(), pool_->application_name_);
		reconnected = true;
	}
	if (PQstatus(conn_.get()) != CONNECTION_OK)
		throw DatabaseError("database connection failed: " + FirstLine(PQerrorMessage(conn_.get())));
	if (reconnected) {
		std::string set = "SET statement_timeout = " + std::to_string(pool_->statement_timeout_ms_);
		PgResult ok(PQexec(conn_.get(), set.c_str()));
		if (!ok || PQresultStatus(ok.get()) != PGRES_COMMAND_OK) {
			std::string why = FirstLine(PQerrorMessage(conn_.get()));
			conn_.reset();  // never lend a session without its timeout
			throw DatabaseError("cannot set statement_timeout: " + why);
		}
	}
	if (fresh)
		*fresh = reconnected;
	return conn_.get();
}

}  // namespace elicense::common
