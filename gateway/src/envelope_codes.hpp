// How an outcome reaches a department: the answer envelope's head.status
// (PLATFORM.md, "Sharing interface of one province": 0 ok, 11 identity check
// failed, 100 no permission, 103 bad holder-code type, 99 other; 12 and
// 104-107 are this gateway's, docs/gateway.md lists them all), the HTTP
// status, and a fixed message. A database refusal is classified by its
// SQLSTATE and the shape of its message, and answered with a fixed text of
// this file: nothing of the PostgreSQL message (role names, grant ids, other
// holders' values) reaches the caller. The audit keeps the whole message.
#pragma once

#include <string>

namespace elicense::gateway {

enum class Code {
	kOk = 0,
	kIdentity = 11,       // no, bad or expired token; wrong application id or secret
	kRateLimited = 12,    // the application's rate limit
	kNoPermission = 100,  // no grant, grant revoked, wrong holder, type outside the grant or code
	kBadHolderType = 103,
	kUsageCode = 104,   // usage code unknown or expired
	kNotFound = 105,    // no such licence (or download link)
	kBadRequest = 106,  // missing or invalid field, unknown scenario or type
	kNotReady = 107,    // the licence has no file yet (no QR code)
	kOther = 99,
};

struct Outcome {
	Code code = Code::kOk;
	int http = 200;
	std::string message = "ok";
};

Outcome Refusal(Code code, std::string message);
// A database error: SQLSTATE and the first line of its message.
Outcome FromDatabase(const std::string &sqlstate, const std::string &message);
// The database could not be reached or did not answer in time.
Outcome Unavailable();

}  // namespace elicense::gateway
