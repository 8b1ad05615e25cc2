// Tests for cli/run_commands.h: `keel run`'s docker-style command line read
// into RunOptions: flag spellings, repeated and combined flags, where the
// options end, and errors that name the flag.
#include "cli/run_commands.h"

#include "base/sys.h"
#include "tests/unit/temp_dir.h"

#include <doctest/doctest.h>

#include <csignal>
#include <cstdlib>
#include <initializer_list>
#include <string>
#include <vector>

using namespace keel;
using namespace keel::containers;
using keel::testing::TempDir;

namespace {

RunOptions parsed_run(std::initializer_list<std::string_view> args) {
    std::vector<std::string_view> list(args);
    Result<RunOptions> options = cli::parse_run_args(list);
    REQUIRE_MESSAGE(options, (options ? std::string() : options.error().to_string()));
    return std::move(*options);
}

std::string run_args_error(std::initializer_list<std::string_view> args) {
    std::vector<std::string_view> list(args);
    Result<RunOptions> options = cli::parse_run_args(list);
    REQUIRE_FALSE(options);
    return options.error().to_string();
}

} // namespace

TEST_CASE("-e takes K=V separate, attached, or as --env=K=V, in order") {
    RunOptions options =
        parsed_run({"-e", "A=1", "-eB=2", "--env=C=3=x", "--env", "D=", "busybox"});
    CHECK(options.env == std::vector<std::string>{"A=1", "B=2", "C=3=x", "D="});
    CHECK(options.image == "busybox");
}

TEST_CASE("-e KEY alone takes keel's own value, and is left out when keel has none") {
    ::setenv("KEEL_RUN_ARGS_TEST", "from-host", 1);
    ::unsetenv("KEEL_RUN_ARGS_UNSET");
    RunOptions options =
        parsed_run({"-e", "KEEL_RUN_ARGS_TEST", "-e", "KEEL_RUN_ARGS_UNSET", "img"});
    CHECK(options.env == std::vector<std::string>{"KEEL_RUN_ARGS_TEST=from-host"});
    CHECK(run_args_error({"-e", "=x", "img"}).find("--env: bad variable") != std::string::npos);
}

TEST_CASE("--env-file entries and -e entries keep the order they were given in") {
    TempDir dir;
    REQUIRE(write_new_file(dir / "app.env", "# settings\nA=file\nB=file\n"));
    RunOptions options = parsed_run(
        {"-e", "A=flag", "--env-file", (dir / "app.env").c_str(), "-e", "B=flag", "img"});
    CHECK(options.env == std::vector<std::string>{"A=flag", "A=file", "B=file", "B=flag"});
    REQUIRE(write_new_file(dir / "bad.env", "OK=1\nNOT OK=2\n"));
    std::string bad = run_args_error({"--env-file", (dir / "bad.env").c_str(), "img"});
    CHECK(bad.find("--env-file") != std::string::npos);
    CHECK(bad.find("bad.env:2") != std::string::npos);
    CHECK(run_args_error({"--env-file", (dir / "missing.env").c_str(), "img"}).find("--env-file") !=
          std::string::npos);
}

TEST_CASE("short flags combine: -it, -dit, and a value last in the group") {
    RunOptions options = parsed_run({"-it", "img"});
    CHECK(options.terminal == Terminal::Allocate);
    CHECK(options.stdin_mode == Stdin::Open);
    CHECK(options.mode == RunMode::Foreground);
    options = parsed_run({"-dit", "img"});
    CHECK(options.mode == RunMode::Detach);
    CHECK(options.terminal == Terminal::Allocate);
    options = parsed_run({"-de", "K=V", "-deL=W", "img"});
    CHECK(options.env == std::vector<std::string>{"K=V", "L=W"});
    CHECK(run_args_error({"-ix", "img"}).find("unknown option `-x`") != std::string::npos);
}

TEST_CASE("the image ends the options: what follows is the command, dashes and all") {
    RunOptions options = parsed_run({"--rm", "busybox", "ls", "-l", "--rm", "-e", "X=1"});
    CHECK(options.image == "busybox");
    CHECK(options.command == std::vector<std::string>{"ls", "-l", "--rm", "-e", "X=1"});
    CHECK(options.env.empty());
    CHECK(options.removal == Removal::OnExit);
    options = parsed_run({"-e", "A=1", "--", "busybox", "sh", "-c", "exit 3"});
    CHECK(options.image == "busybox");
    CHECK(options.command == std::vector<std::string>{"sh", "-c", "exit 3"});
    CHECK(run_args_error({"--rm"}).find("no image given") != std::string::npos);
}

TEST_CASE("-h is the hostname, as in docker, and --help still asks for help") {
    CHECK(parsed_run({"-h", "web", "img"}).hostname == "web");
    CHECK(run_args_error({"--help"}).find("--help") != std::string::npos);
}

TEST_CASE("repeated flags are all kept: volumes, ports, tmpfs, ulimits, capabilities, labels") {
    RunOptions options =
        parsed_run({"-v",       "/a:/a",     "-v",        "/b:/b:ro",  "-p",         "8080:80",
                    "-p",       "53:53/udp", "--tmpfs",   "/run",      "--ulimit",   "nofile=10:20",
                    "--ulimit", "nproc=5",   "--cap-add", "NET_ADMIN", "--cap-drop", "chown",
                    "-l",       "a=1",       "--label",   "b",         "img"});
    REQUIRE(options.volumes.size() == 2);
    CHECK(options.volumes[1].access == Access::ReadOnly);
    REQUIRE(options.ports.size() == 2);
    CHECK(options.ports[1].protocol == Protocol::Udp);
    CHECK(options.tmpfs.size() == 1);
    CHECK(options.ulimits.size() == 2);
    CHECK(options.cap_add == std::vector<std::string>{"NET_ADMIN"});
    CHECK(options.cap_drop == std::vector<std::string>{"chown"});
    CHECK(options.labels == std::map<std::string, std::string>{{"a", "1"}, {"b", ""}});
}

TEST_CASE("limits, user, workdir, entrypoint and network are read into their typed fields") {
    RunOptions options = parsed_run({"-m",
                                     "512m",
                                     "--cpus",
                                     "0.5",
                                     "--pids-limit",
                                     "64",
                                     "-u",
                                     "app:staff",
                                     "-w",
                                     "/srv",
                                     "--entrypoint",
                                     "",
                                     "--network",
                                     "host",
                                     "--read-only",
                                     "--init",
                                     "--cgroup-parent",
                                     "/x",
                                     "--stop-signal",
                                     "SIGINT",
                                     "--stop-timeout",
                                     "3",
                                     "img"});
    CHECK(options.memory_bytes == 512 << 20);
    CHECK(options.cpu_micros == 500000);
    CHECK(options.pids_limit == 64);
    CHECK(options.user == "app:staff");
    CHECK(options.workdir == "/srv");
    CHECK(options.entrypoint == "");
    CHECK(options.network == NetworkMode::Host);
    CHECK(options.root_access == Access::ReadOnly);
    CHECK(options.init == containers::InitProcess::Keel);
    CHECK(options.cgroup_parent == "/x");
    CHECK(options.stop_signal == SIGINT);
    CHECK(options.stop_timeout_seconds == 3);
    CHECK(parsed_run({"--net", "none", "img"}).network == NetworkMode::None);
    CHECK(parsed_run({"--pids-limit", "-1", "img"}).pids_limit == -1);
}

TEST_CASE("restart, health checks, sdnotify and security options") {
    RunOptions options =
        parsed_run({"--restart", "on-failure:3", "--health-cmd", "true", "--health-interval",
                    "1m30s", "--health-timeout", "500ms", "--health-start-period", "2s",
                    "--health-retries", "5", "--sdnotify", "healthy", "--security-opt",
                    "no-new-privileges", "--security-opt", "seccomp=unconfined", "img"});
    CHECK(options.restart == containers::RestartPolicy::OnFailure);
    CHECK(options.restart_retries == 3);
    CHECK(options.health.command == "true");
    CHECK(options.health.interval == std::chrono::milliseconds(90000));
    CHECK(options.health.timeout == std::chrono::milliseconds(500));
    CHECK(options.health.start_period == std::chrono::milliseconds(2000));
    CHECK(options.health.retries == 5);
    CHECK(options.notify == NotifyWhen::Healthy);
    CHECK(options.new_privileges == NewPrivileges::Denied);
    CHECK(options.seccomp == SeccompChoice::Unconfined);
    TempDir dir;
    REQUIRE(write_new_file(dir / "profile.json", R"({"defaultAction":"SCMP_ACT_ALLOW"})"));
    options = parsed_run({"--security-opt", ("seccomp=" + (dir / "profile.json")).c_str(), "img"});
    CHECK(options.seccomp == SeccompChoice::File);
    CHECK(options.seccomp_profile == R"({"defaultAction":"SCMP_ACT_ALLOW"})");
}

TEST_CASE("bad values are refused with the flag's name") {
    CHECK(run_args_error({"--memory", "12x", "img"}).starts_with("run: --memory: bad size `12x`"));
    CHECK(run_args_error({"-m", "1m", "img"}).find("minimum of 6m") != std::string::npos);
    CHECK(run_args_error({"--cpus", "lots", "img"}).starts_with("run: --cpus:"));
    CHECK(run_args_error({"--network", "wifi", "img"}) ==
          "run: --network: unknown value `wifi` (expected none, host or bridge)");
    CHECK(run_args_error({"--restart", "forever", "img"}).starts_with("run: --restart:"));
    CHECK(run_args_error({"--restart", "always:3", "img"}).starts_with("run: --restart:"));
    CHECK(run_args_error({"--rm", "--restart", "always", "img"}).starts_with("run: --restart:"));
    CHECK(run_args_error({"--cap-add", "FLY", "img"}) ==
          "run: --cap-add: unknown capability `FLY`");
    CHECK(run_args_error({"--security-opt", "apparmor=x", "img"})
              .starts_with("run: --security-opt:"));
    CHECK(
        run_args_error({"--health-interval", "10", "img"}).starts_with("run: --health-interval:"));
    CHECK(run_args_error({"--sdnotify", "healthy", "img"}).starts_with("run: --sdnotify:"));
    CHECK(run_args_error({"--sdnotify", "later", "img"}).starts_with("run: --sdnotify:"));
    CHECK(run_args_error({"--stop-signal", "SIGFOO", "img"}).starts_with("run: --stop-signal:"));
    CHECK(run_args_error({"--name", "-bad", "img"}).starts_with("run: --name:"));
    CHECK(run_args_error({"-v", "data:/data", "img"}).starts_with("run: --volume:"));
    CHECK(run_args_error({"-p", "80", "--network", "host", "img"}).starts_with("run: --publish:"));
    CHECK(run_args_error({"-w", "rel", "img"}).starts_with("run: --workdir:"));
    CHECK(run_args_error({"--bogus", "img"}) ==
          "run: unknown option `--bogus` (see `keel run --help`)");
    CHECK(run_args_error({"--name"}).find("--name needs a value") != std::string::npos);
}
