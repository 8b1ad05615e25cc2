// containers/image_ref: image references as Docker and Podman spell them
// ("busybox", "busybox:1.36", "127.0.0.1:5000/tools/web@sha256:…",
// "docker.io/library/busybox:latest"), parsed by the distribution
// project's grammar.
#pragma once

#include "base/result.h"
#include "containers/image_manifest.h"

#include <optional>
#include <string>
#include <string_view>

namespace keel::oci {

/// The registry a name without one refers to.
inline constexpr std::string_view kDefaultRegistry = "docker.io";

/// A parsed reference, normalised: registry "docker.io" when the name has
/// none ("index.docker.io" becomes "docker.io" too), "library/" before a
/// one-component repository on docker.io, tag "latest" when the reference
/// has neither tag nor digest.
struct ImageReference {
    /// The digest the reference pins, if any.
    std::optional<Digest> digest;
    /// Host[:port]; a first component is a registry when it holds "." or
    /// ":" or is "localhost".
    std::string registry;
    /// Lower-case path components joined by "/".
    std::string repository;
    /// Empty when the reference has only a digest. (Strings last: a
    /// Result's value must not end in padding with libc++ 16.)
    std::string tag;

    /// "docker.io/library/busybox:latest", "…/web@sha256:…",
    /// "…/web:1@sha256:…": what keel stores and lists.
    std::string str() const;
    /// As Docker shows it: "busybox:latest", "127.0.0.1:5000/web:1".
    std::string familiar() const;
};

/// Parses `text`; the error says which part is malformed (upper-case
/// repository, empty component, tag longer than 128, bad digest).
Result<ImageReference> parse_image_reference(std::string_view text);

} // namespace keel::oci
