// `keel image ...`: the image store from the command line, as `docker
// image` spells it: load, import, ls, inspect, rm, prune (and, from the
// registry client, pull). Every verb takes --store DIR (default
// $KEEL_IMAGE_STORE or /var/lib/keel).
#pragma once

#include "cli/args.h"
#include "containers/containers.h"

#include <string_view>

namespace keel::cli {

/// The `image` group.
extern const Command kImageCommand;

/// The store --store names, else $KEEL_IMAGE_STORE's, else the default.
containers::ImageStoreOptions store_of(const ParsedArgs& args);

/// When `keel run` (docker run's --pull) pulls its image.
enum class PullPolicy { Missing, Always, Never };
inline constexpr auto kPullPolicyNames = name_table<PullPolicy>({
    {PullPolicy::Missing, "missing"},
    {PullPolicy::Always, "always"},
    {PullPolicy::Never, "never"},
});

/// Pulls `reference` into `store` for `keel run` as `keel image pull`
/// does, unless `policy` says not to: Missing pulls only an image the
/// store does not have ("Unable to find image 'REF' locally", as Docker
/// says it), Always every time, Never not at all. Progress goes to
/// stderr; the registries in $KEEL_INSECURE_REGISTRIES are spoken to over
/// plain HTTP, as `--insecure-registry` makes `keel image pull` do.
Result<void> pull_for_run(const containers::ImageStoreOptions& store, std::string_view reference,
                          PullPolicy policy);

} // namespace keel::cli
