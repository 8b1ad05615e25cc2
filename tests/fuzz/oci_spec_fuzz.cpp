// Fuzz target for containers/spec.h: parse_spec() on arbitrary bytes.
//
// Besides "does not crash", it checks what the runtime's setup steps rely
// on when a config is accepted: the program and every path they use are
// there and absolute, capability masks hold only known capabilities,
// rlimits and namespaces are known and given once, ids are valid, and no
// mount option both sets and clears the same flag.
#include "containers/spec.h"

#include "tests/fuzz/fuzz_check.h"

#include <cstdint>
#include <string_view>

using namespace keel;
using namespace keel::oci;

namespace {

constexpr uint32_t kNoId = UINT32_MAX;
constexpr CapabilityMask kKnownCapabilities = (CapabilityMask(1) << (kLastCapability + 1)) - 1;
constexpr uint64_t kAtimeField = 0x70;

bool absolute(const std::string& path) {
    return !path.empty() && path[0] == '/';
}

void check_process(const Process& process) {
    FUZZ_CHECK(!process.args.empty());
    FUZZ_CHECK(absolute(process.cwd));
    FUZZ_CHECK(process.user.uid != kNoId);
    FUZZ_CHECK(process.user.gid != kNoId);
    for (uint32_t gid : process.user.additional_gids)
        FUZZ_CHECK(gid != kNoId);
    if (process.capabilities) {
        const Capabilities& sets = *process.capabilities;
        for (CapabilityMask mask :
             {sets.bounding, sets.effective, sets.inheritable, sets.permitted, sets.ambient})
            FUZZ_CHECK((mask & ~kKnownCapabilities) == 0);
    }
    for (size_t i = 0; i < process.rlimits.size(); ++i) {
        const Rlimit& limit = process.rlimits[i];
        FUZZ_CHECK(rlimit_name(limit.resource) != "?");
        FUZZ_CHECK(rlimit_number(rlimit_name(limit.resource)) == limit.resource);
        FUZZ_CHECK(limit.soft <= limit.hard);
        for (size_t j = 0; j < i; ++j)
            FUZZ_CHECK(process.rlimits[j].resource != limit.resource);
    }
    if (process.oom_score_adj)
        FUZZ_CHECK(*process.oom_score_adj >= -1000 && *process.oom_score_adj <= 1000);
}

void check_mount(const Mount& mount) {
    FUZZ_CHECK(absolute(mount.destination));
    const MountOptions& parsed = mount.parsed;
    FUZZ_CHECK((parsed.flags & parsed.cleared) == 0);
    FUZZ_CHECK((parsed.recursive_set & parsed.recursive_clear & ~kAtimeField) == 0);
    // Parsing the options again gives the same result.
    MountOptions again = parse_mount_options(mount.options);
    FUZZ_CHECK(again.flags == parsed.flags && again.data == parsed.data);
    for (const IdMapping& mapping : mount.uid_mappings)
        FUZZ_CHECK(mapping.size > 0);
}

void check_linux(const LinuxConfig& config) {
    for (size_t i = 0; i < config.namespaces.size(); ++i) {
        const Namespace& entry = config.namespaces[i];
        FUZZ_CHECK(kNamespaceTypeNames.name(entry.type) != "?");
        FUZZ_CHECK(entry.path.empty() || absolute(entry.path));
        FUZZ_CHECK(config.find_namespace(entry.type) == &entry);
    }
    for (const Device& device : config.devices)
        FUZZ_CHECK(absolute(device.path));
    for (const std::string& path : config.masked_paths)
        FUZZ_CHECK(absolute(path));
    for (const std::string& path : config.readonly_paths)
        FUZZ_CHECK(absolute(path));
    if (config.seccomp) {
        FUZZ_CHECK(config.seccomp->default_action != SeccompAction::Notify);
        for (const SeccompRule& rule : config.seccomp->syscalls) {
            FUZZ_CHECK(!rule.names.empty());
            for (const SeccompArgument& argument : rule.args)
                FUZZ_CHECK(argument.index <= 5);
        }
    }
    if (config.resources && config.resources->memory && config.resources->memory->limit)
        FUZZ_CHECK(*config.resources->memory->limit >= -1);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view input(reinterpret_cast<const char*>(data), size);
    Result<Spec> spec = parse_spec(input);
    if (!spec) {
        FUZZ_CHECK(!spec.error().to_string().empty());
        return 0;
    }
    FUZZ_CHECK(!spec->oci_version.empty());
    FUZZ_CHECK(!spec->root.path.empty());
    if (spec->process)
        check_process(*spec->process);
    for (const Mount& mount : spec->mounts)
        check_mount(mount);
    for (const Hook& hook : spec->hooks.poststop)
        FUZZ_CHECK(absolute(hook.path) && hook.timeout != 0u);
    check_linux(spec->linux_config);
    return 0;
}
