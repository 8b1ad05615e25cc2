// containers/userns: the pure half of `keel run --userns` (userns.h): the
// option values read, maps checked as the kernel would take them, the
// subuid/subgid pool read, a free range chosen, and the "userns" member of
// container.json written and read back. No files, no syscalls: the lease
// and the namespace are userns_setup.cpp's.
#include "containers/userns.h"

#include "base/json.h"
#include "base/strings.h"

#include <algorithm>
#include <cerrno>
#include <limits>

namespace keel::containers {

namespace {

constexpr uint64_t kIdLimit = uint64_t(std::numeric_limits<uint32_t>::max()); // (uid_t)-1

uint64_t end_of(uint32_t start, uint32_t size) {
    return uint64_t(start) + size;
}

bool overlaps(uint64_t a_start, uint64_t a_end, uint64_t b_start, uint64_t b_end) {
    return a_start < b_end && b_start < a_end;
}

// A decimal id or count, all of it, within 32 bits.
std::optional<uint32_t> parse_u32(std::string_view text) {
    std::optional<uint64_t> n = parse_u64(text);
    if (!n || *n > kIdLimit)
        return std::nullopt;
    return uint32_t(*n);
}

Result<std::vector<oci::IdMapping>> parse_map_option(std::span<const std::string_view> texts,
                                                     std::string_view option) {
    std::vector<oci::IdMapping> map;
    for (std::string_view text : texts)
        map.push_back(TRY_CTX(parse_id_mapping(text), std::string(option)));
    TRY(check_id_map(map, option));
    return map;
}

void write_map(JsonWriter& json, std::string_view key, std::span<const oci::IdMapping> map) {
    json.key(key).begin_array();
    for (const oci::IdMapping& line : map)
        json.begin_object()
            .field("containerID", line.container_id)
            .field("hostID", line.host_id)
            .field("size", line.size)
            .end_object();
    json.end_array();
}

Result<std::vector<oci::IdMapping>> read_map(const JsonCursor& at) {
    std::vector<oci::IdMapping> out;
    for (const JsonCursor& element : TRY(at.array())) {
        JsonObjectCursor object = TRY(element.object());
        oci::IdMapping line;
        line.container_id = TRY(object["containerID"].integer<uint32_t>());
        line.host_id = TRY(object["hostID"].integer<uint32_t>());
        line.size = TRY(object["size"].integer<uint32_t>(1));
        out.push_back(line);
    }
    return out;
}

} // namespace

Result<oci::IdMapping> parse_id_mapping(std::string_view text) {
    std::vector<std::string_view> parts = split(text, ':');
    if (parts.size() != 3)
        return error(cat("bad mapping ", quoted(text), " (expected CONTAINER:HOST:SIZE, ",
                         "like 0:100000:65536)"));
    static constexpr std::string_view kNames[] = {"container id", "host id", "size"};
    uint32_t values[3] = {0, 0, 0};
    for (size_t i = 0; i < 3; ++i) {
        std::optional<uint32_t> n = parse_u32(parts[i]);
        if (!n)
            return error(cat("bad mapping ", quoted(text), ": the ", kNames[i], " ",
                             quoted(parts[i]), " is not a number up to ", kIdLimit));
        values[i] = *n;
    }
    oci::IdMapping mapping{.container_id = values[0], .host_id = values[1], .size = values[2]};
    if (mapping.size == 0)
        return error(cat("bad mapping ", quoted(text), ": the size is 0"));
    // (uid_t)-1 is no id: a range may end just below it.
    if (end_of(mapping.container_id, mapping.size) > kIdLimit ||
        end_of(mapping.host_id, mapping.size) > kIdLimit)
        return error(cat("bad mapping ", quoted(text), ": the range goes past id ", kIdLimit - 1));
    return mapping;
}

Result<void> check_id_map(std::span<const oci::IdMapping> map, std::string_view option) {
    if (map.empty())
        return error(cat(option, ": no mapping"));
    if (map.size() > kMaxIdMapLines)
        return error(
            cat(option, ": ", map.size(), " mappings, more than the kernel's ", kMaxIdMapLines));
    for (size_t i = 0; i < map.size(); ++i)
        for (size_t j = i + 1; j < map.size(); ++j) {
            const oci::IdMapping& a = map[i];
            const oci::IdMapping& b = map[j];
            if (overlaps(a.container_id, end_of(a.container_id, a.size), b.container_id,
                         end_of(b.container_id, b.size)))
                return error(cat(option, ": mappings ", a.container_id, ":", a.host_id, ":", a.size,
                                 " and ", b.container_id, ":", b.host_id, ":", b.size,
                                 " overlap inside the container"));
            if (overlaps(a.host_id, end_of(a.host_id, a.size), b.host_id,
                         end_of(b.host_id, b.size)))
                return error(cat(option, ": mappings ", a.container_id, ":", a.host_id, ":", a.size,
                                 " and ", b.container_id, ":", b.host_id, ":", b.size,
                                 " overlap on the host"));
        }
    if (!host_id_of(map, 0))
        return error(cat(option, ": container id 0 is not mapped (the container is set up as "
                                 "its root)"));
    return {};
}

Result<UsernsRequest> parse_userns_options(std::optional<std::string_view> mode,
                                           std::span<const std::string_view> uidmaps,
                                           std::span<const std::string_view> gidmaps) {
    UsernsRequest request;
    bool maps_given = !uidmaps.empty() || !gidmaps.empty();
    if (mode) {
        std::string_view text = *mode;
        std::string_view name = text.substr(0, text.find(':'));
        if (name == "host" && text == "host") {
            request.mode = UsernsMode::Host;
        } else if (name == "auto") {
            request.mode = UsernsMode::Auto;
            if (text.size() > name.size()) {
                // auto:OPTION[,OPTION]; podman's size= is the one keel takes.
                for (std::string_view option : split(text.substr(name.size() + 1), ',')) {
                    if (!option.starts_with("size="))
                        return error(cat("--userns: unknown auto option ", quoted(option),
                                         " (expected size=N)"));
                    std::optional<uint32_t> size = parse_u32(option.substr(5));
                    if (!size || *size == 0 || *size > kBuiltinIdPool.size)
                        return error(cat("--userns: auto size ", quoted(option.substr(5)),
                                         " is not a number from 1 to ", kBuiltinIdPool.size));
                    request.size = *size;
                }
            }
        } else {
            return error(cat("--userns: unknown mode ", quoted(text),
                             " (expected host, auto or auto:size=N)"));
        }
        if (maps_given)
            return error(cat("--uidmap, --gidmap: not with --userns ", name,
                             " (the maps make a user namespace of their own)"));
    } else if (maps_given) {
        request.mode = UsernsMode::Mapped;
    }
    if (request.mode != UsernsMode::Mapped)
        return request;
    // Podman's rule: one of the two given stands for both.
    request.maps.uids = TRY(parse_map_option(uidmaps.empty() ? gidmaps : uidmaps,
                                             uidmaps.empty() ? "--gidmap" : "--uidmap"));
    request.maps.gids = TRY(parse_map_option(gidmaps.empty() ? uidmaps : gidmaps,
                                             gidmaps.empty() ? "--uidmap" : "--gidmap"));
    return request;
}

std::string format_id_map(std::span<const oci::IdMapping> map) {
    std::string out;
    for (const oci::IdMapping& line : map)
        out += cat(line.container_id, " ", line.host_id, " ", line.size, "\n");
    return out;
}

std::optional<uint32_t> host_id_of(std::span<const oci::IdMapping> map, uint32_t id) {
    for (const oci::IdMapping& line : map)
        if (id >= line.container_id && id - line.container_id < line.size)
            return line.host_id + (id - line.container_id);
    return std::nullopt;
}

Result<std::vector<IdRange>> parse_subid_file(std::string_view text, std::string_view filename,
                                              std::string_view user) {
    std::vector<IdRange> out;
    size_t number = 0;
    for (std::string_view line : split(text, '\n')) {
        ++number;
        line = trim(line);
        if (line.empty() || line.starts_with('#'))
            continue;
        std::vector<std::string_view> parts = split(line, ':');
        if (parts.empty() || parts[0] != user)
            continue;
        std::string where = cat(filename, ", line ", number);
        if (parts.size() != 3)
            return error(cat(where, ": expected NAME:START:COUNT, got ", quoted(line)));
        std::optional<uint32_t> start = parse_u32(parts[1]);
        std::optional<uint32_t> count = parse_u32(parts[2]);
        if (!start || !count || *count == 0)
            return error(cat(where, ": bad START or COUNT in ", quoted(line)));
        if (end_of(*start, *count) > kIdLimit)
            return error(cat(where, ": the range ", quoted(line), " goes past id ", kIdLimit - 1));
        out.push_back({.start = *start, .size = *count});
    }
    return out;
}

std::optional<uint32_t> first_free_range(std::span<const IdRange> pool,
                                         std::span<const IdRange> taken, uint32_t size) {
    if (size == 0)
        return std::nullopt;
    for (const IdRange& range : pool) {
        uint64_t candidate = range.start;
        uint64_t end = end_of(range.start, range.size);
        // Past each range in the way until nothing is: at most one step a
        // taken range, since the candidate only moves up.
        for (bool moved = true; moved && candidate + size <= end;) {
            moved = false;
            for (const IdRange& used : taken)
                if (overlaps(candidate, candidate + size, used.start,
                             end_of(used.start, used.size))) {
                    candidate = end_of(used.start, used.size);
                    moved = true;
                }
        }
        if (candidate + size <= end)
            return uint32_t(candidate);
    }
    return std::nullopt;
}

std::vector<IdRange> host_ranges(std::span<const oci::IdMapping> map) {
    std::vector<IdRange> out;
    for (const oci::IdMapping& line : map)
        out.push_back({.start = line.host_id, .size = line.size});
    return out;
}

Result<IdMaps> choose_auto_maps(std::span<const IdRange> uid_pool,
                                std::span<const IdRange> gid_pool, std::span<const IdMaps> others,
                                uint32_t size) {
    std::vector<IdRange> taken_uids;
    std::vector<IdRange> taken_gids;
    for (const IdMaps& maps : others) {
        for (const IdRange& range : host_ranges(maps.uids))
            taken_uids.push_back(range);
        for (const IdRange& range : host_ranges(maps.gids))
            taken_gids.push_back(range);
    }
    std::optional<uint32_t> uid = first_free_range(uid_pool, taken_uids, size);
    if (!uid)
        return errno_error(ENOSPC, cat("--userns auto: no ", size,
                                       " uids left in the pool (every range is leased)"));
    std::optional<uint32_t> gid = first_free_range(gid_pool, taken_gids, size);
    if (!gid)
        return errno_error(ENOSPC, cat("--userns auto: no ", size,
                                       " gids left in the pool (every range is leased)"));
    IdMaps maps;
    maps.uids.push_back({.container_id = 0, .host_id = *uid, .size = size});
    maps.gids.push_back({.container_id = 0, .host_id = *gid, .size = size});
    return maps;
}

void write_userns_record(JsonWriter& json, UsernsMode mode, const IdMaps& maps) {
    json.key("userns").begin_object().field("mode", kUsernsModeNames.name(mode));
    write_map(json, "uidMappings", maps.uids);
    write_map(json, "gidMappings", maps.gids);
    json.end_object();
}

Result<IdMaps> read_userns_record(std::string_view container_json) {
    JsonValue document = TRY(parse_json(container_json));
    JsonObjectCursor object = TRY(JsonCursor(document).object());
    IdMaps maps;
    JsonCursor userns = object["userns"];
    if (userns.missing() || userns.null())
        return maps;
    JsonObjectCursor members = TRY(userns.object());
    maps.uids = TRY(read_map(members["uidMappings"]));
    maps.gids = TRY(read_map(members["gidMappings"]));
    return maps;
}

} // namespace keel::containers
