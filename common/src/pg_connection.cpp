#include "elicense/common/pg_connection.hpp"

namespace elicense::common {

PgConnection ConnectPg(const std::string &conninfo, const std::string &application_name) {
	const char *keys[] = {"dbname", "fallback_application_name", nullptr};
	const char *values[] = {conninfo.c_str(), application_name.c_str(), nullptr};
	// expand_dbname=1: "dbname" may be a whole conninfo string or URI.
	return PgConnection(PQconnectdbParams(keys, values, 1));
}

std::string FirstLine(const char *message) {
	std::string text = message ? message : "";
	return text.substr(0, text.find('\n'));
}

std::string PgText(const PGresult *result, int row, int column) {
	return PQgetisnull(result, row, column) ? std::string() : std::string(PQgetvalue(result, row, column));
}

}  // namespace elicense::common
