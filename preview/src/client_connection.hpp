// One client's TCP connection as the front end (http_front_end.hpp) holds
// it: what the client sent and what is to be written back. A worker thread
// answering a request sees the request whole in `in` and appends the whole
// answer to `out`; only the front end's thread touches the socket.
#pragma once

#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <string>

namespace elicense::preview {

struct ClientConnection {
	using Clock = std::chrono::steady_clock;
	enum class Phase { kReading, kHandling, kWriting, kClosing };

	explicit ClientConnection(int socket) : fd(socket) {
	}
	~ClientConnection() {
		if (fd >= 0)
			::close(fd);
	}
	ClientConnection(const ClientConnection &) = delete;
	ClientConnection &operator=(const ClientConnection &) = delete;

	int fd;
	std::string client;  // peer address (text), the key of the per-client limit
	int port = 0;        // peer port
	std::string in;      // bytes read, not yet answered; the request is in[0, request_bytes)
	std::size_t request_bytes = 0;
	std::string out;  // answer being written
	std::size_t out_sent = 0;
	std::size_t answered = 0;  // requests answered on this connection
	bool close_after = false;  // close once `out` is written
	bool refused = false;      // `out` is the front end's refusal: close gracefully (read what still comes)
	Phase phase = Phase::kReading;
	Clock::time_point deadline;  // of the current phase
};

}  // namespace elicense::preview
