#include "http_client.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace elicense::worker {
namespace {

// The answer as it arrives, up to a limit: past it the write callback
// refuses the data, curl ends the transfer (CURLE_WRITE_ERROR) and the
// answer counts as too large, so a 1 GB body never reaches memory.
struct AnswerSink {
	std::string body;
	std::size_t limit = 0;
	bool too_large = false;
};

size_t AppendBody(char *data, size_t size, size_t nmemb, void *user) {
	auto *sink = static_cast<AnswerSink *>(user);
	std::size_t n = size * nmemb;
	if (sink->body.size() + n > sink->limit) {
		sink->too_large = true;
		return 0;
	}
	sink->body.append(data, n);
	return n;
}

// The request body, handed to curl through a read callback with no seek
// callback on purpose. libcurl resends a request by itself when a reused
// keep-alive connection turns out dead after the request went out ("Connection
// died, retrying a fresh connect"): for a POST the platform may already have
// acted on, that is a second effect nobody decided. To resend, curl must
// rewind the body; with a read callback and no way to seek it cannot, and
// the transfer ends with CURLE_SEND_FAIL_REWIND instead: an unknown outcome
// the worker resolves by its own rule (step_plan.hpp). A dead connection
// found before anything was sent is still retried by curl, harmlessly, so
// keep-alive keeps its benefit.
struct BodySource {
	std::string data;
	std::size_t offset = 0;
};

size_t ReadBody(char *buffer, size_t size, size_t nitems, void *user) {
	auto *body = static_cast<BodySource *>(user);
	std::size_t n = std::min(size * nitems, body->data.size() - body->offset);
	// NOLINTNEXTLINE(bugprone-not-null-terminated-result): a request body, bytes, not a C string
	std::memcpy(buffer, body->data.data() + body->offset, n);
	body->offset += n;
	return n;
}

struct SlistFree {
	void operator()(curl_slist *l) const noexcept {
		curl_slist_free_all(l);
	}
};
struct EasyFree {
	void operator()(CURL *c) const noexcept {
		curl_easy_cleanup(c);
	}
};

void Check(CURLcode rc, const char *call) {
	if (rc != CURLE_OK)
		throw std::runtime_error(std::string(call) + ": " + curl_easy_strerror(rc));
}

}  // namespace

struct HttpClient::Transfer {
	std::unique_ptr<CURL, EasyFree> easy;
	std::unique_ptr<curl_slist, SlistFree> headers;
	BodySource body;
	AnswerSink response;
	Callback done;
	Clock::time_point started;
};

// Sets up an easy handle for `request`, writing the answer into `response`.
static void Configure(CURL *easy, const HttpRequest &request, curl_slist *headers, BodySource *body,
                      AnswerSink *response) {
	response->limit = request.max_answer_bytes;
	Check(curl_easy_setopt(easy, CURLOPT_URL, request.url.c_str()), "CURLOPT_URL");
	Check(curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https"), "CURLOPT_PROTOCOLS_STR");
	Check(curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L), "CURLOPT_NOSIGNAL");
	Check(curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, request.timeout_ms), "CURLOPT_TIMEOUT_MS");
	Check(curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, request.connect_timeout_ms), "CURLOPT_CONNECTTIMEOUT_MS");
	Check(curl_easy_setopt(easy, CURLOPT_USERAGENT, "elicense-sync/" ELICENSE_VERSION), "CURLOPT_USERAGENT");
	Check(curl_easy_setopt(easy, CURLOPT_POST, 1L), "CURLOPT_POST");
	Check(curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body->data.size())),
	      "CURLOPT_POSTFIELDSIZE_LARGE");
	Check(curl_easy_setopt(easy, CURLOPT_READFUNCTION, ReadBody), "CURLOPT_READFUNCTION");
	Check(curl_easy_setopt(easy, CURLOPT_READDATA, body), "CURLOPT_READDATA");
	Check(curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers), "CURLOPT_HTTPHEADER");
	Check(curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, AppendBody), "CURLOPT_WRITEFUNCTION");
	Check(curl_easy_setopt(easy, CURLOPT_WRITEDATA, response), "CURLOPT_WRITEDATA");
}

static curl_slist *Headers(const HttpRequest &request) {
	curl_slist *list = curl_slist_append(nullptr, ("Content-Type: " + request.content_type).c_str());
	// No "Expect: 100-continue" round trip for larger bodies.
	return curl_slist_append(list, "Expect:");
}

// The exchange as curl saw it. "sent": request bytes left this process, so
// the platform may have acted on it.
static Exchange Describe(CURL *easy, CURLcode rc, AnswerSink sink) {
	Exchange ex;
	ex.too_large = sink.too_large;
	ex.body_limit = sink.limit;
	ex.curl_code = rc;
	long request_size = 0;
	curl_easy_getinfo(easy, CURLINFO_REQUEST_SIZE, &request_size);
	ex.sent = request_size > 0;
	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &ex.http_status);
	ex.body = ex.too_large ? std::string() : std::move(sink.body);
	return ex;
}

HttpClient::HttpClient(long max_connections_per_host) : multi_(curl_multi_init()) {
	if (multi_ == nullptr)
		throw std::runtime_error("curl_multi_init failed");
	curl_multi_setopt(multi_, CURLMOPT_MAX_HOST_CONNECTIONS, max_connections_per_host);
}

HttpClient::~HttpClient() {
	for (auto &entry : transfers_)
		curl_multi_remove_handle(multi_, entry.first);
	transfers_.clear();
	curl_multi_cleanup(multi_);
}

void HttpClient::Submit(HttpRequest request, Callback done) {
	auto t = std::make_unique<Transfer>();
	t->easy.reset(curl_easy_init());
	if (!t->easy)
		throw std::runtime_error("curl_easy_init failed");
	t->headers.reset(Headers(request));
	t->body.data = std::move(request.body);
	Configure(t->easy.get(), request, t->headers.get(), &t->body, &t->response);
	t->done = std::move(done);
	t->started = Clock::now();
	CURLMcode rc = curl_multi_add_handle(multi_, t->easy.get());
	if (rc != CURLM_OK)
		throw std::runtime_error(std::string("curl_multi_add_handle: ") + curl_multi_strerror(rc));
	CURL *key = t->easy.get();
	transfers_.emplace(key, std::move(t));
}

void HttpClient::Poll(Millis timeout, int extra_fd, int extra_fd2) {
	int running = 0;
	curl_multi_perform(multi_, &running);
	// Transfers this perform finished (their answers came while the loop was
	// busy, in a database call say) leave no socket to wait on: waiting would
	// hold their answers back for the whole timeout (up to the poll interval),
	// with the wire idle. Hand them out now instead.
	if (static_cast<std::size_t>(running) < transfers_.size())
		timeout = Millis(0);
	curl_waitfd extra[2] {};
	unsigned extras = 0;
	for (int fd : {extra_fd, extra_fd2})
		if (fd >= 0) {
			extra[extras].fd = fd;
			extra[extras].events = CURL_WAIT_POLLIN;
			++extras;
		}
	int ready = 0;
	curl_multi_poll(multi_, extras > 0 ? extra : nullptr, extras, static_cast<int>(timeout.count()), &ready);
	curl_multi_perform(multi_, &running);
	int queued = 0;
	while (CURLMsg *msg = curl_multi_info_read(multi_, &queued)) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		auto it = transfers_.find(msg->easy_handle);
		if (it == transfers_.end())
			continue;
		std::unique_ptr<Transfer> t = std::move(it->second);
		transfers_.erase(it);
		curl_multi_remove_handle(multi_, t->easy.get());
		HttpResult result {Describe(t->easy.get(), msg->data.result, std::move(t->response)),
		                   std::chrono::duration_cast<Millis>(Clock::now() - t->started)};
		t->done(std::move(result));
	}
}

}  // namespace elicense::worker
