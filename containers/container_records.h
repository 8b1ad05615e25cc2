// containers/container_records: what keel run's two halves share (inside
// containers/ only): where a container's files are, container.json and
// state.json written, the bundle removed, the runtime, image store and
// bridge a state root implies.
#pragma once

#include "containers/containers.h"

#include <string>
#include <string_view>

namespace keel::containers {

/// In ROOT/containers/ID: written by `keel container stop`, so that keel
/// run does not restart the container it stopped (--restart on-failure:N);
/// it holds stop's -t in seconds when one was given, else nothing.
inline constexpr std::string_view kStopRequestedFile = "stop-requested";

/// ROOT/containers/ID/kStopRequestedFile.
std::string stop_request_path(const std::string& state_root, std::string_view id);

/// The keeper's log of the container's output (container_log_of).
inline constexpr std::string_view kContainerLogFile = "container.log";

/// In ROOT/containers/ID: flock'd by the keel run that runs the container
/// (in the foreground, as its keeper, or as its unit's ExecStart) for as
/// long as it does, so that a start waits for the keel run of the last
/// run to finish recording its end.
inline constexpr std::string_view kRunLockFile = "run.lock";

/// "2026-01-02T03:04:05Z", now.
std::string now_rfc3339();

/// Where the containers of state root ROOT keep their own records: ROOT
/// itself, or for the default root (whose /run a reboot empties)
/// kDefaultRecordRoot, so that they outlive a reboot.
std::string records_root(const std::string& state_root);

/// The directory of ROOT's containers: records_root(ROOT)/containers.
std::string containers_directory(const std::string& state_root);

/// containers_directory(ROOT)/ID: the container's bundle and records.
std::string bundle_of(const std::string& state_root, std::string_view id);

/// The runtime whose records are under ROOT/run.
RuntimeOptions runtime_of(const std::string& state_root);

/// The image store --store (`given`) names, else $KEEL_IMAGE_STORE, else
/// the default.
ImageStoreOptions store_of(const std::string& given);

/// The bridge network whose leases are under ROOT/network (for the default
/// root, /run/keel/network: `keel network`'s).
BridgeConfig bridge_of(const std::string& state_root);

/// container.json's text: what `keel run` was told.
/// `maps` are the container's user namespace maps (its lease of ids).
std::string container_metadata(const RunOptions& options, std::string_view id,
                               std::string_view name, const std::string& store, const IdMaps& maps);

/// Replaces ROOT/containers/ID/state.json (a new file renamed over it).
Result<void> write_run_state(const std::string& state_root, std::string_view id,
                             const RunState& state);

/// Removes the bundle directory (config.json, etc/, container.json,
/// state.json).
void remove_bundle(const std::string& bundle);

} // namespace keel::containers
