#include "preview_config.hpp"

#include "elicense/common/json_config.hpp"
#include "front_end_config.hpp"

#include <nlohmann/json.hpp>

#include <stdexcept>

namespace elicense::preview {
using common::CheckConfigRange;
using common::TakeConfigValue;

Config LoadConfig(const std::string &path) {
	if (path.empty())
		return Config {};
	return ParseConfig(common::ReadConfigFile(path), path);
}

Config ParseConfig(const std::string &text, const std::string &source) {
	Config c;
	nlohmann::json doc = common::ParseConfigObject(
	    text, source,
	    http::WithFrontEndKeys({"conninfo", "listen", "port", "path_prefix", "threads", "max_concurrent_renders",
	                            "render_wait_ms", "cache_bytes", "pixels_per_mm", "read_timeout_ms",
	                            "access_rows_per_minute", "access_rows_burst"}));
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
	http::TakeFrontEndLimits(doc, c);
	TakeConfigValue(doc, "access_rows_per_minute", c.access_rows_per_minute);
	TakeConfigValue(doc, "access_rows_burst", c.access_rows_burst);
	CheckConfig(c);
	return c;
}

void CheckConfig(const Config &c) {
	CheckConfigRange("port", c.port, 0, 65535);
	CheckConfigRange("threads", c.threads, 1, 256);
	CheckConfigRange("max_concurrent_renders", c.max_concurrent_renders, 1, 64);
	CheckConfigRange("render_wait_ms", c.render_wait_ms, 0, 60000);
	CheckConfigRange("cache_bytes", static_cast<double>(c.cache_bytes), 0, 16.0 * (1u << 30));
	CheckConfigRange("pixels_per_mm", c.pixels_per_mm, 1, 20);
	CheckConfigRange("request_timeout_ms", c.request_timeout_ms, 100, 600000);
	CheckConfigRange("write_timeout_ms", c.write_timeout_ms, 100, 600000);
	CheckConfigRange("keep_alive_timeout_ms", c.keep_alive_timeout_ms, 100, 600000);
	CheckConfigRange("max_header_bytes", static_cast<double>(c.max_header_bytes), 1024, 1 << 16);
	CheckConfigRange("max_header_count", c.max_header_count, 8, 1000);
	CheckConfigRange("max_request_bytes", static_cast<double>(c.max_request_bytes), 0, 1 << 20);
	CheckConfigRange("max_connections", c.max_connections, 1, 100000);
	CheckConfigRange("max_connections_per_client", c.max_connections_per_client, 1, 100000);
	CheckConfigRange("max_queued_requests", c.max_queued_requests, 1, 100000);
	CheckConfigRange("access_rows_per_minute", c.access_rows_per_minute, 0.01, 1e6);
	CheckConfigRange("access_rows_burst", c.access_rows_burst, 1, 1000000);
	CheckConfigRange("retry_after_s", c.retry_after_s, 1, 3600);
	if (c.path_prefix.size() < 2 || c.path_prefix.front() != '/' || c.path_prefix.back() != '/' ||
	    c.path_prefix.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/_-") !=
	        std::string::npos)
		throw std::runtime_error("config key path_prefix must look like /p/ (letters, digits, / _ -)");
}

}  // namespace elicense::preview
