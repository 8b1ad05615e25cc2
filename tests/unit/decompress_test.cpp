// Decompression of gzip, xz and zstd, as used for compressed modules.
#include "kmod/kmod.h"

#include <cstdio>
#include <doctest/doctest.h>
#include <string>
#include <unistd.h>

namespace {

// Compresses `data` with the system tool (gzip/xz/zstd are Debian packages).
std::string compress_with(const char* command, const std::string& data) {
    char path[] = "/tmp/keel-decompress-XXXXXX";
    int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    REQUIRE(write(fd, data.data(), data.size()) == ssize_t(data.size()));
    close(fd);
    std::string out;
    FILE* pipe = popen((std::string(command) + " < " + path).c_str(), "r");
    REQUIRE(pipe);
    char buffer[4096];
    size_t n;
    while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0)
        out.append(buffer, n);
    REQUIRE(pclose(pipe) == 0);
    unlink(path);
    return out;
}

std::string sample_text() {
    std::string text;
    for (int i = 0; i < 20000; ++i)
        text += "line " + std::to_string(i) + " of a module image\n";
    return text;
}

} // namespace

TEST_CASE("gzip, xz and zstd data decompress to the original bytes") {
    const std::string original = sample_text();
    for (const char* tool : {"gzip -c", "xz -c --check=crc32", "zstd -q -c"}) {
        CAPTURE(tool);
        std::string packed = compress_with(tool, original);
        CHECK(keel::detect_compression(packed) != keel::Compression::None);
        auto unpacked = keel::decompress(packed);
        REQUIRE(unpacked);
        CHECK(*unpacked == original);
    }
}

TEST_CASE("uncompressed data is passed through") {
    CHECK(keel::detect_compression("\x7f"
                                   "ELF") == keel::Compression::None);
    CHECK(*keel::decompress("\x7f"
                            "ELF...") == "\x7f"
                                         "ELF...");
}

TEST_CASE("truncated compressed data is an error, not a short result") {
    const std::string original = sample_text();
    for (const char* tool : {"gzip -c", "xz -c --check=crc32", "zstd -q -c"}) {
        CAPTURE(tool);
        std::string packed = compress_with(tool, original);
        packed.resize(packed.size() / 2);
        auto unpacked = keel::decompress(packed);
        REQUIRE_FALSE(unpacked);
        CHECK(unpacked.error().to_string().find("truncated") != std::string::npos);
    }
}

TEST_CASE("output beyond the limit is refused") {
    std::string packed = compress_with("xz -c", sample_text());
    auto unpacked = keel::decompress(packed, 1000);
    REQUIRE_FALSE(unpacked);
    CHECK(unpacked.error().to_string() == "decompressed data exceeds 1000 bytes");
}

TEST_CASE("corrupt data is reported with its format") {
    std::string packed = compress_with("gzip -c", sample_text());
    for (size_t i = 20; i < 60; ++i)
        packed[i] = char(packed[i] ^ 0x5a);
    auto unpacked = keel::decompress(packed);
    REQUIRE_FALSE(unpacked);
    CHECK(unpacked.error().to_string().starts_with("gzip: "));
}
