// `keel update sign|pack|verify|install`: update payloads from the command
// line (update/pack.h, update/install.h): publishers pack and sign,
// machines verify and install into the inactive slot.
#pragma once

#include "cli/args.h"

#include <string>

namespace keel::cli {

/// `--trusted DIR`: the trusted public keys (default /etc/keel/trusted.d),
/// for the payload commands and `keel update check`.
extern const Option kTrustedOption;
/// --trusted's directory, or the default.
std::string trusted_directory(const ParsedArgs& args);

/// `keel update sign --key KEY FILE`: FILE.sig.
extern const Command kUpdateSignCommand;
/// `keel update pack ...`: a payload directory.
extern const Command kUpdatePackCommand;
/// `keel update verify DIR`: a payload checked against trusted keys.
extern const Command kUpdateVerifyCommand;
/// `keel update install DIR|MANIFEST`: a payload into the inactive slot.
extern const Command kUpdateInstallCommand;

} // namespace keel::cli
