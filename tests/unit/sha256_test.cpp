// Tests for base/sha256.cpp: FIPS 180's test vectors with each SHA-256
// engine this CPU can run, the engines against each other and against
// mbedTLS's SHA-256 at every length around the padding's boundaries, and
// input split at every offset. An engine the CPU lacks is reported as
// skipped, not passed.
#include "base/digest.h"

#include "base/strings.h"
#include "base/sys.h"

#include <doctest/doctest.h>
#include <mbedtls/sha256.h>
#include <mbedtls/version.h>

#include <string>
#include <vector>

using keel::Sha256;
using keel::Sha256Digest;
using keel::Sha256Engine;

namespace {

// Forces one engine for its lifetime, then gives back the one before.
class ForcedSha256Engine {
public:
    explicit ForcedSha256Engine(Sha256Engine engine) : m_before(keel::sha256_engine()) {
        auto used = keel::use_sha256_engine(engine);
        REQUIRE_MESSAGE(used, (used ? std::string() : used.error().to_string()));
        REQUIRE(keel::sha256_engine() == engine);
    }
    ~ForcedSha256Engine() { (void)keel::use_sha256_engine(m_before); }
    ForcedSha256Engine(const ForcedSha256Engine&) = delete;
    ForcedSha256Engine& operator=(const ForcedSha256Engine&) = delete;

private:
    Sha256Engine m_before;
};

// The engines this CPU runs; the others reported as skipped.
std::vector<Sha256Engine> runnable_sha256_engines() {
    std::vector<Sha256Engine> engines;
    for (const auto& entry : keel::kSha256EngineNames.entries()) {
        if (keel::sha256_engine_available(entry.value))
            engines.push_back(entry.value);
        else
            MESSAGE("SKIP: this CPU cannot run the " << entry.name
                                                     << " SHA-256 engine; not tested here");
    }
    return engines;
}

std::string digest_hex(const Sha256Digest& digest) {
    return keel::to_hex(digest.data(), digest.size());
}

// mbedTLS's SHA-256: an implementation keel's shares no code with.
std::string mbedtls_sha256_hex(std::string_view data) {
    unsigned char digest[32];
#if MBEDTLS_VERSION_MAJOR >= 3
    mbedtls_sha256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest, 0);
#else
    mbedtls_sha256_ret(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest, 0);
#endif
    return keel::to_hex(digest, sizeof digest);
}

// Bytes that differ from block to block and position to position.
std::string varied_bytes(size_t size) {
    std::string data(size, '\0');
    uint32_t x = 0x9e3779b9;
    for (char& c : data) {
        x = x * 1664525 + 1013904223;
        c = char(x >> 24);
    }
    return data;
}

} // namespace

TEST_CASE("SHA-256 gives FIPS 180's published digests with each engine this CPU has") {
    struct Vector {
        std::string message;
        std::string_view digest;
    };
    const Vector vectors[] = {
        {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", // 448 bits
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
        {"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqr"
         "lmnopqrsmnopqrstnopqrstu", // 896 bits
         "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"},
        {std::string(1000000, 'a'),
         "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"},
    };
    for (Sha256Engine engine : runnable_sha256_engines()) {
        ForcedSha256Engine forced(engine);
        for (const Vector& vector : vectors) {
            CAPTURE(keel::kSha256EngineNames.name(engine));
            CAPTURE(vector.message.size());
            CHECK(digest_hex(keel::sha256_bytes(vector.message)) == vector.digest);
            CHECK(keel::sha256_hex(vector.message) == vector.digest);
        }
        // The million 'a' fed 1000 at a time, as a stream arrives.
        Sha256 stream;
        for (int i = 0; i < 1000; ++i)
            stream.update(std::string(1000, 'a'));
        CHECK(digest_hex(stream.finish()) ==
              "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    }
}

TEST_CASE("the engines and mbedTLS agree on the SHA-256 of every length from 0 to 300 bytes") {
    std::vector<Sha256Engine> engines = runnable_sha256_engines();
    std::string data = varied_bytes(300);
    for (size_t length = 0; length <= data.size(); ++length) {
        std::string_view message = std::string_view(data).substr(0, length);
        std::string expected = mbedtls_sha256_hex(message);
        for (Sha256Engine engine : engines) {
            ForcedSha256Engine forced(engine);
            CAPTURE(keel::kSha256EngineNames.name(engine));
            CAPTURE(length);
            CHECK(digest_hex(keel::sha256_bytes(message)) == expected);
        }
    }
}

TEST_CASE("SHA-256 of input split in two at every offset is the digest of the whole") {
    // 300 bytes: splits before, inside and after whole blocks, and pieces
    // that start at every alignment in memory.
    std::string data = varied_bytes(300);
    std::string expected = mbedtls_sha256_hex(data);
    for (Sha256Engine engine : runnable_sha256_engines()) {
        ForcedSha256Engine forced(engine);
        for (size_t at = 0; at <= data.size(); ++at) {
            CAPTURE(keel::kSha256EngineNames.name(engine));
            CAPTURE(at);
            std::string_view first = std::string_view(data).substr(0, at);
            std::string_view second = std::string_view(data).substr(at);
            CHECK(digest_hex(keel::sha256_bytes(first, second)) == expected);
            Sha256 stream;
            stream.update(first);
            stream.update("");
            stream.update(second);
            CHECK(digest_hex(stream.finish()) == expected);
        }
    }
}

TEST_CASE("a SHA-256 stream starts over, empty, after each digest") {
    Sha256 stream;
    stream.update("abc");
    CHECK(digest_hex(stream.finish()) ==
          "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    CHECK(digest_hex(stream.finish()) ==
          "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST_CASE("SHA-256 uses the SHA extensions exactly when the kernel lists sha_ni for this CPU") {
    auto cpuinfo = keel::read_file("/proc/cpuinfo");
    REQUIRE_MESSAGE(cpuinfo, (cpuinfo ? std::string() : cpuinfo.error().to_string()));
    std::string text = *cpuinfo;
    size_t flags = text.find("\nflags");
    if (flags == std::string::npos) {
        MESSAGE("SKIP: /proc/cpuinfo lists no x86 flags on this machine");
        return;
    }
    std::string line = text.substr(flags + 1, text.find('\n', flags + 1) - flags - 1);
    bool listed = (line + " ").find(" sha_ni ") != std::string::npos;
    MESSAGE("SHA-256 engine on this CPU: " << keel::kSha256EngineNames.name(keel::sha256_engine()));
    CHECK(keel::sha256_engine_available(Sha256Engine::ShaExtensions) == listed);
    CHECK(keel::sha256_engine() == (listed ? Sha256Engine::ShaExtensions : Sha256Engine::Portable));
}
