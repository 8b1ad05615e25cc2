// The names of the KV's storage files: the store's kv.lmdb, WAL segments
// SEQ-FIRSTINDEX.wal and snapshot files TERM-INDEX.snap, each number 16
// lowercase hex digits (so that names sort in number order), and the
// ".tmp" suffix of files that are written under a temporary name and
// renamed into place.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace keel::kv {

/// The store's file in a member's data dir (LMDB; its lock file beside it).
inline constexpr std::string_view kStoreFileName = "kv.lmdb";

/// The suffix of a file being written; a crash may leave one behind.
inline constexpr std::string_view kTempSuffix = ".tmp";

/// Two numbers from a file name.
struct NumberPair {
    uint64_t first = 0;
    uint64_t second = 0;
};

/// "%016x-%016x<suffix>".
std::string numbered_file_name(NumberPair numbers, std::string_view suffix);
/// The numbers of a name numbered_file_name() made with `suffix`, or
/// nullopt for any other name.
std::optional<NumberPair> parse_numbered_file_name(std::string_view name, std::string_view suffix);

/// `path`'s directory: "/data/wal" for "/data/wal/x", "." for "x".
std::string parent_directory(std::string_view path);

} // namespace keel::kv
