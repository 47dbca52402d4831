#include "envelope.hpp"

#include "direct_envelope.hpp"
#include "relay_sm4_envelope.hpp"

#include <stdexcept>

namespace elicense::worker {

std::unique_ptr<Envelope> MakeEnvelope(const Config &config) {
	if (config.profile == kProfileDirect)
		return std::make_unique<DirectEnvelope>();
	if (config.profile == kProfileRelaySm4)
		return std::make_unique<RelaySm4Envelope>(config.sm4_key, config.relay_citynum);
	throw std::runtime_error("no envelope for profile " + config.profile);
}

}  // namespace elicense::worker
