// Parsing /dev/kmsg records (see kmsg.h for the format). Strict: a record
// that does not look exactly like what the kernel writes is an error, so a
// malformed one is reported instead of being half-understood.
#include "init/kmsg.h"

#include "base/strings.h"

namespace keel {

namespace {

// printk's LOG_FACILITY is a u8: facility * 8 + level stays below this.
constexpr uint64_t kMaxPriority = 255 * 8 + 7;

std::unexpected<Error> malformed_kmsg(std::string_view why) {
    return error(cat("kmsg record: ", why));
}

bool printable(std::string_view text) {
    for (char c : text) {
        auto byte = static_cast<unsigned char>(c);
        if (byte < 0x20 || byte == 0x7f)
            return false;
    }
    return true;
}

// The kernel's device properties after the message: " KEY=value\n" lines.
bool valid_properties(std::string_view rest) {
    while (!rest.empty()) {
        size_t end = rest.find('\n');
        if (end == std::string_view::npos || rest[0] != ' ' || !printable(rest.substr(0, end)))
            return false;
        rest.remove_prefix(end + 1);
    }
    return true;
}

} // namespace

Result<KmsgRecord> parse_kmsg_record(std::string_view record) {
    size_t semicolon = record.find(';');
    if (semicolon == std::string_view::npos)
        return malformed_kmsg("no `;` after the header");
    std::string_view header = record.substr(0, semicolon);
    std::string_view body = record.substr(semicolon + 1);

    std::vector<std::string_view> fields = split(header, ',');
    if (fields.size() < 4)
        return malformed_kmsg(cat("header has ", fields.size(), " fields, expected at least 4"));
    auto priority = parse_u64(fields[0]);
    if (!priority || *priority > kMaxPriority)
        return malformed_kmsg("priority is not a number from 0 to 2047");
    auto sequence = parse_u64(fields[1]);
    if (!sequence)
        return malformed_kmsg("sequence number is not a number");
    auto timestamp = parse_u64(fields[2]);
    if (!timestamp)
        return malformed_kmsg("timestamp is not a number");
    if (fields[3].empty() || fields[3].find_first_not_of("-c+") != std::string_view::npos)
        return malformed_kmsg("flags are not made of `-`, `c` and `+`");
    for (size_t i = 4; i < fields.size(); ++i)
        if (fields[i].empty() || !printable(fields[i]))
            return malformed_kmsg("an extra header field is empty or not printable");

    size_t newline = body.find('\n');
    if (newline == std::string_view::npos)
        return malformed_kmsg("no newline after the message");
    std::string_view message = body.substr(0, newline);
    if (!printable(message))
        return malformed_kmsg("control character in the message");
    if (!valid_properties(body.substr(newline + 1)))
        return malformed_kmsg("a line after the message is not an indented property");

    KmsgRecord out;
    out.level = int(*priority & 7);
    out.facility = int(*priority >> 3);
    out.sequence = *sequence;
    out.timestamp_usec = *timestamp;
    out.message = message;
    return out;
}

std::string format_kmsg_record(const KmsgRecord& record) {
    return cat(record.facility * 8 + record.level, ",", record.sequence, ",", record.timestamp_usec,
               ",-;", record.message, "\n");
}

bool strip_keel_tag(const KmsgRecord& record, std::string_view& message) {
    message = {};
    if (record.facility == 0) // the kernel's own: userspace writes get LOG_USER
        return false;
    std::string_view text = record.message;
    if (!starts_with(text, "keel"))
        return false;
    text.remove_prefix(4);
    if (starts_with(text, "[")) {
        size_t close = text.find(']');
        if (close == std::string_view::npos || close == 1 || !parse_u64(text.substr(1, close - 1)))
            return false;
        text.remove_prefix(close + 1);
    }
    if (!starts_with(text, ": "))
        return false;
    message = text.substr(2);
    return true;
}

} // namespace keel
