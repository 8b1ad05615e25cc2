// Go's duration syntax ("300ms", "1.5h", "2h45m"), the one etcd's flags and
// locksmith's reboot windows are written in.
#pragma once

#include "base/result.h"

#include <chrono>
#include <string_view>

namespace keel {

/// A Go duration: one or more decimal numbers ("1", "1.5", ".5", "1."),
/// each with a unit (ns, us, µs, ms, s, m, h), no sign or spaces; "0" alone
/// is zero. Exact to the nanosecond (finer fractions are dropped). Errors
/// read "invalid duration `TEXT`: WHY".
Result<std::chrono::nanoseconds> parse_go_duration(std::string_view text);

} // namespace keel
