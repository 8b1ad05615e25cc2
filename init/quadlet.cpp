// Container units: translating a `.container` file's [Container] section
// into the `keel run` command line and the [Service] settings of the
// service that runs it, the way Quadlet's generator writes a service for
// podman.
//
// The generated [Unit] and [Service] entries go in front of the file's own,
// so that the unit's [Service] keys (Restart=, TimeoutStopSec=, ...) win as
// they would over Quadlet's output. The command is written as unit-file
// text (quoted for split_words(), `%` doubled) so the unit parser reads it
// exactly as it reads a hand-written ExecStart=.
#include "init/quadlet.h"

#include "base/strings.h"

#include <climits>
#include <cstdint>
#include <map>
#include <unistd.h>

namespace keel {

namespace {

constexpr uint64_t kSecond = 1'000'000;
// What the service manager waits for a notify service by default; a health
// check's start period is added to it (Notify=healthy).
constexpr uint64_t kDefaultStartTimeout = 90 * kSecond;
// Time for `keel rm` to finish after the container's own stop timeout.
constexpr uint64_t kStopMargin = 30 * kSecond;

// How a [Container] key becomes `keel run` arguments.
enum class Shape {
    Single,    // the last assignment: --flag=VALUE
    Number,    // the same, checked to be a whole number
    Each,      // every assignment: --flag=VALUE
    Words,     // every word of every assignment: --flag=WORD
    KeyValues, // KEY=VALUE words: --flag=KEY=VALUE
    Switch,    // a boolean: the flag alone when true
    File,      // every assignment, a path relative to the unit file's directory
    Volume,    // every assignment, a source `./x` relative to the unit file's directory
    Special,   // read by translate_container() itself
};

struct ContainerKey {
    std::string_view key;
    Shape shape;
    std::string_view flag = {};
};

// The keys keel reads, in the order their arguments are written.
constexpr ContainerKey kContainerKeys[] = {
    {"Image", Shape::Special},
    {"Exec", Shape::Special},
    {"ContainerName", Shape::Special},
    {"Notify", Shape::Special},
    {"User", Shape::Special},
    {"Group", Shape::Special},
    {"StopTimeout", Shape::Special},
    {"Entrypoint", Shape::Single, "--entrypoint"},
    {"Environment", Shape::KeyValues, "--env"},
    {"EnvironmentFile", Shape::File, "--env-file"},
    {"PublishPort", Shape::Words, "--publish"},
    {"Volume", Shape::Volume, "--volume"},
    {"Tmpfs", Shape::Each, "--tmpfs"},
    {"Network", Shape::Each, "--network"},
    {"HostName", Shape::Single, "--hostname"},
    {"WorkingDir", Shape::Single, "--workdir"},
    {"Label", Shape::KeyValues, "--label"},
    {"AddCapability", Shape::Words, "--cap-add"},
    {"DropCapability", Shape::Words, "--cap-drop"},
    {"NoNewPrivileges", Shape::Switch, "--security-opt=no-new-privileges"},
    {"SeccompProfile", Shape::Single, "--security-opt=seccomp"},
    {"ReadOnly", Shape::Switch, "--read-only"},
    {"RunInit", Shape::Switch, "--init"},
    {"Memory", Shape::Single, "--memory"},
    {"PidsLimit", Shape::Single, "--pids-limit"},
    {"Ulimit", Shape::Words, "--ulimit"},
    {"HealthCmd", Shape::Single, "--health-cmd"},
    {"HealthInterval", Shape::Single, "--health-interval"},
    {"HealthRetries", Shape::Number, "--health-retries"},
    {"HealthStartPeriod", Shape::Single, "--health-start-period"},
    {"HealthTimeout", Shape::Single, "--health-timeout"},
    {"Pull", Shape::Single, "--pull"},
};

// Quadlet keys keel has no `keel run` option for yet: a warning says so
// instead of calling them unknown.
constexpr std::string_view kUnsupportedKeys[] = {
    "AddDevice",
    "AddHost",
    "Annotation",
    "AutoUpdate",
    "CgroupsMode",
    "ContainersConfModule",
    "DNS",
    "DNSOption",
    "DNSSearch",
    "EnvironmentHost",
    "ExposeHostPort",
    "GIDMap",
    "GlobalArgs",
    "GroupAdd",
    "HealthLogDestination",
    "HealthMaxLogCount",
    "HealthMaxLogSize",
    "HealthOnFailure",
    "HealthStartupCmd",
    "HealthStartupInterval",
    "HealthStartupRetries",
    "HealthStartupSuccess",
    "HealthStartupTimeout",
    "IP",
    "IP6",
    "LogDriver",
    "LogOpt",
    "Mask",
    "Mount",
    "NetworkAlias",
    "Pod",
    "PodmanArgs",
    "ReadOnlyTmpfs",
    "ReloadCmd",
    "ReloadSignal",
    "Retry",
    "RetryDelay",
    "Rootfs",
    "Secret",
    "SecurityLabelDisable",
    "SecurityLabelFileType",
    "SecurityLabelLevel",
    "SecurityLabelNested",
    "SecurityLabelType",
    "ShmSize",
    "StartWithPod",
    "StopSignal",
    "SubGIDMap",
    "SubUIDMap",
    "Sysctl",
    "Timezone",
    "UIDMap",
    "Unmask",
    "UserNS",
};

// One [Container] assignment, specifiers expanded, with where it was made.
struct Assigned {
    std::string value;
    std::string file;
    int line = 0;
};

std::unexpected<Error> error_at(const Assigned& assigned, std::string_view key,
                                std::string_view why) {
    return error(cat(assigned.file, ":", assigned.line, ": ", key, ": ", why));
}

std::string directory_of(std::string_view path) {
    size_t slash = path.rfind('/');
    if (slash == std::string_view::npos)
        return ".";
    return std::string(slash == 0 ? "/" : path.substr(0, slash));
}

// A path written relative to the unit file (Quadlet's rule) made absolute.
std::string resolve_relative(std::string_view path, std::string_view unit_file) {
    if (path.starts_with('/') || path.empty())
        return std::string(path);
    std::string_view rest = path;
    if (rest.starts_with("./"))
        rest.remove_prefix(2);
    else if (rest == ".")
        rest = {};
    std::string directory = directory_of(unit_file);
    return rest.empty() ? directory : cat(directory, directory.ends_with('/') ? "" : "/", rest);
}

// Reads the [Container] and [Quadlet] sections of the file and its drop-ins
// into the values of each key, and checks the [Service] keys a container
// unit constrains.
class ContainerReader {
public:
    ContainerReader(std::string_view name, const SpecifierContext& context,
                    std::vector<std::string>& warnings)
        : m_name(name), m_context(context), m_warnings(warnings) {}

    Result<void> read(const UnitFile& file) {
        for (const UnitSection& section : file.sections()) {
            if (section.name == "Container") {
                TRY(read_container(file.filename(), section));
                m_has_container = true;
            } else if (section.name == "Quadlet") {
                TRY(read_quadlet(file.filename(), section));
            } else if (section.name == "Service") {
                TRY(check_service(file.filename(), section));
            }
        }
        return {};
    }

    bool has_container() const { return m_has_container; }
    bool default_dependencies() const { return m_default_dependencies; }
    bool oneshot() const { return m_oneshot; }

    /// Every assignment of `key` since the last empty one.
    const std::vector<Assigned>& all(std::string_view key) const {
        static const std::vector<Assigned> kNone;
        auto it = m_values.find(key);
        return it == m_values.end() ? kNone : it->second;
    }
    /// The last assignment of `key`, or nullptr.
    const Assigned* last(std::string_view key) const {
        const std::vector<Assigned>& values = all(key);
        return values.empty() ? nullptr : &values.back();
    }

private:
    Result<void> read_container(const std::string& file, const UnitSection& section) {
        for (const UnitEntry& entry : section.entries) {
            if (entry.key.starts_with("X-"))
                continue;
            const ContainerKey* known = nullptr;
            for (const ContainerKey& candidate : kContainerKeys)
                if (candidate.key == entry.key)
                    known = &candidate;
            if (!known) {
                bool unsupported = false;
                for (std::string_view key : kUnsupportedKeys)
                    unsupported = unsupported || key == entry.key;
                m_warnings.push_back(
                    cat(file, ":", entry.line, unsupported ? ": key " : ": unknown key ",
                        quoted(entry.key), " in [Container]",
                        unsupported ? " is not supported by keel yet" : "", ", ignored"));
                continue;
            }
            auto value = expand_specifiers(entry.value, m_name, m_context);
            if (!value)
                return std::unexpected(
                    std::move(value).error().wrap(cat(file, ":", entry.line, ": ", entry.key)));
            std::vector<Assigned>& values = m_values[known->key];
            if (value->empty())
                values.clear(); // `Key=` resets, as in systemd and Quadlet
            else
                values.push_back(Assigned{std::move(*value), file, entry.line});
        }
        return {};
    }

    Result<void> read_quadlet(const std::string& file, const UnitSection& section) {
        for (const UnitEntry& entry : section.entries) {
            if (entry.key == "DefaultDependencies") {
                auto value = parse_boolean(entry.value);
                if (!value)
                    return std::unexpected(
                        std::move(value).error().wrap(cat(file, ":", entry.line, ": ", entry.key)));
                m_default_dependencies = *value;
            } else {
                m_warnings.push_back(cat(file, ":", entry.line, ": unknown key ", quoted(entry.key),
                                         " in [Quadlet], ignored"));
            }
        }
        return {};
    }

    // Quadlet allows only the service types and kill modes that work with a
    // container runtime in front of the container.
    Result<void> check_service(const std::string& file, const UnitSection& section) {
        for (const UnitEntry& entry : section.entries) {
            if (entry.key == "Type") {
                if (entry.value != "notify" && entry.value != "oneshot")
                    return error(cat(file, ":", entry.line, ": Type: a container unit is ",
                                     "Type=notify (the default) or Type=oneshot, not ",
                                     quoted(entry.value)));
                m_oneshot = entry.value == "oneshot";
            } else if (entry.key == "KillMode") {
                if (entry.value != "mixed" && entry.value != "control-group")
                    return error(cat(file, ":", entry.line, ": KillMode: a container unit is ",
                                     "KillMode=mixed (the default) or KillMode=control-group, "
                                     "not ",
                                     quoted(entry.value)));
            }
        }
        return {};
    }

    std::string_view m_name;
    const SpecifierContext& m_context;
    std::vector<std::string>& m_warnings;
    std::map<std::string_view, std::vector<Assigned>> m_values;
    bool m_has_container = false;
    bool m_default_dependencies = true;
    bool m_oneshot = false;
};

// The `keel run` options of the keys with a Shape other than Special.
Result<void> add_options(const ContainerReader& reader, std::vector<std::string>& argv) {
    for (const ContainerKey& key : kContainerKeys) {
        const std::vector<Assigned>& values = reader.all(key.key);
        if (values.empty() || key.shape == Shape::Special)
            continue;
        auto option = [&](std::string_view value) { argv.push_back(cat(key.flag, "=", value)); };
        switch (key.shape) {
        case Shape::Single:
            option(values.back().value);
            break;
        case Shape::Number:
            if (!parse_u64(values.back().value))
                return error_at(values.back(), key.key,
                                cat("expected a number, got ", quoted(values.back().value)));
            option(values.back().value);
            break;
        case Shape::Each:
            for (const Assigned& assigned : values)
                option(assigned.value);
            break;
        case Shape::File:
            for (const Assigned& assigned : values)
                option(resolve_relative(assigned.value, assigned.file));
            break;
        case Shape::Volume:
            for (const Assigned& assigned : values) {
                std::string_view spec = assigned.value;
                size_t colon = spec.find(':');
                std::string_view source = spec.substr(0, colon);
                if (source.starts_with('.') && colon != std::string_view::npos)
                    option(cat(resolve_relative(source, assigned.file), spec.substr(colon)));
                else
                    option(spec);
            }
            break;
        case Shape::Words:
            for (const Assigned& assigned : values) {
                auto words = split_words(assigned.value);
                if (!words)
                    return error_at(assigned, key.key, words.error().to_string());
                for (const std::string& word : *words)
                    option(word);
            }
            break;
        case Shape::KeyValues:
            for (const Assigned& assigned : values) {
                auto words = split_words(assigned.value);
                if (!words)
                    return error_at(assigned, key.key, words.error().to_string());
                for (const std::string& word : *words) {
                    size_t equals = word.find('=');
                    if (equals == std::string::npos || equals == 0)
                        return error_at(assigned, key.key, cat(quoted(word), " is not KEY=VALUE"));
                    option(word);
                }
            }
            break;
        case Shape::Switch: {
            auto on = parse_boolean(values.back().value);
            if (!on)
                return error_at(values.back(), key.key, on.error().to_string());
            if (*on)
                argv.emplace_back(key.flag);
            break;
        }
        case Shape::Special:
            break;
        }
    }
    return {};
}

UnitEntry generated(std::string key, std::string value, int line) {
    return UnitEntry{std::move(key), std::move(value), line};
}

// Puts `entries` in front of the entries of `sections`' section `name`
// (made, at the end, when there is none).
void prepend(std::vector<UnitSection>& sections, std::string_view name,
             std::vector<UnitEntry> entries) {
    if (entries.empty())
        return;
    for (UnitSection& section : sections) {
        if (section.name == name) {
            entries.insert(entries.end(), section.entries.begin(), section.entries.end());
            section.entries = std::move(entries);
            return;
        }
    }
    sections.push_back(UnitSection{std::string(name), 0, std::move(entries)});
}

// A file's sections without the ones this translation consumed.
std::vector<UnitSection> passed_through(const UnitFile& file) {
    std::vector<UnitSection> sections;
    for (const UnitSection& section : file.sections())
        if (section.name != "Container" && section.name != "Quadlet")
            sections.push_back(section);
    return sections;
}

} // namespace

bool is_container_unit_path(std::string_view path) {
    return path.ends_with(kContainerUnitSuffix);
}

std::optional<std::string> container_service_name(std::string_view file_name) {
    if (!is_container_unit_path(file_name) || file_name.find('/') != std::string_view::npos)
        return std::nullopt;
    std::string name =
        cat(file_name.substr(0, file_name.size() - kContainerUnitSuffix.size()), ".service");
    if (!parse_unit_name(name))
        return std::nullopt;
    return name;
}

std::string keel_binary_path() {
    char buffer[PATH_MAX];
    ssize_t n = ::readlink("/proc/self/exe", buffer, sizeof buffer - 1);
    if (n <= 0)
        return "/usr/bin/keel";
    std::string_view path(buffer, size_t(n));
    // A binary replaced on disk, or a sealed copy (a memfd), has no path a
    // later process could run.
    if (!path.starts_with('/') || path.ends_with(" (deleted)") || path.starts_with("/memfd:"))
        return "/usr/bin/keel";
    return std::string(path);
}

// One word of a command, written so that split_words(), the specifier
// expansion of the unit parser and the executor's $VARIABLE expansion give
// it back unchanged.
static std::string command_word(std::string_view word) {
    static constexpr char kHex[] = "0123456789abcdef";
    bool plain = !word.empty();
    for (char c : word) {
        auto byte = static_cast<unsigned char>(c);
        if (byte <= 0x20 || byte == 0x7f || c == '"' || c == '\'' || c == '\\')
            plain = false;
    }
    std::string out;
    if (!plain)
        out += '"';
    for (char c : word) {
        auto byte = static_cast<unsigned char>(c);
        if (c == '%') {
            out += "%%";
        } else if (c == '$') {
            // The executor expands $NAME and ${NAME}; $$ is a `$`.
            out += "$$";
        } else if (!plain && (c == '"' || c == '\\')) {
            out += '\\';
            out += c;
        } else if (byte < 0x20 || byte == 0x7f) {
            out += "\\x";
            out += kHex[byte >> 4];
            out += kHex[byte & 15];
        } else {
            out += c;
        }
    }
    if (!plain)
        out += '"';
    return out;
}

std::string unit_command_text(const std::vector<std::string>& argv) {
    std::string out;
    for (const std::string& word : argv)
        out += cat(out.empty() ? "" : " ", command_word(word));
    return out;
}

Result<ContainerService> translate_container(std::string_view name, const UnitFile& file,
                                             const std::vector<UnitFile>& dropins,
                                             const SpecifierContext& context,
                                             std::string_view keel_binary,
                                             std::vector<std::string>& warnings) {
    ContainerReader reader(name, context, warnings);
    TRY(reader.read(file));
    for (const UnitFile& dropin : dropins)
        TRY(reader.read(dropin));
    if (!reader.has_container())
        return error(cat(file.filename(), ": a container unit needs a [Container] section "
                                          "with Image="));
    const Assigned* image = reader.last("Image");
    if (!image)
        return error(cat(file.filename(), ": [Container] has no Image=, which names the image "
                                          "to run"));
    if (image->value.ends_with(".image") || image->value.ends_with(".build"))
        return error_at(*image, "Image",
                        cat(quoted(image->value),
                            " names a Quadlet .image or .build unit, which keel does not "
                            "support yet; name the image itself"));
    int line = image->file == file.filename() ? image->line : 0;

    std::string container_name;
    if (const Assigned* given = reader.last("ContainerName"))
        container_name = given->value;
    else
        container_name = TRY(expand_specifiers("systemd-%N", name, context));

    ContainerNotify notify = ContainerNotify::Conmon;
    if (const Assigned* given = reader.last("Notify")) {
        if (given->value == "healthy") {
            notify = ContainerNotify::Healthy;
        } else {
            auto on = parse_boolean(given->value);
            if (!on)
                return error_at(*given, "Notify",
                                cat("expected yes, no or healthy, got ", quoted(given->value)));
            notify = *on ? ContainerNotify::Container : ContainerNotify::Conmon;
        }
        if (reader.oneshot())
            warnings.push_back(cat(given->file, ":", given->line,
                                   ": Notify= has no effect in a Type=oneshot unit, ignored"));
    }

    std::vector<std::string> run = {std::string(keel_binary), "run", "--replace", "--rm",
                                    cat("--name=", container_name)};
    if (!reader.oneshot())
        run.push_back(cat("--sdnotify=", kContainerNotifyNames.name(notify)));

    const Assigned* user = reader.last("User");
    const Assigned* group = reader.last("Group");
    if (group && !user)
        return error_at(*group, "Group", "Group= needs User= (keel runs --user USER:GROUP)");
    if (user)
        run.push_back(cat("--user=", user->value, group ? ":" : "", group ? group->value : ""));

    std::optional<uint64_t> stop_timeout;
    if (const Assigned* given = reader.last("StopTimeout")) {
        stop_timeout = parse_u64(given->value);
        if (!stop_timeout || *stop_timeout > UINT32_MAX)
            return error_at(*given, "StopTimeout",
                            cat("expected a number of seconds, got ", quoted(given->value)));
        run.push_back(cat("--stop-timeout=", *stop_timeout));
    }

    TRY(add_options(reader, run));

    run.push_back(image->value);
    if (const Assigned* exec = reader.last("Exec")) {
        auto words = split_words(exec->value);
        if (!words)
            return error_at(*exec, "Exec", words.error().to_string());
        run.insert(run.end(), words->begin(), words->end());
    }

    std::vector<UnitEntry> unit_entries;
    if (reader.default_dependencies()) {
        // Quadlet's default: a container usually needs the network.
        unit_entries.push_back(generated("Wants", "network-online.target", line));
        unit_entries.push_back(generated("After", "network-online.target", line));
    }

    std::vector<UnitEntry> service_entries;
    if (!reader.oneshot()) {
        service_entries.push_back(generated("Type", "notify", line));
        // READY=1 comes from `keel run`'s child or the container, not the
        // main process itself.
        service_entries.push_back(generated("NotifyAccess", "all", line));
    }
    service_entries.push_back(generated("KillMode", "mixed", line));
    service_entries.push_back(generated("Delegate", "yes", line));
    if (stop_timeout)
        service_entries.push_back(
            generated("TimeoutStopSec", cat(*stop_timeout * kSecond + kStopMargin, "us"), line));
    if (notify == ContainerNotify::Healthy && !reader.oneshot()) {
        // The start lasts until the first passing check, which may take
        // the whole start period.
        if (const Assigned* period = reader.last("HealthStartPeriod"))
            if (auto usec = parse_timespan_usec(period->value);
                usec && *usec < UINT64_MAX - kDefaultStartTimeout)
                service_entries.push_back(
                    generated("TimeoutStartSec", cat(kDefaultStartTimeout + *usec, "us"), line));
    }
    service_entries.push_back(generated("ExecStart", unit_command_text(run), line));
    std::string remove =
        cat("-", unit_command_text({std::string(keel_binary), "rm", "-f", container_name}));
    service_entries.push_back(generated("ExecStop", remove, line));
    service_entries.push_back(generated("ExecStopPost", remove, line));

    std::vector<UnitSection> sections = passed_through(file);
    prepend(sections, "Unit", std::move(unit_entries));
    prepend(sections, "Service", std::move(service_entries));
    ContainerService result{.service = UnitFile(file.filename(), std::move(sections)),
                            .dropins = {}};
    for (const UnitFile& dropin : dropins)
        result.dropins.emplace_back(dropin.filename(), passed_through(dropin));
    return result;
}

} // namespace keel
