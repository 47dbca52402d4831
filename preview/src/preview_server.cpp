#include "preview_server.hpp"

#include "elicense/ofd_package.hpp"
#include "elicense/ofd_svg.hpp"
#include "elicense/preview_token.hpp"
#include "log.hpp"
#include "png_rasteriser.hpp"
#include "preview_pages.hpp"

#include <httplib.h>
#include <openssl/evp.h>

#include <chrono>

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

}  // namespace

PreviewServer::PreviewServer(const Config &config, PreviewStore &store)
    : config_(config), store_(store), cache_(config.cache_bytes), gate_(config.max_concurrent_renders),
      http_(std::make_unique<httplib::Server>()) {
	httplib::Server &http = *http_;
	int threads = config_.threads;
	http.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<std::size_t>(threads)); };
	http.set_read_timeout(config_.read_timeout_ms / 1000, (config_.read_timeout_ms % 1000) * 1000);
	http.set_write_timeout(config_.write_timeout_ms / 1000, (config_.write_timeout_ms % 1000) * 1000);
	http.set_keep_alive_timeout(std::max(1, config_.keep_alive_timeout_ms / 1000));
	http.set_keep_alive_max_count(100);
	http.set_payload_max_length(config_.max_request_bytes);
	// httplib writes headers and body separately: without TCP_NODELAY a small
	// answer waits ~40 ms for the client's delayed ACK (Nagle).
	http.set_tcp_nodelay(true);
	http.set_default_headers({{"Cache-Control", "no-store, private"},
	                          {"X-Content-Type-Options", "nosniff"},
	                          {"Content-Security-Policy", kContentSecurityPolicy},
	                          {"Referrer-Policy", "no-referrer"},
	                          {"X-Robots-Tag", "noindex"}});

	http.Get(config_.path_prefix + "([A-Za-z0-9_-]{1,256})", [this](const httplib::Request &req, httplib::Response &res) {
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
		worker::LogEvent("info", "access",
		                 {{"client", client}, {"token", Fingerprint(token)}, {"identifier", identifier},
		                  {"version", version}, {"code", answer.code}, {"status", answer.status},
		                  {"cache_hit", answer.cache_hit}, {"ms", ms}});
	});
	http.Get("/healthz", [this](const httplib::Request &, httplib::Response &res) {
		res.set_content("ok cache_entries=" + std::to_string(cache_.entries()) +
		                    " cache_bytes=" + std::to_string(cache_.bytes()) + " renders=" + std::to_string(renders_.load()) +
		                    "\n",
		                "text/plain; charset=utf-8");
	});
	// Anything else (other paths, other methods, bad requests): a short page,
	// logged like every other access.
	http.set_error_handler([](const httplib::Request &, httplib::Response &res) {
		res.set_content(ErrorPage(res.status), "text/html; charset=utf-8");
	});
	http.set_exception_handler([](const httplib::Request &, httplib::Response &res, std::exception_ptr) {
		res.status = 500;
		res.set_content(ErrorPage(500), "text/html; charset=utf-8");
	});
	http.set_logger([this](const httplib::Request &req, const httplib::Response &res) {
		if (req.path.rfind(config_.path_prefix, 0) == 0 && (res.status == 200 || res.has_header("X-Licence-Status")))
			return;  // logged with its details by the route
		if (req.path == "/healthz")
			return;
		worker::LogEvent("info", "access",
		                 {{"client", ClientOf(req, config_.trust_forwarded_for)}, {"method", req.method},
		                  {"path", MaskedPath(req.path)}, {"code", res.status}});
	});
}

PreviewServer::~PreviewServer() = default;

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
		PreviewState state = store_.Open(token, client);
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
		worker::LogEvent("error", "database", {{"error", e.what()}});
		answer.code = 503;
		answer.retry_after_s = config_.retry_after_s;
		answer.body = ErrorPage(503);
	} catch (const std::exception &e) {
		worker::LogEvent("error", "render", {{"identifier", identifier}, {"error", e.what()}});
		answer.code = 500;
		answer.body = ErrorPage(500);
	}
	return answer;
}

int PreviewServer::Bind() {
	int port = config_.port == 0 ? http_->bind_to_any_port(config_.listen)
	                             : (http_->bind_to_port(config_.listen, config_.port) ? config_.port : -1);
	if (port <= 0)
		throw std::runtime_error("cannot listen on " + config_.listen + ":" + std::to_string(config_.port));
	return port;
}

void PreviewServer::Listen() {
	http_->listen_after_bind();
}

void PreviewServer::Stop() {
	http_->stop();
}

}  // namespace elicense::preview
