// ImageSource over a local file (update/image_source.h): a payload's
// root.img read from an offset on, for installs from a directory.
#include "update/image_source.h"

#include "base/fd.h"
#include "base/strings.h"
#include "base/sys.h"

#include <fcntl.h>
#include <unistd.h>

namespace keel::update {

namespace {

class FileSource final : public ImageSource {
public:
    FileSource(Fd fd, std::string path) : m_fd(std::move(fd)), m_path(std::move(path)) {}

    Result<size_t> read(std::span<char> buffer) override {
        while (true) {
            ssize_t got = ::read(m_fd.get(), buffer.data(), buffer.size());
            if (got >= 0)
                return size_t(got);
            if (errno != EINTR)
                return errno_error(cat("read ", quoted(m_path)));
        }
    }
    std::string describe() const override { return m_path; }

private:
    Fd m_fd;
    std::string m_path;
};

} // namespace

Result<std::unique_ptr<ImageSource>> open_file_source(const std::string& path, uint64_t offset) {
    Fd fd = TRY(open_file(path, O_RDONLY));
    if (offset != 0 && ::lseek(fd.get(), off_t(offset), SEEK_SET) < 0)
        return errno_error(cat("seek ", quoted(path), " to ", offset));
    return std::unique_ptr<ImageSource>(std::make_unique<FileSource>(std::move(fd), path));
}

} // namespace keel::update
