#include "preview_pages.hpp"

#include <map>

namespace elicense::preview {
namespace {

constexpr char kHead[] =
    "<!DOCTYPE html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">"
    "<meta name=\"viewport\" content=\"width=device-width\"><meta name=\"robots\" content=\"noindex\">"
    "<style>body{margin:0;background:#eee;font-family:sans-serif}"
    "main{max-width:1240px;margin:0 auto;background:#fff}"
    "img{display:block;width:100%;height:auto}"
    "p{padding:2em;font-size:1.4em;text-align:center}</style>";

std::string Escape(const std::string &text) {
	std::string out;
	for (char c : text) {
		switch (c) {
		case '<': out += "&lt;"; break;
		case '>': out += "&gt;"; break;
		case '&': out += "&amp;"; break;
		case '"': out += "&quot;"; break;
		case '\'': out += "&#39;"; break;
		default: out.push_back(c);
		}
	}
	return out;
}

std::string Base64(const std::vector<std::uint8_t> &data) {
	static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	std::string out;
	out.reserve((data.size() + 2) / 3 * 4);
	std::size_t i = 0;
	for (; i + 3 <= data.size(); i += 3) {
		std::uint32_t v = std::uint32_t {data[i]} << 16 | std::uint32_t {data[i + 1]} << 8 | data[i + 2];
		for (int shift : {18, 12, 6, 0})
			out.push_back(kAlphabet[(v >> shift) & 63]);
	}
	if (std::size_t rest = data.size() - i) {
		std::uint32_t v = std::uint32_t {data[i]} << 16 | (rest == 2 ? std::uint32_t {data[i + 1]} << 8 : 0);
		out.push_back(kAlphabet[(v >> 18) & 63]);
		out.push_back(kAlphabet[(v >> 12) & 63]);
		out.push_back(rest == 2 ? kAlphabet[(v >> 6) & 63] : '=');
		out.push_back('=');
	}
	return out;
}

}  // namespace

std::string StatusLabel(const std::string &status) {
	static const std::map<std::string, std::string> kLabels = {
	    {"valid", "有效 (valid)"},
	    {"superseded", "已被新版本替代 (superseded by a newer version)"},
	    {"revoked", "已吊销 (revoked)"},
	    {"withdrawn", "已撤销 (withdrawn)"},
	    {"cancelled", "已注销 (cancelled)"},
	    {"expired", "已过期 (expired)"},
	    {"suspended", "已暂扣 (suspended)"},
	    {"other", "非有效状态 (not valid)"},
	    {"not_ready", "尚未制证完成 (not issued yet)"},
	    {"token_expired", "预览链接已过期 (this preview link has expired)"},
	};
	auto it = kLabels.find(status);
	return it == kLabels.end() ? "非有效状态 (not valid)" : it->second;
}

std::string LicencePage(const std::vector<std::uint8_t> &png) {
	return std::string(kHead) + "<title>电子证照预览</title></head><body><main>" +
	       "<img alt=\"电子证照 (licence)\" src=\"data:image/png;base64," + Base64(png) + "\">" +
	       "</main></body></html>\n";
}

std::string StatusPage(const std::string &status, const std::string &identifier, int version) {
	return std::string(kHead) + "<title>电子证照状态</title></head><body><main><p id=\"status\" data-status=\"" +
	       Escape(status) + "\">该电子证照" + StatusLabel(status) + "，不是有效证照。<br>This licence is " +
	       Escape(status) + ", not a valid licence.</p><p>" + Escape(identifier) + " · 版本 " +
	       std::to_string(version) + "</p></main></body></html>\n";
}

std::string ErrorPage(int code) {
	std::string text;
	switch (code) {
	case 404: text = "未找到 (not found)"; break;
	case 410: text = StatusLabel("token_expired"); break;
	case 503: text = "服务繁忙，请稍后再试 (busy, try again shortly)"; break;
	default: text = "出错了 (error " + std::to_string(code) + ")";
	}
	return std::string(kHead) + "<title>" + std::to_string(code) + "</title></head><body><main><p>" + text +
	       "</p></main></body></html>\n";
}

}  // namespace elicense::preview
