// How a request travels to the platform and how its answer comes back: the
// one thing that differs between the national gateway and a provincial
// relay (PLATFORM.md "Provincial relay"). One implementation per file:
//   direct_envelope.cpp     the body is the JSON itself; the answer is plain
//   relay_sm4_envelope.cpp  {"citynum", "data": Base64(SM4-ECB-PKCS#7(JSON))};
//                           the answer is plain or wrapped in {"custom":{…}}
// A third province's envelope is a new file and a line in MakeEnvelope.
#pragma once

#include "config.hpp"

#include <memory>
#include <string>
#include <string_view>

namespace elicense::worker {

class Envelope {
public:
	virtual ~Envelope() = default;
	virtual const char *Name() const = 0;
	// The HTTP body carrying `payload` (the UTF-8 JSON {"AcceptData":[…]})
	// for a licence of `authority_division`. Throws std::runtime_error with
	// the reason when it cannot be built (the step is then held).
	virtual std::string Wrap(const std::string &payload, const std::string &authority_division) const = 0;
	// The business answer inside an HTTP answer body. Never throws: a body it
	// does not recognise is returned unchanged, for the answer parser to judge.
	virtual std::string Unwrap(std::string body) const = 0;
};

// The envelope of config.profile.
std::unique_ptr<Envelope> MakeEnvelope(const Config &config);

}  // namespace elicense::worker
