// An answer that arrives while the worker's loop is busy elsewhere (a
// database call) is read by the first curl_multi_perform of the next Poll,
// which then has no socket left to wait on. Poll must hand that answer out at
// once: it used to sleep in curl_multi_poll for its whole timeout first (up
// to the poll interval, 200 ms in the tests), with the wire idle, which
// halved one worker's throughput with the group commit on.
#include "http_client.hpp"
#include "loopback_listener.hpp"

#include <gtest/gtest.h>

#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>

namespace elicense::worker {
namespace {

// Answers every request 50 ms after reading it, on a kept-alive connection,
// and counts what it received and answered.
class AnsweringServer {
public:
	AnsweringServer() {
		LoopbackListener l = ListenOnLoopback();
		listener_ = l.fd;
		port_ = l.port;
		thread_ = std::thread([this] { Serve(); });
	}
	~AnsweringServer() {
		shutdown(listener_, SHUT_RDWR);
		close(listener_);
		thread_.join();
	}
	std::string Url() const {
		return "http://127.0.0.1:" + std::to_string(port_) + "/step";
	}
	int Received() const {
		return received_;
	}
	int Answered() const {
		return answered_;
	}

private:
	void Serve() {
		int fd = accept(listener_, nullptr, nullptr);
		if (fd < 0)
			return;
		std::string buffer;
		char chunk[4096];
		while (true) {
			std::size_t end = buffer.find("\r\n\r\n");
			std::size_t at = buffer.find("Content-Length: ");
			if (end != std::string::npos) {
				std::size_t length = at < end ? std::stoul(buffer.substr(at + 16)) : 0;
				if (buffer.size() >= end + 4 + length) {
					buffer.erase(0, end + 4 + length);
					++received_;
					std::this_thread::sleep_for(std::chrono::milliseconds(50));
					static const char kAnswer[] =
					    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok";
					if (write(fd, kAnswer, sizeof kAnswer - 1) < 0)
						break;
					++answered_;
					continue;
				}
			}
			ssize_t n = read(fd, chunk, sizeof chunk);
			if (n <= 0)
				break;
			buffer.append(chunk, static_cast<std::size_t>(n));
		}
		close(fd);
	}

	int listener_ = -1;
	int port_ = 0;
	std::atomic<int> received_ {0}, answered_ {0};
	std::thread thread_;
};

TEST(HttpClient, PollHandsOutAnAnswerThatCameWhileTheLoopWasBusy) {
	AnsweringServer server;
	HttpClient client(4);
	bool done = false;
	long status = 0;
	HttpRequest request;
	request.url = server.Url();
	request.body = "{}";
	request.timeout_ms = 10000;
	client.Submit(std::move(request), [&](const HttpResult &r) {
		done = true;
		status = r.exchange.http_status;
	});
	// Send it, and stop polling once the server has it (it answers 50 ms later).
	auto deadline = Clock::now() + Millis(5000);
	while (server.Received() == 0 && Clock::now() < deadline)
		client.Poll(Millis(0), -1);
	ASSERT_EQ(server.Received(), 1) << "the request never reached the server";
	ASSERT_FALSE(done) << "answered before the server wrote its answer";
	// The loop is busy elsewhere while the answer arrives.
	deadline = Clock::now() + Millis(5000);
	while (server.Answered() == 0 && Clock::now() < deadline)
		std::this_thread::sleep_for(Millis(10));
	std::this_thread::sleep_for(Millis(50));
	auto start = Clock::now();
	client.Poll(Millis(3000), -1);
	auto took = std::chrono::duration_cast<Millis>(Clock::now() - start);
	EXPECT_TRUE(done);
	EXPECT_EQ(status, 200);
	EXPECT_LT(took.count(), 1500) << "Poll slept before handing out an answer it had already read";
}

}  // namespace
}  // namespace elicense::worker
