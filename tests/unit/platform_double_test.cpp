// The platform double as a process, over HTTP: per-type tokens, refusals
// naming the field, assignments that decrypt with the province key, one
// effect per eCertID, duplicates under new eCertIDs counted, collect only of
// assigned codes, the inferred query, the SM4 relay profile and the faults.
#include "elicense/legacy_crypto.hpp"
#include "relay_envelope.hpp"

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <spawn.h>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

extern char **environ;

namespace elicense::testdouble {
namespace {

using nlohmann::json;

const char kGuid[] = "3f2504e0-4f89-11d3-9a0c-0305e82c3301";
const char kZz050[] = "1.2.156.3005.2.11100000000013338W050.113700000045030270.2023087974.001.E";
const char kTokenPath[] = "/epoint-soa-web/rest/oauth2/token";
const char kW032Check[] = "/epoint-gateway/tzrycheck/rest/tzryzsrest/tzry_check";
const char kRelayKey[] = "0123456789abcdef";

std::string Dir() {
	static const std::string dir = [] {
		char tmpl[] = "/tmp/platform_double_test.XXXXXX";
		std::string d = mkdtemp(tmpl);
		const std::string make =
		    "cd " + d +
		    " && openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:512 -out province.key 2>/dev/null"
		    " && openssl pkey -in province.key -pubout -out province.pub";
		if (std::system(make.c_str()) != 0)
			throw std::runtime_error("openssl could not make a key pair");
		auto write = [&d](const char *name, const std::string &text) { std::ofstream(d + "/" + name) << text; };
		write("credentials.json", R"([{"client_id": "w032", "client_secret": "a", "types": ["W032"]},
		                              {"client_id": "w050", "client_secret": "b", "types": ["11100000000013338W050"]},
		                              {"client_id": "relay", "client_secret": "r", "realm": "relay"}])");
		// Types as the worker's config names them, or short; steps as the outbox's.
		write("paths.json", R"({"11100000000013338W050": {"validate": "/w050/check", "assign_code": "/w050/fm",
		                                                  "collect": "/w050/gj", "status_update": "/w050/update",
		                                                  "query": "/w050/query"},
		                        "query": {"W032": "/w032/query"},
		                        "relay": {"token": "/relay/token", "W050": {"push": "/relay/push"}}})");
		write("sm4.key", std::string(kRelayKey) + "\n");
		return d;
	}();
	return dir;
}

// Removes the key pair and files when the tests end.
class TempDirCleanup : public ::testing::Environment {
public:
	void TearDown() override {
		std::filesystem::remove_all(Dir());
	}
};
const auto *const kCleanup = ::testing::AddGlobalTestEnvironment(new TempDirCleanup);

std::string ReadAll(const std::string &path) {
	std::ifstream in(path);
	return std::string(std::istreambuf_iterator<char>(in), {});
}

// One elicense-platform-double process on a free loopback port.
class Double {
public:
	explicit Double(std::vector<std::string> extra) {
		const std::string d = Dir();
		std::vector<std::string> args = {ELICENSE_DOUBLE_BIN,     "--credentials-file", d + "/credentials.json",
		                                 "--province-public-key", d + "/province.pub",  "--paths-file",
		                                 d + "/paths.json"};
		args.insert(args.end(), extra.begin(), extra.end());
		std::vector<char *> argv;
		for (auto &a : args)
			argv.push_back(a.data());
		argv.push_back(nullptr);
		int out[2];
		if (pipe(out) != 0)
			throw std::runtime_error("pipe");
		posix_spawn_file_actions_t actions;
		posix_spawn_file_actions_init(&actions);
		posix_spawn_file_actions_adddup2(&actions, out[1], 1);
		posix_spawn_file_actions_addclose(&actions, out[0]);
		posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
		if (posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ) != 0)
			throw std::runtime_error("cannot start the double");
		posix_spawn_file_actions_destroy(&actions);
		close(out[1]);
		std::string line;
		char c;
		while (read(out[0], &c, 1) == 1 && c != '\n')
			line += c;
		close(out[0]);
		const std::string prefix = "listening on 127.0.0.1:";
		if (line.rfind(prefix, 0) != 0)
			throw std::runtime_error("the double did not start: '" + line + "'");
		port_ = std::stoi(line.substr(prefix.size()));
	}
	~Double() {
		kill(pid_, SIGTERM);
		waitpid(pid_, nullptr, 0);
	}

	httplib::Client Client() const {
		httplib::Client cli("127.0.0.1", port_);
		cli.set_read_timeout(5, 0);
		return cli;
	}
	std::string Token(const std::string &id, const std::string &secret, const std::string &path = kTokenPath) const {
		auto res = Client().Post(
		    path.c_str(),
		    httplib::Params {{"client_id", id}, {"client_secret", secret}, {"grant_type", "client_credentials"}});
		if (!res || res->status != 200)
			return "";
		return json::parse(res->body)["custom"]["access_token"].get<std::string>();
	}
	// POSTs {"AcceptData":[item]}; returns {status, body as JSON (null if none)}.
	std::pair<int, json> Send(const std::string &path, const std::string &token, const json &item) const {
		return Raw(path, token, json {{"AcceptData", json::array({item})}}.dump());
	}
	std::pair<int, json> Raw(const std::string &path, const std::string &token, const std::string &body) const {
		auto res = Client().Post((path + "?access_token=" + token).c_str(), body, "application/json");
		if (!res)
			return {0, nullptr};
		return {res->status, json::parse(res->body, nullptr, false)};
	}
	json State() const {
		return json::parse(Client().Get("/_admin/state")->body);
	}
	void Faults(const json &faults) const {
		Client().Post("/_admin/faults", faults.dump(), "application/json");
	}

private:
	pid_t pid_ = -1;
	int port_ = 0;
};

json W050Assign(const std::string &ecert_id) {
	return {{"eCertID", ecert_id},
	        {"provinceNum", "370000"},
	        {"certNum", "（鲁）JZ安许证字[2023]087974"},
	        {"issuAuth", "山东省住房和城乡建设厅"},
	        {"issuAuthCode", "113700000045030270"},
	        {"issuDate", "2023-06-30"},
	        {"effectiveDate", "2023-06-30"},
	        {"expiringDate", "2026-06-29"},
	        {"certState", "01"},
	        {"operateType", "01"},
	        {"companyName", "某建设集团有限公司"},
	        {"creditCode", "91370100MA3C12345X"},
	        {"companyAddress", "济南市历下区某路1号"},
	        {"economicType", "有限责任公司"},
	        {"responsiblePerson", "王五"},
	        {"responsiblePersonID", "11010519491231002X"},
	        {"responsiblePersonIDType", "111"},
	        {"licenseScope", "建筑施工"},
	        {"firstIssuDate", "2008-01-15"}};
}

json W032Check() {
	return {{"eCertID", kGuid},
	        {"provinceNum", "220000"},
	        {"identityCard", "350102199001011238"},
	        {"operationCategory", "04"},
	        {"operateType", "01"}};
}

std::string Decrypt(const json &assignment) {
	const std::string key8 =
	    core::RsaDecrypt(ReadAll(Dir() + "/province.key"), assignment["encryKey"].get<std::string>(),
	                     core::CipherTextFormat::kBase64, "encryKey");
	return core::DesDecryptHex(assignment["encryCertid"].get<std::string>(), key8, "encryCertid");
}

TEST(PlatformDouble, TokensArePerTypeAndRealm) {
	Double d({});
	const std::string w032 = d.Token("w032", "a"), w050 = d.Token("w050", "b");
	ASSERT_FALSE(w032.empty());
	ASSERT_FALSE(w050.empty());
	EXPECT_EQ(d.Token("w032", "wrong"), "");
	EXPECT_EQ(d.Token("relay", "r"), "") << "a relay pair is no direct pair";
	EXPECT_EQ(d.Send(kW032Check, w032, W032Check()).first, 200);
	EXPECT_EQ(d.Send("/w050/check", w032, json::object()).first, 403) << "W032's token on a W050 path";
	EXPECT_EQ(d.Send(kW032Check, "nonsense", W032Check()).first, 401);
	EXPECT_EQ(d.Send("/epoint-gateway/unknown", w032, W032Check()).first, 404);
	// A query path given per type at the top of --paths-file.
	auto [status, answer] = d.Send(
	    "/w032/query", w032, {{"zzeCertID", "1.2.156.3005.2.11100000000013338W032.11220000013544541J.2430599.001.F"}});
	EXPECT_EQ(status, 200);
	EXPECT_EQ(answer["ReturnMsg"], "未查询到数据");
	EXPECT_EQ(d.Send("/w032/query", w050, json::object()).first, 403);
}

TEST(PlatformDouble, RefusesNamingTheField) {
	Double d({});
	const std::string token = d.Token("w032", "a");
	json item = W032Check();
	item.erase("identityCard");
	item["idCard"] = "350102199001011238";
	auto [status, answer] = d.Send(kW032Check, token, item);
	EXPECT_EQ(status, 200);
	EXPECT_EQ(answer["ReturnCode"], "0");
	ASSERT_EQ(answer["ReturnData"]["ErrorData"].size(), 1u);
	EXPECT_EQ(answer["ReturnData"]["ErrorData"][0]["ErrorGuid"], kGuid);
	const std::string msg = answer["ReturnData"]["ErrorData"][0]["ErrorMsg"];
	EXPECT_NE(msg.find("identityCard: required field is missing"), std::string::npos) << msg;
	EXPECT_NE(msg.find("idCard: unknown field"), std::string::npos) << msg;
	EXPECT_EQ(d.State()["refused"], 1);
	auto [s2, a2] = d.Raw(kW032Check, token, R"({"AcceptData":[],"extra":1})");
	EXPECT_EQ(a2["ReturnCode"], "0");
	EXPECT_EQ(d.Send(kW032Check, token, W032Check()).second["ReturnCode"], "1");
}

TEST(PlatformDouble, AssignOncePerECertIdAndCountsDuplicates) {
	Double d({});
	const std::string token = d.Token("w050", "b");
	auto [status, first] = d.Send("/w050/fm", token, W050Assign(kGuid));
	ASSERT_EQ(first["ReturnCode"], "1") << first.dump();
	const json assignment = first["ReturnData"]["SuccessData"][0];
	EXPECT_EQ(assignment["eCertID"], kGuid);
	const std::string code = Decrypt(assignment);
	EXPECT_EQ(code.size(), 18u);
	EXPECT_EQ(d.Send("/w050/fm", token, W050Assign(kGuid)).second, first) << "a resend gets the same answer";
	json state = d.State();
	const json &effect = state["effects"]["3f2504e04f8911d39a0c0305e82c3301"];
	EXPECT_EQ(effect["received"], 2);
	EXPECT_EQ(effect["code"], code);
	EXPECT_EQ(state["duplicates"].size(), 0u);

	// The same licence under a new eCertID is a second effect: a duplicate.
	auto [s2, second] = d.Send("/w050/fm", token, W050Assign("aaaaaaaa-4f89-11d3-9a0c-0305e82c3301"));
	EXPECT_NE(Decrypt(second["ReturnData"]["SuccessData"][0]), code);
	state = d.State();
	ASSERT_EQ(state["duplicates"].size(), 1u);
	EXPECT_EQ(state["natural_keys"][state["duplicates"][0].get<std::string>()]["effects"], 2);
}

TEST(PlatformDouble, DuplicateAnswerExists) {
	Double d({"--duplicate-answer", "exists"});
	const std::string token = d.Token("w050", "b");
	EXPECT_EQ(d.Send("/w050/fm", token, W050Assign(kGuid)).second["ReturnCode"], "1");
	auto [status, again] = d.Send("/w050/fm", token, W050Assign(kGuid));
	EXPECT_EQ(again["ReturnCode"], "0");
	EXPECT_NE(again["ReturnData"]["ErrorData"][0]["ErrorMsg"].get<std::string>().find("已存在"), std::string::npos);
	EXPECT_EQ(d.State()["natural_keys"].begin().value()["effects"], 1);
}

TEST(PlatformDouble, CollectStatusAndQuery) {
	Double d({});
	const std::string token = d.Token("w050", "b");
	const std::string code =
	    Decrypt(d.Send("/w050/fm", token, W050Assign(kGuid)).second["ReturnData"]["SuccessData"][0]);
	const std::string url = "https://preview.example.test/l/x";
	json collect = {{"ID", "202635999999999999"}, {"zzeCertID", kZz050}, {"url", url}};
	auto [s1, refused] = d.Send("/w050/gj", token, collect);
	EXPECT_EQ(refused["ReturnCode"], "0") << "a code the platform never assigned";
	collect["ID"] = code;
	EXPECT_EQ(d.Send("/w050/gj", token, collect).second["ReturnCode"], "1");
	json status = {{"eCertID", "bbbbbbbb4f8911d39a0c0305e82c3301"},
	               {"zzeCertID", kZz050},
	               {"provinceNum", "370000"},
	               {"certNum", "（鲁）JZ安许证字[2023]087974"},
	               {"creditCode", "91370100MA3C12345X"},
	               {"certState", "02"},
	               {"operateType", "03"}};
	EXPECT_EQ(d.Send("/w050/update", token, status).second["ReturnCode"], "1");

	const json licence = d.State()["licences"][kZz050];
	EXPECT_EQ(licence["assignedCode"], code);
	EXPECT_EQ(licence["url"], url);
	EXPECT_EQ(licence["processed"], json({{"assign_code", 1}, {"collect", 1}, {"status_update", 1}}));
	EXPECT_EQ(licence["status_updates"][0]["certState"], "02");

	// The inferred query finds the assignment by eCertID (re-encrypted) and the licence by zzeCertID.
	auto [s2, by_ecert] = d.Send("/w050/query", token, {{"eCertID", kGuid}});
	ASSERT_EQ(by_ecert["ReturnCode"], "1") << by_ecert.dump();
	EXPECT_EQ(Decrypt(by_ecert["ReturnData"]["SuccessData"][0]), code);
	auto [s2b, by_other_form] = d.Send("/w050/query", token, {{"eCertID", "3F2504E04F8911D39A0C0305E82C3301"}});
	ASSERT_EQ(by_other_form["ReturnCode"], "1") << "eCertIDs compare without dashes and case";
	EXPECT_EQ(Decrypt(by_other_form["ReturnData"]["SuccessData"][0]), code);
	auto [s3, by_zz] = d.Send("/w050/query", token, {{"zzeCertID", kZz050}});
	bool saw_url = false, saw_state = false;
	for (const json &item : by_zz["ReturnData"]["SuccessData"]) {
		if (item.value("url", "") == url) {
			saw_url = true;
			EXPECT_EQ(Decrypt(item), code) << "the collected code, re-encrypted";
			EXPECT_FALSE(item.contains("eCertID")) << "a collect has no eCertID";
		}
		saw_state |= item.value("certState", "") == "02";
	}
	EXPECT_TRUE(saw_url && saw_state) << by_zz.dump();
	auto [s4, none] = d.Send("/w050/query", token, {{"eCertID", "cccccccc4f8911d39a0c0305e82c3301"}});
	EXPECT_EQ(none["ReturnCode"], "0");
	EXPECT_EQ(none["ReturnMsg"], "未查询到数据");
}

TEST(PlatformDouble, RelayProfile) {
	Double d({"--relay-sm4-key-file", Dir() + "/sm4.key", "--relay-citynums", "350100,350200", "--relay-wrap-custom"});
	EXPECT_EQ(d.Token("relay", "r"), "") << "the relay's token path is its own";
	const std::string token = d.Token("relay", "r", "/relay/token");
	ASSERT_FALSE(token.empty());
	const std::string inner = json {{"AcceptData", json::array({W050Assign(kGuid)})}}.dump();
	auto envelope = [&inner](const std::string &citynum) {
		return json {{"citynum", citynum}, {"data", SealRelayData(inner, kRelayKey)}}.dump();
	};
	auto [status, answer] = d.Raw("/relay/push", token, envelope("350100"));
	ASSERT_EQ(status, 200);
	ASSERT_TRUE(answer.contains("custom")) << answer.dump();
	EXPECT_EQ(answer["custom"]["ReturnCode"], "1");
	EXPECT_EQ(Decrypt(answer["custom"]["ReturnData"]["SuccessData"][0]).size(), 18u);
	EXPECT_EQ(d.Raw("/relay/push", token, envelope("350300")).second["custom"]["ReturnCode"], "0")
	    << "citynum not served";
	EXPECT_EQ(d.Raw("/relay/push", token, envelope("3501")).second["custom"]["ReturnCode"], "0");
	EXPECT_EQ(d.Raw("/relay/push", token, inner).second["custom"]["ReturnCode"], "0") << "no envelope";
	const std::string wrong_key =
	    json {{"citynum", "350100"}, {"data", SealRelayData(inner, "fedcba9876543210")}}.dump();
	EXPECT_EQ(d.Raw("/relay/push", token, wrong_key).second["custom"]["ReturnCode"], "0");
	// Checks inside the envelope are the spec's: a misnamed field is named.
	json bad = W032Check();
	bad["certNo"] = "x";
	const std::string bad_inner = json {{"AcceptData", json::array({bad})}}.dump();
	auto [s2, refused] = d.Raw("/relay/W032/check", token,
	                           json {{"citynum", "350200"}, {"data", SealRelayData(bad_inner, kRelayKey)}}.dump());
	EXPECT_NE(refused["custom"]["ReturnData"]["ErrorData"][0]["ErrorMsg"].get<std::string>().find("certNo"),
	          std::string::npos);
	EXPECT_EQ(d.Send("/relay/push", d.Token("w050", "b"), W050Assign(kGuid)).first, 401) << "a direct token";
}

TEST(PlatformDouble, FaultsAfterActing) {
	Double d({});
	const std::string token = d.Token("w050", "b");
	d.Faults({{"rate_drop", 1.0}});
	auto [status, answer] = d.Send("/w050/fm", token, W050Assign(kGuid));
	EXPECT_EQ(status, 0) << "the connection closes without an answer";
	d.Faults(json::object());
	EXPECT_EQ(d.State()["effects"]["3f2504e04f8911d39a0c0305e82c3301"]["received"], 1) << "but the platform acted";
	d.Faults({{"rate_5xx", 1.0}});
	EXPECT_EQ(d.Send("/w050/fm", token, W050Assign(kGuid)).first, 503);
	d.Faults({{"business_error_for", "087974"}});
	EXPECT_EQ(d.Send("/w050/fm", token, W050Assign(kGuid)).second["ReturnCode"], "0");
	d.Faults(json::object());
	EXPECT_EQ(d.State()["effects"]["3f2504e04f8911d39a0c0305e82c3301"]["received"], 1);
	EXPECT_EQ(d.State()["faults"]["drop"], 1);
}

TEST(PlatformDouble, OddAnswersAfterActing) {
	Double d({});
	const std::string token = d.Token("w050", "b");
	const std::string path = "/w050/fm?access_token=" + token;
	EXPECT_EQ(
	    d.Client().Post("/_admin/faults", R"({"rate_odd": 1, "odd_answer": "nonsense"})", "application/json")->status,
	    400);
	int sent = 0;
	auto answer = [&](const std::string &kind) {
		d.Faults({{"rate_odd", 1.0}, {"odd_answer", kind}, {"odd_bytes", 3 << 20}});
		const json item = W050Assign("dddddddd-4f89-11d3-9a0c-0305e82c33" + std::to_string(10 + sent++));
		auto res = d.Client().Post(path.c_str(), json {{"AcceptData", json::array({item})}}.dump(), "application/json");
		if (!res)
			throw std::runtime_error("no answer for " + kind);
		return res->body;
	};
	EXPECT_EQ(answer("empty"), "");
	EXPECT_FALSE(json::parse(answer("no_return_code")).contains("ReturnCode"));
	EXPECT_TRUE(json::parse(answer("nulls"))["ReturnData"]["SuccessData"][0]["encryCertid"].is_null());
	EXPECT_NE(json::parse(answer("nul"))["ReturnMsg"].get<std::string>().find('\0'), std::string::npos);
	EXPECT_EQ(answer("html").rfind("<html>", 0), 0u);
	const std::string huge = answer("huge");
	EXPECT_GT(huge.size(), 3u << 20);
	EXPECT_EQ(json::parse(huge)["ReturnCode"], "1");
	EXPECT_EQ(json::parse(answer("numbers"))["ReturnCode"], 1);
	const json warning = json::parse(answer("warning"));
	EXPECT_EQ(warning["ReturnCode"], "2");
	EXPECT_EQ(warning["ReturnData"]["WarnData"][0]["WarnMsg"], "injected warning");
	EXPECT_TRUE(json::parse(answer("wrong_types"))["ReturnCode"].is_array());
	EXPECT_TRUE(json::parse(answer("simple")).contains("ID"));
	d.Faults(json::object());
	const json state = d.State();
	EXPECT_EQ(state["faults"]["odd"], sent);
	EXPECT_EQ(state["effects"].size(), static_cast<std::size_t>(sent)) << "each acted before its odd answer";
}

TEST(PlatformDouble, DropOnlyOnReusedConnections) {
	Double d({});
	const std::string token = d.Token("w050", "b");
	d.Faults({{"rate_drop", 1.0}, {"drop_reused_only", true}});
	httplib::Client cli = d.Client();
	cli.set_keep_alive(true);
	const std::string body = json {{"AcceptData", json::array({W050Assign(kGuid)})}}.dump();
	const std::string path = "/w050/fm?access_token=" + token;
	auto first = cli.Post(path.c_str(), body, "application/json");
	ASSERT_TRUE(first) << "the first request on a connection is answered";
	EXPECT_EQ(first->status, 200);
	auto second = cli.Post(path.c_str(), body, "application/json");
	EXPECT_FALSE(second) << "the second on the same connection is dropped";
	EXPECT_EQ(d.State()["effects"]["3f2504e04f8911d39a0c0305e82c3301"]["received"], 2);
}

}  // namespace
}  // namespace elicense::testdouble
