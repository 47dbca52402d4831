#include "gateway_server.hpp"

#include "elicense/common/log.hpp"
#include "elicense/validators.hpp"
#include "http_front_end.hpp"
#include "httplib_exchange.hpp"
#include "secret_hash.hpp"

#include <httplib.h>

#include <algorithm>
#include <ctime>

namespace elicense::gateway {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr char kGatewayRole[] = "elicense_gateway";

preview::FrontEndLimits LimitsOf(const Config &c) {
	preview::FrontEndLimits limits;
	limits.request_timeout_ms = c.request_timeout_ms;
	limits.keep_alive_timeout_ms = c.keep_alive_timeout_ms;
	limits.write_timeout_ms = c.write_timeout_ms;
	limits.head.max_head_bytes = c.max_header_bytes;
	limits.head.max_header_count = static_cast<std::size_t>(c.max_header_count);
	limits.head.max_body_bytes = c.max_request_bytes;
	limits.max_connections = static_cast<std::size_t>(c.max_connections);
	limits.max_connections_per_client = static_cast<std::size_t>(c.max_connections_per_client);
	limits.max_queued_requests = static_cast<std::size_t>(c.max_queued_requests);
	limits.workers = c.threads;
	limits.retry_after_s = c.retry_after_s;
	return limits;
}

const httplib::Headers &SecurityHeaders() {
	static const httplib::Headers headers {{"Cache-Control", "no-store"}, {"X-Content-Type-Options", "nosniff"}};
	return headers;
}

std::string Envelope(const Outcome &o, const json &data, const std::string &request_id) {
	json answer = {{"head", {{"status", static_cast<int>(o.code)}, {"message", o.message}, {"requestId", request_id}}},
	               {"data", data}};
	return answer.dump(-1, ' ', false, json::error_handler_t::replace);
}

// A field of `data`: absent or null -> nullopt; present, a string of at most
// 4096 bytes -> the string; anything else -> `bad` is set.
std::optional<std::string> Text(const json &data, const char *key, std::string &bad) {
	auto it = data.find(key);
	if (it == data.end() || it->is_null())
		return std::nullopt;
	if (!it->is_string() || it->get_ref<const std::string &>().size() > 4096) {
		if (bad.empty())
			bad = std::string("data.") + key + " must be a string";
		return std::nullopt;
	}
	return it->get<std::string>();
}

std::string Required(const json &data, const char *key, std::string &bad) {
	std::optional<std::string> v = Text(data, key, bad);
	if (!v && bad.empty())
		bad = std::string("data.") + key + " is required";
	return v.value_or("");
}

// holderTypeCode 001 (统一社会信用代码) or 111 (居民身份证) and a holderCode of that kind.
bool HolderFits(const std::string &code, const std::optional<std::string> &type, Outcome &why) {
	if (!type)
		return true;
	if (*type != "001" && *type != "111") {
		why = Refusal(Code::kBadHolderType, "holderTypeCode must be 001 (USCC) or 111 (resident ID)");
		return false;
	}
	bool fits = *type == "001" ? core::IsValidUscc(code) : core::IsValidResidentId(code);
	if (!fits) {
		why = Refusal(Code::kBadHolderType, "holderCode is not a valid " +
		                                        std::string(*type == "001" ? "USCC" : "resident ID number") +
		                                        " (holderTypeCode " + *type + ")");
		return false;
	}
	return true;
}

// A path for the log: a download key is replaced by the first 12 hex
// digits of its SHA-256.
std::string LoggedPath(const std::string &path) {
	constexpr std::string_view kDownload = "/download/";
	if (path.rfind(kDownload.data(), 0) == 0)
		return std::string(kDownload) + "<" + Hex(Sha256(path.substr(kDownload.size()))).substr(0, 12) + ">";
	return path.substr(0, 200);
}

}  // namespace

GatewayServer::GatewayServer(const Config &config, GatewayStore &store)
    : config_(config), store_(store), http_(std::make_unique<preview::ExchangeServer>()) {
	std::string header_lines;
	for (const auto &[name, value] : SecurityHeaders())
		header_lines.append(name).append(": ").append(value).append("\r\n");
	front_ = std::make_unique<preview::HttpFrontEnd>(
	    LimitsOf(config_), [this](preview::ClientConnection &conn, bool last) { return http_->Answer(conn, last); },
	    [](std::string_view method, std::string_view target) {
		    return (method == "GET" || method == "HEAD") && target == "/healthz";
	    },
	    [](int status) {
		    Outcome o = status == 429 || status == 503 ? Refusal(Code::kRateLimited, "too many connections or requests")
		                                               : Refusal(Code::kBadRequest, "the request was refused");
		    o.http = status;
		    return Envelope(o, nullptr, "");
	    },
	    header_lines + "Content-Type: application/json; charset=utf-8\r\n");
	preview::ExchangeServer &http = *http_;
	http.set_keep_alive_timeout(std::max(1, config_.keep_alive_timeout_ms / 1000));
	http.set_keep_alive_max_count(100);
	http.set_payload_max_length(config_.max_request_bytes);
	http.set_default_headers(SecurityHeaders());

	struct Route {
		const char *path;
		const char *name;
		Operation op;
	};
	static const Route kRoutes[] = {
	    {"/api/v1/licences/search", "search", &GatewayServer::Search},
	    {"/api/v1/licences/info", "info", &GatewayServer::Info},
	    {"/api/v1/licences/info-by-holder", "info_by_holder", &GatewayServer::InfoByHolder},
	    {"/api/v1/licences/file", "file", &GatewayServer::File},
	    {"/api/v1/licences/file-by-holder", "file_by_holder", &GatewayServer::FileByHolder},
	    {"/api/v1/licences/verify", "verify", &GatewayServer::Verify},
	    {"/api/v1/usage-codes", "create_usage_code", &GatewayServer::CreateCode},
	    {"/api/v1/usage-codes/check", "check_usage_code", &GatewayServer::CheckCode},
	    {"/api/v1/licence-types/schema", "schema", &GatewayServer::Schema},
	};
	for (const Route &r : kRoutes)
		http.Post(r.path,
		          [this, r](const httplib::Request &req, httplib::Response &res) { Api(req, res, r.name, r.op); });
	http.Post("/api/v1/token", [this](const httplib::Request &req, httplib::Response &res) { TokenRoute(req, res); });
	http.Get("/download/([A-Za-z0-9_-]{43})",
	         [this](const httplib::Request &req, httplib::Response &res) { Download(req, res); });
	http.Get("/healthz", [](const httplib::Request &, httplib::Response &res) {
		res.set_content("ok\n", "text/plain; charset=utf-8");
	});
	http.Get("/readyz", [this](const httplib::Request &, httplib::Response &res) { Readiness(res); });
	http.Get("/openapi.json", [](const httplib::Request &, httplib::Response &res) {
		res.set_content(kOpenApiDocument, "application/json; charset=utf-8");
	});
	http.set_error_handler([](const httplib::Request &, httplib::Response &res) {
		if (!res.body.empty())
			return;
		Outcome o = Refusal(res.status == 404 ? Code::kNotFound : Code::kBadRequest,
		                    res.status == 404 ? "no such operation" : "the request was refused");
		o.http = res.status;
		res.set_content(Envelope(o, nullptr, ""), "application/json; charset=utf-8");
	});
	http.set_exception_handler([](const httplib::Request &, httplib::Response &res, const std::exception_ptr &) {
		res.status = 500;
		res.set_content(Envelope(Refusal(Code::kOther, "internal error"), nullptr, ""),
		                "application/json; charset=utf-8");
	});
	http.set_logger([this](const httplib::Request &req, const httplib::Response &res) {
		if (req.path.rfind("/api/", 0) == 0 || req.path == "/healthz")
			return;  // the API routes log their own line
		common::LogEvent(
		    "info", "access",
		    {{"client", Client(req)}, {"method", req.method}, {"path", LoggedPath(req.path)}, {"http", res.status}});
	});
}

GatewayServer::~GatewayServer() = default;

int GatewayServer::Bind() {
	int port = front_->Bind(config_.listen, config_.port);
	base_url_ = config_.public_base_url.empty() ? "http://" + config_.listen + ":" + std::to_string(port)
	                                            : config_.public_base_url;
	while (!base_url_.empty() && base_url_.back() == '/')
		base_url_.pop_back();
	return port;
}

void GatewayServer::Listen() {
	front_->Run();
}

void GatewayServer::Stop() {
	front_->Stop();
}

std::string GatewayServer::Client(const httplib::Request &req) const {
	if (config_.trust_forwarded_for && req.has_header("X-Forwarded-For")) {
		std::string chain = req.get_header_value("X-Forwarded-For");
		std::string first = chain.substr(0, chain.find(','));
		first.erase(0, first.find_first_not_of(' '));
		if (!first.empty() && first.size() <= 64)
			return first;
	}
	return req.remote_addr;
}

// The token (envelope accessToken, or Authorization: Bearer) -> the
// application, from the cache or the database; accessId, when given, must
// be that application's.
bool GatewayServer::Authenticate(const httplib::Request &req, const json &body, Caller &caller, Outcome &why) {
	why = Refusal(Code::kIdentity, "identity check failed: missing, unknown or expired accessToken");
	std::string token;
	if (body.contains("accessToken") && body["accessToken"].is_string())
		token = body["accessToken"].get<std::string>();
	std::string auth = req.get_header_value("Authorization");
	if (token.empty() && auth.rfind("Bearer ", 0) == 0)
		token = auth.substr(7);
	if (token.empty() || token.size() > 128)
		return false;
	std::string digest = Sha256(token);
	auto now = Clock::now();
	bool found = false;
	{
		std::lock_guard<std::mutex> lock(cache_mu_);
		auto it = token_cache_.find(digest);
		if (it != token_cache_.end() && it->second.until > now) {
			caller = it->second.caller;
			found = true;
		}
	}
	if (!found) {
		CallResult r = store_.Call(kGatewayRole,
		                           "SELECT app_id, db_role, requests_per_second, burst,"
		                           " floor(extract(epoch FROM expires_at - now()) * 1000)::bigint"
		                           " FROM elicense.gateway_token_app(decode($1, 'hex'))",
		                           {Hex(digest)});
		if (!r.ok())
			throw StoreError("gateway_token_app: " + r.sqlstate + " " + r.message);
		if (PQntuples(r.result.get()) != 1)
			return false;
		caller.app_id = PQgetvalue(r.result.get(), 0, 0);
		caller.role = PQgetvalue(r.result.get(), 0, 1);
		caller.rate = std::atof(PQgetvalue(r.result.get(), 0, 2));
		caller.burst = std::atof(PQgetvalue(r.result.get(), 0, 3));
		long long left_ms = std::atoll(PQgetvalue(r.result.get(), 0, 4));
		auto until = now + std::min<std::chrono::milliseconds>(std::chrono::milliseconds(left_ms),
		                                                       std::chrono::seconds(config_.token_cache_s));
		std::lock_guard<std::mutex> lock(cache_mu_);
		if (token_cache_.size() > 10000)
			token_cache_.clear();
		token_cache_[digest] = Cached {caller, until};
	}
	if (body.contains("accessId") && !(body["accessId"].is_string() && body["accessId"] == caller.app_id)) {
		why = Refusal(Code::kIdentity, "identity check failed: accessId is not the application of accessToken");
		return false;
	}
	return true;
}

// One API request: parse, authenticate, rate-limit, run, answer, log.
void GatewayServer::Api(const httplib::Request &req, httplib::Response &res, const char *name, Operation op) {
	auto started = Clock::now();
	std::string request_id = RandomKey(9);
	Caller caller;
	Reply reply;
	try {
		json body = json::parse(req.body, nullptr, false);
		Outcome why;
		if (body.is_discarded() || !body.is_object()) {
			reply.outcome = Refusal(Code::kBadRequest, "the body is not a JSON object");
		} else if (!Authenticate(req, body, caller, why)) {
			reply.outcome = why;
		} else {
			int retry = 0;
			if (!limiter_.Take("app:" + caller.app_id, caller.rate, caller.burst, Clock::now(), retry)) {
				reply.outcome = Refusal(Code::kRateLimited, "the application's rate limit is exceeded");
				res.set_header("Retry-After", std::to_string(retry));
			} else {
				const json &data = body.contains("data") ? body["data"] : json::object();
				if (!data.is_object())
					reply.outcome = Refusal(Code::kBadRequest, "data must be a JSON object");
				else
					reply = (this->*op)(caller, data);
			}
		}
	} catch (const StoreError &e) {
		common::LogEvent("error", "database", {{"request_id", request_id}, {"error", e.what()}});
		reply = Reply {Unavailable(), nullptr, ""};
	}
	if (reply.outcome.http == 401)
		res.set_header("WWW-Authenticate", "Bearer");
	if (reply.outcome.http == 503)
		res.set_header("Retry-After", std::to_string(config_.retry_after_s));
	res.status = reply.outcome.http;
	res.set_content(Envelope(reply.outcome, reply.outcome.code == Code::kOk ? reply.data : json(nullptr), request_id),
	                "application/json; charset=utf-8");
	long long ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count();
	common::LogEvent("info", "access",
	                 {{"request_id", request_id},
	                  {"client", Client(req)},
	                  {"app", caller.app_id},
	                  {"operation", name},
	                  {"http", res.status},
	                  {"status", static_cast<int>(reply.outcome.code)},
	                  {"sqlstate", reply.sqlstate},
	                  {"ms", ms}});
}

// Runs a sharing function as the application; a refusal becomes its
// envelope code (the PostgreSQL message stays in the audit and our log).
GatewayServer::Reply GatewayServer::Database(const Caller &caller, const std::string &sql,
                                             const std::vector<Param> &params) {
	CallResult r = store_.Call(caller.role, sql, params);
	Reply reply;
	if (!r.ok()) {
		reply.sqlstate = r.sqlstate;
		reply.outcome = FromDatabase(r.sqlstate, r.message);
		if (reply.outcome.code == Code::kOther)
			common::LogEvent("error", "database",
			                 {{"app", caller.app_id}, {"sqlstate", r.sqlstate}, {"error", r.message}});
		return reply;
	}
	std::string text = r.First();
	reply.data = text.empty() ? json(nullptr) : json::parse(text, nullptr, false);
	if (reply.data.is_discarded())
		reply.data = text;  // a scalar (the usage code)
	return reply;
}

GatewayServer::Reply GatewayServer::Search(const Caller &caller, const json &data) {
	std::string bad;
	std::vector<Param> p = {Required(data, "scenario", bad),    Text(data, "certTypeCode", bad),
	                        Text(data, "holderCode", bad),      Text(data, "holderName", bad),
	                        Text(data, "authorityUscc", bad),   Text(data, "status", bad),
	                        Text(data, "issuedFrom", bad),      Text(data, "issuedTo", bad),
	                        Text(data, "afterIdentifier", bad), std::nullopt};
	if (data.contains("pageSize")) {
		if (!data["pageSize"].is_number_integer())
			bad = "data.pageSize must be a whole number";
		else
			p[9] = std::to_string(data["pageSize"].get<long long>());
	}
	if (!bad.empty())
		return Reply {Refusal(Code::kBadRequest, bad), nullptr, ""};
	return Database(
	    caller,
	    "SELECT coalesce(json_agg(s), '[]')::text FROM elicense.licence_search(scenario => $1, type_code => $2,"
	    " holder_id => $3, holder_name => $4, authority_uscc => $5, status => $6, issued_from => $7::date,"
	    " issued_to => $8::date, after_identifier => $9, page_size => coalesce($10::integer, 50)) s",
	    p);
}

GatewayServer::Reply GatewayServer::Info(const Caller &caller, const json &data) {
	std::string bad;
	std::vector<Param> p = {Required(data, "usageCode", bad), Required(data, "certIdentifier", bad)};
	if (!bad.empty())
		return Reply {Refusal(Code::kBadRequest, bad), nullptr, ""};
	return Database(caller, "SELECT row_to_json(s)::text FROM elicense.licence_info($1, $2) s", p);
}

GatewayServer::Reply GatewayServer::InfoByHolder(const Caller &caller, const json &data) {
	std::string bad;
	std::string code = Required(data, "usageCode", bad);
	std::string holder = Required(data, "holderCode", bad);
	std::optional<std::string> type = Text(data, "holderTypeCode", bad);
	if (!bad.empty())
		return Reply {Refusal(Code::kBadRequest, bad), nullptr, ""};
	Outcome why;
	if (!HolderFits(holder, type, why))
		return Reply {why, nullptr, ""};
	return Database(caller, "SELECT coalesce(json_agg(s), '[]')::text FROM elicense.licence_info_by_holder($1, $2) s",
	                {code, holder});
}

// The delivery of files: "base64" (default) in the answer, or "link": each
// file kept behind a download link for expirySeconds.
GatewayServer::Reply GatewayServer::Links(const Caller &caller, json &files, int seconds) {
	for (json &f : files) {
		std::string key = RandomKey(32);
		std::string name = f["identifier"].get<std::string>() + ".ofd";
		CallResult r = store_.Call(
		    kGatewayRole,
		    "SELECT to_char(elicense.gateway_put_download($1, decode($2, 'hex'), $3,"
		    " decode($4, 'base64'), $5::integer) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')",
		    {caller.app_id, Hex(Sha256(key)), name, f["fileBase64"].get<std::string>(), std::to_string(seconds)});
		if (!r.ok())
			throw StoreError("gateway_put_download: " + r.sqlstate + " " + r.message);
		f.erase("fileBase64");
		f["url"] = base_url_ + "/download/" + key;
		f["expiresAt"] = r.First();
	}
	return Reply {Outcome {}, files, ""};
}

namespace {

// delivery and expirySeconds of a file request; false with `bad` set.
bool Delivery(const json &data, int default_s, int max_s, bool &link, int &seconds, std::string &bad) {
	link = false;
	seconds = default_s;
	if (data.contains("delivery")) {
		if (data["delivery"] == "link")
			link = true;
		else if (data["delivery"] != "base64")
			bad = "data.delivery must be base64 or link";
	}
	if (data.contains("expirySeconds")) {
		if (!data["expirySeconds"].is_number_integer() || data["expirySeconds"].get<long long>() < 1 ||
		    data["expirySeconds"].get<long long>() > max_s)
			bad = "data.expirySeconds must be a whole number 1-" + std::to_string(max_s);
		else
			seconds = data["expirySeconds"].get<int>();
	}
	return bad.empty();
}

constexpr char kFileColumns[] =
    "json_build_object('identifier', f.identifier, 'typeCode', f.type_code, 'fileName', f.identifier || '.ofd',"
    " 'sha256', encode(sha256(f.file), 'hex'), 'size', length(f.file),"
    " 'fileBase64', translate(encode(f.file, 'base64'), E'\\n', ''))";

}  // namespace

GatewayServer::Reply GatewayServer::File(const Caller &caller, const json &data) {
	std::string bad;
	std::vector<Param> p = {Required(data, "usageCode", bad), Required(data, "certIdentifier", bad)};
	bool link;
	int seconds;
	if (!Delivery(data, config_.link_lifetime_s, config_.max_link_lifetime_s, link, seconds, bad) || !bad.empty())
		return Reply {Refusal(Code::kBadRequest, bad), nullptr, ""};
	// OFFSET 0: licence_file runs once (it is audited), however often the row's file is read.
	Reply reply = Database(caller,
	                       std::string("SELECT json_build_array(") + kFileColumns +
	                           ")::text FROM (SELECT $2::text AS identifier, NULL::text AS type_code,"
	                           " elicense.licence_file($1, $2) AS file OFFSET 0) f",
	                       p);
	if (reply.outcome.code != Code::kOk)
		return reply;
	if (link)
		reply = Links(caller, reply.data, seconds);
	reply.data = reply.data.at(0);
	reply.data.erase("typeCode");
	return reply;
}

GatewayServer::Reply GatewayServer::FileByHolder(const Caller &caller, const json &data) {
	std::string bad;
	std::string code = Required(data, "usageCode", bad);
	std::string holder = Required(data, "holderCode", bad);
	std::optional<std::string> type = Text(data, "holderTypeCode", bad);
	bool link;
	int seconds;
	if (!Delivery(data, config_.link_lifetime_s, config_.max_link_lifetime_s, link, seconds, bad) || !bad.empty())
		return Reply {Refusal(Code::kBadRequest, bad), nullptr, ""};
	Outcome why;
	if (!HolderFits(holder, type, why))
		return Reply {why, nullptr, ""};
	Reply reply = Database(caller,
	                       std::string("SELECT coalesce(json_agg(") + kFileColumns +
	                           "), '[]')::text FROM elicense.licence_file_by_holder($1, $2) f",
	                       {code, holder});
	if (reply.outcome.code == Code::kOk && link)
		reply = Links(caller, reply.data, seconds);
	return reply;
}

GatewayServer::Reply GatewayServer::Verify(const Caller &caller, const json &data) {
	std::string bad;
	std::string scenario = Required(data, "scenario", bad);
	std::string file;
	auto it = data.find("fileBase64");
	if (it == data.end() || !it->is_string())
		bad = bad.empty() ? "data.fileBase64 is required" : bad;
	else if (!FromBase64(it->get_ref<const std::string &>(), file) || file.empty())
		bad = "data.fileBase64 is not Base64 (standard alphabet, padded, no line breaks)";
	if (!bad.empty())
		return Reply {Refusal(Code::kBadRequest, bad), nullptr, ""};
	return Database(caller, "SELECT row_to_json(v)::text FROM elicense.licence_verify($1, decode($2, 'hex')) v",
	                {scenario, Hex(file)});
}

GatewayServer::Reply GatewayServer::CreateCode(const Caller &caller, const json &data) {
	std::string bad;
	std::string scenario = Required(data, "scenario", bad);
	std::string holder = Required(data, "holderCode", bad);
	std::optional<std::string> type = Text(data, "holderTypeCode", bad);
	auto types = data.find("certTypeCodes");
	if (types == data.end() || !types->is_array() || types->size() > 64 ||
	    !std::all_of(types->begin(), types->end(), [](const json &t) { return t.is_string(); }))
		bad = bad.empty() ? "data.certTypeCodes must be an array of strings" : bad;
	auto context = data.find("context");
	if (context == data.end() || !context->is_object())
		bad = bad.empty() ? "data.context must be a JSON object" : bad;
	std::string minutes = "15";
	if (data.contains("validMinutes")) {
		if (!data["validMinutes"].is_number_integer() || std::abs(data["validMinutes"].get<long long>()) > 100000)
			bad = bad.empty() ? "data.validMinutes must be a whole number" : bad;
		else
			minutes = std::to_string(data["validMinutes"].get<long long>());
	}
	if (!bad.empty())
		return Reply {Refusal(Code::kBadRequest, bad), nullptr, ""};
	Outcome why;
	if (!HolderFits(holder, type, why))
		return Reply {why, nullptr, ""};
	Reply reply = Database(caller,
	                       "SELECT json_build_object('usageCode', c, 'expiresAt', to_char(now() AT TIME ZONE 'UTC' +"
	                       " make_interval(mins => $5::integer), 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'))::text"
	                       " FROM elicense.create_usage_code($1, $2, ARRAY(SELECT json_array_elements_text($3::json)),"
	                       " $4::jsonb, $5::integer) c",
	                       {scenario, holder, types->dump(), context->dump(), minutes});
	return reply;
}

GatewayServer::Reply GatewayServer::CheckCode(const Caller &caller, const json &data) {
	std::string bad;
	std::string code = Required(data, "usageCode", bad);
	if (!bad.empty())
		return Reply {Refusal(Code::kBadRequest, bad), nullptr, ""};
	return Database(caller, "SELECT row_to_json(u)::text FROM elicense.usage_code_info($1) u", {code});
}

GatewayServer::Reply GatewayServer::Schema(const Caller &caller, const json &data) {
	std::string bad;
	std::string type = Required(data, "certTypeCode", bad);
	if (!bad.empty())
		return Reply {Refusal(Code::kBadRequest, bad), nullptr, ""};
	return Database(caller,
	                "SELECT json_build_object('certTypeCode', $1::text, 'fields', coalesce(json_agg(s), '[]'))::text"
	                " FROM elicense.licence_type_schema($1) s",
	                {type});
}

// POST /api/v1/token {accessId, accessSecret} -> {accessToken, expiresIn}.
void GatewayServer::TokenRoute(const httplib::Request &req, httplib::Response &res) {
	auto started = Clock::now();
	std::string request_id = RandomKey(9);
	Outcome outcome = Refusal(Code::kIdentity, "identity check failed: unknown accessId or wrong accessSecret");
	json data = nullptr;
	std::string app;
	try {
		json body = json::parse(req.body, nullptr, false);
		if (body.is_object() && body.contains("data") && body["data"].is_object())
			body = body["data"];  // the envelope's data, or the fields at the top
		int retry = 0;
		if (!body.is_object() || !body.contains("accessId") || !body["accessId"].is_string() ||
		    !body.contains("accessSecret") || !body["accessSecret"].is_string()) {
			outcome = Refusal(Code::kBadRequest, "accessId and accessSecret are required strings");
		} else if (app = body["accessId"].get<std::string>().substr(0, 64),
		           !limiter_.Take("token:" + app, config_.token_requests_per_second,
		                          config_.token_requests_per_second * 2.0, Clock::now(), retry)) {
			outcome = Refusal(Code::kRateLimited, "too many token requests for this accessId");
			res.set_header("Retry-After", std::to_string(retry));
		} else {
			std::string secret = body["accessSecret"].get<std::string>();
			CallResult r =
			    store_.Call(kGatewayRole, "SELECT secret_id, secret_hash FROM elicense.gateway_secrets($1)", {app});
			if (!r.ok())
				throw StoreError("gateway_secrets: " + r.sqlstate + " " + r.message);
			std::string secret_id;
			for (int i = 0; i < PQntuples(r.result.get()) && secret_id.empty() && secret.size() <= 256; ++i)
				if (SecretMatches(secret, PQgetvalue(r.result.get(), i, 1)))
					secret_id = PQgetvalue(r.result.get(), i, 0);
			if (!secret_id.empty()) {
				std::string token = RandomKey(32);
				CallResult issued = store_.Call(
				    kGatewayRole, "SELECT elicense.gateway_issue_token($1, $2::bigint, decode($3, 'hex'), $4::integer)",
				    {app, secret_id, Hex(Sha256(token)), std::to_string(config_.token_lifetime_s)});
				if (issued.ok()) {
					outcome = Outcome {};
					data = {{"accessId", app}, {"accessToken", token}, {"expiresIn", config_.token_lifetime_s}};
				} else if (issued.sqlstate != "28000") {  // 28000: the secret was retired meanwhile
					throw StoreError("gateway_issue_token: " + issued.sqlstate + " " + issued.message);
				}
			}
		}
	} catch (const StoreError &e) {
		common::LogEvent("error", "database", {{"request_id", request_id}, {"error", e.what()}});
		outcome = Unavailable();
	}
	if (outcome.http == 401)
		res.set_header("WWW-Authenticate", "Bearer");
	res.status = outcome.http;
	res.set_content(Envelope(outcome, data, request_id), "application/json; charset=utf-8");
	long long ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count();
	common::LogEvent("info", "access",
	                 {{"request_id", request_id},
	                  {"client", Client(req)},
	                  {"app", app},
	                  {"operation", "token"},
	                  {"http", res.status},
	                  {"status", static_cast<int>(outcome.code)},
	                  {"ms", ms}});
}

// GET /download/<key>: the file, until the link expires (then 404).
void GatewayServer::Download(const httplib::Request &req, httplib::Response &res) {
	try {
		CallResult r = store_.Call(kGatewayRole,
		                           "SELECT file_name, translate(encode(file, 'base64'), E'\\n', '')"
		                           " FROM elicense.gateway_get_download(decode($1, 'hex'))",
		                           {Hex(Sha256(std::string(req.matches[1])))});
		if (!r.ok())
			throw StoreError("gateway_get_download: " + r.sqlstate + " " + r.message);
		std::string file;
		if (PQntuples(r.result.get()) != 1 || !FromBase64(PQgetvalue(r.result.get(), 0, 1), file)) {
			res.status = 404;
			res.set_content(
			    Envelope(Refusal(Code::kNotFound, "this download link is unknown or has expired"), nullptr, ""),
			    "application/json; charset=utf-8");
			return;
		}
		std::string name = PQgetvalue(r.result.get(), 0, 0);
		res.set_header("Content-Disposition", "attachment; filename=\"" + name + "\"");
		res.set_content(file, "application/ofd");
	} catch (const StoreError &e) {
		common::LogEvent("error", "database", {{"error", e.what()}});
		res.status = 503;
		res.set_header("Retry-After", std::to_string(config_.retry_after_s));
		res.set_content(Envelope(Unavailable(), nullptr, ""), "application/json; charset=utf-8");
	}
}

// GET /readyz: 200 when the database answers with the gateway's functions.
void GatewayServer::Readiness(httplib::Response &res) {
	bool ready = store_.Ready();
	res.status = ready ? 200 : 503;
	res.set_content(ready ? "ready\n" : "not ready: database\n", "text/plain; charset=utf-8");
}

}  // namespace elicense::gateway
