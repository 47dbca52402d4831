#include "platform_mapping.hpp"

#include <cctype>

namespace elicense::worker {
namespace {

using nlohmann::json;

std::string Text(const json &licence, const char *key) {
	auto it = licence.find(key);
	return it != licence.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// Business data of the licence: metadata plus the type's information items.
json DataItem(const json &licence) {
	json item = {
	    {"eCertID", Text(licence, "identifier")},               // 电子证照标识
	    {"certType", Text(licence, "type_code")},               // 证照类型代码
	    {"certNum", Text(licence, "licence_number")},           // 证书编号 (inferred)
	    {"holderName", Text(licence, "holder_name")},           // 持证主体 (inferred)
	    {"holderIdType", Text(licence, "holder_id_type")},      // (inferred)
	    {"holderId", Text(licence, "holder_id")},               // (inferred)
	    {"issueOrg", Text(licence, "authority")},               // 发证机关 (inferred)
	    {"issueOrgCode", Text(licence, "authority_uscc")},      // (inferred)
	    {"issueDate", Text(licence, "issue_date")},             // (inferred)
	    {"validFrom", Text(licence, "valid_from")},             // (inferred)
	    {"validTo", Text(licence, "valid_to")},                 // (inferred)
	    {"certState", Text(licence, "cert_state")},             // PLATFORM.md certState
	    {"operateType", Text(licence, "operate_type")},         // PLATFORM.md operateType
	    {"oldECertID", Text(licence, "original_identifier")},   // (inferred)
	};
	if (auto items = licence.find("items"); items != licence.end() && items->is_object())
		item["data"] = *items;  // per-type items, keys as the catalogue names them (inferred)
	return item;
}

}  // namespace

std::string DefaultPath(std::string_view type_code, std::string_view step) {
	std::string suffix(type_code.size() >= 4 ? type_code.substr(type_code.size() - 4) : type_code);
	for (char &c : suffix)
		c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
	static const json kStepPaths = {{"validate", "check"},       {"assign_code", "assign"}, {"collect", "collect"},
	                                {"status_update", "status"}, {"confirm", "query"},      {"query", "query"}};
	std::string leaf = kStepPaths.value(std::string(step), std::string(step));
	return "/api/" + suffix + "/" + leaf;
}

json RequestBody(std::string_view step, const json &licence) {
	json item;
	if (step == kStepCollect)
		item = {{"ID", Text(licence, "assigned_code")},
		        {"zzeCertID", Text(licence, "identifier")},
		        {"url", Text(licence, "preview_url")}};
	else if (step == kStepStatus)
		item = {{"ID", Text(licence, "assigned_code")},
		        {"zzeCertID", Text(licence, "identifier")},
		        {"certState", Text(licence, "cert_state")},
		        {"operateType", Text(licence, "operate_type")},
		        {"reason", Text(licence, "reason")}};  // (inferred)
	else if (step == kStepQuery || step == kStepConfirm)
		item = {{"eCertID", Text(licence, "identifier")}};
	else  // validate, assign
		item = DataItem(licence);
	return {{"AcceptData", json::array({item})}};
}

std::string ItemIdentifier(const json &item) {
	for (const char *key : {"eCertID", "zzeCertID"})
		if (auto it = item.find(key); it != item.end() && it->is_string())
			return it->get<std::string>();
	return {};
}

}  // namespace elicense::worker
