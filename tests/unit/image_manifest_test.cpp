// containers/image_manifest: the image index, manifest and config as
// registries and `docker save` write them, and the malformed or ambiguous
// documents that must be refused with the JSON path of what is wrong.
#include "containers/image_manifest.h"

#include "base/strings.h"
#include "tests/unit/test_util.h"

#include <doctest/doctest.h>

using namespace keel;
using namespace keel::oci;
using keel::testing::error_text;

namespace {

const std::string kHexA(64, 'a');
const std::string kHexB(64, 'b');
const std::string kHexC(64, 'c');

std::string oci_manifest(std::string_view layers) {
    return cat(R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",)"
               R"("config":{"mediaType":"application/vnd.oci.image.config.v1+json",)"
               R"("digest":"sha256:)",
               kHexA, R"(","size":7023},"layers":[)", layers, "]}");
}

std::string gzip_layer(const std::string& hex, uint64_t size) {
    return cat(R"({"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:)",
               hex, R"(","size":)", size, "}");
}

} // namespace

TEST_CASE("a digest is its algorithm and lower-case hex, and prints back the same") {
    Result<Digest> digest = parse_digest("sha256:" + kHexA);
    REQUIRE(digest);
    CHECK(digest->algorithm == DigestAlgorithm::Sha256);
    CHECK(digest->str() == "sha256:" + kHexA);
    Result<Digest> sha512 = parse_digest("sha512:" + std::string(128, '0'));
    REQUIRE(sha512);
    CHECK(sha512->algorithm == DigestAlgorithm::Sha512);
}

TEST_CASE("digests of an unknown algorithm, upper-case hex or the wrong length are refused") {
    CHECK(!parse_digest("md5:" + kHexA));
    CHECK(!parse_digest(kHexA));
    CHECK(!parse_digest("sha256:" + std::string(64, 'A')));
    CHECK(!parse_digest("sha256:" + std::string(63, 'a')));
    CHECK(!parse_digest("sha512:" + kHexA));
    CHECK(!parse_digest("sha256:" + std::string(63, 'a') + "g"));
    CHECK(!parse_digest(""));
}

TEST_CASE("sha256_digest is the sha256 of the bytes") {
    CHECK(sha256_digest("").str() ==
          "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST_CASE("platforms parse from os/arch[/variant] and print back the same") {
    Result<Platform> platform = parse_platform("linux/arm/v7");
    REQUIRE(platform);
    CHECK(platform->architecture == "arm");
    CHECK(platform->variant == "v7");
    CHECK(platform->str() == "linux/arm/v7");
    CHECK(parse_platform("linux/x86_64")->str() == "linux/amd64");
    CHECK(!parse_platform("linux"));
    CHECK(!parse_platform("linux//v7"));
    CHECK(!parse_platform("linux/amd64/v1/x"));
}

TEST_CASE("the host platform is a linux one with a Go architecture name") {
    Platform host = host_platform();
    CHECK(host.os == "linux");
    CHECK(!host.architecture.empty());
    CHECK(host.architecture != "x86_64");
    CHECK(host.architecture != "aarch64");
}

TEST_CASE("an OCI manifest is read with its config and layers in order") {
    Result<oci::Manifest> manifest =
        oci::parse_manifest(oci_manifest(gzip_layer(kHexB, 100) + "," + gzip_layer(kHexC, 200)));
    REQUIRE_MESSAGE(manifest, error_text(manifest));
    CHECK(manifest->media_type == kMediaTypeOciManifest);
    CHECK(manifest->config.digest.hex == kHexA);
    CHECK(manifest->config.size == 7023);
    REQUIRE(manifest->layers.size() == 2);
    CHECK(manifest->layers[0].digest.hex == kHexB);
    CHECK(manifest->layers[1].size == 200);
}

TEST_CASE("a Docker schema 2 manifest is read like an OCI one") {
    std::string json = cat(
        R"({"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",)"
        R"("config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":1,)"
        R"("digest":"sha256:)",
        kHexA,
        R"("},"layers":[{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip",)"
        R"("size":5,"digest":"sha256:)",
        kHexB, R"("}]})");
    Result<oci::Manifest> manifest = oci::parse_manifest(json);
    REQUIRE_MESSAGE(manifest, error_text(manifest));
    CHECK(manifest->layers.at(0).media_type == kMediaTypeDockerLayerGzip);
}

TEST_CASE("a manifest's errors name the JSON path of the bad value") {
    CHECK(
        error_text(oci::parse_manifest(oci_manifest(
            R"({"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:x","size":1})"))) ==
        "layers[0].digest: not a sha256 digest (64 lower-case hex digits)");
    CHECK(error_text(oci::parse_manifest(oci_manifest(
              gzip_layer(kHexB, 1) + "," + R"({"mediaType":"text/plain","digest":"sha256:)" +
              kHexB + R"(","size":1})"))) ==
          "layers[1]: unsupported layer media type `text/plain`");
    CHECK(error_text(
              oci::parse_manifest(oci_manifest(
                  R"({"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:)" +
                  kHexB + R"(","size":-1})")))
              .starts_with("layers[0].size: "));
    CHECK(error_text(oci::parse_manifest(R"({"schemaVersion":1})")) ==
          "schemaVersion: unsupported schema version 1 (expected 2)");
    CHECK(error_text(oci::parse_manifest(R"({"schemaVersion":2,"layers":[]})")) ==
          "config: missing");
    CHECK(!oci::parse_manifest("[]"));
    CHECK(!oci::parse_manifest("{"));
}

TEST_CASE("a manifest with an index's mediaType or manifests is refused (CVE-2021-41190)") {
    std::string with_manifests = oci_manifest("");
    with_manifests.insert(1, R"("manifests":[],)");
    CHECK(error_text(oci::parse_manifest(with_manifests)) ==
          "manifests: not allowed in an image manifest (ambiguous document)");
    std::string index_type = oci_manifest("");
    index_type.replace(index_type.find("manifest.v1"), 11, "index.v1");
    CHECK(error_text(oci::parse_manifest(index_type)) ==
          "mediaType: `application/vnd.oci.image.index.v1+json` is not an image manifest media "
          "type");
}

TEST_CASE("an index with config or layers is refused (CVE-2021-41190)") {
    CHECK(error_text(parse_index(R"({"schemaVersion":2,"manifests":[],"layers":[]})")) ==
          "layers: not allowed in an image index (ambiguous document)");
    CHECK(error_text(parse_index(R"({"schemaVersion":2,"manifests":[],"config":{}})")) ==
          "config: not allowed in an image index (ambiguous document)");
    CHECK(!parse_index(R"({"schemaVersion":2})"));
}

TEST_CASE("an index lists its manifests with their platforms and annotations") {
    std::string json = cat(
        R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[)",
        R"({"mediaType":"application/vnd.oci.image.manifest.v1+json","size":10,"digest":"sha256:)",
        kHexA, R"(","platform":{"architecture":"amd64","os":"linux"}},)",
        R"({"mediaType":"application/vnd.oci.image.manifest.v1+json","size":11,"digest":"sha256:)",
        kHexB,
        R"(","platform":{"architecture":"arm64","os":"linux","variant":"v8"},)"
        R"("annotations":{"org.opencontainers.image.ref.name":"1.0"}},)",
        R"({"mediaType":"application/vnd.oci.image.manifest.v1+json","size":12,"digest":"sha256:)",
        kHexC, R"(","platform":{"architecture":"arm","os":"linux","variant":"v7"}}]})");
    Result<oci::Index> index = parse_index(json);
    REQUIRE_MESSAGE(index, error_text(index));
    REQUIRE(index->manifests.size() == 3);
    CHECK(index->manifests[1].annotations.at("org.opencontainers.image.ref.name") == "1.0");

    CHECK(select_manifest(*index, {"linux", "amd64", ""})->digest.hex == kHexA);
    CHECK(select_manifest(*index, {"linux", "arm64", "v8"})->digest.hex == kHexB);
    CHECK(select_manifest(*index, {"linux", "arm", "v7"})->digest.hex == kHexC);
    CHECK(error_text(select_manifest(*index, {"linux", "arm", "v6"})) ==
          "no manifest for linux/arm/v6 (the index offers linux/amd64, linux/arm64/v8, "
          "linux/arm/v7)");
    CHECK(!select_manifest(*index, {"windows", "amd64", ""}));
}

TEST_CASE("an arm64 manifest without a variant is chosen for a v8 host") {
    std::string json =
        cat(R"({"schemaVersion":2,"manifests":[)",
            R"({"mediaType":"application/vnd.docker.distribution.manifest.v2+json","size":10,)"
            R"("digest":"sha256:)",
            kHexA, R"(","platform":{"architecture":"arm64","os":"linux"}}]})");
    Result<oci::Index> index = parse_index(json);
    REQUIRE_MESSAGE(index, error_text(index));
    CHECK(select_manifest(*index, {"linux", "arm64", "v8"}));
}

TEST_CASE("an image config is read with its process defaults and diff ids") {
    std::string json =
        cat(R"({"architecture":"amd64","os":"linux","created":"2024-01-02T03:04:05Z",)"
            R"("author":"me","config":{"User":"1000:1000","Env":["PATH=/bin"],)"
            R"("Entrypoint":["/bin/sh"],"Cmd":null,"WorkingDir":"/srv",)"
            R"("ExposedPorts":{"80/tcp":{}},"Volumes":{"/data":{}},"StopSignal":"SIGINT",)"
            R"("Labels":{"a":"b"}},"rootfs":{"type":"layers","diff_ids":["sha256:)",
            kHexA, R"("]},"history":[{"created_by":"x"}]})");
    Result<ImageConfig> config = parse_image_config(json);
    REQUIRE_MESSAGE(config, error_text(config));
    CHECK(config->user == "1000:1000");
    CHECK(config->env == std::vector<std::string>{"PATH=/bin"});
    CHECK(config->entrypoint == std::vector<std::string>{"/bin/sh"});
    CHECK(config->cmd.empty());
    CHECK(config->working_dir == "/srv");
    CHECK(config->exposed_ports == std::vector<std::string>{"80/tcp"});
    CHECK(config->volumes == std::vector<std::string>{"/data"});
    CHECK(config->stop_signal == "SIGINT");
    CHECK(config->labels.at("a") == "b");
    CHECK(config->created == "2024-01-02T03:04:05Z");
    CHECK(config->author == "me");
    REQUIRE(config->diff_ids.size() == 1);
    CHECK(config->diff_ids[0].hex == kHexA);
}

TEST_CASE("a digest of an unknown algorithm is refused, the digest named") {
    std::string md5 = "md5:d41d8cd98f00b204e9800998ecf8427e";
    CHECK(error_text(oci::parse_manifest(oci_manifest(
              cat(R"({"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":")", md5,
                  R"(","size":1})")))) == cat("layers[0].digest: digest `", md5,
                                              "`: unknown algorithm `md5` (sha256 and sha512 "
                                              "are known)"));
    CHECK(error_text(parse_digest("SHA256:" + kHexA)).find("unknown algorithm `SHA256`") !=
          std::string::npos);
    CHECK(error_text(parse_digest(":" + kHexA)).find("unknown algorithm ``") != std::string::npos);
    CHECK(error_text(parse_digest("sha512:" + kHexA)) ==
          "not a sha512 digest (128 lower-case hex digits)");
    Result<Digest> long_one = parse_digest("sha512:" + kHexA + kHexB);
    REQUIRE_MESSAGE(long_one, error_text(long_one));
    CHECK(long_one->algorithm == DigestAlgorithm::Sha512);
}

TEST_CASE("an image config without rootfs or with a bad diff id is refused by path") {
    CHECK(error_text(parse_image_config(R"({"architecture":"amd64","os":"linux"})")) ==
          "rootfs: missing");
    CHECK(
        error_text(parse_image_config(
            R"({"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["x"]}})")) ==
        "rootfs.diff_ids[0]: `x` is not a digest (sha256:HEX or sha512:HEX)");
    CHECK(error_text(parse_image_config(
              R"({"architecture":"amd64","os":"linux","rootfs":{"type":"zfs","diff_ids":[]}})")) ==
          "rootfs.type: unsupported rootfs type `zfs` (expected `layers`)");
    CHECK(
        error_text(parse_image_config(
            R"({"architecture":"amd64","os":"linux","config":{"Env":"A=B"},"rootfs":{"type":"layers","diff_ids":[]}})")) ==
        "config.Env: expected an array, got a string");
}

TEST_CASE("document kinds are told apart by media type") {
    CHECK(document_kind(kMediaTypeDockerManifestList) == DocumentKind::Index);
    CHECK(document_kind(kMediaTypeOciManifest) == DocumentKind::Manifest);
    CHECK(!document_kind(kMediaTypeOciConfig));
}

TEST_CASE("a docker save manifest.json lists each image's config, tags and layers") {
    Result<std::vector<DockerArchiveImage>> images = parse_docker_archive_manifest(
        R"([{"Config":"abc.json","RepoTags":["busybox:latest"],"Layers":["d1/layer.tar","d2/layer.tar"]},)"
        R"({"Config":"blobs/sha256/ff","RepoTags":null,"Layers":[]}])");
    REQUIRE_MESSAGE(images, error_text(images));
    REQUIRE(images->size() == 2);
    CHECK((*images)[0].config == "abc.json");
    CHECK((*images)[0].repo_tags == std::vector<std::string>{"busybox:latest"});
    CHECK((*images)[0].layers == std::vector<std::string>{"d1/layer.tar", "d2/layer.tar"});
    CHECK((*images)[1].repo_tags.empty());
}

TEST_CASE("a docker save manifest.json with paths that leave the archive is refused") {
    CHECK(error_text(parse_docker_archive_manifest(R"([{"Config":"../x.json","Layers":[]}])")) ==
          "[0].Config: path leaves the archive: `../x.json`");
    CHECK(error_text(parse_docker_archive_manifest(
              R"([{"Config":"x.json","Layers":["a/layer.tar","/etc/passwd"]}])")) ==
          "[0].Layers[1]: not a relative path inside the archive: `/etc/passwd`");
    CHECK(error_text(parse_docker_archive_manifest(R"({"Config":"x"})")) ==
          "expected an array of images");
    CHECK(!parse_docker_archive_manifest(R"([{"Layers":[]}])"));
}
