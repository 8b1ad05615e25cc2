// Crash points: named places where a test can have the process killed
// (SIGKILL, as a power cut or the OOM killer would end it) to check that
// what it made durable survives. KEEL_CRASH_POINT=NAME[:N] in the
// environment kills the process the N-th time (default: the first) it
// passes crash_point(NAME); without the variable a crash point costs one
// load and compare. Never set for PID 1 (its environment has no such
// variable). The points are listed in docs/kv.md ("Crash points").
#pragma once

#include <string_view>

namespace keel {

/// Kills this process with SIGKILL if KEEL_CRASH_POINT names `name` and
/// this is the hit it names; otherwise does nothing.
void crash_point(std::string_view name);

} // namespace keel
