// The HTTP gateway for departments (GB/T 36906 family, seed 003): the
// sharing functions of the database over HTTP/JSON.
//   POST /api/v1/token                       accessId + accessSecret -> accessToken
//   POST /api/v1/licences/search             licence_search
//   POST /api/v1/licences/info               licence_info (by identifier)
//   POST /api/v1/licences/info-by-holder     licence_info_by_holder
//   POST /api/v1/licences/file               licence_file: Base64 or a download link
//   POST /api/v1/licences/file-by-holder     licence_file_by_holder: same
//   POST /api/v1/licences/verify             licence_verify (an OFD file, Base64)
//   POST /api/v1/usage-codes                 create_usage_code
//   POST /api/v1/usage-codes/check           usage_code_info
//   POST /api/v1/licence-types/schema        licence_type_schema
//   GET  /download/<key>                     the file behind a link, until it expires
//   GET  /healthz, /readyz, /openapi.json
// Requests are the envelope {"accessId", "accessToken", "data": {...}} (or
// the token as "Authorization: Bearer"); answers {"head": {"status",
// "message", "requestId"}, "data"}. The token decides the application, and
// the application's database role runs its call (gateway_store.hpp): no
// field of a request can name another identity. Each request is one JSON
// access-log line. Sockets, deadlines and request limits are the preview's
// front end (preview/src/http_front_end.hpp).
#pragma once

#include "envelope_codes.hpp"
#include "gateway_config.hpp"
#include "gateway_store.hpp"
#include "rate_limiter.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

namespace httplib {
struct Request;
struct Response;
}  // namespace httplib

namespace elicense::preview {
class ExchangeServer;
class HttpFrontEnd;
}  // namespace elicense::preview

namespace elicense::gateway {

extern const char kOpenApiDocument[];

class GatewayServer {
public:
	GatewayServer(const Config &config, GatewayStore &store);
	~GatewayServer();

	int Bind();  // returns the port
	void Listen();
	void Stop();

private:
	// The application a valid token stands for.
	struct Caller {
		std::string app_id;
		std::string role;
		double rate = 1;
		double burst = 1;
	};
	struct Reply {
		Outcome outcome;
		nlohmann::json data;  // null unless ok
		std::string sqlstate;
	};
	using Operation = Reply (GatewayServer::*)(const Caller &, const nlohmann::json &data);

	void Api(const httplib::Request &req, httplib::Response &res, const char *name, Operation op);
	void TokenRoute(const httplib::Request &req, httplib::Response &res);
	void Download(const httplib::Request &req, httplib::Response &res);
	void Readiness(httplib::Response &res);

	bool Authenticate(const httplib::Request &req, const nlohmann::json &body, Caller &caller, Outcome &why);
	Reply Database(const Caller &caller, const std::string &sql, const std::vector<Param> &params);
	Reply Links(const Caller &caller, nlohmann::json &files, int seconds);

	Reply Search(const Caller &, const nlohmann::json &);
	Reply Info(const Caller &, const nlohmann::json &);
	Reply InfoByHolder(const Caller &, const nlohmann::json &);
	Reply File(const Caller &, const nlohmann::json &);
	Reply FileByHolder(const Caller &, const nlohmann::json &);
	Reply Verify(const Caller &, const nlohmann::json &);
	Reply CreateCode(const Caller &, const nlohmann::json &);
	Reply CheckCode(const Caller &, const nlohmann::json &);
	Reply Schema(const Caller &, const nlohmann::json &);

	std::string Client(const httplib::Request &req) const;

	Config config_;
	GatewayStore &store_;
	std::string base_url_;
	RateLimiter limiter_;
	std::mutex cache_mu_;
	struct Cached {
		Caller caller;
		std::chrono::steady_clock::time_point until;
	};
	std::unordered_map<std::string, Cached> token_cache_;  // by the token's SHA-256
	std::unique_ptr<preview::ExchangeServer> http_;
	std::unique_ptr<preview::HttpFrontEnd> front_;
};

}  // namespace elicense::gateway
