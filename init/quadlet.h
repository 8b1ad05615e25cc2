// Container units: `NAME.container` files in Podman Quadlet's syntax, read
// as the service `NAME.service` that runs the container with `keel run`.
//
// As Quadlet's generator does, the `[Container]` section becomes the
// service's ExecStart= (`keel run --replace --rm --name=NAME
// --sdnotify=... IMAGE [EXEC...]`), ExecStop=/ExecStopPost= that remove the
// container, Type=notify, NotifyAccess=all, KillMode=mixed and Delegate=yes;
// `[Unit]`, `[Service]` and `[Install]` pass through to the unit parser, so
// a unit's own [Service] keys override the generated ones. Unlike Quadlet,
// an unknown key in [Container] is a warning naming file:line, and the rest
// of the file still applies. Nothing here reads files: the catalog
// (init/unit_catalog.cpp) finds the files and hands them over.
#pragma once

#include "base/names.h"
#include "base/result.h"
#include "base/unit_file.h"
#include "init/unit_model.h"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace keel {

/// The file name suffix of container units.
inline constexpr std::string_view kContainerUnitSuffix = ".container";

/// The service a container unit file stands for, Quadlet's naming:
/// "web.container" -> "web.service", "db@.container" -> "db@.service";
/// nullopt when `file_name` is not a valid `NAME.container`.
std::optional<std::string> container_service_name(std::string_view file_name);

/// True for a path or name ending in `.container`.
bool is_container_unit_path(std::string_view path);

/// The path keel writes into generated commands for itself: what
/// /proc/self/exe links to, or /usr/bin/keel when that is not a usable path
/// (a deleted or sealed binary).
std::string keel_binary_path();

/// `argv` as an ExecStart= value: each word quoted for split_words() and
/// `%` doubled, so the unit parser gives the words back unchanged.
std::string unit_command_text(const std::vector<std::string>& argv);

/// How a container tells the service manager that it is ready (Notify=).
enum class ContainerNotify {
    Conmon,    ///< Notify=no (default): ready once the container runs
    Container, ///< Notify=yes: the container's own program sends READY=1
    Healthy,   ///< Notify=healthy: ready once the health check first passes
};
inline constexpr auto kContainerNotifyNames = name_table<ContainerNotify>({
    {ContainerNotify::Conmon, "conmon"},
    {ContainerNotify::Container, "container"},
    {ContainerNotify::Healthy, "healthy"},
});

/// The translated unit: the service's main file (its filename is the
/// `.container` file's, so messages and `keel status` name it) and the
/// container's drop-ins with their [Container] sections taken out, to be
/// applied as the service's first drop-ins.
struct ContainerService {
    UnitFile service;
    std::vector<UnitFile> dropins;
};

/// Translates a `.container` file and its `NAME.container.d/*.conf` drop-ins
/// (in order) into the service `name` ("web.service") that runs it with
/// `keel_binary`. [Container] values have their %-specifiers expanded here
/// (for `name`); unknown keys, and Quadlet keys keel does not support, are
/// warnings ("web.container:7: unknown key `Foo` in [Container], ignored").
/// A missing Image= and malformed values are errors naming the file (and
/// line), so the unit fails to load as a malformed service does.
Result<ContainerService> translate_container(std::string_view name, const UnitFile& file,
                                             const std::vector<UnitFile>& dropins,
                                             const SpecifierContext& context,
                                             std::string_view keel_binary,
                                             std::vector<std::string>& warnings);

} // namespace keel
