#include "elicense/common/pg_connection.hpp"

#include "elicense/common/log.hpp"

namespace elicense::common {
namespace {

// libpq's default notice processor prints notices as they are to stderr, and
// a server shutting down sends "FATAL: terminating connection ..." to an
// idle session that way: one raw line in the one-JSON-object-per-line log.
// Every notice and asynchronous error goes through the JSON log instead.
void LogPgNotice(void *, const PGresult *notice) {
	const char *severity = PQresultErrorField(notice, PG_DIAG_SEVERITY_NONLOCALIZED);
	const char *state = PQresultErrorField(notice, PG_DIAG_SQLSTATE);
	const char *primary = PQresultErrorField(notice, PG_DIAG_MESSAGE_PRIMARY);
	std::string sev = severity ? severity : "NOTICE";
	const char *level = (sev == "ERROR" || sev == "FATAL" || sev == "PANIC") ? "error"
	                    : sev == "WARNING"                                   ? "warn"
	                                                                         : "info";
	LogEvent(level, "db_notice",
	         {{"severity", sev},
	          {"sqlstate", state ? state : ""},
	          {"message", primary ? std::string(primary) : FirstLine(PQresultErrorMessage(notice))}});
}

// Which of several hosts took the session: after a failover, the log says
// the daemon is on the new primary.
void LogConnected(PGconn *conn, const std::string &application_name) {
	if (PQstatus(conn) != CONNECTION_OK)
		return;
	LogEvent("info", "db_connected",
	         {{"application_name", application_name},
	          {"host", PQhost(conn) ? PQhost(conn) : ""},
	          {"port", PQport(conn) ? PQport(conn) : ""}});
}

}  // namespace

PgConnection ConnectPg(const std::string &conninfo, const std::string &application_name) {
	const char *keys[] = {"dbname", "fallback_application_name", nullptr};
	const char *values[] = {conninfo.c_str(), application_name.c_str(), nullptr};
	// expand_dbname=1: "dbname" may be a whole conninfo string or URI, with
	// several hosts ("host=a,b target_session_attrs=read-write": libpq tries
	// them in turn, here and on every reconnect, and keeps the one that fits).
	PgConnection conn(PQconnectdbParams(keys, values, 1));
	if (conn) {
		PQsetNoticeReceiver(conn.get(), LogPgNotice, nullptr);
		LogConnected(conn.get(), application_name);
	}
	return conn;
}

void ResetPg(PGconn *conn, const std::string &application_name) {
	PQreset(conn);
	LogConnected(conn, application_name);
}

std::string FirstLine(const char *message) {
	std::string text = message ? message : "";
	return text.substr(0, text.find('\n'));
}

std::string PgText(const PGresult *result, int row, int column) {
	return PQgetisnull(result, row, column) ? std::string() : std::string(PQgetvalue(result, row, column));
}

}  // namespace elicense::common
