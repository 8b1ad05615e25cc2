// FakeStorage: a Storage for tests. Every call goes on to a real Storage
// (the system's) unless the test said otherwise: the Nth call of an
// operation fails with an errno, a write is cut short, or from one call on
// everything fails as if the machine had stopped there, so that the test
// can look at what was on disk at that point. Calls are counted per
// operation.
#pragma once

#include "base/storage.h"
#include "base/strings.h"

#include <array>
#include <cerrno>
#include <cstddef>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

namespace keel::testing {

/// Storage's operations, one per syscall.
enum class StorageCall {
    Open,
    Pread,
    Write,
    Pwrite,
    Fsync,
    Fdatasync,
    Fallocate,
    Ftruncate,
    FileSize,
    Rename,
    Unlink,
    Mkdir,
    ListDirectory,
};

/// What a write that is cut short does after passing some bytes on.
enum class CutWrite {
    ReturnShort, // returns how many it wrote, as write(2) does when the disk fills up
    Fail,        // fails with an errno all the same
};

class FakeStorage final : public Storage {
public:
    /// Passes calls on to `inner`.
    explicit FakeStorage(Storage& inner = system_storage()) : m_inner(inner) {}

    /// The `number`th call of `call` (counting from 1 since the fake was
    /// made) fails with `error` and does nothing.
    void fail(StorageCall call, int number, int error) { m_failures[{call, number}] = error; }
    /// The next call of `call` fails with `error`.
    void fail_next(StorageCall call, int error) { fail(call, calls(call) + 1, error); }
    /// The `number`th call of `call` (Write or Pwrite) passes only the first
    /// `accepted` bytes of its data on, then returns how many were written
    /// (CutWrite::ReturnShort) or fails with `error` (CutWrite::Fail).
    void cut_write(StorageCall call, int number, size_t accepted, CutWrite after, int error = EIO) {
        m_cuts[{call, number}] = Cut{accepted, after, error};
    }
    /// From the `number`th call of any operation on (counting from 1 over
    /// all of them), every call fails with EIO and does nothing: the machine
    /// stopped there.
    void crash_at_call(int number) { m_crash_at_total = number; }
    /// Likewise from the `number`th call of `call` on.
    void crash_at(StorageCall call, int number) { m_crash_at = {call, number}; }
    /// True once a crash point was reached.
    bool crashed() const { return m_crashed; }
    /// How many times `call` was made, failed calls included.
    int calls(StorageCall call) const { return m_calls[size_t(call)]; }
    /// How many calls were made, of all operations.
    int total_calls() const { return m_total_calls; }

    Result<File> open(const std::string& path, int flags, mode_t mode) override {
        if (auto failure = begin(StorageCall::Open, cat("open ", keel::quoted(path))))
            return std::unexpected(std::move(*failure));
        return m_inner.open(path, flags, mode);
    }
    Result<size_t> pread(const File& file, std::span<char> buffer, uint64_t offset) override {
        if (auto failure = begin(StorageCall::Pread, cat("read ", keel::quoted(file.path()))))
            return std::unexpected(std::move(*failure));
        return m_inner.pread(file, buffer, offset);
    }
    Result<size_t> write(const File& file, std::string_view data) override {
        return write_maybe_cut(StorageCall::Write, file, data,
                               [&](std::string_view part) { return m_inner.write(file, part); });
    }
    Result<size_t> pwrite(const File& file, std::string_view data, uint64_t offset) override {
        return write_maybe_cut(StorageCall::Pwrite, file, data, [&](std::string_view part) {
            return m_inner.pwrite(file, part, offset);
        });
    }
    Result<void> fsync(const File& file) override {
        if (auto failure = begin(StorageCall::Fsync, cat("fsync ", keel::quoted(file.path()))))
            return std::unexpected(std::move(*failure));
        return m_inner.fsync(file);
    }
    Result<void> fdatasync(const File& file) override {
        if (auto failure =
                begin(StorageCall::Fdatasync, cat("fdatasync ", keel::quoted(file.path()))))
            return std::unexpected(std::move(*failure));
        return m_inner.fdatasync(file);
    }
    Result<void> fallocate(const File& file, uint64_t offset, uint64_t length) override {
        if (auto failure =
                begin(StorageCall::Fallocate, cat("allocate ", length, " bytes at ", offset, " in ",
                                                  keel::quoted(file.path()))))
            return std::unexpected(std::move(*failure));
        return m_inner.fallocate(file, offset, length);
    }
    Result<void> ftruncate(const File& file, uint64_t size) override {
        if (auto failure = begin(StorageCall::Ftruncate, cat("truncate ", keel::quoted(file.path()),
                                                             " to ", size, " bytes")))
            return std::unexpected(std::move(*failure));
        return m_inner.ftruncate(file, size);
    }
    Result<uint64_t> file_size(const File& file) override {
        if (auto failure = begin(StorageCall::FileSize, cat("stat ", keel::quoted(file.path()))))
            return std::unexpected(std::move(*failure));
        return m_inner.file_size(file);
    }
    Result<void> rename(const std::string& from, const std::string& to) override {
        if (auto failure = begin(StorageCall::Rename,
                                 cat("rename ", keel::quoted(from), " to ", keel::quoted(to))))
            return std::unexpected(std::move(*failure));
        return m_inner.rename(from, to);
    }
    Result<void> unlink(const std::string& path) override {
        if (auto failure = begin(StorageCall::Unlink, cat("remove ", keel::quoted(path))))
            return std::unexpected(std::move(*failure));
        return m_inner.unlink(path);
    }
    Result<void> mkdir(const std::string& path, mode_t mode) override {
        if (auto failure = begin(StorageCall::Mkdir, cat("create directory ", keel::quoted(path))))
            return std::unexpected(std::move(*failure));
        return m_inner.mkdir(path, mode);
    }
    Result<std::vector<std::string>> list_directory(const std::string& path) override {
        if (auto failure =
                begin(StorageCall::ListDirectory, cat("open directory ", keel::quoted(path))))
            return std::unexpected(std::move(*failure));
        return m_inner.list_directory(path);
    }

private:
    struct Cut {
        size_t accepted;
        CutWrite after;
        int error;
    };

    // Counts a call of `call` described by `what` ("write `path`") and says
    // how it fails, if it does: a crash, or a failure asked for.
    // (The installer calls from several threads: one for writes, one for
    // reads, one for syncs.)
    std::optional<Error> begin(StorageCall call, std::string what) {
        std::lock_guard lock(m_mutex);
        int number = ++m_calls[size_t(call)];
        ++m_total_calls;
        if ((m_crash_at_total && m_total_calls >= *m_crash_at_total) ||
            (m_crash_at && m_crash_at->first == call && number >= m_crash_at->second))
            m_crashed = true;
        if (m_crashed)
            return Error::from_errno(EIO, std::move(what));
        if (auto failure = m_failures.find({call, number}); failure != m_failures.end())
            return Error::from_errno(failure->second, std::move(what));
        return std::nullopt;
    }

    // A write or pwrite (`pass_on` makes it on the inner storage), cut short
    // when the test asked for it.
    template <typename PassOn>
    Result<size_t> write_maybe_cut(StorageCall call, const File& file, std::string_view data,
                                   PassOn pass_on) {
        std::string what = cat("write ", keel::quoted(file.path()));
        if (auto failure = begin(call, what))
            return std::unexpected(std::move(*failure));
        auto cut = m_cuts.find({call, calls(call)});
        if (cut == m_cuts.end())
            return pass_on(data);
        Result<size_t> written = pass_on(data.substr(0, cut->second.accepted));
        if (cut->second.after == CutWrite::Fail)
            return std::unexpected(Error::from_errno(cut->second.error, std::move(what)));
        return written;
    }

    Storage& m_inner;
    std::mutex m_mutex; // over the counts and the crash
    std::array<int, size_t(StorageCall::ListDirectory) + 1> m_calls{};
    int m_total_calls = 0;
    std::map<std::pair<StorageCall, int>, int> m_failures; // errno by call and number
    std::map<std::pair<StorageCall, int>, Cut> m_cuts;
    std::optional<int> m_crash_at_total;
    std::optional<std::pair<StorageCall, int>> m_crash_at;
    bool m_crashed = false;
};

} // namespace keel::testing
