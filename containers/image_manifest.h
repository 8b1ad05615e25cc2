// containers/image_manifest: the JSON documents of the OCI image format
// (image index, image manifest, image config) and Docker's schema 2
// equivalents (manifest list, manifest, container config), read into typed
// values. Every digest is parsed and checked for form; a document that
// holds what belongs to the other kind (a manifest with `manifests`, an
// index with `layers`: CVE-2021-41190) is refused. Errors name the JSON
// path ("layers[1].digest: digest `md5:…`: unknown algorithm `md5` ...").
#pragma once

#include "base/names.h"
#include "base/result.h"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace keel::oci {

/// The annotation of an index entry that names its image ("ubuntu:24.04").
inline constexpr std::string_view kRefNameAnnotation = "org.opencontainers.image.ref.name";

inline constexpr std::string_view kMediaTypeOciIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view kMediaTypeOciManifest =
    "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view kMediaTypeOciConfig = "application/vnd.oci.image.config.v1+json";
inline constexpr std::string_view kMediaTypeOciLayer = "application/vnd.oci.image.layer.v1.tar";
inline constexpr std::string_view kMediaTypeOciLayerGzip =
    "application/vnd.oci.image.layer.v1.tar+gzip";
inline constexpr std::string_view kMediaTypeOciLayerZstd =
    "application/vnd.oci.image.layer.v1.tar+zstd";
inline constexpr std::string_view kMediaTypeDockerManifestList =
    "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr std::string_view kMediaTypeDockerManifest =
    "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr std::string_view kMediaTypeDockerConfig =
    "application/vnd.docker.container.image.v1+json";
inline constexpr std::string_view kMediaTypeDockerLayerGzip =
    "application/vnd.docker.image.rootfs.diff.tar.gzip";

enum class DigestAlgorithm { Sha256, Sha512 };

inline constexpr auto kDigestAlgorithmNames = name_table<DigestAlgorithm>({
    {DigestAlgorithm::Sha256, "sha256"},
    {DigestAlgorithm::Sha512, "sha512"},
});

/// A content digest: "sha256:" + 64 lower-case hex digits (or sha512 and 128).
struct Digest {
    DigestAlgorithm algorithm = DigestAlgorithm::Sha256;
    /// Lower-case hex, 64 (sha256) or 128 (sha512) digits. (Last: a Result's
    /// value must not end in padding with libc++ 16.)
    std::string hex;

    /// "sha256:0123…".
    std::string str() const;
    bool operator==(const Digest&) const = default;
};

/// Parses "ALGORITHM:HEX"; refuses other algorithms, upper-case or
/// wrong-length hex.
Result<Digest> parse_digest(std::string_view text);

/// The sha256 digest of `data`.
Digest sha256_digest(std::string_view data);

/// Where an image runs.
struct Platform {
    std::string os = "linux";
    /// GOARCH names: amd64, arm64, arm, 386, ppc64le, s390x, riscv64.
    std::string architecture;
    /// "v8", "v7"; empty when none.
    std::string variant;

    /// "linux/amd64", "linux/arm/v7".
    std::string str() const;
};

/// The machine keel runs on, from uname(2) (x86_64 -> linux/amd64,
/// aarch64 -> linux/arm64/v8, ...).
Platform host_platform();

/// Parses "os/arch[/variant]" (`--platform`).
Result<Platform> parse_platform(std::string_view text);

/// A reference from one document to another blob.
struct Descriptor {
    std::string media_type;
    Digest digest;
    /// Bytes; checked against what is read.
    uint64_t size = 0;
    /// Only in an index's manifests.
    std::optional<Platform> platform;
    std::vector<std::string> urls;
    /// (Last, a map: see Digest.)
    std::map<std::string, std::string> annotations;
};

/// An OCI image index or a Docker manifest list.
struct Index {
    /// As the document says, or empty when it has no mediaType.
    std::string media_type;
    std::vector<Descriptor> manifests;
    std::map<std::string, std::string> annotations;
};

/// An OCI image manifest or a Docker schema 2 manifest.
struct Manifest {
    std::string media_type;
    Descriptor config;
    /// Lowest first. Media types other than the tar, tar+gzip, tar+zstd
    /// and Docker's gzip layer are refused.
    std::vector<Descriptor> layers;
    std::map<std::string, std::string> annotations;
};

/// An image's config: how to run it and which layers it has.
struct ImageConfig {
    std::string architecture;
    std::string os;
    std::string variant;
    /// RFC 3339, as the document has it; empty when absent.
    std::string created;
    // config.*: the process defaults.
    std::string user;
    std::vector<std::string> env;
    std::vector<std::string> entrypoint;
    std::vector<std::string> cmd;
    std::string working_dir;
    /// "80/tcp", "53/udp".
    std::vector<std::string> exposed_ports;
    std::vector<std::string> volumes;
    std::string stop_signal;
    std::map<std::string, std::string> labels;
    /// rootfs.diff_ids: the digests of the uncompressed layers, lowest first.
    std::vector<Digest> diff_ids;
    /// (Last, a string: see Digest.)
    std::string author;
};

/// Whether a document is an index (or list) or a manifest.
enum class DocumentKind { Index, Manifest };

inline constexpr auto kDocumentKindNames = name_table<DocumentKind>({
    {DocumentKind::Index, "index"},
    {DocumentKind::Manifest, "manifest"},
});

/// The kind a media type names (the OCI and Docker index and manifest
/// types); nullopt for any other.
std::optional<DocumentKind> document_kind(std::string_view media_type);

/// Parse the three documents. schemaVersion must be 2; a mediaType field,
/// when present, must be one of the document's types; unknown fields are
/// ignored.
Result<Index> parse_index(std::string_view json);
Result<Manifest> parse_manifest(std::string_view json);
Result<ImageConfig> parse_image_config(std::string_view json);

/// One image of a `docker save` archive's manifest.json.
struct DockerArchiveImage {
    /// The config's path inside the archive ("HEX.json", or
    /// "blobs/sha256/HEX" from Docker 25 on).
    std::string config;
    /// "busybox:latest", as `docker save` was given them; may be empty.
    std::vector<std::string> repo_tags;
    /// The layers' paths inside the archive, lowest first ("HEX/layer.tar").
    /// (Last, a vector: see Digest.)
    std::vector<std::string> layers;
};

/// Parses a `docker save` manifest.json: an array of {Config, RepoTags,
/// Layers}. Paths must be relative and stay inside the archive (no ".."
/// component), or the error names the path's JSON path.
Result<std::vector<DockerArchiveImage>> parse_docker_archive_manifest(std::string_view json);

/// The index's manifest for `platform` (os and architecture equal; the
/// variant too when `platform` names one); the error lists the platforms
/// the index offers.
Result<Descriptor> select_manifest(const Index& index, const Platform& platform);

} // namespace keel::oci
