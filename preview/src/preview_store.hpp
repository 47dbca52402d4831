// The preview server's view of the database: elicense.preview_open and
// elicense.preview_ofd, nothing else (the role elicense_preview can do no
// more), through a pool of sessions (elicense/common/pg_pool.hpp).
#pragma once

#include "elicense/common/pg_pool.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace elicense::preview {

using StoreError = common::DatabaseError;

struct PreviewState {
	int code = 404;          // 200, 404 (not our token), 410 (token expired)
	std::string identifier;  // of the version (empty for 404)
	int version = 0;
	std::string status;                 // valid, superseded, revoked, withdrawn, cancelled, expired, suspended, other,
	                                    // not_ready, token_expired, unknown
	std::string content_hash;           // set when valid: key of the rendered page
	std::int64_t token_expires_at = 0;  // Unix seconds (0 for 404)
};

class PreviewStore {
public:
	// `wait`: how long a call waits for a free connection, and the
	// statement_timeout of each connection.
	PreviewStore(std::string conninfo, int connections, std::chrono::milliseconds wait);

	// Checks that the database answers and has the functions (throws StoreError).
	void Ping();
	PreviewState Open(const std::string &token, const std::string &client);
	// The watermarked OFD file of a valid version (throws StoreError if the
	// token does not open one).
	std::vector<std::uint8_t> WatermarkedOfd(const std::string &token);

private:
	common::PgPool pool_;
};

}  // namespace elicense::preview
