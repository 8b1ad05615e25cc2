// Fuzz target for containers/userns.h's readers of outside input: the
// --userns, --uidmap and --gidmap values, /etc/subuid text and the
// "userns" member of a container record. The first byte picks the reader;
// what a reader accepts must hold what its header promises (maps the
// kernel would take, ranges below the invalid id, a free range that is
// free).
#include "containers/userns.h"
#include "tests/fuzz/fuzz_check.h"

#include <cstdint>
#include <string_view>
#include <vector>

using namespace keel;
using namespace keel::containers;

namespace {

constexpr uint64_t kInvalidId = 0xffffffffu;

void check_map(const std::vector<oci::IdMapping>& map) {
    FUZZ_CHECK(!map.empty() && map.size() <= kMaxIdMapLines);
    FUZZ_CHECK(host_id_of(map, 0).has_value());
    for (const oci::IdMapping& line : map) {
        FUZZ_CHECK(line.size > 0);
        FUZZ_CHECK(uint64_t(line.container_id) + line.size <= kInvalidId);
        FUZZ_CHECK(uint64_t(line.host_id) + line.size <= kInvalidId);
    }
}

bool ranges_overlap(uint64_t a, uint64_t a_size, uint64_t b, uint64_t b_size) {
    return a < b + b_size && b < a + a_size;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0)
        return 0;
    std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
    switch (data[0] % 4) {
    case 0: {
        // Words split at newlines: the first --userns (or none when empty),
        // then --uidmap values up to a blank line, then --gidmap values.
        std::vector<std::string_view> words;
        size_t start = 0;
        while (start <= input.size()) {
            size_t end = input.find('\n', start);
            if (end == std::string_view::npos)
                end = input.size();
            words.push_back(input.substr(start, end - start));
            start = end + 1;
        }
        std::optional<std::string_view> mode;
        if (!words.empty() && !words[0].empty())
            mode = words[0];
        std::vector<std::string_view> uidmaps;
        std::vector<std::string_view> gidmaps;
        bool gids = false;
        for (size_t i = 1; i < words.size(); ++i) {
            if (words[i].empty())
                gids = true;
            else
                (gids ? gidmaps : uidmaps).push_back(words[i]);
        }
        if (auto request = parse_userns_options(mode, uidmaps, gidmaps)) {
            if (request->mode == UsernsMode::Mapped) {
                check_map(request->maps.uids);
                check_map(request->maps.gids);
            } else {
                FUZZ_CHECK(request->maps.empty());
                FUZZ_CHECK(request->size > 0);
            }
        }
        break;
    }
    case 1:
        if (auto mapping = parse_id_mapping(input)) {
            FUZZ_CHECK(mapping->size > 0);
            FUZZ_CHECK(uint64_t(mapping->host_id) + mapping->size <= kInvalidId);
        }
        break;
    case 2:
        if (auto pool = parse_subid_file(input, "subuid", "keel")) {
            for (const IdRange& range : *pool)
                FUZZ_CHECK(range.size > 0 && uint64_t(range.start) + range.size <= kInvalidId);
            // Whatever is free in it overlaps none of the pool's first
            // ranges taken.
            std::vector<IdRange> taken(pool->begin(), pool->begin() + pool->size() / 2);
            std::vector<IdRange> rest(pool->begin() + pool->size() / 2, pool->end());
            if (auto free = first_free_range(rest, taken, 1000)) {
                for (const IdRange& used : taken)
                    FUZZ_CHECK(!ranges_overlap(*free, 1000, used.start, used.size));
                bool inside = false;
                for (const IdRange& range : rest)
                    inside |= *free >= range.start &&
                              uint64_t(*free) + 1000 <= uint64_t(range.start) + range.size;
                FUZZ_CHECK(inside);
            }
        }
        break;
    default:
        if (auto maps = read_userns_record(input))
            for (const oci::IdMapping& line : maps->uids)
                FUZZ_CHECK(line.size > 0);
        break;
    }
    return 0;
}
