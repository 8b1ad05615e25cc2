// Fuzz target for base/framing.h: the stream decoder fed in chunks of
// varying size, and the seqpacket decoder.
//
// The first bytes of the input pick the maximum frame size and the seed of
// the chunking; the rest is the byte stream. Whatever the chunking, the
// decoder must produce the same frames and the same error as when it is fed
// everything at once, and each frame must re-encode to the bytes it came from.
#include "base/framing.h"
#include "tests/fuzz/fuzz_check.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

using namespace keel;

namespace {

struct Outcome {
    std::vector<std::string> frames;
    std::string error; // empty when none
    std::string finish_error;
};

// Drains every frame the decoder can produce now.
bool drain(FrameDecoder& decoder, Outcome& outcome) {
    for (;;) {
        Result<std::optional<std::string>> next = decoder.next();
        if (!next) {
            outcome.error = next.error().to_string();
            // A failed decoder stays failed.
            Result<std::optional<std::string>> again = decoder.next();
            FUZZ_CHECK(!again && again.error().to_string() == outcome.error);
            return false;
        }
        if (!*next)
            return true;
        outcome.frames.push_back(std::move(**next));
    }
}

Outcome decode_whole(std::string_view stream, size_t max_frame) {
    FrameDecoder decoder(max_frame);
    Outcome outcome;
    decoder.feed(stream);
    drain(decoder, outcome);
    Result<void> finished = decoder.finish();
    if (!finished)
        outcome.finish_error = finished.error().to_string();
    return outcome;
}

Outcome decode_chunked(std::string_view stream, size_t max_frame, uint32_t seed) {
    FrameDecoder decoder(max_frame);
    Outcome outcome;
    uint32_t state = seed | 1;
    bool ok = true;
    while (!stream.empty()) {
        // xorshift: chunk sizes from 1 to 16 bytes, sometimes much larger
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        size_t chunk = (state & 0x80) ? (state >> 8) % 4096 + 1 : (state & 15) + 1;
        chunk = std::min(chunk, stream.size());
        decoder.feed(stream.substr(0, chunk));
        stream.remove_prefix(chunk);
        if (ok && (state & 0x100))
            ok = drain(decoder, outcome); // sometimes let bytes pile up first
    }
    if (ok)
        drain(decoder, outcome);
    Result<void> finished = decoder.finish();
    if (!finished)
        outcome.finish_error = finished.error().to_string();
    return outcome;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 5)
        return 0;
    // Small maxima make the oversize paths reachable with small inputs.
    size_t max_frame = data[0] == 0xff ? kDefaultMaxFrame : data[0];
    uint32_t seed = uint32_t(data[1]) | uint32_t(data[2]) << 8 | uint32_t(data[3]) << 16;
    std::string_view stream(reinterpret_cast<const char*>(data) + 4, size - 4);

    Outcome whole = decode_whole(stream, max_frame);
    Outcome chunked = decode_chunked(stream, max_frame, seed);
    FUZZ_CHECK(whole.frames == chunked.frames);
    FUZZ_CHECK(whole.error == chunked.error);
    FUZZ_CHECK(whole.finish_error == chunked.finish_error);

    // The frames are the stream, cut apart: re-encoding them gives a prefix.
    std::string reencoded;
    for (const std::string& frame : whole.frames) {
        FUZZ_CHECK(frame.size() <= max_frame);
        reencoded += encode_frame(frame);
    }
    FUZZ_CHECK(stream.substr(0, reencoded.size()) == reencoded);
    if (whole.error.empty() && whole.finish_error.empty())
        FUZZ_CHECK(reencoded.size() == stream.size());

    // The whole stream as one seqpacket: accepted exactly when it is one frame.
    Result<std::string> packet = decode_packet(stream, max_frame);
    if (packet) {
        FUZZ_CHECK(encode_frame(*packet) == stream);
        FUZZ_CHECK(whole.frames.size() == 1 && whole.frames[0] == *packet);
    }
    return 0;
}
