// containers/: the one header other folders include. The OCI runtime
// (`keel oci ...`, runc's verbs and command-line shape): a container is
// made from a bundle (a directory with config.json and a root filesystem),
// kept as a record under the runtime's root directory, and driven through
// create, start, state, kill and delete.
//
// A container's first process is a child of the runtime started through
// base/spawn's fork mode: one clone3 into its new namespaces (and cgroup),
// which sets up its root (mounts, /dev, pivot_root, masks), then waits on
// the container's exec FIFO until `start`, and only then execs the
// configured program. A create that fails leaves nothing behind: no record,
// no cgroup, no process (its mounts lived in its own mount namespace).
//
// Images (`keel image ...`): a content-addressed store under one directory
// (STORE/blobs, STORE/layers, STORE/images.json) that loads OCI layouts
// and `docker save` archives, verifying every digest and size, unpacks
// each layer once, and gives a container a root: an overlay of the image's
// layers under a fresh upper directory.
#pragma once

#include "base/result.h"
#include "containers/image_manifest.h"
#include "containers/run_spec.h"
#include "containers/spec.h"

#include <chrono>
#include <csignal>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

namespace keel::containers {

/// Where containers are recorded unless told otherwise (runc: /run/runc).
inline constexpr std::string_view kDefaultRuntimeRoot = "/run/keel/oci";

/// Options every runtime verb takes.
struct RuntimeOptions {
    /// The directory of container records: ROOT/ID/state.json.
    std::string root = std::string(kDefaultRuntimeRoot);
    /// runc's --systemd-cgroup: linux.cgroupsPath must be systemd's
    /// "slice:prefix:name" (which is read so without it too).
    bool systemd_cgroup = false;
};

/// The OCI status of a container.
enum class Status { Creating, Created, Running, Stopped, Paused };

inline constexpr auto kStatusNames = name_table<Status>({
    {Status::Creating, "creating"},
    {Status::Created, "created"},
    {Status::Running, "running"},
    {Status::Stopped, "stopped"},
    {Status::Paused, "paused"},
});

/// What `state` reports: the OCI state (ociVersion, id, status, pid, bundle,
/// annotations) and what runc adds (rootfs, created, owner).
struct ContainerState {
    std::string id;
    Status status = Status::Stopped;
    /// The container's first process as the runtime's pid namespace sees
    /// it; 0 once it is stopped.
    pid_t pid = 0;
    /// Absolute.
    std::string bundle;
    std::string rootfs;
    /// RFC 3339 with nanoseconds, UTC, as runc writes it.
    std::string created;
    std::string owner;
    std::map<std::string, std::string> annotations;
};

/// The state as the OCI runtime spec's JSON (what `keel oci state` prints
/// and hooks read on their stdin).
std::string state_json(const ContainerState& state);

/// How the container's root is entered.
enum class RootEntry {
    /// pivot_root(2), then the old root is detached: nothing of the host
    /// stays reachable. The default.
    PivotRoot,
    /// MS_MOVE of the rootfs onto "/" and chroot (runc --no-pivot): for a
    /// runtime whose "/" is an initramfs, where pivot_root fails with
    /// EINVAL. The host's mounts stay in the namespace, out of sight.
    MoveAndChroot,
};

/// `create`'s options beyond the bundle.
struct CreateOptions {
    std::string id;
    /// The bundle directory (config.json, rootfs); relative to the cwd.
    std::string bundle = ".";
    /// Where to write the container's pid (written atomically).
    std::string pid_file;
    /// An AF_UNIX socket that receives the pty's master end (SCM_RIGHTS)
    /// when process.terminal is true.
    std::string console_socket;
    /// A connected AF_UNIX socket to send the pty's master on, in place of
    /// `console_socket` (run()'s own relay); -1: none.
    int console_socket_fd = -1;
    /// The process's stdin in place of the runtime's (keel run without -i
    /// gives /dev/null, as Docker does); -1: the runtime's. Not used with
    /// process.terminal, whose pty is stdin.
    int stdin_fd = -1;
    /// fds 3 .. 3+N-1 of the runtime are passed to the container (runc's
    /// --preserve-fds); every other fd is closed before exec.
    int preserve_fds = 0;
    RootEntry root_entry = RootEntry::PivotRoot;
};

/// Makes the container and leaves its process waiting for start().
/// Returns its pid.
Result<pid_t> create(const RuntimeOptions& runtime, const CreateOptions& options);

/// Lets a created container's process exec its program and runs the
/// poststart hooks.
Result<void> start(const RuntimeOptions& runtime, std::string_view id);

/// The container's state now.
Result<ContainerState> state(const RuntimeOptions& runtime, std::string_view id);

/// Every container recorded under the runtime's root, by id.
Result<std::vector<ContainerState>> list(const RuntimeOptions& runtime);

/// Which processes a kill reaches.
enum class KillScope {
    Init, ///< the container's first process
    All,  ///< every process of the container (its cgroup, or its pid namespace)
};

/// Sends `signal` to a created, running or paused container.
Result<void> kill(const RuntimeOptions& runtime, std::string_view id, int signal,
                  KillScope scope = KillScope::Init);

/// Whether delete may stop a container that still runs.
enum class DeleteMode {
    Stopped, ///< only a stopped (or created, never started) container
    Force,   ///< SIGKILL a running one first
};

/// Removes a container: its processes (created or forced), its cgroup, its
/// record; runs the poststop hooks.
Result<void> remove(const RuntimeOptions& runtime, std::string_view id,
                    DeleteMode mode = DeleteMode::Stopped);

/// What a caller of run() does at each step of the container's life.
/// How run() passes on a signal that asks the container to stop
/// (RunHooks::stopping).
struct Stopping {
    int signal = SIGTERM;
    std::chrono::milliseconds kill_after{0};
};

/// Every hook is optional.
struct RunHooks {
    /// After create, before start: the container's process (its
    /// namespaces made) waits for start. An error removes the container
    /// and is run()'s.
    std::function<Result<void>(pid_t pid)> created;
    /// After start: the container's program runs.
    std::function<void(pid_t pid)> started;
    /// While run() waits (foreground): called once right after start and
    /// again when the time it returns has passed (std::nullopt: never
    /// again). Signals are passed on only between calls, so it should
    /// return within a bounded time.
    std::function<std::optional<std::chrono::milliseconds>()> tick;
    /// After the container's process has exited (its wait status), before
    /// the container is deleted: its cgroup is still there.
    std::function<void(int wait_status)> exited;
    /// A SIGTERM or SIGINT the runtime got (foreground): the signal the
    /// container's process gets for it and how long it has after that
    /// before SIGKILL (Docker's stop timeout: a container's pid 1 ignores
    /// signals it has no handler for). Without it the signal is passed on
    /// as it is and never followed by SIGKILL.
    std::function<Stopping(int signal)> stopping;
    /// After a signal the runtime got was passed on to the container's
    /// process (foreground): keel run learns that it was asked to stop.
    std::function<void(int signal)> forwarded;
};

/// `run`: create, start and, unless `detach`, wait for the container's
/// process, passing on the signals the runtime gets, then delete it.
/// Returns the exit status as a shell shows it (128 + signal when killed).
/// A config with process.terminal and no console socket in `options` gets
/// keel's own relay (containers/terminal.h): in the foreground between the
/// pty and the runtime's stdout, and its stdin when `input` is Open (raw
/// while it runs, when stdin is a terminal); detached, a process left
/// behind copies the pty's output to stdout. (RunMode and Stdin are
/// declared in run_spec.h.)
Result<int> run(const RuntimeOptions& runtime, const CreateOptions& options, RunMode mode,
                const RunHooks& hooks = {}, Stdin input = Stdin::Open);

/// `exec`'s options: the process to run in a running container. It starts
/// from the container's own process settings (config.json's `process` as
/// create saw it) or from `process` when given; the fields set below
/// override either.
struct ExecOptions {
    std::string id;
    /// A process.json's settings, in place of the container's.
    std::optional<oci::Process> process;
    /// The program and its arguments; empty: the process's args.
    std::vector<std::string> args;
    /// "KEY=VALUE" entries, each replacing the same KEY or added.
    std::vector<std::string> env;
    std::string cwd;
    std::optional<uint32_t> uid;
    std::optional<uint32_t> gid;
    /// Added to the process's additional gids.
    std::vector<uint32_t> additional_gids;
    /// Capabilities (numbers) added to the bounding, effective and
    /// permitted sets, as runc's --cap.
    std::vector<int> added_capabilities;
    bool no_new_privileges = false;
    /// fds 3 .. 3+N-1 of the runtime are passed to the process.
    int preserve_fds = 0;
    /// Allocate: the process gets a pty (process.terminal), whose master
    /// goes to `console_socket` or `console_socket_fd`.
    Terminal terminal = Terminal::None;
    /// A connected AF_UNIX socket for the pty's master, in place of
    /// `console_socket`; -1: none.
    int console_socket_fd = -1;
    /// The pty's size; none: the process's consoleSize, if any.
    std::optional<oci::ConsoleSize> console_size;
    /// Closed: the process's stdin is /dev/null (without a terminal); Open:
    /// the runtime's, or with keel's relay, what keel reads (exec_attached).
    Stdin input = Stdin::Open;
    /// An AF_UNIX socket that receives the pty's master (runc's
    /// --console-socket).
    std::string console_socket;
    /// Where to write the process's pid (atomically). (Last: a struct that
    /// ends in padding cannot be a Result's value with libc++ 16.)
    std::string pid_file;
};

/// Runs a new process in a running container: in all of its namespaces
/// (the user namespace first; the pid namespace entered by the runtime so
/// the process is born in it), its cgroup and its root, with the
/// container's capabilities, limits, seccomp filter and no_new_privs
/// unless overridden. A container that is not running (created, paused,
/// stopped) is refused. Returns the process's pid once it has exec'd; an
/// exec that fails (no such program, bad user or cwd) leaves no process.
Result<pid_t> exec(const RuntimeOptions& runtime, const ExecOptions& options);

/// Waits for a process exec() started, passing on the signals the runtime
/// gets (as `run` does; the caller holds them blocked); returns its exit
/// status as a shell shows it (128 + signal when killed).
Result<int> wait_for_exec_process(pid_t pid);

/// exec() and, in the foreground, the wait for the process (its exit
/// status; 0 when detached). A terminal with no console socket in
/// `options` gets keel's own relay, as run()'s: the pty's size is keel's
/// terminal's, and `options.input` says whether keel's stdin goes to it.
Result<int> exec_attached(const RuntimeOptions& runtime, ExecOptions options, RunMode mode);

/// Applies new limits (linux.resources, as config.json holds them) to the
/// container's cgroup: only what `resources` sets is written. A value the
/// kernel refuses leaves every limit as it was before the update. The
/// record's copy of config.json is not changed: it keeps what the
/// container was created with (runc's state does not keep it either for
/// cgroup v2); the cgroup's files are what is in force.
Result<void> update(const RuntimeOptions& runtime, std::string_view id,
                    const oci::Resources& resources);

/// The pids of the container's processes, as the runtime's pid namespace
/// sees them.
Result<std::vector<pid_t>> processes(const RuntimeOptions& runtime, std::string_view id);

/// Freezes (pause) every process of a running or created container, or
/// thaws (resume) a paused one, which is then running or created as before
/// (cgroup v2 freezer).
Result<void> pause(const RuntimeOptions& runtime, std::string_view id);
Result<void> resume(const RuntimeOptions& runtime, std::string_view id);

/// Checks a container id: 1 to 255 characters of [A-Za-z0-9_+.-], not "."
/// or ".." (it names a directory).
Result<void> check_id(std::string_view id);

/// Makes sure the running binary cannot be opened for writing from a
/// container. A container's process is a fork of the runtime until it
/// execs, and an exec resolves /proc/self/exe (as the program, or as a
/// script's `#!` interpreter) to the runtime's binary; a process that got
/// hold of that file could reopen it for writing once the runtime has
/// exited and replace the host's binary (CVE-2019-5736). Returns when the
/// binary is on a read-only mount (a keel disk's root is); otherwise
/// re-executes it, same argv and environment, from a read-only bind mount
/// of the binary attached nowhere (open_tree + mount_setattr), where every
/// path to the file, /proc/PID/exe included, is EROFS for writing, and does
/// not return. An error when the kernel cannot make that mount (before
/// Linux 5.12): `create` and `run` call this first and refuse to run a
/// container unprotected.
Result<void> ensure_sealed_binary(char** argv);

// ---- Images --------------------------------------------------------------

/// Where images are stored unless told otherwise.
inline constexpr std::string_view kDefaultImageStore = "/var/lib/keel";

/// Options every image verb takes.
struct ImageStoreOptions {
    /// The store's directory: blobs/, layers/, images.json, containers/, tmp/.
    std::string root = std::string(kDefaultImageStore);
};

/// What the store lets layers hold (STORE/policy.json, `keel image
/// policy`), for every layer unpacked from then on (layers unpacked before
/// stay as they are):
struct StorePolicy {
    /// Character and block device nodes; refused by default, naming the
    /// entry (a container that could open them would reach the host's
    /// devices).
    bool allow_devices = false;
    /// Setuid and setgid bits and security.capability attributes; kept by
    /// default, as Docker and podman keep them (su, ping); a store that
    /// says no unpacks the files without them.
    bool keep_setid = true;
};

/// The store's policy (the defaults when it has none); a malformed
/// policy.json is an error naming the file and field.
Result<StorePolicy> store_policy(const ImageStoreOptions& store);
/// Replaces the store's policy (written atomically).
Result<void> set_store_policy(const ImageStoreOptions& store, const StorePolicy& policy);

/// One image of the store, as `keel image ls` shows it.
struct ImageSummary {
    /// Every name the image has, normalised ("docker.io/library/busybox:latest");
    /// empty for an untagged image.
    std::vector<std::string> names;
    /// "sha256:…" of the manifest: the image's identity in the store.
    std::string manifest_digest;
    /// "sha256:…" of the config: Docker's image id.
    std::string config_digest;
    /// The config's `created` (RFC 3339), or empty.
    std::string created;
    /// "linux/amd64".
    std::string platform;
    /// Bytes of the image's blobs (its config and compressed layers).
    uint64_t size = 0;
    /// Bytes of its layers unpacked (their regular files, a hard link
    /// once): what `docker images` shows as SIZE.
    uint64_t unpacked_size = 0;
    /// Layers the image has.
    uint64_t layer_count = 0;
    /// The first of `names`, or empty. (Last, a string: a Result's value
    /// must not end in padding with libc++ 16.)
    std::string reference;
};

/// Loads the images in `path` into the store: an OCI image layout
/// directory (index.json: each manifest, or for a nested index the host
/// platform's), an OCI layout tar (`skopeo copy ... oci-archive:`), or a
/// `docker save` tar (manifest.json; gzip or zstd compressed too); "-"
/// reads a tar from stdin. Names come from the layout's
/// io.containerd.image.name or org.opencontainers.image.ref.name
/// annotations or the archive's RepoTags; `name`, when given, names the
/// (only) image instead (a bare repository takes the annotation's tag).
/// Every blob's digest and size, and every layer's diff id, is verified;
/// layers with names that escape (absolute, "..", through a symlink) or
/// device nodes are refused. A failure leaves the store as it was. A layout
/// directory inside STORE/tmp is consumed: its blobs are moved in, not
/// copied.
Result<std::vector<ImageSummary>> load_images(const ImageStoreOptions& store,
                                              const std::string& path, std::string_view name = {});

/// `docker import`: makes an image of one layer, the (optionally
/// compressed) root filesystem tar at `path` ("-": stdin), with a minimal
/// config for the host platform, named `name`.
Result<ImageSummary> import_rootfs(const ImageStoreOptions& store, const std::string& path,
                                   std::string_view name);

/// Every image in the store, by name (untagged images last).
Result<std::vector<ImageSummary>> list_images(const ImageStoreOptions& store);

/// One layer of an image, as inspect shows it.
struct ImageLayer {
    oci::Descriptor blob;
    /// The digest of the uncompressed layer (from the config).
    oci::Digest diff_id;
};

/// What `keel image inspect` shows.
struct ImageDetails {
    ImageSummary summary;
    oci::Manifest manifest;
    oci::ImageConfig config;
    std::vector<ImageLayer> layers;
    /// The documents as stored, byte for byte.
    std::string manifest_json;
    std::string config_json;
};

/// The image `reference` names: a name ("busybox", "busybox:1.36",
/// "docker.io/library/busybox:latest"), a manifest or config digest
/// ("sha256:…"), or a unique prefix of at least 4 hex digits of either.
Result<ImageDetails> inspect_image(const ImageStoreOptions& store, std::string_view reference);

/// Whether an image a container root still uses may be removed.
enum class ImageRemoval {
    Unused, ///< refused (EBUSY) while a container root uses it
    Force,  ///< removed anyway; the container's layers stay until it goes
};

inline constexpr auto kImageRemovalNames = name_table<ImageRemoval>({
    {ImageRemoval::Unused, "unused"},
    {ImageRemoval::Force, "force"},
});

/// What a removal or prune did.
struct RemovalSummary {
    /// Names taken off images.
    std::vector<std::string> untagged;
    /// Manifest digests of images deleted.
    std::vector<std::string> deleted;
    uint64_t blobs_removed = 0;
    uint64_t layers_removed = 0;
    /// (Last, a string: see ImageSummary.)
    std::string note;
};

/// `rmi`: by a name that is one of several of the image's, takes only that
/// name off; otherwise (the last name, a digest) deletes the image and the
/// blobs and layers no other image or container root uses.
Result<RemovalSummary> remove_image(const ImageStoreOptions& store, std::string_view reference,
                                    ImageRemoval mode = ImageRemoval::Unused);

/// Deletes untagged images no container root uses, and every blob, layer
/// and leftover temporary file nothing refers to.
Result<RemovalSummary> prune_images(const ImageStoreOptions& store);

/// A user name and password for a registry (or its token realm).
struct RegistryCredentials {
    std::string username;
    /// (Last: see base/result.h.)
    std::string password;
};

/// How `keel image pull` reaches a registry.
struct PullOptions {
    /// The platform to take from an index; the host's when empty.
    std::optional<oci::Platform> platform;
    /// Registries (host[:port], as references spell them) spoken to over
    /// plain HTTP; every other registry over HTTPS.
    std::vector<std::string> insecure_registries;
    /// Credentials; when empty, $KEEL_REGISTRY_AUTH ("user:password") or
    /// the registry's auths entry in $DOCKER_CONFIG/config.json or
    /// ~/.docker/config.json, when there is one.
    std::optional<RegistryCredentials> credentials;
    /// A PEM file of CAs trusted besides the system's bundle.
    std::string ca_file;
    /// Where a blob download cut short is kept for the next pull to resume
    /// (pull_image: STORE/tmp); empty: in the layout directory.
    std::string partial_directory;
    /// A store (its root; pull_image: the store pulled into) whose
    /// blobs/ALGORITHM/HEX are not downloaded again; empty: none.
    std::string present_blobs;
    /// Called with a line about each step ("layer sha256:…: 2.1 MB"); none
    /// when empty.
    std::function<void(std::string_view)> progress;
};

/// `docker pull`: fetches `reference` ("busybox", "127.0.0.1:5000/web:1",
/// "…@sha256:…") from its registry (docker.io's through
/// registry-1.docker.io) into STORE/tmp, checking every document's and
/// blob's digest and size, then loads it into the store under that name.
/// A failure leaves the store as it was.
Result<ImageSummary> pull_image(const ImageStoreOptions& store, std::string_view reference,
                                const PullOptions& options);

/// Whether a container's root can be written.
enum class RootMode { Writable, ReadOnly };

inline constexpr auto kRootModeNames = name_table<RootMode>({
    {RootMode::Writable, "writable"},
    {RootMode::ReadOnly, "read-only"},
});

/// A container's root made from an image.
struct ContainerRoot {
    /// The mounted root: STORE/containers/ID/merged.
    std::string rootfs;
    /// The image's manifest digest.
    std::string image;
    /// How to run the image (its config's process defaults).
    oci::ImageConfig config;
    /// STORE/containers/ID. (Last, a string: see ImageSummary.)
    std::string directory;
};

/// Mounts the root of container `id` from the image `reference`: an
/// overlay of the image's unpacked layers with a fresh upper and work
/// directory under STORE/containers/ID (Writable), or of the layers alone
/// (ReadOnly). EEXIST when the container already has a root. The image is
/// then in use until remove_container_root().
///
/// With `maps` (a container with a user namespace, --userns), each layer
/// is an idmapped mount through a user namespace of those maps, so that
/// the image's root-owned files belong to the container's root; the upper
/// and work directories belong to the host ids container id 0 maps to,
/// and the store's directories down to the root are made searchable by
/// others (o+x) so that the mapped root reaches it. A kernel or filesystem
/// that refuses idmapped mounts is an error saying so.
Result<ContainerRoot> mount_container_root(const ImageStoreOptions& store,
                                           std::string_view reference, std::string_view id,
                                           RootMode mode = RootMode::Writable,
                                           const IdMaps& maps = {});

/// Mounts the root of container `id` again, as mount_container_root()
/// made it (root.json: its image's layers, its mode, `maps` as then), over
/// the upper directory it has: what the container wrote is there again.
/// For a container started again after a reboot, which unmounted it; a
/// root still mounted is left as it is. Returns STORE/containers/ID/merged.
Result<std::string> remount_container_root(const ImageStoreOptions& store, std::string_view id,
                                           const IdMaps& maps = {});

/// Unmounts the root of container `id` and deletes what it wrote.
Result<void> remove_container_root(const ImageStoreOptions& store, std::string_view id);
// ---- keel run --------------------------------------------------------------
//
// `keel run`'s containers (run.cpp, container_records.cpp): a bundle per
// container under ROOT/containers/ID (config.json, etc/, container.json:
// what keel run was told; state.json: what it saw — start, health, exit,
// OOM), run by the runtime above with its records under ROOT/run, the
// root from the image store, the network from the bridge below.

/// Where `keel run` keeps its containers unless --root says otherwise.
inline constexpr std::string_view kDefaultRunRoot = "/run/keel";

/// Where the containers of the default root keep their own records
/// (containers/ID: config.json, container.json, state.json, etc/): on a
/// keel disk on STATE, so that they outlive a reboot, as Docker's
/// /var/lib/docker/containers does. The runtime's records (ROOT/run) and the
/// network's leases (ROOT/network) stay under /run/keel, which a reboot
/// empties: a container that ran before it is exited after it. An explicit
/// --root keeps everything under it.
inline constexpr std::string_view kDefaultRecordRoot = "/var/lib/keel/records";

/// A container's health (Docker's State.Health.Status).
enum class HealthStatus { None, Starting, Healthy, Unhealthy };

inline constexpr auto kHealthStatusNames = name_table<HealthStatus>({
    {HealthStatus::None, "none"},
    {HealthStatus::Starting, "starting"},
    {HealthStatus::Healthy, "healthy"},
    {HealthStatus::Unhealthy, "unhealthy"},
});

/// One run of the health check (Docker's State.Health.Log entries).
struct HealthProbe {
    int exit_code = 0;
    /// RFC 3339, UTC.
    std::string start;
    std::string end;
    /// What the check printed (stdout and stderr), at most kMaxHealthOutput bytes.
    std::string output;
};

/// How much of a probe's output is kept (Docker keeps 4 KiB).
inline constexpr size_t kMaxHealthOutput = 4096;

/// How many probes a container's state keeps (Docker keeps 5).
inline constexpr size_t kHealthLogLength = 5;

/// What keel run saw of a container while it ran (state.json).
struct RunState {
    HealthStatus health = HealthStatus::None;
    /// Failed checks in a row.
    uint32_t failing_streak = 0;
    /// How often keel run has started the container again (--restart
    /// on-failure:N), as Docker's RestartCount.
    uint32_t restart_count = 0;
    /// The container's process was killed by the OOM killer (its cgroup's
    /// memory.events said oom_kill > 0 when it ended).
    bool oom_killed = false;
    /// Its exit status as a shell shows it, once it has ended.
    std::optional<int> exit_code;
    /// --memory, for the OOM message.
    std::optional<int64_t> memory_limit;
    /// The container's first process, as the host sees it, while it runs.
    pid_t pid = 0;
    /// The container's address on the bridge, when it has one.
    std::string address;
    /// Its published ports as attached: a `-p CONTAINER_PORT`'s chosen
    /// host port in place of 0.
    std::vector<PortMapping> ports;
    /// RFC 3339, UTC; empty until it happened.
    std::string started;
    std::string finished;
    /// The last kHealthLogLength probes, oldest first.
    std::vector<HealthProbe> health_log;
};

/// Whether a failed probe counts (--health-start-period).
enum class HealthPhase { StartPeriod, Counting };

/// Records `probe` in `state` by Docker's rules: a pass makes it healthy
/// and ends the failing streak; a failure in the start period changes
/// nothing but the log; a counted failure lengthens the streak, and at
/// `check.retries` makes it unhealthy. The log keeps the last
/// kHealthLogLength probes.
void record_probe(RunState& state, const HealthCheck& check, HealthProbe probe, HealthPhase phase);

/// Parses state.json's text (outside input: a file anyone with root may
/// edit); errors name the field.
Result<RunState> parse_run_state(std::string_view text);
/// state.json's text for `state`.
std::string run_state_json(const RunState& state);

/// A container made by `keel run`, as its container.json and state.json say.
struct RunContainer {
    uint32_t stop_timeout = 10;
    int stop_signal = 15;
    RunState state;
    std::string id;
    std::string name;
    std::string image;
    /// "store" or "rootfs".
    std::string source;
    /// The image store holding its root (source "store").
    std::string store;
    /// RFC 3339, UTC.
    std::string created;
    /// "keep" or "on-exit".
    std::string removal;
    /// --network: "bridge", "host" or "none".
    std::string network;
    std::vector<std::string> command;
    /// container.json's text, for inspect.
    std::string json;
};

/// The options of `keel run` a container's container.json records, as
/// start_container() runs it again: image and store, name, removal,
/// restart policy, network and published ports, health check, notify,
/// stop signal and timeout, memory limit, terminal and stdin, command.
/// (What else the run was told is in its config.json, used as it is.)
/// Outside input (a file root may edit): errors name the member.
Result<RunOptions> recorded_run_options(std::string_view container_json);

/// The state root `given` (--root) names: itself, or kDefaultRunRoot.
std::string run_root(const std::string& given);

/// Where the keeper of a container keel run -d started without init keeps
/// the container's output (stdout and stderr, and the keeper's notices):
/// container.log in its directory, gone with it. `keel container logs`
/// reads it.
std::string container_log_of(const std::string& state_root, std::string_view id);

/// `keel run`: makes the container's bundle and root, runs it (attached to
/// the bridge with --network bridge, READY=1 sent as --sdnotify says,
/// health-checked with --health-cmd), and returns its exit status (0 with
/// -d once it runs). `argv` is the process's own: the binary is re-executed
/// sealed first (ensure_sealed_binary). A failure leaves nothing behind.
Result<int> run_container(const RunOptions& options, char** argv);

/// Starts container `container` (exited) again, as --restart does: the
/// same id, bundle (its config.json as made) and root, mounted again over
/// the upper directory it has (a reboot unmounted it), with the options
/// its container.json records (recorded_run_options()). A manual stop
/// recorded (`stop-requested`) is cleared and RestartCount starts from 0,
/// as `docker start` does. Foreground: waits for it, restarting by its
/// policy, and returns its status (as run_container()); Detach: leaves a
/// keeper that does so (without init) and returns 0 once it runs. EBUSY
/// when it is not exited. A failed start leaves the container exited.
Result<int> start_container(const std::string& state_root, const RunContainer& container,
                            RunMode mode, char** argv);

/// Records that the container was stopped on purpose (`stop-requested` in
/// its directory), Docker's "manually stopped": keel run does not restart
/// it, and an unless-stopped container is not started at boot. With
/// `timeout` (`stop -t`), the keel run that waits for it (its unit's,
/// under init) stops it on a SIGTERM as `docker stop -t` does: its stop
/// signal, SIGKILL once `timeout` has passed.
Result<void> mark_stop_requested(const std::string& state_root, const RunContainer& container,
                                 std::optional<std::chrono::seconds> timeout = std::nullopt);

/// Whether mark_stop_requested() was the last word on it (a start clears it).
bool stop_was_requested(const std::string& state_root, const RunContainer& container);

/// For a container whose state.json says it was running (a pid, no exit
/// code) while the runtime has no running process for it: its run ended
/// with the machine (a reboot or crash) or with the keel run that waited
/// for it, unseen. Records the end as Docker's daemon does when it finds
/// such a container at its start: ExitCode 255, FinishedAt now. True when
/// it did.
Result<bool> record_interrupted_run(const std::string& state_root, const RunContainer& container);

/// Every container under `state_root`, oldest first.
Result<std::vector<RunContainer>> list_containers(const std::string& state_root);

/// The container `reference` names: its name, its id, or a unique prefix of
/// its id. ENOENT when none.
Result<RunContainer> find_container(const std::string& state_root, std::string_view reference);

/// What `keel exec` asks of a container keel run made.
struct ContainerExec {
    /// -d: return once the process runs.
    RunMode mode = RunMode::Foreground;
    /// -t: a pty for the process.
    Terminal terminal = Terminal::None;
    /// -i: keel's stdin goes to the process.
    Stdin input = Stdin::Closed;
    /// -e and --env-file entries, "KEY=VALUE", in order, over the
    /// container's environment (later wins).
    std::vector<std::string> env;
    /// -u NAME|UID[:GROUP|GID], looked up in the container's root; empty:
    /// the container's user.
    std::string user;
    /// -w, absolute; empty: the container's working directory.
    std::string workdir;
    /// The program and its arguments.
    std::vector<std::string> command;
};

/// `keel exec`: runs `request.command` in `container` (which must be
/// running) through the runtime's exec: in its namespaces, cgroup and
/// root, with its environment (the image's Env, run's -e; TERM=xterm with a
/// terminal unless set) and `request.env`, its user unless `request.user`.
/// Returns the process's exit status (0 when detached). Before the exec,
/// the working directory and the program are looked up in the container's
/// root: a program not found fails with ENOENT, one that is not executable
/// with EACCES, a missing working directory with an error naming it
/// (Docker's "chdir to cwd (...) set in config.json failed") and no errno
/// code, so that keel exec's 127 means the command was not found.
Result<int> exec_in_container(const std::string& state_root, const RunContainer& container,
                              const ContainerExec& request);

/// "created", "running", "paused" or "exited".
std::string container_status(const std::string& state_root, const RunContainer& container);

/// Docker's STATUS column: "Up 3 seconds (healthy)", "Exited (0) 2 minutes
/// ago", "Exited (137) OOM-killed", "Created".
std::string container_status_text(const std::string& state_root, const RunContainer& container);

/// Stops the container: its stop signal, then SIGKILL to all of its
/// processes after `timeout`.
Result<void> stop_container(const std::string& state_root, const RunContainer& container,
                            std::chrono::seconds timeout);

/// Sends `signal` to the container's first process.
Result<void> kill_container(const std::string& state_root, const RunContainer& container,
                            int signal);

/// Takes the container away: its process (killed with DeleteMode::Force,
/// else it must have exited), the runtime's record, its network
/// attachment, its root and its directory.
Result<void> remove_container(const std::string& state_root, const RunContainer& container,
                              DeleteMode mode);

/// A running container's cgroup counters (what `docker stats` shows),
/// each one where its controller is enabled for the container's group.
struct ContainerStats {
    std::string cgroup;                     // relative to the cgroup root
    std::optional<uint64_t> memory_current; // memory.current
    std::optional<uint64_t> memory_max;     // the lowest memory.max of it and its ancestors
    std::optional<uint64_t> pids_current;   // pids.current
    std::optional<uint64_t> pids_max;       // pids.max; none: "max"
    uint64_t cpu_usage_usec = 0;            // cpu.stat usage_usec (always there)
    uint64_t oom_kills = 0;                 // memory.events oom_kill
};

/// The counters of `container`'s group; nullopt when it is not running,
/// has no group (no cgroup v2), or its group went while being read.
std::optional<ContainerStats> container_stats(const std::string& state_root,
                                              const RunContainer& container);

/// `keel inspect`'s JSON object for the container: Id, Name, Created,
/// State (Docker's: Status, Running, Pid, ExitCode, OOMKilled, StartedAt,
/// FinishedAt, Health), Container (container.json), Config (config.json)
/// and, while it runs in a group of its own, Stats (container_stats():
/// Cgroup, MemoryCurrent, MemoryMax, PidsCurrent, PidsMax, CpuUsageUsec,
/// OomKills; a limit that is "max" is null).
Result<std::string> inspect_container(const std::string& state_root, const RunContainer& container);

/// Reads oom_kill from a cgroup v2 memory.events file's text (0 when it
/// is not there); malformed lines are errors naming the line.
Result<uint64_t> parse_oom_kills(std::string_view memory_events);

/// oom_kill from CGROUP_DIRECTORY/memory.events, or on cgroup v1 from
/// memory.oom_control (ENOENT without the memory controller there).
Result<uint64_t> read_oom_kills(const std::string& cgroup_directory);

// ---- Networking ----------------------------------------------------------
//
// Bridge networking for containers: a bridge (keel0) with the gateway
// address of a subnet (10.88.0.0/16), a veth pair per container whose peer
// is the container's eth0, an address leased per container id, outbound
// NAT and published ports as nftables rules in table `ip keel`, and the
// container's resolv.conf made from the host's.

// NetworkMode, Protocol, PortMapping and parse_port_mapping() are in
// run_spec.h (they are `keel run` options too).

/// The bridge network's settings.
struct BridgeConfig {
    /// The bridge's name (at most 15 characters).
    std::string bridge = "keel0";
    /// The network: its first host address is the gateway (the bridge's
    /// own), the others are leased to containers.
    std::string subnet = "10.88.0.0/16";
    /// Where leases live (one file per container id) and the lock that
    /// serialises attach and detach.
    std::string state_directory = "/run/keel/network";
};

/// A container attached to a bridge: what attach_bridge() leased and made.
struct NetworkAttachment {
    std::string container_id;
    std::string bridge;
    /// "10.88.0.0/16".
    std::string subnet;
    /// The container's address on eth0, "10.88.0.2".
    std::string address;
    /// The bridge's address, the container's default route.
    std::string gateway;
    /// The host's end of the veth pair.
    std::string host_interface;
    std::vector<PortMapping> ports;
};

/// Attaches the network namespace `netns_fd` (the container's) to the
/// bridge: makes the bridge on first use (with the gateway address,
/// ip_forward and route_localnet on), leases an address, creates a veth
/// pair whose peer is eth0 in the namespace, sets the namespace's loopback
/// and eth0 up with the address and a default route via the gateway, and
/// rebuilds the nftables rules (masquerade, `ports` published). Fails with
/// EEXIST when the container is attached already. A failure leaves no veth,
/// lease or rule behind.
Result<NetworkAttachment> attach_bridge(const BridgeConfig& config, std::string_view container_id,
                                        int netns_fd, std::span<const PortMapping> ports);

/// Detaches a container: deletes its veth pair (already gone with its
/// namespace is fine), releases its lease and removes its port rules.
/// ENOENT when it is not attached. Only `config.state_directory` is used:
/// the lease says which bridge.
Result<void> detach_bridge(const BridgeConfig& config, std::string_view container_id);

/// Every attachment under `config.state_directory`, by container id.
Result<std::vector<NetworkAttachment>> list_attachments(const BridgeConfig& config);

/// The resolv.conf for a container from the host's: nameservers on
/// loopback (127.0.0.0/8, ::1; a local stub resolver the container cannot
/// reach) are dropped, search, domain and options lines are kept; when no
/// nameserver is left, Docker's fallback (8.8.8.8, 8.8.4.4) is used.
std::string container_resolv_conf(std::string_view host_resolv_conf);

} // namespace keel::containers
