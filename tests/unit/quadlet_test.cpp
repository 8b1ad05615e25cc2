// Container units: `.container` files in Quadlet's syntax read as the
// service that runs the container with `keel run`, and found by the catalog
// as NAME.service.
#include "init/quadlet.h"
#include "tests/unit/temp_dir.h"
#include "tests/unit/unit_model_fixture.h"

#include <algorithm>
#include <doctest/doctest.h>
#include <string>
#include <vector>

using keel::testing::context;
using keel::testing::TempDir;
using keel::testing::write;

namespace {

constexpr std::string_view kKeel = "/usr/bin/keel";

// Translates `text` (as /etc/keel/units/NAME.container) and parses the
// service, as the catalog does.
keel::Result<keel::Unit> container_unit(std::string_view text, std::vector<std::string>& warnings,
                                        std::string name = "web.service",
                                        std::vector<std::string_view> dropins = {}) {
    std::string stem = name.substr(0, name.rfind('.'));
    auto file = keel::UnitFile::parse(text, "/etc/keel/units/" + stem + ".container");
    REQUIRE(file);
    std::vector<keel::UnitFile> parsed;
    int n = 0;
    for (std::string_view dropin : dropins) {
        auto d = keel::UnitFile::parse(dropin, "/etc/keel/units/" + stem + ".container.d/" +
                                                   std::to_string(++n) + ".conf");
        REQUIRE(d);
        parsed.push_back(std::move(*d));
    }
    auto service = keel::translate_container(name, *file, parsed, context(), kKeel, warnings);
    if (!service)
        return std::unexpected(service.error());
    return keel::parse_unit(name, service->service, service->dropins, context(), warnings);
}

keel::Result<keel::Unit> container_unit(std::string_view text) {
    std::vector<std::string> warnings;
    return container_unit(text, warnings);
}

std::vector<std::string> run_argv(const keel::Unit& unit) {
    REQUIRE(unit.service.exec_start.size() == 1);
    return unit.service.exec_start[0].argv;
}

bool has(const std::vector<std::string>& list, std::string_view item) {
    return std::find(list.begin(), list.end(), item) != list.end();
}

} // namespace

TEST_CASE("a .container file becomes a notify service that runs its image with keel run and "
          "removes the container when it stops") {
    auto unit = container_unit("[Unit]\nDescription=Web\n"
                               "[Container]\nImage=docker.io/library/nginx:1.27\n"
                               "Exec=nginx -g 'daemon off;'\n"
                               "[Service]\nRestart=always\n"
                               "[Install]\nWantedBy=multi-user.target\n");
    REQUIRE(unit);
    CHECK(unit->name == "web.service");
    CHECK(unit->path == "/etc/keel/units/web.container");
    CHECK(unit->description == "Web");
    CHECK(run_argv(*unit) == std::vector<std::string>{"/usr/bin/keel", "run", "--replace", "--rm",
                                                      "--name=systemd-web", "--sdnotify=conmon",
                                                      "docker.io/library/nginx:1.27", "nginx", "-g",
                                                      "daemon off;"});
    CHECK(unit->service.type == keel::ServiceType::Notify);
    CHECK(unit->service.notify_access == keel::NotifyAccess::All);
    CHECK(unit->service.kill_mode == keel::KillMode::Mixed);
    CHECK(unit->service.restart == keel::RestartPolicy::Always);
    REQUIRE(unit->service.exec_stop.size() == 1);
    CHECK(unit->service.exec_stop[0].argv ==
          std::vector<std::string>{"/usr/bin/keel", "rm", "-f", "systemd-web"});
    CHECK(unit->service.exec_stop[0].ignore_failure);
    REQUIRE(unit->service.exec_stop_post.size() == 1);
    CHECK(unit->service.exec_stop_post[0].ignore_failure);
    CHECK(unit->wanted_by == std::vector<std::string>{"multi-user.target"});
    CHECK(has(unit->wants, "network-online.target"));
    CHECK(has(unit->after, "network-online.target"));
}

TEST_CASE("Notify=healthy makes the service wait for the health check") {
    auto unit = container_unit("[Container]\nImage=db\nNotify=healthy\n"
                               "HealthCmd=pg_isready -U postgres\nHealthInterval=5s\n"
                               "HealthRetries=3\nHealthStartPeriod=2min\nHealthTimeout=2s\n");
    REQUIRE(unit);
    auto argv = run_argv(*unit);
    CHECK(has(argv, "--sdnotify=healthy"));
    CHECK(has(argv, "--health-cmd=pg_isready -U postgres"));
    CHECK(has(argv, "--health-interval=5s"));
    CHECK(has(argv, "--health-retries=3"));
    CHECK(has(argv, "--health-start-period=2min"));
    CHECK(has(argv, "--health-timeout=2s"));
    CHECK(unit->service.type == keel::ServiceType::Notify);
    // Started only after READY=1, which may take the whole start period.
    CHECK(unit->service.timeout_start_usec == (90 + 120) * 1'000'000ull);

    auto own = container_unit("[Container]\nImage=db\nNotify=yes\n");
    REQUIRE(own);
    CHECK(has(run_argv(*own), "--sdnotify=container"));
}

TEST_CASE("an unknown key warns with its line and the rest still applies") {
    std::vector<std::string> warnings;
    auto unit = container_unit("[Container]\nImage=web\nFrobnicate=yes\nPodmanArgs=--foo\n"
                               "ReadOnly=true\n",
                               warnings);
    REQUIRE(unit);
    CHECK(has(run_argv(*unit), "--read-only"));
    CHECK(warnings == std::vector<std::string>{
                          "/etc/keel/units/web.container:3: unknown key `Frobnicate` in "
                          "[Container], ignored",
                          "/etc/keel/units/web.container:4: key `PodmanArgs` in [Container] is "
                          "not supported by keel yet, ignored"});
}

TEST_CASE("a container unit without Image= fails to load, naming its file") {
    auto unit = container_unit("[Container]\nExec=sleep 1\n");
    REQUIRE_FALSE(unit);
    CHECK(unit.error().to_string() ==
          "/etc/keel/units/web.container: [Container] has no Image=, which names the image to run");
    auto no_section = container_unit("[Service]\nRestart=always\n");
    REQUIRE_FALSE(no_section);
    CHECK(no_section.error().to_string().starts_with("/etc/keel/units/web.container: "));
}

TEST_CASE("multi-valued keys split as in systemd: quoted environment words, repeated ports, "
          "volumes and capabilities") {
    auto unit = container_unit("[Container]\nImage=web\n"
                               "Environment=A=1 \"B=two words\" C=\n"
                               "Environment=D='x y'\n"
                               "PublishPort=8080:80 8443:443\n"
                               "PublishPort=127.0.0.1:9090:9090/udp\n"
                               "Volume=/srv/data:/data:ro\n"
                               "Volume=./conf:/etc/web\n"
                               "EnvironmentFile=web.env\n"
                               "EnvironmentFile=/etc/default/web\n"
                               "AddCapability=CAP_NET_ADMIN CAP_SYS_TIME\n"
                               "DropCapability=CAP_MKNOD\n"
                               "Ulimit=nofile=1024:4096\nUlimit=nproc=64\n"
                               "Network=host\nLabel=app=web \"tier=front end\"\n"
                               "Tmpfs=/run\nHostName=web1\nWorkingDir=/srv\nRunInit=yes\n"
                               "Memory=512m\nPidsLimit=100\nNoNewPrivileges=true\nPull=never\n"
                               "SeccompProfile=/etc/keel/seccomp.json\n"
                               "Entrypoint=[\"/bin/sh\", \"-c\"]\n");
    REQUIRE(unit);
    auto argv = run_argv(*unit);
    std::vector<std::string> options(argv.begin() + 6, argv.end() - 1);
    CHECK(options == std::vector<std::string>{
                         "--entrypoint=[\"/bin/sh\", \"-c\"]",
                         "--env=A=1",
                         "--env=B=two words",
                         "--env=C=",
                         "--env=D=x y",
                         "--env-file=/etc/keel/units/web.env",
                         "--env-file=/etc/default/web",
                         "--publish=8080:80",
                         "--publish=8443:443",
                         "--publish=127.0.0.1:9090:9090/udp",
                         "--volume=/srv/data:/data:ro",
                         "--volume=/etc/keel/units/conf:/etc/web",
                         "--tmpfs=/run",
                         "--network=host",
                         "--hostname=web1",
                         "--workdir=/srv",
                         "--label=app=web",
                         "--label=tier=front end",
                         "--cap-add=CAP_NET_ADMIN",
                         "--cap-add=CAP_SYS_TIME",
                         "--cap-drop=CAP_MKNOD",
                         "--security-opt=no-new-privileges",
                         "--security-opt=seccomp=/etc/keel/seccomp.json",
                         "--init",
                         "--memory=512m",
                         "--pids-limit=100",
                         "--ulimit=nofile=1024:4096",
                         "--ulimit=nproc=64",
                         "--pull=never",
                     });
    CHECK(argv.back() == "web");
}

TEST_CASE("an empty assignment resets a list key, and a later single value wins") {
    auto unit = container_unit("[Container]\nImage=old\nImage=new\n"
                               "PublishPort=80:80\nPublishPort=\nPublishPort=81:81\n"
                               "Exec=first\nExec=second arg\n");
    REQUIRE(unit);
    CHECK(run_argv(*unit) == std::vector<std::string>{"/usr/bin/keel", "run", "--replace", "--rm",
                                                      "--name=systemd-web", "--sdnotify=conmon",
                                                      "--publish=81:81", "new", "second", "arg"});
}

TEST_CASE("User= and Group= become --user USER:GROUP; Group= without User= is refused") {
    auto unit = container_unit("[Container]\nImage=web\nUser=1000\nGroup=100\n");
    REQUIRE(unit);
    CHECK(has(run_argv(*unit), "--user=1000:100"));
    auto user_only = container_unit("[Container]\nImage=web\nUser=www\n");
    REQUIRE(user_only);
    CHECK(has(run_argv(*user_only), "--user=www"));
    auto group_only = container_unit("[Container]\nImage=web\nGroup=100\n");
    REQUIRE_FALSE(group_only);
    CHECK(group_only.error().to_string() ==
          "/etc/keel/units/web.container:3: Group: Group= needs User= (keel runs --user "
          "USER:GROUP)");
}

TEST_CASE("StopTimeout gives the container its stop timeout and the service time to remove it") {
    auto unit = container_unit("[Container]\nImage=web\nStopTimeout=100\n");
    REQUIRE(unit);
    CHECK(has(run_argv(*unit), "--stop-timeout=100"));
    CHECK(unit->service.timeout_stop_usec == 130 * 1'000'000ull);
    auto own = container_unit("[Container]\nImage=web\nStopTimeout=60\n"
                              "[Service]\nTimeoutStopSec=5min\n");
    REQUIRE(own);
    CHECK(own->service.timeout_stop_usec == 300 * 1'000'000ull);
}

TEST_CASE("the unit's own [Service] keys win over the generated ones, within what a container "
          "unit allows") {
    auto unit = container_unit("[Container]\nImage=job\n"
                               "[Service]\nType=oneshot\nKillMode=control-group\n");
    REQUIRE(unit);
    CHECK(unit->service.type == keel::ServiceType::Oneshot);
    CHECK(unit->service.kill_mode == keel::KillMode::ControlGroup);
    std::vector<std::string> argv = run_argv(*unit);
    CHECK_FALSE(std::any_of(argv.begin(), argv.end(), [](const std::string& word) {
        return word.starts_with("--sdnotify");
    }));

    auto simple = container_unit("[Container]\nImage=job\n[Service]\nType=simple\n");
    REQUIRE_FALSE(simple);
    CHECK(simple.error().to_string() ==
          "/etc/keel/units/web.container:4: Type: a container unit is Type=notify (the default) "
          "or Type=oneshot, not `simple`");
    auto process = container_unit("[Container]\nImage=job\n[Service]\nKillMode=process\n");
    REQUIRE_FALSE(process);
}

TEST_CASE("specifiers expand in [Container] values and the default name is systemd-%N") {
    std::vector<std::string> warnings;
    auto unit = container_unit("[Container]\nImage=registry.local/%i:latest\n"
                               "Environment=UNIT=%n HOST=%H\nExec=echo 100%%\n",
                               warnings, "app@blue.service");
    REQUIRE(unit);
    CHECK(run_argv(*unit) ==
          std::vector<std::string>{"/usr/bin/keel", "run", "--replace", "--rm",
                                   "--name=systemd-app@blue", "--sdnotify=conmon",
                                   "--env=UNIT=app@blue.service", "--env=HOST=node1",
                                   "registry.local/blue:latest", "echo", "100%"});
    auto named = container_unit("[Container]\nImage=web\nContainerName=front-%i\n", warnings,
                                "web@2.service");
    REQUIRE(named);
    CHECK(has(run_argv(*named), "--name=front-2"));
    CHECK(named->service.exec_stop[0].argv.back() == "front-2");
}

TEST_CASE("values with quotes, backslashes and percent signs reach keel run unchanged") {
    auto unit = container_unit("[Container]\nImage=web\n"
                               "Environment=\"GREETING=say \\\"hi\\\" \\\\ 50%%\"\n"
                               "Exec=/bin/sh -c 'printf \"%%s\\n\" x'\n");
    REQUIRE(unit);
    auto argv = run_argv(*unit);
    CHECK(has(argv, "--env=GREETING=say \"hi\" \\ 50%"));
    CHECK(std::vector<std::string>(argv.end() - 3, argv.end()) ==
          std::vector<std::string>{"/bin/sh", "-c", "printf \"%s\n\" x"});
}

TEST_CASE("malformed [Container] values are errors naming file, line and key") {
    struct Case {
        std::string_view text;
        std::string_view message;
    };
    const Case cases[] = {
        {"[Container]\nImage=web\nReadOnly=maybe\n", "web.container:3: ReadOnly: invalid boolean"},
        {"[Container]\nImage=web\nExec=sh -c 'unterminated\n", "web.container:3: Exec: "},
        {"[Container]\nImage=web\nEnvironment=JUSTANAME\n",
         "web.container:3: Environment: `JUSTANAME` is not KEY=VALUE"},
        {"[Container]\nImage=web\nNotify=sometimes\n",
         "web.container:3: Notify: expected yes, no or healthy, got `sometimes`"},
        {"[Container]\nImage=web\nStopTimeout=10s\n",
         "web.container:3: StopTimeout: expected a number of seconds, got `10s`"},
        {"[Container]\nImage=web\nHealthRetries=many\n",
         "web.container:3: HealthRetries: expected a number, got `many`"},
        {"[Container]\nImage=web\nHostName=%z\n", "web.container:3: HostName: "},
        {"[Container]\nImage=web.image\n", "web.container:2: Image: `web.image` names a Quadlet"},
        {"[Container]\nImage=web\n[Quadlet]\nDefaultDependencies=perhaps\n",
         "web.container:4: DefaultDependencies: invalid boolean"},
    };
    for (const Case& c : cases) {
        CAPTURE(c.text);
        auto unit = container_unit(c.text);
        REQUIRE_FALSE(unit);
        CHECK(unit.error().to_string().find(c.message) != std::string::npos);
    }
}

TEST_CASE("[Quadlet] DefaultDependencies=no leaves out the network-online.target dependency") {
    auto unit = container_unit("[Container]\nImage=web\n[Quadlet]\nDefaultDependencies=no\n");
    REQUIRE(unit);
    CHECK_FALSE(has(unit->wants, "network-online.target"));
    CHECK_FALSE(has(unit->after, "network-online.target"));
}

TEST_CASE("a container's drop-ins set [Container] keys and their other sections apply too") {
    std::vector<std::string> warnings;
    auto unit =
        container_unit("[Container]\nImage=web\nPublishPort=80:80\n", warnings, "web.service",
                       {"[Container]\nPublishPort=\nPublishPort=8080:80\nBogus=1\n"
                        "[Service]\nRestart=on-failure\n"});
    REQUIRE(unit);
    auto argv = run_argv(*unit);
    CHECK(has(argv, "--publish=8080:80"));
    CHECK_FALSE(has(argv, "--publish=80:80"));
    CHECK(unit->service.restart == keel::RestartPolicy::OnFailure);
    CHECK(unit->dropins == std::vector<std::string>{"/etc/keel/units/web.container.d/1.conf"});
    CHECK(warnings == std::vector<std::string>{"/etc/keel/units/web.container.d/1.conf:4: "
                                               "unknown key `Bogus` in [Container], ignored"});
}

TEST_CASE("container unit names follow Quadlet: NAME.container is NAME.service") {
    CHECK(keel::container_service_name("web.container") == "web.service");
    CHECK(keel::container_service_name("db@.container") == "db@.service");
    CHECK_FALSE(keel::container_service_name("web.service"));
    CHECK_FALSE(keel::container_service_name(".container"));
    CHECK_FALSE(keel::container_service_name("bad name.container"));
    CHECK(keel::keel_binary_path().starts_with("/"));
}

TEST_CASE("a .container file in a unit directory is listed, loaded and started as NAME.service") {
    TempDir dir;
    std::string image = dir / "lib", admin = dir / "etc";
    write(admin + "/web.container",
          "[Container]\nImage=web\n[Install]\nWantedBy=multi-user.target\n");
    write(admin + "/web.container.d/10-port.conf", "[Container]\nPublishPort=80:80\n");
    write(admin + "/web.service.d/20-restart.conf", "[Service]\nRestart=always\n");
    write(image + "/app@.container", "[Container]\nImage=app\nExec=serve %i\n");
    write(admin + "/README.container.txt", "not a unit");
    auto catalog = keel::UnitCatalog::scan({image, admin});
    CHECK(catalog.unit_names() == std::vector<std::string>{"web.service"});
    std::vector<std::string> warnings;
    bool not_found = false;
    auto web = catalog.load("web.service", context(), warnings, not_found);
    REQUIRE(web);
    CHECK(warnings.empty());
    CHECK(web->path == admin + "/web.container");
    CHECK(web->service.exec_start[0].argv[0] == keel::keel_binary_path());
    CHECK(has(web->service.exec_start[0].argv, "--publish=80:80"));
    CHECK(web->service.restart == keel::RestartPolicy::Always);
    CHECK(web->dropins == std::vector<std::string>{admin + "/web.container.d/10-port.conf",
                                                   admin + "/web.service.d/20-restart.conf"});
    auto instance = catalog.load("app@blue.service", context(), warnings, not_found);
    REQUIRE(instance);
    CHECK(std::vector<std::string>(instance->service.exec_start[0].argv.end() - 2,
                                   instance->service.exec_start[0].argv.end()) ==
          std::vector<std::string>{"serve", "blue"});
}

TEST_CASE("a NAME.service beside a NAME.container wins, with a warning") {
    TempDir dir;
    std::string units = dir / "units";
    write(units + "/web.container", "[Container]\nImage=web\n");
    write(units + "/web.service", "[Service]\nExecStart=/bin/web\n");
    auto catalog = keel::UnitCatalog::scan({units});
    std::vector<std::string> warnings;
    bool not_found = false;
    auto web = catalog.load("web.service", context(), warnings, not_found);
    REQUIRE(web);
    CHECK(web->path == units + "/web.service");
    CHECK(warnings == std::vector<std::string>{units + "/web.container: ignored, since " + units +
                                               "/web.service is beside it"});

    // In a later directory, a container unit overrides an earlier service
    // as any unit file does.
    std::string admin = dir / "admin";
    write(admin + "/web.container", "[Container]\nImage=web\n");
    auto layered = keel::UnitCatalog::scan({units, admin});
    warnings.clear();
    auto container = layered.load("web.service", context(), warnings, not_found);
    REQUIRE(container);
    CHECK(container->path == admin + "/web.container");
    CHECK(warnings.empty());
}

TEST_CASE("enabling a container unit links its .container file and it then reads as enabled") {
    TempDir dir;
    std::string units = dir / "units";
    write(units + "/web.container", "[Container]\nImage=web\n[Install]\n"
                                    "WantedBy=multi-user.target\nAlias=www.service\n");
    auto catalog = keel::UnitCatalog::scan({units});
    std::vector<std::string> warnings;
    bool not_found = false;
    auto web = catalog.load("web.service", context(), warnings, not_found);
    REQUIRE(web);
    CHECK(catalog.enable_state(*web) == keel::EnableState::Disabled);
    auto changes = keel::enable_unit(*web, units);
    REQUIRE(changes);
    CHECK(changes->front() == "Created symlink " + units +
                                  "/multi-user.target.wants/web.service \u2192 " + units +
                                  "/web.container.");
    auto enabled = keel::UnitCatalog::scan({units});
    CHECK(enabled.enable_state(*web) == keel::EnableState::Enabled);
    CHECK(enabled.resolve_alias("www.service") == "web.service");
    CHECK(enabled.unit_names() == std::vector<std::string>{"web.service"});
    auto target = enabled.load("multi-user.target", context(), warnings, not_found);
    REQUIRE(target);
    CHECK(has(target->wants, "web.service"));
    auto removed = keel::disable_unit(*web, units);
    REQUIRE(removed);
    CHECK(removed->size() == 2);
    CHECK(keel::UnitCatalog::scan({units}).enable_state(*web) == keel::EnableState::Disabled);
}
