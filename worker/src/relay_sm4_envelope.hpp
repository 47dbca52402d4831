// The SM4 relay's envelope (PLATFORM.md "Provincial relay"): POST body
//   {"citynum": "<6-digit city division>", "data": Base64(SM4-ECB-PKCS#7(UTF-8 JSON, key))}
// citynum is the licence's authority_division when that is a city code
// (XXYY00 with YY ≠ 00), else the configured relay.citynum (a provincial
// authority, or a county code). The answer is the usual ReturnCode JSON,
// plain or wrapped in {"custom": {…}} (another type's relay does that).
#pragma once

#include "envelope.hpp"

namespace elicense::worker {

class RelaySm4Envelope final : public Envelope {
public:
	RelaySm4Envelope(std::string sm4_key, std::string default_citynum);
	const char *Name() const override {
		return "relay-sm4";
	}
	std::string Wrap(const std::string &payload, const std::string &authority_division) const override;
	std::string Unwrap(std::string body) const override;

	// The citynum of a licence of `authority_division`.
	static std::string CityNum(const std::string &authority_division, const std::string &fallback);

private:
	std::string key_;  // never logged
	std::string default_citynum_;
};

}  // namespace elicense::worker
