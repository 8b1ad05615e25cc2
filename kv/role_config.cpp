// role_arguments(): the kernel command line's keel.kv.* words as etcd's
// flags for PID 1's kv role, and the role's data dir on STATE.
#include "kv/role_config.h"

#include "base/strings.h"

namespace keel::kv {

namespace {

bool is_flag_name(std::string_view name) {
    if (name.empty() || name.front() == '-')
        return false;
    for (char c : name)
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
            return false;
    return true;
}

} // namespace

Result<std::vector<std::string>>
role_arguments(const KernelCommandLine& cmdline,
               const std::map<std::string, std::string>& environment) {
    std::vector<std::string> args;
    bool data_dir_given = environment.contains("ETCD_DATA_DIR");
    for (const KernelParameter& parameter : cmdline.parameters()) {
        std::string_view key = parameter.key;
        if (!key.starts_with(kRoleParameterPrefix))
            continue;
        std::string_view flag = key.substr(kRoleParameterPrefix.size());
        if (!is_flag_name(flag))
            return error(cat("kernel command line ", quoted(key), ": ", quoted(flag),
                             " is not an etcd flag's name (such as keel.kv.name=m1)"));
        data_dir_given = data_dir_given || flag == "data-dir";
        // A bare word switches a flag on. As `--FLAG` alone it would take
        // the next argument as its value when FLAG is not a boolean.
        args.push_back(cat("--", flag, "=", parameter.value ? *parameter.value : "true"));
    }
    if (!data_dir_given)
        args.push_back(cat("--data-dir=", kRoleDataDir));
    return args;
}

} // namespace keel::kv
