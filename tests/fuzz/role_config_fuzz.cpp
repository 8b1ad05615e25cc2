// Fuzz target for kv/role_config.h: PID 1's kv role's settings from the
// kernel command line. The input's first line is /proc/cmdline's text; each
// further line "ETCD_X=v" is a variable from /etc/keel/kv.conf. Besides
// "does not crash": the role's arguments are flags, there is a data dir,
// and a keel.kv.data-dir word or ETCD_DATA_DIR decides which.
#include "kv/role_config.h"
#include "kv/server_config.h"
#include "tests/fuzz/fuzz_check.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

using namespace keel;
using namespace keel::kv;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view input(reinterpret_cast<const char*>(data), size);
    size_t newline = std::min(input.find('\n'), input.size());
    std::map<std::string, std::string> environment;
    size_t start = newline + 1;
    while (start < input.size()) {
        size_t end = std::min(input.find('\n', start), input.size());
        std::string_view line = input.substr(start, end - start);
        size_t equals = line.find('=');
        if (equals != std::string_view::npos)
            environment[std::string(line.substr(0, equals))] = std::string(line.substr(equals + 1));
        start = end + 1;
    }
    auto cmdline = KernelCommandLine::parse(input.substr(0, newline));
    if (!cmdline)
        return 0;
    auto args = role_arguments(*cmdline, environment);
    if (!args)
        return 0;
    bool data_dir_word = false;
    for (const std::string& arg : *args) {
        FUZZ_CHECK(arg.starts_with("--") && arg.size() > 2 && arg[2] != '-');
        data_dir_word = data_dir_word || arg.starts_with("--data-dir");
    }
    FUZZ_CHECK(data_dir_word || environment.contains("ETCD_DATA_DIR"));
    auto config = parse_server_config(*args, environment);
    if (config && !cmdline->has("keel.kv.data-dir") && !environment.contains("ETCD_DATA_DIR"))
        FUZZ_CHECK(config->data_dir == kRoleDataDir);
    return 0;
}
