// cli/args.h: the one command-line parser. Flags, options with and without
// `=`, repeated and typed options, positionals, `--`, the errors that name
// the argument, the help generated from the declaration, and dispatch into
// groups of commands.
#include "cli/args.h"

#include <doctest/doctest.h>
#include <initializer_list>
#include <string>
#include <vector>

namespace {

using keel::cli::Command;
using keel::cli::Count;
using keel::cli::ParsedArgs;
using keel::cli::Presence;
using keel::cli::Repeat;
using keel::cli::Shown;
using keel::cli::ValueNeed;
using keel::cli::ValueType;

const Command kLogs{
    .names = {"logs"},
    .summary = "the journal: service output and unit events",
    .options = {{.name = "--follow", .short_name = 'f', .help = "keep printing new lines"},
                {.name = "--lines",
                 .short_name = 'n',
                 .value_name = "N",
                 .type = ValueType::Number,
                 .max = 100000,
                 .expected = "a number of lines",
                 .help = "the last N lines first"},
                {.name = "--json", .help = "print JSON"},
                {.name = "--root",
                 .value_name = "DIR",
                 .type = ValueType::Text,
                 .shown = Shown::InOptionList,
                 .help = "where to look"}},
    .positionals = {{.name = "UNIT", .count = Count::Optional, .noun = "unit"}},
};

const Command kInit{
    .names = {"init"},
    .summary = "run as init",
    .options = {{.name = "--units",
                 .value_name = "DIR",
                 .type = ValueType::Text,
                 .repeat = Repeat::Collect,
                 .help = "read unit files from DIR"},
                {.name = "--control-socket",
                 .value_name = "PATH",
                 .type = ValueType::Text,
                 .help = "listen at PATH"}},
    .after_dashes =
        keel::cli::Positional{.name = "COMMAND", .count = Count::Any, .noun = "command"},
};

const Command kRun{
    .names = {"run"},
    .summary = "run COMMAND in a group",
    .options = {{.name = "--timeout",
                 .value_name = "SECONDS",
                 .type = ValueType::Seconds,
                 .max = 60,
                 .help = "how long to wait"}},
    .positionals = {{.name = "NAME", .noun = "group name"}},
    .after_dashes =
        keel::cli::Positional{.name = "COMMAND", .count = Count::OneOrMore, .noun = "command"},
};

const Command kStartCommand{
    .names = {"start", "stop"},
    .summary = "queue jobs",
    .options = {{.name = "--no-block", .help = "do not wait"}},
    .positionals = {{.name = "UNIT", .count = Count::OneOrMore, .noun = "unit"}},
};

const Command kNotify{
    .names = {"notify"},
    .summary = "send sd_notify messages",
    .options = {{.name = "--ready", .help = "READY=1"},
                {.name = "--status", .value_name = "TEXT", .type = ValueType::Text, .help = "x"},
                {.name = "--pid",
                 .value_name = "PID",
                 .type = ValueType::Text,
                 .need = ValueNeed::Optional,
                 .help = "MAINPID="}},
    .positionals = {{.name = "KEY=VALUE", .count = Count::Any, .noun = "assignment"}},
};

const Command kSign{
    .names = {"sign"},
    .summary = "write the detached signature",
    .options = {{.name = "--key",
                 .value_name = "FILE",
                 .type = ValueType::Text,
                 .presence = Presence::Required,
                 .help = "the private key"}},
    .positionals = {{.name = "MODULE", .noun = "module file"}},
};

const Command kPower{.names = {"poweroff"}, .summary = "end the system"};

keel::Result<ParsedArgs> parse_invocation(const Command& command, std::string_view invoked,
                                          std::initializer_list<std::string_view> args) {
    std::vector<std::string_view> list(args);
    return keel::cli::parse(command, invoked, list);
}

std::string parse_error(const Command& command, std::string_view invoked,
                        std::initializer_list<std::string_view> args) {
    auto parsed = parse_invocation(command, invoked, args);
    REQUIRE_FALSE(parsed);
    return parsed.error().to_string();
}

std::vector<std::string> strings(const std::vector<std::string_view>& views) {
    return std::vector<std::string>(views.begin(), views.end());
}

} // namespace

TEST_CASE("flags are given by their long or short name, anywhere among the arguments") {
    auto parsed = parse_invocation(kLogs, "logs", {"web", "-f", "--json"});
    REQUIRE(parsed);
    CHECK(parsed->flag("--follow"));
    CHECK(parsed->flag("--json"));
    CHECK(parsed->positional("UNIT") == "web");

    auto none = parse_invocation(kLogs, "logs", {});
    REQUIRE(none);
    CHECK_FALSE(none->flag("--follow"));
    CHECK_FALSE(none->positional("UNIT"));
    CHECK_FALSE(none->help_requested());
}

TEST_CASE("an option's value follows it, or is attached with = (or directly to a short name)") {
    for (auto args :
         {std::vector<std::string_view>{"-n", "5"}, {"-n5"}, {"--lines", "5"}, {"--lines=5"}}) {
        auto parsed = keel::cli::parse(kLogs, "logs", args);
        REQUIRE(parsed);
        CHECK(parsed->number("--lines") == 5u);
        CHECK(parsed->value("--lines") == "5");
    }
    auto empty = parse_invocation(kLogs, "logs", {"--root="});
    REQUIRE(empty);
    CHECK(empty->value("--root") == "");
    auto dashed = parse_invocation(kLogs, "logs", {"--root", "-x"});
    REQUIRE(dashed);
    CHECK(dashed->value("--root") == "-x");
}

TEST_CASE("a repeatable option keeps every value in order; any other keeps the last") {
    auto parsed = parse_invocation(
        kInit, "init",
        {"--units", "/a", "--control-socket", "/s1", "--units=/b", "--control-socket=/s2"});
    REQUIRE(parsed);
    CHECK(strings(parsed->values("--units")) == std::vector<std::string>{"/a", "/b"});
    CHECK(parsed->value("--control-socket") == "/s2");
}

TEST_CASE("an option without its value is an error that names it") {
    CHECK(parse_error(kLogs, "logs", {"-n"}) == "logs: -n needs a value (see `keel logs --help`)");
    CHECK(parse_error(kInit, "init", {"--units"}) ==
          "init: --units needs a value (see `keel init --help`)");
}

TEST_CASE("an unknown option is named as it was typed, with where to find the right ones") {
    CHECK(parse_error(kLogs, "logs", {"--jsn"}) ==
          "logs: unknown option `--jsn` (see `keel logs --help`)");
    CHECK(parse_error(kLogs, "logs", {"--jsn=1"}) ==
          "logs: unknown option `--jsn` (see `keel logs --help`)");
    CHECK(parse_error(kLogs, "logs", {"-x"}) ==
          "logs: unknown option `-x` (see `keel logs --help`)");
    // Short flags do not cluster: -fn is not -f -n.
    CHECK(parse_error(kLogs, "logs", {"-fn"}) ==
          "logs: unknown option `-fn` (see `keel logs --help`)");
    CHECK(parse_error(kLogs, "logs", {"--json=yes"}) ==
          "logs: --json takes no value (see `keel logs --help`)");
}

TEST_CASE("a number is checked by the parser, and the error names the option and the value") {
    CHECK(parse_error(kLogs, "logs", {"-n", "x"}) ==
          "logs: -n: expected a number of lines, got `x` (see `keel logs --help`)");
    CHECK(parse_error(kLogs, "logs", {"--lines=-1"}) ==
          "logs: --lines: expected a number of lines, got `-1` (see `keel logs --help`)");
    CHECK(parse_error(kLogs, "logs", {"-n", "100001"}) ==
          "logs: -n: expected a number of lines (at most 100000), got `100001` (see `keel logs "
          "--help`)");
    auto largest = parse_invocation(kLogs, "logs", {"-n", "100000"});
    REQUIRE(largest);
    CHECK(largest->number("--lines") == 100000u);
}

TEST_CASE("seconds take up to three decimals and are read as milliseconds") {
    auto half = parse_invocation(kRun, "run", {"--timeout", "0.5", "g", "--", "true"});
    REQUIRE(half);
    CHECK(half->seconds("--timeout") == std::chrono::milliseconds(500));
    auto whole = parse_invocation(kRun, "run", {"--timeout=60", "g", "--", "true"});
    REQUIRE(whole);
    CHECK(whole->seconds("--timeout") == std::chrono::milliseconds(60000));
    for (std::string_view bad : {"x", "1.", "0.1234", ".5", "1.x", ""})
        CHECK(parse_error(kRun, "run", {"--timeout", bad, "g", "--", "true"}) ==
              "run: --timeout: expected seconds, like 60 or 0.5, got `" + std::string(bad) +
                  "` (see `keel run --help`)");
    CHECK(parse_error(kRun, "run", {"--timeout", "60.001", "g", "--", "true"}) ==
          "run: --timeout: expected seconds, like 60 or 0.5 (at most 60), got `60.001` (see "
          "`keel run --help`)");
}

TEST_CASE("an option whose value is optional takes it only when attached with =") {
    auto bare = parse_invocation(kNotify, "notify", {"--pid"});
    REQUIRE(bare);
    CHECK(bare->flag("--pid"));
    CHECK_FALSE(bare->value("--pid"));
    auto attached = parse_invocation(kNotify, "notify", {"--pid=42"});
    REQUIRE(attached);
    CHECK(attached->value("--pid") == "42");
    auto separate = parse_invocation(kNotify, "notify", {"--pid", "A=1"});
    REQUIRE(separate);
    CHECK_FALSE(separate->value("--pid"));
    CHECK(strings(separate->positionals("KEY=VALUE")) == std::vector<std::string>{"A=1"});
}

TEST_CASE("a required option that is missing is named with its value") {
    CHECK(parse_error(kSign, "patch sign", {"m.ko"}) ==
          "sign: needs --key FILE (see `keel patch sign --help`)");
    auto parsed = parse_invocation(kSign, "patch sign", {"--key", "k.pem", "m.ko"});
    REQUIRE(parsed);
    CHECK(parsed->value("--key") == "k.pem");
    CHECK(parsed->verb() == "sign");
    CHECK(parsed->command() == "patch sign");
}

TEST_CASE("a required positional that is missing is named by what it is") {
    CHECK(parse_error(kStartCommand, "start", {"--no-block"}) ==
          "start: no unit given (see `keel start --help`)");
    CHECK(parse_error(kRun, "run", {}) == "run: no group name given (see `keel run --help`)");
}

TEST_CASE("a repeated positional takes every argument in order") {
    auto parsed = parse_invocation(kStartCommand, "stop", {"a", "--no-block", "b", "c"});
    REQUIRE(parsed);
    CHECK(strings(parsed->positionals("UNIT")) == std::vector<std::string>{"a", "b", "c"});
    CHECK(parsed->verb() == "stop");
    CHECK(parsed->flag("--no-block"));
}

TEST_CASE("one argument too many says which two were given") {
    CHECK(parse_error(kLogs, "logs", {"a", "b"}) ==
          "logs: more than one unit (`a`, `b`) (see `keel logs --help`)");
    CHECK(parse_error(kRun, "run", {"a", "b"}) ==
          "run: more than one group name (`a`, `b`); put the command after -- (see `keel run "
          "--help`)");
    CHECK(parse_error(kPower, "poweroff", {"now"}) ==
          "poweroff: takes no arguments (see `keel poweroff --help`)");
}

TEST_CASE("what follows -- is passed through as it is when the command takes a command") {
    auto parsed =
        parse_invocation(kInit, "init", {"--units", "/u", "--", "sh", "-c", "--units", "--"});
    REQUIRE(parsed);
    CHECK(parsed->passed_through() == std::vector<std::string>{"sh", "-c", "--units", "--"});
    CHECK(strings(parsed->values("--units")) == std::vector<std::string>{"/u"});

    auto without = parse_invocation(kInit, "init", {});
    REQUIRE(without);
    CHECK(without->passed_through().empty());

    CHECK(parse_error(kRun, "run", {"g"}) == "run: no command given (see `keel run --help`)");
    CHECK(parse_error(kRun, "run", {"g", "--"}) == "run: no command given (see `keel run --help`)");
}

TEST_CASE("without a command to pass through, -- only ends the options") {
    auto parsed = parse_invocation(kStartCommand, "start", {"--", "--no-block", "-h"});
    REQUIRE(parsed);
    CHECK_FALSE(parsed->flag("--no-block"));
    CHECK_FALSE(parsed->help_requested());
    CHECK(strings(parsed->positionals("UNIT")) == std::vector<std::string>{"--no-block", "-h"});
    // A lone dash is an argument, as stdin's name by custom.
    auto dash = parse_invocation(kStartCommand, "start", {"-"});
    REQUIRE(dash);
    CHECK(strings(dash->positionals("UNIT")) == std::vector<std::string>{"-"});
}

TEST_CASE("-h and --help ask for help even when arguments are missing") {
    for (std::string_view help : {"-h", "--help"}) {
        auto parsed = parse_invocation(kRun, "run", {help});
        REQUIRE(parsed);
        CHECK(parsed->help_requested());
    }
    CHECK(parse_error(kRun, "run", {"--bogus", "--help"}) ==
          "run: unknown option `--bogus` (see `keel run --help`)");
}

TEST_CASE("every option and argument is kept in the order given") {
    auto parsed =
        parse_invocation(kNotify, "notify", {"B=2", "--ready", "--status=up", "A=1", "--pid"});
    REQUIRE(parsed);
    std::vector<std::string> seen;
    for (const keel::cli::ParsedItem& item : parsed->items())
        seen.push_back(item.option ? std::string(item.option->name) + "=" + item.value.value_or("")
                                   : std::string(item.positional->name) + ":" + *item.value);
    CHECK(seen == std::vector<std::string>{"KEY=VALUE:B=2", "--ready=", "--status=up",
                                           "KEY=VALUE:A=1", "--pid="});
}

TEST_CASE("the synopsis shows options, then positionals, then what -- passes through") {
    CHECK(keel::cli::synopsis(kLogs) == "[-f|--follow] [-n|--lines N] [--json] [UNIT]");
    CHECK(keel::cli::synopsis(kInit) == "[--units DIR]... [--control-socket PATH] [-- COMMAND...]");
    CHECK(keel::cli::synopsis(kRun) == "[--timeout SECONDS] NAME -- COMMAND...");
    CHECK(keel::cli::synopsis(kStartCommand) == "[--no-block] UNIT...");
    CHECK(keel::cli::synopsis(kNotify) == "[--ready] [--status TEXT] [--pid[=PID]] [KEY=VALUE...]");
    CHECK(keel::cli::synopsis(kSign) == "--key FILE MODULE");
    CHECK(keel::cli::synopsis(kPower).empty());
}

TEST_CASE("a command's help is generated from its declaration") {
    CHECK(keel::cli::help_text(kLogs, "logs") ==
          "usage: keel logs [-f|--follow] [-n|--lines N] [--json] [UNIT]\n"
          "\n"
          "the journal: service output and unit events\n"
          "\n"
          "options:\n"
          "  -f, --follow    keep printing new lines\n"
          "  -n, --lines N   the last N lines first\n"
          "      --json      print JSON\n"
          "      --root DIR  where to look\n"
          "  -h, --help      print this help\n");
}

TEST_CASE("a group's help lists each command with its synopsis and summary, and help") {
    Command group{.names = {"cgroup"},
                  .summary = "groups by hand",
                  .notes = "Every command takes --root DIR.\n",
                  .subcommands = {&kRun, &kStartCommand, &kPower}};
    CHECK(keel::cli::group_help_text(group, "cgroup") ==
          "usage: keel cgroup <command> [options]\n"
          "\n"
          "  run [--timeout SECONDS] NAME -- COMMAND...\n"
          "                      run COMMAND in a group\n"
          "  start | stop [--no-block] UNIT...\n"
          "                      queue jobs\n"
          "  poweroff            end the system\n"
          "  help                print this help\n"
          "\n"
          "Every command takes --root DIR.\n");
    Command top{.names = {"keel"}, .summary = "keel", .subcommands = {&group}};
    CHECK(keel::cli::group_help_text(top, "") == "usage: keel <command> [options]\n"
                                                 "\n"
                                                 "  cgroup run|start|stop|poweroff ...\n"
                                                 "                      groups by hand\n"
                                                 "  help                print this help\n");
}

TEST_CASE("long summaries and notes are wrapped to 80 columns") {
    Command wordy{.names = {"wordy"},
                  .summary = "one two three four five six seven eight nine ten eleven twelve "
                             "thirteen fourteen fifteen sixteen",
                  .notes = "First paragraph,\nrewrapped.\n\nSecond."};
    std::string help = keel::cli::help_text(wordy, "wordy");
    CHECK(help.find("fourteen\nfifteen sixteen\n") != std::string::npos);
    CHECK(help.find("\nFirst paragraph, rewrapped.\n\nSecond.\n") != std::string::npos);
}

namespace {

std::vector<std::string> g_ran;

keel::cli::CommandResult record_command(const ParsedArgs& args) {
    g_ran.push_back(args.command());
    return 7;
}

keel::cli::CommandResult refuse(const ParsedArgs& args) {
    return keel::cli::usage_error(args, "`x` is not KEY=VALUE");
}

} // namespace

TEST_CASE("dispatch runs the command a group's first argument names") {
    Command show{.names = {"show", "list"}, .summary = "show", .run = record_command};
    Command bad{.names = {"bad"}, .summary = "refuses", .run = refuse};
    Command group{.names = {"patch"}, .summary = "patches", .subcommands = {&show, &bad}};
    Command top{.names = {"keel"}, .summary = "keel", .subcommands = {&group}};
    g_ran.clear();

    std::vector<std::string_view> list = {"patch", "list"};
    CHECK(keel::cli::dispatch(top, "", list) == 7);
    CHECK(g_ran == std::vector<std::string>{"patch list"});

    std::vector<std::string_view> unknown = {"patch", "lst"};
    auto result = keel::cli::dispatch(top, "", unknown);
    REQUIRE_FALSE(result);
    CHECK(result.error().status == keel::cli::kExitUsage);
    CHECK(result.error().error.to_string() ==
          "patch: unknown command `lst` (see `keel patch help`)");

    std::vector<std::string_view> option = {"patch", "show", "--bogus"};
    result = keel::cli::dispatch(top, "", option);
    REQUIRE_FALSE(result);
    CHECK(result.error().status == keel::cli::kExitUsage);
    CHECK(result.error().error.to_string() ==
          "patch: show: unknown option `--bogus` (see `keel patch show --help`)");

    std::vector<std::string_view> refused = {"patch", "bad"};
    result = keel::cli::dispatch(top, "", refused);
    REQUIRE_FALSE(result);
    CHECK(result.error().status == keel::cli::kExitUsage);
    CHECK(result.error().error.to_string() ==
          "patch: bad: `x` is not KEY=VALUE (see `keel patch bad --help`)");

    std::vector<std::string_view> top_unknown = {"frobnicate"};
    result = keel::cli::dispatch(top, "", top_unknown);
    REQUIRE_FALSE(result);
    CHECK(result.error().error.to_string() == "unknown command `frobnicate` (see `keel help`)");
    CHECK(g_ran.size() == 1);
}

TEST_CASE("options end where a command to run starts: its own options are its arguments") {
    const Command exec{
        .names = {"exec"},
        .summary = "run a command",
        .options = {{.name = "--env",
                     .short_name = 'e',
                     .value_name = "KEY=VALUE",
                     .type = ValueType::Text,
                     .repeat = Repeat::Collect}},
        .positionals = {{.name = "ID"}, {.name = "COMMAND", .count = Count::Any}},
        .options_end = keel::cli::OptionsEnd::AtLastPositional,
    };
    auto parsed =
        parse_invocation(exec, "exec", {"-e", "A=1", "box", "-e", "B=2", "ls", "-l", "--", "x"});
    REQUIRE(parsed);
    CHECK(strings(parsed->values("--env")) == std::vector<std::string>{"A=1", "B=2"});
    CHECK(parsed->positional("ID") == "box");
    CHECK(strings(parsed->positionals("COMMAND")) ==
          std::vector<std::string>{"ls", "-l", "--", "x"});

    auto no_command = parse_invocation(exec, "exec", {"box", "-e", "A=1"});
    REQUIRE(no_command);
    CHECK(no_command->positionals("COMMAND").empty());
    CHECK(strings(no_command->values("--env")) == std::vector<std::string>{"A=1"});

    // Without it, a dash after the command is still an option.
    Command anywhere = exec;
    anywhere.options_end = keel::cli::OptionsEnd::AtDashes;
    CHECK(parse_error(anywhere, "exec", {"box", "ls", "-l"}) ==
          "exec: unknown option `-l` (see `keel exec --help`)");
}

TEST_CASE("a command may end its options at its first positional, as docker run does") {
    const Command run{
        .names = {"run"},
        .summary = "run an image",
        .options = {{.name = "--rm"}},
        .positionals = {{.name = "IMAGE"}, {.name = "COMMAND", .count = Count::Any}},
        .options_end = keel::cli::OptionsEnd::AtFirstPositional,
    };
    auto parsed = parse_invocation(run, "run", {"--rm", "busybox", "-l", "--rm"});
    REQUIRE(parsed);
    CHECK(parsed->flag("--rm"));
    CHECK(parsed->positional("IMAGE") == "busybox");
    CHECK(strings(parsed->positionals("COMMAND")) == std::vector<std::string>{"-l", "--rm"});
    // Only the one --rm before the image counts.
    int given = 0;
    for (const auto& item : parsed->items())
        given += item.option != nullptr;
    CHECK(given == 1);
}

TEST_CASE("short flags combine only where the command says so, the last one taking a value") {
    Command run{
        .names = {"run"},
        .summary = "run an image",
        .options = {{.name = "--interactive", .short_name = 'i'},
                    {.name = "--tty", .short_name = 't'},
                    {.name = "--env",
                     .short_name = 'e',
                     .value_name = "KEY=VALUE",
                     .type = ValueType::Text,
                     .repeat = Repeat::Collect},
                    {.name = "--hostname",
                     .short_name = 'h',
                     .value_name = "NAME",
                     .type = ValueType::Text}},
        .positionals = {{.name = "IMAGE", .count = Count::Optional}},
        .short_options = keel::cli::ShortOptions::Combinable,
    };
    auto parsed = parse_invocation(run, "run", {"-it", "-ie", "A=1", "-teB=2", "img"});
    REQUIRE(parsed);
    CHECK(parsed->flag("--interactive"));
    CHECK(parsed->flag("--tty"));
    CHECK(strings(parsed->values("--env")) == std::vector<std::string>{"A=1", "B=2"});
    CHECK(parse_error(run, "run", {"-ix"}) == "run: unknown option `-x` (see `keel run --help`)");
    CHECK(parse_error(run, "run", {"-ie"}) == "run: -e needs a value (see `keel run --help`)");
    // -h is the command's own option when it declares one; --help stays help.
    auto host = parse_invocation(run, "run", {"-h", "web"});
    REQUIRE(host);
    CHECK(host->value("--hostname") == "web");
    CHECK_FALSE(host->help_requested());
    CHECK(parse_invocation(run, "run", {"--help"})->help_requested());
    CHECK(keel::cli::help_text(run, "run").find("    --help") != std::string::npos);

    run.short_options = keel::cli::ShortOptions::Separate;
    CHECK(parse_error(run, "run", {"-it"}) == "run: unknown option `-it` (see `keel run --help`)");
}
