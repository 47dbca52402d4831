#include "preview_server.hpp"

#include "elicense/common/log.hpp"
#include "elicense/ofd_package.hpp"
#include "elicense/ofd_svg.hpp"
#include "elicense/preview_token.hpp"
#include "http_front_end.hpp"
#include "httplib_exchange.hpp"
#include "png_rasteriser.hpp"
#include "preview_pages.hpp"

#include <httplib.h>
#include <openssl/evp.h>

#include <chrono>
#include <ctime>

namespace elicense::preview {
namespace {

using Clock = std::chrono::steady_clock;

// What the log shows instead of a token: enough to tell requests for the
// same URL apart, useless to open it.
std::string Fingerprint(const std::string &token) {
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	EVP_Digest(token.data(), token.size(), digest, &len, EVP_sha256(), nullptr);
	static constexpr char kHex[] = "0123456789abcdef";
	std::string out;
	for (unsigned int i = 0; i < 6 && i < len; ++i) {
		out.push_back(kHex[digest[i] >> 4]);
		out.push_back(kHex[digest[i] & 15]);
	}
	return out;
}

// A path for the log: any segment that may be a token (long, base64url
// letters only; wherever a client put it) is replaced by its fingerprint.
std::string MaskedPath(const std::string &path) {
	std::string out;
	std::size_t start = 0;
	while (start <= path.size() && out.size() < 200) {
		std::size_t end = path.find('/', start);
		std::string segment = path.substr(start, end == std::string::npos ? std::string::npos : end - start);
		bool token_like = segment.size() >= 24 &&
		                  segment.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
		                                            ".") == std::string::npos;
		out += token_like ? "<" + Fingerprint(segment.substr(0, segment.find('.'))) + ">" : segment.substr(0, 100);
		if (end == std::string::npos)
			break;
		out.push_back('/');
		start = end + 1;
	}
	return out;
}

std::string ClientOf(const httplib::Request &req, bool trust_forwarded_for) {
	if (trust_forwarded_for && req.has_header("X-Forwarded-For")) {
		std::string chain = req.get_header_value("X-Forwarded-For");
		std::string first = chain.substr(0, chain.find(','));
		first.erase(0, first.find_first_not_of(' '));
		if (!first.empty() && first.size() <= 64)
			return first;
	}
	return req.remote_addr;
}

FrontEndLimits LimitsOf(const Config &c) {
	FrontEndLimits limits;
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
	static const httplib::Headers headers {{"Cache-Control", "no-store, private"},
	                                       {"X-Content-Type-Options", "nosniff"},
	                                       {"Content-Security-Policy", kContentSecurityPolicy},
	                                       {"Referrer-Policy", "no-referrer"},
	                                       {"X-Robots-Tag", "noindex"}};
	return headers;
}

}  // namespace

PreviewServer::PreviewServer(const Config &config, PreviewStore &store)
    : config_(config), store_(store), cache_(config.cache_bytes), gate_(config.max_concurrent_renders),
      budget_(config.access_rows_per_minute, config.access_rows_burst), http_(std::make_unique<ExchangeServer>()) {
	std::string header_lines;
	for (const auto &[name, value] : SecurityHeaders())
		header_lines.append(name).append(": ").append(value).append("\r\n");
	front_ = std::make_unique<HttpFrontEnd>(
	    LimitsOf(config_), [this](ClientConnection &conn, bool last) { return http_->Answer(conn, last); },
	    [](std::string_view method, std::string_view target) {
		    return (method == "GET" || method == "HEAD") && target == "/healthz";
	    },
	    [](int status) { return ErrorPage(status); }, header_lines);
	ExchangeServer &http = *http_;
	// Only for the Keep-Alive header httplib writes: the front end enforces both.
	http.set_keep_alive_timeout(std::max(1, config_.keep_alive_timeout_ms / 1000));
	http.set_keep_alive_max_count(100);
	http.set_payload_max_length(config_.max_request_bytes);
	http.set_default_headers(SecurityHeaders());

	http.Get(config_.path_prefix + "([A-Za-z0-9_-]{1,256})",
	         [this](const httplib::Request &req, httplib::Response &res) { ServeLicence(req, res); });
	http.Get("/healthz", [this](const httplib::Request &, httplib::Response &res) { ServeHealth(res); });
	// Anything else (other paths, other methods, bad requests): a short page,
	// logged like every other access.
	http.set_error_handler([](const httplib::Request &, httplib::Response &res) {
		res.set_content(ErrorPage(res.status), "text/html; charset=utf-8");
	});
	http.set_exception_handler([](const httplib::Request &, httplib::Response &res, const std::exception_ptr &) {
		res.status = 500;
		res.set_content(ErrorPage(500), "text/html; charset=utf-8");
	});
	http.set_logger([this](const httplib::Request &req, const httplib::Response &res) { LogOtherAccess(req, res); });
}

PreviewServer::~PreviewServer() = default;

// GET <path_prefix><token>: the licence page, logged with its details.
void PreviewServer::ServeLicence(const httplib::Request &req, httplib::Response &res) {
	auto started = Clock::now();
	std::string token = req.matches[1];
	std::string client = ClientOf(req, config_.trust_forwarded_for);
	std::string identifier;
	int version = 0;
	Answer answer = Handle(token, client, identifier, version);
	res.status = answer.code;
	if (answer.retry_after_s)
		res.set_header("Retry-After", std::to_string(answer.retry_after_s));
	if (!answer.status.empty())
		res.set_header("X-Licence-Status", answer.status);
	if (answer.page) {
		RenderCache::Page page = answer.page;  // the provider keeps the page alive while it is sent
		res.set_content_provider(page->size(), "text/html; charset=utf-8",
		                         [page](std::size_t offset, std::size_t length, httplib::DataSink &sink) {
			                         std::size_t n = std::min(length, page->size() - offset);
			                         return sink.write(reinterpret_cast<const char *>(page->data()) + offset, n);
		                         });
	} else {
		res.set_content(answer.body, "text/html; charset=utf-8");
	}
	long long ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count();
	common::LogEvent("info", "access",
	                 {{"client", client},
	                  {"token", Fingerprint(token)},
	                  {"identifier", identifier},
	                  {"version", version},
	                  {"code", answer.code},
	                  {"status", answer.status},
	                  {"cache_hit", answer.cache_hit},
	                  {"recorded", answer.recorded},
	                  {"ms", ms}});
}

// GET /healthz: counters for monitoring (no database round trip).
void PreviewServer::ServeHealth(httplib::Response &res) {
	const FrontEndStats &s = front_->stats();
	res.set_content(
	    "ok cache_entries=" + std::to_string(cache_.entries()) + " cache_bytes=" + std::to_string(cache_.bytes()) +
	        " renders=" + std::to_string(renders_.load()) + " connections=" + std::to_string(s.connections.load()) +
	        " refused_client_full=" + std::to_string(s.refused_client_full.load()) + " refused_server_full=" +
	        std::to_string(s.refused_server_full.load()) + " timed_out=" + std::to_string(s.timed_out.load()) +
	        " refused_head=" + std::to_string(s.refused_head.load()) + " refused_body=" +
	        std::to_string(s.refused_body.load()) + " refused_busy=" + std::to_string(s.refused_busy.load()) +
	        " write_timed_out=" + std::to_string(s.write_timed_out.load()) +
	        " access_rows_dropped=" + std::to_string(budget_.dropped()) + "\n",
	    "text/plain; charset=utf-8");
}

// Every answer the licence route did not log itself.
void PreviewServer::LogOtherAccess(const httplib::Request &req, const httplib::Response &res) {
	if (req.path.rfind(config_.path_prefix, 0) == 0 && (res.status == 200 || res.has_header("X-Licence-Status")))
		return;  // logged with its details by the route
	if (req.path == "/healthz")
		return;
	common::LogEvent("info", "access",
	                 {{"client", ClientOf(req, config_.trust_forwarded_for)},
	                  {"method", req.method},
	                  {"path", MaskedPath(req.path)},
	                  {"code", res.status}});
}

PreviewServer::Answer PreviewServer::Handle(const std::string &token, const std::string &client,
                                            std::string &identifier, int &version) {
	Answer answer;
	// Not even shaped like one of our tokens: no database round trip.
	if (!core::ReadPreviewToken(token)) {
		answer.code = 404;
		answer.status = "unknown";
		answer.body = ErrorPage(404);
		return answer;
	}
	try {
		// Within the token's budget: ask the database, which records the
		// access. Beyond it: the state the last recorded request saw.
		PreviewState state;
		if (budget_.Take(token, AccessBudget::Clock::now(), std::time(nullptr), state)) {
			state = store_.Open(token, client);
			budget_.Remember(token, state);
			answer.recorded = state.code != 404;  // preview_open writes no row for a token not ours
		}
		identifier = state.identifier;
		version = state.version;
		answer.status = state.status;
		if (state.code != 200) {
			answer.code = state.code;
			answer.body = ErrorPage(state.code);
			return answer;
		}
		if (state.status != "valid" || state.content_hash.empty()) {
			answer.code = 200;
			answer.body = StatusPage(state.status, state.identifier, state.version);
			return answer;
		}
		RenderCache::Page page = cache_.Get(state.content_hash);
		answer.cache_hit = page != nullptr;
		if (!page) {
			GateSlot slot(gate_, std::chrono::milliseconds(config_.render_wait_ms));
			if (!slot.held()) {
				answer.code = 503;
				answer.retry_after_s = config_.retry_after_s;
				answer.body = ErrorPage(503);
				return answer;
			}
			page = cache_.Get(state.content_hash);  // rendered while we waited?
			if (!page) {
				core::OfdParts parts = core::ReadOfdZip(store_.WatermarkedOfd(token));
				core::OfdSvgOptions options;
				options.pixels_per_mm = config_.pixels_per_mm;
				std::string html = LicencePage(RasteriseSvg(core::OfdPageToSvg(parts, options)));
				page = std::make_shared<const std::vector<std::uint8_t>>(html.begin(), html.end());
				cache_.Put(state.content_hash, page);
				++renders_;
			}
		}
		answer.code = 200;
		answer.page = std::move(page);
		return answer;
	} catch (const StoreError &e) {
		common::LogEvent("error", "database", {{"error", e.what()}});
		answer.code = 503;
		answer.retry_after_s = config_.retry_after_s;
		answer.body = ErrorPage(503);
	} catch (const std::exception &e) {
		common::LogEvent("error", "render", {{"identifier", identifier}, {"error", e.what()}});
		answer.code = 500;
		answer.body = ErrorPage(500);
	}
	return answer;
}

int PreviewServer::Bind() {
	return front_->Bind(config_.listen, config_.port);
}

void PreviewServer::Listen() {
	front_->Run();
}

void PreviewServer::Stop() {
	front_->Stop();
}

}  // namespace elicense::preview
