// Fuzz target for containers/tar.h and containers/layer.h.
//
// Each input is read twice. First by the reader alone, through
// decompressed() (so gzip and zstd headers are fuzzed too), checking what
// the layer code relies on: names present, bounded and free of NUL, data
// only for regular files and exactly as long as the header says, entries
// counted in order. Then applied as a layer to an empty directory, after
// which the directory around it must hold nothing else: no entry may land
// outside the target whatever the archive says. (No chroot around it:
// libFuzzer writes its corpus and crash inputs to host paths.)
#include "containers/layer.h"
#include "containers/tar.h"

#include "tests/fuzz/fuzz_check.h"

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <string>
#include <string_view>
#include <sys/stat.h>
#include <unistd.h>

using namespace keel;
using namespace keel::oci;

namespace {

// Decompressed bytes read per input at most: zstd turns 64 KiB into
// gigabytes.
constexpr uint64_t kReadBudget = 8 << 20;

std::string g_scratch;

int remove_entry(const char* path, const struct stat*, int, struct FTW*) {
    ::remove(path);
    return 0;
}

void check_reader(std::string_view bytes) {
    auto source = decompressed(std::make_unique<MemorySource>(bytes));
    if (!source)
        return;
    TarReader reader(**source);
    uint64_t last_index = 0, budget = kReadBudget;
    while (true) {
        auto entry = reader.next();
        if (!entry || !*entry)
            return;
        const TarEntry& e = **entry;
        FUZZ_CHECK(!e.path.empty() && e.path.size() <= 4096);
        FUZZ_CHECK(e.path.find('\0') == std::string::npos);
        FUZZ_CHECK(e.link_target.size() <= 4096);
        FUZZ_CHECK(e.index == last_index + 1);
        FUZZ_CHECK(e.mode <= 07777);
        FUZZ_CHECK(e.type == TarEntryType::Regular || e.size == 0);
        if ((e.type == TarEntryType::Symlink || e.type == TarEntryType::HardLink))
            FUZZ_CHECK(!e.link_target.empty());
        last_index = e.index;
        uint64_t read = 0;
        char buffer[4096];
        while (true) {
            auto n = reader.read_data({buffer, sizeof buffer});
            if (!n)
                return;
            if (*n == 0)
                break;
            read += *n;
            if (*n > budget)
                return;
            budget -= *n;
        }
        FUZZ_CHECK(read == e.size);
    }
}

void check_layer(std::string_view bytes) {
    std::string root = g_scratch + "/root";
    FUZZ_CHECK(::mkdir(root.c_str(), 0755) == 0);
    int fd = ::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    FUZZ_CHECK(fd >= 0);
    MemorySource source(bytes);
    // Whiteouts in overlay form need root (mknod, trusted.* xattrs).
    LayerOptions options{.whiteouts = !bytes.empty() && (bytes.back() & 1) && ::geteuid() == 0
                                          ? Whiteouts::Overlay
                                          : Whiteouts::Apply};
    (void)apply_layer(source, fd, options);
    ::close(fd);
    // Nothing but root/ and the sentinel beside the target.
    DIR* scratch = ::opendir(g_scratch.c_str());
    FUZZ_CHECK(scratch);
    while (struct dirent* entry = ::readdir(scratch)) {
        std::string_view name = entry->d_name;
        FUZZ_CHECK(name == "." || name == ".." || name == "root" || name == "sentinel");
    }
    ::closedir(scratch);
    struct stat sentinel;
    FUZZ_CHECK(::lstat((g_scratch + "/sentinel").c_str(), &sentinel) == 0);
    FUZZ_CHECK(S_ISREG(sentinel.st_mode) && sentinel.st_size == 0 && sentinel.st_nlink == 1);
    ::nftw(root.c_str(), remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    std::string pattern = fuzz_scratch_pattern("tar");
    FUZZ_CHECK(::mkdtemp(pattern.data()) != nullptr);
    g_scratch = pattern;
    int sentinel = ::open((g_scratch + "/sentinel").c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
    FUZZ_CHECK(sentinel >= 0);
    ::close(sentinel);
    std::atexit([] { ::nftw(g_scratch.c_str(), remove_entry, 16, FTW_DEPTH | FTW_PHYS); });
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view bytes(reinterpret_cast<const char*>(data), size);
    check_reader(bytes);
    check_layer(bytes);
    return 0;
}
