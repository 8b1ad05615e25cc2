// containers/image_ref: references spelt as Docker and Podman users write
// them, normalised to what keel stores, and the malformed ones refused with
// what is wrong.
#include "containers/image_ref.h"

#include <doctest/doctest.h>

using namespace keel;
using namespace keel::oci;

namespace {

std::string normalised(std::string_view text) {
    Result<ImageReference> reference = parse_image_reference(text);
    return reference ? reference->str() : "error: " + reference.error().to_string();
}

std::string familiar(std::string_view text) {
    Result<ImageReference> reference = parse_image_reference(text);
    return reference ? reference->familiar() : "error: " + reference.error().to_string();
}

const std::string kDigest = "sha256:" + std::string(64, 'e');

} // namespace

TEST_CASE("a bare name is docker.io's library image with tag latest") {
    CHECK(normalised("busybox") == "docker.io/library/busybox:latest");
    CHECK(familiar("busybox") == "busybox:latest");
    Result<ImageReference> reference = parse_image_reference("busybox:1.36");
    REQUIRE(reference);
    CHECK(reference->registry == "docker.io");
    CHECK(reference->repository == "library/busybox");
    CHECK(reference->tag == "1.36");
    CHECK(!reference->digest);
}

TEST_CASE("a first component with a dot, a colon or localhost is a registry") {
    CHECK(normalised("127.0.0.1:5000/tools/web") == "127.0.0.1:5000/tools/web:latest");
    CHECK(normalised("localhost/web:1") == "localhost/web:1");
    CHECK(normalised("quay.io/a/b/c:v") == "quay.io/a/b/c:v");
    CHECK(normalised("tools/web") == "docker.io/tools/web:latest");
    CHECK(normalised("[::1]:5000/web") == "[::1]:5000/web:latest");
    CHECK(familiar("127.0.0.1:5000/web:1") == "127.0.0.1:5000/web:1");
}

TEST_CASE("index.docker.io and docker.io names are the same image") {
    CHECK(normalised("index.docker.io/library/busybox") == "docker.io/library/busybox:latest");
    CHECK(normalised("docker.io/busybox") == "docker.io/library/busybox:latest");
    CHECK(familiar("docker.io/library/busybox:1") == "busybox:1");
    CHECK(familiar("docker.io/tools/web") == "tools/web:latest");
    // Shown without docker.io, "a.b/c" would name the registry a.b.
    CHECK(familiar("docker.io/a.b/c") == "docker.io/a.b/c:latest");
}

TEST_CASE("a digest pins the reference, with or without a tag") {
    CHECK(normalised("busybox@" + kDigest) == "docker.io/library/busybox@" + kDigest);
    CHECK(normalised("web:1@" + kDigest) == "docker.io/library/web:1@" + kDigest);
    Result<ImageReference> reference = parse_image_reference("localhost:5000/web@" + kDigest);
    REQUIRE(reference);
    CHECK(reference->tag.empty());
    CHECK(reference->digest->str() == kDigest);
}

TEST_CASE("separators inside path components follow the grammar") {
    CHECK(normalised("a_b__c.d--e") == "docker.io/library/a_b__c.d--e:latest");
    CHECK(normalised("a___b").starts_with("error: "));
    CHECK(normalised("a..b").starts_with("error: "));
    CHECK(normalised("-ab").starts_with("error: "));
    CHECK(normalised("ab-").starts_with("error: "));
    CHECK(normalised("a/b/").starts_with("error: "));
    CHECK(normalised("a//b").starts_with("error: "));
}

TEST_CASE("malformed references are refused saying what part is wrong") {
    CHECK(normalised("") == "error: image reference ``: empty reference");
    CHECK(normalised("Busybox") ==
          "error: image reference `Busybox`: repository name `Busybox` must be lower-case");
    CHECK(normalised("docker.io/Busybox") ==
          "error: image reference `docker.io/Busybox`: repository name `Busybox` must be "
          "lower-case");
    CHECK(normalised("busybox:" + std::string(129, 't')) ==
          "error: image reference `busybox:" + std::string(129, 't') +
              "`: tag longer than 128 characters");
    CHECK(normalised("busybox:" + std::string(128, 't')).ends_with(std::string(128, 't')));
    CHECK(normalised("busybox:.x").starts_with("error: "));
    CHECK(normalised("busybox:").starts_with("error: "));
    CHECK(normalised("busybox@sha256:abc") ==
          "error: image reference `busybox@sha256:abc`: digest: not a sha256 digest (64 "
          "lower-case hex digits)");
    CHECK(normalised("host:port/web").starts_with("error: "));
    CHECK(normalised("exa_mple.com/web").starts_with("error: "));
    CHECK(normalised(std::string(64, 'a')).starts_with("error: "));
    CHECK(normalised(std::string(256, 'a')).starts_with("error: "));
    CHECK(normalised("web?x").starts_with("error: "));
}
