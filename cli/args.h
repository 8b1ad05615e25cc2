// The command line's one parser. Each command declares what it takes:
// flags, options with a value, positional arguments, what `--` passes
// through, or subcommands; from that one declaration come the parsing, the
// checks of typed values, usage errors that name the argument, the --help
// text of the command and the listing in its group's help.
//
//     const Command kLogs{
//         .names = {"logs"},
//         .summary = "the journal: service output and unit events",
//         .options = {{.name = "--follow", .short_name = 'f', .help = "..."},
//                     {.name = "--lines", .short_name = 'n', .value_name = "N",
//                      .type = ValueType::Number, .max = 100000,
//                      .expected = "a number of lines", .help = "..."}},
//         .positionals = {{.name = "UNIT", .count = Count::Optional, .noun = "unit"}},
//         .run = command_logs,
//     };
//
// `keel logs -n x` then fails with "logs: -n: expected a number of lines,
// got `x` (see `keel logs --help`)", exit status 2, before command_logs runs.
#pragma once

#include "base/result.h"
#include "cli/output.h"

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace keel::cli {

/// What an option takes, and how its value is checked.
enum class ValueType {
    None,    ///< nothing: a flag (`--json`)
    Text,    ///< any text (`--root DIR`)
    Number,  ///< a whole decimal number up to Option::max (`-n 20`)
    Seconds, ///< seconds with up to three decimals, up to Option::max (`--timeout 0.5`)
};

/// Whether an option that takes a value must be given one.
enum class ValueNeed {
    Required, ///< `--root DIR` or `--root=DIR` (`-n 5` or `-n5` for a short name)
    Optional, ///< `--pid` alone, or `--pid=PID`: the value only attached with `=`
};

/// Whether an option must be given.
enum class Presence {
    Optional, ///< `[--output FILE]`
    Required, ///< `--key FILE`: the command cannot run without it
};

/// What happens when an option is given more than once.
enum class Repeat {
    LastWins, ///< the last value counts
    Collect,  ///< every value is kept, in order (`--units A --units B`)
};

/// Where an option appears in help.
enum class Shown {
    InSynopsis,   ///< in the usage line and in the option list
    InOptionList, ///< only in the option list (options every subcommand of a group takes)
};

/// A flag (`--json`, `-f/--follow`) or an option with a value (`-n/--lines N`).
struct Option {
    /// The long spelling, dashes included: "--lines".
    std::string_view name;
    /// 'n' for `-n`; none when '\0'.
    char short_name = '\0';
    /// The value's placeholder in help: "N", "DIR"; empty for a flag.
    std::string_view value_name = {};
    ValueType type = ValueType::None;
    ValueNeed need = ValueNeed::Required;
    Presence presence = Presence::Optional;
    Repeat repeat = Repeat::LastWins;
    Shown shown = Shown::InSynopsis;
    /// The largest Number, or the most Seconds, accepted (0: no limit).
    uint64_t max = 0;
    /// What a bad value should have been, for the error: "a number of
    /// lines". Empty: what the type says ("a number", "seconds, like 60 or 0.5").
    std::string_view expected = {};
    /// One line (wrapped if longer) for the option list of --help.
    std::string_view help = {};
};

/// `--json`, which every listing takes.
inline constexpr Option kJsonOption{.name = "--json", .help = "print JSON"};

/// How many arguments a positional takes.
enum class Count {
    One,       ///< exactly one: NAME
    Optional,  ///< none or one: [UNIT]
    OneOrMore, ///< at least one: UNIT...
    Any,       ///< any number: [PATTERN...]
};

/// A positional argument, or what follows `--`.
struct Positional {
    /// As help shows it: "UNIT", "FILE.ko", "KEY=VALUE".
    std::string_view name;
    Count count = Count::One;
    /// What one is called in errors: "no unit given", "more than one unit".
    std::string_view noun = {};
};

/// Where a command's options may appear.
enum class OptionsEnd {
    /// Anywhere, up to `--`.
    AtDashes,
    /// Up to the argument that starts the last positional (a command to
    /// run: `exec ID COMMAND ARGS...`); it and all that follow are taken
    /// as they are, dashes and all, as for `-- COMMAND...`.
    AtLastPositional,
    /// Up to the first positional argument (an image, then its command:
    /// `run [OPTIONS] IMAGE [COMMAND ARGS...]`, as docker has it); it and all
    /// that follow are taken as they are.
    AtFirstPositional,
};

/// Whether one-letter options may share a dash.
enum class ShortOptions {
    /// `-f -n 5`; `-fn` is an unknown option.
    Separate,
    /// `-it` is `-i -t`; the last may take a value, attached or next
    /// (`-de K=V`, `-deK=V`), as docker and getopt read them.
    Combinable,
};

class ParsedArgs;

/// What runs a command once its arguments are parsed.
using Run = CommandResult (*)(const ParsedArgs& args);

/// A command's declaration: a leaf that takes arguments and has `run`, or a
/// group whose first argument names one of its `subcommands`.
struct Command {
    /// The verbs that take these arguments: {"start", "stop", "restart", "reload"}.
    std::vector<std::string_view> names;
    /// What it does, for help (wrapped to the terminal's width).
    std::string_view summary;
    std::vector<Option> options = {};
    /// In order; only the last may be Optional, OneOrMore or Any.
    std::vector<Positional> positionals = {};
    /// What `--` passes through as it is (`-- COMMAND...`). Without it, `--`
    /// only ends the options: what follows are positional arguments.
    std::optional<Positional> after_dashes = {};
    OptionsEnd options_end = OptionsEnd::AtDashes;
    ShortOptions short_options = ShortOptions::Separate;
    /// Paragraphs printed (wrapped) at the end of the help, separated by
    /// blank lines.
    std::string_view notes = {};
    /// A group's commands, in the order its help lists them.
    std::vector<const Command*> subcommands = {};
    Run run = nullptr;
};

/// What one argument on the command line was, in the order given.
struct ParsedItem {
    /// The option given, or nullptr for a positional argument.
    const Option* option = nullptr;
    /// The positional this argument was taken for (nullptr for an option).
    const Positional* positional = nullptr;
    /// The option's value (none for a flag or `--pid` alone), or the argument.
    std::optional<std::string> value;
};

/// A command line, checked against its command's declaration. Options and
/// positionals are looked up by the name they were declared with.
class ParsedArgs {
public:
    /// The words that named the command after `keel`: "status", "patch load".
    const std::string& command() const { return m_command; }
    /// The last of those words, the verb: "load", "stop".
    std::string_view verb() const;
    /// True when -h or --help was given: help, not the command, runs.
    bool help_requested() const { return m_help; }

    /// Whether the option `name` (a flag or not) was given.
    bool flag(std::string_view name) const;
    /// The option's last value.
    std::optional<std::string_view> value(std::string_view name) const;
    /// Every value of a Repeat::Collect option, in order.
    std::vector<std::string_view> values(std::string_view name) const;
    /// A ValueType::Number option's last value.
    std::optional<uint64_t> number(std::string_view name) const;
    /// A ValueType::Seconds option's last value.
    std::optional<std::chrono::milliseconds> seconds(std::string_view name) const;

    /// The argument taken for a positional of Count::One or Optional.
    std::optional<std::string_view> positional(std::string_view name) const;
    /// Every argument taken for a positional, in order.
    std::vector<std::string_view> positionals(std::string_view name) const;
    /// What followed `--` when the command passes it through.
    const std::vector<std::string>& passed_through() const { return m_passed_through; }

    /// Every option and positional argument, in the order given.
    const std::vector<ParsedItem>& items() const { return m_items; }

private:
    friend Result<ParsedArgs> parse(const Command&, std::string_view,
                                    std::span<const std::string_view>);

    const ParsedItem* last_option(std::string_view name) const;

    std::string m_command;
    bool m_help = false;
    std::vector<ParsedItem> m_items;
    std::vector<std::string> m_passed_through;
};

/// Parses `args` (what follows the command's words) for the leaf `command`,
/// invoked as `invoked` ("status", "patch load"). Errors are usage errors:
/// "<verb>: <what is wrong, naming the argument> (see `keel <invoked> --help`)".
Result<ParsedArgs> parse(const Command& command, std::string_view invoked,
                         std::span<const std::string_view> args);

/// The usage line's arguments: "[--json] [-n N] [UNIT...]".
std::string synopsis(const Command& command);
/// The help of a leaf command: usage line, summary, options, notes.
std::string help_text(const Command& command, std::string_view invoked);
/// The help of a group (`invoked` empty for keel itself): usage line, one
/// entry per subcommand, notes.
std::string group_help_text(const Command& group, std::string_view invoked);

/// A usage error (exit status 2) raised by a command after parsing, in the
/// parser's words: "<verb>: <problem> (see `keel <command> --help`)".
std::unexpected<Failure> usage_error(const ParsedArgs& args, std::string_view problem);

/// Runs `command` on `args`: a group picks its subcommand (help, -h and
/// --help print the group's help; nothing at all prints it to stderr, exit
/// status 2), a leaf is parsed and run (or its help printed). Errors inside
/// a group are wrapped in the group's name: "patch: load: ...".
CommandResult dispatch(const Command& command, std::string_view invoked,
                       std::span<const std::string_view> args);

} // namespace keel::cli
