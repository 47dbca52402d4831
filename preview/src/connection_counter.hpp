// How many connections the server holds, in all and per client address: the
// front end admits a new connection only under both caps, so one address
// (or a few) cannot take every connection slot. Used by one thread only.
#pragma once

#include <cstddef>
#include <string>
#include <unordered_map>

namespace elicense::preview {

class ConnectionCounter {
public:
	ConnectionCounter(std::size_t max_total, std::size_t max_per_client)
	    : max_total_(max_total), max_per_client_(max_per_client) {
	}

	enum class Admission { kAdmitted, kServerFull, kClientFull };
	// Admitted: counted (give it back with Release).
	Admission Admit(const std::string &client);
	void Release(const std::string &client);

	std::size_t total() const noexcept {
		return total_;
	}
	std::size_t of(const std::string &client) const;
	std::size_t clients() const noexcept {
		return per_client_.size();
	}

private:
	std::size_t max_total_;
	std::size_t max_per_client_;
	std::size_t total_ = 0;
	std::unordered_map<std::string, std::size_t> per_client_;  // only addresses with a connection
};

}  // namespace elicense::preview
