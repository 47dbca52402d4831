// A TCP socket listening on 127.0.0.1 on a free port: where the unit tests'
// small HTTP servers (http_*_test.cpp) accept the client under test.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

namespace elicense::worker {

struct LoopbackListener {
	int fd = -1;
	int port = 0;
};

inline LoopbackListener ListenOnLoopback() {
	LoopbackListener l;
	l.fd = socket(AF_INET, SOCK_STREAM, 0);
	sockaddr_in addr {};
	addr.sin_family = AF_INET;
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bind(l.fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr);
	listen(l.fd, 8);
	socklen_t len = sizeof addr;
	getsockname(l.fd, reinterpret_cast<sockaddr *>(&addr), &len);
	l.port = ntohs(addr.sin_port);
	return l;
}

}  // namespace elicense::worker
