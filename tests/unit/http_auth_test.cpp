// Tests for net/http_auth.h: WWW-Authenticate challenges and base64.
#include "net/http_auth.h"

#include <doctest/doctest.h>

using namespace keel;
using namespace keel::net;

TEST_CASE("a registry's Bearer challenge gives realm, service and scope") {
    auto challenges =
        parse_www_authenticate(
            R"(Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull")")
            .value();
    REQUIRE(challenges.size() == 1);
    CHECK(challenges[0].scheme == "bearer");
    CHECK(challenges[0].params.at("realm") == "https://auth.docker.io/token");
    CHECK(challenges[0].params.at("service") == "registry.docker.io");
    CHECK(challenges[0].params.at("scope") == "repository:library/busybox:pull");
}

TEST_CASE("several challenges in one header are told apart") {
    auto challenges =
        parse_www_authenticate(
            R"(Newauth realm="apps", type=1, title="Login to \"apps\"", Basic realm="simple")")
            .value();
    REQUIRE(challenges.size() == 2);
    CHECK(challenges[0].scheme == "newauth");
    CHECK(challenges[0].params.at("type") == "1");
    CHECK(challenges[0].params.at("title") == R"(Login to "apps")");
    CHECK(challenges[1].scheme == "basic");
    CHECK(challenges[1].params.at("realm") == "simple");
    CHECK(find_challenge(challenges, "basic") == &challenges[1]);
    CHECK(find_challenge(challenges, "bearer") == nullptr);
}

TEST_CASE("token68 challenges, bare schemes and odd spacing parse") {
    auto challenges =
        parse_www_authenticate("Negotiate abc+/==, Basic ,  Bearer  realm = x").value();
    REQUIRE(challenges.size() == 3);
    CHECK(challenges[0].token68 == "abc+/==");
    CHECK(challenges[1].scheme == "basic");
    CHECK(challenges[1].params.empty());
    CHECK(challenges[2].params.at("realm") == "x");
}

TEST_CASE("malformed challenges are refused") {
    CHECK(!parse_www_authenticate(""));
    CHECK(!parse_www_authenticate(" , "));
    CHECK(!parse_www_authenticate(R"(Bearer realm="unterminated)"));
    CHECK(!parse_www_authenticate(R"(Bearer realm="x" service="y")"));
    CHECK(!parse_www_authenticate(R"(Bearer realm="x", service=)"));
    CHECK(!parse_www_authenticate(R"(Bearer realm="a", realm="b")"));
    CHECK(!parse_www_authenticate("Bearer realm=\"a\x01\""));
    CHECK(!parse_www_authenticate("=x"));
    CHECK(!parse_www_authenticate(R"(Bearer realm="x\)"));
}

TEST_CASE("base64 round-trips and Basic credentials are encoded") {
    CHECK(base64_encode("") == "");
    CHECK(base64_encode("f") == "Zg==");
    CHECK(base64_encode("fo") == "Zm8=");
    CHECK(base64_encode("foo") == "Zm9v");
    CHECK(base64_decode("Zm9vYmFy") == "foobar");
    CHECK(base64_decode("Zg==") == "f");
    CHECK(base64_decode("Zg") == "f");
    CHECK(!base64_decode("Z"));
    CHECK(!base64_decode("Zm9v!"));
    CHECK(basic_authorization("Aladdin", "open sesame") == "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
}
