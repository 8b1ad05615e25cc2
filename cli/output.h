// What the commands print and how they end: stdout and stderr, the exit
// statuses every command shares, the one place a failure becomes
// "keel: ..." on stderr, table cells, colours for terminals, and times as
// people read them.
#pragma once

#include "base/result.h"

#include <cstddef>
#include <cstdint>
#include <expected>
#include <string>
#include <string_view>

namespace keel::cli {

/// The command did what it was asked.
inline constexpr int kExitSuccess = 0;
/// The command failed (init refused, a file could not be read, ...).
inline constexpr int kExitFailure = 1;
/// The command line did not say what to do: an unknown option, a missing
/// argument, a value that is not what the option takes.
inline constexpr int kExitUsage = 2;

/// How a command failed: the exit status that says so, and the error that
/// `keel: ` is put before on stderr. Made from a plain Error (status 1), so
/// TRY works on any Result inside a command.
struct Failure {
    Failure(Error error, int status = kExitFailure) : status(status), error(std::move(error)) {}

    // The status first: no tail padding for std::expected's flag (base/result.h).
    int status;
    Error error;
};

/// What a command returns: its exit status, or how it failed.
using CommandResult = std::expected<int, Failure>;

/// A usage error (exit status 2) saying `message` as it is.
std::unexpected<Failure> usage_error(std::string message);

/// Writes `text` to stdout and flushes it, so that it keeps its place among
/// what goes to stderr.
void print(std::string_view text);
/// Writes `text` to stderr as it is.
void print_error(std::string_view text);
/// "keel: <error>" on stderr, for a command that goes on after an error.
void report(const Error& error);
/// The exit status of a command's result; a failure is reported first.
int finish(const CommandResult& result);

/// `text` padded with spaces to `width` columns (left as it is when longer).
std::string pad(std::string_view text, size_t width);
/// A table cell: `text` padded to `width`, then the space that ends the cell.
std::string cell(std::string_view text, size_t width);

/// Sizes as Docker prints them.
enum class SizeUnits {
    Decimal, ///< "4.26MB": powers of 1000, three digits (image sizes)
    Binary,  ///< "1.984MiB": powers of 1024, four digits (docker stats)
};
std::string human_size(uint64_t bytes, SizeUnits units);

/// The colours keel's output uses, by what they mean in systemctl's output.
enum class Color {
    Red,    ///< failed, did not load
    Green,  ///< active
    Yellow, ///< on its way: activating, deactivating, reloading
};

/// Whether output is coloured.
enum class Coloring {
    Off,
    On,
};

/// On when stdout is a terminal that takes colours (and NO_COLOR is unset).
Coloring terminal_coloring();

/// `text` wrapped in the ANSI escape for `color`, or as it is when
/// `coloring` is Off.
std::string colored(std::string_view text, Color color, Coloring coloring);

/// "Nov 23 06:18:53" in local time, for a CLOCK_REALTIME microsecond stamp.
std::string short_time(uint64_t realtime_usec);
/// "Sat 2024-11-23 06:18:53 UTC".
std::string long_time(uint64_t realtime_usec);
/// "5min 3s", "2h 1min", "3 days": how long ago, roughly.
std::string time_span(uint64_t usec);
/// CLOCK_REALTIME now, in microseconds.
uint64_t realtime_usec();

} // namespace keel::cli
