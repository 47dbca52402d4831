// The QR code URL of a licence (seed 000 §6.8, PLATFORM.md "Crypto"):
//
//   <base>?ID=<UPPERHEX(DES(code, key8))>&k=<RSA(platform key, key8)>&certype=<type>&province=<code>
//
// key8 is fresh for every URL, so two URLs for the same code differ. The
// platform scans the code, decrypts k with its private key and ID with key8.
#pragma once

#include "elicense/cpp_only.hpp"
#include "elicense/legacy_crypto.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace elicense::core {

inline constexpr std::string_view kDefaultQrBaseUrl = "https://zlaq.mohurd.gov.cn/fwmh/middlepage.html";
inline constexpr std::size_t kMaxAssignedCodeLength = 64;

struct QrUrlOptions {
	std::string base_url = std::string(kDefaultQrBaseUrl);
	CipherTextFormat k_format = CipherTextFormat::kBase64;
	// The platform's own URLs carry k raw ('+', '/' and '=' unescaped) and
	// PLATFORM.md asks to match them byte for byte, so false is the default.
	// true percent-encodes every query value (RFC 3986: everything but
	// A-Z a-z 0-9 - . _ ~), as the first reading of the platform's spec did.
	bool percent_encode = false;
};

// nullopt if certype is written as a licence type code (证照类型代码: the
// defining authority's 18-character USCC and 3 digits, e.g.
// 11100000000013338W050), else why not. Which types exist is data
// (elicense.licence_type): the SQL glue checks that, so a type a DBA adds
// gets its QR code like the shipped ones.
std::optional<std::string> LicenceTypeProblem(std::string_view certype);
bool IsLicenceTypeCode(std::string_view certype) noexcept;
void RequireLicenceType(std::string_view certype, std::string_view field);

// nullopt if the assigned code (赋码, e.g. 202232000001000001) is 1-64 ASCII
// letters and digits, else why not.
std::optional<std::string> AssignedCodeProblem(std::string_view code);
void RequireAssignedCode(std::string_view code, std::string_view field);

// \throws Error 22023 unless the base URL is http(s)://host/path without a
// query, fragment, spaces or control characters.
void RequireQrBaseUrl(std::string_view base_url);

// Percent-encoding of a query value (RFC 3986 unreserved kept).
std::string PercentEncode(std::string_view value);

// The URL from its parts (no crypto); validates certype, province and base.
std::string FormatQrUrl(std::string_view id, std::string_view k, std::string_view certype, std::string_view province,
                        const QrUrlOptions &options);

// The whole thing: a fresh key8, ID, k (with the platform's public key in
// PEM) and the URL.
std::string BuildQrUrl(std::string_view code, std::string_view certype, std::string_view province,
                       std::string_view platform_public_pem, const QrUrlOptions &options);

// Value of query parameter `name` of a URL as written (not decoded), or
// nullopt if absent.
std::optional<std::string> QueryParameter(std::string_view url, std::string_view name);

}  // namespace elicense::core
