// HTTP toward the platform with libcurl's multi interface: many requests in
// flight on kept-alive connections, driven by Poll() from the worker's single
// loop, which also wakes on the database socket. Protocols are limited to
// http and https; every request has connect and total timeouts.
#pragma once

#include "backoff.hpp"
#include "outcome.hpp"

#include <functional>
#include <map>
#include <memory>
#include <string>

using CURL = void;
using CURLM = void;

namespace elicense::worker {

struct HttpRequest {
	std::string url;  // may carry access_token: never log it unmasked
	std::string body;
	std::string content_type = "application/json; charset=utf-8";
	long timeout_ms = 30000;
	long connect_timeout_ms = 5000;
	std::size_t max_answer_bytes = 1048576;  // a longer answer is cut off (Exchange::too_large)
};

struct HttpResult {
	Exchange exchange;
	Millis duration {0};
};

class HttpClient {
public:
	using Callback = std::function<void(HttpResult)>;

	explicit HttpClient(long max_connections_per_host);
	~HttpClient();
	HttpClient(const HttpClient &) = delete;
	HttpClient &operator=(const HttpClient &) = delete;

	// Starts a request; `done` runs from Poll() when it ends, whatever the outcome.
	void Submit(HttpRequest request, Callback done);
	// Drives transfers for up to `timeout`, returning early on activity on
	// `extra_fd` or `extra_fd2` (each if >= 0) or finished transfers, whose
	// callbacks it runs.
	void Poll(Millis timeout, int extra_fd, int extra_fd2 = -1);
	std::size_t InFlight() const {
		return transfers_.size();
	}

private:
	struct Transfer;
	CURLM *multi_;
	std::map<CURL *, std::unique_ptr<Transfer>> transfers_;
};

}  // namespace elicense::worker
