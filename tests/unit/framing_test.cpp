// Tests for base/framing.h: encoding, incremental decoding, and frames over
// real socketpairs of both kinds.
#include "base/framing.h"

#include "base/fd.h"

#include <doctest/doctest.h>

#include <cerrno>
#include <fcntl.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

using namespace keel;

namespace {

struct SocketPair {
    Fd a;
    Fd b;
    explicit SocketPair(int type) {
        int fds[2];
        REQUIRE(::socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, fds) == 0);
        a.reset(fds[0]);
        b.reset(fds[1]);
    }
};

std::string header(uint32_t length) {
    return std::string{char(length >> 24), char(length >> 16), char(length >> 8), char(length)};
}

std::string sample_payload(size_t size) {
    std::string payload(size, '\0');
    for (size_t i = 0; i < size; ++i)
        payload[i] = char(i * 7 + i / 256);
    return payload;
}

} // namespace

TEST_CASE("a frame is a big-endian length followed by the payload") {
    CHECK(encode_frame("") == std::string("\0\0\0\0", 4));
    CHECK(encode_frame("abc") == std::string("\0\0\0\x03"
                                             "abc",
                                             7));
    std::string big(0x010203, 'z');
    CHECK(encode_frame(big).substr(0, 4) == std::string("\0\x01\x02\x03", 4));
}

TEST_CASE("the decoder reassembles frames fed one byte at a time") {
    std::string stream = encode_frame("first") + encode_frame("") + encode_frame("third one");
    FrameDecoder decoder;
    std::vector<std::string> frames;
    for (char c : stream) {
        decoder.feed(std::string_view(&c, 1));
        for (;;) {
            Result<std::optional<std::string>> next = decoder.next();
            REQUIRE(next);
            if (!*next)
                break;
            frames.push_back(**next);
        }
    }
    CHECK(frames == std::vector<std::string>{"first", "", "third one"});
    CHECK(decoder.finish());
}

TEST_CASE("the decoder returns every frame of one large chunk in order") {
    std::string stream;
    for (int i = 0; i < 1000; ++i)
        stream += encode_frame(std::to_string(i));
    FrameDecoder decoder;
    decoder.feed(stream);
    for (int i = 0; i < 1000; ++i) {
        Result<std::optional<std::string>> next = decoder.next();
        REQUIRE(next);
        REQUIRE(*next);
        CHECK(**next == std::to_string(i));
    }
    Result<std::optional<std::string>> none = decoder.next();
    REQUIRE(none);
    CHECK(!*none);
    CHECK(decoder.finish());
}

TEST_CASE("a frame split across feeds is held until it is complete") {
    FrameDecoder decoder;
    std::string frame = encode_frame("split payload");
    decoder.feed(frame.substr(0, 6));
    CHECK(!*decoder.next());
    decoder.feed(frame.substr(6) + frame.substr(0, 2));
    CHECK(**decoder.next() == "split payload");
    CHECK(!*decoder.next());
    decoder.feed(frame.substr(2));
    CHECK(**decoder.next() == "split payload");
}

TEST_CASE("an oversize frame is refused from its header alone and the decoder stays failed") {
    FrameDecoder decoder(16);
    decoder.feed(encode_frame("ok"));
    decoder.feed(header(17));
    REQUIRE(**decoder.next() == "ok");
    Result<std::optional<std::string>> next = decoder.next();
    REQUIRE(!next);
    CHECK(next.error().to_string() == "frame of 17 bytes exceeds the maximum of 16");
    CHECK(next.error().code() == 0);

    decoder.feed(std::string(17, 'x') + encode_frame("later"));
    next = decoder.next();
    REQUIRE(!next);
    CHECK(next.error().to_string() == "frame of 17 bytes exceeds the maximum of 16");
    Result<void> finished = decoder.finish();
    REQUIRE(!finished);
    CHECK(finished.error().to_string() == "frame of 17 bytes exceeds the maximum of 16");
}

TEST_CASE("a frame of exactly the maximum size is accepted") {
    FrameDecoder decoder(16);
    decoder.feed(encode_frame(std::string(16, 'm')));
    CHECK(**decoder.next() == std::string(16, 'm'));
}

TEST_CASE("the largest announced length is refused without allocating it") {
    FrameDecoder decoder;
    decoder.feed(header(0xffffffff));
    Result<std::optional<std::string>> next = decoder.next();
    REQUIRE(!next);
    CHECK(next.error().to_string() == "frame of 4294967295 bytes exceeds the maximum of 1048576");
}

TEST_CASE("finish reports a stream that ends inside a frame") {
    FrameDecoder decoder;
    CHECK(decoder.finish());
    decoder.feed(header(10) + "abc");
    CHECK(!*decoder.next());
    Result<void> finished = decoder.finish();
    REQUIRE(!finished);
    CHECK(finished.error().to_string() == "truncated frame: 3 of 10 bytes");

    FrameDecoder partial_header;
    partial_header.feed(std::string("\0\0", 2));
    finished = partial_header.finish();
    REQUIRE(!finished);
    CHECK(finished.error().to_string() == "truncated frame header: 2 of 4 bytes");
}

TEST_CASE("finish accepts complete frames not yet taken but not a partial one after them") {
    FrameDecoder decoder;
    decoder.feed(encode_frame("a") + encode_frame("b"));
    CHECK(decoder.finish());
    decoder.feed(std::string("\0", 1));
    Result<void> finished = decoder.finish();
    REQUIRE(!finished);
    CHECK(finished.error().to_string() == "truncated frame header: 1 of 4 bytes");
}

TEST_CASE("decode_packet strips the header of an exact packet") {
    Result<std::string> payload = decode_packet(encode_frame("hello"));
    REQUIRE(payload);
    CHECK(*payload == "hello");
    CHECK(*decode_packet(encode_frame("")) == "");
}

TEST_CASE("decode_packet rejects short, oversize, truncated and padded packets") {
    CHECK(decode_packet("ab").error().to_string() == "truncated frame header: 2 of 4 bytes");
    CHECK(decode_packet("").error().to_string() == "truncated frame header: 0 of 4 bytes");
    CHECK(decode_packet(header(9) + "123456789", 8).error().to_string() ==
          "frame of 9 bytes exceeds the maximum of 8");
    CHECK(decode_packet(header(5) + "abc").error().to_string() == "truncated frame: 3 of 5 bytes");
    CHECK(decode_packet(header(2) + "abcd").error().to_string() ==
          "frame of 2 bytes is followed by 2 stray bytes in its packet");
}

TEST_CASE("frames round-trip over a stream socketpair, including large ones") {
    SocketPair pair(SOCK_STREAM);
    std::vector<std::string> payloads = {"", "x", sample_payload(1000), sample_payload(300000)};
    // A writer thread: the large frame does not fit the socket buffer.
    std::thread writer([&] {
        for (const std::string& payload : payloads)
            CHECK(write_frame(pair.a.get(), payload, Transport::Stream));
    });
    for (const std::string& payload : payloads) {
        Result<std::string> read = read_frame(pair.b.get(), Transport::Stream);
        REQUIRE(read);
        CHECK(*read == payload);
    }
    writer.join();
}

TEST_CASE("frames round-trip over a seqpacket socketpair, one packet each") {
    SocketPair pair(SOCK_SEQPACKET);
    for (const std::string& payload :
         {std::string(), std::string("hello"), sample_payload(60000)}) {
        REQUIRE(write_frame(pair.a.get(), payload, Transport::Seqpacket));
        Result<std::string> read = read_frame(pair.b.get(), Transport::Seqpacket);
        REQUIRE(read);
        CHECK(*read == payload);
    }
}

TEST_CASE("a clean end of stream between frames reads as connection closed") {
    SocketPair stream(SOCK_STREAM);
    REQUIRE(write_frame(stream.a.get(), "last", Transport::Stream));
    stream.a.reset();
    CHECK(*read_frame(stream.b.get(), Transport::Stream) == "last");
    Result<std::string> closed = read_frame(stream.b.get(), Transport::Stream);
    REQUIRE(!closed);
    CHECK(is_connection_closed(closed.error()));
    CHECK(closed.error().to_string() == "connection closed");

    SocketPair packets(SOCK_SEQPACKET);
    packets.a.reset();
    closed = read_frame(packets.b.get(), Transport::Seqpacket);
    REQUIRE(!closed);
    CHECK(is_connection_closed(closed.error()));
    CHECK(closed.error().to_string() == "connection closed");
    // Still told apart under the context callers add on the way up.
    CHECK(is_connection_closed(std::move(closed).error().wrap("read the reply")));
}

TEST_CASE("a stream that ends inside a frame reads as truncated") {
    SocketPair pair(SOCK_STREAM);
    std::string partial = header(10) + "abcd";
    REQUIRE(::write(pair.a.get(), partial.data(), partial.size()) == ssize_t(partial.size()));
    pair.a.reset();
    Result<std::string> read = read_frame(pair.b.get(), Transport::Stream);
    REQUIRE(!read);
    CHECK(read.error().to_string() == "truncated frame: 4 of 10 bytes");
    CHECK_FALSE(is_connection_closed(read.error()));

    SocketPair header_only(SOCK_STREAM);
    REQUIRE(::write(header_only.a.get(), "\0\0", 2) == 2);
    header_only.a.reset();
    read = read_frame(header_only.b.get(), Transport::Stream);
    REQUIRE(!read);
    CHECK(read.error().to_string() == "truncated frame header: 2 of 4 bytes");
}

TEST_CASE("an oversize frame on a stream is refused before its payload is read") {
    SocketPair pair(SOCK_STREAM);
    std::string frame = encode_frame(std::string(100, 'x'));
    REQUIRE(::write(pair.a.get(), frame.data(), frame.size()) == ssize_t(frame.size()));
    Result<std::string> read = read_frame(pair.b.get(), Transport::Stream, 64);
    REQUIRE(!read);
    CHECK(read.error().to_string() == "frame of 100 bytes exceeds the maximum of 64");
    char rest[200];
    CHECK(::read(pair.b.get(), rest, sizeof rest) == 100); // payload left unread
}

TEST_CASE("an oversize seqpacket frame is discarded and the next one still reads") {
    SocketPair pair(SOCK_SEQPACKET);
    std::string big = encode_frame(std::string(100, 'x'));
    REQUIRE(::send(pair.a.get(), big.data(), big.size(), 0) == ssize_t(big.size()));
    REQUIRE(write_frame(pair.a.get(), "small", Transport::Seqpacket));
    Result<std::string> read = read_frame(pair.b.get(), Transport::Seqpacket, 64);
    REQUIRE(!read);
    CHECK(read.error().to_string() == "frame of 100 bytes exceeds the maximum of 64");
    read = read_frame(pair.b.get(), Transport::Seqpacket, 64);
    REQUIRE(read);
    CHECK(*read == "small");
}

TEST_CASE("a seqpacket whose size disagrees with its header is rejected") {
    SocketPair pair(SOCK_SEQPACKET);
    std::string lying = header(3) + "abcdefgh"; // header says 3, packet carries 8
    REQUIRE(::send(pair.a.get(), lying.data(), lying.size(), 0) == ssize_t(lying.size()));
    Result<std::string> read = read_frame(pair.b.get(), Transport::Seqpacket, 64);
    REQUIRE(!read);
    CHECK(read.error().to_string() ==
          "frame of 3 bytes is followed by 5 stray bytes in its packet");

    std::string short_packet = header(50) + "abc";
    REQUIRE(::send(pair.a.get(), short_packet.data(), short_packet.size(), 0) ==
            ssize_t(short_packet.size()));
    read = read_frame(pair.b.get(), Transport::Seqpacket, 64);
    REQUIRE(!read);
    CHECK(read.error().to_string() == "truncated frame: 3 of 50 bytes");

    // A huge packet whose header claims little is still too big to take.
    std::string padded = header(1) + std::string(100, 'p');
    REQUIRE(::send(pair.a.get(), padded.data(), padded.size(), 0) == ssize_t(padded.size()));
    read = read_frame(pair.b.get(), Transport::Seqpacket, 64);
    REQUIRE(!read);
    CHECK(read.error().to_string() == "frame of 100 bytes exceeds the maximum of 64");
}

TEST_CASE("write_frame refuses a payload over the maximum without sending anything") {
    SocketPair pair(SOCK_STREAM);
    Result<void> written = write_frame(pair.a.get(), std::string(65, 'x'), Transport::Stream, 64);
    REQUIRE(!written);
    CHECK(written.error().to_string() == "frame of 65 bytes exceeds the maximum of 64");
    REQUIRE(::fcntl(pair.b.get(), F_SETFL, O_NONBLOCK) == 0);
    char byte;
    CHECK(::read(pair.b.get(), &byte, 1) == -1);
    CHECK(errno == EAGAIN);
}

TEST_CASE("writing to a socket whose peer is gone fails with EPIPE instead of SIGPIPE") {
    SocketPair pair(SOCK_STREAM);
    pair.b.reset();
    Result<void> written = write_frame(pair.a.get(), "hello", Transport::Stream);
    REQUIRE(!written);
    CHECK(written.error().code() == EPIPE);
}

TEST_CASE("frames also travel over a pipe, which is not a socket") {
    int fds[2];
    REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
    Fd read_end(fds[0]);
    Fd write_end(fds[1]);
    REQUIRE(write_frame(write_end.get(), "through a pipe", Transport::Stream));
    Result<std::string> read = read_frame(read_end.get(), Transport::Stream);
    REQUIRE(read);
    CHECK(*read == "through a pipe");
}

TEST_CASE("on a non-blocking socket a full peer makes write_frame fail instead of hang") {
    SocketPair pair(SOCK_SEQPACKET);
    REQUIRE(::fcntl(pair.a.get(), F_SETFL, O_NONBLOCK) == 0);
    // The peer never reads: sooner or later its queue is full.
    std::string payload(60000, 'f');
    Result<void> written;
    for (int i = 0; i < 10000 && written; ++i)
        written = write_frame(pair.a.get(), payload, Transport::Seqpacket);
    REQUIRE(!written);
    CHECK(written.error().code() == EAGAIN);
    CHECK(written.error().root() == "send frame");
    // What was queued is intact.
    Result<std::string> read = read_frame(pair.b.get(), Transport::Seqpacket);
    REQUIRE(read);
    CHECK(*read == payload);
}

TEST_CASE("reading a non-blocking socket with nothing queued fails with EAGAIN") {
    for (int type : {SOCK_STREAM, SOCK_SEQPACKET}) {
        SocketPair pair(type);
        REQUIRE(::fcntl(pair.b.get(), F_SETFL, O_NONBLOCK) == 0);
        Transport transport = type == SOCK_STREAM ? Transport::Stream : Transport::Seqpacket;
        Result<std::string> read = read_frame(pair.b.get(), transport);
        REQUIRE(!read);
        CHECK(read.error().code() == EAGAIN);
    }
}
