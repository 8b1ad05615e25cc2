// Tests for net/http_message.h: response heads, body framing and the
// chunked decoder, on well-formed and malformed input.
#include "net/http_message.h"

#include <doctest/doctest.h>

using namespace keel;
using namespace keel::net;

namespace {

// Decodes `body` fed one byte at a time (the worst split).
Result<std::string> decode_bytewise(std::string_view body, size_t* consumed = nullptr) {
    ChunkedDecoder decoder;
    std::string out;
    size_t used = 0;
    for (size_t i = 0; i < body.size() && !decoder.done(); ++i)
        used += TRY(decoder.decode(body.substr(i, 1), out));
    if (consumed)
        *consumed = used;
    if (!decoder.done())
        return error("unfinished");
    return out;
}

} // namespace

TEST_CASE("a response head gives status, reason and headers by any case") {
    ResponseHead head = parse_response_head("HTTP/1.1 401 Unauthorized\r\n"
                                            "Content-Type: application/json\r\n"
                                            "WWW-Authenticate:  Bearer realm=\"x\"  \r\n"
                                            "Set-Cookie: a\r\nSet-Cookie: b\r\n\r\n")
                            .value();
    CHECK(head.status == 401);
    CHECK(head.reason == "Unauthorized");
    CHECK(head.headers.get("www-authenticate") == "Bearer realm=\"x\"");
    CHECK(head.headers.all("SET-COOKIE").size() == 2);
    CHECK(!head.headers.get("Location"));
    CHECK(find_head_end("HTTP/1.1 200 OK\r\n\r\nbody") == 19);
    CHECK(!find_head_end("HTTP/1.1 200 OK\r\n"));
}

TEST_CASE("malformed response heads are refused") {
    auto bad = [](std::string_view head) { return !parse_response_head(head); };
    CHECK(bad("HTTP/2 200 OK\r\n\r\n"));
    CHECK(bad("HTTP/1.1 20 OK\r\n\r\n"));
    CHECK(bad("HTTP/1.1 2000 OK\r\n\r\n"));
    CHECK(bad("HTTP/1.1 099 OK\r\n\r\n"));
    CHECK(bad("HTTP/1.1 200 OK\r\n"));
    CHECK(bad("HTTP/1.1 200 OK\nX: y\r\n\r\n"));
    CHECK(bad("HTTP/1.1 200 OK\r\nNo colon\r\n\r\n"));
    CHECK(bad("HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n"));
    CHECK(bad("HTTP/1.1 200 OK\r\n: empty\r\n\r\n"));
    CHECK(bad("HTTP/1.1 200 OK\r\nX: a\r\n folded\r\n\r\n"));
    CHECK(bad(std::string("HTTP/1.1 200 OK\r\nX: a\0b\r\n\r\n", 26)));
    std::string many = "HTTP/1.1 200 OK\r\n";
    for (size_t i = 0; i <= kMaxHeaderCount; ++i)
        many += "X: y\r\n";
    CHECK(bad(many + "\r\n"));
    CHECK(bad("HTTP/1.1 200 OK\r\nX: " + std::string(kMaxHeadBytes, 'a') + "\r\n\r\n"));
}

TEST_CASE("the body's framing follows RFC 9112") {
    auto framing = [](std::string_view headers, int status = 200,
                      RequestKind kind = RequestKind::Other) {
        ResponseHead head = parse_response_head(std::string("HTTP/1.1 ") + std::to_string(status) +
                                                " X\r\n" + std::string(headers) + "\r\n")
                                .value();
        return body_length(head, kind);
    };
    CHECK(framing("Content-Length: 12\r\n")->framing == BodyFraming::ContentLength);
    CHECK(framing("Content-Length: 12\r\n")->length == 12);
    CHECK(framing("Content-Length: 5, 5\r\nContent-Length: 5\r\n")->length == 5);
    CHECK(framing("Transfer-Encoding: chunked\r\nContent-Length: 3\r\n")->framing ==
          BodyFraming::Chunked);
    CHECK(framing("")->framing == BodyFraming::UntilClose);
    CHECK(framing("Content-Length: 9\r\n", 204)->framing == BodyFraming::None);
    CHECK(framing("Content-Length: 9\r\n", 304)->framing == BodyFraming::None);
    CHECK(framing("Content-Length: 9\r\n", 200, RequestKind::Head)->framing == BodyFraming::None);
    CHECK(!framing("Content-Length: 5\r\nContent-Length: 6\r\n"));
    CHECK(!framing("Content-Length: -1\r\n"));
    CHECK(!framing("Content-Length: 0x10\r\n"));
    CHECK(!framing("Content-Length: 99999999999999999999999\r\n"));
    CHECK(!framing("Transfer-Encoding: gzip, chunked\r\n"));
    CHECK(!framing("Transfer-Encoding: chunked, gzip\r\n"));
}

TEST_CASE("a chunked body decodes whole or split at every byte") {
    std::string body = "4\r\nWiki\r\n5;name=value\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n"
                       "0\r\nExpires: never\r\n\r\nNEXT";
    ChunkedDecoder decoder;
    std::string out;
    size_t used = decoder.decode(body, out).value();
    CHECK(decoder.done());
    CHECK(out == "Wikipedia in\r\n\r\nchunks.");
    CHECK(body.substr(used) == "NEXT");
    size_t consumed = 0;
    CHECK(decode_bytewise(body, &consumed) == out);
    CHECK(consumed == used);
}

TEST_CASE("malformed chunked bodies are refused") {
    CHECK(!decode_bytewise("x\r\n"));
    CHECK(!decode_bytewise("\r\n"));
    CHECK(!decode_bytewise("4\nWiki\r\n0\r\n\r\n"));
    CHECK(!decode_bytewise("4\r\nWikiX\r\n0\r\n\r\n"));
    CHECK(!decode_bytewise("11111111111111111\r\n"));
    CHECK(!decode_bytewise("4;" + std::string(5000, 'e') + "\r\nWiki\r\n0\r\n\r\n"));
    CHECK(!decode_bytewise("0\r\nX: y\nZ"));
    CHECK(!decode_bytewise("0\r\n" + std::string(kMaxHeadBytes + 1, 'x')));
    // Cut short: not an error by itself, but never done.
    CHECK(!decode_bytewise("4\r\nWi"));
    CHECK(!decode_bytewise("0\r\n"));
}
