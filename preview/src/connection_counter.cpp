#include "connection_counter.hpp"

namespace elicense::preview {

ConnectionCounter::Admission ConnectionCounter::Admit(const std::string &client) {
	if (total_ >= max_total_)
		return Admission::kServerFull;
	std::size_t &mine = per_client_[client];
	if (mine >= max_per_client_) {
		if (mine == 0)
			per_client_.erase(client);
		return Admission::kClientFull;
	}
	++mine;
	++total_;
	return Admission::kAdmitted;
}

void ConnectionCounter::Release(const std::string &client) {
	auto it = per_client_.find(client);
	if (it == per_client_.end())
		return;
	--total_;
	if (--it->second == 0)
		per_client_.erase(it);
}

std::size_t ConnectionCounter::of(const std::string &client) const {
	auto it = per_client_.find(client);
	return it == per_client_.end() ? 0 : it->second;
}

}  // namespace elicense::preview
