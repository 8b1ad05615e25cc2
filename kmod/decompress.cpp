// Decompression through zlib, liblzma and libzstd, each in streaming mode
// so the output size need not be known in advance.
#include "kmod/kmod.h"

#include "base/strings.h"

#include <lzma.h>
#include <zlib.h>
#include <zstd.h>

namespace keel {

namespace {

constexpr size_t kChunk = 256 * 1024;

Result<void> grow(std::string& out, size_t used, size_t max_output) {
    if (used >= max_output)
        return error(cat("decompressed data exceeds ", max_output, " bytes"));
    out.resize(std::min(max_output, used + kChunk));
    return {};
}

Result<std::string> gunzip(std::string_view data, size_t max_output) {
    z_stream stream{};
    if (inflateInit2(&stream, 16 + MAX_WBITS) != Z_OK) // 16: expect a gzip header
        return error("gzip: inflateInit2 failed");
    std::string out;
    stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
    stream.avail_in = uInt(data.size());
    int rc = Z_OK;
    while (rc != Z_STREAM_END) {
        if (stream.avail_out == 0) {
            if (auto grown = grow(out, stream.total_out, max_output); !grown) {
                inflateEnd(&stream);
                return std::unexpected(grown.error());
            }
            stream.next_out = reinterpret_cast<Bytef*>(out.data() + stream.total_out);
            stream.avail_out = uInt(out.size() - stream.total_out);
        }
        rc = inflate(&stream, Z_NO_FLUSH);
        if (rc != Z_OK && rc != Z_STREAM_END) {
            std::string what = stream.msg ? stream.msg : "truncated or corrupt data";
            inflateEnd(&stream);
            return error(cat("gzip: ", what));
        }
        if (rc == Z_OK && stream.avail_in == 0 && stream.avail_out != 0) {
            inflateEnd(&stream);
            return error("gzip: truncated data");
        }
    }
    out.resize(stream.total_out);
    inflateEnd(&stream);
    return out;
}

Result<std::string> unxz(std::string_view data, size_t max_output) {
    lzma_stream stream = LZMA_STREAM_INIT;
    if (lzma_stream_decoder(&stream, UINT64_MAX, LZMA_CONCATENATED) != LZMA_OK)
        return error("xz: decoder init failed");
    std::string out;
    stream.next_in = reinterpret_cast<const uint8_t*>(data.data());
    stream.avail_in = data.size();
    lzma_ret rc = LZMA_OK;
    while (rc != LZMA_STREAM_END) {
        if (stream.avail_out == 0) {
            if (auto grown = grow(out, stream.total_out, max_output); !grown) {
                lzma_end(&stream);
                return std::unexpected(grown.error());
            }
            stream.next_out = reinterpret_cast<uint8_t*>(out.data() + stream.total_out);
            stream.avail_out = out.size() - stream.total_out;
        }
        rc = lzma_code(&stream, stream.avail_in == 0 ? LZMA_FINISH : LZMA_RUN);
        if (rc != LZMA_OK && rc != LZMA_STREAM_END) {
            lzma_end(&stream);
            return error(rc == LZMA_BUF_ERROR ? "xz: truncated data"
                                              : cat("xz: corrupt data (code ", int(rc), ")"));
        }
    }
    out.resize(stream.total_out);
    lzma_end(&stream);
    return out;
}

Result<std::string> unzstd(std::string_view data, size_t max_output) {
    ZSTD_DCtx* context = ZSTD_createDCtx();
    if (!context)
        return error("zstd: out of memory");
    std::string out;
    ZSTD_inBuffer in{data.data(), data.size(), 0};
    size_t used = 0, rc = 1;
    while (rc != 0) {
        if (used == out.size()) {
            if (auto grown = grow(out, used, max_output); !grown) {
                ZSTD_freeDCtx(context);
                return std::unexpected(grown.error());
            }
        }
        ZSTD_outBuffer output{out.data(), out.size(), used};
        rc = ZSTD_decompressStream(context, &output, &in);
        used = output.pos;
        if (ZSTD_isError(rc)) {
            std::string what = ZSTD_getErrorName(rc);
            ZSTD_freeDCtx(context);
            return error(cat("zstd: ", what));
        }
        if (rc != 0 && in.pos == in.size && output.pos < output.size) {
            ZSTD_freeDCtx(context);
            return error("zstd: truncated data");
        }
    }
    ZSTD_freeDCtx(context);
    out.resize(used);
    return out;
}

} // namespace

Compression detect_compression(std::string_view data) {
    if (data.starts_with("\x1f\x8b"))
        return Compression::Gzip;
    if (data.starts_with(std::string_view("\xfd"
                                          "7zXZ\0",
                                          6)))
        return Compression::Xz;
    if (data.starts_with("\x28\xb5\x2f\xfd"))
        return Compression::Zstd;
    return Compression::None;
}

Result<std::string> decompress(std::string_view data, size_t max_output) {
    switch (detect_compression(data)) {
    case Compression::Gzip:
        return gunzip(data, max_output);
    case Compression::Xz:
        return unxz(data, max_output);
    case Compression::Zstd:
        return unzstd(data, max_output);
    case Compression::None:
        break;
    }
    return std::string(data);
}

} // namespace keel
