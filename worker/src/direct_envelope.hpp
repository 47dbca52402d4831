// The national gateway's envelope: the body is the request JSON as it is.
#pragma once

#include "envelope.hpp"

namespace elicense::worker {

class DirectEnvelope final : public Envelope {
public:
	const char *Name() const override {
		return "direct";
	}
	std::string Wrap(const std::string &payload, const std::string &authority_division) const override;
	std::string Unwrap(std::string body) const override;
};

}  // namespace elicense::worker
