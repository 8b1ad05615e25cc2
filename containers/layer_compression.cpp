// decompressed(): gzip (zlib) and zstd (libzstd) as streaming ByteSources,
// so a layer is unpacked as it is read, never held whole in memory. The
// same libraries and magic numbers as kmod/decompress.cpp, which works on
// whole buffers instead.
#include "containers/tar.h"

#include "base/strings.h"

#include <cstring>
#include <zlib.h>
#include <zstd.h>

namespace keel::oci {

namespace {

constexpr size_t kInputChunk = 128 * 1024;

// The bytes already read to find the magic number, then the rest.
class PrefixedSource final : public ByteSource {
public:
    PrefixedSource(std::string prefix, std::unique_ptr<ByteSource> rest)
        : m_prefix(std::move(prefix)), m_rest(std::move(rest)) {}
    Result<size_t> read(std::span<char> buffer) override {
        if (m_used < m_prefix.size()) {
            size_t n = std::min(buffer.size(), m_prefix.size() - m_used);
            std::memcpy(buffer.data(), m_prefix.data() + m_used, n);
            m_used += n;
            return n;
        }
        return m_rest->read(buffer);
    }

private:
    std::string m_prefix;
    size_t m_used = 0;
    std::unique_ptr<ByteSource> m_rest;
};

// Input buffered from the compressed source.
class CompressedInput {
public:
    explicit CompressedInput(std::unique_ptr<ByteSource> source)
        : m_source(std::move(source)), m_buffer(new char[kInputChunk]) {}
    // Refills when all was used; false at the end of the source.
    Result<bool> ensure() {
        if (m_start < m_end)
            return true;
        m_start = 0;
        m_end = TRY(m_source->read({m_buffer.get(), kInputChunk}));
        return m_end > 0;
    }
    const char* data() const { return m_buffer.get() + m_start; }
    size_t size() const { return m_end - m_start; }
    void consume(size_t n) { m_start += n; }

private:
    std::unique_ptr<ByteSource> m_source;
    std::unique_ptr<char[]> m_buffer;
    size_t m_start = 0;
    size_t m_end = 0;
};

class GzipSource final : public ByteSource {
public:
    explicit GzipSource(std::unique_ptr<ByteSource> source) : m_input(std::move(source)) {}
    ~GzipSource() override {
        if (m_initialized)
            inflateEnd(&m_stream);
    }
    Result<void> init() {
        if (inflateInit2(&m_stream, 16 + MAX_WBITS) != Z_OK) // 16: expect a gzip header
            return error("gzip: inflateInit2 failed");
        m_initialized = true;
        return {};
    }
    Result<size_t> read(std::span<char> buffer) override {
        while (true) {
            bool more = TRY_CTX(m_input.ensure(), "gzip");
            if (m_member_ended) {
                if (!more)
                    return 0;
                // Another member follows (pigz and cat write such files).
                inflateReset(&m_stream);
                m_member_ended = false;
            } else if (!more) {
                return error("gzip: truncated data");
            }
            m_stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(m_input.data()));
            m_stream.avail_in = uInt(m_input.size());
            m_stream.next_out = reinterpret_cast<Bytef*>(buffer.data());
            m_stream.avail_out = uInt(std::min<size_t>(buffer.size(), 1u << 30));
            int rc = inflate(&m_stream, Z_NO_FLUSH);
            size_t consumed = m_input.size() - m_stream.avail_in;
            m_input.consume(consumed);
            size_t produced = std::min<size_t>(buffer.size(), 1u << 30) - m_stream.avail_out;
            if (rc == Z_STREAM_END)
                m_member_ended = true;
            else if (rc != Z_OK && !(rc == Z_BUF_ERROR && (consumed > 0 || produced > 0)))
                return error(cat("gzip: ", m_stream.msg ? m_stream.msg : "corrupt data"));
            if (produced > 0)
                return produced;
        }
    }

private:
    CompressedInput m_input;
    z_stream m_stream{};
    bool m_initialized = false;
    bool m_member_ended = false;
};

class ZstdSource final : public ByteSource {
public:
    explicit ZstdSource(std::unique_ptr<ByteSource> source)
        : m_input(std::move(source)), m_context(ZSTD_createDCtx()) {}
    ~ZstdSource() override { ZSTD_freeDCtx(m_context); }
    Result<void> init() {
        if (!m_context)
            return error("zstd: out of memory");
        return {};
    }
    Result<size_t> read(std::span<char> buffer) override {
        while (true) {
            bool more = TRY_CTX(m_input.ensure(), "zstd");
            if (!more) {
                if (m_frame_left != 0)
                    return error("zstd: truncated data");
                return 0;
            }
            ZSTD_inBuffer in{m_input.data(), m_input.size(), 0};
            ZSTD_outBuffer out{buffer.data(), buffer.size(), 0};
            size_t rc = ZSTD_decompressStream(m_context, &out, &in);
            m_input.consume(in.pos);
            if (ZSTD_isError(rc))
                return error(cat("zstd: ", ZSTD_getErrorName(rc)));
            // 0: a frame ended (another may follow, ZSTD_decompressStream
            // starts it by itself).
            m_frame_left = rc;
            if (out.pos > 0)
                return out.pos;
        }
    }

private:
    CompressedInput m_input;
    ZSTD_DCtx* m_context;
    size_t m_frame_left = 1;
};

} // namespace

Result<std::unique_ptr<ByteSource>> decompressed(std::unique_ptr<ByteSource> source) {
    std::string head(4, '\0');
    size_t got = 0;
    while (got < head.size()) {
        size_t n = TRY(source->read({head.data() + got, head.size() - got}));
        if (n == 0)
            break;
        got += n;
    }
    head.resize(got);
    auto prefixed = std::make_unique<PrefixedSource>(head, std::move(source));
    if (head.starts_with("\x1f\x8b")) {
        auto gzip = std::make_unique<GzipSource>(std::move(prefixed));
        TRY(gzip->init());
        return gzip;
    }
    if (head.starts_with("\x28\xb5\x2f\xfd")) {
        auto zstd = std::make_unique<ZstdSource>(std::move(prefixed));
        TRY(zstd->init());
        return zstd;
    }
    return prefixed;
}

} // namespace keel::oci
