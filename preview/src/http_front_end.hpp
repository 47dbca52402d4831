// The HTTP front end: one thread owns the listening socket and every client
// socket (epoll), reads each request whole under a deadline and size limits
// before any worker thread sees it, and writes every answer back under a
// deadline. cpp-httplib's own server gave each connection a thread for as
// long as its headers trickled in (the read timeout restarted with every
// byte), so eight clients sending a header line a second held every thread;
// here a slow client costs a socket and a buffer, never a thread.
//
// Limits (FrontEndLimits): the request line, headers and body must arrive
// within request_timeout_ms of the request's first byte (a new connection:
// of its accept), else 408; head size and header count (431, or 414 for a
// request line alone over the size); body size (413); Transfer-Encoding in
// a request (411); connections in all and per client address (the
// connection is answered 503 or 429 and closed); complete requests waiting
// for a worker (503). Between requests a connection may stay idle
// keep_alive_timeout_ms; an answer must be written within write_timeout_ms.
// A refused connection is closed gracefully: write the answer, shut down the
// sending side, read and discard what still comes for at most a second (so
// the client reads the 4xx instead of a reset); it keeps its slot meanwhile.
// A connection closed after a normal answer is closed at once.
//
// Requests the `is_probe` test picks (GET /healthz) are answered by the
// front end's own thread, so a probe answers while every worker is busy.
#pragma once

#include "client_connection.hpp"
#include "connection_counter.hpp"
#include "request_head.hpp"

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

namespace elicense::preview {

struct FrontEndLimits {
	int request_timeout_ms = 5000;
	int keep_alive_timeout_ms = 5000;
	int write_timeout_ms = 10000;
	HeadLimits head;
	std::size_t max_connections = 512;
	std::size_t max_connections_per_client = 8;
	std::size_t max_queued_requests = 64;
	std::size_t keep_alive_max_count = 100;
	int workers = 8;
	int retry_after_s = 2;  // Retry-After of a 429 or 503 the front end sends
};

// Counters for /healthz and tests.
struct FrontEndStats {
	std::atomic<long long> connections {0};  // open now
	std::atomic<long long> accepted {0};
	std::atomic<long long> refused_server_full {0};
	std::atomic<long long> refused_client_full {0};
	std::atomic<long long> timed_out {0};     // 408, or closed mid-request
	std::atomic<long long> refused_head {0};  // 414, 431
	std::atomic<long long> refused_body {0};  // 411, 413
	std::atomic<long long> refused_bad {0};   // 400
	std::atomic<long long> refused_busy {0};  // 503: worker queue full
	std::atomic<long long> write_timed_out {0};
};

class HttpFrontEnd {
public:
	// Answers the request in conn.in[0, conn.request_bytes) by appending the
	// whole answer to conn.out; `last` asks it to close the connection
	// (Connection: close). Returns false to close after writing.
	using Handler = std::function<bool(ClientConnection &conn, bool last)>;
	using ProbeTest = std::function<bool(std::string_view method, std::string_view target)>;
	// The body of an answer the front end makes itself (408, 429, 431, ...).
	using RefusalBody = std::function<std::string(int status)>;

	// `headers`: "Name: value\r\n" lines added to the front end's own answers.
	HttpFrontEnd(FrontEndLimits limits, Handler handler, ProbeTest is_probe, RefusalBody refusal_body,
	             std::string headers);
	~HttpFrontEnd();
	HttpFrontEnd(const HttpFrontEnd &) = delete;
	HttpFrontEnd &operator=(const HttpFrontEnd &) = delete;

	// Binds (port 0: any free one); returns the port. Raises the open-file
	// limit to what max_connections needs, or throws naming it.
	int Bind(const std::string &host, int port);
	// Serves until Stop(); starts and joins the worker threads.
	void Run();
	// From any thread.
	void Stop();

	const FrontEndStats &stats() const noexcept {
		return stats_;
	}

private:
	using Clock = ClientConnection::Clock;
	using Connection = std::unique_ptr<ClientConnection>;

	void AcceptAll();
	void Admit(int fd);
	void OnEvent(int fd, unsigned events);
	void ReadSome(ClientConnection &conn);
	void Examine(ClientConnection &conn);
	void Refuse(ClientConnection &conn, int status, const char *reason);
	void StartWriting(ClientConnection &conn);
	void WriteSome(ClientConnection &conn);
	void AfterAnswer(ClientConnection &conn);
	void StartClosing(ClientConnection &conn);
	void Close(int fd);
	void TakeAnswered();
	void Sweep();
	void Watch(int fd, unsigned events, bool add);
	std::string RefusalAnswer(int status) const;
	void WorkerLoop();

	FrontEndLimits limits_;
	Handler handler_;
	ProbeTest is_probe_;
	RefusalBody refusal_body_;
	std::string headers_;
	FrontEndStats stats_;
	ConnectionCounter counter_;

	int listen_fd_ = -1;
	int epoll_fd_ = -1;
	int wake_fd_ = -1;  // eventfd: answered connections, Stop
	std::atomic<bool> stopping_ {false};
	Clock::time_point accept_paused_until_ {};
	bool accept_paused_ = false;
	std::unordered_map<int, Connection> connections_;  // those the front end's thread holds

	std::mutex mu_;
	std::condition_variable work_cv_;
	std::deque<Connection> queued_;     // whole requests waiting for a worker
	std::vector<Connection> answered_;  // back from the workers
	bool workers_stop_ = false;
	std::vector<std::thread> workers_;
};

}  // namespace elicense::preview
