// The runtime's record of one container, private to containers/: the
// directory ROOT/ID with the facts later verbs need (state.json), the exec
// FIFO a created container waits on, and a copy of config.json for the
// poststop hooks (the bundle may be gone by delete). Also what the runtime
// reads of a process in /proc to tell that a recorded pid is still the
// container's and not a later process that got the same number.
#pragma once

#include "base/fd.h"
#include "base/json.h"
#include "base/result.h"
#include "containers/containers.h"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <sys/types.h>

namespace keel::containers {

/// What state.json keeps.
struct Record {
    std::string id;
    std::string bundle;
    std::string rootfs;
    pid_t pid = 0;
    /// The process's start time (/proc/PID/stat field 22, clock ticks since
    /// boot): a pid reused by another process has another.
    uint64_t pid_start = 0;
    std::string created;
    std::string owner;
    /// The cgroup v2 group relative to the cgroup root; empty: none (a
    /// host with no cgroup2 mount).
    std::string cgroup;
    /// Whether the container has a pid namespace of its own.
    bool own_pid_namespace = false;
    std::map<std::string, std::string> annotations;
};

/// The files of a record.
struct RecordPaths {
    std::string directory; // ROOT/ID
    std::string state;     // ROOT/ID/state.json
    std::string fifo;      // ROOT/ID/exec.fifo
    std::string config;    // ROOT/ID/config.json
    /// ROOT/ID/cgroup: the group's path, written by create as soon as it
    /// made the group, so that a create killed before state.json leaves
    /// delete the group to remove.
    std::string cgroup;
};

RecordPaths record_paths(const RuntimeOptions& runtime, std::string_view id);

/// A process ended by signal N shows as status 128 + N, as shells show it.
inline constexpr int kSignalStatusBase = 128;

/// The record as the OCI state in `status` (a stopped container has no pid).
ContainerState state_of(const Record& record, Status status);

/// state_json()'s object, written as the next value of `json`.
void write_state_json(JsonWriter& json, const ContainerState& state);

/// Where compiled seccomp programs are kept (create and exec share it):
/// ROOT/.seccomp-cache (ids cannot start with a dot, so it is never taken
/// for a container).
std::string seccomp_cache_directory(const RuntimeOptions& runtime);

/// Writes state.json (atomically: a temporary file renamed over it).
Result<void> write_record(const RecordPaths& paths, const Record& record);
/// Reads state.json; a missing record says "container `x` does not exist".
Result<Record> read_record(const RuntimeOptions& runtime, std::string_view id);

/// An exclusive lock on the record's directory while a verb reads and
/// changes it (flock; released when the Fd closes); `create` holds it from
/// making the directory until state.json is written. Taken before the
/// record is read, and checked to still be the directory at its path once
/// held: a verb that waited while the container was deleted (and perhaps
/// made anew under the same id) says it does not exist rather than act on
/// what it read before.
Result<Fd> lock_record(const RuntimeOptions& runtime, std::string_view id);
/// The lock on a directory just made (create).
Result<Fd> lock_directory(const std::string& directory);

/// Removes ROOT/ID and everything in it.
Result<void> remove_record(const RecordPaths& paths);

/// A process as /proc/PID/stat shows it.
struct ProcessStat {
    char state = '?'; // R, S, D, Z, X, ...
    pid_t parent = 0;
    uint64_t start_time = 0; // clock ticks since boot
};

/// /proc/PID/stat, or nullopt when there is no such process.
Result<std::optional<ProcessStat>> read_process_stat(pid_t pid);

/// Whether the record's process still runs: it exists, has the recorded
/// start time and has not exited (a zombie has).
Result<bool> record_process_alive(const Record& record);

/// A pidfd for the record's process once it is known to be the recorded
/// one (checked after opening, so the pid cannot be reused in between), or
/// nullopt when it has exited.
Result<std::optional<Fd>> open_record_process(const Record& record);

/// Now as RFC 3339 in UTC with nanoseconds ("2026-12-02T21:18:40.123456789Z").
std::string rfc3339_now();

} // namespace keel::containers
