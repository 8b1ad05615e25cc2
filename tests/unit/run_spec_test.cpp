// Tests for containers/run_spec.h: the config.json `keel run` writes, read
// back by the runtime's own parser (Docker's defaults, the options over
// them, the image's settings), the user looked up in the image's root, and
// the parsers of the option values with their malformed input.
#include "containers/run_spec.h"

#include "base/notify.h"
#include "base/strings.h"
#include "base/sys.h"
#include "tests/unit/temp_dir.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <linux/capability.h>
#include <sys/mount.h>
#include <sys/resource.h>

using namespace keel;
using namespace keel::containers;
using keel::testing::TempDir;

namespace {

const std::string kContainerId = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

// A root with an /etc/passwd and /etc/group like an image's.
struct ImageRoot {
    TempDir dir;
    ImageRoot() {
        REQUIRE(make_directories(dir / "rootfs/etc"));
        REQUIRE(write_new_file(dir / "rootfs/etc/passwd", "root:x:0:0:root:/root:/bin/sh\n"
                                                          "www:x:33:33:web:/var/www:/bin/false\n"
                                                          "app:x:1000:1000::/home/app:/bin/sh\n"));
        REQUIRE(write_new_file(dir / "rootfs/etc/group",
                               "root:x:0:\nwww:x:33:\napp:x:1000:\n"
                               "audio:x:29:app,www\nvideo:x:44:app\nstaff:x:50:\n"));
        REQUIRE(write_new_file(dir / "keel", "", 0755));
    }
    ContainerPlace place() const {
        return {.nofile_hard_limit = 1048576,
                .id = kContainerId,
                .rootfs = dir / "rootfs",
                .files_dir = dir / "files",
                .host_hostname = "hosty",
                .init_binary = dir / "keel"};
    }
};

oci::ImageConfig busybox_image() {
    oci::ImageConfig image;
    image.env = {"PATH=/bin:/sbin", "LANG=C"};
    image.cmd = {"sh"};
    return image;
}

oci::Spec made(const RunOptions& options, const oci::ImageConfig& image,
               const ContainerPlace& place) {
    Result<std::string> text = make_spec(options, image, place);
    REQUIRE_MESSAGE(text, (text ? std::string() : text.error().to_string()));
    Result<oci::Spec> spec = oci::parse_spec(*text);
    REQUIRE_MESSAGE(spec, (spec ? std::string() : spec.error().to_string()), "\n", *text);
    return std::move(*spec);
}

std::string made_error(const RunOptions& options, const oci::ImageConfig& image,
                       const ContainerPlace& place) {
    Result<std::string> text = make_spec(options, image, place);
    REQUIRE_FALSE(text);
    return text.error().to_string();
}

oci::CapabilityMask mask(std::initializer_list<int> caps) {
    oci::CapabilityMask out = 0;
    for (int cap : caps)
        out |= oci::CapabilityMask(1) << cap;
    return out;
}

const oci::Mount* find_mount(const oci::Spec& spec, std::string_view destination) {
    for (const oci::Mount& mount : spec.mounts)
        if (mount.destination == destination)
            return &mount;
    return nullptr;
}

} // namespace

TEST_CASE("a container gets Docker's 14 capabilities in its bounding, effective and permitted "
          "sets, none inheritable") {
    ImageRoot root;
    oci::Spec spec = made({}, busybox_image(), root.place());
    oci::CapabilityMask docker =
        mask({CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FSETID, CAP_FOWNER, CAP_MKNOD, CAP_NET_RAW,
              CAP_SETGID, CAP_SETUID, CAP_SETFCAP, CAP_SETPCAP, CAP_NET_BIND_SERVICE,
              CAP_SYS_CHROOT, CAP_KILL, CAP_AUDIT_WRITE});
    REQUIRE(spec.process->capabilities);
    CHECK(spec.process->capabilities->bounding == docker);
    CHECK(spec.process->capabilities->effective == docker);
    CHECK(spec.process->capabilities->permitted == docker);
    CHECK(spec.process->capabilities->inheritable == 0);
    CHECK(spec.process->capabilities->ambient == 0);
    CHECK(std::popcount(docker) == 14);
}

TEST_CASE("where device rules cannot be enforced, Docker's default CAP_MKNOD is left out "
          "unless asked for") {
    ImageRoot root;
    ContainerPlace place = root.place();
    place.device_rules = DeviceRules::NotEnforceable;
    oci::Spec spec = made({}, busybox_image(), place);
    CHECK((spec.process->capabilities->bounding >> CAP_MKNOD & 1) == 0);
    CHECK((spec.process->capabilities->bounding >> CAP_CHOWN & 1) == 1);
    spec = made({.cap_add = {"MKNOD"}}, busybox_image(), place);
    CHECK((spec.process->capabilities->bounding >> CAP_MKNOD & 1) == 1);
    spec = made({.cap_add = {"all"}}, busybox_image(), place);
    CHECK((spec.process->capabilities->bounding >> CAP_MKNOD & 1) == 1);
}

TEST_CASE("--cap-add and --cap-drop take names with or without CAP_ in any case, and ALL") {
    auto caps = [](std::vector<std::string> add, std::vector<std::string> drop) {
        auto result = effective_capabilities(add, drop);
        REQUIRE_MESSAGE(result, (result ? std::string() : result.error().to_string()));
        return *result;
    };
    CHECK(caps({"net_admin"}, {"CAP_CHOWN"}) ==
          ((default_capabilities() | mask({CAP_NET_ADMIN})) & ~mask({CAP_CHOWN})));
    CHECK(caps({"SYS_ADMIN"}, {"all"}) == mask({CAP_SYS_ADMIN}));
    CHECK(caps({"ALL"}, {"MKNOD"}) == (((oci::CapabilityMask(1) << 41) - 1) & ~mask({CAP_MKNOD})));
    CHECK(caps({"CHOWN"}, {"CHOWN"}) == default_capabilities()); // added wins
    auto bad = effective_capabilities({"CAP_FLY"}, {});
    REQUIRE_FALSE(bad);
    CHECK(bad.error().to_string() == "--cap-add: unknown capability `CAP_FLY`");
}

TEST_CASE("the process runs the image's entrypoint and cmd, a given command replacing the cmd") {
    oci::ImageConfig image;
    image.entrypoint = {"/entry", "-x"};
    image.cmd = {"serve", "--port=80"};
    auto args = [&](RunOptions options) {
        auto result = process_args(options, image);
        REQUIRE_MESSAGE(result, (result ? std::string() : result.error().to_string()));
        return *result;
    };
    CHECK(args({}) == std::vector<std::string>{"/entry", "-x", "serve", "--port=80"});
    CHECK(args({.command = {"debug"}}) == std::vector<std::string>{"/entry", "-x", "debug"});
    // --entrypoint drops the image's cmd too.
    CHECK(args({.entrypoint = "/bin/sh"}) == std::vector<std::string>{"/bin/sh"});
    CHECK(args({.command = {"-c", "id"}, .entrypoint = "/bin/sh"}) ==
          std::vector<std::string>{"/bin/sh", "-c", "id"});
    CHECK(args({.command = {"ls"}, .entrypoint = ""}) == std::vector<std::string>{"ls"});
    auto none = process_args({.entrypoint = ""}, image);
    REQUIRE_FALSE(none);
    CHECK(none.error().to_string().starts_with("no command"));
}

TEST_CASE("the environment has HOSTNAME, TERM with -t, the image's Env, -e over them, then HOME") {
    ImageRoot root;
    oci::ImageConfig image = busybox_image();
    RunOptions options{.terminal = Terminal::Allocate, .env = {"LANG=de_DE", "EXTRA=1"}};
    oci::Spec spec = made(options, image, root.place());
    CHECK(spec.process->env == std::vector<std::string>{"HOSTNAME=0123456789ab", "TERM=xterm",
                                                        "PATH=/bin:/sbin", "LANG=de_DE", "EXTRA=1",
                                                        "HOME=/root"});
    image.env = {};
    std::vector<std::string> env = process_env({}, image, "h", "/");
    CHECK(env.front() == "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
}

TEST_CASE("the hostname is 12 hex digits of the id, -h's, or the host's with --network host") {
    ImageRoot root;
    CHECK(made({}, busybox_image(), root.place()).hostname == "0123456789ab");
    CHECK(made({.hostname = "web"}, busybox_image(), root.place()).hostname == "web");
    CHECK(made({.network = NetworkMode::Host}, busybox_image(), root.place()).hostname == "hosty");
}

TEST_CASE("the user is looked up in the image's own passwd and group files") {
    ImageRoot root;
    auto user = [&](std::string_view spec) {
        auto result = resolve_user(root.dir / "rootfs", spec);
        REQUIRE_MESSAGE(result, (result ? std::string() : result.error().to_string()));
        return *result;
    };
    ResolvedUser www = user("www");
    CHECK(www.user.uid == 33);
    CHECK(www.user.gid == 33);
    CHECK(www.home == "/var/www");
    CHECK(www.user.additional_gids == std::vector<uint32_t>{29});
    CHECK(user("app").user.additional_gids == std::vector<uint32_t>{29, 44});
    CHECK(user("1000").user.gid == 1000);
    ResolvedUser numeric = user("4242");
    CHECK(numeric.user.uid == 4242);
    CHECK(numeric.user.gid == 0);
    CHECK(numeric.home == "/");
    ResolvedUser with_group = user("app:staff");
    CHECK(with_group.user.gid == 50);
    CHECK(with_group.user.additional_gids.empty());
    CHECK(user("33:7").user.gid == 7);
    CHECK(user("").user.uid == 0);

    auto bad = resolve_user(root.dir / "rootfs", "nobody");
    REQUIRE_FALSE(bad);
    CHECK(bad.error().to_string().find("no user `nobody`") != std::string::npos);
    CHECK_FALSE(resolve_user(root.dir / "rootfs", "app:nogroup"));
    CHECK_FALSE(resolve_user(root.dir / "rootfs", "app:"));
    CHECK_FALSE(resolve_user(root.dir / "rootfs", ":1"));
}

TEST_CASE("a passwd that is a symlink out of the root is read inside the root") {
    TempDir dir;
    REQUIRE(make_directories(dir / "rootfs/etc"));
    REQUIRE(write_new_file(dir / "outside", "evil:x:0:0::/:/bin/sh\n"));
    REQUIRE(::symlink((dir / "outside").c_str(), (dir / "rootfs/etc/passwd").c_str()) == 0);
    CHECK_FALSE(resolve_user(dir / "rootfs", "evil"));
    CHECK(resolve_user(dir / "rootfs", "0"));
}

TEST_CASE("-u, -w and the image's User and WorkingDir reach the process") {
    ImageRoot root;
    oci::ImageConfig image = busybox_image();
    image.user = "www";
    image.working_dir = "/srv";
    oci::Spec spec = made({}, image, root.place());
    CHECK(spec.process->user.uid == 33);
    CHECK(spec.process->cwd == "/srv");
    spec = made({.workdir = "/tmp", .user = "app"}, image, root.place());
    CHECK(spec.process->user.uid == 1000);
    CHECK(spec.process->user.additional_gids == std::vector<uint32_t>{29, 44});
    CHECK(spec.process->cwd == "/tmp");
    CHECK(made_error({.user = "ghost"}, image, root.place()).starts_with("--user: no user"));
    CHECK(made_error({.workdir = "relative"}, image, root.place()).starts_with("--workdir"));
}

TEST_CASE("Docker's masked and read-only paths are set") {
    ImageRoot root;
    oci::Spec spec = made({}, busybox_image(), root.place());
    CHECK(spec.linux_config.masked_paths ==
          std::vector<std::string>{"/proc/acpi", "/proc/asound", "/proc/interrupts", "/proc/kcore",
                                   "/proc/keys", "/proc/latency_stats", "/proc/sched_debug",
                                   "/proc/scsi", "/proc/timer_list", "/proc/timer_stats",
                                   "/sys/firmware", "/sys/devices/virtual/powercap"});
    CHECK(spec.linux_config.readonly_paths == std::vector<std::string>{"/proc/bus", "/proc/fs",
                                                                       "/proc/irq", "/proc/sys",
                                                                       "/proc/sysrq-trigger"});
}

TEST_CASE("the container has its own pid, mount, uts, ipc, cgroup and network namespaces, the "
          "host's network with --network host") {
    ImageRoot root;
    using oci::NamespaceType;
    oci::Spec spec = made({}, busybox_image(), root.place());
    for (NamespaceType type : {NamespaceType::Pid, NamespaceType::Mount, NamespaceType::Uts,
                               NamespaceType::Ipc, NamespaceType::Cgroup, NamespaceType::Network})
        CHECK(spec.linux_config.find_namespace(type));
    CHECK_FALSE(spec.linux_config.find_namespace(NamespaceType::User));
    spec = made({.network = NetworkMode::Host}, busybox_image(), root.place());
    CHECK_FALSE(spec.linux_config.find_namespace(NamespaceType::Network));
    CHECK(spec.linux_config.find_namespace(NamespaceType::Pid));
}

TEST_CASE("the default mounts are Docker's, then /etc's files, --tmpfs and -v") {
    ImageRoot root;
    RunOptions options{
        .volumes = {{.access = Access::ReadOnly, .source = "/srv/data", .destination = "/data"},
                    {.source = "/srv/logs", .destination = "/logs"}},
        .tmpfs = {{.destination = "/run", .options = {"size=1m"}}}};
    oci::Spec spec = made(options, busybox_image(), root.place());
    std::vector<std::string> destinations;
    for (const oci::Mount& mount : spec.mounts)
        destinations.push_back(mount.destination);
    CHECK(destinations == std::vector<std::string>{"/proc", "/dev", "/dev/pts", "/sys",
                                                   "/sys/fs/cgroup", "/dev/mqueue", "/dev/shm",
                                                   "/etc/resolv.conf", "/etc/hostname",
                                                   "/etc/hosts", "/run", "/data", "/logs"});
    const oci::Mount* sys = find_mount(spec, "/sys");
    CHECK((sys->parsed.flags & MS_RDONLY));
    CHECK((find_mount(spec, "/sys/fs/cgroup")->parsed.flags & MS_RDONLY));
    CHECK(find_mount(spec, "/dev/shm")->parsed.data == "mode=1777,size=67108864");
    const oci::Mount* hosts = find_mount(spec, "/etc/hosts");
    CHECK(hosts->is_bind());
    CHECK(hosts->source == root.dir / "files/hosts");
    const oci::Mount* data = find_mount(spec, "/data");
    CHECK(data->is_bind());
    CHECK(data->source == "/srv/data");
    CHECK((data->parsed.flags & MS_RDONLY));
    CHECK_FALSE((find_mount(spec, "/logs")->parsed.flags & MS_RDONLY));
    const oci::Mount* run = find_mount(spec, "/run");
    CHECK(run->type == "tmpfs");
    CHECK((run->parsed.flags & MS_NOEXEC));
    CHECK(run->parsed.data == "size=1m");
}

TEST_CASE("--read-only makes the root read-only") {
    ImageRoot root;
    CHECK_FALSE(made({}, busybox_image(), root.place()).root.readonly);
    CHECK(made({.root_access = Access::ReadOnly}, busybox_image(), root.place()).root.readonly);
}

TEST_CASE("RLIMIT_NOFILE is Docker's 1048576 unless the host's hard limit is lower or --ulimit "
          "says otherwise") {
    ImageRoot root;
    auto nofile = [](const oci::Spec& spec) {
        for (const oci::Rlimit& rlimit : spec.process->rlimits)
            if (rlimit.resource == RLIMIT_NOFILE)
                return std::pair(rlimit.soft, rlimit.hard);
        FAIL("no RLIMIT_NOFILE");
        return std::pair(uint64_t(0), uint64_t(0));
    };
    ContainerPlace place = root.place();
    CHECK(nofile(made({}, busybox_image(), place)) ==
          std::pair(uint64_t(1048576), uint64_t(1048576)));
    place.nofile_hard_limit = 524288;
    CHECK(nofile(made({}, busybox_image(), place)) ==
          std::pair(uint64_t(524288), uint64_t(524288)));
    RunOptions options{.ulimits = {*parse_ulimit("nofile=100:200"), *parse_ulimit("nproc=64")}};
    oci::Spec spec = made(options, busybox_image(), place);
    CHECK(nofile(spec) == std::pair(uint64_t(100), uint64_t(200)));
    CHECK(spec.process->rlimits.size() == 2);
}

TEST_CASE("--memory, --cpus, --pids-limit and --cgroup-parent become the container's limits") {
    ImageRoot root;
    RunOptions options{.memory_bytes = *parse_memory_size("256m"),
                       .cpu_micros = *parse_cpus("1.5"),
                       .pids_limit = 100,
                       .cgroup_parent = "/keel.slice"};
    oci::Spec spec = made(options, busybox_image(), root.place());
    REQUIRE(spec.linux_config.resources);
    const oci::Resources& resources = *spec.linux_config.resources;
    CHECK(resources.memory->limit == 256 << 20);
    CHECK(resources.cpu->quota == 150000);
    CHECK(resources.cpu->period == 100000);
    CHECK(resources.pids_limit == 100);
    CHECK(spec.linux_config.cgroups_path == "/keel.slice/" + kContainerId);
    CHECK_FALSE(made({}, busybox_image(), root.place()).linux_config.resources);
}

TEST_CASE(
    "the default seccomp profile is there unless unconfined; no-new-privileges is asked for") {
    ImageRoot root;
    oci::Spec spec = made({}, busybox_image(), root.place());
    REQUIRE(spec.linux_config.seccomp);
    CHECK(spec.linux_config.seccomp->default_action == oci::SeccompAction::Errno);
    CHECK(spec.linux_config.seccomp->default_errno_ret == EPERM);
    CHECK_FALSE(spec.process->no_new_privileges);
    spec = made({.new_privileges = NewPrivileges::Denied, .seccomp = SeccompChoice::Unconfined},
                busybox_image(), root.place());
    CHECK_FALSE(spec.linux_config.seccomp);
    CHECK(spec.process->no_new_privileges);
}

TEST_CASE("a seccomp profile file in Docker's format applies its rules by capability") {
    ImageRoot root;
    RunOptions options{.seccomp = SeccompChoice::File, .seccomp_profile = R"({
        "defaultAction": "SCMP_ACT_ERRNO",
        "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86"]},
                    {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]}],
        "syscalls": [
            {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
            {"names": ["mount"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
            {"names": ["chroot"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_CHROOT"]}},
            {"names": ["reboot"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1,
             "excludes": {"caps": ["CAP_SYS_BOOT"]}, "comment": "why"}
        ]})"};
    oci::Spec spec = made(options, busybox_image(), root.place());
    REQUIRE(spec.linux_config.seccomp);
    std::vector<std::string> names;
    for (const oci::SeccompRule& rule : spec.linux_config.seccomp->syscalls)
        names.insert(names.end(), rule.names.begin(), rule.names.end());
    CHECK(names == std::vector<std::string>{"read", "write", "chroot", "reboot"});
#if defined(__x86_64__)
    CHECK(spec.linux_config.seccomp->architectures ==
          std::vector<std::string>{"SCMP_ARCH_X86_64", "SCMP_ARCH_X86"});
#endif
    options.seccomp_profile = R"({"defaultAction": "SCMP_ACT_FLY", "syscalls": []})";
    CHECK(made_error(options, busybox_image(), root.place()).starts_with("--security-opt seccomp"));
    options.seccomp_profile = "{";
    CHECK(made_error(options, busybox_image(), root.place()).starts_with("--security-opt seccomp"));
}

TEST_CASE("--init runs the command under keel's container init, bind-mounted read-only") {
    ImageRoot root;
    oci::Spec spec = made({.init = containers::InitProcess::Keel, .command = {"top"}},
                          busybox_image(), root.place());
    CHECK(spec.process->args ==
          std::vector<std::string>{"/sbin/keel-init", "init", "--container", "--", "top"});
    const oci::Mount* init = find_mount(spec, "/sbin/keel-init");
    REQUIRE(init);
    CHECK(init->source == root.dir / "keel");
    CHECK((init->parsed.flags & MS_RDONLY));
    // Never a directory (a binary re-executed from a detached binding reads
    // as "/").
    ContainerPlace place = root.place();
    place.init_binary = "/";
    CHECK(made_error({.init = containers::InitProcess::Keel}, busybox_image(), place)
              .starts_with("--init"));
}

TEST_CASE("labels become annotations; -t asks for a terminal") {
    ImageRoot root;
    oci::Spec spec = made({.terminal = Terminal::Allocate, .labels = {{"tier", "web"}}},
                          busybox_image(), root.place());
    CHECK(spec.annotations.at("tier") == "web");
    CHECK(spec.process->terminal);
}

TEST_CASE("sizes take b, k, m, g and t units in any case, and fractions") {
    CHECK(parse_memory_size("1024") == 1024);
    CHECK(parse_memory_size("512k") == 512 << 10);
    CHECK(parse_memory_size("64MB") == 64 << 20);
    CHECK(parse_memory_size("1.5g") == int64_t(3) << 29);
    CHECK(parse_memory_size("2T") == int64_t(2) << 40);
    CHECK(parse_memory_size("100b") == 100);
    for (std::string_view bad :
         {"", "m", "12x", "-5m", "1..5g", "1.g", ".5g", "99999999999999t", "1 g", "0x10"})
        CHECK_MESSAGE(!parse_memory_size(bad), bad);
}

TEST_CASE("--cpus takes decimals down to 0.01") {
    CHECK(parse_cpus("2") == 2000000);
    CHECK(parse_cpus("0.5") == 500000);
    CHECK(parse_cpus("0.01") == 10000);
    for (std::string_view bad : {"", "0", "0.001", "abc", "1.", "-1", "1,5"})
        CHECK_MESSAGE(!parse_cpus(bad), bad);
}

TEST_CASE("--ulimit reads NAME=SOFT[:HARD] with -1 for unlimited") {
    oci::Rlimit nofile = *parse_ulimit("nofile=1024:2048");
    CHECK(nofile.resource == RLIMIT_NOFILE);
    CHECK(nofile.soft == 1024);
    CHECK(nofile.hard == 2048);
    oci::Rlimit core = *parse_ulimit("core=-1");
    CHECK(core.resource == RLIMIT_CORE);
    CHECK(core.soft == UINT64_MAX);
    CHECK(core.hard == UINT64_MAX);
    for (std::string_view bad : {"nofile", "=1", "fly=1", "nofile=", "nofile=a", "nofile=2:1",
                                 "nofile=1:", "nofile=1:2:3"})
        CHECK_MESSAGE(!parse_ulimit(bad), bad);
}

TEST_CASE("-v takes absolute HOST:CONTAINER with ro, rw and idmap; named volumes are refused") {
    VolumeMount volume = *parse_volume("/srv:/data:ro");
    CHECK(volume.source == "/srv");
    CHECK(volume.destination == "/data");
    CHECK(volume.access == Access::ReadOnly);
    CHECK(volume.ids == VolumeIds::Host);
    CHECK(parse_volume("/a:/b")->access == Access::ReadWrite);
    VolumeMount mapped = *parse_volume("/a:/b:idmap,ro");
    CHECK(mapped.ids == VolumeIds::Idmapped);
    CHECK(mapped.access == Access::ReadOnly);
    CHECK(parse_volume("/a:/b:rx").error().to_string().find("(ro, rw, idmap)") !=
          std::string::npos);
    auto named = parse_volume("data:/data");
    REQUIRE_FALSE(named);
    CHECK(named.error().to_string().find("named volumes are not supported") != std::string::npos);
    for (std::string_view bad : {"", "/a", "/a:b", "/a:/b:rx", "/a:/b:ro:z", ":/b"})
        CHECK_MESSAGE(!parse_volume(bad), bad);
}

TEST_CASE("--tmpfs takes an absolute path and options") {
    TmpfsMount tmpfs = *parse_tmpfs("/run:size=64m,mode=1777");
    CHECK(tmpfs.destination == "/run");
    CHECK(tmpfs.options == std::vector<std::string>{"size=64m", "mode=1777"});
    CHECK(parse_tmpfs("/tmp")->options.empty());
    CHECK_FALSE(parse_tmpfs("tmp"));
    CHECK_FALSE(parse_tmpfs(""));
}

TEST_CASE("an env file has KEY=VALUE lines, comments, and KEYs taken from the caller") {
    auto lookup = [](std::string_view key) -> std::optional<std::string> {
        if (key == "FROM_HOST")
            return "yes";
        return std::nullopt;
    };
    auto env = parse_env_file("# comment\n\nA=1\r\n  B=two words\nFROM_HOST\nMISSING\nC=\n",
                              "app.env", lookup);
    REQUIRE_MESSAGE(env, (env ? std::string() : env.error().to_string()));
    CHECK(*env == std::vector<std::string>{"A=1", "B=two words", "FROM_HOST=yes", "C="});
    auto bad = parse_env_file("A=1\nBAD KEY=2\n", "app.env", lookup);
    REQUIRE_FALSE(bad);
    CHECK(bad.error().to_string() == "app.env:2: bad variable name `BAD KEY`");
    CHECK_FALSE(parse_env_file("=x\n", "e", nullptr));
}

TEST_CASE("ids are 64 random hex digits and made-up names are valid names") {
    std::string a = *generate_container_id();
    std::string b = *generate_container_id();
    CHECK(a.size() == 64);
    CHECK(a != b);
    CHECK(std::ranges::all_of(
        a, [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }));
    std::string name = *generate_name();
    CHECK(name.find('_') != std::string::npos);
    CHECK(check_container_name(name));
}

TEST_CASE("container names follow Docker's rule") {
    for (std::string_view good : {"web", "a1", "my_app.v2-3", "X_"})
        CHECK_MESSAGE(check_container_name(good), good);
    for (std::string_view bad : {"", "a", "_web", "-web", "we b", "web/1", "wéb"})
        CHECK_MESSAGE(!check_container_name(bad), bad);
}

TEST_CASE("the container's resolv.conf drops loopback nameservers unless it has the host's "
          "network") {
    std::string host = "search lan\nnameserver 127.0.0.53\nnameserver 10.0.0.1\noptions edns0\n";
    CHECK(resolv_conf_for(host, NetworkMode::Bridge) ==
          "search lan\nnameserver 10.0.0.1\noptions edns0\n");
    CHECK(resolv_conf_for(host, NetworkMode::Host) == host);
    CHECK(resolv_conf_for("nameserver 127.0.0.53\n", NetworkMode::None) ==
          "nameserver 8.8.8.8\nnameserver 8.8.4.4\n");
    CHECK(hosts_file("web").find("127.0.0.1\tlocalhost\n") == 0);
    CHECK(hosts_file("web").ends_with("\tweb\n"));
}

TEST_CASE("the /etc files are written where the mounts expect them") {
    ImageRoot root;
    ContainerPlace place = root.place();
    REQUIRE(write_etc_files(place, "web", NetworkMode::Bridge));
    CHECK(read_file(place.files_dir + "/hostname") == "web\n");
    CHECK(read_file(place.files_dir + "/hosts")->ends_with("\tweb\n"));
    CHECK(path_exists(place.files_dir + "/resolv.conf"));
}

TEST_CASE("durations are read as Go writes them") {
    CHECK(parse_duration("30s") == std::chrono::milliseconds(30000));
    CHECK(parse_duration("1h2m3s") == std::chrono::milliseconds(3723000));
    CHECK(parse_duration("1.5s") == std::chrono::milliseconds(1500));
    CHECK(parse_duration("0") == std::chrono::milliseconds(0));
    CHECK(parse_duration("2000us") == std::chrono::milliseconds(2));
    for (std::string_view bad : {"", "10", "s", "1x", "1.s", "-1s", "1s2", "99999999h"})
        CHECK_MESSAGE(!parse_duration(bad), bad);
}

TEST_CASE("--sdnotify=container passes the notify socket in at Podman's path") {
    ImageRoot root;
    RunOptions options;
    REQUIRE(pass_notify_socket(options, "/run/systemd/notify"));
    oci::Spec spec = made(options, busybox_image(), root.place());
    bool mounted = false;
    for (const oci::Mount& mount : spec.mounts)
        if (mount.destination == "/run/notify/notify.sock" && mount.source == "/run/systemd/notify")
            mounted = true;
    CHECK(mounted);
    CHECK(std::ranges::count(spec.process->env, "NOTIFY_SOCKET=/run/notify/notify.sock") == 1);

    RunOptions refused;
    auto abstract = pass_notify_socket(refused, "@keel/notify");
    REQUIRE_FALSE(abstract);
    CHECK(abstract.error().to_string().find("abstract socket `@keel/notify`") != std::string::npos);
    CHECK_FALSE(pass_notify_socket(refused, "notify.sock"));
    CHECK_FALSE(pass_notify_socket(refused, ""));
    CHECK(refused.volumes.empty());
    CHECK(refused.env.empty());
}

TEST_CASE("--sdnotify=conmon says ready with keel's own pid as the main pid") {
    std::string message = conmon_ready_message(4242);
    Result<NotifyMessage> parsed = parse_notify_message(message);
    REQUIRE(parsed);
    CHECK(parsed->ready);
    CHECK(parsed->main_pid == 4242);
}
