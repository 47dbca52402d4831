// elicense-platform-double: a test double of the national platform's API on
// loopback. It issues OAuth2 tokens, answers the business steps with the
// shapes of PLATFORM.md, assigns unique codes encrypted the way the worker
// must decrypt them, remembers what took effect per licence, and injects
// faults on request:
//   POST /rest/oauth2/token                 form client_id, client_secret, grant_type
//   POST /api/<type>/<check|assign|collect|status|query>?access_token=…
//   POST /_admin/faults   {"latency_ms":5,"rate_5xx":0.2,"expire_tokens":true,…}
//   GET  /_admin/state    what took effect per licence, tokens issued, faults drawn
#include "double_state.hpp"
#include "elicense/legacy_crypto.hpp"
#include "platform_mapping.hpp"

#include <CLI/CLI.hpp>
#include <httplib.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

namespace core = elicense::core;
namespace worker = elicense::worker;
using elicense::testdouble::DoubleState;
using elicense::testdouble::Fault;
using nlohmann::json;

namespace {

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

void Reply(httplib::Response &res, int status, const json &body) {
	res.status = status;
	res.set_content(body.dump(), "application/json; charset=utf-8");
}

json Answer(const char *code, const std::string &msg, json success = json::array(), json errors = json::array()) {
	return {{"ReturnCode", code},
	        {"ReturnMsg", msg},
	        {"ReturnData", {{"SuccessData", success}, {"WarnData", json::array()}, {"ErrorData", errors}}},
	        {"TotalCount", success.size()}};
}

// The assignment as the platform sends it: the code DES-encrypted under a
// fresh key, the key RSA-encrypted with the province's public key.
json EncryptedAssignment(const std::string &code, const std::string &identifier, const std::string &province_pem) {
	std::string key8 = core::RandomDesKey();
	return {{"encryCertid", core::DesEncryptHex(code, key8)},
	        {"encryKey", core::RsaEncrypt(province_pem, key8, core::CipherTextFormat::kBase64)},
	        {"eCertID", identifier}};
}

// Step names as the worker uses them, from the path's last segment.
std::string StepOfLeaf(const std::string &leaf) {
	if (leaf == "check")
		return std::string(worker::kStepValidate);
	if (leaf == "assign")
		return std::string(worker::kStepAssign);
	if (leaf == "status")
		return std::string(worker::kStepStatus);
	return leaf;
}

void HandleBusiness(DoubleState &state, const std::string &province_pem, const httplib::Request &req,
                    httplib::Response &res) {
	state.CountRequest();
	elicense::testdouble::FaultConfig faults = state.faults();
	if (faults.latency_ms > 0)
		std::this_thread::sleep_for(std::chrono::milliseconds(faults.latency_ms));
	if (!state.TokenValid(req.get_param_value("access_token")))
		return Reply(res, 401, Answer("0", "access_token invalid or expired"));
	json body = json::parse(req.body, nullptr, false);
	if (body.is_discarded() || !body.contains("AcceptData") || !body["AcceptData"].is_array() ||
	    body["AcceptData"].empty())
		return Reply(res, 400, Answer("0", "body must be {\"AcceptData\":[…]}"));
	const json &item = body["AcceptData"][0];
	std::string identifier = worker::ItemIdentifier(item);
	std::string step = StepOfLeaf(req.matches[2]);

	Fault fault = state.DrawFault(identifier);
	state.CountFault(fault);
	if (fault == Fault::k5xx)
		return Reply(res, 503, {{"error", "injected 503"}});
	if (fault == Fault::k429)
		return Reply(res, 429, {{"error", "injected 429"}});
	if (fault == Fault::kBusinessError)
		return Reply(res, 200, Answer("0", "数据校验不通过", json::array(),
		                              json::array({{{"ErrorGuid", identifier}, {"ErrorMsg", "证书编号不符合规则(injected)"}}})));

	json answer;
	if (step == worker::kStepQuery) {
		json held = state.Lookup(identifier);
		json success = json::array();
		if (!held.is_null()) {
			if (!held["assignedCode"].get<std::string>().empty())
				held.update(EncryptedAssignment(held["assignedCode"], identifier, province_pem));
			success.push_back(held);
		}
		answer = Answer("1", "查询成功", success);
	} else {
		std::string code = state.Process(identifier, step, item);
		answer = step == worker::kStepAssign
		             ? Answer("1", "生成成功", json::array({EncryptedAssignment(code, identifier, province_pem)}))
		             : Answer("1", "接收成功");
	}
	if (fault == Fault::kTimeoutAfterProcessing)
		std::this_thread::sleep_for(std::chrono::milliseconds(faults.timeout_ms));
	if (fault == Fault::kDropAfterProcessing) {
		// Headers go out, then the connection closes before the body.
		res.status = 200;
		res.set_content_provider(
		    1000, "application/json", [](size_t, size_t, httplib::DataSink &) { return false; });
		return;
	}
	Reply(res, 200, answer);
}

}  // namespace

int main(int argc, char **argv) {
	try {
		CLI::App app {"elicense-platform-double: test double of the national platform"};
		std::string host = "127.0.0.1", client_id = "elicense-test", secret_file, province_key_file, province = "35";
		int port = 0, token_ttl = 1800, threads = 64;
		app.add_option("--host", host, "address to listen on (loopback)");
		app.add_option("--port", port, "port; 0 picks a free one and prints it");
		app.add_option("--client-id", client_id, "accepted client_id");
		app.add_option("--client-secret-file", secret_file, "file holding the accepted client_secret")->required();
		app.add_option("--province-public-key", province_key_file, "PEM public key that encrypts assignments")
		    ->required();
		app.add_option("--province", province, "two-digit province prefix of assigned codes");
		app.add_option("--token-ttl", token_ttl, "token lifetime in seconds");
		app.add_option("--threads", threads, "server threads");
		CLI11_PARSE(app, argc, argv);

		DoubleState state(client_id, ReadFile(secret_file), token_ttl, province);
		const std::string province_pem = ReadFile(province_key_file) + "\n";
		core::RsaPublicKeyBits(province_pem);  // fail at start, not on the first request

		httplib::Server svr;
		svr.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
		// httplib writes headers and body separately; without TCP_NODELAY,
		// Nagle and delayed ACKs add 40 ms to every answer.
		svr.set_tcp_nodelay(true);
		svr.Post("/rest/oauth2/token", [&](const httplib::Request &req, httplib::Response &res) {
			state.CountRequest();
			std::string token = req.get_param_value("grant_type") == "client_credentials"
			                        ? state.IssueToken(req.get_param_value("client_id"),
			                                           req.get_param_value("client_secret"))
			                        : std::string();
			if (token.empty())
				return Reply(res, 401, {{"status", {{"code", "0"}}}, {"custom", json::object()}});
			Reply(res, 200,
			      {{"controls", json::array()},
			       {"custom",
			        {{"access_token", token},
			         {"refresh_token", "unused"},
			         {"jsessionid", ""},
			         {"expires_in", std::to_string(state.token_ttl_s())}}},
			       {"status", {{"code", "1"}}}});
		});
		svr.Post(R"(/api/(\w+)/(check|assign|collect|status|query))",
		         [&](const httplib::Request &req, httplib::Response &res) {
			         try {
				         HandleBusiness(state, province_pem, req, res);
			         } catch (const std::exception &e) {
				         Reply(res, 500, {{"error", e.what()}});
			         }
		         });
		svr.Post("/_admin/faults", [&](const httplib::Request &req, httplib::Response &res) {
			json config = json::parse(req.body, nullptr, false);
			if (config.is_discarded() || !config.is_object())
				return Reply(res, 400, {{"error", "faults must be a JSON object"}});
			state.SetFaults(config);
			Reply(res, 200, {{"ok", true}});
		});
		svr.Get("/_admin/state", [&](const httplib::Request &, httplib::Response &res) { Reply(res, 200, state.Snapshot()); });

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
