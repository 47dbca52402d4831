#include "httplib_exchange.hpp"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>

namespace elicense::preview {

ssize_t ExchangeStream::read(char *ptr, size_t size) {
	std::size_t n = std::min(size, conn_.request_bytes - read_);
	std::memcpy(ptr, conn_.in.data() + read_, n);
	read_ += n;
	return static_cast<ssize_t>(n);
}

ssize_t ExchangeStream::write(const char *ptr, size_t size) {
	conn_.out.append(ptr, size);
	return static_cast<ssize_t>(size);
}

void ExchangeStream::get_remote_ip_and_port(std::string &ip, int &port) const {
	ip = conn_.client;
	port = conn_.port;
}

void ExchangeStream::get_local_ip_and_port(std::string &ip, int &port) const {
	sockaddr_storage addr {};
	socklen_t len = sizeof addr;
	ip.clear();
	port = 0;
	if (getsockname(conn_.fd, reinterpret_cast<sockaddr *>(&addr), &len) != 0)
		return;
	char text[INET6_ADDRSTRLEN] = "";
	if (addr.ss_family == AF_INET) {
		const auto *a = reinterpret_cast<const sockaddr_in *>(&addr);
		inet_ntop(AF_INET, &a->sin_addr, text, sizeof text);
		port = ntohs(a->sin_port);
	} else {
		const auto *a = reinterpret_cast<const sockaddr_in6 *>(&addr);
		inet_ntop(AF_INET6, &a->sin6_addr, text, sizeof text);
		port = ntohs(a->sin6_port);
	}
	ip = text;
}

ExchangeServer::ExchangeServer() {
	// httplib stops writing a content provider's body once svr_sock_ is
	// INVALID_SOCKET ("shutting down"); this server never listens itself, so
	// mark it running. The value is never used as a socket.
	svr_sock_ = 0;
}

bool ExchangeServer::Answer(ClientConnection &conn, bool last) {
	ExchangeStream stream(conn);
	bool closed = false;
	bool ok = process_request(stream, last, closed, nullptr);
	return ok && !closed && !last;
}

}  // namespace elicense::preview
