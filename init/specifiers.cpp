// Specifiers: the %n %i %H ... in unit files, and the machine's values
// (hostname, machine and boot id, kernel release) some of them stand for.
#include "init/unit_model.h"

#include "base/strings.h"
#include "base/sys.h"

#include <sys/utsname.h>
#include <unistd.h>

namespace keel {

namespace {

std::string read_trimmed(const std::string& path) {
    auto text = read_file(path);
    return text ? std::string(trim(*text)) : std::string();
}

// Undoes systemd's unit-name escaping for %I and %f: "-" is "/", \xNN a byte.
std::string unescape_instance(std::string_view text) {
    std::string out;
    for (size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '-') {
            out += '/';
        } else if (text[i] == '\\' && i + 3 < text.size() && text[i + 1] == 'x') {
            auto hex = [](char c) {
                return c >= '0' && c <= '9'   ? c - '0'
                       : c >= 'a' && c <= 'f' ? c - 'a' + 10
                       : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                              : -1;
            };
            int high = hex(text[i + 2]), low = hex(text[i + 3]);
            if (high < 0 || low < 0) {
                out += text[i];
                continue;
            }
            out += char(high * 16 + low);
            i += 3;
        } else {
            out += text[i];
        }
    }
    return out;
}

} // namespace

SpecifierContext SpecifierContext::from_system() {
    SpecifierContext context;
    char host[256] = {};
    if (::gethostname(host, sizeof host - 1) == 0)
        context.hostname = host;
    context.machine_id = read_trimmed("/etc/machine-id");
    context.boot_id = read_trimmed("/proc/sys/kernel/random/boot_id");
    std::erase(context.boot_id, '-');
    struct utsname names;
    if (::uname(&names) == 0)
        context.kernel_release = names.release;
    return context;
}

Result<std::string> expand_specifiers(std::string_view value, std::string_view unit_name,
                                      const SpecifierContext& context) {
    if (value.find('%') == std::string_view::npos)
        return std::string(value);
    UnitName parts;
    if (auto parsed = parse_unit_name(unit_name))
        parts = *parsed;
    std::string stem = std::string(unit_name.substr(0, unit_name.rfind('.')));
    std::string instance = parts.instance.value_or("");
    std::string out;
    for (size_t i = 0; i < value.size(); ++i) {
        if (value[i] != '%') {
            out += value[i];
            continue;
        }
        if (i + 1 >= value.size())
            return error(cat("a lone `%` at the end of ", quoted(value), " (write %% for a %)"));
        char c = value[++i];
        switch (c) {
        case '%':
            out += '%';
            break;
        case 'n':
            out += unit_name;
            break;
        case 'N':
            out += stem;
            break;
        case 'p':
            out += parts.prefix;
            break;
        case 'i':
            out += instance;
            break;
        case 'I':
            out += unescape_instance(instance);
            break;
        case 'f':
            out += cat("/", unescape_instance(parts.instance ? instance : parts.prefix));
            break;
        case 'H':
            out += context.hostname;
            break;
        case 'm':
            out += context.machine_id;
            break;
        case 'b':
            out += context.boot_id;
            break;
        case 'v':
            out += context.kernel_release;
            break;
        case 't':
            out += "/run";
            break;
        case 'S':
            out += "/var/lib";
            break;
        case 'C':
            out += "/var/cache";
            break;
        case 'L':
            out += "/var/log";
            break;
        case 'T':
            out += "/tmp";
            break;
        case 'V':
            out += "/var/tmp";
            break;
        case 'E':
            out += "/etc";
            break;
        case 'h':
            out += "/root"; // the service manager's user: root
            break;
        case 'u':
        case 'g':
            out += "root";
            break;
        case 'U':
        case 'G':
            out += "0";
            break;
        default:
            return error(cat("unknown specifier `%", std::string(1, c), "` in ", quoted(value),
                             " (write %% for a %)"));
        }
    }
    return out;
}

} // namespace keel
