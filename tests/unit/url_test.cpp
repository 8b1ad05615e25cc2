// Tests for net/url.h: parsing http(s) URLs and resolving Location
// references against them.
#include "net/url.h"

#include <doctest/doctest.h>

using namespace keel;
using namespace keel::net;

TEST_CASE("an https URL splits into scheme, host, port and target") {
    Url url = parse_url("https://Registry-1.Docker.io/v2/library/busybox/manifests/1?x=y").value();
    CHECK(url.scheme == Scheme::Https);
    CHECK(url.host == "registry-1.docker.io");
    CHECK(url.port == 443);
    CHECK(url.target == "/v2/library/busybox/manifests/1?x=y");
    CHECK(url.str() == "https://registry-1.docker.io/v2/library/busybox/manifests/1?x=y");
}

TEST_CASE("a URL with a port, an IPv6 host or no path keeps them apart") {
    Url url = parse_url("http://127.0.0.1:5000").value();
    CHECK(url.port == 5000);
    CHECK(url.target == "/");
    CHECK(url.authority() == "127.0.0.1:5000");
    Url v6 = parse_url("http://[::1]:8080/v2/").value();
    CHECK(v6.host == "::1");
    CHECK(v6.port == 8080);
    CHECK(v6.authority() == "[::1]:8080");
    CHECK(parse_url("https://example.com:443/").value().authority() == "example.com");
}

TEST_CASE("malformed URLs are refused with a reason") {
    CHECK(!parse_url("ftp://example.com/"));
    CHECK(!parse_url("example.com/v2/"));
    CHECK(!parse_url("https:///v2/"));
    CHECK(!parse_url("https://user:secret@example.com/"));
    CHECK(!parse_url("https://example.com:0/"));
    CHECK(!parse_url("https://example.com:70000/"));
    CHECK(!parse_url("https://example.com:12ab/"));
    CHECK(!parse_url("https://[::1/"));
    CHECK(!parse_url("https://exa mple.com/"));
    CHECK(!parse_url("https://example.com/a b"));
    CHECK(!parse_url("https://example.com/%zz"));
    CHECK(!parse_url("https://example.com/%4"));
    CHECK(!parse_url("https://example.com/\r\nX: y"));
}

TEST_CASE("a Location reference resolves against the URL it came from") {
    Url base = parse_url("https://registry.example/v2/tools/busybox/blobs/sha256:ab?q=1").value();
    CHECK(resolve_reference(base, "https://storage.example/blob?sig=x").value().str() ==
          "https://storage.example/blob?sig=x");
    CHECK(resolve_reference(base, "//cdn.example/b").value().str() == "https://cdn.example/b");
    CHECK(resolve_reference(base, "/other/path").value().str() ==
          "https://registry.example/other/path");
    CHECK(resolve_reference(base, "next").value().target == "/v2/tools/busybox/blobs/next");
    CHECK(resolve_reference(base, "../../x/./y").value().target == "/v2/tools/x/y");
    CHECK(resolve_reference(base, "/../../a").value().target == "/a");
    CHECK(resolve_reference(base, "?page=2").value().target ==
          "/v2/tools/busybox/blobs/sha256:ab?page=2");
    CHECK(!resolve_reference(base, "gopher://x/"));
    CHECK(!resolve_reference(base, "/a b"));
}

TEST_CASE("query values are percent-encoded except unreserved characters") {
    CHECK(percent_encode("repository:tools/busybox:pull") == "repository%3Atools%2Fbusybox%3Apull");
    CHECK(percent_encode("a-b_c.d~e") == "a-b_c.d~e");
}
