// keel_mvcc_bench: the MVCC store on LMDB, measured. Puts N keys (batched
// commits, as the apply loop would), reads each back, then reopens the file
// and reports the heap the rebuilt key index takes per key, the figure
// that decides the store's share of a member's RSS.
//
//   keel_mvcc_bench FILE [KEYS] [VALUE_BYTES]
//   keel_mvcc_bench --open FILE KEYS     (the reopen half alone)
#include "kv/mvcc.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

using namespace keel;
using namespace keel::kv;

namespace {

/// The process's anonymous resident memory in KiB (RssAnon: the heap, not
/// LMDB's file pages, which the kernel can drop), 0 when unreadable.
long anonymous_kib() {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line))
        if (line.starts_with("RssAnon:"))
            return std::strtol(line.c_str() + 8, nullptr, 10);
    return 0;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

Result<std::unique_ptr<MvccStore>> open_store(const std::string& path) {
    auto backend =
        TRY(open_lmdb_backend(path, uint64_t(8) << 30, LmdbSync::NoMetaSync, LmdbCommit::Batched));
    return MvccStore::open(std::move(backend));
}

/// Keys shaped like Kubernetes' ("/registry/pods/0000000042").
std::string key_of(long i) {
    std::string digits = std::to_string(i);
    return "/registry/pods/" + std::string(digits.size() < 10 ? 10 - digits.size() : 0, '0') +
           digits;
}

int run(const std::string& path, long keys, size_t value_bytes) {
    ::unlink(path.c_str());
    ::unlink((path + "-lock").c_str());
    {
        auto store = open_store(path);
        if (!store) {
            std::fprintf(stderr, "%s\n", store.error().to_string().c_str());
            return 1;
        }
        PutRequest request;
        request.value.assign(value_bytes, 'v');
        auto start = std::chrono::steady_clock::now();
        for (long i = 0; i < keys; ++i) {
            request.key = key_of(i);
            if (auto written = (*store)->put(request, Index(i + 1)); !written) {
                std::fprintf(stderr, "%s\n", written.error().to_string().c_str());
                return 1;
            }
        }
        if (auto flushed = (*store)->flush(); !flushed) {
            std::fprintf(stderr, "%s\n", flushed.error().to_string().c_str());
            return 1;
        }
        double put_seconds = seconds_since(start);
        start = std::chrono::steady_clock::now();
        RangeRequest read;
        for (long i = 0; i < keys; ++i) {
            read.key = key_of(i);
            if (auto response = (*store)->range(read); !response || response->kvs.size() != 1)
                return 1;
        }
        std::printf("puts: %.0f/s  point reads: %.0f/s\n", double(keys) / put_seconds,
                    double(keys) / seconds_since(start));
    }
    // In a fresh process (exec, not just fork): the heap the store above
    // freed would hide the index's growth.
    std::fflush(stdout);
    pid_t child = ::fork();
    if (child == 0) {
        std::string count = std::to_string(keys);
        ::execl("/proc/self/exe", "keel_mvcc_bench", "--open", path.c_str(), count.c_str(),
                nullptr);
        ::_exit(127);
    }
    int status = 0;
    if (child < 0 || ::waitpid(child, &status, 0) != child || !WIFEXITED(status))
        return 1;
    return WEXITSTATUS(status);
}

} // namespace

/// Opens the store and reports the time and the heap the index took.
int measure_open(const std::string& path, long keys) {
    long before = anonymous_kib();
    auto start = std::chrono::steady_clock::now();
    auto store = open_store(path);
    if (!store) {
        std::fprintf(stderr, "%s\n", store.error().to_string().c_str());
        return 1;
    }
    double open_seconds = seconds_since(start);
    long after = anonymous_kib();
    std::printf("reopen: %.2f s for %ld keys; anonymous RSS +%ld KiB (%.0f bytes/key)\n",
                open_seconds, keys, after - before, double(after - before) * 1024 / double(keys));
    return 0;
}

int main(int argc, char** argv) {
    if (argc == 4 && std::string(argv[1]) == "--open")
        return measure_open(argv[2], std::atol(argv[3]));
    if (argc < 2) {
        std::fprintf(stderr, "usage: keel_mvcc_bench FILE [KEYS] [VALUE_BYTES]\n");
        return 2;
    }
    long keys = argc > 2 ? std::atol(argv[2]) : 100000;
    size_t value_bytes = argc > 3 ? size_t(std::atol(argv[3])) : 256;
    return run(argv[1], keys, value_bytes);
}
