// Parsing a unit: systemd's keys and defaults, malformed input with exact
// messages, drop-ins, and what a target file may hold.
#include "tests/unit/unit_model_fixture.h"

#include <doctest/doctest.h>
#include <string>
#include <vector>

using keel::testing::context;
using keel::testing::parse;

namespace {

// The error of a [Service] section holding `body` after a working ExecStart.
std::string service_error(std::string_view body) {
    auto unit = parse(std::string("[Service]\nExecStart=/bin/true\n") + std::string(body));
    REQUIRE_FALSE(unit);
    return unit.error().to_string();
}

} // namespace

TEST_CASE("a service without settings gets systemd's defaults") {
    auto unit = parse("[Service]\nExecStart=/usr/bin/web\n");
    REQUIRE(unit);
    const keel::ServiceConfig& s = unit->service;
    CHECK(unit->description == "web.service");
    CHECK(unit->type == keel::UnitType::Service);
    CHECK(unit->default_dependencies);
    CHECK(s.type == keel::ServiceType::Simple);
    CHECK(s.restart == keel::RestartPolicy::No);
    CHECK(s.restart_usec == 100'000);
    CHECK(s.timeout_start_usec == 90'000'000);
    CHECK(s.timeout_stop_usec == 90'000'000);
    CHECK(unit->start_limit_interval_usec == 10'000'000);
    CHECK(unit->start_limit_burst == 5);
    CHECK(s.kill_mode == keel::KillMode::ControlGroup);
    CHECK(s.kill_signal == SIGTERM);
    CHECK(s.final_kill_signal == SIGKILL);
    CHECK(s.watchdog_signal == SIGABRT);
    CHECK(s.send_sigkill);
    CHECK_FALSE(s.remain_after_exit);
    CHECK(s.notify_access == keel::NotifyAccess::None);
    CHECK(s.watchdog_usec == 0);
    CHECK(s.standard_output == keel::OutputTarget::Journal);
    CHECK(s.standard_error == keel::OutputTarget::Journal);
}

TEST_CASE("a service's command, environment and sandbox come from its unit file") {
    std::vector<std::string> warnings;
    auto unit = parse(R"([Unit]
Description=The web server
[Service]
ExecStart=-/usr/bin/web --port "80 81"
Environment=A=1 "B=two words"
Environment=A=3
EnvironmentFile=-/etc/default/web
EnvironmentFile=/etc/web.env
WorkingDirectory=/srv
User=www
Group=www-data
SupplementaryGroups=video audio
CapabilityBoundingSet=CAP_NET_BIND_SERVICE
NoNewPrivileges=yes
SystemCallFilter=~reboot kexec_load
LimitNOFILE=4096
LimitCORE=0:infinity
LimitSTACK=8M
LimitCPU=1h
LimitNICE=-5
)",
                      warnings);
    REQUIRE(unit);
    CHECK(warnings.empty());
    const keel::ServiceConfig& s = unit->service;
    CHECK(unit->description == "The web server");
    REQUIRE(s.exec_start.size() == 1);
    CHECK(s.exec_start[0].ignore_failure);
    CHECK(s.exec_start[0].argv == std::vector<std::string>{"/usr/bin/web", "--port", "80 81"});
    CHECK(s.environment == keel::Environment{{"A", "1"}, {"B", "two words"}, {"A", "3"}});
    REQUIRE(s.environment_files.size() == 2);
    CHECK(s.environment_files[0].path == "/etc/default/web");
    CHECK(s.environment_files[0].optional);
    CHECK_FALSE(s.environment_files[1].optional);
    CHECK(s.working_directory == "/srv");
    CHECK(s.user == "www");
    CHECK(s.group == "www-data");
    CHECK(s.supplementary_groups == std::vector<std::string>{"video", "audio"});
    CHECK(s.capability_mode == keel::CapabilityMode::Keep);
    CHECK(s.capabilities == std::vector<std::string>{"CAP_NET_BIND_SERVICE"});
    CHECK(s.no_new_privileges);
    CHECK(s.denied_syscalls == std::vector<std::string>{"reboot", "kexec_load"});
    REQUIRE(s.limits.size() == 5);
    CHECK(s.limits[0].resource == RLIMIT_NOFILE);
    CHECK(s.limits[0].soft == 4096);
    CHECK(s.limits[1].resource == RLIMIT_CORE);
    CHECK(s.limits[1].soft == 0);
    CHECK(s.limits[1].hard == RLIM_INFINITY);
    CHECK(s.limits[2].soft == 8u << 20);
    CHECK(s.limits[3].soft == 3600);
    CHECK(s.limits[4].soft == 25); // nice -5 is rlimit 20 - (-5)
}

TEST_CASE("[Service] timing, restart and kill settings are parsed with systemd's spellings") {
    auto unit = parse(R"([Unit]
StartLimitIntervalSec=30s
StartLimitBurst=3
[Service]
Type=notify
ExecStart=/usr/bin/web
ExecStartPre=/bin/mkdir -p /run/web
ExecStartPost=/bin/echo up
ExecReload=/bin/kill -HUP $MAINPID
ExecStop=/usr/bin/webctl stop
ExecStopPost=/bin/rm -rf /run/web
Restart=on-abnormal
RestartSec=2.5s
RestartSteps=4
RestartMaxDelaySec=1min
TimeoutStartSec=1min 30s
TimeoutStopSec=infinity
WatchdogSec=10
KillMode=mixed
KillSignal=SIGINT
FinalKillSignal=QUIT
SendSIGKILL=no
RemainAfterExit=yes
SuccessExitStatus=3 SIGUSR1
StandardOutput=null
StandardError=inherit
)");
    REQUIRE(unit);
    const keel::ServiceConfig& s = unit->service;
    CHECK(unit->start_limit_interval_usec == 30'000'000);
    CHECK(unit->start_limit_burst == 3);
    CHECK(s.type == keel::ServiceType::Notify);
    CHECK(s.exec_start_pre.size() == 1);
    CHECK(s.exec_start_post.size() == 1);
    CHECK(s.exec_reload[0].argv == std::vector<std::string>{"/bin/kill", "-HUP", "$MAINPID"});
    CHECK(s.exec_stop.size() == 1);
    CHECK(s.exec_stop_post.size() == 1);
    CHECK(s.restart == keel::RestartPolicy::OnAbnormal);
    CHECK(s.restart_usec == 2'500'000);
    CHECK(s.restart_steps == 4);
    CHECK(s.restart_max_delay_usec == 60'000'000);
    CHECK(s.timeout_start_usec == 90'000'000);
    CHECK(s.timeout_stop_usec == UINT64_MAX);
    CHECK(s.watchdog_usec == 10'000'000);
    CHECK(s.kill_mode == keel::KillMode::Mixed);
    CHECK(s.kill_signal == SIGINT);
    CHECK(s.final_kill_signal == SIGQUIT);
    CHECK_FALSE(s.send_sigkill);
    CHECK(s.remain_after_exit);
    CHECK(s.success_exit_status.codes == std::set<int>{3});
    CHECK(s.success_exit_status.signals == std::set<int>{SIGUSR1});
    CHECK(s.standard_output == keel::OutputTarget::Null);
    CHECK(s.standard_error == keel::OutputTarget::Inherit);
    CHECK(s.notify_access == keel::NotifyAccess::Main); // notify implies it
}

TEST_CASE("a oneshot service may have several ExecStart= and no start timeout") {
    auto unit = parse("[Service]\nType=oneshot\nExecStart=/bin/a\nExecStart=/bin/b\n");
    REQUIRE(unit);
    CHECK(unit->service.exec_start.size() == 2);
    CHECK(unit->service.timeout_start_usec == UINT64_MAX);
    auto timed = parse("[Service]\nType=oneshot\nExecStart=/bin/a\nTimeoutStartSec=5\n");
    REQUIRE(timed);
    CHECK(timed->service.timeout_start_usec == 5'000'000);
    auto zero = parse("[Service]\nExecStart=/bin/a\nTimeoutSec=0\n");
    REQUIRE(zero);
    CHECK(zero->service.timeout_start_usec == UINT64_MAX); // 0 disables, as in systemd
    CHECK(zero->service.timeout_stop_usec == UINT64_MAX);
}

TEST_CASE("an empty assignment resets a list, as in systemd") {
    auto unit = parse(R"([Unit]
After=a.service b.service
After=
After=c.service
[Service]
Type=oneshot
ExecStart=/bin/a
ExecStart=
ExecStart=/bin/b
Environment=A=1
Environment=
Environment=B=2
)");
    REQUIRE(unit);
    CHECK(unit->after == std::vector<std::string>{"c.service"});
    REQUIRE(unit->service.exec_start.size() == 1);
    CHECK(unit->service.exec_start[0].argv[0] == "/bin/b");
    CHECK(unit->service.environment == keel::Environment{{"B", "2"}});
}

TEST_CASE("dependencies, conditions and [Install] are read from [Unit] and [Install]") {
    auto unit = parse(R"([Unit]
Requires=db.service
Requisite=net.target
Wants=cache.service metrics.service
BindsTo=vpn.service
PartOf=app.target
After=db.service cache.service
Before=multi-user.target
Conflicts=old-web.service
DefaultDependencies=no
ConditionPathExists=/etc/web.conf
ConditionPathIsDirectory=!/srv/disabled
ConditionFileNotEmpty=|/etc/a
AssertPathExists=/usr/bin/web
ConditionKernelCommandLine=web.enable=1
[Service]
ExecStart=/usr/bin/web
[Install]
WantedBy=multi-user.target
RequiredBy=app.target
Alias=www.service
Also=web-helper.service
)");
    REQUIRE(unit);
    CHECK(unit->requirements == std::vector<std::string>{"db.service"});
    CHECK(unit->requisite == std::vector<std::string>{"net.target"});
    CHECK(unit->wants == std::vector<std::string>{"cache.service", "metrics.service"});
    CHECK(unit->binds_to == std::vector<std::string>{"vpn.service"});
    CHECK(unit->part_of == std::vector<std::string>{"app.target"});
    CHECK(unit->after == std::vector<std::string>{"db.service", "cache.service"});
    CHECK(unit->before == std::vector<std::string>{"multi-user.target"});
    CHECK(unit->conflicts == std::vector<std::string>{"old-web.service"});
    CHECK_FALSE(unit->default_dependencies);
    REQUIRE(unit->conditions.size() == 5);
    CHECK(unit->conditions[0].type == keel::ConditionType::PathExists);
    CHECK(unit->conditions[1].negate);
    CHECK(unit->conditions[1].text() == "ConditionPathIsDirectory=!/srv/disabled");
    CHECK(unit->conditions[2].trigger);
    CHECK(unit->conditions[3].assert);
    CHECK(unit->conditions[4].type == keel::ConditionType::KernelCommandLine);
    CHECK(unit->wanted_by == std::vector<std::string>{"multi-user.target"});
    CHECK(unit->required_by == std::vector<std::string>{"app.target"});
    CHECK(unit->alias == std::vector<std::string>{"www.service"});
    CHECK(unit->also == std::vector<std::string>{"web-helper.service"});
    CHECK(unit->installable());
}

TEST_CASE("unknown keys and sections are warnings naming file and line; X- ones are silent") {
    std::vector<std::string> warnings;
    auto unit = parse("[Service]\nExecStart=/bin/true\nFrobnicate=yes\nX-Mine=1\n[X-Fleet]\n"
                      "MachineID=1\n[Custom]\nA=b\n[Unit]\nOnFailure=x.service\n",
                      warnings);
    REQUIRE(unit);
    CHECK(warnings ==
          std::vector<std::string>{"web.service:3: unknown key `Frobnicate` in [Service], ignored",
                                   "web.service:7: unknown section [Custom], ignored",
                                   "web.service:10: unknown key `OnFailure` in [Unit], ignored"});
}

TEST_CASE("malformed service settings are errors naming file, line and key") {
    CHECK(parse("[Service]\nType=simple\n").error().to_string() ==
          "web.service: [Service] has no ExecStart=, which only Type=oneshot services may leave "
          "out");
    CHECK(parse("[Service]\nExecStart=/bin/a\nExecStart=/bin/b\n").error().to_string() ==
          "web.service: [Service] has more than one ExecStart=, which only Type=oneshot services "
          "may have");
    CHECK(parse("[Service]\nType=oneshot\n").error().to_string() ==
          "web.service: [Service] has neither ExecStart= nor ExecStop=");
    CHECK(
        parse("[Service]\nType=oneshot\nExecStart=/bin/a\nRestart=always\n").error().to_string() ==
        "web.service: Restart=always and Restart=on-success are not allowed for Type=oneshot "
        "services");
    CHECK(service_error("Restart=sometimes\n") ==
          "web.service:3: Restart: unknown value `sometimes` (expected no, on-success, on-failure, "
          "on-abnormal, on-watchdog, on-abort or always)");
    CHECK(service_error("Type=forking\n") ==
          "web.service:3: Type: Type=forking is not supported by keel (use simple, exec, notify or "
          "oneshot; run a forking daemon in the foreground)");
    CHECK(service_error("Type=fast\n") ==
          "web.service:3: Type: unknown value `fast` (expected simple, exec, notify or oneshot)");
    CHECK(service_error("RestartSec=soon\n") ==
          "web.service:3: RestartSec: invalid time span `soon`: expected a number at `soon`");
    CHECK(service_error("TimeoutStopSec=5 parsecs\n") ==
          "web.service:3: TimeoutStopSec: invalid time span `5 parsecs`: unknown unit `parsecs`");
    CHECK(service_error("KillMode=everything\n") ==
          "web.service:3: KillMode: unknown value `everything` (expected control-group, mixed, "
          "process or none)");
    CHECK(service_error("KillSignal=SIGFOO\n") ==
          "web.service:3: KillSignal: unknown signal `SIGFOO`");
    CHECK(service_error("KillSignal=99\n") ==
          "web.service:3: KillSignal: signal number `99` is outside 1..64");
    CHECK(service_error("RemainAfterExit=perhaps\n") ==
          "web.service:3: RemainAfterExit: invalid boolean `perhaps` (expected yes/no, "
          "true/false, on/off or 1/0)");
    CHECK(service_error("NotifyAccess=some\n") ==
          "web.service:3: NotifyAccess: unknown value `some` (expected none, main, exec or all)");
    CHECK(service_error("Environment=JUSTAWORD\n") ==
          "web.service:3: Environment: `JUSTAWORD` is not KEY=value");
    CHECK(service_error("Environment=1X=2\n") ==
          "web.service:3: Environment: `1X` is not a valid variable name");
    CHECK(service_error("EnvironmentFile=relative.env\n") ==
          "web.service:3: EnvironmentFile: `relative.env` is not an absolute path");
    CHECK(service_error("WorkingDirectory=srv\n") ==
          "web.service:3: WorkingDirectory: `srv` is not an absolute path or `~`");
    CHECK(service_error("User=a b\n") == "web.service:3: User: `a b` is not a valid user name");
    CHECK(service_error("CapabilityBoundingSet=CAP_FLY\n") ==
          "web.service:3: CapabilityBoundingSet: unknown capability `CAP_FLY`");
    CHECK(service_error("SystemCallFilter=read write\n") ==
          "web.service:3: SystemCallFilter: only the `~name ...` deny form is supported");
    CHECK(service_error("SystemCallFilter=~fly\n") ==
          "web.service:3: SystemCallFilter: unknown system call `fly`");
    CHECK(service_error("LimitNOFILE=lots\n") ==
          "web.service:3: LimitNOFILE: expected a number or `infinity`, got `lots`");
    CHECK(service_error("LimitNOFILE=10:5\n") ==
          "web.service:3: LimitNOFILE: soft limit is above the hard limit in `10:5`");
    CHECK(service_error("LimitSTACK=8Q\n") ==
          "web.service:3: LimitSTACK: expected a size (like 4096, 8M or infinity), got `8Q`");
    CHECK(service_error("LimitNICE=-30\n") ==
          "web.service:3: LimitNICE: nice level `-30` is outside -20..19");
    CHECK(service_error("SuccessExitStatus=300\n") ==
          "web.service:3: SuccessExitStatus: exit status `300` is above 255");
    CHECK(service_error("StandardOutput=file:/x\n") ==
          "web.service:3: StandardOutput: unknown value `file:/x` (expected journal, null, "
          "inherit or tty)");
    CHECK(service_error("StandardInput=tty\n") ==
          "web.service:3: StandardInput: only `null` is supported, got `tty`");
    CHECK(service_error("ExecStartPre=+/bin/setup\n") ==
          "web.service:3: ExecStartPre: the `+` prefix is not supported by keel");
    CHECK(service_error("ExecStop=bin/stop\n") ==
          "web.service:3: ExecStop: `bin/stop` must be an absolute path or a plain program name");
    CHECK(service_error("ExecReload=-\n") ==
          "web.service:3: ExecReload: no command after the prefixes");
    CHECK(service_error("ExecStop=/bin/echo \"open\n")
              .starts_with("web.service:3: ExecStop: unterminated double quote in "));
    CHECK(service_error("ExecStop=/bin/date +%s\n") ==
          "web.service:3: ExecStop: unknown specifier `%s` in `/bin/date +%s` (write %% for a %)");
    CHECK(service_error("TasksMax=lots\n").starts_with("web.service:3: TasksMax: "));
    CHECK(service_error("MemoryMax=12Q\n").starts_with("web.service:3: MemoryMax: "));
    CHECK(service_error("CPUQuota=fast\n").starts_with("web.service:3: CPUQuota: "));
    CHECK(service_error("CPUWeight=0\n").starts_with("web.service:3: CPUWeight: "));
    CHECK(service_error("MemoryHigh=lots\n") ==
          "web.service:3: MemoryHigh: MemoryHigh=lots: not a size (a number of bytes, optionally "
          "with K, M, G, T, P or E, or infinity)");
    CHECK(service_error("MemoryHigh=0\n") ==
          "web.service:3: MemoryHigh: MemoryHigh=0: must be at least 1 byte");
    CHECK(service_error("IOWeight=0\n") ==
          "web.service:3: IOWeight: IOWeight=0: expected a weight from 1 to 10000 (100 is the "
          "default)");
    CHECK(service_error("IOWeight=heavy\n") ==
          "web.service:3: IOWeight: IOWeight=heavy: expected a weight from 1 to 10000 (100 is "
          "the default)");
    CHECK(service_error("IOWriteBandwidthMax=/dev/vda\n")
              .starts_with("web.service:3: IOWriteBandwidthMax: "));
    CHECK(service_error("IOReadBandwidthMax=/dev/vda 10X\n")
              .starts_with("web.service:3: IOReadBandwidthMax: "));
}

TEST_CASE("malformed [Unit] and [Install] settings are errors naming file, line and key") {
    CHECK(parse("[Unit]\nAfter=db\n[Service]\nExecStart=/bin/a\n").error().to_string() ==
          "web.service:2: After: invalid unit name `db`: no type suffix such as .service");
    CHECK(
        parse("[Unit]\nRequires=db.database\n[Service]\nExecStart=/bin/a\n").error().to_string() ==
        "web.service:2: Requires: invalid unit name `db.database`: unknown type `.database`");
    CHECK(parse("[Unit]\nWants=we$b.service\n[Service]\nExecStart=/bin/a\n").error().to_string() ==
          "web.service:2: Wants: invalid unit name `we$b.service`: character `$` is not allowed");
    CHECK(parse("[Unit]\nWants=web@.service\n[Service]\nExecStart=/bin/a\n").error().to_string() ==
          "web.service:2: Wants: `web@.service` is a template; name an instance "
          "(web@NAME.service)");
    CHECK(parse("[Unit]\nConditionPathExists=etc/x\n[Service]\nExecStart=/bin/a\n")
              .error()
              .to_string() ==
          "web.service:2: ConditionPathExists: `etc/x` is not an absolute path");
    CHECK(
        parse("[Unit]\nConditionPathExists=|!\n[Service]\nExecStart=/bin/a\n")
            .error()
            .to_string() ==
        "web.service:2: ConditionPathExists: expected an argument after the `|` and `!` prefixes");
    CHECK(
        parse("[Unit]\nStartLimitBurst=many\n[Service]\nExecStart=/bin/a\n").error().to_string() ==
        "web.service:2: StartLimitBurst: expected a number, got `many`");
    CHECK(parse("[Unit]\nDefaultDependencies=maybe\n[Service]\nExecStart=/bin/a\n")
              .error()
              .to_string()
              .starts_with("web.service:2: DefaultDependencies: invalid boolean `maybe`"));
    CHECK(
        parse("[Service]\nExecStart=/bin/a\n[Install]\nWantedBy=multi-user\n")
            .error()
            .to_string() ==
        "web.service:4: WantedBy: invalid unit name `multi-user`: no type suffix such as .service");
}

TEST_CASE("a drop-in overrides the unit file, and its errors name the drop-in") {
    std::vector<std::string> warnings;
    auto unit = parse("[Service]\nExecStart=/usr/bin/web\nRestart=no\nEnvironment=A=1\n", warnings,
                      "web.service",
                      {"[Service]\nRestart=always\n", "[Service]\nEnvironment=B=2\nExecStart=\n"
                                                      "ExecStart=/usr/bin/web --debug\n"});
    REQUIRE(unit);
    CHECK(unit->service.restart == keel::RestartPolicy::Always);
    CHECK(unit->service.environment == keel::Environment{{"A", "1"}, {"B", "2"}});
    CHECK(unit->service.exec_start[0].argv.size() == 2);
    CHECK(unit->dropins == std::vector<std::string>{"override1.conf", "override2.conf"});

    auto bad = parse("[Service]\nExecStart=/usr/bin/web\n", warnings, "web.service",
                     {"[Service]\n\nRestart=sometimes\n"});
    REQUIRE_FALSE(bad);
    CHECK(bad.error().to_string().starts_with("override1.conf:3: Restart: unknown value"));
}

TEST_CASE("a target file takes [Unit] and [Install]; a [Service] section there is a warning") {
    std::vector<std::string> warnings;
    auto unit = parse("[Unit]\nDescription=Apps\nWants=a.service\n[Service]\nExecStart=/x\n",
                      warnings, "apps.target");
    REQUIRE(unit);
    CHECK(unit->type == keel::UnitType::Target);
    CHECK(unit->wants == std::vector<std::string>{"a.service"});
    CHECK(warnings ==
          std::vector<std::string>{"apps.target:4: unknown section [Service], ignored"});
    auto socket = keel::UnitFile::parse("[Socket]\nListenStream=80\n", "web.socket");
    REQUIRE(socket);
    std::vector<std::string> none;
    auto refused = keel::parse_unit("web.socket", *socket, {}, context(), none);
    REQUIRE_FALSE(refused);
    CHECK(refused.error().to_string() ==
          "web.socket: unit type of `web.socket` is not supported by keel (only .service and "
          ".target units)");
}

TEST_CASE("a percentage in CPUQuota= is not read as a specifier, as in systemd") {
    auto unit = parse("[Service]\nExecStart=/bin/a\nCPUQuota=20%\n");
    REQUIRE(unit);
    CHECK(unit->service.cgroup_limits.cpu_quota_percent == std::optional<uint32_t>(20));
    CHECK(service_error("MemoryMax=50%\n") ==
          "web.service:3: MemoryMax: MemoryMax=50%: a percentage of RAM is not supported; give a "
          "size such as 512M");
    CHECK(service_error("MemoryHigh=50%\n") ==
          "web.service:3: MemoryHigh: MemoryHigh=50%: a percentage of RAM is not supported; give "
          "a size such as 512M");
    CHECK(service_error("TasksMax=15%\n") ==
          "web.service:3: TasksMax: TasksMax=15%: a percentage of the system's limit is not "
          "supported; give a number");
    CHECK(service_error("CPUQuota=%n\n") ==
          "web.service:3: CPUQuota: CPUQuota=%n: not a percentage (50% is half a CPU, 150% one "
          "and a half)");
}

TEST_CASE("MemoryHigh= and IOWeight= become the service's cgroup limits; empty resets them") {
    std::vector<std::string> warnings;
    auto unit = parse("[Service]\nExecStart=/bin/a\nMemoryMax=64M\nMemoryHigh=48M\nIOWeight=500\n",
                      warnings);
    REQUIRE(unit);
    CHECK(warnings.empty()); // known keys, not "unknown key ..., ignored"
    const keel::CgroupLimits& limits = unit->service.cgroup_limits;
    CHECK(limits.memory_max == std::optional<uint64_t>(64u << 20));
    CHECK(limits.memory_high == std::optional<uint64_t>(48u << 20));
    CHECK(limits.io_weight == std::optional<uint32_t>(500));

    // A later assignment wins; an empty one (or infinity) means no limit.
    unit = parse("[Service]\nExecStart=/bin/a\nMemoryHigh=1G\nMemoryHigh=\nIOWeight=20\n"
                 "IOWeight=\n");
    REQUIRE(unit);
    CHECK_FALSE(unit->service.cgroup_limits.memory_high);
    CHECK_FALSE(unit->service.cgroup_limits.io_weight);
    unit = parse("[Service]\nExecStart=/bin/a\nMemoryHigh=1G\nMemoryHigh=infinity\n"
                 "IOWeight=20\nIOWeight=10000\n");
    REQUIRE(unit);
    CHECK_FALSE(unit->service.cgroup_limits.memory_high);
    CHECK(unit->service.cgroup_limits.io_weight == std::optional<uint32_t>(10000));
}

TEST_CASE("CPUWeight= and IO*BandwidthMax= become the service's cgroup limits") {
    auto unit = parse("[Service]\nExecStart=/bin/a\nCPUWeight=20\n"
                      "IOReadBandwidthMax=/dev/vda 10M\nIOWriteBandwidthMax=/dev/vda 2G\n"
                      "IOWriteBandwidthMax=/ 500K\nIOWriteBandwidthMax=/dev/vda infinity\n");
    REQUIRE(unit);
    const keel::CgroupLimits& limits = unit->service.cgroup_limits;
    CHECK(limits.cpu_weight == std::optional<uint32_t>(20));
    REQUIRE(limits.io_bandwidth.size() == 2);
    CHECK(limits.io_bandwidth[0].device == "/dev/vda");
    CHECK(limits.io_bandwidth[0].read_bytes_per_second == std::optional<uint64_t>(10'000'000));
    CHECK_FALSE(limits.io_bandwidth[0].write_bytes_per_second); // infinity, set last
    CHECK(limits.io_bandwidth[1].device == "/");
    CHECK(limits.io_bandwidth[1].write_bytes_per_second == std::optional<uint64_t>(500'000));

    // An empty assignment clears that direction's limits.
    unit = parse("[Service]\nExecStart=/bin/a\nIOWriteBandwidthMax=/dev/vda 1M\n"
                 "IOReadBandwidthMax=/dev/vdb 1M\nIOWriteBandwidthMax=\nCPUWeight=\n");
    REQUIRE(unit);
    REQUIRE(unit->service.cgroup_limits.io_bandwidth.size() == 1);
    CHECK(unit->service.cgroup_limits.io_bandwidth[0].device == "/dev/vdb");
    CHECK_FALSE(unit->service.cgroup_limits.cpu_weight);
}
