// The one place that knows the national platform's paths and field names.
//
// The interface annex (V2.0) that fixes them is not public. What is here comes
// from ../shared/PLATFORM.md (public client code of provinces that deliver
// today): bodies are {"AcceptData":[item]}; the collect item carries "ID",
// "zzeCertID" and "url"; assignments answer with "encryCertid", "encryKey",
// "eCertID". Names marked (inferred) are our best reading; change them here
// (or the paths in the worker's config file) without touching any logic.
// The test double includes this header too, so both ends agree.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

namespace elicense::worker {

// Delivery steps, in the order they run for one licence version.
inline constexpr std::string_view kStepValidate = "validate";  // 业务数据校验
inline constexpr std::string_view kStepAssign = "assign_code"; // 归集 + 二维码赋码
inline constexpr std::string_view kStepCollect = "collect";    // 电子证照信息归集 (preview URL)
inline constexpr std::string_view kStepStatus = "status_update"; // 状态更新 (revoke, cancel, …)
inline constexpr std::string_view kStepConfirm = "confirm";    // 查询 after collect: the platform holds it
inline constexpr std::string_view kStepQuery = "query";        // 查询: the confirm step, and before any resend

// Default path of a step for a licence type (code like 11100000000013338W050),
// used when the config file names none: /api/w050/assign.
std::string DefaultPath(std::string_view type_code, std::string_view step);

// The request body of a step, from the canonical licence JSON the extension
// hands out with each outbox row (keys: identifier, type_code,
// licence_number, holder_name, holder_id, holder_id_type, authority,
// authority_uscc, issue_date, valid_from, valid_to, cert_state,
// operate_type, assigned_code, preview_url, original_identifier, reason,
// items{...}).
nlohmann::json RequestBody(std::string_view step, const nlohmann::json &licence);

// The licence identifier an AcceptData item is about (either end uses it).
std::string ItemIdentifier(const nlohmann::json &item);

}  // namespace elicense::worker
