// Fuzz target for kv/grpc_frame.h: the gRPC message decoder fed in chunks
// of varying size, grpc-message's percent-decoding and grpc-timeout.
//
// The first bytes pick the maximum message size and the chunking; the rest
// is a stream's DATA bytes. Whatever the chunking, the decoder must produce
// the same messages and the same status as when fed everything at once,
// and each message must re-encode to the bytes it came from.
#include "kv/grpc_frame.h"
#include "tests/fuzz/fuzz_check.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

using namespace keel::kv;

namespace {

struct Outcome {
    std::vector<std::string> messages;
    std::optional<GrpcStatus> failure;
    bool finished = false;
};

bool drain(GrpcMessageDecoder& decoder, Outcome& outcome) {
    for (;;) {
        auto next = decoder.next();
        if (!next) {
            outcome.failure = next.error();
            auto again = decoder.next();
            FUZZ_CHECK(!again && again.error() == next.error());
            return false;
        }
        if (!*next)
            return true;
        outcome.messages.push_back(std::move(**next));
    }
}

Outcome decode(std::string_view stream, size_t max_message, uint32_t seed) {
    GrpcMessageDecoder decoder(max_message);
    Outcome outcome;
    uint32_t state = seed | 1;
    bool ok = true;
    while (!stream.empty()) {
        size_t chunk = stream.size();
        if (seed != 0) {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            chunk = std::min<size_t>((state & 0x80) ? (state >> 8) % 4096 + 1 : (state & 15) + 1,
                                     stream.size());
        }
        decoder.feed(stream.substr(0, chunk));
        stream.remove_prefix(chunk);
        if (ok && (seed == 0 || (state & 0x100)))
            ok = drain(decoder, outcome);
    }
    if (ok)
        drain(decoder, outcome);
    outcome.finished = bool(decoder.finish());
    return outcome;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 3)
        return 0;
    std::string_view input(reinterpret_cast<const char*>(data), size);
    size_t max_message = size_t(uint8_t(input[0])) * 16;
    uint32_t seed = uint8_t(input[1]) | 0x100;
    std::string_view stream = input.substr(2);

    Outcome whole = decode(stream, max_message, 0);
    Outcome chunked = decode(stream, max_message, seed);
    FUZZ_CHECK(whole.messages == chunked.messages);
    FUZZ_CHECK(whole.failure == chunked.failure);
    FUZZ_CHECK(whole.finished == chunked.finished);
    std::string encoded;
    for (const std::string& message : whole.messages) {
        FUZZ_CHECK(message.size() <= max_message);
        encoded += encode_grpc_message(message);
    }
    FUZZ_CHECK(stream.substr(0, encoded.size()) == encoded);

    // The header helpers take the same bytes as header values.
    std::string decoded = percent_decode_grpc_message(stream);
    FUZZ_CHECK(decoded.size() <= stream.size());
    FUZZ_CHECK(percent_decode_grpc_message(percent_encode_grpc_message(stream)) == stream);
    if (auto timeout = parse_grpc_timeout(stream)) {
        FUZZ_CHECK(timeout->count() >= 0);
        auto again = parse_grpc_timeout(format_grpc_timeout(*timeout));
        FUZZ_CHECK(again && *again >= *timeout);
    }
    return 0;
}
