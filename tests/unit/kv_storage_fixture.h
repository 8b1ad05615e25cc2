// Helpers for the tests of the KV's write-ahead log and snapshot files:
// entries to append, and a Storage that skips fsync and fdatasync, so that
// crash-point tests that replay a scenario hundreds of times do not wait for
// the disk (what a crash keeps is decided by FakeStorage, not by the disk).
#pragma once

#include "base/storage.h"
#include "base/strings.h"
#include "kv/raft_types.h"

#include <string>
#include <vector>

namespace keel::testing {

/// An entry whose data says where it is: "entry INDEX of term TERM" and
/// `padding` more bytes.
inline kv::Entry make_entry(kv::Index index, kv::Term term, size_t padding = 0) {
    kv::Entry entry;
    entry.index = index;
    entry.term = term;
    entry.data = cat("entry ", index, " of term ", term, std::string(padding, '.'));
    return entry;
}

/// Entries `first` to `last`, all of `term`.
inline std::vector<kv::Entry> make_entries(kv::Index first, kv::Index last, kv::Term term,
                                           size_t padding = 0) {
    std::vector<kv::Entry> entries;
    for (kv::Index index = first; index <= last; ++index)
        entries.push_back(make_entry(index, term, padding));
    return entries;
}

/// The system's Storage, except that fsync and fdatasync return at once.
class UnsyncedStorage final : public Storage {
public:
    Result<File> open(const std::string& path, int flags, mode_t mode) override {
        return m_inner.open(path, flags, mode);
    }
    Result<size_t> pread(const File& file, std::span<char> buffer, uint64_t offset) override {
        return m_inner.pread(file, buffer, offset);
    }
    Result<size_t> write(const File& file, std::string_view data) override {
        return m_inner.write(file, data);
    }
    Result<size_t> pwrite(const File& file, std::string_view data, uint64_t offset) override {
        return m_inner.pwrite(file, data, offset);
    }
    Result<void> fsync(const File&) override { return {}; }
    Result<void> fdatasync(const File&) override { return {}; }
    Result<void> fallocate(const File& file, uint64_t offset, uint64_t length) override {
        return m_inner.fallocate(file, offset, length);
    }
    Result<void> ftruncate(const File& file, uint64_t size) override {
        return m_inner.ftruncate(file, size);
    }
    Result<uint64_t> file_size(const File& file) override { return m_inner.file_size(file); }
    Result<void> rename(const std::string& from, const std::string& to) override {
        return m_inner.rename(from, to);
    }
    Result<void> unlink(const std::string& path) override { return m_inner.unlink(path); }
    Result<void> mkdir(const std::string& path, mode_t mode) override {
        return m_inner.mkdir(path, mode);
    }
    Result<std::vector<std::string>> list_directory(const std::string& path) override {
        return m_inner.list_directory(path);
    }

private:
    Storage& m_inner = system_storage();
};

} // namespace keel::testing
