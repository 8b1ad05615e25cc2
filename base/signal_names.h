// Signal names and numbers as kill(1) spells them: for KillSignal= in unit
// files, `keel oci kill ID SIGNAL`, and messages.
#pragma once

#include "base/result.h"

#include <string>
#include <string_view>

namespace keel {

/// Parses a signal name or number: "SIGTERM", "TERM", "15".
Result<int> parse_signal(std::string_view text);
/// "SIGTERM" for 15, "signal 40" for one without a name.
std::string signal_name(int signo);

} // namespace keel
