// containers/device_filter: the device rules a container gets, and their
// program as the kernel's verifier sees it (enforcement is tested in QEMU,
// where cgroup v2 is mounted: qemu.oci_cgroups).
#include "containers/device_filter.h"

#include <doctest/doctest.h>

#include <cerrno>

using namespace keel::oci;

TEST_CASE("the device rules are the spec's, then the ones every container needs, then its "
          "devices") {
    Spec spec;
    spec.linux_config.resources = Resources{};
    spec.linux_config.resources->devices = {DeviceRule{.allow = false, .access = "rwm"}};
    spec.linux_config.devices = {Device{.type = 'b', .path = "/dev/loop9", .major = 7, .minor = 9},
                                 Device{.type = 'p', .path = "/dev/fifo"}};
    std::vector<DeviceRule> rules = effective_device_rules(spec);
    REQUIRE(rules.size() == 1 + 11 + 1);
    CHECK_FALSE(rules.front().allow);
    CHECK(rules.front().type == 'a');
    const DeviceRule& null = rules[3];
    CHECK((null.allow && null.type == 'c' && null.major == 1 && null.minor == 3));
    const DeviceRule& loop = rules.back();
    CHECK((loop.allow && loop.type == 'b' && loop.major == 7 && loop.minor == 9));
    CHECK(loop.access == "rwm");
}

TEST_CASE("a rule's checks skip to the next rule, and no match denies") {
    // One rule: allow c 1:3 rw. Six loads, type, access (3), major, minor,
    // verdict (2), then the final deny (2).
    std::vector<BpfInstruction> program = compile_device_filter(
        {DeviceRule{.allow = true, .type = 'c', .major = 1, .minor = 3, .access = "rw"}});
    REQUIRE(program.size() == 6 + 1 + 3 + 1 + 1 + 2 + 2);
    // Every conditional jump lands on the final deny, just past the rule.
    size_t deny = program.size() - 2;
    for (size_t i = 6; i < 6 + 7; ++i)
        if ((program[i].code & 0x07) == BPF_JMP32)
            CHECK(i + 1 + size_t(program[i].off) == deny);
    CHECK(program[deny].imm == 0);
    CHECK(program[deny - 2].imm == 1);
}

TEST_CASE("the kernel's verifier takes the filter of a runc-like config") {
    Spec spec;
    spec.linux_config.resources = Resources{};
    spec.linux_config.resources->devices = {DeviceRule{.allow = false, .access = "rwm"}};
    auto loaded = load_device_filter(compile_device_filter(effective_device_rules(spec)));
    if (!loaded && (loaded.error().code() == EPERM || loaded.error().code() == ENOSYS)) {
        MESSAGE("SKIP: this machine refuses bpf(BPF_PROG_LOAD): " << loaded.error().to_string());
        return;
    }
    REQUIRE_MESSAGE(loaded, (loaded ? std::string() : loaded.error().to_string()));
    CHECK(loaded->get() >= 0);
}

TEST_CASE("a rule for every device ends the program: the rules before it cannot matter") {
    std::vector<BpfInstruction> program =
        compile_device_filter({DeviceRule{.allow = true, .type = 'c', .major = 1, .minor = 3},
                               DeviceRule{.allow = false, .access = "rwm"}});
    // Six loads, then the deny-all rule's verdict and nothing more.
    REQUIRE(program.size() == 6 + 2);
    CHECK(program.back().code == (BPF_JMP | BPF_EXIT));
    CHECK(program[6].imm == 0);
}

TEST_CASE("v1: device rules become v1's default and its list of exceptions") {
    std::vector<DeviceRule> rules = {
        {false, 'a', std::nullopt, std::nullopt, "rwm"},
        {true, 'c', std::nullopt, std::nullopt, "m"},
        {true, 'c', 1, 3, "rw"},
        {true, 'c', 1, 3, "m"},
        {true, 'c', 136, std::nullopt, ""},
        {false, 'c', 1, 3, "w"},   // the same devices: w taken away
        {false, 'b', 8, 0, "rwm"}, // never allowed: nothing to say
        {true, 'b', 7, 1, "r"},
        {false, 'b', 7, 1, "r"}, // all taken away: the exception goes
    };
    auto writes = device_writes_v1(rules);
    REQUIRE(writes);
    CHECK(*writes == std::vector<CgroupWrite>{{"devices.deny", "a"},
                                              {"devices.allow", "c *:* m"},
                                              {"devices.allow", "c 1:3 rm"},
                                              {"devices.allow", "c 136:* rwm"}});
    // Everything allowed but some: the exceptions are denials.
    rules = {{true, 'a', std::nullopt, std::nullopt, "rwm"}, {false, 'c', 4, std::nullopt, "rw"}};
    writes = device_writes_v1(rules);
    REQUIRE(writes);
    CHECK(*writes ==
          std::vector<CgroupWrite>{{"devices.allow", "a"}, {"devices.deny", "c 4:* rw"}});
    // What v1's list cannot say: part of a wider exception taken away (v2
    // denies the ttys here), and "a" for some accesses.
    rules = {{false, 'a', std::nullopt, std::nullopt, "rwm"},
             {true, 'c', std::nullopt, std::nullopt, "rwm"},
             {false, 'c', 4, std::nullopt, "rwm"}};
    auto part = device_writes_v1(rules);
    REQUIRE_FALSE(part);
    CHECK(part.error().to_string() == "linux.resources.devices[2]: cgroup v1 cannot take rwm away "
                                      "from part of what an earlier rule gave");
    rules = {{true, 'a', std::nullopt, std::nullopt, "r"}};
    auto partial = device_writes_v1(rules);
    REQUIRE_FALSE(partial);
    CHECK(partial.error().to_string() ==
          "linux.resources.devices[0]: cgroup v1 cannot apply a rule for all devices to some "
          "numbers or accesses only");
}
