// `update`: new linux.resources for a container's cgroup. The values are
// converted as create converts them (cgroup_resources.h) and written over
// the group's files; what each file held before is read first and written
// back when the kernel refuses a value, so an update is whole or not at
// all. The record's config.json copy keeps what create was given: the
// group's files say what is in force.
#include "containers/containers.h"

#include "base/strings.h"
#include "base/sys.h"
#include "cgroups/cgroups.h"
#include "containers/cgroup_resources.h"
#include "containers/record.h"

#include <ranges>

namespace keel::containers {

namespace {

// The writes that put back what the files of `writes` hold now; a file
// that does not exist is left to apply_cgroup_writes to report.
std::vector<oci::CgroupWrite> current_values(const Cgroup& group,
                                             const std::vector<oci::CgroupWrite>& writes) {
    std::vector<oci::CgroupWrite> previous;
    for (const oci::CgroupWrite& write : writes)
        for (const std::string* file : {&write.file, &write.fallback_file}) {
            if (file->empty())
                continue;
            std::optional<std::string> directory =
                group.directory_of(std::string_view(*file).substr(0, file->find('.')));
            if (!directory)
                continue;
            auto value = read_file(cat(*directory, "/", *file));
            if (value)
                previous.push_back({.file = *file, .value = std::string(trim(*value))});
        }
    return previous;
}

Result<void> update_in(const RuntimeOptions& runtime, std::string_view id,
                       const oci::Resources& resources) {
    Fd lock = TRY(lock_record(runtime, id));
    Record record = TRY(read_record(runtime, id));
    if (!TRY(record_process_alive(record)))
        return error(cat("container ", quoted(id), " is stopped"));
    if (record.cgroup.empty())
        return error(cat("container ", quoted(id), " has no cgroup (none was mounted at ",
                         kCgroupRoot, " when it was made)"));
    Cgroup group = TRY(Cgroup::open(record.cgroup));
    std::vector<oci::CgroupWrite> writes =
        TRY_CTX(group.v1() ? oci::cgroup_v1_writes(resources) : oci::cgroup_v2_writes(resources),
                "linux.resources");
    if (writes.empty())
        return {};
    if (!group.v1())
        TRY_CTX(oci::enable_controllers(record.cgroup, oci::controllers_needed(writes)),
                cat("enable the controllers for ", quoted(record.cgroup)));
    std::vector<oci::CgroupWrite> previous = current_values(group, writes);
    auto applied = oci::apply_cgroup_writes(group, writes);
    if (!applied) {
        // All together first (v1's memory and memory+swap in the order the
        // kernel takes); failing that, newest first, each on its own: one
        // that fails must not keep the others from being put back.
        if (!oci::apply_cgroup_writes(group, previous))
            for (const oci::CgroupWrite& write : std::views::reverse(previous))
                (void)oci::apply_cgroup_writes(group, {write});
        return std::unexpected(std::move(applied).error());
    }
    return {};
}

} // namespace

Result<void> update(const RuntimeOptions& runtime, std::string_view id,
                    const oci::Resources& resources) {
    TRY_CTX(update_in(runtime, id, resources), cat("update container ", quoted(id)));
    return {};
}

} // namespace keel::containers
