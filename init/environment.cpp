// The environment of a service's commands: EnvironmentFile= files
// (KEY=value lines, comments, quotes, continuations) and the $NAME and
// ${NAME} expansion of Exec*= lines.
#include "init/unit_model.h"

#include "base/strings.h"
#include "init/unit_model_internal.h"

namespace keel {

using namespace unit_model_internal;

Result<Environment> parse_environment_file(std::string_view text, std::string_view filename) {
    Environment environment;
    int line = 1;
    size_t at = 0;
    auto fail = [&](int number, std::string_view what) {
        return error(cat(filename, ":", number, ": ", what));
    };
    auto is_blank = [](char c) { return c == ' ' || c == '\t' || c == '\r'; };
    while (at < text.size()) {
        char c = text[at];
        if (c == '\n') {
            ++line;
            ++at;
            continue;
        }
        if (is_blank(c)) {
            ++at;
            continue;
        }
        if (c == '#' || c == ';') {
            while (at < text.size() && text[at] != '\n')
                ++at;
            continue;
        }
        int start_line = line;
        size_t key_start = at;
        while (at < text.size() && text[at] != '=' && text[at] != '\n')
            ++at;
        std::string_view key = trim(text.substr(key_start, at - key_start));
        if (at >= text.size() || text[at] != '=')
            return fail(start_line, cat("expected KEY=value, got ", quoted(key)));
        if (!is_environment_name(key))
            return fail(start_line, cat(quoted(key), " is not a valid variable name"));
        ++at; // '='
        while (at < text.size() && is_blank(text[at]))
            ++at;
        std::string value;
        size_t keep = 0; // value bytes that trailing-space trimming must not touch
        while (at < text.size() && text[at] != '\n') {
            c = text[at];
            if (c == '"' || c == '\'') {
                char quote = c;
                ++at;
                for (;;) {
                    if (at >= text.size())
                        return fail(start_line,
                                    cat("unterminated ", quote == '"' ? "double" : "single",
                                        " quote in the value of ", quoted(key)));
                    c = text[at++];
                    if (c == quote)
                        break;
                    if (c == '\n')
                        ++line;
                    if (quote == '"' && c == '\\' && at < text.size()) {
                        char next = text[at];
                        if (next == '\n') { // continuation inside quotes
                            ++line;
                            ++at;
                            continue;
                        }
                        if (next == '"' || next == '\\' || next == '$' || next == '`') {
                            value += next;
                            ++at;
                            continue;
                        }
                    }
                    value += c;
                }
                keep = value.size();
                continue;
            }
            if (c == '\\' && at + 1 < text.size()) {
                if (text[at + 1] == '\n') { // continuation
                    ++line;
                    at += 2;
                    continue;
                }
                value += text[at + 1];
                at += 2;
                keep = value.size();
                continue;
            }
            value += c;
            ++at;
        }
        while (value.size() > keep && is_blank(value.back()))
            value.pop_back();
        environment.emplace_back(std::string(key), std::move(value));
    }
    return environment;
}

std::vector<std::string> expand_command_variables(const std::vector<std::string>& argv,
                                                  const std::map<std::string, std::string>& env) {
    auto lookup = [&](std::string_view name) -> std::string_view {
        auto it = env.find(std::string(name));
        return it == env.end() ? std::string_view() : std::string_view(it->second);
    };
    std::vector<std::string> out;
    for (const std::string& word : argv) {
        // "$NAME" as a whole word becomes the value's words.
        if (word.size() > 1 && word[0] == '$' &&
            is_environment_name(std::string_view(word).substr(1))) {
            std::string_view value = lookup(std::string_view(word).substr(1));
            for (std::string_view part : split(value, ' '))
                if (!trim(part).empty())
                    out.emplace_back(trim(part));
            continue;
        }
        std::string expanded;
        for (size_t i = 0; i < word.size(); ++i) {
            if (word[i] == '$' && i + 1 < word.size() && word[i + 1] == '$') {
                expanded += '$';
                ++i;
                continue;
            }
            if (word[i] == '$' && i + 1 < word.size() && word[i + 1] == '{') {
                size_t close = word.find('}', i + 2);
                std::string_view name = close == std::string::npos
                                            ? std::string_view()
                                            : std::string_view(word).substr(i + 2, close - i - 2);
                if (is_environment_name(name)) {
                    expanded += lookup(name);
                    i = close;
                    continue;
                }
            }
            expanded += word[i];
        }
        out.push_back(std::move(expanded));
    }
    return out;
}

} // namespace keel
