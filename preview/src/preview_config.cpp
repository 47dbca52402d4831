#include "preview_config.hpp"

#include "elicense/common/json_config.hpp"

#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>
#include <stdexcept>

namespace elicense::preview {
namespace {

using elicense::common::TakeConfigValue;
using nlohmann::json;

void Range(const char *key, double value, double low, double high) {
	if (!(value >= low && value <= high))
		throw std::runtime_error(std::string("config key ") + key + " must be in " + std::to_string(low) + ".." +
		                         std::to_string(high));
}

}  // namespace

Config LoadConfig(const std::string &path) {
	if (path.empty())
		return Config {};
	std::ifstream in(path, std::ios::binary);
	if (!in)
		throw std::runtime_error("cannot read " + path);
	std::stringstream text;
	text << in.rdbuf();
	return ParseConfig(text.str(), path);
}

Config ParseConfig(const std::string &text, const std::string &source) {
	Config c;
	json doc = json::parse(text, nullptr, false);
	if (doc.is_discarded() || !doc.is_object())
		throw std::runtime_error("config file " + source + " is not a JSON object");
	static const char *kKnown[] = {"conninfo",
	                               "listen",
	                               "port",
	                               "path_prefix",
	                               "threads",
	                               "max_concurrent_renders",
	                               "render_wait_ms",
	                               "cache_bytes",
	                               "pixels_per_mm",
	                               "request_timeout_ms",
	                               "read_timeout_ms",
	                               "write_timeout_ms",
	                               "keep_alive_timeout_ms",
	                               "max_header_bytes",
	                               "max_header_count",
	                               "max_request_bytes",
	                               "max_connections",
	                               "max_connections_per_client",
	                               "max_queued_requests",
	                               "access_rows_per_minute",
	                               "access_rows_burst",
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
	TakeConfigValue(doc, "path_prefix", c.path_prefix);
	TakeConfigValue(doc, "threads", c.threads);
	TakeConfigValue(doc, "max_concurrent_renders", c.max_concurrent_renders);
	TakeConfigValue(doc, "render_wait_ms", c.render_wait_ms);
	TakeConfigValue(doc, "cache_bytes", c.cache_bytes);
	TakeConfigValue(doc, "pixels_per_mm", c.pixels_per_mm);
	// read_timeout_ms: the name before the deadline covered the whole request.
	if (doc.contains("read_timeout_ms") && doc.contains("request_timeout_ms"))
		throw std::runtime_error("config keys read_timeout_ms and request_timeout_ms are the same; give one");
	TakeConfigValue(doc, "read_timeout_ms", c.request_timeout_ms);
	TakeConfigValue(doc, "request_timeout_ms", c.request_timeout_ms);
	TakeConfigValue(doc, "write_timeout_ms", c.write_timeout_ms);
	TakeConfigValue(doc, "keep_alive_timeout_ms", c.keep_alive_timeout_ms);
	TakeConfigValue(doc, "max_header_bytes", c.max_header_bytes);
	TakeConfigValue(doc, "max_header_count", c.max_header_count);
	TakeConfigValue(doc, "max_request_bytes", c.max_request_bytes);
	TakeConfigValue(doc, "max_connections", c.max_connections);
	TakeConfigValue(doc, "max_connections_per_client", c.max_connections_per_client);
	TakeConfigValue(doc, "max_queued_requests", c.max_queued_requests);
	TakeConfigValue(doc, "access_rows_per_minute", c.access_rows_per_minute);
	TakeConfigValue(doc, "access_rows_burst", c.access_rows_burst);
	TakeConfigValue(doc, "retry_after_s", c.retry_after_s);
	TakeConfigValue(doc, "trust_forwarded_for", c.trust_forwarded_for);
	CheckConfig(c);
	return c;
}

void CheckConfig(const Config &c) {
	Range("port", c.port, 0, 65535);
	Range("threads", c.threads, 1, 256);
	Range("max_concurrent_renders", c.max_concurrent_renders, 1, 64);
	Range("render_wait_ms", c.render_wait_ms, 0, 60000);
	Range("cache_bytes", static_cast<double>(c.cache_bytes), 0, 16.0 * (1u << 30));
	Range("pixels_per_mm", c.pixels_per_mm, 1, 20);
	Range("request_timeout_ms", c.request_timeout_ms, 100, 600000);
	Range("write_timeout_ms", c.write_timeout_ms, 100, 600000);
	Range("keep_alive_timeout_ms", c.keep_alive_timeout_ms, 100, 600000);
	Range("max_header_bytes", static_cast<double>(c.max_header_bytes), 1024, 1 << 16);
	Range("max_header_count", c.max_header_count, 8, 1000);
	Range("max_request_bytes", static_cast<double>(c.max_request_bytes), 0, 1 << 20);
	Range("max_connections", c.max_connections, 1, 100000);
	Range("max_connections_per_client", c.max_connections_per_client, 1, 100000);
	Range("max_queued_requests", c.max_queued_requests, 1, 100000);
	Range("access_rows_per_minute", c.access_rows_per_minute, 0.01, 1e6);
	Range("access_rows_burst", c.access_rows_burst, 1, 1000000);
	Range("retry_after_s", c.retry_after_s, 1, 3600);
	if (c.path_prefix.size() < 2 || c.path_prefix.front() != '/' || c.path_prefix.back() != '/' ||
	    c.path_prefix.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/_-") !=
	        std::string::npos)
		throw std::runtime_error("config key path_prefix must look like /p/ (letters, digits, / _ -)");
}

}  // namespace elicense::preview
