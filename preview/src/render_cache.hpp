// Rendered pages by content hash (the database's hash of what the page shows:
// face values, template, QR URL, seal picture), least recently used first
// out, bounded by bytes. Keys are not file digests: a sealed file differs on
// every render (SM2 signatures are randomised) while its page does not.
#pragma once

#include <cstddef>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace elicense::preview {

class RenderCache {
public:
	using Page = std::shared_ptr<const std::vector<std::uint8_t>>;

	explicit RenderCache(std::size_t max_bytes) : max_bytes_(max_bytes) {
	}

	// nullptr if absent.
	Page Get(const std::string &key);
	// Keeps `page` unless it alone is larger than the whole cache.
	void Put(const std::string &key, Page page);

	std::size_t bytes() const;
	std::size_t entries() const;

private:
	using Entry = std::pair<std::string, Page>;
	void EvictLocked();

	const std::size_t max_bytes_;
	mutable std::mutex mu_;
	std::list<Entry> order_;  // front: most recently used
	std::unordered_map<std::string, std::list<Entry>::iterator> index_;
	std::size_t bytes_ = 0;
};

}  // namespace elicense::preview
