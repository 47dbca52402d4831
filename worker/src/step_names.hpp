// Names of the delivery steps. The outbox's steps run in this order for one
// licence version; the platform catalogue (elicense.platform_field, the
// worker's "paths" config) names its steps the same, plus `query` (the
// confirm step and every query before a resend use it) and `key_change`.
#pragma once

#include <string_view>

namespace elicense::worker {

inline constexpr std::string_view kStepValidate = "validate";     // 校验 (check): no effect on the platform
inline constexpr std::string_view kStepAssign = "assign_code";    // 赋码: the platform assigns the code
inline constexpr std::string_view kStepCollect = "collect";       // 归集: the preview URL
inline constexpr std::string_view kStepStatus = "status_update";  // 状态更新: suspension, revocation, …
inline constexpr std::string_view kStepConfirm = "confirm";       // a query after collect: the platform holds it
inline constexpr std::string_view kStepQuery = "query";           // catalogue only: the query endpoint
inline constexpr std::string_view kStepKeyChange = "key_change";  // catalogue only: W032 Tzry_Change

// The catalogue step whose path an outbox step is sent to (confirm → query).
inline std::string_view CatalogueStep(std::string_view outbox_step) {
	return outbox_step == kStepConfirm ? kStepQuery : outbox_step;
}

}  // namespace elicense::worker
