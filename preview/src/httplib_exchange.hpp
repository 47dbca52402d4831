// cpp-httplib's request handling (routing, handlers, answer writing) run on
// a request the front end (http_front_end.hpp) has already read whole: a
// Stream that reads the buffered request and appends the answer to a
// buffer, and a Server that exposes httplib's protected process_request
// (0.11.4: `process_request(Stream &, bool close_connection, bool
// &connection_closed, setup)`). httplib never touches the socket, so none
// of its per-read timeouts or its thread-per-connection pool is used.
#pragma once

#include "client_connection.hpp"

#include <httplib.h>

namespace elicense::preview {

class ExchangeStream : public httplib::Stream {
public:
	explicit ExchangeStream(ClientConnection &conn) : conn_(conn) {
	}
	bool is_readable() const override {
		return read_ < conn_.request_bytes;
	}
	bool is_writable() const override {
		return true;
	}
	// Never past the request: bytes pipelined behind it stay for the next one.
	ssize_t read(char *ptr, size_t size) override;
	ssize_t write(const char *ptr, size_t size) override;
	void get_remote_ip_and_port(std::string &ip, int &port) const override;
	void get_local_ip_and_port(std::string &ip, int &port) const override;
	socket_t socket() const override {
		return conn_.fd;
	}

private:
	ClientConnection &conn_;
	std::size_t read_ = 0;
};

class ExchangeServer : public httplib::Server {
public:
	ExchangeServer();
	// Answers the request in conn.in into conn.out; false: close the
	// connection after writing (the client asked, HTTP/1.0, an error, or `last`).
	bool Answer(ClientConnection &conn, bool last);
};

}  // namespace elicense::preview
