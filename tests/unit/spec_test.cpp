// Tests for containers/spec.h: config.json as runc writes it, every refusal
// with the JSON path it names, the seccomp section, and the capability and
// rlimit name tables against the kernel's numbers.
#include "containers/spec.h"

#include "base/strings.h"
#include "base/sys.h"
#include "tests/unit/temp_dir.h"

#include <doctest/doctest.h>

#include <linux/capability.h>
#include <sys/mount.h>
#ifndef MOUNT_ATTR_RDONLY
#include <linux/mount.h> // musl's <sys/mount.h> lacks mount_setattr(2)'s names
#endif
#include <sys/personality.h>
#include <sys/resource.h>

using namespace keel;
using namespace keel::oci;
using keel::testing::TempDir;

namespace {

// What `runc spec` writes (runc 1.2).
constexpr std::string_view kRuncSpec = R"({
	"ociVersion": "1.2.0",
	"process": {
		"terminal": true,
		"user": {
			"uid": 0,
			"gid": 0
		},
		"args": [
			"sh"
		],
		"env": [
			"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
			"TERM=xterm"
		],
		"cwd": "/",
		"capabilities": {
			"bounding": [
				"CAP_AUDIT_WRITE",
				"CAP_KILL",
				"CAP_NET_BIND_SERVICE"
			],
			"effective": [
				"CAP_AUDIT_WRITE",
				"CAP_KILL",
				"CAP_NET_BIND_SERVICE"
			],
			"permitted": [
				"CAP_AUDIT_WRITE",
				"CAP_KILL",
				"CAP_NET_BIND_SERVICE"
			]
		},
		"rlimits": [
			{
				"type": "RLIMIT_NOFILE",
				"hard": 1024,
				"soft": 1024
			}
		],
		"noNewPrivileges": true
	},
	"root": {
		"path": "rootfs",
		"readonly": true
	},
	"hostname": "runc",
	"mounts": [
		{
			"destination": "/proc",
			"type": "proc",
			"source": "proc"
		},
		{
			"destination": "/dev",
			"type": "tmpfs",
			"source": "tmpfs",
			"options": [
				"nosuid",
				"strictatime",
				"mode=755",
				"size=65536k"
			]
		},
		{
			"destination": "/dev/pts",
			"type": "devpts",
			"source": "devpts",
			"options": [
				"nosuid",
				"noexec",
				"newinstance",
				"ptmxmode=0666",
				"mode=0620",
				"gid=5"
			]
		},
		{
			"destination": "/dev/shm",
			"type": "tmpfs",
			"source": "shm",
			"options": [
				"nosuid",
				"noexec",
				"nodev",
				"mode=1777",
				"size=65536k"
			]
		},
		{
			"destination": "/dev/mqueue",
			"type": "mqueue",
			"source": "mqueue",
			"options": [
				"nosuid",
				"noexec",
				"nodev"
			]
		},
		{
			"destination": "/sys",
			"type": "sysfs",
			"source": "sysfs",
			"options": [
				"nosuid",
				"noexec",
				"nodev",
				"ro"
			]
		},
		{
			"destination": "/sys/fs/cgroup",
			"type": "cgroup",
			"source": "cgroup",
			"options": [
				"nosuid",
				"noexec",
				"nodev",
				"relatime",
				"ro"
			]
		}
	],
	"linux": {
		"resources": {
			"devices": [
				{
					"allow": false,
					"access": "rwm"
				}
			]
		},
		"namespaces": [
			{
				"type": "pid"
			},
			{
				"type": "network"
			},
			{
				"type": "ipc"
			},
			{
				"type": "uts"
			},
			{
				"type": "mount"
			},
			{
				"type": "cgroup"
			}
		],
		"maskedPaths": [
			"/proc/acpi",
			"/proc/asound",
			"/proc/kcore",
			"/proc/keys",
			"/proc/latency_stats",
			"/proc/timer_list",
			"/proc/timer_stats",
			"/proc/sched_debug",
			"/sys/firmware",
			"/proc/scsi"
		],
		"readonlyPaths": [
			"/proc/bus",
			"/proc/fs",
			"/proc/irq",
			"/proc/sys",
			"/proc/sysrq-trigger"
		]
	}
})";

constexpr CapabilityMask bit(int capability) {
    return CapabilityMask(1) << capability;
}

// A minimal valid config with `members` appended: since of duplicate keys
// the last wins, members may also replace ociVersion or root.
std::string config_json(std::string_view members = "") {
    std::string text = R"({"ociVersion": "1.2.0", "root": {"path": "rootfs"})";
    if (!members.empty())
        text += cat(", ", members);
    return text + "}";
}

// A config whose process has `members` after args ["sh"] and cwd "/".
std::string with_process(std::string_view members) {
    std::string process = R"("process": {"args": ["sh"], "cwd": "/")";
    if (!members.empty())
        process += cat(", ", members);
    return config_json(process + "}");
}

// A config with `members` in its linux section.
std::string with_linux(std::string_view members) {
    return config_json(cat(R"("linux": {)", members, "}"));
}

Spec parsed_spec(const std::string& text) {
    Result<Spec> spec = parse_spec(text);
    REQUIRE_MESSAGE(spec, (spec ? "" : spec.error().to_string()));
    return std::move(*spec);
}

std::string spec_error(const std::string& text) {
    Result<Spec> spec = parse_spec(text);
    REQUIRE_MESSAGE(!spec, "expected an error from ", text);
    return spec.error().to_string();
}

} // namespace

TEST_CASE("runc's default config.json is read whole") {
    Spec spec = parsed_spec(std::string(kRuncSpec));
    CHECK(spec.oci_version == "1.2.0");

    REQUIRE(spec.process);
    const Process& process = *spec.process;
    CHECK(process.terminal);
    CHECK(process.user.uid == 0);
    CHECK(process.user.gid == 0);
    CHECK_FALSE(process.user.umask);
    CHECK(process.args == std::vector<std::string>{"sh"});
    CHECK(process.env ==
          std::vector<std::string>{
              "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"});
    CHECK(process.cwd == "/");
    REQUIRE(process.capabilities);
    CapabilityMask runc_set = bit(CAP_AUDIT_WRITE) | bit(CAP_KILL) | bit(CAP_NET_BIND_SERVICE);
    CHECK(process.capabilities->bounding == runc_set);
    CHECK(process.capabilities->effective == runc_set);
    CHECK(process.capabilities->permitted == runc_set);
    CHECK(process.capabilities->inheritable == 0);
    CHECK(process.capabilities->ambient == 0);
    REQUIRE(process.rlimits.size() == 1);
    CHECK(process.rlimits[0].resource == RLIMIT_NOFILE);
    CHECK(process.rlimits[0].soft == 1024);
    CHECK(process.rlimits[0].hard == 1024);
    CHECK(process.no_new_privileges);
    CHECK_FALSE(process.oom_score_adj);

    CHECK(spec.root.path == "rootfs");
    CHECK(spec.root.readonly);
    CHECK(spec.hostname == "runc");
    CHECK(spec.domainname == "");

    REQUIRE(spec.mounts.size() == 7);
    CHECK(spec.mounts[0].destination == "/proc");
    CHECK(spec.mounts[0].type == "proc");
    CHECK(spec.mounts[0].source == "proc");
    CHECK(spec.mounts[0].options.empty());
    CHECK(spec.mounts[0].parsed.flags == 0);
    const Mount& dev = spec.mounts[1];
    CHECK(dev.parsed.flags == (MS_NOSUID | MS_STRICTATIME));
    CHECK(dev.parsed.data == "mode=755,size=65536k");
    CHECK(dev.options.size() == 4);
    CHECK_FALSE(dev.is_bind());
    const Mount& pts = spec.mounts[2];
    CHECK(pts.parsed.flags == (MS_NOSUID | MS_NOEXEC));
    CHECK(pts.parsed.data == "newinstance,ptmxmode=0666,mode=0620,gid=5");
    CHECK(spec.mounts[5].parsed.flags == (MS_NOSUID | MS_NOEXEC | MS_NODEV | MS_RDONLY));
    CHECK(spec.mounts[6].parsed.flags ==
          (MS_NOSUID | MS_NOEXEC | MS_NODEV | MS_RELATIME | MS_RDONLY));
    CHECK(spec.mounts[6].parsed.data == "");

    const LinuxConfig& linux_config = spec.linux_config;
    REQUIRE(linux_config.namespaces.size() == 6);
    CHECK(linux_config.namespaces[0].type == NamespaceType::Pid);
    CHECK(linux_config.namespaces[1].type == NamespaceType::Network);
    CHECK(linux_config.namespaces[5].type == NamespaceType::Cgroup);
    CHECK(linux_config.namespaces[5].path == "");
    CHECK(linux_config.find_namespace(NamespaceType::Uts) == &linux_config.namespaces[3]);
    CHECK(linux_config.find_namespace(NamespaceType::User) == nullptr);
    CHECK(linux_config.find_namespace(NamespaceType::Time) == nullptr);
    REQUIRE(linux_config.resources);
    REQUIRE(linux_config.resources->devices.size() == 1);
    const DeviceRule& deny_all = linux_config.resources->devices[0];
    CHECK_FALSE(deny_all.allow);
    CHECK(deny_all.type == 'a');
    CHECK_FALSE(deny_all.major);
    CHECK_FALSE(deny_all.minor);
    CHECK(deny_all.access == "rwm");
    CHECK_FALSE(linux_config.resources->memory);
    CHECK_FALSE(linux_config.resources->pids_limit);
    CHECK(linux_config.masked_paths.size() == 10);
    CHECK(linux_config.masked_paths.back() == "/proc/scsi");
    CHECK(linux_config.readonly_paths.size() == 5);
    CHECK(linux_config.readonly_paths[4] == "/proc/sysrq-trigger");
    CHECK_FALSE(linux_config.seccomp);
    CHECK(linux_config.rootfs_propagation == Propagation::Unchanged);
    CHECK(linux_config.cgroups_path == "");
    CHECK(spec.hooks.poststop.empty());
    CHECK(spec.annotations.empty());
}

TEST_CASE("a minimal config has no process, no linux section and the defaults") {
    Spec spec = parsed_spec(config_json());
    CHECK_FALSE(spec.process);
    CHECK(spec.root.path == "rootfs");
    CHECK_FALSE(spec.root.readonly);
    CHECK(spec.mounts.empty());
    CHECK(spec.linux_config.namespaces.empty());
    CHECK_FALSE(spec.linux_config.resources);
    CHECK_FALSE(spec.linux_config.personality);
}

TEST_CASE("unknown members are ignored, null ones are absent, and of duplicates the last wins") {
    Spec spec = parsed_spec(config_json(R"("vendor.example": {"anything": [1, 2]},
        "hostname": "first", "hostname": "second", "domainname": null,
        "process": {"args": ["sh"], "cwd": "/", "ioPriority": {"class": "IOPRIO_CLASS_RT"},
                    "oomScoreAdj": null, "capabilities": null, "user": {"uid": 7, "extra": 1}},
        "linux": {"intelRdt": {"closID": "x"}, "resources": {"network": {"classID": 3}}}
    )"));
    CHECK(spec.hostname == "second");
    CHECK(spec.domainname == "");
    REQUIRE(spec.process);
    CHECK_FALSE(spec.process->oom_score_adj);
    CHECK_FALSE(spec.process->capabilities);
    CHECK(spec.process->user.uid == 7);
    CHECK(spec.linux_config.resources);
}

TEST_CASE("ociVersion 1.0.0 to 1.2.x is read, with pre-release and build suffixes") {
    for (const char* version :
         {"1.0.0", "1.0.2-dev", "1.0.0-rc5", "1.1.0-rc.1", "1.2.0", "1.2.1", "1.0.1+build.7"}) {
        CAPTURE(version);
        CHECK(parsed_spec(config_json(cat(R"("ociVersion": ")", version, R"(")"))).oci_version ==
              version);
    }
}

TEST_CASE("other ociVersions are refused, naming the version") {
    CHECK(spec_error(config_json(R"("ociVersion": "1.3.0")")) ==
          "ociVersion: unsupported version `1.3.0` (keel reads 1.0.0 to 1.2.x)");
    for (const char* version : {"0.9.0", "2.0.0", "1.10.0", "1.0", "1.0.", "1.0.0-", "1.00.0",
                                "1.0.01", "v1.0.0", "1.0.0x", ""}) {
        CAPTURE(version);
        CHECK(spec_error(config_json(cat(R"("ociVersion": ")", version, R"(")")))
                  .starts_with("ociVersion: unsupported version `"));
    }
    CHECK(spec_error(R"({"root": {"path": "rootfs"}})") == "ociVersion: missing");
    CHECK(spec_error(config_json(R"("ociVersion": 1.2)")) ==
          "ociVersion: expected a string, got a number");
}

TEST_CASE("a document that is no JSON object is refused") {
    CHECK(spec_error("[]") == "expected an object, got an array");
    CHECK(spec_error("").starts_with("line 1, column 1: "));
    CHECK(spec_error(R"({"ociVersion": "1.2.0",})").starts_with("line 1, column "));
}

TEST_CASE("root and its path are required on Linux") {
    CHECK(spec_error(R"({"ociVersion": "1.2.0"})") == "root: missing");
    CHECK(spec_error(config_json(R"("root": {"readonly": true})")) == "root.path: missing");
    CHECK(spec_error(config_json(R"("root": {"path": ""})")) == "root.path: must not be empty");
    CHECK(spec_error(config_json(R"("root": "rootfs")")) ==
          "root: expected an object, got a string");
    CHECK(parsed_spec(config_json(R"("root": {"path": "/var/lib/x/rootfs", "readonly": false})"))
              .root.path == "/var/lib/x/rootfs");
}

TEST_CASE("process needs args to run and an absolute cwd") {
    CHECK(spec_error(config_json(R"("process": {"cwd": "/"})")) == "process.args: missing");
    CHECK(spec_error(with_process(R"("args": [])")) ==
          "process.args: must name the program to run");
    CHECK(spec_error(with_process(R"("args": ["sh", 3])")) ==
          "process.args[1]: expected a string, got a number");
    CHECK(spec_error(config_json(R"("process": {"args": ["sh"]})")) == "process.cwd: missing");
    CHECK(spec_error(with_process(R"("cwd": "tmp")")) == "process.cwd: must be an absolute path");
    CHECK(spec_error(with_process(R"("args": ["s\u0000h"])")) ==
          "process.args[0]: contains a NUL character");
    CHECK(spec_error(with_process(R"("env": ["A=1", null])")) ==
          "process.env[1]: expected a string, got null");
    CHECK(spec_error(with_process(R"("terminal": "yes")")) ==
          "process.terminal: expected a boolean, got a string");
    CHECK(spec_error(config_json(R"("process": ["sh"])")) ==
          "process: expected an object, got an array");
}

TEST_CASE("process.user, umask, console size and OOM score are read within their ranges") {
    Spec spec = parsed_spec(with_process(R"(
        "user": {"uid": 4294967294, "gid": 100, "umask": 18, "additionalGids": [5, 10]},
        "consoleSize": {"height": 25, "width": 80},
        "oomScoreAdj": -1000, "apparmorProfile": "docker-default", "selinuxLabel": "l"
    )"));
    const Process& process = *spec.process;
    CHECK(process.user.uid == 4294967294u);
    CHECK(process.user.gid == 100);
    CHECK(process.user.umask == 022);
    CHECK(process.user.additional_gids == std::vector<uint32_t>{5, 10});
    REQUIRE(process.console_size);
    CHECK(process.console_size->height == 25);
    CHECK(process.console_size->width == 80);
    CHECK(process.oom_score_adj == -1000);
    CHECK(process.apparmor_profile == "docker-default");
    CHECK(process.selinux_label == "l");

    CHECK(spec_error(with_process(R"("user": {"uid": 4294967295})")) ==
          "process.user.uid: 4294967295 is out of range (0 to 4294967294)");
    CHECK(spec_error(with_process(R"("user": {"gid": -1})")) ==
          "process.user.gid: -1 is out of range (0 to 4294967294)");
    CHECK(spec_error(with_process(R"("user": {"uid": 1.5})")) ==
          "process.user.uid: expected an integer, got 1.5");
    CHECK(spec_error(with_process(R"("user": {"additionalGids": [1, 4294967295]})")) ==
          "process.user.additionalGids[1]: 4294967295 is out of range (0 to 4294967294)");
    CHECK(spec_error(with_process(R"("user": {"umask": 512})")) ==
          "process.user.umask: 512 is out of range (0 to 511)");
    CHECK(spec_error(with_process(R"("oomScoreAdj": 1001)")) ==
          "process.oomScoreAdj: 1001 is out of range (-1000 to 1000)");
    CHECK(spec_error(with_process(R"("consoleSize": {"height": -1})")) ==
          "process.consoleSize.height: -1 is out of range (0 to 4294967295)");
}

TEST_CASE("capability sets become bit masks, and unknown capabilities are refused") {
    Spec spec = parsed_spec(with_process(R"("capabilities": {
        "bounding": ["CAP_CHOWN", "CAP_SYS_ADMIN", "CAP_CHECKPOINT_RESTORE"],
        "inheritable": ["CAP_BPF"], "ambient": ["CAP_NET_RAW"]})"));
    const Capabilities& capabilities = *spec.process->capabilities;
    CHECK(capabilities.bounding == (bit(0) | bit(21) | bit(40)));
    CHECK(capabilities.inheritable == bit(39));
    CHECK(capabilities.ambient == bit(13));
    CHECK(capabilities.effective == 0);
    CHECK(capabilities.permitted == 0);

    CHECK(spec_error(with_process(R"("capabilities": {
        "bounding": ["CAP_CHOWN", "CAP_KILL", "CAP_SETUID", "CAP_FOO"]})")) ==
          "process.capabilities.bounding[3]: unknown capability `CAP_FOO`");
    CHECK(spec_error(with_process(R"("capabilities": {"ambient": ["cap_chown"]})")) ==
          "process.capabilities.ambient[0]: unknown capability `cap_chown`");
    CHECK(spec_error(with_process(R"("capabilities": {"permitted": "CAP_CHOWN"})")) ==
          "process.capabilities.permitted: expected an array, got a string");
}

TEST_CASE("rlimits are resolved to RLIMIT numbers; unknown, repeated and inverted ones are "
          "refused") {
    Spec spec = parsed_spec(with_process(R"("rlimits": [
        {"type": "RLIMIT_CORE", "soft": 0, "hard": 18446744073709551615},
        {"type": "RLIMIT_NPROC", "soft": 10, "hard": 20}])"));
    REQUIRE(spec.process->rlimits.size() == 2);
    CHECK(spec.process->rlimits[0].resource == RLIMIT_CORE);
    CHECK(spec.process->rlimits[0].hard == UINT64_MAX);
    CHECK(spec.process->rlimits[1].resource == RLIMIT_NPROC);
    CHECK(spec.process->rlimits[1].soft == 10);

    CHECK(spec_error(with_process(R"("rlimits": [
        {"type": "RLIMIT_CPU", "soft": 1, "hard": 1},
        {"type": "RLIMIT_AS", "soft": 1, "hard": 1},
        {"type": "RLIMIT_FOO", "soft": 1, "hard": 1}])")) ==
          "process.rlimits[2].type: unknown rlimit `RLIMIT_FOO`");
    CHECK(spec_error(with_process(R"("rlimits": [
        {"type": "RLIMIT_NOFILE", "soft": 1, "hard": 1},
        {"type": "RLIMIT_NOFILE", "soft": 2, "hard": 2}])")) ==
          "process.rlimits[1].type: `RLIMIT_NOFILE` is given twice");
    CHECK(spec_error(with_process(R"("rlimits": [{"type": "RLIMIT_NOFILE", "soft": 2048,
        "hard": 1024}])")) == "process.rlimits[0].soft: 2048 is above the hard limit 1024");
    CHECK(spec_error(with_process(R"("rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1}])")) ==
          "process.rlimits[0].soft: missing");
    CHECK(spec_error(with_process(R"("rlimits": [{"type": "RLIMIT_NOFILE", "soft": -1,
        "hard": 1}])")) == "process.rlimits[0].soft: -1 is out of range (0 to "
                           "18446744073709551615)");
}

TEST_CASE("mounts keep their options as written and parsed, with id mappings") {
    Spec spec = parsed_spec(config_json(R"("mounts": [
        {"destination": "/data", "source": "./data", "options": ["rbind", "rro", "rprivate"],
         "uidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
         "gidMappings": [{"containerID": 0, "hostID": 200000, "size": 1}]},
        {"destination": "/tmp", "type": "tmpfs", "options": ["tmpcopyup", "mode=1777"]}])"));
    REQUIRE(spec.mounts.size() == 2);
    const Mount& data = spec.mounts[0];
    CHECK(data.source == "./data");
    CHECK(data.type == "");
    CHECK(data.is_bind());
    CHECK(data.options == std::vector<std::string>{"rbind", "rro", "rprivate"});
    CHECK(data.parsed.flags == (MS_BIND | MS_REC));
    CHECK(data.parsed.recursive_set == MOUNT_ATTR_RDONLY);
    CHECK(data.parsed.propagation == Propagation::Private);
    CHECK(data.parsed.propagation_recursive);
    REQUIRE(data.uid_mappings.size() == 1);
    CHECK(data.uid_mappings[0].container_id == 0);
    CHECK(data.uid_mappings[0].host_id == 100000);
    CHECK(data.uid_mappings[0].size == 65536);
    REQUIRE(data.gid_mappings.size() == 1);
    CHECK(data.gid_mappings[0].host_id == 200000);
    CHECK(spec.mounts[1].parsed.copy_up);
    CHECK(spec.mounts[1].parsed.data == "mode=1777");
    CHECK(parsed_spec(config_json(R"("mounts": [{"destination": "/x", "type": "bind"}])"))
              .mounts[0]
              .is_bind());
}

TEST_CASE("a mount needs an absolute destination") {
    CHECK(spec_error(config_json(R"("mounts": [{"destination": "proc", "type": "proc"}])")) ==
          "mounts[0].destination: must be an absolute path");
    CHECK(spec_error(config_json(R"("mounts": [{"destination": "/a"}, {"type": "proc"}])")) ==
          "mounts[1].destination: missing");
    CHECK(spec_error(config_json(R"("mounts": [{"destination": "/a", "options": "ro"}])")) ==
          "mounts[0].options: expected an array, got a string");
    CHECK(spec_error(config_json(R"("mounts": [{"destination": "/a", "uidMappings":
        [{"containerID": 0, "hostID": 1, "size": 0}]}])")) ==
          "mounts[0].uidMappings[0].size: 0 is out of range (1 to 4294967295)");
    CHECK(spec_error(config_json(R"("mounts": {"destination": "/a"})")) ==
          "mounts: expected an array, got an object");
}

TEST_CASE("hooks are read in their six lists; each needs an absolute path and a positive "
          "timeout") {
    Spec spec = parsed_spec(config_json(R"("hooks": {
        "prestart": [{"path": "/bin/a"}],
        "createRuntime": [{"path": "/bin/b", "args": ["b", "x"], "env": ["K=v"], "timeout": 5}],
        "createContainer": [{"path": "/bin/c"}], "startContainer": [{"path": "/bin/d"}],
        "poststart": [{"path": "/bin/e"}], "poststop": [{"path": "/bin/f"}, {"path": "/bin/g"}]})"));
    CHECK(spec.hooks.prestart[0].path == "/bin/a");
    CHECK_FALSE(spec.hooks.prestart[0].timeout);
    const Hook& runtime = spec.hooks.create_runtime.at(0);
    CHECK(runtime.args == std::vector<std::string>{"b", "x"});
    CHECK(runtime.env == std::vector<std::string>{"K=v"});
    CHECK(runtime.timeout == 5u);
    CHECK(spec.hooks.create_container.at(0).path == "/bin/c");
    CHECK(spec.hooks.start_container.at(0).path == "/bin/d");
    CHECK(spec.hooks.poststart.at(0).path == "/bin/e");
    REQUIRE(spec.hooks.poststop.size() == 2);
    CHECK(spec.hooks.poststop[1].path == "/bin/g");

    CHECK(spec_error(config_json(R"("hooks": {"poststop": [{"path": "/bin/a", "timeout": 0}]})")) ==
          "hooks.poststop[0].timeout: 0 is out of range (1 to 4294967295)");
    CHECK(spec_error(config_json(R"("hooks": {"createRuntime": [{"path": "hook"}]})")) ==
          "hooks.createRuntime[0].path: must be an absolute path");
}

TEST_CASE("annotations are a map of strings") {
    Spec spec = parsed_spec(config_json(R"("annotations": {"org.example.key": "value", "b": ""})"));
    CHECK(spec.annotations ==
          std::map<std::string, std::string>{{"org.example.key", "value"}, {"b", ""}});
    CHECK(spec_error(config_json(R"("annotations": {"a": 1})")) ==
          "annotations.a: expected a string, got a number");
}

TEST_CASE("namespaces: new or joined by an absolute path, each type once, no unknown types") {
    Spec spec = parsed_spec(with_linux(R"("namespaces": [
        {"type": "user"}, {"type": "time"}, {"type": "network", "path": "/run/netns/a"}])"));
    const LinuxConfig& linux_config = spec.linux_config;
    REQUIRE(linux_config.namespaces.size() == 3);
    CHECK(linux_config.namespaces[0].type == NamespaceType::User);
    CHECK(linux_config.namespaces[1].type == NamespaceType::Time);
    const Namespace* network = linux_config.find_namespace(NamespaceType::Network);
    REQUIRE(network);
    CHECK(network->path == "/run/netns/a");

    CHECK(spec_error(with_linux(R"("namespaces": [{"type": "pid"}, {"type": "foo"}])")) ==
          "linux.namespaces[1].type: unknown namespace type `foo` (expected pid, network, mount, "
          "ipc, uts, user, cgroup or time)");
    CHECK(spec_error(with_linux(R"("namespaces": [{"type": "pid"}, {"type": "ipc"},
        {"type": "pid", "path": "/proc/1/ns/pid"}])")) ==
          "linux.namespaces[2].type: `pid` is given twice");
    CHECK(spec_error(with_linux(R"("namespaces": [{"type": "ipc", "path": "ns/ipc"}])")) ==
          "linux.namespaces[0].path: must be an absolute path");
    CHECK(spec_error(with_linux(R"("namespaces": [{"path": "/a"}])")) ==
          "linux.namespaces[0].type: missing");
}

TEST_CASE("user namespace id mappings are read") {
    Spec spec = parsed_spec(with_linux(R"("uidMappings": [{"containerID": 0, "hostID": 1000,
        "size": 1}, {"containerID": 1, "hostID": 100000, "size": 65535}],
        "gidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}])"));
    REQUIRE(spec.linux_config.uid_mappings.size() == 2);
    CHECK(spec.linux_config.uid_mappings[1].container_id == 1);
    CHECK(spec.linux_config.uid_mappings[1].host_id == 100000);
    CHECK(spec.linux_config.uid_mappings[1].size == 65535);
    CHECK(spec.linux_config.gid_mappings.size() == 1);
    CHECK(spec_error(with_linux(R"("gidMappings": [{"containerID": 0, "size": 1}])")) ==
          "linux.gidMappings[0].hostID: missing");
}

TEST_CASE("devices: type, absolute path, numbers, mode and owner") {
    Spec spec = parsed_spec(with_linux(R"("devices": [
        {"type": "c", "path": "/dev/fuse", "major": 10, "minor": 229, "fileMode": 438,
         "uid": 0, "gid": 0},
        {"type": "p", "path": "/dev/fifo"}])"));
    REQUIRE(spec.linux_config.devices.size() == 2);
    const Device& fuse = spec.linux_config.devices[0];
    CHECK(fuse.type == 'c');
    CHECK(fuse.path == "/dev/fuse");
    CHECK(fuse.major == 10);
    CHECK(fuse.minor == 229);
    CHECK(fuse.file_mode == 0666u);
    CHECK(fuse.uid == 0u);
    CHECK(spec.linux_config.devices[1].type == 'p');
    CHECK_FALSE(spec.linux_config.devices[1].file_mode);

    CHECK(spec_error(with_linux(R"("devices": [{"type": "x", "path": "/dev/x"}])")) ==
          "linux.devices[0].type: unknown device type `x` (expected c, u, b or p)");
    CHECK(spec_error(with_linux(R"("devices": [{"type": "b", "path": "/dev/sda"}])")) ==
          "linux.devices[0].major: missing");
    CHECK(spec_error(with_linux(R"("devices": [{"type": "c", "path": "dev/x", "major": 1,
        "minor": 1}])")) == "linux.devices[0].path: must be an absolute path");
    CHECK(spec_error(with_linux(R"("devices": [{"type": "c", "path": "/dev/x", "major": 1,
        "minor": 1, "fileMode": 4096}])")) ==
          "linux.devices[0].fileMode: 4096 is out of range (0 to 4095)");
}

TEST_CASE("resources: device rules, memory, cpu, pids, block I/O, hugepages and unified") {
    Spec spec = parsed_spec(with_linux(R"("resources": {
        "devices": [{"allow": false, "access": "rwm"},
                    {"allow": true, "type": "c", "major": 1, "minor": -1, "access": "rw"}],
        "memory": {"limit": 536870912, "reservation": -1, "swap": 1073741824, "swappiness": 60,
                   "disableOOMKiller": true, "kernel": 1, "useHierarchy": false},
        "cpu": {"shares": 1024, "quota": -1, "period": 100000, "burst": 10,
                "realtimeRuntime": 950000, "realtimePeriod": 1000000,
                "cpus": "0-1", "mems": "0", "idle": 1},
        "pids": {"limit": 32},
        "blockIO": {"weight": 500, "leafWeight": 300,
                    "weightDevice": [{"major": 8, "minor": 0, "weight": 100}],
                    "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 600}],
                    "throttleWriteIOPSDevice": [{"major": 8, "minor": 16, "rate": 300}]},
        "hugepageLimits": [{"pageSize": "2MB", "limit": 209715200}],
        "unified": {"memory.high": "1G", "io.weight": "default 100"}})"));
    REQUIRE(spec.linux_config.resources);
    const Resources& resources = *spec.linux_config.resources;
    REQUIRE(resources.devices.size() == 2);
    const DeviceRule& tty = resources.devices[1];
    CHECK(tty.allow);
    CHECK(tty.type == 'c');
    CHECK(tty.major == 1);
    CHECK_FALSE(tty.minor);
    CHECK(tty.access == "rw");

    REQUIRE(resources.memory);
    CHECK(resources.memory->limit == 536870912);
    CHECK(resources.memory->reservation == -1);
    CHECK(resources.memory->swap == 1073741824);
    CHECK(resources.memory->swappiness == 60u);
    CHECK(resources.memory->disable_oom_killer);
    CHECK(resources.memory->use_hierarchy == false);
    CHECK_FALSE(resources.memory->check_before_update);

    REQUIRE(resources.cpu);
    CHECK(resources.cpu->shares == 1024u);
    CHECK(resources.cpu->quota == -1);
    CHECK(resources.cpu->period == 100000u);
    CHECK(resources.cpu->burst == 10u);
    CHECK(resources.cpu->realtime_runtime == 950000);
    CHECK(resources.cpu->realtime_period == 1000000u);
    CHECK(resources.cpu->cpus == "0-1");
    CHECK(resources.cpu->mems == "0");
    CHECK(resources.cpu->idle == 1);

    CHECK(resources.pids_limit == 32);

    REQUIRE(resources.block_io);
    CHECK(resources.block_io->weight == 500);
    CHECK(resources.block_io->leaf_weight == 300);
    REQUIRE(resources.block_io->weight_devices.size() == 1);
    CHECK(resources.block_io->weight_devices[0].major == 8);
    CHECK(resources.block_io->weight_devices[0].weight == 100);
    CHECK_FALSE(resources.block_io->weight_devices[0].leaf_weight);
    REQUIRE(resources.block_io->throttle_read_bps.size() == 1);
    CHECK(resources.block_io->throttle_read_bps[0].rate == 600);
    CHECK(resources.block_io->throttle_write_bps.empty());
    REQUIRE(resources.block_io->throttle_write_iops.size() == 1);
    CHECK(resources.block_io->throttle_write_iops[0].minor == 16);

    REQUIRE(resources.hugepage_limits.size() == 1);
    CHECK(resources.hugepage_limits[0].page_size == "2MB");
    CHECK(resources.hugepage_limits[0].limit == 209715200);
    CHECK(resources.unified.at("io.weight") == "default 100");
}

TEST_CASE("resources out of their ranges are refused with their path") {
    CHECK(spec_error(with_linux(R"("resources": {"memory": {"limit": -2}})")) ==
          "linux.resources.memory.limit: -2 is out of range (-1 to 9223372036854775807)");
    CHECK(spec_error(with_linux(R"("resources": {"memory": {"swappiness": 101}})")) ==
          "linux.resources.memory.swappiness: 101 is out of range (0 to 100)");
    CHECK(spec_error(with_linux(R"("resources": {"cpu": {"shares": -5}})")) ==
          "linux.resources.cpu.shares: -5 is out of range (0 to 18446744073709551615)");
    CHECK(spec_error(with_linux(R"("resources": {"cpu": {"idle": 2}})")) ==
          "linux.resources.cpu.idle: 2 is out of range (0 to 1)");
    CHECK(spec_error(with_linux(R"("resources": {"pids": {}})")) ==
          "linux.resources.pids.limit: missing");
    CHECK(spec_error(with_linux(R"("resources": {"blockIO": {"weight": 65536}})")) ==
          "linux.resources.blockIO.weight: 65536 is out of range (0 to 65535)");
    CHECK(spec_error(with_linux(R"("resources": {"devices": [{"access": "rwm"}]})")) ==
          "linux.resources.devices[0].allow: missing");
    CHECK(spec_error(with_linux(R"("resources": {"devices": [{"allow": true, "type": "p"}]})")) ==
          "linux.resources.devices[0].type: unknown device type `p` (expected a, c or b)");
    CHECK(spec_error(with_linux(R"("resources": {"devices": [{"allow": true,
        "access": "rwx"}]})")) ==
          "linux.resources.devices[0].access: `rwx` is not made of r, w and m");
    CHECK(spec_error(with_linux(R"("resources": {"hugepageLimits": [{"limit": 1}]})")) ==
          "linux.resources.hugepageLimits[0].pageSize: missing");
    CHECK(spec_error(with_linux(R"("resources": {"unified": {"memory.max": 5}})")) ==
          "linux.resources.unified.memory.max: expected a string, got a number");
}

TEST_CASE("a small seccomp profile is read whole") {
    Spec spec = parsed_spec(with_linux(R"("seccomp": {
        "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38,
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "flags": ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"],
        "listenerPath": "/run/seccomp.sock", "listenerMetadata": "meta",
        "syscalls": [
            {"names": ["read", "write", "exit_group"], "action": "SCMP_ACT_ALLOW"},
            {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": 4294967295, "op": "SCMP_CMP_EQ"}]},
            {"names": ["clone"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1,
             "args": [{"index": 0, "value": 2114060288, "valueTwo": 0,
                       "op": "SCMP_CMP_MASKED_EQ"}]},
            {"names": ["ptrace"], "action": "SCMP_ACT_KILL"},
            {"names": ["mount"], "action": "SCMP_ACT_NOTIFY"},
            {"names": ["reboot"], "action": "SCMP_ACT_KILL_PROCESS"}]})"));
    REQUIRE(spec.linux_config.seccomp);
    const Seccomp& seccomp = *spec.linux_config.seccomp;
    CHECK(seccomp.default_action == SeccompAction::Errno);
    CHECK(seccomp.default_errno_ret == 38u);
    CHECK(seccomp.architectures ==
          std::vector<std::string>{"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"});
    CHECK(seccomp.flags ==
          std::vector<std::string>{"SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"});
    CHECK(seccomp.listener_path == "/run/seccomp.sock");
    CHECK(seccomp.listener_metadata == "meta");
    REQUIRE(seccomp.syscalls.size() == 6);
    CHECK(seccomp.syscalls[0].names == std::vector<std::string>{"read", "write", "exit_group"});
    CHECK(seccomp.syscalls[0].action == SeccompAction::Allow);
    CHECK_FALSE(seccomp.syscalls[0].errno_ret);
    CHECK(seccomp.syscalls[0].args.empty());
    REQUIRE(seccomp.syscalls[1].args.size() == 1);
    CHECK(seccomp.syscalls[1].args[0].index == 0);
    CHECK(seccomp.syscalls[1].args[0].value == 4294967295u);
    CHECK(seccomp.syscalls[1].args[0].value_two == 0);
    CHECK(seccomp.syscalls[1].args[0].op == SeccompOperator::Equal);
    CHECK(seccomp.syscalls[2].action == SeccompAction::Errno);
    CHECK(seccomp.syscalls[2].errno_ret == 1u);
    CHECK(seccomp.syscalls[2].args[0].op == SeccompOperator::MaskedEqual);
    CHECK(seccomp.syscalls[2].args[0].value == 2114060288u);
    CHECK(seccomp.syscalls[3].action == SeccompAction::KillThread);
    CHECK(seccomp.syscalls[4].action == SeccompAction::Notify);
    CHECK(seccomp.syscalls[5].action == SeccompAction::KillProcess);
}

TEST_CASE("every seccomp action and operator name is read back to its value") {
    for (const auto& entry : kSeccompActionNames.entries()) {
        if (entry.value == SeccompAction::Notify)
            continue; // cannot be the default; covered by the rule above
        Spec spec =
            parsed_spec(with_linux(cat(R"("seccomp": {"defaultAction": ")", entry.name, R"("})")));
        CHECK(spec.linux_config.seccomp->default_action == entry.value);
    }
    for (const auto& entry : kSeccompOperatorNames.entries()) {
        Spec spec = parsed_spec(with_linux(cat(
            R"("seccomp": {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"],
            "action": "SCMP_ACT_ERRNO", "args": [{"index": 5, "value": 1, "op": ")",
            entry.name, R"("}]}]})")));
        CHECK(spec.linux_config.seccomp->syscalls[0].args[0].op == entry.value);
    }
}

TEST_CASE("seccomp refuses unknown actions, architectures, flags, operators and indexes") {
    auto profile = [](std::string_view members) {
        return with_linux(cat(R"("seccomp": {"defaultAction": "SCMP_ACT_ALLOW")",
                              members.empty() ? "" : ", ", members, "}"));
    };
    CHECK(spec_error(with_linux(R"("seccomp": {"defaultAction": "SCMP_ACT_MAYBE"})")) ==
          "linux.seccomp.defaultAction: unknown seccomp action `SCMP_ACT_MAYBE`");
    CHECK(spec_error(with_linux(R"("seccomp": {"syscalls": []})")) ==
          "linux.seccomp.defaultAction: missing");
    CHECK(spec_error(with_linux(R"("seccomp": {"defaultAction": "SCMP_ACT_NOTIFY",
        "listenerPath": "/run/s.sock"})")) ==
          "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default action");
    CHECK(spec_error(profile(R"("architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_Z80"])")) ==
          "linux.seccomp.architectures[1]: unknown architecture `SCMP_ARCH_Z80`");
    CHECK(spec_error(profile(R"("flags": ["SECCOMP_FILTER_FLAG_NEW_LISTENER"])")) ==
          "linux.seccomp.flags[0]: unknown seccomp flag `SECCOMP_FILTER_FLAG_NEW_LISTENER`");
    CHECK(spec_error(profile(R"("listenerPath": "seccomp.sock")")) ==
          "linux.seccomp.listenerPath: must be an absolute path");
    CHECK(spec_error(profile(R"("syscalls": [{"names": [], "action": "SCMP_ACT_ALLOW"}])")) ==
          "linux.seccomp.syscalls[0].names: must name at least one syscall");
    CHECK(spec_error(profile(R"("syscalls": [{"names": ["read"]}])")) ==
          "linux.seccomp.syscalls[0].action: missing");
    CHECK(
        spec_error(profile(R"("syscalls": [{"names": ["mount"], "action": "SCMP_ACT_NOTIFY"}])")) ==
        "linux.seccomp.syscalls[0].action: SCMP_ACT_NOTIFY needs linux.seccomp.listenerPath");
    CHECK(spec_error(profile(R"("listenerPath": "/run/agent.sock", "syscalls": [
        {"names": ["mount"], "action": "SCMP_ACT_NOTIFY"},
        {"names": ["openat", "sendmsg"], "action": "SCMP_ACT_NOTIFY"}])")) ==
          "linux.seccomp.syscalls[1].action: SCMP_ACT_NOTIFY cannot be used for sendmsg, which "
          "hands the listener to the agent");
    CHECK(spec_error(profile(R"("syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO",
        "args": [{"index": 6, "value": 0, "op": "SCMP_CMP_EQ"}]}])")) ==
          "linux.seccomp.syscalls[0].args[0].index: 6 is out of range (0 to 5)");
    CHECK(spec_error(profile(R"("syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO",
        "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_APPROX"}]}])")) ==
          "linux.seccomp.syscalls[0].args[0].op: unknown seccomp operator `SCMP_CMP_APPROX`");
    CHECK(spec_error(profile(R"("syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO",
        "errnoRet": -1}])")) ==
          "linux.seccomp.syscalls[0].errnoRet: -1 is out of range (0 to 4294967295)");
}

TEST_CASE("linux: cgroups path, sysctl, propagation, masks, personality and time offsets") {
    Spec spec = parsed_spec(with_linux(R"(
        "cgroupsPath": "/keel/web", "sysctl": {"net.ipv4.ip_forward": "1"},
        "rootfsPropagation": "rslave", "mountLabel": "system_u:object_r:x",
        "maskedPaths": ["/proc/kcore"], "readonlyPaths": ["/proc/sys"],
        "personality": {"domain": "LINUX32", "flags": ["ADDR_NO_RANDOMIZE"]},
        "timeOffsets": {"monotonic": {"secs": -86400, "nanosecs": 5},
                        "boottime": {"secs": 3600}})"));
    const LinuxConfig& linux_config = spec.linux_config;
    CHECK(linux_config.cgroups_path == "/keel/web");
    CHECK(linux_config.sysctl.at("net.ipv4.ip_forward") == "1");
    CHECK(linux_config.rootfs_propagation == Propagation::Slave);
    CHECK(linux_config.rootfs_propagation_recursive);
    CHECK(linux_config.mount_label == "system_u:object_r:x");
    CHECK(linux_config.masked_paths == std::vector<std::string>{"/proc/kcore"});
    CHECK(linux_config.readonly_paths == std::vector<std::string>{"/proc/sys"});
    REQUIRE(linux_config.personality);
    CHECK(linux_config.personality->domain ==
          (static_cast<unsigned long>(PER_LINUX32) | ADDR_NO_RANDOMIZE));
    REQUIRE(linux_config.monotonic_offset);
    CHECK(linux_config.monotonic_offset->secs == -86400);
    CHECK(linux_config.monotonic_offset->nanosecs == 5);
    REQUIRE(linux_config.boottime_offset);
    CHECK(linux_config.boottime_offset->secs == 3600);
    CHECK(linux_config.boottime_offset->nanosecs == 0);

    CHECK(parsed_spec(with_linux(R"("personality": {"domain": "LINUX"})"))
              .linux_config.personality->domain == PER_LINUX);
    CHECK(parsed_spec(with_linux(R"("rootfsPropagation": "private")"))
              .linux_config.rootfs_propagation == Propagation::Private);
    CHECK_FALSE(parsed_spec(with_linux(R"("rootfsPropagation": "private")"))
                    .linux_config.rootfs_propagation_recursive);
}

TEST_CASE("linux refuses unknown propagation, personality, clocks and relative masks") {
    CHECK(spec_error(with_linux(R"("rootfsPropagation": "rsideways")")) ==
          "linux.rootfsPropagation: unknown propagation `rsideways` (expected private, rprivate, "
          "shared, rshared, slave, rslave, unbindable or runbindable)");
    CHECK(spec_error(with_linux(R"("personality": {"domain": "BSD"})")) ==
          "linux.personality.domain: unknown personality domain `BSD` (expected LINUX or LINUX32)");
    CHECK(spec_error(with_linux(R"("personality": {"domain": "LINUX", "flags": ["FAST"]})")) ==
          "linux.personality.flags[0]: unknown personality flag `FAST`");
    CHECK(spec_error(with_linux(R"("timeOffsets": {"realtime": {"secs": 1}})")) ==
          "linux.timeOffsets.realtime: unknown clock (expected monotonic or boottime)");
    CHECK(spec_error(with_linux(R"("timeOffsets": {"boottime": {"nanosecs": 1000000000}})")) ==
          "linux.timeOffsets.boottime.nanosecs: 1000000000 is out of range (0 to 999999999)");
    CHECK(spec_error(with_linux(R"("maskedPaths": ["/proc/kcore", "proc/keys"])")) ==
          "linux.maskedPaths[1]: must be an absolute path");
    CHECK(spec_error(with_linux(R"("readonlyPaths": [""])")) ==
          "linux.readonlyPaths[0]: must be an absolute path");
    CHECK(spec_error(with_linux(R"("sysctl": {"kernel.domainname": "a\u0000b"})")) ==
          "linux.sysctl: `kernel.domainname` contains a NUL character");
    CHECK(spec_error(config_json(R"("linux": [])")) == "linux: expected an object, got an array");
}

TEST_CASE("input echoed in a message is shortened and its control bytes made visible") {
    std::string long_name(100, 'A');
    std::string message =
        spec_error(with_process(cat(R"("capabilities": {"bounding": [")", long_name, R"("]})")));
    CHECK(message == cat("process.capabilities.bounding[0]: unknown capability `",
                         std::string(60, 'A'), "...`"));
    CHECK(spec_error(with_linux(R"("namespaces": [{"type": "p\nid"}])"))
              .starts_with("linux.namespaces[0].type: unknown namespace type `p\\x0aid`"));
}

TEST_CASE("capability names and numbers match <linux/capability.h> both ways") {
    struct Known {
        int number;
        std::string_view name;
    };
    constexpr Known kKernel[] = {
        {CAP_CHOWN, "CAP_CHOWN"},
        {CAP_DAC_OVERRIDE, "CAP_DAC_OVERRIDE"},
        {CAP_DAC_READ_SEARCH, "CAP_DAC_READ_SEARCH"},
        {CAP_FOWNER, "CAP_FOWNER"},
        {CAP_FSETID, "CAP_FSETID"},
        {CAP_KILL, "CAP_KILL"},
        {CAP_SETGID, "CAP_SETGID"},
        {CAP_SETUID, "CAP_SETUID"},
        {CAP_SETPCAP, "CAP_SETPCAP"},
        {CAP_LINUX_IMMUTABLE, "CAP_LINUX_IMMUTABLE"},
        {CAP_NET_BIND_SERVICE, "CAP_NET_BIND_SERVICE"},
        {CAP_NET_BROADCAST, "CAP_NET_BROADCAST"},
        {CAP_NET_ADMIN, "CAP_NET_ADMIN"},
        {CAP_NET_RAW, "CAP_NET_RAW"},
        {CAP_IPC_LOCK, "CAP_IPC_LOCK"},
        {CAP_IPC_OWNER, "CAP_IPC_OWNER"},
        {CAP_SYS_MODULE, "CAP_SYS_MODULE"},
        {CAP_SYS_RAWIO, "CAP_SYS_RAWIO"},
        {CAP_SYS_CHROOT, "CAP_SYS_CHROOT"},
        {CAP_SYS_PTRACE, "CAP_SYS_PTRACE"},
        {CAP_SYS_PACCT, "CAP_SYS_PACCT"},
        {CAP_SYS_ADMIN, "CAP_SYS_ADMIN"},
        {CAP_SYS_BOOT, "CAP_SYS_BOOT"},
        {CAP_SYS_NICE, "CAP_SYS_NICE"},
        {CAP_SYS_RESOURCE, "CAP_SYS_RESOURCE"},
        {CAP_SYS_TIME, "CAP_SYS_TIME"},
        {CAP_SYS_TTY_CONFIG, "CAP_SYS_TTY_CONFIG"},
        {CAP_MKNOD, "CAP_MKNOD"},
        {CAP_LEASE, "CAP_LEASE"},
        {CAP_AUDIT_WRITE, "CAP_AUDIT_WRITE"},
        {CAP_AUDIT_CONTROL, "CAP_AUDIT_CONTROL"},
        {CAP_SETFCAP, "CAP_SETFCAP"},
        {CAP_MAC_OVERRIDE, "CAP_MAC_OVERRIDE"},
        {CAP_MAC_ADMIN, "CAP_MAC_ADMIN"},
        {CAP_SYSLOG, "CAP_SYSLOG"},
        {CAP_WAKE_ALARM, "CAP_WAKE_ALARM"},
        {CAP_BLOCK_SUSPEND, "CAP_BLOCK_SUSPEND"},
        {CAP_AUDIT_READ, "CAP_AUDIT_READ"},
        {CAP_PERFMON, "CAP_PERFMON"},
        {CAP_BPF, "CAP_BPF"},
        {CAP_CHECKPOINT_RESTORE, "CAP_CHECKPOINT_RESTORE"},
    };
    static_assert(std::size(kKernel) == kLastCapability + 1);
    static_assert(CAP_LAST_CAP == kLastCapability);
    for (const Known& known : kKernel) {
        CAPTURE(known.name);
        CHECK(capability_number(known.name) == known.number);
        CHECK(capability_name(known.number) == known.name);
    }
    for (int number = 0; number <= kLastCapability; ++number)
        CHECK(capability_number(capability_name(number)) == number);
    CHECK(capability_name(kLastCapability + 1) == "?");
    CHECK(capability_name(-1) == "?");
    CHECK_FALSE(capability_number("CAP_FOO"));
    CHECK_FALSE(capability_number("CHOWN"));
    CHECK_FALSE(capability_number("?"));
}

TEST_CASE("rlimit names and numbers match <sys/resource.h> both ways") {
    struct Known {
        int number;
        std::string_view name;
    };
    constexpr Known kKernel[] = {
        {RLIMIT_CPU, "RLIMIT_CPU"},           {RLIMIT_FSIZE, "RLIMIT_FSIZE"},
        {RLIMIT_DATA, "RLIMIT_DATA"},         {RLIMIT_STACK, "RLIMIT_STACK"},
        {RLIMIT_CORE, "RLIMIT_CORE"},         {RLIMIT_RSS, "RLIMIT_RSS"},
        {RLIMIT_NPROC, "RLIMIT_NPROC"},       {RLIMIT_NOFILE, "RLIMIT_NOFILE"},
        {RLIMIT_MEMLOCK, "RLIMIT_MEMLOCK"},   {RLIMIT_AS, "RLIMIT_AS"},
        {RLIMIT_LOCKS, "RLIMIT_LOCKS"},       {RLIMIT_SIGPENDING, "RLIMIT_SIGPENDING"},
        {RLIMIT_MSGQUEUE, "RLIMIT_MSGQUEUE"}, {RLIMIT_NICE, "RLIMIT_NICE"},
        {RLIMIT_RTPRIO, "RLIMIT_RTPRIO"},     {RLIMIT_RTTIME, "RLIMIT_RTTIME"},
    };
    static_assert(std::size(kKernel) == RLIMIT_NLIMITS);
    for (const Known& known : kKernel) {
        CAPTURE(known.name);
        CHECK(rlimit_number(known.name) == known.number);
        CHECK(rlimit_name(known.number) == known.name);
    }
    CHECK(rlimit_name(RLIMIT_NLIMITS) == "?");
    CHECK_FALSE(rlimit_number("RLIMIT_FOO"));
    CHECK_FALSE(rlimit_number("NOFILE"));
}

TEST_CASE("read_spec reads BUNDLE/config.json, and its errors start with that path") {
    TempDir bundle;
    std::string path = bundle / "config.json";

    Result<Spec> missing = read_spec(bundle.path());
    REQUIRE_FALSE(missing);
    CHECK(missing.error().code() == ENOENT);
    CHECK(missing.error().to_string() == cat(path, ": No such file or directory"));

    REQUIRE(write_new_file(path, kRuncSpec));
    Result<Spec> spec = read_spec(bundle.path());
    REQUIRE_MESSAGE(spec, (spec ? "" : spec.error().to_string()));
    CHECK(spec->hostname == "runc");
    Result<Spec> with_slash = read_spec(bundle.path() + "/");
    REQUIRE(with_slash);
    CHECK(with_slash->process->args[0] == "sh");

    REQUIRE(write_new_file(path, config_json(R"("mounts": [{"destination": "dev"}])")));
    Result<Spec> invalid = read_spec(bundle.path());
    REQUIRE_FALSE(invalid);
    CHECK(invalid.error().to_string() ==
          cat(path, ": mounts[0].destination: must be an absolute path"));
}

TEST_CASE("read_spec refuses a config.json larger than 16 MiB without parsing it") {
    TempDir bundle;
    std::string path = bundle / "config.json";
    // Valid JSON, so only the size can be what is refused.
    std::string text = config_json();
    text.insert(1, std::string((16 << 20) - text.size() + 1, ' '));
    REQUIRE(write_new_file(path, text));
    Result<Spec> spec = read_spec(bundle.path());
    REQUIRE_FALSE(spec);
    CHECK(spec.error().to_string() == cat(path, ": larger than 16 MiB"));

    text.erase(1, 1); // exactly 16 MiB is fine
    REQUIRE(write_new_file(path, text));
    CHECK(read_spec(bundle.path()));
}

TEST_CASE("a process.json is read with the parser of config.json's process") {
    auto process = parse_process(R"({"args": ["ps", "-ef"], "env": ["A=1"], "cwd": "/tmp",
        "user": {"uid": 1000, "gid": 100, "additionalGids": [5]}, "noNewPrivileges": true,
        "capabilities": {"bounding": ["CAP_KILL"], "effective": ["CAP_KILL"]},
        "rlimits": [{"type": "RLIMIT_NOFILE", "soft": 64, "hard": 128}]})");
    REQUIRE(process);
    CHECK(process->args == std::vector<std::string>{"ps", "-ef"});
    CHECK(process->env == std::vector<std::string>{"A=1"});
    CHECK(process->cwd == "/tmp");
    CHECK(process->user.uid == 1000);
    CHECK(process->user.gid == 100);
    CHECK(process->user.additional_gids == std::vector<uint32_t>{5});
    CHECK(process->no_new_privileges);
    REQUIRE(process->capabilities);
    CHECK(process->capabilities->bounding == (1ull << CAP_KILL));
    REQUIRE(process->rlimits.size() == 1);
    CHECK(process->rlimits[0].resource == RLIMIT_NOFILE);
    CHECK(process->rlimits[0].hard == 128);
}

TEST_CASE("a bad process.json is refused naming the field from process. on") {
    auto no_args = parse_process(R"({"cwd": "/"})");
    REQUIRE(!no_args);
    CHECK(no_args.error().to_string() == "process.args: missing");
    auto relative = parse_process(R"({"args": ["sh"], "cwd": "tmp"})");
    REQUIRE(!relative);
    CHECK(relative.error().to_string().starts_with("process.cwd: "));
    auto bad_rlimit = parse_process(
        R"({"args": ["sh"], "cwd": "/", "rlimits": [{"type": "RLIMIT_FOO", "soft": 1, "hard": 1}]})");
    REQUIRE(!bad_rlimit);
    CHECK(bad_rlimit.error().to_string().starts_with("process.rlimits[0].type: "));
    CHECK(!parse_process("[]"));
    CHECK(!parse_process("{\"args\": "));
}

TEST_CASE("linux.resources is read alone, as `update -r` takes it") {
    auto resources = parse_resources(
        R"({"memory": {"limit": 268435456}, "pids": {"limit": 50}, "cpu": {"cpus": "0"}})");
    REQUIRE(resources);
    REQUIRE(resources->memory);
    CHECK(resources->memory->limit == 268435456);
    CHECK(resources->pids_limit == 50);
    REQUIRE(resources->cpu);
    CHECK(resources->cpu->cpus == "0");
    auto bad = parse_resources(R"({"pids": {"limit": "many"}})");
    REQUIRE(!bad);
    CHECK(bad.error().to_string().starts_with("linux.resources.pids.limit: "));
}
