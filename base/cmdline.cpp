// Kernel command line parsing. The kernel splits on spaces outside double
// quotes and lets a quote open anywhere in the word ("key=\"a b\"" and
// "\"key=a b\"" both work); the quotes themselves are removed.
#include "base/cmdline.h"

#include "base/strings.h"
#include "base/sys.h"

namespace keel {

namespace {

// Module parameter keys treat '-' and '_' alike, as the kernel does.
std::string normalize_module_name(std::string_view name) {
    std::string out(name);
    for (char& c : out)
        if (c == '-')
            c = '_';
    return out;
}

} // namespace

Result<KernelCommandLine> KernelCommandLine::parse(std::string_view text) {
    KernelCommandLine cmdline;
    size_t i = 0;
    while (i < text.size()) {
        while (i < text.size() && is_ascii_space(text[i]))
            ++i;
        if (i == text.size())
            break;
        size_t start = i;
        std::string word;
        bool in_quote = false;
        for (; i < text.size() && (in_quote || !is_ascii_space(text[i])); ++i) {
            if (text[i] == '"')
                in_quote = !in_quote;
            else if (text[i] == '\0')
                return error(cat("kernel command line: NUL byte at offset ", i));
            else
                word += text[i];
        }
        if (in_quote)
            return error(
                cat("kernel command line: unterminated quote in word starting at offset ", start));
        if (word == "--")
            break; // the rest belongs to init as argv, not to parameters
        if (word.empty())
            continue; // a lone `""`
        size_t equals = word.find('=');
        if (equals == std::string::npos)
            cmdline.m_parameters.push_back({word, std::nullopt});
        else
            cmdline.m_parameters.push_back({word.substr(0, equals), word.substr(equals + 1)});
    }
    return cmdline;
}

Result<KernelCommandLine> KernelCommandLine::read() {
    std::string text = TRY(read_file("/proc/cmdline"));
    return parse(text);
}

bool KernelCommandLine::has(std::string_view key) const {
    for (const KernelParameter& parameter : m_parameters)
        if (parameter.key == key)
            return true;
    return false;
}

std::optional<std::string> KernelCommandLine::get(std::string_view key) const {
    std::optional<std::string> value;
    for (const KernelParameter& parameter : m_parameters)
        if (parameter.key == key)
            value = parameter.value.value_or("");
    return value;
}

std::vector<std::string> KernelCommandLine::get_all(std::string_view key) const {
    std::vector<std::string> values;
    for (const KernelParameter& parameter : m_parameters)
        if (parameter.key == key)
            values.push_back(parameter.value.value_or(""));
    return values;
}

std::string KernelCommandLine::module_parameters(std::string_view module) const {
    std::string wanted = normalize_module_name(module);
    std::string out;
    for (const KernelParameter& parameter : m_parameters) {
        size_t dot = parameter.key.find('.');
        if (dot == std::string::npos ||
            normalize_module_name(std::string_view(parameter.key).substr(0, dot)) != wanted)
            continue;
        if (!out.empty())
            out += ' ';
        out += parameter.key.substr(dot + 1);
        if (parameter.value) {
            // Values with spaces keep their quotes for the kernel's parser.
            bool needs_quotes = parameter.value->find(' ') != std::string::npos;
            out += cat("=", needs_quotes ? "\"" : "", *parameter.value, needs_quotes ? "\"" : "");
        }
    }
    return out;
}

} // namespace keel
