// tests/cluster/watch_log.cpp: the watch log's text form, both ways.
#include "tests/cluster/watch_log.h"

#include "base/strings.h"

#include <algorithm>
#include <utility>

namespace keel::watch_log {

using watch_guarantees::Event;
using watch_guarantees::EventType;
using watch_guarantees::Message;
using watch_guarantees::MessageKind;
using watch_guarantees::Watcher;

namespace {

constexpr std::string_view kEmpty = "\"\"";

// What a record's first word says it is.
enum class Record : uint8_t { Watcher, Partial, Write, Events, Progress, Resume };
constexpr auto kRecordNames = name_table<Record>({
    {Record::Watcher, "watcher"},
    {Record::Partial, "partial"},
    {Record::Write, "write"},
    {Record::Events, "events"},
    {Record::Progress, "progress"},
    {Record::Resume, "resume"},
});

std::vector<std::string_view> words_of(std::string_view line) {
    std::vector<std::string_view> words;
    size_t at = 0;
    while (at < line.size()) {
        while (at < line.size() && (line[at] == ' ' || line[at] == '\t'))
            ++at;
        size_t begin = at;
        while (at < line.size() && line[at] != ' ' && line[at] != '\t')
            ++at;
        if (at > begin)
            words.push_back(line.substr(begin, at - begin));
    }
    return words;
}

Result<std::string> decode_string(std::string_view word) {
    if (word == kEmpty)
        return std::string();
    std::string out;
    for (size_t i = 0; i < word.size(); ++i) {
        char c = word[i];
        if (c == '"')
            return error(cat("a string holds `\"` (write %22): ", keel::quoted(word)));
        if (c != '%') {
            out += c;
            continue;
        }
        if (i + 2 >= word.size())
            return error(cat("a `%` not followed by two hex digits: ", keel::quoted(word)));
        int high = hex_digit_value(word[i + 1]);
        int low = hex_digit_value(word[i + 2]);
        if (high < 0 || low < 0)
            return error(cat("a `%` not followed by two hex digits: ", keel::quoted(word)));
        out += static_cast<char>(high * 16 + low);
        i += 2;
    }
    return out;
}

Result<uint64_t> number(std::string_view what, std::string_view word) {
    std::optional<uint64_t> n = parse_u64(word);
    if (!n)
        return error(cat(what, ": expected a number, got ", keel::quoted(word)));
    return *n;
}

// REV TYPE KEY VALUE at words[at..at+4).
Result<Event> parse_event(const std::vector<std::string_view>& words, size_t at) {
    Event event;
    event.revision = TRY(number("revision", words[at]));
    event.type = TRY_CTX(parse_choice(watch_guarantees::kEventTypeNames, words[at + 1]), "event");
    event.key = TRY_CTX(decode_string(words[at + 2]), "key");
    event.value = TRY_CTX(decode_string(words[at + 3]), "value");
    if (event.type == EventType::Delete && !event.value.empty())
        return error("a delete carries no value (write \"\")");
    return event;
}

Result<Watcher*> find_watcher(WatchLog& log, std::string_view name) {
    for (Watcher& watcher : log.watchers)
        if (watcher.name == name)
            return &watcher;
    return error(cat("no watcher ", keel::quoted(name), " (a `watcher` line comes first)"));
}

Result<void> parse_line(WatchLog& log, const std::vector<std::string_view>& words) {
    Record record = TRY_CTX(parse_choice(kRecordNames, words[0]), "record");
    auto want = [&](size_t count) -> Result<void> {
        if (words.size() != count)
            return error(cat(words[0], ": expected ", count - 1, " word(s) after it, got ",
                             words.size() - 1));
        return {};
    };
    switch (record) {
    case Record::Watcher: {
        TRY(want(5));
        Watcher watcher;
        watcher.name = TRY_CTX(decode_string(words[1]), "name");
        if (find_watcher(log, watcher.name))
            return error(cat("watcher ", keel::quoted(watcher.name), " twice"));
        watcher.key = TRY_CTX(decode_string(words[2]), "key");
        watcher.range_end = TRY_CTX(decode_string(words[3]), "range end");
        watcher.start_revision = TRY(number("start", words[4]));
        log.watchers.push_back(std::move(watcher));
        return {};
    }
    case Record::Partial:
        TRY(want(1));
        log.write_set = watch_guarantees::WriteSet::Partial;
        return {};
    case Record::Write:
        TRY(want(5));
        log.writes.push_back(TRY(parse_event(words, 1)));
        return {};
    case Record::Events: {
        if (words.size() < 6 || (words.size() - 2) % 4 != 0)
            return error("events: expected NAME and (REV TYPE KEY VALUE)...");
        Watcher* watcher = TRY_CTX(find_watcher(log, TRY(decode_string(words[1]))), "events");
        Message message{MessageKind::Events, 0, {}};
        for (size_t at = 2; at < words.size(); at += 4)
            message.events.push_back(TRY(parse_event(words, at)));
        watcher->messages.push_back(std::move(message));
        return {};
    }
    case Record::Progress:
    case Record::Resume: {
        TRY(want(3));
        Watcher* watcher =
            TRY_CTX(find_watcher(log, TRY(decode_string(words[1]))), std::string(words[0]));
        MessageKind kind = record == Record::Progress ? MessageKind::Progress : MessageKind::Resume;
        watcher->messages.push_back({kind, TRY(number("revision", words[2])), {}});
        return {};
    }
    }
    return error("unreachable record");
}

void format_event(std::string& out, const Event& event) {
    out += cat(" ", event.revision, " ", watch_guarantees::kEventTypeNames.name(event.type), " ",
               encode_string(event.key), " ", encode_string(event.value));
}

} // namespace

std::string encode_string(std::string_view text) {
    if (text.empty())
        return std::string(kEmpty);
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    for (char c : text) {
        auto byte = static_cast<unsigned char>(c);
        if (byte < 0x21 || byte > 0x7e || c == '%' || c == '"') {
            out += '%';
            out += kHex[byte >> 4];
            out += kHex[byte & 15];
        } else {
            out += c;
        }
    }
    return out;
}

Result<WatchLog> parse_watch_log(std::string_view text) {
    WatchLog log;
    size_t number = 0;
    for (std::string_view raw : split(text, '\n')) {
        ++number;
        std::string_view line = trim(raw);
        if (line.empty() || line.front() == '#')
            continue;
        Result<void> parsed = parse_line(log, words_of(line));
        if (!parsed)
            return std::unexpected(std::move(parsed).error().wrap(cat("line ", number)));
    }
    return log;
}

std::string format_watch_log(const WatchLog& log) {
    std::string out;
    if (log.write_set == watch_guarantees::WriteSet::Partial)
        out += "partial\n";
    for (const Event& write : log.writes) {
        out += "write";
        format_event(out, write);
        out += "\n";
    }
    for (const Watcher& watcher : log.watchers) {
        std::string name = encode_string(watcher.name);
        out += cat("watcher ", name, " ", encode_string(watcher.key), " ",
                   encode_string(watcher.range_end), " ", watcher.start_revision, "\n");
        for (const Message& message : watcher.messages) {
            switch (message.kind) {
            case MessageKind::Events:
                out += cat("events ", name);
                for (const Event& event : message.events)
                    format_event(out, event);
                out += "\n";
                break;
            case MessageKind::Progress:
                out += cat("progress ", name, " ", message.revision, "\n");
                break;
            case MessageKind::Resume:
                out += cat("resume ", name, " ", message.revision, "\n");
                break;
            }
        }
    }
    return out;
}

} // namespace keel::watch_log
