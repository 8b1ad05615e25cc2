// Storage (see storage.h): the loops that write and read whole buffers on
// top of single syscalls, and the implementation that calls the kernel.
#include "base/storage.h"

#include "base/strings.h"
#include "base/sys.h"

#include <cerrno>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace keel {

namespace {

constexpr size_t kReadChunk = 16384;

std::string describe_write(const File& file) {
    return cat("write ", quoted(file.path()));
}

// Writes `data` with `write_once` until all of it is taken. A call that
// takes nothing would never finish: that is an error, not a retry.
template <typename WriteOnce>
Result<void> write_until_done(const File& file, std::string_view data, WriteOnce write_once) {
    uint64_t done = 0;
    while (done < data.size()) {
        Result<size_t> written = write_once(data.substr(done), done);
        if (!written && written.error().code() == EINTR)
            continue;
        if (!written)
            return std::unexpected(std::move(written).error());
        if (*written == 0)
            return error(cat(describe_write(file), ": no bytes were taken"));
        done += *written;
    }
    return {};
}

class SystemStorage final : public Storage {
public:
    Result<File> open(const std::string& path, int flags, mode_t mode) override {
        Fd fd = TRY(open_file(path, flags, mode));
        return File(std::move(fd), path);
    }

    Result<size_t> pread(const File& file, std::span<char> buffer, uint64_t offset) override {
        ssize_t n = ::pread(file.fd(), buffer.data(), buffer.size(), off_t(offset));
        if (n < 0)
            return errno_error(cat("read ", quoted(file.path())));
        return size_t(n);
    }

    Result<size_t> write(const File& file, std::string_view data) override {
        ssize_t n = ::write(file.fd(), data.data(), data.size());
        if (n < 0)
            return errno_error(describe_write(file));
        return size_t(n);
    }

    Result<size_t> pwrite(const File& file, std::string_view data, uint64_t offset) override {
        ssize_t n = ::pwrite(file.fd(), data.data(), data.size(), off_t(offset));
        if (n < 0)
            return errno_error(describe_write(file));
        return size_t(n);
    }

    Result<void> fsync(const File& file) override {
        if (::fsync(file.fd()) < 0)
            return errno_error(cat("fsync ", quoted(file.path())));
        return {};
    }

    Result<void> fdatasync(const File& file) override {
        if (::fdatasync(file.fd()) < 0)
            return errno_error(cat("fdatasync ", quoted(file.path())));
        return {};
    }

    Result<void> fallocate(const File& file, uint64_t offset, uint64_t length) override {
        if (::fallocate(file.fd(), 0, off_t(offset), off_t(length)) < 0)
            return errno_error(
                cat("allocate ", length, " bytes at ", offset, " in ", quoted(file.path())));
        return {};
    }

    Result<void> ftruncate(const File& file, uint64_t size) override {
        if (::ftruncate(file.fd(), off_t(size)) < 0)
            return errno_error(cat("truncate ", quoted(file.path()), " to ", size, " bytes"));
        return {};
    }

    Result<uint64_t> file_size(const File& file) override {
        struct stat st {};
        if (::fstat(file.fd(), &st) < 0)
            return errno_error(cat("stat ", quoted(file.path())));
        return uint64_t(st.st_size);
    }

    Result<void> rename(const std::string& from, const std::string& to) override {
        if (::rename(from.c_str(), to.c_str()) < 0)
            return errno_error(cat("rename ", quoted(from), " to ", quoted(to)));
        return {};
    }

    Result<void> unlink(const std::string& path) override {
        if (::unlink(path.c_str()) < 0)
            return errno_error(cat("remove ", quoted(path)));
        return {};
    }

    Result<void> mkdir(const std::string& path, mode_t mode) override {
        if (::mkdir(path.c_str(), mode) < 0)
            return errno_error(cat("create directory ", quoted(path)));
        return {};
    }

    Result<std::vector<std::string>> list_directory(const std::string& path) override {
        return keel::list_directory(path);
    }
};

} // namespace

Result<void> Storage::write_all(const File& file, std::string_view data) {
    return write_until_done(file, data,
                            [&](std::string_view rest, uint64_t) { return write(file, rest); });
}

Result<void> Storage::pwrite_all(const File& file, std::string_view data, uint64_t offset) {
    return write_until_done(file, data, [&](std::string_view rest, uint64_t done) {
        return pwrite(file, rest, offset + done);
    });
}

Result<std::string> Storage::pread_all(const File& file, size_t size, uint64_t offset) {
    std::string out(size, '\0');
    size_t done = 0;
    while (done < size) {
        Result<size_t> read =
            pread(file, std::span<char>(out.data() + done, size - done), offset + done);
        if (!read && read.error().code() == EINTR)
            continue;
        if (!read)
            return std::unexpected(std::move(read).error());
        if (*read == 0)
            break; // the end of the file
        done += *read;
    }
    out.resize(done);
    return out;
}

Result<std::string> Storage::read_file(const std::string& path) {
    File file = TRY(open(path, O_RDONLY, 0));
    std::string out;
    for (;;) {
        std::string chunk = TRY(pread_all(file, kReadChunk, out.size()));
        out += chunk;
        if (chunk.size() < kReadChunk)
            return out;
    }
}

Result<void> Storage::sync_directory(const std::string& path) {
    File directory = TRY(open(path, O_RDONLY | O_DIRECTORY, 0));
    return fsync(directory);
}

Result<void> Storage::make_directories(const std::string& path, mode_t mode) {
    // Each prefix that ends before a slash, then the whole path.
    for (size_t slash = path.find('/', 1);; slash = path.find('/', slash + 1)) {
        auto made = mkdir(path.substr(0, slash), mode);
        if (!made && made.error().code() != EEXIST)
            return made;
        if (slash == std::string::npos)
            return {};
    }
}

Storage& system_storage() {
    static SystemStorage storage;
    return storage;
}

} // namespace keel
