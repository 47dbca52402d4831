// libpq handles that free themselves, and the one way both daemons open a
// session: the conninfo may be a whole conninfo string or URI, and the
// session is named after the daemon unless the conninfo names it.
#pragma once

#include <libpq-fe.h>

#include <memory>
#include <string>

namespace elicense::common {

struct PgConnectionClose {
	void operator()(PGconn *c) const noexcept {
		PQfinish(c);
	}
};
struct PgResultClear {
	void operator()(PGresult *r) const noexcept {
		PQclear(r);
	}
};
using PgConnection = std::unique_ptr<PGconn, PgConnectionClose>;
using PgResult = std::unique_ptr<PGresult, PgResultClear>;

// Opens a session (blocking). Never null; check PQstatus, as with PQconnectdb.
// Notices and a server's errors to an idle session go to the JSON log
// (db_notice); each session that opens is logged (db_connected, host, port).
PgConnection ConnectPg(const std::string &conninfo, const std::string &application_name);

// Reconnects a broken session (PQreset) with the same conninfo: with several
// hosts, to whichever fits target_session_attrs now. Check PQstatus after.
void ResetPg(PGconn *conn, const std::string &application_name);

// The first line of a libpq message (they end in "\n" and may carry a DETAIL
// line); "" for null.
std::string FirstLine(const char *message);

// A column's text, "" for NULL.
std::string PgText(const PGresult *result, int row, int column);

}  // namespace elicense::common
