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
