// The preview HTTP server (cpp-httplib): GET <path_prefix><token> is the only
// route that shows anything, plus GET /healthz for probes. There is no
// route, mount point or parameter that returns the OFD file: the server
// fetches the watermarked file from the database into memory, draws it and
// answers with HTML (the picture inline). Every request is logged as one
// JSON line (elicense/common/log.hpp): time, client, token fingerprint (never
// the token), version, code, status, cache hit, whether the database
// recorded it (access_budget.hpp), milliseconds. Sockets, deadlines and
// request limits are the front end's (http_front_end.hpp); httplib only
// routes and writes answers (httplib_exchange.hpp).
#pragma once

#include "access_budget.hpp"
#include "preview_config.hpp"
#include "preview_store.hpp"
#include "render_cache.hpp"
#include "render_gate.hpp"

#include <atomic>
#include <memory>
#include <string>

namespace httplib {
struct Request;
struct Response;
}  // namespace httplib

namespace elicense::preview {

class ExchangeServer;
class HttpFrontEnd;

class PreviewServer {
public:
	PreviewServer(const Config &config, PreviewStore &store);
	~PreviewServer();

	// Binds (port 0: any free port); returns the port. Throws on failure.
	int Bind();
	// Serves until Stop().
	void Listen();
	void Stop();

	// The page for one token, as the route answers it (exposed for tests).
	struct Answer {
		int code = 500;
		std::string body;
		RenderCache::Page page;  // a licence page from the cache, sent without copying (body empty)
		std::string status;      // of the version, for the log
		bool cache_hit = false;
		bool recorded = false;  // preview_open wrote an access row (200 and 410 within the budget)
		int retry_after_s = 0;  // set with 503
	};
	Answer Handle(const std::string &token, const std::string &client, std::string &identifier, int &version);

private:
	// The routes (registered by the constructor).
	void ServeLicence(const httplib::Request &req, httplib::Response &res);
	void ServeHealth(httplib::Response &res);
	void LogOtherAccess(const httplib::Request &req, const httplib::Response &res);

	Config config_;
	PreviewStore &store_;
	RenderCache cache_;
	RenderGate gate_;
	AccessBudget budget_;
	std::unique_ptr<ExchangeServer> http_;
	std::unique_ptr<HttpFrontEnd> front_;
	std::atomic<long long> renders_ {0};
};

}  // namespace elicense::preview
