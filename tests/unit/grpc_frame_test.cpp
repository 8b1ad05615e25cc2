// Tests for kv/grpc_frame.h: the gRPC message prefix and its incremental
// decoder, grpc-message's percent-encoding and grpc-timeout.
#include "kv/grpc_frame.h"

#include <doctest/doctest.h>

#include <string>

using namespace keel::kv;
using namespace std::chrono_literals;

namespace {

std::string prefix(uint8_t flag, uint32_t length) {
    return {char(flag), char(length >> 24), char((length >> 16) & 0xff), char((length >> 8) & 0xff),
            char(length & 0xff)};
}

} // namespace

TEST_CASE("a gRPC message is an uncompressed flag, a big-endian length and the bytes") {
    CHECK(encode_grpc_message("hi") == std::string("\0\0\0\0\2hi", 7));
    CHECK(encode_grpc_message("") == std::string(5, '\0'));
    std::string big(70000, 'x');
    CHECK(encode_grpc_message(big).substr(0, 5) == prefix(0, 70000));
}

TEST_CASE("the decoder returns messages fed one byte at a time") {
    std::string wire =
        encode_grpc_message("first") + encode_grpc_message("") + encode_grpc_message("third");
    GrpcMessageDecoder decoder(1024);
    std::vector<std::string> messages;
    for (char c : wire) {
        decoder.feed(std::string_view(&c, 1));
        for (;;) {
            auto message = decoder.next();
            REQUIRE(message);
            if (!*message)
                break;
            messages.push_back(**message);
        }
    }
    CHECK(messages == std::vector<std::string>{"first", "", "third"});
    CHECK(decoder.finish());
    CHECK(decoder.buffered() == 0);
}

TEST_CASE("the decoder returns every message of one large chunk in order") {
    std::string wire;
    for (int i = 0; i < 100; ++i)
        wire += encode_grpc_message(std::to_string(i));
    GrpcMessageDecoder decoder(1024);
    decoder.feed(wire);
    for (int i = 0; i < 100; ++i) {
        auto message = decoder.next();
        REQUIRE(message);
        REQUIRE(*message);
        CHECK(**message == std::to_string(i));
    }
    auto end = decoder.next();
    REQUIRE(end);
    CHECK(!*end);
}

TEST_CASE("an oversize message is refused from its prefix alone, and the decoder stays failed") {
    GrpcMessageDecoder decoder(100);
    decoder.feed(prefix(0, 101));
    auto message = decoder.next();
    REQUIRE(!message);
    CHECK(message.error().code == GrpcCode::ResourceExhausted);
    CHECK(message.error().message == "grpc: received message larger than max (101 vs. 100)");
    decoder.feed(encode_grpc_message("small"));
    auto again = decoder.next();
    REQUIRE(!again);
    CHECK(again.error() == message.error());
    CHECK(!decoder.finish());
}

TEST_CASE("a message of exactly the maximum size is taken") {
    GrpcMessageDecoder decoder(100);
    decoder.feed(encode_grpc_message(std::string(100, 'a')));
    auto message = decoder.next();
    REQUIRE(message);
    REQUIRE(*message);
    CHECK((*message)->size() == 100);
}

TEST_CASE("a compressed message is refused, since no grpc-encoding is supported") {
    GrpcMessageDecoder decoder(100);
    decoder.feed(prefix(1, 3) + "abc");
    auto message = decoder.next();
    REQUIRE(!message);
    CHECK(message.error().code == GrpcCode::Internal);
    CHECK(message.error().message == "grpc: compressed flag set with identity or empty encoding");
}

TEST_CASE("a prefix with an unknown flag is refused") {
    GrpcMessageDecoder decoder(100);
    decoder.feed(prefix(7, 0));
    auto message = decoder.next();
    REQUIRE(!message);
    CHECK(message.error().code == GrpcCode::Internal);
    CHECK(message.error().message.find("payload format 7") != std::string::npos);
}

TEST_CASE("a stream that ends inside a message is an error, at any byte of it") {
    std::string wire = encode_grpc_message("hello");
    for (size_t cut = 1; cut < wire.size(); ++cut) {
        GrpcMessageDecoder decoder(100);
        decoder.feed(wire.substr(0, cut));
        auto message = decoder.next();
        REQUIRE(message);
        CHECK(!*message);
        auto finished = decoder.finish();
        REQUIRE(!finished);
        CHECK(finished.error().code == GrpcCode::Internal);
    }
}

TEST_CASE("grpc-message percent-encodes what is not printable ASCII, and '%'") {
    CHECK(percent_encode_grpc_message("plain text: ok") == "plain text: ok");
    CHECK(percent_encode_grpc_message("100%\n") == "100%25%0A");
    CHECK(percent_encode_grpc_message("ключ") == "%D0%BA%D0%BB%D1%8E%D1%87");
    CHECK(percent_encode_grpc_message(std::string("a\0b", 3)) == "a%00b");
    std::string all;
    for (int c = 0; c < 256; ++c)
        all += char(c);
    CHECK(percent_decode_grpc_message(percent_encode_grpc_message(all)) == all);
}

TEST_CASE("a malformed percent sequence in grpc-message is kept as it is") {
    CHECK(percent_decode_grpc_message("50%") == "50%");
    CHECK(percent_decode_grpc_message("%4") == "%4");
    CHECK(percent_decode_grpc_message("%zz%41") == "%zzA");
    CHECK(percent_decode_grpc_message("%e2%82%ac") == "\xe2\x82\xac");
}

TEST_CASE("grpc-timeout takes up to 8 digits and one of its units") {
    CHECK(parse_grpc_timeout("1S") == std::chrono::nanoseconds(1s));
    CHECK(parse_grpc_timeout("250m") == std::chrono::nanoseconds(250ms));
    CHECK(parse_grpc_timeout("3M") == std::chrono::nanoseconds(3min));
    CHECK(parse_grpc_timeout("2H") == std::chrono::nanoseconds(2h));
    CHECK(parse_grpc_timeout("7u") == std::chrono::nanoseconds(7us));
    CHECK(parse_grpc_timeout("99999999n") == std::chrono::nanoseconds(99999999));
    CHECK(parse_grpc_timeout("99999999H") == std::chrono::nanoseconds(INT64_MAX));
    for (const char* bad : {"", "S", "1", "123456789S", "1x", "-1S", "1.5S", " 1S", "1s"})
        CHECK_MESSAGE(!parse_grpc_timeout(bad), bad);
}

TEST_CASE("a formatted grpc-timeout reads back as at least the timeout") {
    for (auto timeout : {std::chrono::nanoseconds(0), std::chrono::nanoseconds(1),
                         std::chrono::nanoseconds(1500ms), std::chrono::nanoseconds(100s),
                         std::chrono::nanoseconds(24h), std::chrono::nanoseconds(INT64_MAX)}) {
        std::string text = format_grpc_timeout(timeout);
        auto parsed = parse_grpc_timeout(text);
        REQUIRE_MESSAGE(parsed, text);
        CHECK(*parsed >= timeout);
    }
    CHECK(format_grpc_timeout(5s) == "5000000u");
    CHECK(format_grpc_timeout(-5s) == "0n");
}
