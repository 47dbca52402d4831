// elicense-platform-double: a strict test double of the national platform on
// loopback, written from ../shared/PLATFORM.md (its rules are the data in
// platform_spec.json), independent of the worker and of our SQL catalogue.
//
// Endpoints
//   POST /epoint-soa-web/rest/oauth2/token   form client_id, client_secret, grant_type=client_credentials
//   POST <step path>?access_token=…           {"AcceptData":[item, …]}; W032 paths as observed in PLATFORM.md,
//                                             W050 check = the observed test path, other paths from --paths-file
//                                             (types as "W050" or "11100000000013338W050", steps as the spec's
//                                             or the outbox's names: the worker's "paths" object works as is)
//   POST <relay token path>, <relay step paths>   with --relay-sm4-key-file and --relay-citynums:
//                                             body {"citynum","data": Base64(SM4-ECB-PKCS#7(JSON))}
//   POST /_admin/faults   {"latency_ms":5, "rate_5xx":0.2, "rate_429":…, "rate_timeout":…, "timeout_ms":3000,
//                          "rate_drop":… (close the connection without an answer, after acting),
//                          "drop_reused_only":true (drops only on a kept-alive connection's 2nd+ request),
//                          "rate_cut":… (headers sent, body cut, after acting), "rate_business_error":…,
//                          "rate_odd":…, "odd_answer": "empty|no_return_code|nulls|nul|html|huge|numbers|
//                          warning|wrong_types|simple", "odd_bytes": 8388608 (an odd answer after acting),
//                          "business_error_for":"text" (items containing it get ReturnCode 0),
//                          "expire_tokens":true}; every call replaces the whole fault set
//   GET  /_admin/state    the JSON below
//
// Every item is checked against the spec of its type and step; a refused item
// gets HTTP 200, ReturnCode "0", ErrorData [{"ErrorGuid": its eCertID (collect:
// zzeCertID), "ErrorMsg": "<field>: <what is wrong>; …"}]. Accepted items take
// effect once per eCertID: a repeat gets the first answer again
// (--duplicate-answer echo) or ReturnCode "0" "… 已存在" (exists).
//
// GET /_admin/state:
// { "effects": { "<eCertID, lower case without dashes | collect:<zzeCertID>:<ID>>": {
//       "type": "W032", "step": "assign|collect|status_update|key_change",
//       "eCertID", "operateType", "certState", "zzeCertID", "associatedZzeCertID", "certNum",
//       "code" (assign: the code assigned; collect: the ID), "url"   (each only when sent),
//       "natural_key": "W032|assign|certNum=…|operateType=01", "received": 2 (times this item arrived),
//       "differing_repeats": 0 (repeats whose content differed from the first) } },
//   "natural_keys": { "<natural key>": {"effects": n (distinct items that took effect), "received": m} },
//   "duplicates": ["<natural keys with effects > 1>"],
//   "checks": { "<natural key of a check>": times checked },
//   "licences": { "<zzeCertID>": { "processed": {"assign_code": n, "collect": n, "status_update": n},
//       "assignedCode", "url", "certState", "status_updates": [{"eCertID", "operateType", "certState"}] } },
//       (an assignment is linked to its licence by the collect that carries its code, or by its zzeCertID;
//        assign_code counts the assignments with the linked one's natural key)
//   "refused": n, "refusals": [{"type", "step", "errors": ["<field>: …"]}] (the last 100),
//   "tokens_issued": n, "requests": n, "faults": {"none": n, "5xx": n, …} }
#include "double_state.hpp"
#include "elicense/legacy_crypto.hpp"
#include "platform_spec.hpp"
#include "relay_envelope.hpp"

#include <CLI/CLI.hpp>
#include <arpa/inet.h>
#include <dirent.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <memory>
#include <set>
#include <sstream>
#include <thread>

namespace core = elicense::core;
using elicense::testdouble::Credential;
using elicense::testdouble::DoubleState;
using elicense::testdouble::Fault;
using elicense::testdouble::PlatformSpec;
using nlohmann::json;

namespace {

const char kTokenPath[] = "/epoint-soa-web/rest/oauth2/token";
const char kRelayTokenPath[] = "/relay/oauth2/token";

// Observed production paths of PLATFORM.md (W032) and the one observed W050
// test path; everything else comes from --paths-file.
const std::map<std::string, std::map<std::string, std::string>> kObservedPaths = {
    {"W032",
     {{"check", "/epoint-gateway/tzrycheck/rest/tzryzsrest/tzry_check"},
      {"assign", "/epoint-gateway/tzryfm/rest/tzryzsrest/tzry_fm"},
      {"collect", "/epoint-gateway/tzryhj/rest/tzryzsrest/tzry_gj"},
      {"status_update", "/epoint-gateway/tzryfm/rest/tzryzsrest/tzry_update"},
      {"key_change", "/epoint-gateway/tzryfm/rest/tzryrest/Tzry_Change"}}},
    {"W050", {{"check", "/epoint-gateway/axzchecktest/rest/axzcheckrest/Axz_Check"}}},
};

// Relay path leaves per step (PLATFORM.md: check, push/assign, correction,
// status update); served as /relay/<type>/<leaf> unless configured.
const std::map<std::string, std::string> kRelayLeaves = {{"check", "check"},
                                                         {"assign", "push"},
                                                         {"collect", "collect"},
                                                         {"status_update", "status"},
                                                         {"key_change", "correct"}};

// Step names accepted in --paths-file: the spec's, the outbox's and the relay's.
const std::map<std::string, std::string> kStepAliases = {{"check", "check"},
                                                         {"validate", "check"},
                                                         {"assign", "assign"},
                                                         {"assign_code", "assign"},
                                                         {"push", "assign"},
                                                         {"collect", "collect"},
                                                         {"status_update", "status_update"},
                                                         {"status", "status_update"},
                                                         {"key_change", "key_change"},
                                                         {"correct", "key_change"},
                                                         {"query", "query"}};

const std::map<std::string, std::string> kSuccessMessages = {{"check", "校验通过"},      {"assign", "赋码成功"},
                                                             {"collect", "归集成功"},    {"status_update", "更新成功"},
                                                             {"key_change", "变更成功"}, {"query", "查询成功"}};

struct Route {
	std::string realm;  // "direct" or "relay"
	std::string type;   // "W032"
	std::string step;   // spec step name
};

struct Relay {
	bool enabled = false;
	std::string key;
	std::set<std::string> citynums;
	bool wrap_custom = false;
};

struct Context {
	DoubleState *state;
	const PlatformSpec *spec;
	std::string province_pem;
	bool duplicate_exists = false;
	Relay relay;
	std::map<std::string, Route> routes;
	std::map<std::string, std::string> token_paths;  // path -> realm
};

// Requests served so far on the connection this thread is serving: cpp-httplib
// runs one task per accepted connection, all its kept-alive requests in turn.
thread_local int t_requests_on_connection = 0;

class ConnectionTaskQueue : public httplib::TaskQueue {
public:
	explicit ConnectionTaskQueue(std::size_t threads) : pool_(threads) {
	}
	void enqueue(std::function<void()> serve_connection) override {
		pool_.enqueue([serve = std::move(serve_connection)] {
			t_requests_on_connection = 0;
			serve();
		});
	}
	void shutdown() override {
		pool_.shutdown();
	}

private:
	httplib::ThreadPool pool_;
};

std::string ReadFile(const std::string &path) {
	std::ifstream in(path, std::ios::binary);
	if (!in)
		throw std::runtime_error("cannot read " + path);
	std::stringstream ss;
	ss << in.rdbuf();
	std::string s = ss.str();
	while (!s.empty() && (s.back() == '\n' || s.back() == '\r'))
		s.pop_back();
	return s;
}

json ReadJsonFile(const std::string &path) {
	json j = json::parse(ReadFile(path), nullptr, false);
	if (j.is_discarded())
		throw std::runtime_error(path + " is not JSON");
	return j;
}

void Reply(httplib::Response &res, int status, const json &body) {
	res.status = status;
	res.set_content(body.dump(), "application/json; charset=utf-8");
}

json Answer(const char *code, const std::string &msg, json success = json::array(), json errors = json::array()) {
	const std::size_t total = success.size();
	return {{"ReturnCode", code},
	        {"ReturnMsg", msg},
	        {"ReturnData",
	         {{"SuccessData", std::move(success)}, {"WarnData", json::array()}, {"ErrorData", std::move(errors)}}},
	        {"TotalCount", total}};
}

// The assignment as the platform sends it: the code DES-encrypted under a
// fresh key, the key RSA-encrypted with the province's public key.
json EncryptedAssignment(const std::string &code, const std::string &ecert_id, const std::string &province_pem) {
	std::string key8 = core::RandomDesKey();
	return {{"encryCertid", core::DesEncryptHex(code, key8)},
	        {"encryKey", core::RsaEncrypt(province_pem, key8, core::CipherTextFormat::kBase64)},
	        {"eCertID", ecert_id}};
}

// PLATFORM.md's "Answer oddities" and the shapes it says to accept, served
// after the platform acted: the client must come to a clear outcome for each.
const std::set<std::string> kOddAnswers = {"empty", "no_return_code", "nulls",   "nul",         "html",
                                           "huge",  "numbers",        "warning", "wrong_types", "simple"};

// Every string value inside `j` (recursively) passed through `change`.
json MapStrings(const json &j, const std::function<json(const std::string &)> &change) {
	if (j.is_string())
		return change(j.get<std::string>());
	json out = j;
	if (j.is_object() || j.is_array())
		for (auto it = out.begin(); it != out.end(); ++it)
			*it = MapStrings(*it, change);
	return out;
}

void OddAnswer(const std::string &kind, const json &answer, const std::string &guid, long long huge_bytes,
               httplib::Response &res) {
	const json &data = answer["ReturnData"];
	if (kind == "empty")
		return res.set_content("", "application/json");
	if (kind == "no_return_code")
		return Reply(res, 200, {{"ReturnMsg", answer["ReturnMsg"]}, {"ReturnData", data}});
	if (kind == "nulls")
		return Reply(res, 200,
		             {{"ReturnCode", answer["ReturnCode"]},
		              {"ReturnMsg", nullptr},
		              {"ReturnData",
		               {{"SuccessData", MapStrings(data["SuccessData"], [](const std::string &) { return json(); })},
		                {"WarnData", nullptr},
		                {"ErrorData", nullptr}}},
		              {"TotalCount", nullptr}});
	if (kind == "nul")
		return Reply(res, 200, MapStrings(answer, [](const std::string &v) { return json(v + std::string(1, '\0')); }));
	if (kind == "html") {
		res.status = 200;
		return res.set_content("<html><body><h1>502 Bad Gateway</h1></body></html>", "text/html");
	}
	if (kind == "huge") {
		// White space before the answer: valid JSON, larger than any sane cap.
		auto text = std::make_shared<std::string>(answer.dump());
		const auto total = static_cast<std::size_t>(huge_bytes) + text->size();
		res.status = 200;
		res.set_content_provider(total, "application/json",
		                         [text, total, huge_bytes](std::size_t offset, std::size_t, httplib::DataSink &sink) {
			                         const auto spaces = static_cast<std::size_t>(huge_bytes);
			                         if (offset < spaces) {
				                         const std::string chunk(std::min<std::size_t>(65536, spaces - offset), ' ');
				                         return sink.write(chunk.data(), chunk.size());
			                         }
			                         return sink.write(text->data() + (offset - spaces), total - offset);
		                         });
		return;
	}
	if (kind == "numbers") {
		json j = answer;
		j["ReturnCode"] = std::stoi(answer["ReturnCode"].get<std::string>());
		j["TotalCount"] = std::to_string(answer["TotalCount"].get<std::size_t>());
		return Reply(res, 200, j);
	}
	if (kind == "warning") {
		json j = answer;
		if (j["ReturnCode"] == "1")
			j["ReturnCode"] = "2";
		j["ReturnData"]["WarnData"] = json::array({{{"WarnGuid", guid}, {"WarnMsg", "injected warning"}}});
		return Reply(res, 200, j);
	}
	if (kind == "wrong_types")
		return Reply(res, 200,
		             {{"ReturnCode", json::array({answer["ReturnCode"]})},
		              {"ReturnMsg", 17},
		              {"ReturnData", {{"SuccessData", {{"eCertID", 1}}}, {"WarnData", "none"}, {"ErrorData", true}}},
		              {"TotalCount", json::object()}});
	// "simple": the seed's shape, {"ReturnCode", "ReturnMsg", "ID"}.
	Reply(res, 200, {{"ReturnCode", answer["ReturnCode"]}, {"ReturnMsg", answer["ReturnMsg"]}, {"ID", guid}});
}

// The id an answer uses for an item: its eCertID, or for a collect its zzeCertID.
std::string ItemGuid(const json &item) {
	for (const char *field : {"eCertID", "zzeCertID"})
		if (item.is_object() && item.contains(field) && item[field].is_string())
			return item[field].get<std::string>();
	return "";
}

// Closes the request's connection without an answer, as a proxy that drops
// it would. cpp-httplib does not expose the socket, so find it by its
// addresses among our descriptors.
void ShutdownConnection(const httplib::Request &req) {
	DIR *dir = opendir("/proc/self/fd");
	if (!dir)
		return;
	while (dirent *entry = readdir(dir)) {
		const int fd = std::atoi(entry->d_name);
		sockaddr_storage peer {}, local {};
		socklen_t peer_len = sizeof peer, local_len = sizeof local;
		if (fd <= 2 || getpeername(fd, reinterpret_cast<sockaddr *>(&peer), &peer_len) != 0 ||
		    getsockname(fd, reinterpret_cast<sockaddr *>(&local), &local_len) != 0)
			continue;
		char host[INET6_ADDRSTRLEN] = "";
		int peer_port = -1, local_port = -1;
		if (peer.ss_family == AF_INET) {
			const auto *p = reinterpret_cast<sockaddr_in *>(&peer);
			inet_ntop(AF_INET, &p->sin_addr, host, sizeof host);
			peer_port = ntohs(p->sin_port);
			local_port = ntohs(reinterpret_cast<sockaddr_in *>(&local)->sin_port);
		} else if (peer.ss_family == AF_INET6) {
			const auto *p = reinterpret_cast<sockaddr_in6 *>(&peer);
			inet_ntop(AF_INET6, &p->sin6_addr, host, sizeof host);
			peer_port = ntohs(p->sin6_port);
			local_port = ntohs(reinterpret_cast<sockaddr_in6 *>(&local)->sin6_port);
		}
		if (req.remote_addr == host && req.remote_port == peer_port && req.local_port == local_port) {
			shutdown(fd, SHUT_RDWR);
			break;
		}
	}
	closedir(dir);
}

// Opens the relay envelope; returns the inner JSON text or throws with the reason.
std::string OpenRelayBody(const Relay &relay, const std::string &body) {
	json outer = json::parse(body, nullptr, false);
	if (outer.is_discarded() || !outer.is_object())
		throw std::runtime_error("relay body must be a JSON object {\"citynum\", \"data\"}");
	for (const auto &[key, value] : outer.items())
		if (key != "citynum" && key != "data")
			throw std::runtime_error(key + ": unknown field in the relay body (only citynum and data)");
	if (!outer.contains("citynum") || !outer["citynum"].is_string())
		throw std::runtime_error("citynum: required string is missing");
	const std::string citynum = outer["citynum"].get<std::string>();
	if (citynum.size() != 6 || citynum.find_first_not_of("0123456789") != std::string::npos)
		throw std::runtime_error("citynum: must be a 6-digit division code, got '" + citynum + "'");
	if (!relay.citynums.count(citynum))
		throw std::runtime_error("citynum: " + citynum + " is not served by this relay");
	if (!outer.contains("data") || !outer["data"].is_string())
		throw std::runtime_error("data: required string is missing");
	try {
		return elicense::testdouble::OpenRelayData(outer["data"].get<std::string>(), relay.key);
	} catch (const std::exception &e) {
		throw std::runtime_error(std::string("data: ") + e.what());
	}
}

// `reused`: an earlier request came on the same connection.
void HandleBusiness(Context &ctx, const Route &route, bool reused, const httplib::Request &req,
                    httplib::Response &res) {
	DoubleState &state = *ctx.state;
	state.CountRequest();
	elicense::testdouble::FaultConfig faults = state.faults();
	if (faults.latency_ms > 0)
		std::this_thread::sleep_for(std::chrono::milliseconds(faults.latency_ms));
	const bool relayed = route.realm == "relay";
	auto send = [&](int status, const json &body) {
		Reply(res, status, relayed && ctx.relay.wrap_custom ? json {{"custom", body}} : body);
	};
	switch (state.CheckToken(req.get_param_value("access_token"), route.realm, route.type)) {
	case elicense::testdouble::TokenCheck::kInvalid: return send(401, Answer("0", "access_token invalid or expired"));
	case elicense::testdouble::TokenCheck::kWrongType:
		return send(403, Answer("0", "access_token was not issued for " + route.type));
	case elicense::testdouble::TokenCheck::kValid: break;
	}

	std::string text = req.body;
	if (relayed) {
		try {
			text = OpenRelayBody(ctx.relay, req.body);
		} catch (const std::exception &e) {
			return send(200, Answer("0", e.what()));
		}
	}
	json body = json::parse(text, nullptr, false);
	if (body.is_discarded() || !body.is_object() || body.size() != 1 || !body.contains("AcceptData") ||
	    !body["AcceptData"].is_array() || body["AcceptData"].empty())
		return send(200, Answer("0", "body must be {\"AcceptData\":[item, …]} and nothing else"));

	Fault fault = state.DrawFault(text, reused);
	state.CountFault(fault);
	if (fault == Fault::k5xx)
		return Reply(res, 503, {{"error", "injected 503"}});
	if (fault == Fault::k429)
		return Reply(res, 429, {{"error", "injected 429"}});
	if (fault == Fault::kBusinessError) {
		json errors = json::array();
		for (const json &item : body["AcceptData"])
			errors.push_back({{"ErrorGuid", ItemGuid(item)}, {"ErrorMsg", "证书编号不符合规则(injected)"}});
		return send(200, Answer("0", "数据校验不通过", json::array(), errors));
	}

	json success = json::array(), errors = json::array();
	std::string failure_message = "数据校验不通过";
	for (const json &item : body["AcceptData"]) {
		const std::string guid = ItemGuid(item);
		std::vector<std::string> problems;
		for (const auto &v : ctx.spec->Check(route.type, route.step, item))
			problems.push_back(v.Message());
		if (!problems.empty()) {
			state.RecordRefusal(route.type, route.step, problems);
			std::string message;
			for (const auto &p : problems)
				message += (message.empty() ? "" : "; ") + p;
			errors.push_back({{"ErrorGuid", guid}, {"ErrorMsg", message}});
			continue;
		}
		if (route.step == "query") {
			auto found = state.Query(route.type, item.value("eCertID", ""), item.value("zzeCertID", ""));
			if (found.empty()) {
				errors.push_back({{"ErrorGuid", guid}, {"ErrorMsg", "未查询到数据"}});
				failure_message = "未查询到数据";
			}
			for (auto &f : found) {
				if (!f.code.empty()) {
					// The assignment, re-encrypted; a collect's item has no eCertID to echo.
					json assignment = EncryptedAssignment(f.code, f.item.value("eCertID", ""), ctx.province_pem);
					if (!f.item.contains("eCertID"))
						assignment.erase("eCertID");
					f.item.update(assignment);
				}
				success.push_back(f.item);
			}
			continue;
		}
		auto result = state.Apply(route.type, route.step, item, [&ctx](const std::string &code, const std::string &id) {
			return EncryptedAssignment(code, id, ctx.province_pem);
		});
		if (!result.ok) {
			errors.push_back({{"ErrorGuid", guid}, {"ErrorMsg", result.error}});
		} else if (result.repeated && ctx.duplicate_exists) {
			errors.push_back({{"ErrorGuid", guid}, {"ErrorMsg", "数据已存在: " + guid + " 已存在"}});
			failure_message = "数据已存在";
		} else if (route.step == "assign") {
			success.push_back(result.assignment);
		} else {
			success.push_back({{route.step == "collect" ? "zzeCertID" : "eCertID", guid}});
		}
	}
	json answer = errors.empty() ? Answer("1", kSuccessMessages.at(route.step), success)
	                             : Answer("0", failure_message, success, errors);

	if (fault == Fault::kTimeoutAfterProcessing)
		std::this_thread::sleep_for(std::chrono::milliseconds(faults.timeout_ms));
	if (fault == Fault::kDropAfterProcessing) {
		// Acted, then the connection closes with no answer at all.
		ShutdownConnection(req);
		return;
	}
	if (fault == Fault::kOddAfterProcessing)
		return OddAnswer(faults.odd_answer, answer, ItemGuid(body["AcceptData"][0]), faults.odd_bytes, res);
	if (fault == Fault::kCutAfterProcessing) {
		// Headers go out, then the connection closes before the body.
		res.status = 200;
		res.set_content_provider(1000, "application/json", [](size_t, size_t, httplib::DataSink &) { return false; });
		return;
	}
	send(200, answer);
}

void HandleToken(Context &ctx, const std::string &realm, const httplib::Request &req, httplib::Response &res) {
	ctx.state->CountRequest();
	std::string token =
	    req.get_param_value("grant_type") == "client_credentials"
	        ? ctx.state->IssueToken(realm, req.get_param_value("client_id"), req.get_param_value("client_secret"))
	        : std::string();
	if (token.empty())
		return Reply(
		    res, 401,
		    {{"status", {{"code", "0"}, {"text", "client_id or client_secret wrong"}}}, {"custom", json::object()}});
	Reply(res, 200,
	      {{"controls", json::array()},
	       {"custom",
	        {{"access_token", token},
	         {"refresh_token", "unused"},
	         {"jsessionid", ""},
	         {"expires_in", std::to_string(ctx.state->token_ttl_s())}}},
	       {"status", {{"code", "1"}}}});
}

// [{"client_id", "client_secret" | "client_secret_file", "types": ["W032"], "realm": "direct" | "relay"}, …]
std::vector<Credential> ReadCredentials(const std::string &path) {
	std::vector<Credential> out;
	json list = ReadJsonFile(path);
	if (!list.is_array())
		throw std::runtime_error(path + ": credentials must be a JSON list");
	for (const json &entry : list) {
		Credential c;
		c.realm = entry.value("realm", "direct");
		if (c.realm != "direct" && c.realm != "relay")
			throw std::runtime_error(path + ": realm must be direct or relay");
		c.client_id = entry.at("client_id").get<std::string>();
		c.client_secret = entry.contains("client_secret_file")
		                      ? ReadFile(entry["client_secret_file"].get<std::string>())
		                      : entry.at("client_secret").get<std::string>();
		for (const json &t : entry.value("types", json::array()))
			c.types.insert(t.get<std::string>());
		out.push_back(std::move(c));
	}
	return out;
}

std::string StepName(const std::string &name, const std::string &where) {
	auto it = kStepAliases.find(name);
	if (it == kStepAliases.end())
		throw std::runtime_error(where + ": unknown step '" + name + "'");
	return it->second;
}

void AddRoute(Context &ctx, const PlatformSpec &spec, const std::string &path, const Route &route) {
	if (path.empty() || path[0] != '/')
		throw std::runtime_error("path '" + path + "' for " + route.type + " " + route.step + " must start with /");
	if (!spec.HasStep(route.type, route.step))
		throw std::runtime_error("the platform spec has no step " + route.step + " for " + route.type);
	for (auto it = ctx.routes.begin(); it != ctx.routes.end();)
		it = it->second.realm == route.realm && it->second.type == route.type && it->second.step == route.step
		         ? ctx.routes.erase(it)
		         : std::next(it);
	if (ctx.routes.count(path) || ctx.token_paths.count(path))
		throw std::runtime_error("path " + path + " is configured twice");
	ctx.routes[path] = route;
}

// --paths-file: {"<type>": {"<step>": "/path", …}, "query": {"<type>": "/path"}, "token": "/path",
//                "relay": {"token": "/path", "<type>": {"<step>": "/path"}}}
// "W050", or the full type code "11100000000013338W050" as the worker's config writes it.
std::string TypeName(const PlatformSpec &spec, const std::string &key, const std::string &where) {
	for (const std::string &type : spec.Types())
		if (key == type || key == spec.TypeCode(type))
			return type;
	throw std::runtime_error(where + ": unknown licence type '" + key + "'");
}

void AddConfiguredRoutes(Context &ctx, const PlatformSpec &spec, const json &paths, const std::string &realm,
                         const std::string &where) {
	for (const auto &[key, value] : paths.items()) {
		if (key == "token" || key == "relay")
			continue;
		if (key == "query") {
			for (const auto &[type, path] : value.items())
				AddRoute(ctx, spec, path.get<std::string>(), {realm, TypeName(spec, type, where), "query"});
			continue;
		}
		if (!value.is_object())
			throw std::runtime_error(where + ": " + key + " must map steps to paths");
		const std::string type = TypeName(spec, key, where);
		for (const auto &[step, path] : value.items())
			AddRoute(ctx, spec, path.get<std::string>(), {realm, type, StepName(step, where + " " + key)});
	}
}

}  // namespace

int main(int argc, char **argv) {
	try {
		CLI::App app {"elicense-platform-double: a strict test double of the national platform (PLATFORM.md)"};
		std::string host = "127.0.0.1", client_id, secret_file, credentials_file, province_key_file, province = "35";
		std::string paths_file, spec_file, duplicate_answer = "echo";
		std::string relay_key_file, relay_citynums, relay_client_id, relay_secret_file;
		bool relay_wrap = false;
		int port = 0, token_ttl = 1800, threads = 64, keep_alive_max = 100;
		app.add_option("--host", host, "address to listen on (loopback)");
		app.add_option("--port", port, "port; 0 picks a free one and prints it");
		app.add_option("--client-id", client_id, "a direct client_id allowed for every licence type");
		app.add_option("--client-secret-file", secret_file, "file holding that client_id's secret");
		app.add_option("--credentials-file", credentials_file,
		               "JSON [{client_id, client_secret|client_secret_file, types:[W032…], realm:direct|relay}]");
		app.add_option("--province-public-key", province_key_file, "PEM public key that encrypts assignments")
		    ->required();
		app.add_option("--province", province, "two-digit province prefix of assigned codes");
		app.add_option(
		    "--paths-file", paths_file,
		    "JSON {W050:{check,assign,collect,status_update,query}, query:{W032:…}, token, relay:{token, W032:{…}}}");
		app.add_option("--duplicate-answer", duplicate_answer, "answer to a repeated eCertID: echo or exists")
		    ->check(CLI::IsMember({"echo", "exists"}));
		app.add_option("--spec-file", spec_file, "platform spec to use instead of the built-in platform_spec.json");
		app.add_option("--relay-sm4-key-file", relay_key_file,
		               "serve the relay profile: file with the 16-byte SM4 key");
		app.add_option("--relay-citynums", relay_citynums, "comma-separated 6-digit citynums the relay accepts");
		app.add_flag("--relay-wrap-custom", relay_wrap, "relay answers wrapped in {\"custom\": …}");
		app.add_option("--relay-client-id", relay_client_id, "a relay client_id allowed for every licence type");
		app.add_option("--relay-client-secret-file", relay_secret_file, "file holding that client_id's secret");
		app.add_option("--token-ttl", token_ttl, "token lifetime in seconds");
		app.add_option("--threads", threads, "server threads");
		app.add_option("--keep-alive-max", keep_alive_max, "requests per kept-alive connection");
		CLI11_PARSE(app, argc, argv);

		std::vector<Credential> credentials;
		if (!client_id.empty() || !secret_file.empty()) {
			if (client_id.empty() || secret_file.empty())
				throw std::runtime_error("--client-id and --client-secret-file go together");
			credentials.push_back({"direct", client_id, ReadFile(secret_file), {}});
		}
		if (!relay_client_id.empty() || !relay_secret_file.empty()) {
			if (relay_client_id.empty() || relay_secret_file.empty())
				throw std::runtime_error("--relay-client-id and --relay-client-secret-file go together");
			credentials.push_back({"relay", relay_client_id, ReadFile(relay_secret_file), {}});
		}
		if (!credentials_file.empty())
			for (auto &c : ReadCredentials(credentials_file))
				credentials.push_back(std::move(c));
		if (credentials.empty())
			throw std::runtime_error("no credentials: give --client-id/--client-secret-file or --credentials-file");

		const PlatformSpec spec(spec_file.empty() ? PlatformSpec::BuiltinDocument() : ReadJsonFile(spec_file));
		DoubleState state(credentials, token_ttl, province);
		Context ctx;
		ctx.state = &state;
		ctx.spec = &spec;
		ctx.province_pem = ReadFile(province_key_file) + "\n";
		core::RsaPublicKeyBits(ctx.province_pem);  // fail at start, not on the first request
		ctx.duplicate_exists = duplicate_answer == "exists";

		const json paths = paths_file.empty() ? json::object() : ReadJsonFile(paths_file);
		if (!paths.is_object())
			throw std::runtime_error(paths_file + " must be a JSON object");
		ctx.token_paths[paths.value("token", std::string(kTokenPath))] = "direct";
		for (const auto &[type, steps] : kObservedPaths)
			for (const auto &[step, path] : steps)
				AddRoute(ctx, spec, path, {"direct", type, step});
		AddConfiguredRoutes(ctx, spec, paths, "direct", paths_file);

		if (!relay_key_file.empty() || !relay_citynums.empty()) {
			if (relay_key_file.empty() || relay_citynums.empty())
				throw std::runtime_error("--relay-sm4-key-file and --relay-citynums go together");
			ctx.relay.enabled = true;
			ctx.relay.key = ReadFile(relay_key_file);
			if (ctx.relay.key.size() != 16)
				throw std::runtime_error("the SM4 key in " + relay_key_file + " must be 16 bytes");
			std::stringstream list(relay_citynums);
			for (std::string c; std::getline(list, c, ',');)
				ctx.relay.citynums.insert(c);
			ctx.relay.wrap_custom = relay_wrap;
			const json relay_paths = paths.value("relay", json::object());
			const std::string relay_token = relay_paths.value("token", std::string(kRelayTokenPath));
			if (ctx.token_paths.count(relay_token))
				throw std::runtime_error("the relay token path " + relay_token + " is the direct one");
			ctx.token_paths[relay_token] = "relay";
			for (const std::string &type : spec.Types())
				for (const auto &[step, leaf] : kRelayLeaves)
					if (spec.HasStep(type, step))
						AddRoute(ctx, spec, "/relay/" + type + "/" + leaf, {"relay", type, step});
			AddConfiguredRoutes(ctx, spec, relay_paths, "relay", paths_file + " relay");
		}
		for (const auto &[path, route] : ctx.routes)
			std::fprintf(stderr, "serving %s %s %s at %s\n", route.realm.c_str(), route.type.c_str(),
			             route.step.c_str(), path.c_str());

		std::signal(SIGPIPE, SIG_IGN);  // a dropped connection must not end the process
		httplib::Server svr;
		svr.new_task_queue = [threads] { return new ConnectionTaskQueue(static_cast<std::size_t>(threads)); };
		// httplib writes headers and body separately; without TCP_NODELAY,
		// Nagle and delayed ACKs add 40 ms to every answer.
		svr.set_tcp_nodelay(true);
		svr.set_keep_alive_max_count(static_cast<size_t>(keep_alive_max));
		svr.Post("/_admin/faults", [&](const httplib::Request &req, httplib::Response &res) {
			json config = json::parse(req.body, nullptr, false);
			if (config.is_discarded() || !config.is_object())
				return Reply(res, 400, {{"error", "faults must be a JSON object"}});
			if (config.contains("odd_answer") && !kOddAnswers.count(config.value("odd_answer", "")))
				return Reply(res, 400,
				             {{"error", "odd_answer must be one of empty, no_return_code, nulls, nul, html, "
				                        "huge, numbers, warning, wrong_types, simple"}});
			state.SetFaults(config);
			Reply(res, 200, {{"ok", true}});
		});
		svr.Get("/_admin/state",
		        [&](const httplib::Request &, httplib::Response &res) { Reply(res, 200, state.Snapshot()); });
		svr.Post(".*", [&](const httplib::Request &req, httplib::Response &res) {
			const bool reused = t_requests_on_connection++ > 0;
			try {
				auto token = ctx.token_paths.find(req.path);
				if (token != ctx.token_paths.end())
					return HandleToken(ctx, token->second, req, res);
				auto route = ctx.routes.find(req.path);
				if (route == ctx.routes.end())
					return Reply(res, 404, {{"error", "no such path: " + req.path}});
				HandleBusiness(ctx, route->second, reused, req, res);
			} catch (const std::exception &e) {
				Reply(res, 500, {{"error", e.what()}});
			}
		});

		if (port == 0)
			port = svr.bind_to_any_port(host);
		else if (!svr.bind_to_port(host, port))
			throw std::runtime_error("cannot listen on " + host + ":" + std::to_string(port));
		std::printf("listening on %s:%d\n", host.c_str(), port);
		std::fflush(stdout);
		svr.listen_after_bind();
		return 0;
	} catch (const std::exception &e) {
		std::fprintf(stderr, "elicense-platform-double: %s\n", e.what());
		return 1;
	}
}
