// The config keys of the bounded HTTP front end's limits (http_front_end.hpp),
// named alike in the preview server's and the gateway's config files. Their
// ranges differ per daemon and stay in each one's CheckConfig.
#pragma once

#include "elicense/common/json_config.hpp"

#include <nlohmann/json.hpp>

#include <string_view>
#include <vector>

namespace elicense::http {

// `own`, the daemon's own config keys, with the front end's.
inline std::vector<std::string_view> WithFrontEndKeys(std::vector<std::string_view> own) {
	for (std::string_view key :
	     {"request_timeout_ms", "write_timeout_ms", "keep_alive_timeout_ms", "max_header_bytes", "max_header_count",
	      "max_request_bytes", "max_connections", "max_connections_per_client", "max_queued_requests", "retry_after_s",
	      "trust_forwarded_for"})
		own.push_back(key);
	return own;
}

template <typename Config>
void TakeFrontEndLimits(const nlohmann::json &doc, Config &c) {
	using common::TakeConfigValue;
	TakeConfigValue(doc, "request_timeout_ms", c.request_timeout_ms);
	TakeConfigValue(doc, "write_timeout_ms", c.write_timeout_ms);
	TakeConfigValue(doc, "keep_alive_timeout_ms", c.keep_alive_timeout_ms);
	TakeConfigValue(doc, "max_header_bytes", c.max_header_bytes);
	TakeConfigValue(doc, "max_header_count", c.max_header_count);
	TakeConfigValue(doc, "max_request_bytes", c.max_request_bytes);
	TakeConfigValue(doc, "max_connections", c.max_connections);
	TakeConfigValue(doc, "max_connections_per_client", c.max_connections_per_client);
	TakeConfigValue(doc, "max_queued_requests", c.max_queued_requests);
	TakeConfigValue(doc, "retry_after_s", c.retry_after_s);
	TakeConfigValue(doc, "trust_forwarded_for", c.trust_forwarded_for);
}

}  // namespace elicense::http
