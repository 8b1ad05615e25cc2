#include "containers/device_filter.h"

#include "base/strings.h"
#include "base/sys.h"

#include <algorithm>
#include <cstddef>

namespace keel::oci {

namespace {

// Registers: r1 holds the context on entry, r0 the verdict on exit.
constexpr uint8_t kType = 2;   // BPF_DEVCG_DEV_*
constexpr uint8_t kAccess = 3; // BPF_DEVCG_ACC_*
constexpr uint8_t kMajor = 4;
constexpr uint8_t kMinor = 5;
constexpr uint8_t kScratch = 1; // the context is read first, then free

BpfInstruction instruction(uint8_t code, uint8_t dst, uint8_t src, int16_t offset, int32_t imm) {
    return BpfInstruction{.code = code,
                          .registers = uint8_t((dst & 0xf) | (src & 0xf) << 4),
                          .off = offset,
                          .imm = imm};
}

BpfInstruction load_word(uint8_t dst, int16_t offset) {
    return instruction(BPF_LDX | BPF_MEM | BPF_W, dst, 1, offset, 0);
}
BpfInstruction alu(uint8_t op, uint8_t dst, int32_t imm) {
    return instruction(BPF_ALU | op | BPF_K, dst, 0, 0, imm);
}
BpfInstruction move_register(uint8_t dst, uint8_t src) {
    return instruction(BPF_ALU | BPF_MOV | BPF_X, dst, src, 0, 0);
}
// Jumps `offset` instructions ahead when `reg` != imm (32-bit compare).
BpfInstruction jump_if_not(uint8_t reg, int32_t imm, int16_t offset) {
    return instruction(BPF_JMP32 | BPF_JNE | BPF_K, reg, 0, offset, imm);
}
// r0 = verdict; exit.
void append_return(std::vector<BpfInstruction>& out, int32_t verdict) {
    out.push_back(instruction(BPF_ALU | BPF_MOV | BPF_K, 0, 0, 0, verdict));
    out.push_back(instruction(BPF_JMP | BPF_EXIT, 0, 0, 0, 0));
}

uint32_t access_bits(std::string_view access) {
    if (access.empty())
        access = "rwm";
    uint32_t bits = 0;
    for (char c : access)
        bits |= c == 'r'   ? BPF_DEVCG_ACC_READ
                : c == 'w' ? BPF_DEVCG_ACC_WRITE
                           : BPF_DEVCG_ACC_MKNOD;
    return bits;
}

DeviceRule allow(char type, std::optional<int64_t> major, std::optional<int64_t> minor,
                 std::string access = "rwm") {
    return DeviceRule{
        .allow = true, .type = type, .major = major, .minor = minor, .access = std::move(access)};
}

} // namespace

std::vector<DeviceRule> effective_device_rules(const Spec& spec) {
    std::vector<DeviceRule> rules;
    if (spec.linux_config.resources)
        rules = spec.linux_config.resources->devices;
    for (DeviceRule rule : {
             allow('c', std::nullopt, std::nullopt, "m"),
             allow('b', std::nullopt, std::nullopt, "m"), allow('c', 1, 3), // null
             allow('c', 1, 5),                                              // zero
             allow('c', 1, 7),                                              // full
             allow('c', 1, 8),                                              // random
             allow('c', 1, 9),                                              // urandom
             allow('c', 5, 0),                                              // tty
             allow('c', 5, 2),                                              // ptmx
             allow('c', 136, std::nullopt),                                 // the pts
             allow('c', 10, 200),                                           // tun
         })
        rules.push_back(std::move(rule));
    for (const Device& device : spec.linux_config.devices)
        if (device.type != 'p') // a fifo is no device
            rules.push_back(allow(device.type == 'b' ? 'b' : 'c', device.major, device.minor));
    return rules;
}

std::vector<BpfInstruction> compile_device_filter(const std::vector<DeviceRule>& rules) {
    std::vector<BpfInstruction> program = {
        load_word(kType, offsetof(bpf_cgroup_dev_ctx, access_type)),
        alu(BPF_AND, kType, 0xffff),
        load_word(kAccess, offsetof(bpf_cgroup_dev_ctx, access_type)),
        alu(BPF_RSH, kAccess, 16),
        load_word(kMajor, offsetof(bpf_cgroup_dev_ctx, major)),
        load_word(kMinor, offsetof(bpf_cgroup_dev_ctx, minor)),
    };
    // The last rule decides: tried from the last to the first, the first
    // match returns. Each block's jumps skip to the end of the block.
    for (auto rule = rules.rbegin(); rule != rules.rend(); ++rule) {
        std::vector<BpfInstruction> block;
        std::vector<size_t> skips; // jumps to the end of this block
        if (rule->type == 'c' || rule->type == 'b') {
            skips.push_back(block.size());
            block.push_back(jump_if_not(
                kType, rule->type == 'c' ? BPF_DEVCG_DEV_CHAR : BPF_DEVCG_DEV_BLOCK, 0));
        }
        uint32_t bits = access_bits(rule->access);
        if (bits != (BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE | BPF_DEVCG_ACC_MKNOD)) {
            // Every bit asked for must be one the rule names.
            block.push_back(move_register(kScratch, kAccess));
            block.push_back(alu(BPF_AND, kScratch, int32_t(~bits)));
            skips.push_back(block.size());
            block.push_back(jump_if_not(kScratch, 0, 0));
        }
        if (rule->major && *rule->major >= 0) {
            skips.push_back(block.size());
            block.push_back(jump_if_not(kMajor, int32_t(*rule->major), 0));
        }
        if (rule->minor && *rule->minor >= 0) {
            skips.push_back(block.size());
            block.push_back(jump_if_not(kMinor, int32_t(*rule->minor), 0));
        }
        append_return(block, rule->allow ? 1 : 0);
        for (size_t at : skips)
            block[at].off = int16_t(block.size() - at - 1);
        program.insert(program.end(), block.begin(), block.end());
        // A rule for every device and access decides alone: nothing after
        // it could run (and the verifier refuses code that cannot).
        if (skips.empty())
            return program;
    }
    append_return(program, 0);
    return program;
}

Result<Fd> load_device_filter(const std::vector<BpfInstruction>& program) {
    std::string log;
    auto loaded =
        load_bpf_program(BPF_PROG_TYPE_CGROUP_DEVICE, program.data(), program.size(), log);
    if (!loaded)
        return std::unexpected(std::move(loaded).error().wrap(
            log.empty() ? std::string("load the device filter")
                        : cat("load the device filter (", log, ")")));
    return loaded;
}

Result<void> attach_device_filter(int cgroup_directory, int program) {
    return attach_bpf_program(cgroup_directory, program, BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI);
}

// ---- cgroup v1 ------------------------------------------------------------

namespace {

// One exception of v1's device list: a type, numbers (nullopt: "*") and
// access bits (access_bits()).
struct DeviceException {
    char type;
    std::optional<int64_t> major, minor;
    uint32_t access;
};

std::string access_text(uint32_t bits) {
    std::string text;
    for (auto [bit, c] : {std::pair{BPF_DEVCG_ACC_READ, 'r'}, std::pair{BPF_DEVCG_ACC_WRITE, 'w'},
                          std::pair{BPF_DEVCG_ACC_MKNOD, 'm'}})
        if (bits & bit)
            text += c;
    return text;
}

bool same_devices(const DeviceException& exception, const DeviceRule& rule) {
    return exception.type == rule.type && exception.major == rule.major &&
           exception.minor == rule.minor;
}

// Whether the two name a device in common (nullopt is any number).
bool overlaps(const DeviceException& exception, const DeviceRule& rule) {
    auto meets = [](const std::optional<int64_t>& a, const std::optional<int64_t>& b) {
        return !a || !b || *a == *b;
    };
    return exception.type == rule.type && meets(exception.major, rule.major) &&
           meets(exception.minor, rule.minor);
}

} // namespace

Result<std::vector<CgroupWrite>> device_writes_v1(const std::vector<DeviceRule>& rules) {
    // v1 keeps a default (everything allowed or denied) and a list of
    // exceptions to it; a write to the list adds an exception, or takes
    // access away from one with exactly the same type and numbers. The
    // rules' outcome (the last matching rule wins) is worked out here as
    // that default and list; a rule that would take part of an earlier
    // exception for more devices cannot be said, and is refused (as runc
    // refuses it), rather than left looser than on cgroup v2.
    bool allow_all = false;
    std::vector<DeviceException> exceptions;
    for (size_t i = 0; i < rules.size(); ++i) {
        const DeviceRule& rule = rules[i];
        uint32_t access = access_bits(rule.access);
        std::string field = cat("linux.resources.devices[", i, "]");
        if (rule.type == 'a') {
            if (access != access_bits("rwm") || rule.major || rule.minor)
                return error(cat(field, ": cgroup v1 cannot apply a rule for all devices to "
                                        "some numbers or accesses only"));
            allow_all = rule.allow;
            exceptions.clear();
            continue;
        }
        if (rule.allow != allow_all) { // an exception to the default
            auto same = std::ranges::find_if(
                exceptions, [&](const DeviceException& e) { return same_devices(e, rule); });
            if (same != exceptions.end())
                same->access |= access;
            else
                exceptions.push_back({rule.type, rule.major, rule.minor, access});
            continue;
        }
        // Back to the default for these devices.
        for (auto e = exceptions.begin(); e != exceptions.end();) {
            if (same_devices(*e, rule)) {
                e->access &= ~access;
            } else if (overlaps(*e, rule) && (e->access & access)) {
                return error(cat(field, ": cgroup v1 cannot take ", access_text(access),
                                 " away from part of what an earlier rule gave"));
            }
            e = e->access ? e + 1 : exceptions.erase(e);
        }
    }
    std::string_view listed = allow_all ? "devices.deny" : "devices.allow";
    std::vector<CgroupWrite> out = {{allow_all ? "devices.allow" : "devices.deny", "a"}};
    auto number = [](const std::optional<int64_t>& n) { return n ? cat(*n) : std::string("*"); };
    for (const DeviceException& e : exceptions)
        out.push_back({std::string(listed), cat(e.type, " ", number(e.major), ":", number(e.minor),
                                                " ", access_text(e.access))});
    return out;
}

} // namespace keel::oci
