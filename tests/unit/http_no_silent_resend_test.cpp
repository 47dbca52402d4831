// libcurl resends a POST by itself when a reused keep-alive connection dies
// after the request went out. The reproduction: a server that answers the
// first request on a connection and closes it after reading the second,
// as a proxy that drops idle connections does. A plain curl POST reaches it
// twice (the control, so this test notices if the reproduction stops
// reproducing); the worker's HttpClient sends it once and reports an
// exchange whose outcome is unknown, for the worker's own rule to resolve.
#include "http_client.hpp"
#include "loopback_listener.hpp"
#include "outcome.hpp"

#include <curl/curl.h>
#include <gtest/gtest.h>

#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <thread>

namespace elicense::worker {
namespace {

// Counts the bodies it receives; answers the first request of a connection,
// closes the connection after reading the second.
class DroppingServer {
public:
	DroppingServer() {
		LoopbackListener l = ListenOnLoopback();
		listener_ = l.fd;
		port_ = l.port;
		thread_ = std::thread([this] { Serve(); });
	}
	~DroppingServer() {
		stop_ = true;
		shutdown(listener_, SHUT_RDWR);
		close(listener_);
		thread_.join();
	}
	std::string Url() const {
		return "http://127.0.0.1:" + std::to_string(port_) + "/step";
	}
	int Received(const std::string &body) {
		std::lock_guard<std::mutex> lock(mu_);
		return received_[body];
	}

private:
	// One whole request (headers, then Content-Length bytes); "" at EOF.
	static std::string ReadRequestBody(int fd, std::string &buffer) {
		char chunk[4096];
		while (true) {
			std::size_t end = buffer.find("\r\n\r\n");
			if (end != std::string::npos) {
				std::size_t at = buffer.find("Content-Length: ");
				std::size_t length = at < end ? std::stoul(buffer.substr(at + 16)) : 0;
				if (buffer.size() >= end + 4 + length) {
					std::string body = buffer.substr(end + 4, length);
					buffer.erase(0, end + 4 + length);
					return body;
				}
			}
			ssize_t n = read(fd, chunk, sizeof chunk);
			if (n <= 0)
				return {};
			buffer.append(chunk, static_cast<std::size_t>(n));
		}
	}

	void Serve() {
		while (!stop_) {
			int fd = accept(listener_, nullptr, nullptr);
			if (fd < 0)
				return;
			std::string buffer;
			for (int nth = 1;; ++nth) {
				std::string body = ReadRequestBody(fd, buffer);
				if (body.empty())
					break;
				{
					std::lock_guard<std::mutex> lock(mu_);
					++received_[body];
				}
				if (nth == 2)
					break;  // read it, acted on it, closed without an answer
				static const char kAnswer[] =
				    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok";
				if (write(fd, kAnswer, sizeof kAnswer - 1) < 0)
					break;
			}
			close(fd);
		}
	}

	int listener_ = -1;
	int port_ = 0;
	std::atomic<bool> stop_ {false};
	std::thread thread_;
	std::mutex mu_;
	std::map<std::string, int> received_;
};

HttpResult SendWith(HttpClient &client, const std::string &url, const std::string &body) {
	HttpResult result;
	bool done = false;
	HttpRequest request;
	request.url = url;
	request.body = body;
	request.timeout_ms = 5000;
	client.Submit(std::move(request), [&](HttpResult r) {
		result = std::move(r);
		done = true;
	});
	for (int i = 0; i < 500 && !done; ++i)
		client.Poll(Millis(10), -1);
	EXPECT_TRUE(done);
	return result;
}

TEST(HttpClient, PlainCurlResendsAPostOnAReusedConnection) {
	DroppingServer server;
	CURL *easy = curl_easy_init();
	auto post = [&](const char *body) {
		curl_easy_setopt(easy, CURLOPT_URL, server.Url().c_str());
		curl_easy_setopt(easy, CURLOPT_COPYPOSTFIELDS, body);
		curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, 5000L);
		curl_easy_setopt(
		    easy, CURLOPT_WRITEFUNCTION, +[](char *, size_t s, size_t n, void *) { return s * n; });
		return curl_easy_perform(easy);
	};
	EXPECT_EQ(post("{\"first\":1}"), CURLE_OK);
	post("{\"second\":2}");
	curl_easy_cleanup(easy);
	// The reproduction works: curl sent the second request again by itself.
	EXPECT_EQ(server.Received("{\"second\":2}"), 2);
}

TEST(HttpClient, NeverResendsAPostByItself) {
	DroppingServer server;
	HttpClient client(1);  // one connection: the second request reuses it
	HttpResult first = SendWith(client, server.Url(), "{\"first\":1}");
	EXPECT_EQ(first.exchange.curl_code, CURLE_OK);
	EXPECT_EQ(first.exchange.http_status, 200);
	HttpResult second = SendWith(client, server.Url(), "{\"second\":2}");
	EXPECT_EQ(server.Received("{\"second\":2}"), 1) << "curl resent the POST on its own";
	EXPECT_NE(second.exchange.curl_code, CURLE_OK);
	EXPECT_TRUE(second.exchange.sent);
	EXPECT_EQ(Classify(second.exchange).outcome, StepOutcome::kUnknown);
	// The connection is gone; the next request goes out on a fresh one.
	HttpResult third = SendWith(client, server.Url(), "{\"third\":3}");
	EXPECT_EQ(third.exchange.http_status, 200);
	EXPECT_EQ(server.Received("{\"third\":3}"), 1);
}

}  // namespace
}  // namespace elicense::worker
