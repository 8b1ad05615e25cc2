// A container's record under the runtime's root, and what /proc says of its
// process (see record.h).
#include "containers/record.h"

#include "base/json.h"
#include "base/strings.h"
#include "base/sys.h"

#include <cerrno>
#include <ctime>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

namespace keel::containers {

namespace {

// state.json is written by keel; anything larger is not one of its records.
constexpr size_t kMaxRecordSize = 1 << 20;
// /proc/PID/stat: field 22 is the start time; fields are counted from 1,
// and the ones after the command (field 2, in parentheses, which may hold
// spaces and parentheses itself) start at field 3.
constexpr size_t kStartTimeField = 22;
constexpr size_t kFirstFieldAfterCommand = 3;

Result<void> remove_tree(int parent, const char* name) {
    Fd directory(::openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!directory) {
        if (errno == ENOTDIR || errno == ELOOP) {
            if (::unlinkat(parent, name, 0) != 0 && errno != ENOENT)
                return errno_error(cat("remove ", quoted(name)));
            return {};
        }
        if (errno == ENOENT)
            return {};
        return errno_error(cat("open ", quoted(name)));
    }
    std::vector<std::string> names = TRY(list_directory(cat("/proc/self/fd/", directory.get())));
    for (const std::string& entry : names)
        TRY_CTX(remove_tree(directory.get(), entry.c_str()), cat("remove ", quoted(name)));
    if (::unlinkat(parent, name, AT_REMOVEDIR) != 0 && errno != ENOENT)
        return errno_error(cat("remove ", quoted(name)));
    return {};
}

} // namespace

RecordPaths record_paths(const RuntimeOptions& runtime, std::string_view id) {
    std::string directory = cat(runtime.root, "/", id);
    return {
        .directory = directory,
        .state = directory + "/state.json",
        .fifo = directory + "/exec.fifo",
        .config = directory + "/config.json",
        .cgroup = directory + "/cgroup",
    };
}

ContainerState state_of(const Record& record, Status status) {
    ContainerState state;
    state.id = record.id;
    state.status = status;
    state.pid = status == Status::Stopped ? 0 : record.pid;
    state.bundle = record.bundle;
    state.rootfs = record.rootfs;
    state.created = record.created;
    state.owner = record.owner;
    state.annotations = record.annotations;
    return state;
}

std::string seccomp_cache_directory(const RuntimeOptions& runtime) {
    return cat(runtime.root, "/.seccomp-cache");
}

Result<void> write_record(const RecordPaths& paths, const Record& record) {
    JsonWriter json;
    json.begin_object()
        .field("id", record.id)
        .field("bundle", record.bundle)
        .field("rootfs", record.rootfs)
        .field("pid", int64_t(record.pid))
        .field("pidStart", record.pid_start)
        .field("created", record.created)
        .field("owner", record.owner)
        .field("cgroup", record.cgroup)
        .field("ownPidNamespace", record.own_pid_namespace);
    json.key("annotations").begin_object();
    for (const auto& [key, value] : record.annotations)
        json.field(key, value);
    json.end_object().end_object();

    std::string temporary = paths.state + ".new";
    TRY_CTX(write_new_file(temporary, json.text() + "\n", 0600), "write the container's record");
    if (::rename(temporary.c_str(), paths.state.c_str()) != 0)
        return errno_error(cat("rename ", quoted(temporary), " to ", quoted(paths.state)));
    return {};
}

Result<Record> read_record(const RuntimeOptions& runtime, std::string_view id) {
    TRY(check_id(id));
    RecordPaths paths = record_paths(runtime, id);
    auto text = read_file(paths.state);
    if (!text) {
        if (text.error().code() == ENOENT)
            return std::unexpected(Error::from_code(
                ErrorCode::NoSuchContainer, cat("container ", quoted(id), " does not exist")));
        return std::unexpected(std::move(text).error());
    }
    if (text->size() > kMaxRecordSize)
        return error(cat(paths.state, ": larger than a record can be"));
    auto read = [&]() -> Result<Record> {
        JsonValue document = TRY(parse_json(*text));
        JsonObjectCursor root = TRY(JsonCursor(document).object());
        Record record;
        record.id = TRY(root["id"].string());
        record.bundle = TRY(root["bundle"].string());
        record.rootfs = TRY(root["rootfs"].value_or(""));
        record.pid = TRY(root["pid"].integer<pid_t>(0, std::numeric_limits<pid_t>::max()));
        record.pid_start = TRY(root["pidStart"].integer<uint64_t>());
        record.created = TRY(root["created"].value_or(""));
        record.owner = TRY(root["owner"].value_or(""));
        record.cgroup = TRY(root["cgroup"].value_or(""));
        record.own_pid_namespace = TRY(root["ownPidNamespace"].value_or(false));
        record.annotations = TRY(root["annotations"].map<std::string>());
        return record;
    };
    Record record = TRY_CTX(read(), paths.state);
    if (record.id != id)
        return error(
            cat(paths.state, ": records container ", quoted(record.id), ", not ", quoted(id)));
    return record;
}

Result<Fd> lock_directory(const std::string& directory) {
    Fd fd = TRY(open_file(directory, O_RDONLY | O_DIRECTORY));
    int rc;
    do
        rc = ::flock(fd.get(), LOCK_EX);
    while (rc != 0 && errno == EINTR);
    if (rc != 0)
        return errno_error(cat("lock ", quoted(directory)));
    return fd;
}

Result<Fd> lock_record(const RuntimeOptions& runtime, std::string_view id) {
    RecordPaths paths = record_paths(runtime, id);
    auto missing = [&] {
        return std::unexpected(Error::from_code(ErrorCode::NoSuchContainer,
                                                cat("container ", quoted(id), " does not exist")));
    };
    auto locked = lock_directory(paths.directory);
    if (!locked) {
        if (locked.error().code() == ENOENT)
            return missing();
        return std::unexpected(std::move(locked).error());
    }
    struct stat held {};
    struct stat now {};
    if (::fstat(locked->get(), &held) != 0)
        return errno_error(cat("stat ", quoted(paths.directory)));
    if (::stat(paths.directory.c_str(), &now) != 0 || now.st_dev != held.st_dev ||
        now.st_ino != held.st_ino)
        return missing();
    return std::move(*locked);
}

Result<void> remove_record(const RecordPaths& paths) {
    size_t slash = paths.directory.rfind('/');
    std::string parent = slash == 0 ? "/" : paths.directory.substr(0, slash);
    Fd parent_fd = TRY(open_file(parent, O_RDONLY | O_DIRECTORY));
    TRY_CTX(remove_tree(parent_fd.get(), paths.directory.substr(slash + 1).c_str()),
            cat("remove the record ", quoted(paths.directory)));
    return {};
}

Result<std::optional<ProcessStat>> read_process_stat(pid_t pid) {
    auto text = read_file(cat("/proc/", pid, "/stat"));
    if (!text) {
        if (text.error().code() == ENOENT || text.error().code() == ESRCH)
            return std::nullopt;
        return std::unexpected(std::move(text).error());
    }
    // The command ends at the last ')': it may contain ") " itself.
    size_t close = text->rfind(')');
    if (close == std::string::npos)
        return error(cat("/proc/", pid, "/stat: no command field"));
    std::vector<std::string_view> fields =
        split(trim(std::string_view(*text).substr(close + 1)), ' ');
    if (fields.size() < kStartTimeField - kFirstFieldAfterCommand + 1 || fields[0].size() != 1)
        return error(cat("/proc/", pid, "/stat: too few fields"));
    ProcessStat stat;
    stat.state = fields[0][0];
    auto parent = parse_u64(fields[1]);
    auto start = parse_u64(fields[kStartTimeField - kFirstFieldAfterCommand]);
    if (!parent || !start)
        return error(cat("/proc/", pid, "/stat: unreadable fields"));
    stat.parent = pid_t(*parent);
    stat.start_time = *start;
    return stat;
}

Result<bool> record_process_alive(const Record& record) {
    if (record.pid <= 0)
        return false;
    std::optional<ProcessStat> stat = TRY(read_process_stat(record.pid));
    return stat && stat->start_time == record.pid_start && stat->state != 'Z' && stat->state != 'X';
}

Result<std::optional<Fd>> open_record_process(const Record& record) {
    if (record.pid <= 0)
        return std::nullopt;
    auto pidfd = pidfd_open(record.pid);
    if (!pidfd) {
        if (pidfd.error().code() == ESRCH)
            return std::nullopt;
        return std::unexpected(std::move(pidfd).error());
    }
    // Checked after opening: from here on the pid cannot name another process.
    if (!TRY(record_process_alive(record)))
        return std::nullopt;
    return std::optional<Fd>(std::move(*pidfd));
}

std::string rfc3339_now() {
    timespec now{};
    ::clock_gettime(CLOCK_REALTIME, &now);
    tm utc{};
    ::gmtime_r(&now.tv_sec, &utc);
    char text[64];
    size_t length = ::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &utc);
    char fraction[16];
    ::snprintf(fraction, sizeof fraction, ".%09ldZ", long(now.tv_nsec));
    return std::string(text, length) + fraction;
}

} // namespace keel::containers
