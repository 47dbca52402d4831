// The preview server's HTTP front end over real sockets on 127.0.0.x: slow
// clients do not hold threads and get 408 at the request deadline, a header
// flood gets 431, one address cannot take more than its connections, a full
// worker queue answers 503, a probe answers while every worker is busy, keep-
// alive and pipelined requests, body limits, and an answer a client does not
// read is dropped at the write deadline.
#include "http_front_end.hpp"
#include "httplib_exchange.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <thread>

namespace elicense::preview {
namespace {

using Clock = std::chrono::steady_clock;

long long MsSince(Clock::time_point t) {
	return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count();
}

// Bytes read past an answer, per client socket (pipelined answers).
std::map<int, std::string> leftover;

// A blocking client socket from `source` (any 127.0.0.x is this machine).
int Connect(int port, const char *source = "127.0.0.1") {
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	leftover.erase(fd);
	sockaddr_in src {};
	src.sin_family = AF_INET;
	inet_pton(AF_INET, source, &src.sin_addr);
	EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr *>(&src), sizeof src), 0);
	sockaddr_in dst {};
	dst.sin_family = AF_INET;
	dst.sin_port = htons(static_cast<std::uint16_t>(port));
	inet_pton(AF_INET, "127.0.0.1", &dst.sin_addr);
	EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr *>(&dst), sizeof dst), 0);
	timeval tv {5, 0};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	return fd;
}

void Send(int fd, const std::string &text) {
	ASSERT_EQ(send(fd, text.data(), text.size(), MSG_NOSIGNAL), static_cast<ssize_t>(text.size()));
}

// Reads one answer (head + Content-Length body); "" on EOF, reset or timeout.
std::string ReadAnswer(int fd) {
	std::string got = std::move(leftover[fd]);
	leftover.erase(fd);
	char buf[65536];
	for (;;) {
		std::size_t end = got.find("\r\n\r\n");
		if (end != std::string::npos) {
			std::size_t at = got.find("Content-Length: ");
			std::size_t length = at == std::string::npos || at > end ? 0 : std::stoul(got.substr(at + 16));
			if (got.size() >= end + 4 + length) {
				leftover[fd] = got.substr(end + 4 + length);
				return got.substr(0, end + 4 + length);
			}
		}
		ssize_t n = recv(fd, buf, sizeof buf, 0);
		if (n <= 0)
			return got.find("\r\n\r\n") == std::string::npos ? "" : got;
		got.append(buf, static_cast<std::size_t>(n));
	}
}

int StatusOf(const std::string &answer) {
	return answer.size() > 12 ? std::atoi(answer.c_str() + 9) : 0;
}

std::string Get(const std::string &path, const std::string &extra = "") {
	return "GET " + path + " HTTP/1.1\r\nHost: t\r\n" + extra + "\r\n";
}

class FrontEndTest : public ::testing::Test {
protected:
	void Start(FrontEndLimits limits) {
		http_.Get("/fast",
		          [](const httplib::Request &, httplib::Response &res) { res.set_content("fast", "text/plain"); });
		http_.Get("/slow", [](const httplib::Request &, httplib::Response &res) {
			std::this_thread::sleep_for(std::chrono::milliseconds(600));
			res.set_content("slow", "text/plain");
		});
		http_.Get("/big", [](const httplib::Request &, httplib::Response &res) {
			res.set_content(std::string(64 << 20, 'x'), "text/plain");
		});
		http_.Get("/healthz",
		          [](const httplib::Request &, httplib::Response &res) { res.set_content("ok", "text/plain"); });
		front_ = std::make_unique<HttpFrontEnd>(
		    limits, [this](ClientConnection &c, bool last) { return http_.Answer(c, last); },
		    [](std::string_view method, std::string_view target) { return method == "GET" && target == "/healthz"; },
		    nullptr, "X-Test: 1\r\n");
		port_ = front_->Bind("127.0.0.1", 0);
		thread_ = std::thread([this] { front_->Run(); });
	}
	void TearDown() override {
		if (front_) {
			front_->Stop();
			thread_.join();
		}
	}
	// GET path on a new connection from `source`; the status, and its time in `ms`.
	int Probe(const std::string &path, long long &ms, const char *source = "127.0.0.1") {
		auto t = Clock::now();
		int fd = Connect(port_, source);
		Send(fd, Get(path, "Connection: close\r\n"));
		int status = StatusOf(ReadAnswer(fd));
		ms = MsSince(t);
		close(fd);
		return status;
	}

	ExchangeServer http_;
	std::unique_ptr<HttpFrontEnd> front_;
	std::thread thread_;
	int port_ = 0;
};

TEST_F(FrontEndTest, SlowClientsHoldNoThreadAndMeetTheDeadline) {
	FrontEndLimits limits;
	limits.workers = 2;
	limits.request_timeout_ms = 1500;
	Start(limits);
	// 16 clients from 16 addresses, a header line every 200 ms and never the
	// end of the head: with httplib's pool of 2 threads these held both.
	std::vector<int> slow;
	for (int i = 0; i < 16; ++i) {
		std::string source = "127.0.0." + std::to_string(10 + i);
		slow.push_back(Connect(port_, source.c_str()));
		Send(slow.back(), "GET /fast HTTP/1.1\r\n");
	}
	auto started = Clock::now();
	long long worst = 0;
	while (MsSince(started) < 1200) {
		for (int fd : slow)
			Send(fd, "X-Slow: 1\r\n");
		long long ms = 0;
		EXPECT_EQ(Probe("/fast", ms), 200);
		worst = std::max(worst, ms);
		EXPECT_EQ(Probe("/healthz", ms), 200);
		worst = std::max(worst, ms);
		std::this_thread::sleep_for(std::chrono::milliseconds(200));
	}
	EXPECT_LT(worst, 200) << "a request waited behind the slow clients";
	// Each slow client gets 408 at its deadline (1.5 s after its first
	// byte), however steadily it was sending.
	for (int fd : slow) {
		std::string answer = ReadAnswer(fd);
		EXPECT_EQ(StatusOf(answer), 408);
		EXPECT_NE(answer.find("X-Test: 1\r\n"), std::string::npos);
		close(fd);
	}
	EXPECT_LT(MsSince(started), 2500);
	EXPECT_GE(front_->stats().timed_out.load(), 16);
}

TEST_F(FrontEndTest, HeaderFloodIsRefused) {
	FrontEndLimits limits;
	Start(limits);
	int fd = Connect(port_);
	Send(fd, "GET /fast HTTP/1.1\r\n");
	std::string lines;
	for (int i = 0; i < 1000; ++i)
		lines += "X-Flood: " + std::to_string(i) + "\r\n";
	// 100,000 lines, as long as the server reads them: it stops after 64.
	int sent_lines = 0;
	for (int i = 0; i < 100; ++i) {
		if (send(fd, lines.data(), lines.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(lines.size()))
			break;
		sent_lines += 1000;
	}
	std::string answer = ReadAnswer(fd);
	// 431, unless the server's close reset the connection first.
	EXPECT_TRUE(StatusOf(answer) == 431 || answer.empty()) << answer.substr(0, 100);
	close(fd);
	EXPECT_EQ(front_->stats().refused_head.load(), 1);
	long long ms = 0;
	EXPECT_EQ(Probe("/healthz", ms), 200);
	// Too large a head in a few long lines: 431 too.
	fd = Connect(port_);
	Send(fd, Get("/fast", "X-Big: " + std::string(9000, 'a') + "\r\n"));
	EXPECT_EQ(StatusOf(ReadAnswer(fd)), 431);
	close(fd);
}

TEST_F(FrontEndTest, ConnectionsPerClientAddress) {
	FrontEndLimits limits;
	limits.max_connections_per_client = 3;
	Start(limits);
	std::vector<int> held;
	for (int i = 0; i < 3; ++i)
		held.push_back(Connect(port_, "127.0.0.2"));
	std::this_thread::sleep_for(std::chrono::milliseconds(100));  // all three accepted
	int extra = Connect(port_, "127.0.0.2");
	std::string answer = ReadAnswer(extra);
	EXPECT_TRUE(StatusOf(answer) == 429 || answer.empty()) << answer;
	EXPECT_TRUE(answer.empty() || answer.find("Retry-After: 2\r\n") != std::string::npos);
	close(extra);
	EXPECT_EQ(front_->stats().refused_client_full.load(), 1);
	long long ms = 0;
	EXPECT_EQ(Probe("/fast", ms, "127.0.0.3"), 200);  // another address is not affected
	close(held.back());
	held.pop_back();
	std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the server saw the close
	EXPECT_EQ(Probe("/fast", ms, "127.0.0.2"), 200);
	for (int fd : held)
		close(fd);
}

TEST_F(FrontEndTest, ConnectionsInAll) {
	FrontEndLimits limits;
	limits.max_connections = 2;
	Start(limits);
	int a = Connect(port_, "127.0.0.2");
	int b = Connect(port_, "127.0.0.3");
	std::this_thread::sleep_for(std::chrono::milliseconds(100));
	int c = Connect(port_, "127.0.0.4");
	std::string answer = ReadAnswer(c);
	EXPECT_TRUE(StatusOf(answer) == 503 || answer.empty()) << answer;
	EXPECT_EQ(front_->stats().refused_server_full.load(), 1);
	EXPECT_EQ(front_->stats().connections.load(), 2);
	for (int fd : {a, b, c})
		close(fd);
}

TEST_F(FrontEndTest, AClosedConnectionFreesItsSlotBeforeTheClientReconnects) {
	FrontEndLimits limits;
	limits.max_connections_per_client = 1;
	Start(limits);
	// A client at its cap whose connection ends with an answer (here
	// Connection: close) reconnects at once, even before it closes its old
	// socket: no 429 from its own old slot.
	std::vector<int> old;
	for (int i = 0; i < 20; ++i) {
		int fd = Connect(port_, "127.0.0.2");
		Send(fd, Get("/fast", "Connection: close\r\n"));
		ASSERT_EQ(StatusOf(ReadAnswer(fd)), 200) << i;
		old.push_back(fd);
	}
	for (int fd : old)
		close(fd);
	EXPECT_EQ(front_->stats().refused_client_full.load(), 0);
}

TEST_F(FrontEndTest, ProbeAnswersWhileEveryWorkerIsBusyAndAFullQueueIs503) {
	FrontEndLimits limits;
	limits.workers = 1;
	limits.max_queued_requests = 1;
	Start(limits);
	int busy = Connect(port_, "127.0.0.2");
	Send(busy, Get("/slow"));
	std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the worker took it
	int queued = Connect(port_, "127.0.0.3");
	Send(queued, Get("/slow"));
	std::this_thread::sleep_for(std::chrono::milliseconds(50));
	long long ms = 0;
	EXPECT_EQ(Probe("/fast", ms, "127.0.0.4"), 503);
	EXPECT_LT(ms, 200);
	EXPECT_EQ(Probe("/healthz", ms, "127.0.0.5"), 200);
	EXPECT_LT(ms, 200);
	EXPECT_EQ(StatusOf(ReadAnswer(busy)), 200);
	EXPECT_EQ(StatusOf(ReadAnswer(queued)), 200);
	EXPECT_EQ(front_->stats().refused_busy.load(), 1);
	close(busy);
	close(queued);
}

TEST_F(FrontEndTest, KeepAlivePipeliningAndBodies) {
	FrontEndLimits limits;
	limits.head.max_body_bytes = 100;
	Start(limits);
	int fd = Connect(port_);
	Send(fd, Get("/fast") + Get("/healthz") + Get("/fast"));  // three at once
	std::string all;
	for (int i = 0; i < 3; ++i) {
		std::string answer = ReadAnswer(fd);
		EXPECT_EQ(StatusOf(answer), 200) << i;
		all += answer;
	}
	EXPECT_NE(all.find("\r\n\r\nfast"), std::string::npos);
	EXPECT_NE(all.find("\r\n\r\nok"), std::string::npos);
	Send(fd, Get("/fast"));  // the connection is still open
	EXPECT_EQ(StatusOf(ReadAnswer(fd)), 200);
	// A body within the limit reaches httplib (no POST route: 404); one over
	// it is refused before it is read.
	Send(fd, "POST /fast HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello");
	EXPECT_EQ(StatusOf(ReadAnswer(fd)), 404);
	Send(fd, "POST /fast HTTP/1.1\r\nContent-Length: 101\r\n\r\n");
	EXPECT_EQ(StatusOf(ReadAnswer(fd)), 413);
	close(fd);
	fd = Connect(port_);
	Send(fd, "POST /fast HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n");
	EXPECT_EQ(StatusOf(ReadAnswer(fd)), 411);
	close(fd);
}

TEST_F(FrontEndTest, AnswerNotReadIsDroppedAtTheWriteDeadline) {
	FrontEndLimits limits;
	limits.write_timeout_ms = 500;
	Start(limits);
	int fd = Connect(port_);
	int small = 4096;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
	Send(fd, Get("/big"));  // 64 MiB, never read
	auto started = Clock::now();
	while (front_->stats().write_timed_out.load() == 0 && MsSince(started) < 3000)
		std::this_thread::sleep_for(std::chrono::milliseconds(50));
	EXPECT_EQ(front_->stats().write_timed_out.load(), 1);
	EXPECT_LT(MsSince(started), 2000);
	close(fd);
	long long ms = 0;
	EXPECT_EQ(Probe("/fast", ms), 200);
}

TEST_F(FrontEndTest, IdleConnectionIsClosedSilently) {
	FrontEndLimits limits;
	limits.request_timeout_ms = 300;
	Start(limits);
	int fd = Connect(port_);
	auto started = Clock::now();
	char c;
	EXPECT_EQ(recv(fd, &c, 1, 0), 0);  // closed, no answer
	EXPECT_GE(MsSince(started), 250);
	EXPECT_LT(MsSince(started), 1000);
	close(fd);
	EXPECT_EQ(front_->stats().connections.load(), 0);
}

}  // namespace
}  // namespace elicense::preview
