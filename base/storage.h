// Storage: the file operations of code that keeps data on disk (the
// journal, the KV store's log and snapshots; later the updater's slot
// writer), reached through an interface that tests replace to fail a
// chosen call, cut a write short or stop every call from one on, and then
// look at what reached the disk. File: an open file that remembers its path.
#pragma once

#include "base/fd.h"
#include "base/result.h"

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <utility>
#include <vector>

namespace keel {

/// An open file and the path it was opened at, so that errors name it.
/// Move-only; closes itself. Read and written through a Storage.
class File {
public:
    /// No file.
    File() = default;
    /// Takes `fd`, opened at `path`.
    File(Fd fd, std::string path) : m_fd(std::move(fd)), m_path(std::move(path)) {}
    File(const File&) = delete;
    File& operator=(const File&) = delete;
    File(File&&) noexcept = default;
    File& operator=(File&&) noexcept = default;
    ~File() = default;

    /// The descriptor, -1 when no file is open.
    int fd() const { return m_fd.get(); }
    /// The path the file was opened at.
    const std::string& path() const { return m_path; }
    /// True while a file is open.
    explicit operator bool() const { return m_fd.valid(); }
    /// Closes the file. close(2) reports nothing worth acting on here: Linux
    /// releases the descriptor even when it fails, and whether data reached
    /// the disk is for fsync/fdatasync to say.
    void close() { m_fd.reset(); }

private:
    Fd m_fd; // first: a trailing int would leave tail padding (see base/result.h)
    std::string m_path;
};

/// The file operations storage code needs. Each virtual function is one
/// syscall, so that a test double can fail or cut short any single call;
/// the others are built on them. Errors carry the errno and name the path:
/// "write `/var/log/keel/journal.log`: No space left on device".
class Storage {
public:
    virtual ~Storage() = default;

    /// open(2) with O_CLOEXEC added (EINTR is retried).
    virtual Result<File> open(const std::string& path, int flags, mode_t mode) = 0;
    /// One pread(2) into `buffer` at `offset`: the number of bytes read,
    /// fewer than asked near the end of the file, 0 at it.
    virtual Result<size_t> pread(const File& file, std::span<char> buffer, uint64_t offset) = 0;
    /// One write(2) at the file position (the end, with O_APPEND): the
    /// number of bytes the kernel took, which may be fewer than `data`.
    virtual Result<size_t> write(const File& file, std::string_view data) = 0;
    /// One pwrite(2) at `offset`: the number of bytes taken, likewise.
    virtual Result<size_t> pwrite(const File& file, std::string_view data, uint64_t offset) = 0;
    /// fsync(2): the file's data and metadata are on the disk.
    virtual Result<void> fsync(const File& file) = 0;
    /// fdatasync(2): its data and size are, other metadata maybe not.
    virtual Result<void> fdatasync(const File& file) = 0;
    /// fallocate(2) with mode 0: blocks for `length` bytes from `offset` are
    /// reserved, the file grows to cover them, and later writes there do
    /// not fail for lack of space.
    virtual Result<void> fallocate(const File& file, uint64_t offset, uint64_t length) = 0;
    /// ftruncate(2): the file is `size` bytes long.
    virtual Result<void> ftruncate(const File& file, uint64_t size) = 0;
    /// fstat(2)'s size of the file.
    virtual Result<uint64_t> file_size(const File& file) = 0;
    /// rename(2): `to`, if it exists, is replaced atomically.
    virtual Result<void> rename(const std::string& from, const std::string& to) = 0;
    /// unlink(2).
    virtual Result<void> unlink(const std::string& path) = 0;
    /// mkdir(2) of one directory; one that exists already is EEXIST.
    virtual Result<void> mkdir(const std::string& path, mode_t mode) = 0;
    /// The names in a directory (getdents(2)), without "." and "..", sorted.
    virtual Result<std::vector<std::string>> list_directory(const std::string& path) = 0;

    /// Writes all of `data` at the file position, retrying short writes and
    /// EINTR. On failure some of `data` may have been written.
    Result<void> write_all(const File& file, std::string_view data);
    /// Writes all of `data` at `offset`, likewise.
    Result<void> pwrite_all(const File& file, std::string_view data, uint64_t offset);
    /// Reads `size` bytes from `offset`, fewer only at the end of the file;
    /// EINTR is retried.
    Result<std::string> pread_all(const File& file, size_t size, uint64_t offset);
    /// Reads the whole file at `path`.
    Result<std::string> read_file(const std::string& path);
    /// Makes the names in directory `path` durable (created, renamed or
    /// removed entries): opens it and fsyncs it.
    Result<void> sync_directory(const std::string& path);
    /// mkdir -p: creates `path` and its missing parents with `mode`;
    /// directories that exist are fine.
    Result<void> make_directories(const std::string& path, mode_t mode);
};

/// The Storage that calls the kernel, one for the whole process.
Storage& system_storage();

} // namespace keel
