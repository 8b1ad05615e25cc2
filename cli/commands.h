// The subcommands of `keel`.
#pragma once

#include <span>
#include <string_view>

namespace keel {

/// Each takes the arguments after the subcommand name and returns the exit status.
int command_init(std::span<char*> args);
int command_power(std::string_view verb, std::span<char*> args);
int command_status(std::span<char*> args);
int command_sha256(std::span<char*> args);
int command_modprobe(std::span<char*> args);
int command_patch(std::span<char*> args); // cli/patch_commands.cpp

} // namespace keel
