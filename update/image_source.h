// update/image_source: where an update's root image is read from, in order
// and once: a local file, or an HTTP(S) URL (update/source). The installer
// (update/payload) reads through this interface, checking each chunk
// against the signed manifest before it writes it, so it does not care
// where the bytes come from. A source opened at an offset serves a resumed
// install, which starts at the first chunk not yet written.
#pragma once

#include "base/result.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

namespace keel::update {

/// A root image's bytes, read front to back.
class ImageSource {
public:
    virtual ~ImageSource() = default;
    /// Reads the next bytes into `buffer` (at most its size; fewer is not
    /// the end); 0 only at the end of the image. Errors name the source and
    /// what failed (a read error, a connection cut short).
    virtual Result<size_t> read(std::span<char> buffer) = 0;
    /// The source for messages: a path or a URL.
    virtual std::string describe() const = 0;
};

/// The file at `path`, read from byte `offset` on. Errors name the path.
Result<std::unique_ptr<ImageSource>> open_file_source(const std::string& path, uint64_t offset = 0);

} // namespace keel::update
