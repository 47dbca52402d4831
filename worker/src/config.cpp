#include "config.hpp"

#include "elicense/common/json_config.hpp"
#include "elicense/sm4.hpp"
#include "step_names.hpp"

#include <nlohmann/json.hpp>

#include <cstdlib>
#include <stdexcept>
#include <sys/stat.h>
#include <unistd.h>

namespace elicense::worker {
namespace {

using elicense::common::TakeConfigValue;
using nlohmann::json;

std::string Env(const char *name) {
	const char *v = std::getenv(name);
	return v ? v : "";
}

bool AllDigits(const std::string &s) {
	return !s.empty() && s.find_first_not_of("0123456789") == std::string::npos;
}

// "*" or a licence type code: 18-character USCC + 3 characters (PLATFORM.md).
void CheckTypeKey(const std::string &where, const std::string &type) {
	bool ok = type == "*" ||
	          (type.size() == 21 && type.find_first_not_of("0123456789ABCDEFGHJKLMNPQRTUWXY") == std::string::npos);
	if (!ok)
		throw std::runtime_error("config key " + where + " has \"" + type +
		                         "\", which is neither \"*\" nor a licence type code like 11100000000013338W050");
}

void CheckStep(const std::string &where, const std::string &step) {
	for (std::string_view known : {kStepValidate, kStepAssign, kStepCollect, kStepStatus, kStepQuery, kStepKeyChange})
		if (step == known)
			return;
	throw std::runtime_error("config key " + where + " names step \"" + step +
	                         "\"; the steps are validate, assign_code, collect, status_update, query, key_change");
}

void SetPath(PathTable &paths, const std::string &type, const std::string &step, const std::string &path) {
	CheckTypeKey("paths", type);
	CheckStep("paths." + type, step);
	if (path.empty() || path[0] != '/')
		throw std::runtime_error("config key paths." + type + "." + step + " must start with \"/\", not \"" + path +
		                         "\"");
	paths[type][step] = path;
}

// "paths": {"<type>": {"<step>": "/…"}}
void TakePathTable(const json &doc, PathTable &paths) {
	auto it = doc.find("paths");
	if (it == doc.end() || it->is_null())
		return;
	if (!it->is_object())
		throw std::runtime_error("config key paths must be an object of licence types");
	for (const auto &type : it->items()) {
		if (!type.value().is_object())
			throw std::runtime_error("config key paths." + type.key() + " must be an object of steps");
		for (const auto &step : type.value().items()) {
			if (!step.value().is_string())
				throw std::runtime_error("config key paths." + type.key() + "." + step.key() + " must be a string");
			SetPath(paths, type.key(), step.key(), step.value().get<std::string>());
		}
	}
}

// "platform": {"paths": {"<type>/<step>": "/…"}}, the form of 0.2.0.
void TakeLegacyPaths(const json &platform, PathTable &paths) {
	std::map<std::string, std::string> legacy;
	TakeConfigValue(platform, "paths", legacy);
	for (const auto &[key, path] : legacy) {
		auto slash = key.find('/');
		if (slash == std::string::npos)
			throw std::runtime_error("config key platform.paths has \"" + key + "\"; write \"<type code>/<step>\"");
		std::string step = key.substr(slash + 1);
		SetPath(paths, key.substr(0, slash), step == kStepConfirm ? std::string(kStepQuery) : step, path);
	}
}

void RefuseInlineSecret(const json &obj, const char *key, const std::string &where, const char *instead) {
	if (obj.contains(key))
		throw std::runtime_error(std::string("put the secret ") + where + "." + key + " in a file (" + instead +
		                         "), not in the config file");
}

struct CredentialFiles {
	std::string client_id, secret_file;
	bool given = false;
};

std::map<std::string, CredentialFiles> TakeCredentials(const json &doc) {
	std::map<std::string, CredentialFiles> out;
	auto it = doc.find("credentials");
	if (it == doc.end() || it->is_null())
		return out;
	if (!it->is_object())
		throw std::runtime_error("config key credentials must be an object of licence types");
	for (const auto &entry : it->items()) {
		CheckTypeKey("credentials", entry.key());
		if (!entry.value().is_object())
			throw std::runtime_error("config key credentials." + entry.key() + " must be an object");
		RefuseInlineSecret(entry.value(), "client_secret", "credentials." + entry.key(), "client_secret_file");
		CredentialFiles c;
		c.given = true;
		TakeConfigValue(entry.value(), "client_id", c.client_id);
		TakeConfigValue(entry.value(), "client_secret_file", c.secret_file);
		if (c.client_id.empty())
			throw std::runtime_error("config key credentials." + entry.key() + ".client_id is missing");
		out[entry.key()] = c;
	}
	return out;
}

UnknownOutcome ParseUnknownOutcome(const std::string &name) {
	if (name == "query")
		return UnknownOutcome::kQuery;
	if (name == "resend")
		return UnknownOutcome::kResend;
	if (name == "hold")
		return UnknownOutcome::kHold;
	throw std::runtime_error("config key unknown_outcome must be \"query\", \"resend\" or \"hold\", not \"" + name +
	                         "\"");
}

std::vector<std::string> TakePatterns(const json &doc, std::vector<std::string> fallback) {
	auto it = doc.find("already_done_patterns");
	if (it == doc.end() || it->is_null())
		return fallback;
	if (!it->is_array())
		throw std::runtime_error("config key already_done_patterns must be an array of strings");
	std::vector<std::string> out;
	for (const json &p : *it) {
		if (!p.is_string() || p.get<std::string>().empty())
			throw std::runtime_error("config key already_done_patterns must hold non-empty strings only");
		out.push_back(p.get<std::string>());
	}
	return out;
}

}  // namespace

const char *UnknownOutcomeName(UnknownOutcome rule) {
	switch (rule) {
	case UnknownOutcome::kQuery: return "query";
	case UnknownOutcome::kResend: return "resend";
	case UnknownOutcome::kHold: return "hold";
	}
	return "?";
}

std::string ReadSecretFile(const std::string &path) {
	struct stat st {};
	if (stat(path.c_str(), &st) != 0)
		throw std::runtime_error("cannot stat secret file " + path);
	if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0)
		throw std::runtime_error("secret file " + path + " is readable by group or others; chmod 600 it");
	std::string s = common::ReadConfigFile(path);
	while (!s.empty() && (s.back() == '\n' || s.back() == '\r'))
		s.pop_back();
	return s;
}

Config LoadConfig(const std::string &path) {
	Config c;
	std::string secret_file, token_path, sm4_key_file;
	CredentialFiles legacy;
	std::map<std::string, CredentialFiles> credentials;
	PathTable own_paths;
	if (!path.empty()) {
		json doc = json::parse(common::ReadConfigFile(path), nullptr, false);
		if (doc.is_discarded() || !doc.is_object())
			throw std::runtime_error("config file " + path + " is not a JSON object");
		try {
			TakeConfigValue(doc, "profile", c.profile);
			PresetOf(c.profile);  // refuses an unknown profile early
			TakeConfigValue(doc, "conninfo", c.conninfo);
			TakeConfigValue(doc, "worker_id", c.worker_id);
			TakeConfigValue(doc, "in_flight", c.in_flight);
			TakeConfigValue(doc, "lease_seconds", c.lease_seconds);
			TakeConfigValue(doc, "poll_interval_ms", c.poll_interval_ms);
			TakeConfigValue(doc, "summary_interval_ms", c.summary_interval_ms);
			TakeConfigValue(doc, "expire_interval_ms", c.expire_interval_ms);
			TakeConfigValue(doc, "expire_batch", c.expire_batch);
			TakeConfigValue(doc, "stop_grace_ms", c.stop_grace_ms);
			TakeConfigValue(doc, "rate_per_s", c.rate_per_s);
			TakeConfigValue(doc, "burst", c.burst);
			TakeConfigValue(doc, "stock_share", c.stock_share);
			std::string rule = UnknownOutcomeName(c.unknown_outcome);
			TakeConfigValue(doc, "unknown_outcome", rule);
			c.unknown_outcome = ParseUnknownOutcome(rule);
			c.already_done_patterns = TakePatterns(doc, c.already_done_patterns);
			if (auto p = doc.find("platform"); p != doc.end() && !p->is_null()) {
				if (!p->is_object())
					throw std::runtime_error("config key platform must be an object");
				TakeConfigValue(*p, "base_url", c.base_url);
				TakeConfigValue(*p, "backup_url", c.backup_url);
				TakeConfigValue(*p, "token_url", c.token_url);
				TakeConfigValue(*p, "token_path", token_path);
				TakeConfigValue(*p, "client_id", legacy.client_id);
				TakeConfigValue(*p, "client_secret_file", legacy.secret_file);
				TakeConfigValue(*p, "request_timeout_ms", c.request_timeout_ms);
				TakeConfigValue(*p, "connect_timeout_ms", c.connect_timeout_ms);
				TakeConfigValue(*p, "max_answer_bytes", c.max_answer_bytes);
				TakeConfigValue(*p, "failures_to_switch", c.failures_to_switch);
				TakeConfigValue(*p, "probe_interval_ms", c.probe_interval_ms);
				TakeLegacyPaths(*p, own_paths);
				RefuseInlineSecret(*p, "client_secret", "platform",
				                   "platform.client_secret_file, or ELICENSE_CLIENT_SECRET");
				legacy.given = !legacy.client_id.empty() || !legacy.secret_file.empty();
			}
			credentials = TakeCredentials(doc);
			TakePathTable(doc, own_paths);
			if (auto r = doc.find("relay"); r != doc.end() && !r->is_null()) {
				if (!r->is_object())
					throw std::runtime_error("config key relay must be an object");
				TakeConfigValue(*r, "citynum", c.relay_citynum);
				TakeConfigValue(*r, "sm4_key_file", sm4_key_file);
				RefuseInlineSecret(*r, "sm4_key", "relay", "relay.sm4_key_file, or ELICENSE_SM4_KEY");
			}
			if (auto b = doc.find("backoff"); b != doc.end()) {
				long base_ms = c.backoff.base.count(), cap_ms = c.backoff.cap.count();
				TakeConfigValue(*b, "base_ms", base_ms);
				TakeConfigValue(*b, "cap_ms", cap_ms);
				TakeConfigValue(*b, "max_attempts", c.backoff.max_attempts);
				c.backoff.base = Millis(base_ms);
				c.backoff.cap = Millis(cap_ms);
			}
			if (auto b = doc.find("breaker"); b != doc.end()) {
				long base_ms = c.breaker.probe_base.count(), cap_ms = c.breaker.probe_cap.count();
				TakeConfigValue(*b, "failures", c.breaker.threshold);
				TakeConfigValue(*b, "probe_base_ms", base_ms);
				TakeConfigValue(*b, "probe_cap_ms", cap_ms);
				c.breaker.probe_base = Millis(base_ms);
				c.breaker.probe_cap = Millis(cap_ms);
			}
			TakeConfigValue(doc, "result_batch_ms", c.result_batch_ms);
			TakeConfigValue(doc, "result_batch_max", c.result_batch_max);
			TakeConfigValue(doc, "result_set_based", c.result_set_based);
		} catch (const json::exception &e) {
			throw std::runtime_error("config file " + path + ": " + e.what());
		}
	}

	// Paths: the profile's preset, then the file's own, step by step.
	ProfilePreset preset = PresetOf(c.profile);
	c.paths = preset.paths;
	for (const auto &[type, steps] : own_paths)
		for (const auto &[step, p] : steps)
			c.paths[type][step] = p;

	// The token endpoint: absolute URL, else base_url + token_path (preset or configured).
	if (token_path.empty())
		token_path = preset.token_path;
	else if (token_path[0] != '/')
		throw std::runtime_error("config key platform.token_path must start with \"/\"");
	if (c.token_url.empty() && !c.base_url.empty()) {
		if (token_path.empty())
			throw std::runtime_error("profile " + c.profile +
			                         " has no token endpoint preset: set platform.token_path or platform.token_url");
		c.token_url = c.base_url + token_path;
	}

	// Credentials: per type, and "*" (also the 0.2.0 keys platform.client_id/_file).
	if (legacy.given && credentials.count("*"))
		throw std::runtime_error("the default credentials are given twice: platform.client_id and credentials.\"*\"; "
		                         "keep one");
	if (legacy.given)
		credentials["*"] = legacy;
	std::string env_secret = Env("ELICENSE_CLIENT_SECRET");
	if (!env_secret.empty() && !credentials.count("*"))
		credentials["*"] = CredentialFiles {};
	for (const auto &[type, files] : credentials) {
		Credential cred {files.client_id, {}};
		if (type == "*" && !env_secret.empty())
			cred.client_secret = env_secret;
		else if (!files.secret_file.empty())
			cred.client_secret = ReadSecretFile(files.secret_file);
		c.credentials[type] = cred;
	}

	// The relay: its city code and SM4 key.
	if (c.profile == kProfileRelaySm4) {
		if (c.relay_citynum.size() != 6 || !AllDigits(c.relay_citynum))
			throw std::runtime_error("profile relay-sm4 needs relay.citynum, a 6-digit division code like 350100");
		c.sm4_key = Env("ELICENSE_SM4_KEY");
		if (c.sm4_key.empty() && !sm4_key_file.empty())
			c.sm4_key = ReadSecretFile(sm4_key_file);
		if (c.sm4_key.empty())
			throw std::runtime_error("profile relay-sm4 needs the SM4 key: relay.sm4_key_file (mode 0600) or "
			                         "ELICENSE_SM4_KEY");
		if (c.sm4_key.size() != core::kSm4KeyLength)
			throw std::runtime_error("the SM4 key must be exactly 16 bytes; it has " +
			                         std::to_string(c.sm4_key.size()));
	}
	if (c.worker_id.empty()) {
		char host[256] = "host";
		gethostname(host, sizeof host - 1);
		c.worker_id = std::string(host) + ":" + std::to_string(getpid());
	}
	if (c.breaker.threshold < 0 || c.breaker.probe_base.count() < 10 || c.breaker.probe_cap < c.breaker.probe_base)
		throw std::runtime_error("breaker.failures >= 0 (0: never opens), breaker.probe_base_ms >= 10 and "
		                         "breaker.probe_cap_ms >= probe_base_ms are required");
	if (c.result_batch_ms < 0 || c.result_batch_ms > 1000 || c.result_batch_max < 1)
		throw std::runtime_error("result_batch_ms 0..1000 (0: no group commit) and result_batch_max >= 1 are required");
	if (c.in_flight < 1 || c.lease_seconds < 5 || c.backoff.max_attempts < 1)
		throw std::runtime_error("in_flight >= 1, lease_seconds >= 5 and backoff.max_attempts >= 1 are required");
	if (!(c.stock_share >= 0 && c.stock_share <= 1))
		throw std::runtime_error("config key stock_share must be between 0 and 1, not " +
		                         std::to_string(c.stock_share));
	if (c.expire_interval_ms < 0)
		throw std::runtime_error("config key expire_interval_ms must be 0 (pg_cron calls elicense.expire_due) or more");
	if (c.expire_batch < 1)
		throw std::runtime_error("config key expire_batch must be at least 1");
	if (c.max_answer_bytes < 1024)
		throw std::runtime_error("config key platform.max_answer_bytes must be at least 1024");
	if (c.stop_grace_ms < 0 || c.request_timeout_ms < 1 || c.connect_timeout_ms < 1)
		throw std::runtime_error("stop_grace_ms >= 0 and positive platform timeouts are required");
	return c;
}

std::vector<std::string> ConfigWarnings(const Config &config) {
	std::vector<std::string> out;
	if (PathFor(config, std::string(kTypeW050), kStepValidate) == std::string(kW050TestCheckPath))
		out.push_back("W050 validate uses the TEST check path " + std::string(kW050TestCheckPath) +
		              " (the only one seen in a client); set paths.\"11100000000013338W050\".validate for production");
	if (config.profile != kProfileRelaySm4 && !config.relay_citynum.empty())
		out.push_back("the relay settings are ignored: profile is " + config.profile);
	if (config.unknown_outcome == UnknownOutcome::kQuery) {
		bool any_query = false;
		for (const auto &entry : config.paths)
			any_query = any_query || entry.second.count(std::string(kStepQuery));
		if (!any_query)
			out.push_back("unknown_outcome is query but no query path is configured: a step whose outcome is unknown "
			              "is held for an operator");
	}
	if (config.credentials.empty())
		out.push_back("no credentials are configured: every step is held");
	return out;
}

std::optional<std::string> PathFor(const Config &config, const std::string &type_code, std::string_view step) {
	for (const std::string &key : {type_code, std::string("*")}) {
		auto type = config.paths.find(key);
		if (type == config.paths.end())
			continue;
		auto it = type->second.find(std::string(step));
		if (it != type->second.end())
			return it->second;
	}
	return std::nullopt;
}

const Credential *CredentialFor(const Config &config, const std::string &type_code) {
	auto it = config.credentials.find(type_code);
	if (it == config.credentials.end())
		it = config.credentials.find("*");
	return it == config.credentials.end() ? nullptr : &it->second;
}

}  // namespace elicense::worker
