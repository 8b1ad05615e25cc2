// The parser, the help texts and the dispatch (see args.h).
#include "cli/args.h"

#include "base/strings.h"

#include <algorithm>
#include <limits>

namespace keel::cli {

namespace {

// Help is wrapped to this many columns.
constexpr size_t kHelpWidth = 80;
// Where a group's help starts each summary: two spaces of indent, then a
// synopsis of up to 18 characters and two spaces (longer ones get a line of
// their own).
constexpr size_t kSummaryColumn = 22;
// The option list of a command's help starts the help of each option here at
// the latest.
constexpr size_t kOptionHelpColumn = 30;
constexpr std::string_view kIndent = "  ";

constexpr uint64_t kMillisecondsPerSecond = 1000;
// Seconds take up to three decimals: milliseconds.
constexpr size_t kMaxSecondsDecimals = 3;

// Whether a positional must take at least one argument.
bool required(Count count) {
    return count == Count::One || count == Count::OneOrMore;
}

// Whether a positional takes one argument at most.
bool single(Count count) {
    return count == Count::One || count == Count::Optional;
}

bool is_help(std::string_view arg) {
    return arg == "--help" || arg == "-h";
}

// "60", "0.5", "1.25" -> milliseconds.
std::optional<std::chrono::milliseconds> parse_seconds(std::string_view text) {
    size_t dot = text.find('.');
    auto whole = parse_u64(text.substr(0, dot));
    if (!whole || *whole > std::numeric_limits<uint64_t>::max() / kMillisecondsPerSecond)
        return std::nullopt;
    uint64_t ms = *whole * kMillisecondsPerSecond;
    if (dot != std::string_view::npos) {
        std::string_view fraction = text.substr(dot + 1);
        auto digits = parse_u64(fraction);
        if (fraction.empty() || fraction.size() > kMaxSecondsDecimals || !digits)
            return std::nullopt;
        uint64_t value = *digits;
        for (size_t i = fraction.size(); i < kMaxSecondsDecimals; ++i)
            value *= 10;
        ms += value;
    }
    return std::chrono::milliseconds(ms);
}

std::string_view expected_text(const Option& option) {
    if (!option.expected.empty())
        return option.expected;
    return option.type == ValueType::Seconds ? "seconds, like 60 or 0.5" : "a number";
}

// Checks a Number or Seconds value; `spelled` is the option as it was typed.
Result<void> check_value(const Option& option, std::string_view spelled, std::string_view value) {
    if (option.type != ValueType::Number && option.type != ValueType::Seconds)
        return {};
    std::optional<uint64_t> amount;
    uint64_t limit = option.max;
    if (option.type == ValueType::Number) {
        amount = parse_u64(value);
    } else if (auto ms = parse_seconds(value)) {
        amount = uint64_t(ms->count());
        limit *= kMillisecondsPerSecond;
    }
    if (!amount)
        return error(cat(spelled, ": expected ", expected_text(option), ", got ", quoted(value)));
    if (option.max && *amount > limit)
        return error(cat(spelled, ": expected ", expected_text(option), " (at most ", option.max,
                         "), got ", quoted(value)));
    return {};
}

const Option* find_long(const Command& command, std::string_view name) {
    for (const Option& option : command.options)
        if (option.name == name)
            return &option;
    return nullptr;
}

const Option* find_short(const Command& command, char name) {
    for (const Option& option : command.options)
        if (option.short_name && option.short_name == name)
            return &option;
    return nullptr;
}

std::string_view noun_of(const Positional& positional) {
    return positional.noun.empty() ? positional.name : positional.noun;
}

std::string_view last_word(std::string_view words) {
    size_t space = words.rfind(' ');
    return space == std::string_view::npos ? words : words.substr(space + 1);
}

// "UNIT", "[UNIT]", "UNIT...", "[PATTERN...]".
std::string positional_synopsis(const Positional& positional) {
    switch (positional.count) {
    case Count::One:
        return std::string(positional.name);
    case Count::Optional:
        return cat("[", positional.name, "]");
    case Count::OneOrMore:
        return cat(positional.name, "...");
    case Count::Any:
        return cat("[", positional.name, "...]");
    }
    return std::string(positional.name);
}

// "--key FILE", "--pid[=PID]".
std::string option_with_value(const Option& option) {
    if (option.type == ValueType::None)
        return std::string(option.name);
    return option.need == ValueNeed::Optional ? cat(option.name, "[=", option.value_name, "]")
                                              : cat(option.name, " ", option.value_name);
}

// "-n, --lines N", "    --pid[=PID]", "    --json".
std::string option_spelling(const Option& option) {
    return cat(option.short_name ? cat("-", option.short_name, ", ") : "    ",
               option_with_value(option));
}

// "[-n|--lines N]", "[--pid[=PID]]", "[--units DIR]...", "--key FILE".
std::string option_synopsis(const Option& option) {
    std::string out = option.short_name ? cat("-", option.short_name, "|") : "";
    out += option_with_value(option);
    if (option.presence == Presence::Optional)
        out = cat("[", out, "]");
    if (option.repeat == Repeat::Collect)
        out += "...";
    return out;
}

// Appends `text` wrapped to kHelpWidth: the first line goes on from
// `column`, the others start with `indent` spaces.
void append_wrapped(std::string& out, std::string_view text, size_t column, size_t indent) {
    bool line_empty = true;
    for (std::string_view word : split(text, ' ')) {
        if (word.empty())
            continue;
        if (!line_empty && column + 1 + word.size() > kHelpWidth) {
            out += "\n";
            out.append(indent, ' ');
            column = indent;
            line_empty = true;
        }
        if (!line_empty) {
            out += ' ';
            ++column;
        }
        out += word;
        column += word.size();
        line_empty = false;
    }
    out += "\n";
}

// Appends paragraphs (separated by blank lines) wrapped to kHelpWidth.
void append_paragraphs(std::string& out, std::string_view text) {
    size_t start = 0;
    while (start < text.size()) {
        size_t end = text.find("\n\n", start);
        std::string paragraph(text.substr(start, end - start));
        std::ranges::replace(paragraph, '\n', ' ');
        out += "\n";
        append_wrapped(out, paragraph, 0, 0);
        if (end == std::string_view::npos)
            break;
        start = end + 2;
    }
}

// One entry of a group's listing: the synopsis, then the summary in its column.
void append_entry(std::string& out, std::string_view synopsis, std::string_view summary) {
    out += cat(kIndent, synopsis);
    size_t column = kIndent.size() + synopsis.size();
    if (column + kIndent.size() > kSummaryColumn) {
        out += "\n";
        column = 0;
    }
    out.append(kSummaryColumn - column, ' ');
    append_wrapped(out, summary, kSummaryColumn, kSummaryColumn);
}

// What a group's listing shows for one subcommand.
std::string entry_synopsis(const Command& command) {
    std::string names;
    for (std::string_view name : command.names)
        names += cat(names.empty() ? "" : " | ", name);
    if (!command.subcommands.empty()) {
        std::string verbs;
        for (const Command* sub : command.subcommands)
            for (std::string_view name : sub->names)
                verbs += cat(verbs.empty() ? "" : "|", name);
        return cat(names, " ", verbs, " ...");
    }
    std::string arguments = synopsis(command);
    return arguments.empty() ? names : cat(names, " ", arguments);
}

} // namespace

std::string_view ParsedArgs::verb() const {
    return last_word(m_command);
}

const ParsedItem* ParsedArgs::last_option(std::string_view name) const {
    for (auto item = m_items.rbegin(); item != m_items.rend(); ++item)
        if (item->option && item->option->name == name)
            return &*item;
    return nullptr;
}

bool ParsedArgs::flag(std::string_view name) const {
    return last_option(name) != nullptr;
}

std::optional<std::string_view> ParsedArgs::value(std::string_view name) const {
    for (auto item = m_items.rbegin(); item != m_items.rend(); ++item)
        if (item->option && item->option->name == name && item->value)
            return *item->value;
    return std::nullopt;
}

std::vector<std::string_view> ParsedArgs::values(std::string_view name) const {
    std::vector<std::string_view> out;
    for (const ParsedItem& item : m_items)
        if (item.option && item.option->name == name && item.value)
            out.push_back(*item.value);
    return out;
}

std::optional<uint64_t> ParsedArgs::number(std::string_view name) const {
    auto text = value(name);
    return text ? parse_u64(*text) : std::nullopt;
}

std::optional<std::chrono::milliseconds> ParsedArgs::seconds(std::string_view name) const {
    auto text = value(name);
    return text ? parse_seconds(*text) : std::nullopt;
}

std::optional<std::string_view> ParsedArgs::positional(std::string_view name) const {
    for (const ParsedItem& item : m_items)
        if (item.positional && item.positional->name == name)
            return *item.value;
    return std::nullopt;
}

std::vector<std::string_view> ParsedArgs::positionals(std::string_view name) const {
    std::vector<std::string_view> out;
    for (const ParsedItem& item : m_items)
        if (item.positional && item.positional->name == name)
            out.push_back(*item.value);
    return out;
}

Result<ParsedArgs> parse(const Command& command, std::string_view invoked,
                         std::span<const std::string_view> args) {
    auto problem = [&](std::string_view what) {
        return error(cat(last_word(invoked), ": ", what, " (see `keel ", invoked, " --help`)"));
    };
    ParsedArgs out;
    out.m_command = invoked;
    std::vector<size_t> arguments; // indexes into m_items of the positional arguments
    auto add_argument = [&](std::string_view text) {
        arguments.push_back(out.m_items.size());
        out.m_items.push_back({.value = std::string(text)});
    };
    for (size_t i = 0; i < args.size(); ++i) {
        std::string_view arg = args[i];
        if (arg == "--") {
            for (std::string_view rest : args.subspan(i + 1)) {
                if (command.after_dashes)
                    out.m_passed_through.emplace_back(rest);
                else
                    add_argument(rest);
            }
            break;
        }
        if (is_help(arg) && !(arg == "-h" && find_short(command, 'h'))) {
            out.m_help = true;
            continue;
        }
        if (arg.size() < 2 || arg[0] != '-') {
            add_argument(arg); // "-" alone too: by custom, stdin
            if ((command.options_end == OptionsEnd::AtLastPositional &&
                 arguments.size() >= command.positionals.size()) ||
                command.options_end == OptionsEnd::AtFirstPositional) {
                for (std::string_view rest : args.subspan(i + 1))
                    add_argument(rest);
                break;
            }
            continue;
        }
        bool is_long = arg.starts_with("--");
        std::string combined; // the rest of a group of short flags
        std::string_view spelled;
        std::optional<std::string_view> attached;
        const Option* option = nullptr;
        if (is_long) {
            size_t equals = arg.find('=');
            spelled = arg.substr(0, equals);
            if (equals != std::string_view::npos)
                attached = arg.substr(equals + 1);
            option = find_long(command, spelled);
        } else {
            // `-it`: every flag but the last of a group is taken here.
            while (command.short_options == ShortOptions::Combinable && arg.size() > 2) {
                const Option* flag = find_short(command, arg[1]);
                if (!flag || flag->type != ValueType::None)
                    break;
                out.m_items.push_back({.option = flag});
                combined = std::string("-") + std::string(arg.substr(2));
                arg = combined;
            }
            spelled = arg.substr(0, 2);
            if (arg.size() > 2)
                attached = arg.substr(2);
            option = find_short(command, arg[1]);
        }
        if (!option || (!is_long && option->type == ValueType::None && attached))
            return problem(cat("unknown option ", quoted(is_long ? spelled : arg)));
        if (option->type == ValueType::None) {
            if (attached)
                return problem(cat(spelled, " takes no value"));
            out.m_items.push_back({.option = option});
            continue;
        }
        std::optional<std::string_view> value = attached;
        if (!value && option->need == ValueNeed::Required) {
            if (i + 1 >= args.size())
                return problem(cat(spelled, " needs a value"));
            value = args[++i];
        }
        if (value) {
            if (auto checked = check_value(*option, spelled, *value); !checked)
                return problem(checked.error().to_string());
        }
        out.m_items.push_back(
            {.option = option, .value = value ? std::optional<std::string>(*value) : std::nullopt});
    }

    if (out.m_help)
        return out; // what is missing does not matter: help runs instead
    for (const Option& option : command.options)
        if (option.presence == Presence::Required && !out.flag(option.name))
            return problem(cat("needs ", option_with_value(option)));

    // Positional arguments go to the declared positionals in order.
    size_t next = 0;
    for (const Positional& positional : command.positionals) {
        if (required(positional.count) && next == arguments.size())
            return problem(cat("no ", noun_of(positional), " given"));
        size_t wanted = single(positional.count) ? 1 : arguments.size();
        for (size_t taken = 0; taken < wanted && next < arguments.size(); ++taken)
            out.m_items[arguments[next++]].positional = &positional;
    }
    if (next < arguments.size()) {
        const std::string& extra = *out.m_items[arguments[next]].value;
        if (command.positionals.empty())
            return problem("takes no arguments");
        std::string message =
            cat("more than one ", noun_of(command.positionals.back()), " (",
                quoted(*out.m_items[arguments[next - 1]].value), ", ", quoted(extra), ")");
        if (command.after_dashes)
            message += cat("; put the ", noun_of(*command.after_dashes), " after --");
        return problem(message);
    }
    if (command.after_dashes && required(command.after_dashes->count) &&
        out.m_passed_through.empty())
        return problem(cat("no ", noun_of(*command.after_dashes), " given"));
    return out;
}

std::string synopsis(const Command& command) {
    std::vector<std::string> parts;
    for (const Option& option : command.options)
        if (option.shown == Shown::InSynopsis)
            parts.push_back(option_synopsis(option));
    for (const Positional& positional : command.positionals)
        parts.push_back(positional_synopsis(positional));
    if (const auto& after = command.after_dashes) {
        std::string rest = cat("-- ", after->name, after->count == Count::One ? "" : "...");
        parts.push_back(required(after->count) ? rest : cat("[", rest, "]"));
    }
    std::string out;
    for (const std::string& part : parts)
        out += cat(out.empty() ? "" : " ", part);
    return out;
}

std::string help_text(const Command& command, std::string_view invoked) {
    std::string arguments = synopsis(command);
    std::string out = cat("usage: keel ", invoked, arguments.empty() ? "" : " ", arguments, "\n\n");
    append_wrapped(out, command.summary, 0, 0);

    std::vector<std::pair<std::string, std::string_view>> rows;
    for (const Option& option : command.options)
        rows.emplace_back(option_spelling(option), option.help);
    rows.emplace_back(find_short(command, 'h') ? "    --help" : "-h, --help", "print this help");
    size_t width = 0;
    for (const auto& [spelling, help] : rows)
        width = std::max(width, spelling.size());
    size_t column = std::min(kIndent.size() + width + kIndent.size(), kOptionHelpColumn);
    out += "\noptions:\n";
    for (const auto& [spelling, help] : rows) {
        out += cat(kIndent, spelling);
        size_t at = kIndent.size() + spelling.size();
        if (at + kIndent.size() > column) {
            out += "\n";
            at = 0;
        }
        out.append(column - at, ' ');
        append_wrapped(out, help, column, column);
    }
    append_paragraphs(out, command.notes);
    return out;
}

std::string group_help_text(const Command& group, std::string_view invoked) {
    std::string out =
        cat("usage: keel ", invoked, invoked.empty() ? "" : " ", "<command> [options]\n\n");
    for (const Command* command : group.subcommands)
        append_entry(out, entry_synopsis(*command), command->summary);
    append_entry(out, "help", "print this help");
    append_paragraphs(out, group.notes);
    return out;
}

std::unexpected<Failure> usage_error(const ParsedArgs& args, std::string_view problem) {
    return usage_error(
        cat(args.verb(), ": ", problem, " (see `keel ", args.command(), " --help`)"));
}

CommandResult dispatch(const Command& command, std::string_view invoked,
                       std::span<const std::string_view> args) {
    if (command.subcommands.empty()) {
        auto parsed = parse(command, invoked, args);
        if (!parsed)
            return std::unexpected(Failure(std::move(parsed).error(), kExitUsage));
        if (parsed->help_requested()) {
            print(help_text(command, invoked));
            return kExitSuccess;
        }
        return command.run(*parsed);
    }
    if (args.empty()) {
        print_error(group_help_text(command, invoked));
        return kExitUsage;
    }
    std::string_view verb = args[0];
    if (verb == "help" || is_help(verb)) {
        print(group_help_text(command, invoked));
        return kExitSuccess;
    }
    std::string group = invoked.empty() ? "" : cat(invoked, " ");
    const Command* chosen = nullptr;
    for (const Command* sub : command.subcommands)
        if (std::ranges::find(sub->names, verb) != sub->names.end())
            chosen = sub;
    CommandResult result =
        chosen
            ? dispatch(*chosen, cat(group, verb), args.subspan(1))
            : usage_error(cat("unknown command ", quoted(verb), " (see `keel ", group, "help`)"));
    if (!result && !invoked.empty())
        result.error().error.wrap(std::string(last_word(invoked)));
    return result;
}

} // namespace keel::cli
