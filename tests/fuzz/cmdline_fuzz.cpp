// Fuzz target for base/cmdline.h: the kernel command line, read by PID 1
// before anything else runs. Besides "does not crash": every parameter can
// be looked up again, and a `module.param` word always shows up in that
// module's parameters.
#include "base/cmdline.h"
#include "tests/fuzz/fuzz_check.h"

#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    auto cmdline = keel::KernelCommandLine::parse(text);
    if (!cmdline) {
        FUZZ_CHECK(cmdline.error().to_string().starts_with("kernel command line: "));
        return 0;
    }
    for (const keel::KernelParameter& parameter : cmdline->parameters()) {
        FUZZ_CHECK(!(parameter.key.empty() && !parameter.value));
        FUZZ_CHECK(cmdline->has(parameter.key));
        size_t dot = parameter.key.find('.');
        if (dot != std::string::npos && dot > 0) {
            std::string joined = cmdline->module_parameters(parameter.key.substr(0, dot));
            FUZZ_CHECK(!joined.empty() || parameter.key.size() == dot + 1);
        }
    }
    return 0;
}
