#include "direct_envelope.hpp"

namespace elicense::worker {

std::string DirectEnvelope::Wrap(const std::string &payload, const std::string &) const {
	return payload;
}

std::string DirectEnvelope::Unwrap(std::string body) const {
	return body;
}

}  // namespace elicense::worker
