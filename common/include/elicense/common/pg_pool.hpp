// A fixed pool of database sessions for a threaded HTTP server (the preview
// server and the gateway): one session per HTTP thread at most, opened on
// first use, reset on the next use after it broke, each with the pool's
// statement_timeout so a slow database cannot hold a thread for long.
#pragma once

#include "elicense/common/pg_connection.hpp"

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

namespace elicense::common {

// The database could not answer (down, no free session, timeout, a statement
// failed where the caller expected rows).
class DatabaseError : public std::runtime_error {
	using std::runtime_error::runtime_error;
};

class PgPool {
public:
	// `wait`: how long Borrow waits for a free session.
	PgPool(std::string conninfo, std::string application_name, int sessions, std::chrono::milliseconds wait,
	       int statement_timeout_ms);

	// A session borrowed for one call; back in the pool when destroyed.
	class Session {
	public:
		~Session();
		Session(Session &&other) noexcept;
		Session(const Session &) = delete;
		Session &operator=(const Session &) = delete;
		Session &operator=(Session &&) = delete;

		// The open session, connected or reset first if needed; *fresh (when
		// given) says whether it is a new session, with nothing prepared in it.
		// Throws DatabaseError when it cannot connect.
		PGconn *Open(bool *fresh = nullptr);
		// Closes the session (after a half-sent pipeline, say): the next
		// borrower starts afresh.
		void Discard();

	private:
		friend class PgPool;
		Session(PgPool &pool, PgConnection conn);
		PgPool *pool_;
		PgConnection conn_;  // null: not connected yet
	};

	// Throws DatabaseError when no session is free within `wait`.
	Session Borrow();

private:
	void Return(PgConnection conn);

	std::string conninfo_;
	std::string application_name_;
	std::chrono::milliseconds wait_;
	int statement_timeout_ms_;
	std::mutex mu_;
	std::condition_variable cv_;
	std::vector<PgConnection> idle_;  // null: not connected yet
};

}  // namespace elicense::common
