// containers/run_spec: what `keel run` makes of its options and an image.
// RunOptions holds every flag of `keel run` as a typed value; make_spec()
// turns them, with the image's config and the place the container lives,
// into the container's config.json with Docker's defaults: the 14
// capabilities, the default seccomp profile (default_seccomp.cpp), the
// masked and read-only /proc and /sys paths, the default mounts, the
// namespaces, the hostname, the process's args, env, user and limits.
// Nothing is written: the only files read are the root's /etc/passwd and
// /etc/group (for --user); what the host decides (its RLIMIT_NOFILE hard
// limit, its hostname) comes in ContainerPlace.
//
// Also here: the parsers of the values `keel run` takes (--memory, --cpus,
// --ulimit, -v, -p, --tmpfs, --env-file, --security-opt), container ids and
// names, and the text of the container's /etc/hosts and /etc/resolv.conf.
// Included through containers/containers.h.
#pragma once

#include "base/names.h"
#include "base/result.h"
#include "containers/image_manifest.h"
#include "containers/spec.h"
#include "containers/userns.h"

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

namespace keel::containers {

/// Whether `run` waits for the container (-d: it does not).
enum class RunMode { Foreground, Detach };

/// How a container is networked (`keel run --network`).
enum class NetworkMode {
    None,   ///< its own network namespace with only loopback
    Host,   ///< the host's network namespace
    Bridge, ///< its own namespace, attached to the bridge (attach_bridge)
};

inline constexpr auto kNetworkModeNames = name_table<NetworkMode>({
    {NetworkMode::None, "none"},
    {NetworkMode::Host, "host"},
    {NetworkMode::Bridge, "bridge"},
});

/// --restart (Docker's "on-failure:N" sets RunOptions::restart_retries).
enum class RestartPolicy { No, OnFailure, Always, UnlessStopped };

inline constexpr auto kRestartPolicyNames = name_table<RestartPolicy>({
    {RestartPolicy::No, "no"},
    {RestartPolicy::OnFailure, "on-failure"},
    {RestartPolicy::Always, "always"},
    {RestartPolicy::UnlessStopped, "unless-stopped"},
});

/// --sdnotify (Podman's): who sends READY=1 to $NOTIFY_SOCKET.
enum class NotifyWhen {
    Conmon,    ///< keel, once the container's process has started
    Container, ///< the container itself: the socket is passed in
    Healthy,   ///< keel, when the health check first passes
};

inline constexpr auto kNotifyWhenNames = name_table<NotifyWhen>({
    {NotifyWhen::Conmon, "conmon"},
    {NotifyWhen::Container, "container"},
    {NotifyWhen::Healthy, "healthy"},
});

/// Where --sdnotify=container puts the notify socket inside the container
/// (Podman's path); NOTIFY_SOCKET names it there.
inline constexpr std::string_view kContainerNotifySocket = "/run/notify/notify.sock";

/// Which seccomp profile the container gets (--security-opt seccomp=...).
enum class SeccompChoice {
    Default,    ///< Docker's default profile's behaviour (default_seccomp())
    Unconfined, ///< no filter
    File,       ///< RunOptions::seccomp_profile, a profile read from a file
};

/// Whether a mount (or the root) can be written.
enum class Access { ReadWrite, ReadOnly };

/// A published port's transport protocol.
enum class Protocol { Tcp, Udp };

inline constexpr auto kProtocolNames = name_table<Protocol>({
    {Protocol::Tcp, "tcp"},
    {Protocol::Udp, "udp"},
});

/// -t: whether the process gets a pseudo-terminal.
enum class Terminal { None, Allocate };
/// -i: whether the process's stdin stays open.
enum class Stdin { Closed, Open };
/// --rm: what happens to a container once it has exited.
enum class Removal { Keep, OnExit };
/// --init: whether the process runs under an init that reaps and forwards
/// signals (keel's container init, bind-mounted in).
enum class InitProcess { None, Keel };
/// --replace: whether an existing container of the same name is removed
/// first.
enum class NameClash { Refuse, Replace };
/// --security-opt no-new-privileges: whether exec may gain privileges.
enum class NewPrivileges { Allowed, Denied };

/// -v HOST:CONTAINER[:ro]: a bind mount of a host directory or file.
/// Whose ids a volume's files show: the host's as they are, or mapped as
/// the container's user namespace maps them (an idmapped mount, podman's
/// `:idmap`).
enum class VolumeIds : uint8_t { Host, Idmapped };

struct VolumeMount {
    Access access = Access::ReadWrite;
    VolumeIds ids = VolumeIds::Host;
    /// Absolute, on the host.
    std::string source;
    /// Absolute, in the container.
    std::string destination;
};

/// A published port: connections to the host's `host_port` (on `host_ip`
/// only, or on every address of the host when empty) go to the
/// container's `container_port`.
struct PortMapping {
    uint16_t host_port = 0;
    uint16_t container_port = 0;
    Protocol protocol = Protocol::Tcp;
    /// An IPv4 address of the host, or empty for all.
    std::string host_ip;
};

/// Reads Docker's `-p` spelling: "[[IP:][HOST_PORT]:]CONTAINER_PORT[/tcp|udp]"
/// ("8080:80", "127.0.0.1:8080:80/udp", "80", "127.0.0.1::80"); ports 1
/// to 65535, IP an IPv4 address (0.0.0.0 means all). Without HOST_PORT,
/// `host_port` is 0: a free port is chosen when the container is attached.
/// Errors quote the spec and name the part that is wrong.
Result<PortMapping> parse_port_mapping(std::string_view spec);
/// The mapping as parse_port_mapping() reads it, protocol always written.
std::string format_port_mapping(const PortMapping& mapping);
/// A published port as `docker ps` shows it: "0.0.0.0:32768->80/tcp".
std::string published_port_text(const PortMapping& mapping);
/// Every published port so, joined by ", " (ps's PORTS column).
std::string published_ports_text(std::span<const PortMapping> ports);
/// The ports published for `container_port` ("80" or "80/udp"; empty:
/// every port), as `docker port CONTAINER [PORT]` looks them up.
std::vector<PortMapping> ports_for(std::span<const PortMapping> ports,
                                   std::string_view container_port);

/// --tmpfs PATH[:OPTIONS].
struct TmpfsMount {
    /// Absolute, in the container.
    std::string destination;
    /// Mount options as given ("size=64m", "mode=1777"), after the defaults
    /// (nosuid, nodev, noexec).
    std::vector<std::string> options;
};

/// --health-*: a command run in the container now and then; the container
/// is healthy once it exits 0.
struct HealthCheck {
    std::chrono::milliseconds interval{30000};
    std::chrono::milliseconds timeout{30000};
    std::chrono::milliseconds start_period{0};
    /// Failures in a row before the container is unhealthy.
    uint32_t retries = 3;
    /// --health-cmd, run as `/bin/sh -c COMMAND`; empty: no health check.
    std::string command;
};

/// Where the container's root comes from.
enum class ImageSource {
    Store,  ///< RunOptions::image names an image in keel's image store
    Rootfs, ///< RunOptions::image is a directory (Podman's --rootfs)
};

/// Every option of `keel run`, typed; the defaults are Docker's.
struct RunOptions {
    RunMode mode = RunMode::Foreground;
    ImageSource image_source = ImageSource::Store;
    Removal removal = Removal::Keep;
    NameClash name_clash = NameClash::Refuse;
    Terminal terminal = Terminal::None;
    Stdin stdin_mode = Stdin::Closed;
    NetworkMode network = NetworkMode::Bridge;
    Access root_access = Access::ReadWrite;
    RestartPolicy restart = RestartPolicy::No;
    /// on-failure:N; 0: no limit.
    uint32_t restart_retries = 0;
    InitProcess init = InitProcess::None;
    NewPrivileges new_privileges = NewPrivileges::Allowed;
    SeccompChoice seccomp = SeccompChoice::Default;
    NotifyWhen notify = NotifyWhen::Conmon;
    /// --stop-timeout: seconds between the stop signal and SIGKILL.
    uint32_t stop_timeout_seconds = 10;
    /// --stop-signal; none: the image's StopSignal, else SIGTERM.
    std::optional<int> stop_signal;
    /// --memory, in bytes.
    std::optional<int64_t> memory_bytes;
    /// --cpus, in millionths of a CPU (1.5 -> 1500000).
    std::optional<uint64_t> cpu_micros;
    /// --pids-limit; 0 or -1: unlimited.
    std::optional<int64_t> pids_limit;

    /// The image (a reference or an id), as given.
    std::string image;
    /// --name; empty: one is made up (generate_name()).
    std::string name;
    /// What follows the image: replaces the image's Cmd.
    std::vector<std::string> command;
    /// --entrypoint: replaces the image's Entrypoint and drops its Cmd;
    /// Some("") clears the entrypoint.
    std::optional<std::string> entrypoint;
    /// -e and --env-file entries, "KEY=VALUE", in order (later wins).
    std::vector<std::string> env;
    /// -w; empty: the image's WorkingDir, else "/".
    std::string workdir;
    /// -u NAME|UID[:GROUP|GID]; empty: the image's User, else root.
    std::string user;
    /// -h; empty: the first 12 hex digits of the id (the host's name with
    /// --network host).
    std::string hostname;
    std::vector<VolumeMount> volumes;
    std::vector<TmpfsMount> tmpfs;
    std::vector<PortMapping> ports;
    /// --cap-add/--cap-drop: names with or without CAP_, any case, or ALL.
    std::vector<std::string> cap_add;
    std::vector<std::string> cap_drop;
    /// --ulimit, as rlimits (soft and hard).
    std::vector<oci::Rlimit> ulimits;
    /// --label KEY=VALUE.
    std::map<std::string, std::string> labels;
    /// With SeccompChoice::File: the profile (the runtime spec's
    /// linux.seccomp, or Docker's profile format) as read from the file.
    std::string seccomp_profile;
    /// --cgroup-parent; empty: the runtime's default place.
    std::string cgroup_parent;
    /// --userns, --uidmap, --gidmap.
    UsernsRequest userns;
    HealthCheck health;
    /// --root: where containers are kept; empty: /run/keel.
    std::string state_root;
    /// --store: the image store; empty: $KEEL_IMAGE_STORE or /var/lib/keel.
    std::string image_store;
};

/// Where a container lives and what the host decides for it.
/// Whether the host can enforce a container's device rules (cgroup v2's
/// device filter or v1's devices hierarchy: the runtime refuses CAP_MKNOD
/// where it cannot).
enum class DeviceRules { Enforced, NotEnforceable };

struct ContainerPlace {
    /// The host's RLIMIT_NOFILE hard limit: Docker's default of 1048576 is
    /// lowered to it (raising a hard limit takes privileges keel may lack).
    uint64_t nofile_hard_limit = 1048576;
    /// Where device rules cannot be enforced (a host whose cgroups are v1
    /// or hybrid), Docker's default CAP_MKNOD is left out, as runc's
    /// callers do without a devices controller; an explicit --cap-add
    /// MKNOD is kept (and refused by the runtime, saying why).
    DeviceRules device_rules = DeviceRules::Enforced;
    /// The container's id (64 hex digits).
    std::string id;
    /// The container's root directory, absolute.
    std::string rootfs;
    /// The directory holding the files bind-mounted to /etc/hostname,
    /// /etc/hosts and /etc/resolv.conf (write_etc_files() writes them).
    std::string files_dir;
    /// The host's hostname (the container's with --network host).
    std::string host_hostname;
    /// The keel binary, bind-mounted as the container's init with --init.
    std::string init_binary;
    /// The container's user namespace maps (--userns); empty: none.
    IdMaps id_maps;
};

/// Docker's default capabilities: CHOWN, DAC_OVERRIDE, FSETID, FOWNER,
/// MKNOD, NET_RAW, SETGID, SETUID, SETFCAP, SETPCAP, NET_BIND_SERVICE,
/// SYS_CHROOT, KILL, AUDIT_WRITE.
oci::CapabilityMask default_capabilities();

/// Docker's default set with --cap-add and --cap-drop applied (names with or
/// without CAP_, any case; ALL). Dropping ALL keeps only what is added;
/// adding ALL keeps all but what is dropped; a capability both added and
/// dropped is added. An unknown name is an error naming it.
Result<oci::CapabilityMask> effective_capabilities(const std::vector<std::string>& add,
                                                   const std::vector<std::string>& drop);

/// Docker's default seccomp profile's behaviour for a container with
/// `capabilities` (its bounding set): everything not allowed fails with
/// EPERM; ~360 syscalls allowed; the calls CAP_SYS_ADMIN, CAP_SYS_PTRACE,
/// CAP_SYS_BOOT, CAP_SYS_MODULE, ... stand for allowed only with them;
/// clone without namespace flags and clone3 answered with ENOSYS (so the C
/// library falls back to clone) unless CAP_SYS_ADMIN; socket(AF_VSOCK)
/// refused; personality limited to a few domains.
oci::Seccomp default_seccomp(oci::CapabilityMask capabilities);

/// The syscall names default_seccomp() allows whatever the capabilities
/// (with or without conditions on their arguments), sorted.
std::vector<std::string> default_seccomp_allowed_syscalls();

/// A seccomp profile file (--security-opt seccomp=FILE) for a container
/// with `capabilities`: the runtime spec's linux.seccomp, or Docker's
/// format, whose rules apply by capability and architecture (includes,
/// excludes) and whose archMap names the architectures. Errors name the
/// field as the runtime spec's parser does.
Result<oci::Seccomp> read_seccomp_profile(std::string_view text, oci::CapabilityMask capabilities);

/// The container's config.json, written from `options`, the image's
/// config and `place`. Errors name the option: "--user: no user `bob` in
/// ROOT/etc/passwd".
Result<std::string> make_spec(const RunOptions& options, const oci::ImageConfig& image,
                              const ContainerPlace& place);

/// The process's arguments by Docker's rules: --entrypoint (which drops
/// the image's Cmd) or the image's Entrypoint, followed by the command
/// given or else the image's Cmd. An empty result is an error.
Result<std::vector<std::string>> process_args(const RunOptions& options,
                                              const oci::ImageConfig& image);

/// The process's environment: PATH (Docker's default unless the image sets
/// it), HOSTNAME, TERM=xterm with -t, the image's Env, then `options.env`;
/// a later entry replaces an earlier one of the same key, in its place.
/// HOME is added from `home` unless set.
std::vector<std::string> process_env(const RunOptions& options, const oci::ImageConfig& image,
                                     std::string_view hostname, std::string_view home);

/// A user as the container's process gets it, and its home directory.
struct ResolvedUser {
    oci::User user;
    /// "/" when passwd does not say.
    std::string home = "/";
};

/// The user and groups `spec` ("name", "uid", "uid:gid", "name:group") names
/// in the root `rootfs` (its /etc/passwd and /etc/group, resolved inside
/// it), as runc resolves them: a number not in passwd is used as it is (gid
/// 0); a name must be there; a user given by name and no group also gets
/// the groups that list it.
Result<ResolvedUser> resolve_user(const std::string& rootfs, std::string_view spec);

/// --memory and friends: a number of bytes with an optional unit b, k, m,
/// g, t (powers of 1024, any case, an optional trailing "b": "512m",
/// "1.5g", "64MB"). Docker's floor of 6 MiB is for the caller.
Result<int64_t> parse_memory_size(std::string_view text);

/// --cpus: a decimal number of CPUs ("1.5", "0.25") in millionths,
/// at least 0.01.
Result<uint64_t> parse_cpus(std::string_view text);

/// --ulimit NAME=SOFT[:HARD] (nofile=1024:2048, nproc=512; -1: unlimited).
Result<oci::Rlimit> parse_ulimit(std::string_view text);

/// -v HOST:CONTAINER[:OPTIONS] (options ro, rw; both paths absolute; named
/// volumes are not supported).
Result<VolumeMount> parse_volume(std::string_view text);

/// --tmpfs PATH[:OPTION,OPTION...].
Result<TmpfsMount> parse_tmpfs(std::string_view text);

/// An --env-file's text: KEY=VALUE lines; blank lines and lines starting
/// with # are skipped; a line with only a KEY takes the value `lookup`
/// finds (and is skipped when it finds none, as Docker does). A key that
/// is empty or holds whitespace is an error naming the line.
using EnvLookup = std::optional<std::string> (*)(std::string_view key);
Result<std::vector<std::string>> parse_env_file(std::string_view text, std::string_view filename,
                                                EnvLookup lookup);

/// --sdnotify=container: `options` with the host's notify socket `socket`
/// ($NOTIFY_SOCKET) bind-mounted at kContainerNotifySocket and
/// NOTIFY_SOCKET set to it in the container's environment. An abstract
/// socket (`@name`) cannot be bind-mounted and is refused, as is a relative
/// path or none.
Result<void> pass_notify_socket(RunOptions& options, std::string_view socket);

/// The datagram `keel run` sends with --sdnotify=conmon once the
/// container's program runs: READY=1 and MAINPID=`main_pid` (keel's own,
/// the process the service manager watches).
std::string conmon_ready_message(pid_t main_pid);

/// A duration as Go writes it (--health-interval, --stop-timeout's kin):
/// "30s", "1m30s", "500ms", "1.5h"; units h, m, s, ms, us, ns; a bare 0.
Result<std::chrono::milliseconds> parse_duration(std::string_view text);

/// 64 random lower-case hex digits.
Result<std::string> generate_container_id();

/// A name like Docker's made-up ones: "adjective_surname".
Result<std::string> generate_name();

/// Checks a --name: Docker's [a-zA-Z0-9][a-zA-Z0-9_.-]+.
Result<void> check_container_name(std::string_view name);

/// The container's /etc/hosts: localhost entries and the hostname, at
/// `address` (its address on the bridge) or else at 127.0.1.1.
std::string hosts_file(std::string_view hostname, std::string_view address = {});

/// The container's /etc/resolv.conf from the host's: as it is with
/// --network host; otherwise without loopback nameservers (unreachable
/// from another network namespace), and Google's public servers, as
/// Docker uses, when none is left.
std::string resolv_conf_for(std::string_view host_resolv_conf, NetworkMode network);

/// Writes `place.files_dir`/{hostname,hosts,resolv.conf} for a container
/// with `hostname` (the host's /etc/resolv.conf read, or an empty one).
Result<void> write_etc_files(const ContainerPlace& place, std::string_view hostname,
                             NetworkMode network);

/// The hostname the container gets: -h, else the host's with --network
/// host, else the first 12 hex digits of its id.
std::string container_hostname(const RunOptions& options, const ContainerPlace& place);

} // namespace keel::containers
