// The QR code URL: validation of its parts, encryption of the assigned code
// and assembly (see qr_url.hpp).
#include "elicense/qr_url.hpp"

#include "elicense/error.hpp"
#include "elicense/validators.hpp"
#include "text_describe.hpp"

namespace elicense::core {
namespace {

bool IsAsciiAlnum(char c) noexcept {
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

// The USCC alphabet (GB 32100: digits and capitals without I, O, S, V, Z),
// as licence_type_code_format in extension/sql/parts/40_catalogue.sql.
bool IsUsccChar(char c) noexcept {
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z' && c != 'I' && c != 'O' && c != 'S' && c != 'V' && c != 'Z');
}

bool StartsWith(std::string_view s, std::string_view prefix) noexcept {
	return s.substr(0, prefix.size()) == prefix;
}

}  // namespace

std::optional<std::string> LicenceTypeProblem(std::string_view certype) {
	constexpr std::size_t kUsccLength = 18, kCodeLength = 21;
	if (certype.empty())
		return "the value is empty";
	if (certype.size() != kCodeLength)
		return "the value has " + std::to_string(CharCount(certype)) + " characters, a licence type code has " +
		       std::to_string(kCodeLength);
	for (std::size_t i = 0; i < kCodeLength; ++i) {
		bool fits = i < kUsccLength ? IsUsccChar(certype[i]) : (certype[i] >= '0' && certype[i] <= '9');
		if (!fits)
			return DescribeCharAt(certype, i) +
			       (i < kUsccLength ? " is not a USCC character (digits and capitals but I, O, S, V, Z)"
			                        : " is not a digit");
	}
	return std::nullopt;
}

bool IsLicenceTypeCode(std::string_view certype) noexcept {
	try {
		return !LicenceTypeProblem(certype);
	} catch (...) {  // allocation only
		return false;
	}
}

void RequireLicenceType(std::string_view certype, std::string_view field) {
	if (auto p = LicenceTypeProblem(certype))
		ThrowInvalid("licence type code", field, certype, *p,
		             "certype is the 21-character type code of seed 000 §6.8 (a row of elicense.licence_type), e.g. "
		             "11100000000013338W050.");
}

std::optional<std::string> AssignedCodeProblem(std::string_view code) {
	if (code.empty())
		return "the value is empty";
	if (code.size() > kMaxAssignedCodeLength)
		return "the value has " + std::to_string(CharCount(code)) + " characters, at most " +
		       std::to_string(kMaxAssignedCodeLength) + " are allowed";
	for (std::size_t i = 0; i < code.size(); ++i)
		if (!IsAsciiAlnum(code[i]))
			return DescribeCharAt(code, i) + " is not an ASCII letter or digit";
	return std::nullopt;
}

void RequireAssignedCode(std::string_view code, std::string_view field) {
	if (auto p = AssignedCodeProblem(code))
		ThrowInvalid("assigned code", field, code, *p,
		             "The assigned code (赋码) is what the platform returned, e.g. 202232000001000001.");
}

void RequireQrBaseUrl(std::string_view base_url) {
	std::string problem;
	std::string_view rest;
	if (StartsWith(base_url, "https://"))
		rest = base_url.substr(8);
	else if (StartsWith(base_url, "http://"))
		rest = base_url.substr(7);
	else
		problem = "It does not start with https:// or http://";
	if (problem.empty() && (rest.empty() || rest[0] == '/'))
		problem = "It has no host";
	for (std::size_t i = 0; problem.empty() && i < base_url.size(); ++i) {
		unsigned char c = static_cast<unsigned char>(base_url[i]);
		if (c <= ' ' || c == 0x7F || c >= 0x80)
			problem = "Its " + DescribeCharAt(base_url, i) + " is a space, control or non-ASCII character";
		else if (c == '?' || c == '#' || c == '&')
			problem = "Its " + DescribeCharAt(base_url, i) + " would start a query or fragment; the base URL has none";
	}
	if (!problem.empty())
		throw Error(sqlstate::kInvalidParameterValue, "invalid QR base URL " + QuoteValue(base_url, 120), problem + ".",
		            "Use the platform's page, e.g. " + std::string(kDefaultQrBaseUrl) + ".");
}

std::string PercentEncode(std::string_view value) {
	static constexpr char kDigits[] = "0123456789ABCDEF";
	std::string out;
	out.reserve(value.size() * 3);
	for (unsigned char c : value) {
		if (IsAsciiAlnum(static_cast<char>(c)) || c == '-' || c == '.' || c == '_' || c == '~') {
			out.push_back(static_cast<char>(c));
		} else {
			out.push_back('%');
			out.push_back(kDigits[c >> 4]);
			out.push_back(kDigits[c & 0x0F]);
		}
	}
	return out;
}

std::string FormatQrUrl(std::string_view id, std::string_view k, std::string_view certype, std::string_view province,
                        const QrUrlOptions &options) {
	RequireQrBaseUrl(options.base_url);
	RequireLicenceType(certype, "certype");
	RequireProvinceCode(province, "province");
	auto value = [&](std::string_view v) { return options.percent_encode ? PercentEncode(v) : std::string(v); };
	return options.base_url + "?ID=" + value(id) + "&k=" + value(k) + "&certype=" + value(certype) +
	       "&province=" + value(province);
}

std::string BuildQrUrl(std::string_view code, std::string_view certype, std::string_view province,
                       std::string_view platform_public_pem, const QrUrlOptions &options) {
	// Validate everything cheap before spending a key on it.
	RequireAssignedCode(code, "code");
	RequireQrBaseUrl(options.base_url);
	RequireLicenceType(certype, "certype");
	RequireProvinceCode(province, "province");
	std::string key8 = RandomDesKey();
	std::string id = DesEncryptHex(code, key8);
	std::string k = RsaEncrypt(platform_public_pem, key8, options.k_format);
	return FormatQrUrl(id, k, certype, province, options);
}

std::optional<std::string> QueryParameter(std::string_view url, std::string_view name) {
	std::size_t q = url.find('?');
	if (q == std::string_view::npos)
		return std::nullopt;
	std::string_view query = url.substr(q + 1);
	query = query.substr(0, query.find('#'));
	while (!query.empty()) {
		std::size_t amp = query.find('&');
		std::string_view pair = query.substr(0, amp);
		std::size_t eq = pair.find('=');
		if (pair.substr(0, eq) == name)
			return std::string(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1));
		if (amp == std::string_view::npos)
			break;
		query.remove_prefix(amp + 1);
	}
	return std::nullopt;
}

}  // namespace elicense::core
