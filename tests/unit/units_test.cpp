// Service unit model (first cut).
#include "init/units.h"

#include "base/sys.h"

#include <doctest/doctest.h>
#include <unistd.h>

namespace {

keel::Result<keel::ServiceUnit> parse(std::string_view text, std::vector<std::string>& warnings) {
    auto file = keel::UnitFile::parse(text, "web.service");
    REQUIRE(file);
    return keel::parse_service_unit(*file, "web.service", warnings);
}

} // namespace

TEST_CASE("a service's command, environment and sandbox come from its unit file") {
    std::vector<std::string> warnings;
    auto unit = parse(R"([Unit]
Description=The web server
[Service]
ExecStart=-/usr/bin/web --port "80 81"
Environment=A=1 "B=two words"
Environment=A=3
WorkingDirectory=/srv
CapabilityBoundingSet=CAP_NET_BIND_SERVICE
NoNewPrivileges=yes
SystemCallFilter=~reboot kexec_load
LimitNOFILE=4096
)",
                      warnings);
    REQUIRE(unit);
    CHECK(warnings.empty());
    CHECK(unit->description == "The web server");
    CHECK(unit->ignore_failure);
    CHECK(unit->spawn.argv == std::vector<std::string>{"/usr/bin/web", "--port", "80 81"});
    CHECK(unit->spawn.environment ==
          std::vector<std::string>{
              "A=3", "B=two words",
              "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"});
    CHECK(unit->spawn.working_directory == "/srv");
    CHECK(unit->spawn.capability_mode == keel::CapabilityMode::Keep);
    CHECK(unit->spawn.capabilities == std::vector<std::string>{"CAP_NET_BIND_SERVICE"});
    CHECK(unit->spawn.no_new_privileges);
    CHECK(unit->spawn.denied_syscalls == std::vector<std::string>{"reboot", "kexec_load"});
    REQUIRE(unit->spawn.limits.size() == 1);
    CHECK(unit->spawn.limits[0].soft == 4096);
}

TEST_CASE("unknown keys and sections are warnings naming file and line") {
    std::vector<std::string> warnings;
    auto unit =
        parse("[Service]\nExecStart=/bin/true\nFrobnicate=yes\n[X-Custom]\nA=b\n", warnings);
    REQUIRE(unit);
    CHECK(warnings ==
          std::vector<std::string>{"web.service:3: unknown key `Frobnicate` in [Service], ignored",
                                   "web.service:4: unknown section [X-Custom], ignored"});
}

TEST_CASE("malformed service settings are errors naming what was wrong") {
    std::vector<std::string> warnings;
    auto no_exec = parse("[Service]\nType=simple\n", warnings);
    REQUIRE_FALSE(no_exec);
    CHECK(no_exec.error().to_string() == "web.service: [Service] has no ExecStart=");

    auto relative = parse("[Service]\nExecStart=web\n", warnings);
    REQUIRE_FALSE(relative);
    CHECK(relative.error().to_string() ==
          "web.service:2: ExecStart must start with an absolute path");

    auto quote = parse("[Service]\nExecStart=/bin/echo \"open\n", warnings);
    REQUIRE_FALSE(quote);
    CHECK(quote.error().to_string().starts_with("web.service:2: ExecStart: "));

    auto env = parse("[Service]\nExecStart=/bin/true\nEnvironment=JUSTAWORD\n", warnings);
    REQUIRE_FALSE(env);
    CHECK(env.error().to_string() == "web.service: Environment: `JUSTAWORD` is not KEY=value");

    auto caps = parse("[Service]\nExecStart=/bin/true\nCapabilityBoundingSet=CAP_FLY\n", warnings);
    REQUIRE_FALSE(caps);
    CHECK(caps.error().to_string() == "web.service: unknown capability `CAP_FLY`");

    auto allow = parse("[Service]\nExecStart=/bin/true\nSystemCallFilter=read write\n", warnings);
    REQUIRE_FALSE(allow);
    CHECK(allow.error().to_string().find("only the `~name ...` deny form") != std::string::npos);

    auto limit = parse("[Service]\nExecStart=/bin/true\nLimitNOFILE=lots\n", warnings);
    REQUIRE_FALSE(limit);
    CHECK(limit.error().to_string() ==
          "web.service: LimitNOFILE: expected a number or `infinity`, got `lots`");
}

TEST_CASE("a later unit directory overrides an earlier one and a bad unit does not stop the rest") {
    char base[] = "/tmp/keel-units-XXXXXX";
    REQUIRE(mkdtemp(base));
    std::string image = std::string(base) + "/lib", admin = std::string(base) + "/etc";
    REQUIRE(keel::make_directories(image));
    REQUIRE(keel::make_directories(admin));
    REQUIRE(keel::write_new_file(image + "/a.service", "[Service]\nExecStart=/bin/image\n"));
    REQUIRE(keel::write_new_file(admin + "/a.service", "[Service]\nExecStart=/bin/admin\n"));
    REQUIRE(keel::write_new_file(admin + "/b.service", "[Service]\nnot an assignment\n"));
    REQUIRE(keel::write_new_file(admin + "/c.service", "[Service]\nExecStart=/bin/c\n"));
    REQUIRE(keel::write_new_file(admin + "/notes.txt", "not a unit"));
    std::vector<std::string> errors, warnings;
    auto units =
        keel::load_service_units({image, admin, std::string(base) + "/missing"}, errors, warnings);
    REQUIRE(units.size() == 2);
    CHECK(units[0].name == "a.service");
    CHECK(units[0].spawn.argv[0] == "/bin/admin");
    CHECK(units[1].name == "c.service");
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].starts_with(admin + "/b.service:2: "));
    std::string cleanup = std::string("rm -rf ") + base;
    CHECK(system(cleanup.c_str()) == 0);
}
