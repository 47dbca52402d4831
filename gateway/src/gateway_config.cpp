#include "gateway_config.hpp"

#include "elicense/common/json_config.hpp"
#include "front_end_config.hpp"

#include <nlohmann/json.hpp>

#include <stdexcept>

namespace elicense::gateway {
using common::CheckConfigRange;
using common::TakeConfigValue;

Config LoadConfig(const std::string &path) {
	Config c;
	if (path.empty())
		return c;
	nlohmann::json doc = common::ParseConfigObject(
	    common::ReadConfigFile(path), path,
	    http::WithFrontEndKeys({"conninfo", "listen", "port", "public_base_url", "threads", "statement_timeout_ms",
	                            "token_lifetime_s", "token_cache_s", "link_lifetime_s", "max_link_lifetime_s",
	                            "token_requests_per_second"}));
	TakeConfigValue(doc, "conninfo", c.conninfo);
	TakeConfigValue(doc, "listen", c.listen);
	TakeConfigValue(doc, "port", c.port);
	TakeConfigValue(doc, "public_base_url", c.public_base_url);
	TakeConfigValue(doc, "threads", c.threads);
	TakeConfigValue(doc, "statement_timeout_ms", c.statement_timeout_ms);
	TakeConfigValue(doc, "token_lifetime_s", c.token_lifetime_s);
	TakeConfigValue(doc, "token_cache_s", c.token_cache_s);
	TakeConfigValue(doc, "link_lifetime_s", c.link_lifetime_s);
	TakeConfigValue(doc, "max_link_lifetime_s", c.max_link_lifetime_s);
	TakeConfigValue(doc, "token_requests_per_second", c.token_requests_per_second);
	http::TakeFrontEndLimits(doc, c);
	CheckConfig(c);
	return c;
}

void CheckConfig(const Config &c) {
	CheckConfigRange("port", c.port, 0, 65535);
	CheckConfigRange("threads", c.threads, 1, 256);
	CheckConfigRange("statement_timeout_ms", c.statement_timeout_ms, 100, 600000);
	CheckConfigRange("token_lifetime_s", c.token_lifetime_s, 60, 86400);
	CheckConfigRange("token_cache_s", c.token_cache_s, 0, 60);
	CheckConfigRange("max_link_lifetime_s", c.max_link_lifetime_s, 1, 86400);
	CheckConfigRange("link_lifetime_s", c.link_lifetime_s, 1, c.max_link_lifetime_s);
	CheckConfigRange("token_requests_per_second", c.token_requests_per_second, 1, 1000);
	CheckConfigRange("request_timeout_ms", c.request_timeout_ms, 100, 600000);
	CheckConfigRange("write_timeout_ms", c.write_timeout_ms, 100, 600000);
	CheckConfigRange("keep_alive_timeout_ms", c.keep_alive_timeout_ms, 100, 600000);
	CheckConfigRange("max_header_bytes", static_cast<double>(c.max_header_bytes), 1024, 1 << 20);
	CheckConfigRange("max_header_count", c.max_header_count, 8, 1000);
	CheckConfigRange("max_request_bytes", static_cast<double>(c.max_request_bytes), 1024, 64 << 20);
	CheckConfigRange("max_connections", c.max_connections, 1, 100000);
	CheckConfigRange("max_connections_per_client", c.max_connections_per_client, 1, c.max_connections);
	CheckConfigRange("max_queued_requests", c.max_queued_requests, 1, 100000);
	CheckConfigRange("retry_after_s", c.retry_after_s, 1, 3600);
	if (!c.public_base_url.empty() && c.public_base_url.rfind("http://", 0) != 0 &&
	    c.public_base_url.rfind("https://", 0) != 0)
		throw std::runtime_error("config key public_base_url must start with http:// or https://");
}

}  // namespace elicense::gateway
