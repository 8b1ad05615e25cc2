// Fuzz target for update/kexec_cmdline.cpp: the next kernel's command line
// made from the running one (/proc/cmdline, whatever a bootloader put
// there). Besides "does not crash": when the running line parses, the new
// one parses too, names exactly one keel.kexec= (the new slot), and keeps
// every other parameter of the running line, in order.
#include "base/cmdline.h"
#include "tests/fuzz/fuzz_check.h"
#include "update/kexec.h"

#include <cstdint>
#include <string_view>
#include <vector>

using namespace keel;
using namespace keel::update;

namespace {

std::vector<KernelParameter> others(const KernelCommandLine& cmdline) {
    std::vector<KernelParameter> kept;
    for (const KernelParameter& parameter : cmdline.parameters())
        if (parameter.key != kKexecParameter)
            kept.push_back(parameter);
    return kept;
}

bool same(const std::vector<KernelParameter>& a, const std::vector<KernelParameter>& b) {
    if (a.size() != b.size())
        return false;
    for (size_t i = 0; i < a.size(); ++i)
        if (a[i].key != b[i].key || a[i].value != b[i].value)
            return false;
    return true;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view input(reinterpret_cast<const char*>(data), size);
    auto running = KernelCommandLine::parse(input);
    if (running)
        (void)kexec_slot(*running);
    std::string next = kexec_command_line(input, "keel.kexec=B");
    if (!running)
        return 0;
    auto parsed = KernelCommandLine::parse(next);
    FUZZ_CHECK(parsed.has_value());
    FUZZ_CHECK(parsed->get_all(kKexecParameter) == std::vector<std::string>{"B"});
    auto slot = kexec_slot(*parsed);
    FUZZ_CHECK(slot && *slot == SlotName::B);
    FUZZ_CHECK(same(others(*running), others(*parsed)));
    return 0;
}
