// The kernel command line: `key`, `key=value` and `key="value with spaces"`
// words, as /proc/cmdline shows them (the kernel keeps the quotes).
#pragma once

#include "base/result.h"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace keel {

struct KernelParameter {
    std::string key;
    std::optional<std::string> value; // nullopt for a bare `key`
};

class KernelCommandLine {
public:
    /// Parses the text of /proc/cmdline. Quotes group words like the
    /// kernel's own parser; an unterminated quote is an error.
    static Result<KernelCommandLine> parse(std::string_view text);
    /// Reads /proc/cmdline.
    static Result<KernelCommandLine> read();

    const std::vector<KernelParameter>& parameters() const { return m_parameters; }
    /// True when `key` appears at all (with or without a value).
    bool has(std::string_view key) const;
    /// The last value of `key` (later words override earlier ones).
    std::optional<std::string> get(std::string_view key) const;
    /// Every value of `key`, in order (for repeatable parameters).
    std::vector<std::string> get_all(std::string_view key) const;
    /// Parameters for module `name` (`name.param=value` words), joined the
    /// way init_module expects ("param=value param2=value2").
    std::string module_parameters(std::string_view module) const;

private:
    std::vector<KernelParameter> m_parameters;
};

} // namespace keel
