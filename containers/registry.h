// containers/registry: pulling an image from an OCI distribution registry
// (Docker Hub, a private registry) into an OCI image layout directory.
//
// The protocol: GET /v2/ learns how the registry wants to be asked (a 401
// with a Bearer challenge names a token realm; Basic asks for the
// credentials directly); the manifest by tag or digest with an Accept
// header listing the OCI and Docker index and manifest types; from an
// index the manifest of the wanted platform, by digest; then the config
// and layer blobs by digest (sha256 or sha512), each streamed to disk
// while its hash and size are checked. A document or blob whose bytes do
// not hash to the digest that named it is refused, and its partial file
// removed; a blob whose connection is cut keeps its partial file, and the
// next pull asks only for the rest (Range) and checks the whole digest.
// Redirects (blob storage) are followed without Authorization when they
// leave the registry's origin. Registries named insecure are spoken to
// over plain HTTP; the others over HTTPS, verified against the system's CA
// bundle and an optional CA file.
#pragma once

#include "base/result.h"
#include "containers/containers.h"
#include "containers/image_manifest.h"
#include "containers/image_ref.h"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace keel::containers {

/// The host docker.io's API lives on.
inline constexpr std::string_view kDockerHubApiHost = "registry-1.docker.io";

/// What a pull wrote.
struct PulledImage {
    /// The manifest's digest (the platform's, when the reference named an
    /// index).
    oci::Digest manifest_digest;
    /// Bytes of blobs downloaded (blobs already in the layout not counted).
    uint64_t downloaded = 0;
    /// The reference's str(), as index.json's ref.name annotation has it.
    std::string reference;
};

/// Pulls `reference` into `layout_directory` (created if missing): the
/// oci-layout file, blobs/ALGORITHM/*, and index.json with one descriptor for
/// the manifest, annotated org.opencontainers.image.ref.name =
/// reference.str(). Blobs already present with the right digest are kept.
Result<PulledImage> pull_to_layout(const oci::ImageReference& reference, const PullOptions& options,
                                   const std::string& layout_directory);

/// Credentials for `registry`, looked up in order: $KEEL_REGISTRY_AUTH
/// ("user:password", for any registry), then the auths entry for the
/// registry in $DOCKER_CONFIG/config.json or ~/.docker/config.json (its
/// base64 "auth" field; docker.io's key is "https://index.docker.io/v1/").
/// Nothing found is not an error.
struct FoundCredentials {
    std::optional<RegistryCredentials> credentials;
    /// Where they came from ("$KEEL_REGISTRY_AUTH" or the config file's
    /// path); empty when none were found. (Last, a string: a Result's value
    /// must not end in padding with libc++ 16.)
    std::string source;
};
Result<FoundCredentials> find_credentials(std::string_view registry);

/// Parses "user:password" (the password may hold ':').
Result<RegistryCredentials> parse_credentials(std::string_view text);

} // namespace keel::containers
