// Cancellation of long core work (see cancel.hpp).
#include "elicense/cancel.hpp"

namespace elicense::core {
namespace {
thread_local CancelCheck installed_check = nullptr;
}  // namespace

CancelCheck SetCancelCheck(CancelCheck check) noexcept {
	CancelCheck previous = installed_check;
	installed_check = check;
	return previous;
}

void ThrowIfCancelled() {
	if (installed_check != nullptr && installed_check())
		throw Cancelled();
}

}  // namespace elicense::core
