// Fuzz target for init/quadlet.h: a `.container` file's text through the
// unit file parser, the translation into a service and the unit parser.
//
// Besides "does not crash", it checks what the catalog relies on: a
// translation that succeeds yields a service whose ExecStart= the unit
// parser reads back, ending with the image, and every error names the file.
#include "base/strings.h"
#include "base/unit_file.h"
#include "init/quadlet.h"
#include "init/unit_model.h"
#include "tests/fuzz/fuzz_check.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

using namespace keel;

namespace {

constexpr std::string_view kFilename = "/etc/keel/units/fuzz@x.container";
constexpr std::string_view kName = "fuzz@x.service";

SpecifierContext fixed_context() {
    SpecifierContext context;
    context.hostname = "node1";
    context.machine_id = "0123456789abcdef0123456789abcdef";
    context.boot_id = "fedcba9876543210fedcba9876543210";
    context.kernel_release = "6.1.0-fuzz";
    return context;
}

} // namespace

namespace keel {
// base/spawn.cpp needs libcap and libseccomp, which the fuzz build does not
// link; the unit parser calls it only to check CapabilityBoundingSet= and
// SystemCallFilter= names, which are not what this target is about.
Result<void> validate_spawn_options(const SpawnOptions&) {
    return {};
}
} // namespace keel

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    // The first line, if it is `#dropin`, splits the input into the file
    // and one drop-in, so drop-ins are fuzzed too.
    std::string_view main_text = text, dropin_text;
    if (size_t split = text.find("\n#dropin\n"); split != std::string_view::npos) {
        main_text = text.substr(0, split);
        dropin_text = text.substr(split + 9);
    }
    auto file = UnitFile::parse(main_text, std::string(kFilename));
    if (!file)
        return 0;
    std::vector<UnitFile> dropins;
    if (!dropin_text.empty()) {
        auto dropin = UnitFile::parse(dropin_text, "/etc/keel/units/fuzz@.container.d/a.conf");
        if (!dropin)
            return 0;
        dropins.push_back(std::move(*dropin));
    }
    SpecifierContext context = fixed_context();
    std::vector<std::string> warnings;
    auto service = translate_container(kName, *file, dropins, context, "/usr/bin/keel", warnings);
    for (const std::string& warning : warnings)
        FUZZ_CHECK(starts_with(warning, "/etc/keel/units/fuzz@"));
    if (!service) {
        FUZZ_CHECK(starts_with(service.error().to_string(), "/etc/keel/units/fuzz@"));
        return 0;
    }
    FUZZ_CHECK(service->service.filename() == kFilename);
    FUZZ_CHECK(service->dropins.size() == dropins.size());
    for (const UnitFile& dropin : service->dropins)
        for (const UnitSection& section : dropin.sections())
            FUZZ_CHECK(section.name != "Container");
    auto unit =
        parse_unit(std::string(kName), service->service, service->dropins, context, warnings);
    // The generated commands always read back; only the file's own
    // [Service] keys may be malformed.
    bool own_commands = text.find("Exec") != std::string_view::npos;
    if (!unit) {
        std::string message = unit.error().to_string();
        if (!own_commands)
            FUZZ_CHECK(message.find(": ExecSt") == std::string::npos);
        return 0;
    }
    if (!own_commands) {
        FUZZ_CHECK(unit->service.exec_start.size() == 1);
        const std::vector<std::string>& argv = unit->service.exec_start[0].argv;
        FUZZ_CHECK(argv.size() >= 6 && argv[0] == "/usr/bin/keel" && argv[1] == "run");
        FUZZ_CHECK(unit->service.exec_stop.size() == 1);
    }
    return 0;
}
