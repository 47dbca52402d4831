#include "gateway_config.hpp"

#include "elicense/common/json_config.hpp"

#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>
#include <stdexcept>

namespace elicense::gateway {
namespace {

using elicense::common::TakeConfigValue;

void Range(const char *key, double value, double low, double high) {
	if (!(value >= low && value <= high))
		throw std::runtime_error(std::string("config key ") + key + " must be in " + std::to_string(low) + ".." +
		                         std::to_string(high));
}

}  // namespace

Config LoadConfig(const std::string &path) {
	Config c;
	if (path.empty())
		return c;
	std::ifstream in(path, std::ios::binary);
	if (!in)
		throw std::runtime_error("cannot read " + path);
	std::stringstream text;
	text << in.rdbuf();
	nlohmann::json doc = nlohmann::json::parse(text.str(), nullptr, false);
	if (doc.is_discarded() || !doc.is_object())
		throw std::runtime_error("config file " + path + " is not a JSON object");
	static const char *kKnown[] = {"conninfo",
	                               "listen",
	                               "port",
	                               "public_base_url",
	                               "threads",
	                               "statement_timeout_ms",
	                               "token_lifetime_s",
	                               "token_cache_s",
	                               "link_lifetime_s",
	                               "max_link_lifetime_s",
	                               "token_requests_per_second",
	                               "request_timeout_ms",
	                               "write_timeout_ms",
	                               "keep_alive_timeout_ms",
	                               "max_header_bytes",
	                               "max_header_count",
	                               "max_request_bytes",
	                               "max_connections",
	                               "max_connections_per_client",
	                               "max_queued_requests",
	                               "retry_after_s",
	                               "trust_forwarded_for"};
	for (auto it = doc.begin(); it != doc.end(); ++it) {
		bool known = false;
		for (const char *k : kKnown)
			known = known || it.key() == k;
		if (!known)
			throw std::runtime_error("unknown config key " + it.key());
	}
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
	CheckConfig(c);
	return c;
}

void CheckConfig(const Config &c) {
	Range("port", c.port, 0, 65535);
	Range("threads", c.threads, 1, 256);
	Range("statement_timeout_ms", c.statement_timeout_ms, 100, 600000);
	Range("token_lifetime_s", c.token_lifetime_s, 60, 86400);
	Range("token_cache_s", c.token_cache_s, 0, 60);
	Range("max_link_lifetime_s", c.max_link_lifetime_s, 1, 86400);
	Range("link_lifetime_s", c.link_lifetime_s, 1, c.max_link_lifetime_s);
	Range("token_requests_per_second", c.token_requests_per_second, 1, 1000);
	Range("request_timeout_ms", c.request_timeout_ms, 100, 600000);
	Range("write_timeout_ms", c.write_timeout_ms, 100, 600000);
	Range("keep_alive_timeout_ms", c.keep_alive_timeout_ms, 100, 600000);
	Range("max_header_bytes", static_cast<double>(c.max_header_bytes), 1024, 1 << 20);
	Range("max_header_count", c.max_header_count, 8, 1000);
	Range("max_request_bytes", static_cast<double>(c.max_request_bytes), 1024, 64 << 20);
	Range("max_connections", c.max_connections, 1, 100000);
	Range("max_connections_per_client", c.max_connections_per_client, 1, c.max_connections);
	Range("max_queued_requests", c.max_queued_requests, 1, 100000);
	Range("retry_after_s", c.retry_after_s, 1, 3600);
	if (!c.public_base_url.empty() && c.public_base_url.rfind("http://", 0) != 0 &&
	    c.public_base_url.rfind("https://", 0) != 0)
		throw std::runtime_error("config key public_base_url must start with http:// or https://");
}

}  // namespace elicense::gateway
