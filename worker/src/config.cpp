#include "config.hpp"

#include "elicense/json_config.hpp"

#include <nlohmann/json.hpp>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <sys/stat.h>
#include <unistd.h>

namespace elicense::worker {
namespace {

using elicense::core::TakeConfigValue;
using nlohmann::json;

std::string Slurp(const std::string &path) {
	std::ifstream in(path, std::ios::binary);
	if (!in)
		throw std::runtime_error("cannot read " + path);
	std::stringstream ss;
	ss << in.rdbuf();
	return ss.str();
}

std::string Env(const char *name) {
	const char *v = std::getenv(name);
	return v ? v : "";
}

}  // namespace

std::string ReadSecretFile(const std::string &path) {
	struct stat st {};
	if (stat(path.c_str(), &st) != 0)
		throw std::runtime_error("cannot stat secret file " + path);
	if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0)
		throw std::runtime_error("secret file " + path + " is readable by group or others; chmod 600 it");
	std::string s = Slurp(path);
	while (!s.empty() && (s.back() == '\n' || s.back() == '\r'))
		s.pop_back();
	return s;
}

Config LoadConfig(const std::string &path) {
	Config c;
	std::string secret_file;
	if (!path.empty()) {
		json doc = json::parse(Slurp(path), nullptr, false);
		if (doc.is_discarded() || !doc.is_object())
			throw std::runtime_error("config file " + path + " is not a JSON object");
		try {
			TakeConfigValue(doc, "conninfo", c.conninfo);
			TakeConfigValue(doc, "worker_id", c.worker_id);
			TakeConfigValue(doc, "in_flight", c.in_flight);
			TakeConfigValue(doc, "lease_seconds", c.lease_seconds);
			TakeConfigValue(doc, "poll_interval_ms", c.poll_interval_ms);
			TakeConfigValue(doc, "summary_interval_ms", c.summary_interval_ms);
			TakeConfigValue(doc, "rate_per_s", c.rate_per_s);
			TakeConfigValue(doc, "burst", c.burst);
			if (auto p = doc.find("platform"); p != doc.end()) {
				TakeConfigValue(*p, "base_url", c.base_url);
				TakeConfigValue(*p, "backup_url", c.backup_url);
				TakeConfigValue(*p, "token_url", c.token_url);
				TakeConfigValue(*p, "client_id", c.client_id);
				TakeConfigValue(*p, "client_secret_file", secret_file);
				TakeConfigValue(*p, "request_timeout_ms", c.request_timeout_ms);
				TakeConfigValue(*p, "connect_timeout_ms", c.connect_timeout_ms);
				TakeConfigValue(*p, "failures_to_switch", c.failures_to_switch);
				TakeConfigValue(*p, "probe_interval_ms", c.probe_interval_ms);
				TakeConfigValue(*p, "paths", c.paths);
				if (p->contains("client_secret"))
					throw std::runtime_error("put the client secret in a file (platform.client_secret_file) or in "
					                         "ELICENSE_CLIENT_SECRET, not in the config file");
			}
			if (auto b = doc.find("backoff"); b != doc.end()) {
				long base_ms = c.backoff.base.count(), cap_ms = c.backoff.cap.count();
				TakeConfigValue(*b, "base_ms", base_ms);
				TakeConfigValue(*b, "cap_ms", cap_ms);
				TakeConfigValue(*b, "max_attempts", c.backoff.max_attempts);
				c.backoff.base = Millis(base_ms);
				c.backoff.cap = Millis(cap_ms);
			}
		} catch (const json::exception &e) {
			throw std::runtime_error("config file " + path + ": " + e.what());
		}
	}
	c.client_secret = Env("ELICENSE_CLIENT_SECRET");
	if (c.client_secret.empty() && !secret_file.empty())
		c.client_secret = ReadSecretFile(secret_file);
	if (c.token_url.empty() && !c.base_url.empty())
		c.token_url = c.base_url + "/rest/oauth2/token";
	if (c.worker_id.empty()) {
		char host[256] = "host";
		gethostname(host, sizeof host - 1);
		c.worker_id = std::string(host) + ":" + std::to_string(getpid());
	}
	if (c.in_flight < 1 || c.lease_seconds < 5 || c.backoff.max_attempts < 1)
		throw std::runtime_error("in_flight >= 1, lease_seconds >= 5 and backoff.max_attempts >= 1 are required");
	return c;
}

}  // namespace elicense::worker
