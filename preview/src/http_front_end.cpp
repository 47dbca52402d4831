#include "http_front_end.hpp"

#include "elicense/common/log.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace elicense::preview {
namespace {

constexpr std::size_t kReadChunk = 16384;
constexpr auto kSweepEvery = std::chrono::milliseconds(50);
constexpr auto kCloseGrace = std::chrono::seconds(1);  // reading what a refused client still sends
constexpr auto kAcceptPause = std::chrono::milliseconds(100);

const char *Reason(int status) {
	switch (status) {
	case 400: return "Bad Request";
	case 408: return "Request Timeout";
	case 411: return "Length Required";
	case 413: return "Payload Too Large";
	case 414: return "URI Too Long";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	default: return "Service Unavailable";
	}
}

std::string PeerAddress(const sockaddr_storage &addr, int &port) {
	char text[INET6_ADDRSTRLEN] = "";
	if (addr.ss_family == AF_INET) {
		const auto *a = reinterpret_cast<const sockaddr_in *>(&addr);
		inet_ntop(AF_INET, &a->sin_addr, text, sizeof text);
		port = ntohs(a->sin_port);
		return text;
	}
	const auto *a = reinterpret_cast<const sockaddr_in6 *>(&addr);
	port = ntohs(a->sin6_port);
	if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr)) {  // a v4 client on a dual-stack socket counts as itself
		inet_ntop(AF_INET, &a->sin6_addr.s6_addr[12], text, sizeof text);
		return text;
	}
	inet_ntop(AF_INET6, &a->sin6_addr, text, sizeof text);
	return text;
}

// The open-file limit must hold every connection plus the server's own files
// (database connections, logs, epoll, libraries).
void EnsureFileLimit(std::size_t connections) {
	rlimit limit {};
	if (getrlimit(RLIMIT_NOFILE, &limit) != 0)
		return;
	rlim_t need = static_cast<rlim_t>(connections) + 128;
	if (limit.rlim_cur >= need)
		return;
	if (limit.rlim_max != RLIM_INFINITY && limit.rlim_max < need)
		throw std::runtime_error("config key max_connections (" + std::to_string(connections) +
		                         ") needs an open-file limit of " + std::to_string(need) + "; the hard limit is " +
		                         std::to_string(limit.rlim_max));
	limit.rlim_cur = need;
	if (setrlimit(RLIMIT_NOFILE, &limit) != 0)
		throw std::runtime_error("cannot raise the open-file limit to " + std::to_string(need) + ": " +
		                         std::strerror(errno));
}

}  // namespace

HttpFrontEnd::HttpFrontEnd(FrontEndLimits limits, Handler handler, ProbeTest is_probe, RefusalBody refusal_body,
                           std::string headers)
    : limits_(limits), handler_(std::move(handler)), is_probe_(std::move(is_probe)),
      refusal_body_(std::move(refusal_body)), headers_(std::move(headers)),
      counter_(limits.max_connections, limits.max_connections_per_client) {
	epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
	wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (epoll_fd_ < 0 || wake_fd_ < 0)
		throw std::runtime_error(std::string("cannot create epoll/eventfd: ") + std::strerror(errno));
	Watch(wake_fd_, EPOLLIN, true);
}

HttpFrontEnd::~HttpFrontEnd() {
	connections_.clear();
	queued_.clear();
	answered_.clear();
	for (int fd : {listen_fd_, epoll_fd_, wake_fd_})
		if (fd >= 0)
			::close(fd);
}

int HttpFrontEnd::Bind(const std::string &host, int port) {
	EnsureFileLimit(limits_.max_connections);
	addrinfo hints {};
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	addrinfo *found = nullptr;
	std::string service = std::to_string(port);
	if (getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(), &hints, &found) != 0 || !found)
		throw std::runtime_error("cannot resolve listen address " + host);
	int fd = -1;
	for (addrinfo *a = found; a && fd < 0; a = a->ai_next) {
		fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
		if (fd < 0)
			continue;
		int yes = 1;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
		if (bind(fd, a->ai_addr, a->ai_addrlen) != 0 || listen(fd, SOMAXCONN) != 0) {
			::close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(found);
	if (fd < 0)
		throw std::runtime_error("cannot listen on " + host + ":" + std::to_string(port) + ": " + std::strerror(errno));
	sockaddr_storage bound {};
	socklen_t len = sizeof bound;
	getsockname(fd, reinterpret_cast<sockaddr *>(&bound), &len);
	int bound_port = 0;
	PeerAddress(bound, bound_port);
	listen_fd_ = fd;
	Watch(listen_fd_, EPOLLIN, true);
	return bound_port;
}

void HttpFrontEnd::Watch(int fd, unsigned events, bool add) {
	epoll_event ev {};
	ev.events = events;
	ev.data.fd = fd;
	epoll_ctl(epoll_fd_, add ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, fd, &ev);
}

void HttpFrontEnd::Stop() {
	stopping_ = true;
	std::uint64_t one = 1;
	if (write(wake_fd_, &one, sizeof one) < 0) {
		// the counter is already non-zero: the loop wakes anyway
	}
}

void HttpFrontEnd::Run() {
	for (int i = 0; i < limits_.workers; ++i)
		workers_.emplace_back([this] { WorkerLoop(); });
	auto last_sweep = Clock::now();
	epoll_event events[256];
	while (!stopping_) {
		int n = epoll_wait(epoll_fd_, events, 256, 50);
		for (int i = 0; i < n && !stopping_; ++i) {
			int fd = events[i].data.fd;
			if (fd == listen_fd_)
				AcceptAll();
			else if (fd == wake_fd_)
				TakeAnswered();
			else
				OnEvent(fd, events[i].events);
		}
		auto now = Clock::now();
		if (now - last_sweep >= kSweepEvery) {
			last_sweep = now;
			Sweep();
		}
	}
	{
		std::lock_guard<std::mutex> lock(mu_);
		workers_stop_ = true;
	}
	work_cv_.notify_all();
	for (std::thread &t : workers_)
		t.join();
	workers_.clear();
	connections_.clear();
	queued_.clear();
	answered_.clear();
}

void HttpFrontEnd::AcceptAll() {
	for (int i = 0; i < 64; ++i) {  // then let the other sockets have a turn
		sockaddr_storage addr {};
		socklen_t len = sizeof addr;
		int fd = accept4(listen_fd_, reinterpret_cast<sockaddr *>(&addr), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
				// Out of descriptors: stop watching the listening socket for a
				// moment rather than spin on it.
				common::LogEvent("error", "accept", {{"error", std::strerror(errno)}});
				epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, listen_fd_, nullptr);
				accept_paused_ = true;
				accept_paused_until_ = Clock::now() + kAcceptPause;
			}
			return;
		}
		auto conn = std::make_unique<ClientConnection>(fd);
		conn->client = PeerAddress(addr, conn->port);
		ConnectionCounter::Admission admission = counter_.Admit(conn->client);
		if (admission != ConnectionCounter::Admission::kAdmitted) {
			// Not counted, so not kept: answer what fits in the socket
			// buffer now, read what already arrived (so the close is a FIN,
			// not a reset that could discard the answer), close.
			bool client_full = admission == ConnectionCounter::Admission::kClientFull;
			(client_full ? stats_.refused_client_full : stats_.refused_server_full)++;
			std::string answer = RefusalAnswer(client_full ? 429 : 503);
			ssize_t sent = send(fd, answer.data(), answer.size(), MSG_NOSIGNAL);
			(void)sent;
			shutdown(fd, SHUT_WR);
			char sink[4096];
			while (recv(fd, sink, sizeof sink, 0) > 0) {
			}
			continue;  // closed by ~ClientConnection
		}
		int yes = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof yes);  // answers are written in one go
		++stats_.accepted;
		++stats_.connections;
		conn->deadline = Clock::now() + std::chrono::milliseconds(limits_.request_timeout_ms);
		Watch(fd, EPOLLIN | EPOLLRDHUP, true);
		connections_.emplace(fd, std::move(conn));
	}
}

void HttpFrontEnd::OnEvent(int fd, unsigned events) {
	auto it = connections_.find(fd);
	if (it == connections_.end())
		return;
	ClientConnection &conn = *it->second;
	if (conn.phase == ClientConnection::Phase::kWriting) {
		if (events & (EPOLLERR | EPOLLHUP))
			Close(fd);
		else
			WriteSome(conn);
		return;
	}
	ReadSome(conn);
}

void HttpFrontEnd::ReadSome(ClientConnection &conn) {
	char buf[kReadChunk];
	ssize_t n = recv(conn.fd, buf, sizeof buf, 0);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n <= 0) {  // the client closed (or the connection broke)
		Close(conn.fd);
		return;
	}
	if (conn.phase == ClientConnection::Phase::kClosing)
		return;  // read only to be discarded
	// The first byte of a request on a kept connection starts its deadline.
	if (conn.in.empty() && conn.answered > 0)
		conn.deadline = Clock::now() + std::chrono::milliseconds(limits_.request_timeout_ms);
	conn.in.append(buf, static_cast<std::size_t>(n));
	Examine(conn);
}

void HttpFrontEnd::Examine(ClientConnection &conn) {
	HeadScan scan = ScanRequestHead(conn.in, limits_.head);
	if (scan.state == HeadScan::State::kRefused) {
		Refuse(conn, scan.refusal, scan.reason);
		return;
	}
	if (scan.state == HeadScan::State::kIncomplete || conn.in.size() < scan.head_bytes + scan.body_bytes)
		return;
	conn.request_bytes = scan.head_bytes + scan.body_bytes;
	bool last = conn.answered + 1 >= limits_.keep_alive_max_count;
	if (is_probe_ && is_probe_(scan.method, scan.target)) {
		try {
			conn.close_after = !handler_(conn, last);
		} catch (const std::exception &e) {  // never let a probe stop the front end's thread
			common::LogEvent("error", "handler", {{"error", e.what()}});
			conn.out = RefusalAnswer(500);
			conn.close_after = true;
		}
		StartWriting(conn);
		return;
	}
	std::unique_lock<std::mutex> lock(mu_);
	if (queued_.size() >= limits_.max_queued_requests) {
		lock.unlock();
		++stats_.refused_busy;
		Refuse(conn, 503, "every worker busy");
		return;
	}
	int fd = conn.fd;
	epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
	auto it = connections_.find(fd);
	it->second->phase = ClientConnection::Phase::kHandling;
	queued_.push_back(std::move(it->second));
	connections_.erase(it);
	lock.unlock();
	work_cv_.notify_one();
}

void HttpFrontEnd::Refuse(ClientConnection &conn, int status, const char *reason) {
	switch (status) {
	case 408: ++stats_.timed_out; break;
	case 414:
	case 431: ++stats_.refused_head; break;
	case 411:
	case 413: ++stats_.refused_body; break;
	case 400: ++stats_.refused_bad; break;
	default: break;
	}
	common::LogEvent("info", "refused",
	                 {{"client", conn.client}, {"code", status}, {"reason", reason}, {"bytes", conn.in.size()}});
	conn.in.clear();
	conn.out = RefusalAnswer(status);
	conn.close_after = true;
	conn.refused = true;
	StartWriting(conn);
}

void HttpFrontEnd::StartWriting(ClientConnection &conn) {
	conn.phase = ClientConnection::Phase::kWriting;
	conn.out_sent = 0;
	conn.deadline = Clock::now() + std::chrono::milliseconds(limits_.write_timeout_ms);
	int fd = conn.fd;
	WriteSome(conn);  // may close the connection: `conn` is then gone
	auto it = connections_.find(fd);
	if (it != connections_.end() && it->second->phase == ClientConnection::Phase::kWriting)
		Watch(fd, EPOLLOUT, false);
}

void HttpFrontEnd::WriteSome(ClientConnection &conn) {
	while (conn.out_sent < conn.out.size()) {
		ssize_t n = send(conn.fd, conn.out.data() + conn.out_sent, conn.out.size() - conn.out_sent, MSG_NOSIGNAL);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;  // EPOLLOUT brings us back
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			Close(conn.fd);
			return;
		}
		conn.out_sent += static_cast<std::size_t>(n);
	}
	AfterAnswer(conn);
}

void HttpFrontEnd::AfterAnswer(ClientConnection &conn) {
	conn.out.clear();
	conn.out.shrink_to_fit();  // a page is ~250 KB: not kept per idle connection
	conn.out_sent = 0;
	if (conn.refused) {
		StartClosing(conn);
		return;
	}
	if (conn.close_after || stopping_) {
		// An answered request was read whole, so nothing is left unread and
		// closing now sends a FIN. Closing at once also frees the client's
		// slot before it reconnects (a keep-alive client at its cap would
		// otherwise race its own old connection).
		Close(conn.fd);
		return;
	}
	++conn.answered;
	conn.in.erase(0, conn.request_bytes);
	conn.request_bytes = 0;
	conn.phase = ClientConnection::Phase::kReading;
	conn.deadline = Clock::now() + std::chrono::milliseconds(conn.in.empty() ? limits_.keep_alive_timeout_ms
	                                                                         : limits_.request_timeout_ms);
	Watch(conn.fd, EPOLLIN | EPOLLRDHUP, false);
	if (!conn.in.empty())
		Examine(conn);  // the next request was pipelined behind this one
}

void HttpFrontEnd::StartClosing(ClientConnection &conn) {
	conn.phase = ClientConnection::Phase::kClosing;
	conn.in.clear();
	conn.in.shrink_to_fit();
	conn.deadline = Clock::now() + kCloseGrace;
	shutdown(conn.fd, SHUT_WR);
	Watch(conn.fd, EPOLLIN | EPOLLRDHUP, false);
}

void HttpFrontEnd::Close(int fd) {
	auto it = connections_.find(fd);
	if (it == connections_.end())
		return;
	epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
	counter_.Release(it->second->client);
	--stats_.connections;
	connections_.erase(it);  // closes the socket
}

void HttpFrontEnd::TakeAnswered() {
	std::uint64_t count = 0;
	if (read(wake_fd_, &count, sizeof count) < 0) {
		// nothing to read: another wake-up took it
	}
	std::vector<Connection> answered;
	{
		std::lock_guard<std::mutex> lock(mu_);
		answered.swap(answered_);
	}
	for (Connection &conn : answered) {
		int fd = conn->fd;
		ClientConnection &c = *conn;
		connections_.emplace(fd, std::move(conn));
		Watch(fd, EPOLLIN | EPOLLRDHUP, true);
		StartWriting(c);
	}
}

void HttpFrontEnd::Sweep() {
	auto now = Clock::now();
	if (accept_paused_ && now >= accept_paused_until_) {
		accept_paused_ = false;
		Watch(listen_fd_, EPOLLIN, true);
	}
	std::vector<int> expired;
	for (auto &[fd, conn] : connections_)
		if (now >= conn->deadline)
			expired.push_back(fd);
	for (int fd : expired) {
		ClientConnection &conn = *connections_.at(fd);
		switch (conn.phase) {
		case ClientConnection::Phase::kReading:
			if (conn.in.empty()) {
				// Connected and sent nothing, or idle between requests: nothing to answer.
				if (conn.answered == 0)
					++stats_.timed_out;
				Close(fd);
			} else {
				Refuse(conn, 408, "request not complete within request_timeout_ms");
			}
			break;
		case ClientConnection::Phase::kWriting:
			++stats_.write_timed_out;
			common::LogEvent("info", "write_timeout",
			                 {{"client", conn.client}, {"unsent", conn.out.size() - conn.out_sent}});
			Close(fd);
			break;
		default: Close(fd); break;
		}
	}
}

std::string HttpFrontEnd::RefusalAnswer(int status) const {
	std::string body = refusal_body_ ? refusal_body_(status) : std::string(Reason(status)) + "\n";
	std::string answer = "HTTP/1.1 " + std::to_string(status) + " " + Reason(status) + "\r\n";
	answer += "Content-Type: text/html; charset=utf-8\r\nContent-Length: " + std::to_string(body.size()) +
	          "\r\nConnection: close\r\n";
	if (status == 429 || status == 503)
		answer += "Retry-After: " + std::to_string(limits_.retry_after_s) + "\r\n";
	answer += headers_;
	answer += "\r\n";
	answer += body;
	return answer;
}

void HttpFrontEnd::WorkerLoop() {
	for (;;) {
		Connection conn;
		{
			std::unique_lock<std::mutex> lock(mu_);
			work_cv_.wait(lock, [&] { return workers_stop_ || !queued_.empty(); });
			if (workers_stop_)
				return;
			conn = std::move(queued_.front());
			queued_.pop_front();
		}
		bool last = conn->answered + 1 >= limits_.keep_alive_max_count || stopping_;
		try {
			conn->close_after = !handler_(*conn, last);
		} catch (const std::exception &e) {
			common::LogEvent("error", "handler", {{"error", e.what()}});
			conn->out = RefusalAnswer(500);
			conn->close_after = true;
		}
		{
			std::lock_guard<std::mutex> lock(mu_);
			answered_.push_back(std::move(conn));
		}
		std::uint64_t one = 1;
		if (write(wake_fd_, &one, sizeof one) < 0) {
			// the counter is already non-zero: the front end wakes anyway
		}
	}
}

}  // namespace elicense::preview
