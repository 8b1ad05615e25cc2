// The unit catalog: unit directories overriding one another, drop-ins,
// built-in targets and default.target, preloading, and masked units.
#include "tests/unit/temp_dir.h"
#include "tests/unit/unit_model_fixture.h"

#include <doctest/doctest.h>
#include <string>
#include <unistd.h>
#include <vector>

using keel::testing::context;
using keel::testing::TempDir;
using keel::testing::write;

TEST_CASE("a later unit directory overrides an earlier one and a bad unit does not stop the rest") {
    TempDir dir;
    std::string image = dir / "lib", admin = dir / "etc";
    write(image + "/a.service", "[Service]\nExecStart=/bin/image\n");
    write(admin + "/a.service", "[Service]\nExecStart=/bin/admin\n");
    write(admin + "/b.service", "[Service]\nnot an assignment\n");
    write(admin + "/c.service", "[Service]\nExecStart=/bin/c\n");
    write(admin + "/notes.txt", "not a unit");
    write(admin + "/web@.service", "[Service]\nExecStart=/bin/web %i\n");
    auto catalog = keel::UnitCatalog::scan({image, admin, dir / "missing"});
    CHECK(catalog.unit_names() == std::vector<std::string>{"a.service", "b.service", "c.service"});
    std::vector<std::string> warnings;
    bool not_found = false;
    auto a = catalog.load("a.service", context(), warnings, not_found);
    REQUIRE(a);
    CHECK(a->service.exec_start[0].argv[0] == "/bin/admin");
    CHECK(a->path == admin + "/a.service");
    auto b = catalog.load("b.service", context(), warnings, not_found);
    REQUIRE_FALSE(b);
    CHECK_FALSE(not_found);
    CHECK(b.error().to_string() ==
          admin + "/b.service:2: expected Key=Value, got `not an assignment`");
    auto c = catalog.load("c.service", context(), warnings, not_found);
    CHECK(c);
    auto instance = catalog.load("web@blue.service", context(), warnings, not_found);
    REQUIRE(instance);
    CHECK(instance->service.exec_start[0].argv == std::vector<std::string>{"/bin/web", "blue"});
    auto missing = catalog.load("nope.service", context(), warnings, not_found);
    REQUIRE_FALSE(missing);
    CHECK(not_found);
    CHECK(missing.error().to_string() == "unit `nope.service` not found");
}

TEST_CASE("drop-ins from every directory apply in file-name order; a later one replaces a "
          "same-named one") {
    TempDir dir;
    std::string image = dir / "lib", admin = dir / "etc";
    write(image + "/web.service", "[Service]\nExecStart=/bin/web\n");
    write(image + "/web.service.d/10-restart.conf", "[Service]\nRestart=always\n");
    write(image + "/web.service.d/20-env.conf", "[Service]\nEnvironment=FROM=image\n");
    write(admin + "/web.service.d/20-env.conf", "[Service]\nEnvironment=FROM=admin\n");
    write(admin + "/web.service.d/05-first.conf", "[Service]\nRestart=no\nRestartSec=1\n");
    write(admin + "/web.service.d/ignored.txt", "[Service]\nRestartSec=9\n");
    auto catalog = keel::UnitCatalog::scan({image, admin});
    std::vector<std::string> warnings;
    bool not_found;
    auto unit = catalog.load("web.service", context(), warnings, not_found);
    REQUIRE(unit);
    CHECK(unit->service.restart == keel::RestartPolicy::Always); // 10 after 05
    CHECK(unit->service.restart_usec == 1'000'000);
    CHECK(unit->service.environment == keel::Environment{{"FROM", "admin"}});
    CHECK(unit->dropins == std::vector<std::string>{admin + "/web.service.d/05-first.conf",
                                                    image + "/web.service.d/10-restart.conf",
                                                    admin + "/web.service.d/20-env.conf"});
}

TEST_CASE("built-in targets exist without files and default.target is multi-user.target") {
    TempDir dir;
    auto catalog = keel::UnitCatalog::scan({dir.path()});
    CHECK(catalog.resolve_alias("default.target") == "multi-user.target");
    std::vector<std::string> warnings;
    bool not_found;
    auto multi = catalog.load("default.target", context(), warnings, not_found);
    REQUIRE(multi);
    CHECK(multi->name == "multi-user.target");
    CHECK(multi->requirements == std::vector<std::string>{"basic.target"});
    CHECK(multi->after == std::vector<std::string>{"basic.target"});
    CHECK(catalog.load("basic.target", context(), warnings, not_found));
    CHECK(catalog.enable_state(*multi) == keel::EnableState::Builtin);

    REQUIRE(symlink("/somewhere/rescue.target", (dir / "default.target").c_str()) == 0);
    write(dir / "rescue.target", "[Unit]\nDescription=Rescue\n");
    auto aliased = keel::UnitCatalog::scan({dir.path()});
    CHECK(aliased.resolve_alias("default.target") == "rescue.target");
}

TEST_CASE("preloaded units are handed over once, with their warnings, for the same context") {
    TempDir dir;
    write(dir / "web.service", "[Service]\nExecStart=/bin/web %H\nBogus=1\n");
    write(dir / "bad.service", "[Service]\nRestart=sometimes\n");
    auto catalog = keel::UnitCatalog::scan({dir.path()});
    catalog.preload(context());
    // The files change after the preload: the first load sees what was read.
    write(dir / "web.service", "[Service]\nExecStart=/bin/changed\n");
    std::vector<std::string> warnings;
    bool not_found = true;
    auto web = catalog.load("web.service", context(), warnings, not_found);
    REQUIRE(web);
    CHECK_FALSE(not_found);
    CHECK(web->service.exec_start[0].argv == std::vector<std::string>{"/bin/web", "node1"});
    REQUIRE(warnings.size() == 1);
    CHECK(warnings[0].find("unknown key `Bogus`") != std::string::npos);
    auto bad = catalog.load("bad.service", context(), warnings, not_found);
    REQUIRE_FALSE(bad);
    CHECK(bad.error().to_string() ==
          dir / "bad.service" + ":2: Restart: unknown value `sometimes` (expected no, on-success, "
                                "on-failure, on-abnormal, on-watchdog, on-abort or always)");
    // Handed over once: the next load reads the file again.
    warnings.clear();
    web = catalog.load("web.service", context(), warnings, not_found);
    REQUIRE(web);
    CHECK(web->service.exec_start[0].argv == std::vector<std::string>{"/bin/changed"});
    CHECK(warnings.empty());

    // Another context: what was preloaded does not apply.
    write(dir / "web.service", "[Service]\nExecStart=/bin/web %H\n");
    catalog.preload(context());
    keel::SpecifierContext other = context();
    other.hostname = "elsewhere";
    web = catalog.load("web.service", other, warnings, not_found);
    REQUIRE(web);
    CHECK(web->service.exec_start[0].argv == std::vector<std::string>{"/bin/web", "elsewhere"});
}

TEST_CASE("a unit linked to /dev/null is masked") {
    TempDir dir;
    write(dir / "lib/web.service", "[Service]\nExecStart=/bin/web\n");
    REQUIRE(keel::make_directories(dir / "etc"));
    REQUIRE(symlink("/dev/null", (dir / "etc/web.service").c_str()) == 0);
    auto catalog = keel::UnitCatalog::scan({dir / "lib", dir / "etc"});
    std::vector<std::string> warnings;
    bool not_found;
    auto web = catalog.load("web.service", context(), warnings, not_found);
    REQUIRE_FALSE(web);
    CHECK(web.error().to_string() == "unit `web.service` is masked (linked to /dev/null)");
}

TEST_CASE(
    "keel-kv.service is built in, wanted by multi-user.target, and runs only when configured") {
    TempDir dir;
    auto catalog = keel::UnitCatalog::scan({dir.path()});
    std::vector<std::string> warnings;
    bool not_found = false;
    auto multi = catalog.load("multi-user.target", context(), warnings, not_found);
    REQUIRE(multi);
    CHECK(multi->wants == std::vector<std::string>{"keel-kv.service", "keel-update.service"});
    auto kv = catalog.load("keel-kv.service", context(), warnings, not_found);
    REQUIRE(kv);
    CHECK(warnings.empty());
    CHECK(kv->type == keel::UnitType::Service);
    CHECK(kv->service.type == keel::ServiceType::Notify);
    CHECK(kv->service.restart == keel::RestartPolicy::OnFailure);
    REQUIRE(kv->service.exec_start.size() == 1);
    const auto& argv = kv->service.exec_start[0].argv;
    REQUIRE(argv.size() == 3);
    CHECK(argv[0].starts_with("/"));
    CHECK(argv[1] == "kv");
    CHECK(argv[2] == "role");
    REQUIRE(kv->service.environment_files.size() == 1);
    CHECK(kv->service.environment_files[0].path == "/etc/keel/kv.conf");
    CHECK(kv->service.environment_files[0].optional);
    std::vector<std::string> conditions;
    for (const keel::Condition& condition : kv->conditions)
        conditions.push_back(condition.text());
    CHECK(conditions == std::vector<std::string>{"ConditionPathExists=|/etc/keel/kv.conf",
                                                 "ConditionKernelCommandLine=|keel.kv.name"});
    CHECK(catalog.enable_state(*kv) == keel::EnableState::Builtin);
}

TEST_CASE("keel-update.service is built in, runs the update agent only when the role is "
          "configured, and is throttled") {
    TempDir dir;
    auto catalog = keel::UnitCatalog::scan({dir.path()});
    std::vector<std::string> warnings;
    bool not_found = false;
    auto update = catalog.load("keel-update.service", context(), warnings, not_found);
    REQUIRE(update);
    CHECK(warnings.empty());
    CHECK(update->description.starts_with("keel's update role"));
    CHECK(update->service.restart == keel::RestartPolicy::OnFailure);
    REQUIRE(update->service.exec_start.size() == 1);
    const auto& argv = update->service.exec_start[0].argv;
    REQUIRE(argv.size() == 3);
    CHECK(argv[0].starts_with("/"));
    CHECK(argv[1] == "update");
    CHECK(argv[2] == "agent");
    std::vector<std::string> conditions;
    for (const keel::Condition& condition : update->conditions)
        conditions.push_back(condition.text());
    REQUIRE(conditions.size() >= 2);
    CHECK(conditions[0] == "ConditionPathExists=|/etc/keel/update.conf");
    CHECK(conditions[1] == "ConditionKernelCommandLine=|keel.update.health");
    const keel::CgroupLimits& limits = update->service.cgroup_limits;
    CHECK(limits.cpu_weight == std::optional<uint32_t>(20));
    REQUIRE(limits.io_bandwidth.size() == 1);
    CHECK(limits.io_bandwidth[0].device == "/");
    CHECK(limits.io_bandwidth[0].read_bytes_per_second == std::optional<uint64_t>(100'000'000));
    CHECK(limits.io_bandwidth[0].write_bytes_per_second == std::optional<uint64_t>(100'000'000));
    CHECK(catalog.enable_state(*update) == keel::EnableState::Builtin);
}
