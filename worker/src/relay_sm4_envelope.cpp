#include "relay_sm4_envelope.hpp"

#include "elicense/error.hpp"
#include "elicense/platform_answer.hpp"
#include "elicense/sm4.hpp"

#include <nlohmann/json.hpp>
#include <openssl/evp.h>

#include <stdexcept>

namespace elicense::worker {
namespace {

std::string Base64(const std::string &bytes) {
	std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
	int n = EVP_EncodeBlock(reinterpret_cast<unsigned char *>(out.data()),
	                        reinterpret_cast<const unsigned char *>(bytes.data()), static_cast<int>(bytes.size()));
	out.resize(static_cast<std::size_t>(n));
	return out;
}

bool SixDigits(const std::string &s) {
	return s.size() == 6 && s.find_first_not_of("0123456789") == std::string::npos;
}

}  // namespace

RelaySm4Envelope::RelaySm4Envelope(std::string sm4_key, std::string default_citynum)
    : key_(std::move(sm4_key)), default_citynum_(std::move(default_citynum)) {
}

std::string RelaySm4Envelope::CityNum(const std::string &authority_division, const std::string &fallback) {
	bool city = SixDigits(authority_division) && authority_division.compare(2, 2, "00") != 0 &&
	            authority_division.compare(4, 2, "00") == 0;
	return city ? authority_division : fallback;
}

std::string RelaySm4Envelope::Wrap(const std::string &payload, const std::string &authority_division) const {
	std::string citynum = CityNum(authority_division, default_citynum_);
	if (!SixDigits(citynum))
		throw std::runtime_error("relay citynum \"" + citynum + "\" is not a 6-digit division code");
	try {
		nlohmann::json body = {{"citynum", citynum}, {"data", Base64(core::Sm4EcbEncrypt(payload, key_))}};
		return body.dump();
	} catch (const core::Error &e) {
		throw std::runtime_error(std::string("cannot encrypt for the relay: ") + e.what());
	}
}

std::string RelaySm4Envelope::Unwrap(std::string body) const {
	if (core::JsonNestingDepth(body, core::kMaxAnswerDepth) > core::kMaxAnswerDepth)
		return body;  // the answer parser refuses it
	auto doc = nlohmann::json::parse(body, nullptr, false);
	if (doc.is_object() && !doc.contains("ReturnCode")) {
		auto custom = doc.find("custom");
		if (custom != doc.end() && custom->is_object())
			return custom->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
	}
	return body;
}

}  // namespace elicense::worker
