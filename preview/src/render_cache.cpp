#include "render_cache.hpp"

namespace elicense::preview {

RenderCache::Page RenderCache::Get(const std::string &key) {
	std::lock_guard<std::mutex> lock(mu_);
	auto it = index_.find(key);
	if (it == index_.end())
		return nullptr;
	order_.splice(order_.begin(), order_, it->second);
	return it->second->second;
}

void RenderCache::Put(const std::string &key, Page page) {
	if (!page || page->size() > max_bytes_)
		return;
	std::lock_guard<std::mutex> lock(mu_);
	auto it = index_.find(key);
	if (it != index_.end()) {
		bytes_ -= it->second->second->size();
		order_.erase(it->second);
		index_.erase(it);
	}
	order_.emplace_front(key, std::move(page));
	index_[key] = order_.begin();
	bytes_ += order_.front().second->size();
	EvictLocked();
}

void RenderCache::EvictLocked() {
	while (bytes_ > max_bytes_ && !order_.empty()) {
		bytes_ -= order_.back().second->size();
		index_.erase(order_.back().first);
		order_.pop_back();
	}
}

std::size_t RenderCache::bytes() const {
	std::lock_guard<std::mutex> lock(mu_);
	return bytes_;
}

std::size_t RenderCache::entries() const {
	std::lock_guard<std::mutex> lock(mu_);
	return index_.size();
}

}  // namespace elicense::preview
