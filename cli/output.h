// Output helpers shared by the subcommands: JSON strings, colours for
// terminals, timestamps as people read them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace keel {

/// `text` as a JSON string literal, quotes included.
std::string json_string(std::string_view text);

/// Writes `text` to stdout as is.
void print(const std::string& text);

/// True when stdout is a terminal that takes colours (and NO_COLOR is unset).
bool use_color();

/// Wraps `text` in an ANSI colour when `enabled` (31 red, 32 green, ...).
std::string colored(std::string_view text, int color, bool enabled);

/// "Nov 23 06:18:53" in local time, for a CLOCK_REALTIME microsecond stamp.
std::string short_time(uint64_t realtime_usec);
/// "Sat 2024-11-23 06:18:53 UTC".
std::string long_time(uint64_t realtime_usec);
/// "5min 3s", "2h 1min", "3 days": how long ago, roughly.
std::string time_span(uint64_t usec);
/// CLOCK_REALTIME now, in microseconds.
uint64_t realtime_usec();

} // namespace keel
