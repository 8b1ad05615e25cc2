// linux.seccomp to BPF (see seccomp.h): the translation of the spec's
// actions, operators, architectures and flags to libseccomp's, the export
// of the program, and the two caches in front of it.
//
// The cache file is trusted only after checks that cost microseconds: its
// owner and mode, its size against the length in its header, the key it
// was written for, and a SHA-256 over header and program. A torn write
// (power cut before the data reached the disk) or a tampered file fails
// them and is compiled again, so the file is neither fsynced nor locked:
// two processes that miss at once both compile and rename the same bytes
// into place.
#include "containers/seccomp.h"

#include "base/digest.h"
#include "base/log.h"
#include "base/seccomp_bpf.h"
#include "base/strings.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <deque>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <mutex>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <unordered_map>
#include <variant>

#ifndef SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
#define SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (1UL << 5)
#endif

namespace keel::oci {

namespace {

constexpr std::string_view kSeccompField = "linux.seccomp";
// The kernel's MAX_ERRNO: a larger errnoRet would be clamped to it.
constexpr uint32_t kMaxErrno = 4095;
constexpr uint32_t kMaxArgumentIndex = 5;
constexpr size_t kMemoryCacheEntries = 64;

struct FlagName {
    std::string_view name;
    unsigned flag;
};
constexpr FlagName kFlagNames[] = {
    {"SECCOMP_FILTER_FLAG_TSYNC", SECCOMP_FILTER_FLAG_TSYNC},
    {"SECCOMP_FILTER_FLAG_LOG", SECCOMP_FILTER_FLAG_LOG},
    {"SECCOMP_FILTER_FLAG_SPEC_ALLOW", SECCOMP_FILTER_FLAG_SPEC_ALLOW},
    {"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV},
};

std::atomic<uint64_t> g_compiles{0};
std::atomic<uint64_t> g_memory_hits{0};
std::atomic<uint64_t> g_file_hits{0};
std::atomic<uint64_t> g_rejected_files{0};

using Context = std::unique_ptr<void, void (*)(void*)>;

Result<uint32_t> errno_value(std::optional<uint32_t> value, std::string_view field) {
    uint32_t number = value.value_or(EPERM);
    if (number > kMaxErrno)
        return error(cat(field, ": ", number, " is above ", kMaxErrno, ", the largest errno"));
    return number;
}

// The libseccomp action for `action`; `errno_ret` is for Errno and Trace.
Result<uint32_t> scmp_action(SeccompAction action, std::optional<uint32_t> errno_ret,
                             std::string_view errno_field) {
    switch (action) {
    case SeccompAction::KillThread:
        return SCMP_ACT_KILL_THREAD;
    case SeccompAction::KillProcess:
        return SCMP_ACT_KILL_PROCESS;
    case SeccompAction::Trap:
        return SCMP_ACT_TRAP;
    case SeccompAction::Errno:
        return SCMP_ACT_ERRNO(TRY(errno_value(errno_ret, errno_field)));
    case SeccompAction::Trace:
        return SCMP_ACT_TRACE(TRY(errno_value(errno_ret, errno_field)));
    case SeccompAction::Allow:
        return SCMP_ACT_ALLOW;
    case SeccompAction::Log:
        return SCMP_ACT_LOG;
    case SeccompAction::Notify:
        return SCMP_ACT_NOTIFY;
    }
    return error(cat("unknown action ", int(action)));
}

scmp_compare scmp_operator(SeccompOperator op) {
    switch (op) {
    case SeccompOperator::NotEqual:
        return SCMP_CMP_NE;
    case SeccompOperator::LessThan:
        return SCMP_CMP_LT;
    case SeccompOperator::LessOrEqual:
        return SCMP_CMP_LE;
    case SeccompOperator::Equal:
        return SCMP_CMP_EQ;
    case SeccompOperator::GreaterOrEqual:
        return SCMP_CMP_GE;
    case SeccompOperator::GreaterThan:
        return SCMP_CMP_GT;
    case SeccompOperator::MaskedEqual:
        return SCMP_CMP_MASKED_EQ;
    }
    return _SCMP_CMP_MIN; // never: the enum is closed
}

// "SCMP_ARCH_X86_64" -> libseccomp's token for "x86_64", or 0.
uint32_t architecture_token(std::string_view name) {
    constexpr std::string_view prefix = "SCMP_ARCH_";
    if (!starts_with(name, prefix) || name.size() == prefix.size())
        return 0;
    std::string lower(name.substr(prefix.size()));
    for (char& c : lower)
        c = char(std::tolower(static_cast<unsigned char>(c)));
    return seccomp_arch_resolve_name(lower.c_str());
}

Result<std::vector<scmp_arg_cmp>> conditions(const SeccompRule& rule, const std::string& field) {
    std::vector<scmp_arg_cmp> out;
    for (size_t i = 0; i < rule.args.size(); ++i) {
        const SeccompArgument& argument = rule.args[i];
        if (argument.index > kMaxArgumentIndex)
            return error(cat(field, ".args[", i, "].index: ", argument.index, " is not 0 to ",
                             kMaxArgumentIndex));
        out.push_back(scmp_arg_cmp{argument.index, scmp_operator(argument.op), argument.value,
                                   argument.value_two});
    }
    return out;
}

// libseccomp allows one condition per argument in a rule: conditions that
// repeat an argument are alternatives, each its own rule (as runc reads
// them); otherwise they all belong to one rule.
std::vector<std::vector<scmp_arg_cmp>> condition_sets(const std::vector<scmp_arg_cmp>& all) {
    bool repeated = false;
    for (size_t i = 0; i < all.size(); ++i)
        for (size_t j = i + 1; j < all.size(); ++j)
            repeated = repeated || all[i].arg == all[j].arg;
    if (!repeated)
        return {all};
    std::vector<std::vector<scmp_arg_cmp>> sets;
    for (const scmp_arg_cmp& one : all)
        sets.push_back({one});
    return sets;
}

Result<void> add_rule(scmp_filter_ctx context, const SeccompRule& rule, uint32_t default_action,
                      const std::string& field) {
    uint32_t action =
        TRY_CTX(scmp_action(rule.action, rule.errno_ret, "errnoRet"), std::string(field));
    // libseccomp refuses a rule that repeats the default action; it would
    // change nothing anyway.
    if (action == default_action)
        return {};
    std::vector<std::vector<scmp_arg_cmp>> sets = condition_sets(TRY(conditions(rule, field)));
    for (const std::string& name : rule.names) {
        int number = seccomp_syscall_resolve_name(name.c_str());
        if (number == __NR_SCMP_ERROR)
            continue; // newer than this libseccomp: the kernel has no such call either
        for (const std::vector<scmp_arg_cmp>& set : sets) {
            int rc =
                seccomp_rule_add_array(context, action, number, unsigned(set.size()), set.data());
            if (rc < 0)
                return errno_error(-rc, cat(field, ": add ", quoted(name)));
        }
    }
    return {};
}

// Appends `text` so that no two sequences of fields serialise alike.
void field(std::string& out, std::string_view text) {
    out += cat(text.size(), ":", text, ";");
}
void field(std::string& out, uint64_t number) {
    field(out, std::string_view(cat(number)));
}
void field(std::string& out, std::optional<uint32_t> number) {
    field(out, number ? std::string_view(cat(*number)) : std::string_view("-"));
}

// What besides the profile decides the program: libseccomp's version and
// the kernel's seccomp features it probed, and the native architecture.
const std::string& toolchain_tag() {
    static const std::string tag = [] {
        std::string out;
        const scmp_version* version = seccomp_version();
        field(out, std::string_view(cat(version->major, ".", version->minor, ".", version->micro)));
        field(out, uint64_t(seccomp_api_get()));
        field(out, uint64_t(seccomp_arch_native()));
        return out;
    }();
    return tag;
}

// The cache file: this header, then `count` sock_filters.
struct CacheHeader {
    char magic[8];
    uint32_t flags;
    uint32_t count;
    char key[64];
    char checksum[64]; // sha256_hex of the bytes before it and the program
};
static_assert(sizeof(CacheHeader) == 144 && sizeof(CacheHeader) % sizeof(sock_filter) == 0);
constexpr char kCacheMagic[8] = {'K', 'E', 'E', 'L', 'B', 'P', 'F', '1'};

std::string checksum(const CacheHeader& header, const std::vector<sock_filter>& program) {
    std::string covered(reinterpret_cast<const char*>(&header), offsetof(CacheHeader, checksum));
    covered.append(reinterpret_cast<const char*>(program.data()),
                   program.size() * sizeof(sock_filter));
    return sha256_hex(covered);
}

std::string cache_file_bytes(const std::string& key, const SeccompFilter& filter) {
    CacheHeader header{};
    std::memcpy(header.magic, kCacheMagic, sizeof header.magic);
    header.flags = filter.flags;
    header.count = uint32_t(filter.program.size());
    std::memcpy(header.key, key.data(), sizeof header.key);
    std::string sum = checksum(header, filter.program);
    std::memcpy(header.checksum, sum.data(), sizeof header.checksum);
    std::string out(reinterpret_cast<const char*>(&header), sizeof header);
    out.append(reinterpret_cast<const char*>(filter.program.data()),
               filter.program.size() * sizeof(sock_filter));
    return out;
}

// Why `bytes` cannot be the program for `key`, or the filter it holds.
std::variant<SeccompFilter, std::string> parse_cache_file(const std::string& key,
                                                          std::string_view bytes) {
    if (bytes.size() < sizeof(CacheHeader) + sizeof(sock_filter))
        return cat("short: ", bytes.size(), " bytes");
    CacheHeader header;
    std::memcpy(&header, bytes.data(), sizeof header);
    size_t body = bytes.size() - sizeof header;
    if (std::memcmp(header.magic, kCacheMagic, sizeof header.magic) != 0)
        return std::string("not a keel seccomp cache file");
    if (body % sizeof(sock_filter) != 0 || header.count == 0 || header.count > BPF_MAXINSNS ||
        body / sizeof(sock_filter) != header.count)
        return cat(header.count, " instructions in the header, ", body, " bytes after it");
    if (std::string_view(header.key, sizeof header.key) != key)
        return std::string("written for another profile");
    SeccompFilter filter;
    filter.flags = header.flags;
    filter.program.resize(header.count);
    std::memcpy(filter.program.data(), bytes.data() + sizeof header, body);
    if (std::string_view(header.checksum, sizeof header.checksum) !=
        checksum(header, filter.program))
        return std::string("checksum mismatch");
    return filter;
}

// The directory must be ours alone: the files in it are loaded into the
// kernel as they are.
Result<void> check_directory(const std::string& directory) {
    struct stat info;
    if (::stat(directory.c_str(), &info) < 0)
        return errno_error(cat("stat ", quoted(directory)));
    if (!S_ISDIR(info.st_mode))
        return errno_error(ENOTDIR, quoted(directory));
    if (info.st_uid != ::geteuid())
        return errno_error(EPERM, cat(quoted(directory), " belongs to uid ", info.st_uid,
                                      ", not to uid ", ::geteuid()));
    if (info.st_mode & (S_IWGRP | S_IWOTH))
        return errno_error(EPERM, cat(quoted(directory), " is writable by group or others"));
    return {};
}

// The cached filter at `path`, or nullopt when there is none to trust
// (whatever went wrong reading it: the caller compiles instead).
std::optional<SeccompFilter> read_cache_file(Storage& storage, const std::string& path,
                                             const std::string& key) {
    auto opened = storage.open(path, O_RDONLY | O_NOFOLLOW, 0);
    if (!opened) {
        if (opened.error().code() == ENOENT)
            return std::nullopt;
        log_warning(cat("seccomp cache: ", opened.error().to_string(), "; compiling again"));
        ++g_rejected_files;
        return std::nullopt;
    }
    File file = std::move(*opened);
    struct stat info;
    std::string problem;
    if (::fstat(file.fd(), &info) < 0)
        problem = cat("stat: ", std::strerror(errno));
    else if (!S_ISREG(info.st_mode) || info.st_uid != ::geteuid() || (info.st_mode & 0077) != 0)
        problem = cat("not a file of uid ", ::geteuid(), " with mode 0600");
    else if (size_t(info.st_size) > sizeof(CacheHeader) + BPF_MAXINSNS * sizeof(sock_filter))
        problem = cat("too long: ", info.st_size, " bytes");
    if (problem.empty()) {
        auto bytes = storage.pread_all(file, size_t(info.st_size), 0);
        if (!bytes) {
            problem = bytes.error().to_string();
        } else {
            auto parsed = parse_cache_file(key, *bytes);
            if (auto* filter = std::get_if<SeccompFilter>(&parsed))
                return std::move(*filter);
            problem = std::get<std::string>(parsed);
        }
    }
    log_warning(cat("seccomp cache: ", quoted(path), ": ", problem, "; compiling again"));
    ++g_rejected_files;
    return std::nullopt;
}

Result<void> write_cache_file(Storage& storage, const std::string& path, const std::string& key,
                              const SeccompFilter& filter) {
    static std::atomic<uint64_t> sequence{0};
    std::string temporary = cat(path, ".tmp.", ::getpid(), ".", ++sequence);
    File file = TRY(storage.open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0600));
    // The mode is checked when the file is read back: no umask may widen
    // or narrow it.
    if (::fchmod(file.fd(), 0600) < 0) {
        int code = errno;
        (void)storage.unlink(temporary);
        return errno_error(code, cat("chmod ", quoted(temporary)));
    }
    auto written = storage.write_all(file, cache_file_bytes(key, filter));
    file.close();
    if (written)
        written = storage.rename(temporary, path);
    if (!written) {
        (void)storage.unlink(temporary);
        return std::unexpected(std::move(written).error());
    }
    return {};
}

// The in-memory cache: at most kMemoryCacheEntries, the oldest dropped.
struct MemoryCache {
    std::mutex mutex;
    std::unordered_map<std::string, std::shared_ptr<const SeccompFilter>> filters;
    std::deque<std::string> order;
};
MemoryCache& memory_cache() {
    static MemoryCache cache;
    return cache;
}

std::shared_ptr<const SeccompFilter> remember(const std::string& key,
                                              std::shared_ptr<const SeccompFilter> filter) {
    MemoryCache& cache = memory_cache();
    std::lock_guard lock(cache.mutex);
    // Another thread may have put it there meanwhile: keep one pointer per key.
    auto [entry, inserted] = cache.filters.emplace(key, std::move(filter));
    if (inserted) {
        cache.order.push_back(key);
        if (cache.order.size() > kMemoryCacheEntries) {
            cache.filters.erase(cache.order.front());
            cache.order.pop_front();
        }
    }
    return entry->second;
}

} // namespace

Result<SeccompFilter> compile_seccomp(const Seccomp& profile) {
    if (profile.default_action == SeccompAction::Notify)
        return error(
            cat(kSeccompField, ".defaultAction: SCMP_ACT_NOTIFY cannot be the default action"));
    uint32_t default_action =
        TRY_CTX(scmp_action(profile.default_action, profile.default_errno_ret, "defaultErrnoRet"),
                std::string(kSeccompField));

    SeccompFilter filter;
    for (size_t i = 0; i < profile.flags.size(); ++i) {
        auto known = std::find_if(std::begin(kFlagNames), std::end(kFlagNames),
                                  [&](const FlagName& f) { return f.name == profile.flags[i]; });
        if (known == std::end(kFlagNames))
            return error(
                cat(kSeccompField, ".flags[", i, "]: unknown flag ", quoted(profile.flags[i])));
        filter.flags |= known->flag;
    }

    ++g_compiles;
    scmp_filter_ctx raw = seccomp_init(default_action);
    if (!raw)
        return error(cat(kSeccompField, ": libseccomp refused the default action"));
    Context context(raw, seccomp_release);
    for (size_t i = 0; i < profile.architectures.size(); ++i) {
        const std::string& name = profile.architectures[i];
        uint32_t token = architecture_token(name);
        if (token == 0)
            return error(
                cat(kSeccompField, ".architectures[", i, "]: unknown architecture ", quoted(name)));
        // The native architecture is in every new filter already.
        if (int rc = seccomp_arch_add(raw, token); rc < 0 && rc != -EEXIST)
            return errno_error(-rc,
                               cat(kSeccompField, ".architectures[", i, "]: add ", quoted(name)));
    }
    for (size_t i = 0; i < profile.syscalls.size(); ++i) {
        const SeccompRule& rule = profile.syscalls[i];
        TRY(add_rule(raw, rule, default_action, cat(kSeccompField, ".syscalls[", i, "]")));
        if (rule.action == SeccompAction::Notify)
            filter.flags |= SECCOMP_FILTER_FLAG_NEW_LISTENER;
    }
    filter.program = TRY_CTX(export_seccomp_program(raw), std::string(kSeccompField));
    return filter;
}

std::string seccomp_cache_key(const Seccomp& profile) {
    std::string text;
    field(text, "keel seccomp key 1");
    text += toolchain_tag();
    field(text, kSeccompActionNames.name(profile.default_action));
    field(text, profile.default_errno_ret);
    field(text, profile.architectures.size());
    for (const std::string& architecture : profile.architectures)
        field(text, architecture);
    field(text, profile.flags.size());
    for (const std::string& flag : profile.flags)
        field(text, flag);
    field(text, profile.syscalls.size());
    for (const SeccompRule& rule : profile.syscalls) {
        field(text, rule.names.size());
        for (const std::string& name : rule.names)
            field(text, name);
        field(text, kSeccompActionNames.name(rule.action));
        field(text, rule.errno_ret);
        field(text, rule.args.size());
        for (const SeccompArgument& argument : rule.args) {
            field(text, uint64_t(argument.index));
            field(text, argument.value);
            field(text, argument.value_two);
            field(text, kSeccompOperatorNames.name(argument.op));
        }
    }
    return sha256_hex(text);
}

Result<std::shared_ptr<const SeccompFilter>>
cached_seccomp(const Seccomp& profile, const std::string& directory, Storage& storage) {
    std::string key = seccomp_cache_key(profile);
    {
        MemoryCache& cache = memory_cache();
        std::lock_guard lock(cache.mutex);
        if (auto found = cache.filters.find(key); found != cache.filters.end()) {
            ++g_memory_hits;
            return found->second;
        }
    }

    TRY_CTX(storage.make_directories(directory, 0700), "seccomp cache");
    TRY_CTX(check_directory(directory), "seccomp cache");
    std::string path = cat(directory, "/", key, ".bpf");
    if (std::optional<SeccompFilter> found = read_cache_file(storage, path, key)) {
        ++g_file_hits;
        return remember(key, std::make_shared<const SeccompFilter>(std::move(*found)));
    }

    SeccompFilter filter = TRY(compile_seccomp(profile));
    if (auto written = write_cache_file(storage, path, key, filter); !written)
        log_warning(cat("seccomp cache: ", written.error().to_string()));
    return remember(key, std::make_shared<const SeccompFilter>(std::move(filter)));
}

SeccompCacheStats seccomp_cache_stats() {
    return {g_compiles.load(), g_memory_hits.load(), g_file_hits.load(), g_rejected_files.load()};
}

void clear_seccomp_memory_cache() {
    MemoryCache& cache = memory_cache();
    std::lock_guard lock(cache.mutex);
    cache.filters.clear();
    cache.order.clear();
    g_compiles = 0;
    g_memory_hits = 0;
    g_file_hits = 0;
    g_rejected_files = 0;
}

} // namespace keel::oci
