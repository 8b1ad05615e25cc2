// `keel update check` and `keel update download`: the update source
// (update/source.h) from the command line.
#pragma once

#include "cli/args.h"

namespace keel::cli {

/// `keel update check`: what runs, what the channel offers, the decision.
extern const Command kUpdateCheckCommand;
/// `keel update download`: an image URL to a file through the resumable
/// ImageSource (for publishers' checks and tests; installing reads the same
/// source).
extern const Command kUpdateDownloadCommand;

} // namespace keel::cli
