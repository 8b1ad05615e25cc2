// keel_wal_bench DIR [SECONDS]: the write-ahead log's throughput on the disk
// under DIR: 256-byte entries appended and synced one per sync (what a
// single client gets) and 100 per sync (group commit under load), each for
// SECONDS (default 3). Prints entries and syncs per second for both.
#include "base/strings.h"
#include "kv/wal.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

using namespace keel;
using namespace keel::kv;

namespace {

int run(const std::string& directory, size_t per_sync, double seconds) {
    auto wal = Wal::create(directory, {.cluster_id = 1, .member_id = 1});
    if (!wal) {
        std::fprintf(stderr, "%s\n", wal.error().to_string().c_str());
        return 1;
    }
    using Clock = std::chrono::steady_clock;
    auto start = Clock::now();
    std::chrono::duration<double> limit(seconds);
    Index index = 0;
    uint64_t syncs = 0;
    std::vector<Entry> batch(per_sync);
    while (Clock::now() - start < limit) {
        for (Entry& entry : batch) {
            entry = Entry{.term = 1, .index = ++index, .data = std::string(256, 'v')};
        }
        HardState state{.term = 1, .vote = 1, .commit = index};
        if (auto appended = wal->append(batch, state); !appended) {
            std::fprintf(stderr, "%s\n", appended.error().to_string().c_str());
            return 1;
        }
        if (auto synced = wal->sync(); !synced) {
            std::fprintf(stderr, "%s\n", synced.error().to_string().c_str());
            return 1;
        }
        ++syncs;
    }
    double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    std::printf("%zu entries per sync: %.0f entries/s, %.0f syncs/s\n", per_sync,
                double(index) / elapsed, double(syncs) / elapsed);
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: keel_wal_bench DIR [SECONDS]\n");
        return 2;
    }
    std::string root = argv[1];
    double seconds = argc > 2 ? std::atof(argv[2]) : 3.0;
    int status = run(root + "/unbatched", 1, seconds);
    if (status == 0)
        status = run(root + "/batched", 100, seconds);
    return status;
}
