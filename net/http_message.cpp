// Parsing of HTTP/1.1 response heads and the chunked transfer coding (RFC
// 9110 and 9112), strict where leniency would let two readers disagree.
#include "net/http_message.h"

#include "base/strings.h"

#include <algorithm>
#include <cctype>

namespace keel::net {

namespace {

bool equal_ignoring_case(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

// field-value and reason-phrase: VCHAR, SP, HTAB and obs-text.
bool is_field_char(char c) {
    auto byte = static_cast<unsigned char>(c);
    return c == '\t' || (byte >= 0x20 && byte != 0x7f);
}

// Splits a comma-separated list value into trimmed, non-empty elements.
std::vector<std::string_view> list_elements(std::string_view value) {
    std::vector<std::string_view> out;
    for (std::string_view element : split(value, ','))
        if (std::string_view trimmed = trim(element); !trimmed.empty())
            out.push_back(trimmed);
    return out;
}

} // namespace

bool is_token_char(char c) {
    if (std::isalnum(static_cast<unsigned char>(c)))
        return true;
    switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
        return true;
    default:
        return false;
    }
}

void Headers::add(std::string name, std::string value) {
    m_fields.emplace_back(std::move(name), std::move(value));
}

void Headers::set(std::string_view name, std::string value) {
    remove(name);
    add(std::string(name), std::move(value));
}

void Headers::remove(std::string_view name) {
    std::erase_if(m_fields,
                  [&](const auto& field) { return equal_ignoring_case(field.first, name); });
}

std::optional<std::string_view> Headers::get(std::string_view name) const {
    for (const auto& [field, value] : m_fields)
        if (equal_ignoring_case(field, name))
            return value;
    return std::nullopt;
}

std::vector<std::string_view> Headers::all(std::string_view name) const {
    std::vector<std::string_view> out;
    for (const auto& [field, value] : m_fields)
        if (equal_ignoring_case(field, name))
            out.push_back(value);
    return out;
}

std::optional<size_t> find_head_end(std::string_view buffer) {
    size_t end = buffer.find("\r\n\r\n");
    if (end == std::string_view::npos)
        return std::nullopt;
    return end + 4;
}

Result<ResponseHead> parse_response_head(std::string_view head) {
    if (head.size() > kMaxHeadBytes)
        return error(cat("response header larger than ", kMaxHeadBytes, " bytes"));
    if (!head.ends_with("\r\n\r\n"))
        return error("response header does not end with an empty line");
    head.remove_suffix(2); // every line now ends with CRLF

    std::vector<std::string_view> lines;
    while (!head.empty()) {
        size_t end = head.find("\r\n");
        std::string_view line = head.substr(0, end);
        if (line.find_first_of("\r\n") != std::string_view::npos)
            return error("bare CR or LF in the response header");
        lines.push_back(line);
        head.remove_prefix(end + 2);
    }
    if (lines.empty())
        return error("empty response header");

    ResponseHead out;
    std::string_view status_line = lines.front();
    // HTTP-version SP 3DIGIT SP reason-phrase
    if (status_line.size() < 12 || !starts_with(status_line, "HTTP/1.") ||
        (status_line[7] != '0' && status_line[7] != '1') || status_line[8] != ' ' ||
        (status_line.size() > 12 && status_line[12] != ' '))
        return error(cat("malformed status line ", quoted(status_line.substr(0, 80))));
    out.minor_version = status_line[7] - '0';
    for (int i = 9; i < 12; ++i)
        if (!std::isdigit(static_cast<unsigned char>(status_line[i])))
            return error(cat("malformed status code in ", quoted(status_line.substr(0, 80))));
    out.status =
        (status_line[9] - '0') * 100 + (status_line[10] - '0') * 10 + (status_line[11] - '0');
    if (out.status < 100 || out.status > 599)
        return error(cat("status code ", out.status, " out of range"));
    std::string_view reason = status_line.size() > 12 ? status_line.substr(13) : "";
    if (!std::all_of(reason.begin(), reason.end(), is_field_char))
        return error("control character in the status line");
    out.reason = reason;

    if (lines.size() - 1 > kMaxHeaderCount)
        return error(cat("response has more than ", kMaxHeaderCount, " header fields"));
    for (size_t i = 1; i < lines.size(); ++i) {
        std::string_view line = lines[i];
        if (!line.empty() && (line.front() == ' ' || line.front() == '\t'))
            return error("folded header line (obsolete line folding is refused)");
        size_t colon = line.find(':');
        if (colon == std::string_view::npos || colon == 0)
            return error(cat("malformed header line ", quoted(line.substr(0, 80))));
        std::string_view name = line.substr(0, colon);
        if (!std::all_of(name.begin(), name.end(), is_token_char))
            return error(cat("malformed header name ", quoted(name.substr(0, 80))));
        std::string_view value = trim(line.substr(colon + 1));
        if (!std::all_of(value.begin(), value.end(), is_field_char))
            return error(cat("control character in header ", quoted(name)));
        out.headers.add(std::string(name), std::string(value));
    }
    return out;
}

Result<BodyLength> body_length(const ResponseHead& head, RequestKind request) {
    BodyLength out;
    if (request == RequestKind::Head || head.status < 200 || head.status == 204 ||
        head.status == 304)
        return out;

    std::vector<std::string_view> codings;
    for (std::string_view value : head.headers.all("Transfer-Encoding"))
        for (std::string_view coding : list_elements(value))
            codings.push_back(coding);
    if (!codings.empty()) {
        if (codings.size() != 1 || !equal_ignoring_case(codings.front(), "chunked"))
            return error(cat("unsupported Transfer-Encoding ",
                             quoted(head.headers.get("Transfer-Encoding").value_or(""))));
        out.framing = BodyFraming::Chunked;
        out.transfer_encoding = "chunked";
        return out;
    }

    std::optional<uint64_t> length;
    for (std::string_view value : head.headers.all("Content-Length")) {
        for (std::string_view element : list_elements(value)) {
            std::optional<uint64_t> parsed = parse_u64(element);
            if (!parsed || element.size() > 19)
                return error(cat("malformed Content-Length ", quoted(value.substr(0, 40))));
            if (length && *length != *parsed)
                return error("conflicting Content-Length values");
            length = parsed;
        }
    }
    if (length) {
        out.framing = BodyFraming::ContentLength;
        out.length = *length;
        return out;
    }
    out.framing = BodyFraming::UntilClose;
    return out;
}

Result<size_t> ChunkedDecoder::decode(std::string_view input, std::string& output) {
    size_t i = 0;
    while (i < input.size() && m_state != State::Done) {
        char c = input[i];
        switch (m_state) {
        case State::Size: {
            int digit = hex_digit_value(c);
            if (digit >= 0) {
                if (++m_size_digits > 16)
                    return error("chunk size longer than 16 hex digits");
                m_remaining = m_remaining << 4 | uint64_t(digit);
                ++i;
            } else if (m_size_digits == 0) {
                return error("chunk size missing");
            } else if (c == ';' || c == ' ' || c == '\t') {
                m_state = State::Extension;
                m_line_bytes = 0;
            } else if (c == '\r') {
                m_state = State::SizeLineFeed;
                ++i;
            } else {
                return error("malformed chunk size line");
            }
            break;
        }
        case State::Extension:
            if (c == '\r') {
                m_state = State::SizeLineFeed;
            } else if (!is_field_char(c)) {
                return error("control character in a chunk extension");
            } else if (++m_line_bytes > 4096) {
                return error("chunk extension longer than 4096 bytes");
            }
            ++i;
            break;
        case State::SizeLineFeed:
            if (c != '\n')
                return error("chunk size line does not end with CRLF");
            ++i;
            m_size_digits = 0;
            m_state = m_remaining == 0 ? State::TrailerLineStart : State::Data;
            break;
        case State::Data: {
            size_t take = size_t(std::min<uint64_t>(m_remaining, input.size() - i));
            output.append(input.substr(i, take));
            i += take;
            m_remaining -= take;
            if (m_remaining == 0)
                m_state = State::DataCarriageReturn;
            break;
        }
        case State::DataCarriageReturn:
            if (c != '\r')
                return error("chunk data not followed by CRLF");
            ++i;
            m_state = State::DataLineFeed;
            break;
        case State::DataLineFeed:
            if (c != '\n')
                return error("chunk data not followed by CRLF");
            ++i;
            m_state = State::Size;
            break;
        case State::TrailerLineStart:
            if (c == '\r') {
                m_state = State::FinalLineFeed;
                ++i;
            } else {
                m_state = State::TrailerLine;
            }
            break;
        case State::TrailerLine:
            if (c == '\r') {
                m_state = State::TrailerLineFeed;
            } else if (!is_field_char(c)) {
                return error("control character in a chunked trailer");
            }
            if (++m_trailer_bytes > kMaxHeadBytes)
                return error(cat("chunked trailer larger than ", kMaxHeadBytes, " bytes"));
            ++i;
            break;
        case State::TrailerLineFeed:
            if (c != '\n')
                return error("trailer line does not end with CRLF");
            ++i;
            m_state = State::TrailerLineStart;
            break;
        case State::FinalLineFeed:
            if (c != '\n')
                return error("chunked body does not end with CRLF");
            ++i;
            m_state = State::Done;
            break;
        case State::Done:
            break;
        }
    }
    return i;
}

std::optional<ContentRange> parse_content_range(std::string_view text) {
    if (!starts_with(text, "bytes "))
        return std::nullopt;
    std::string_view rest = text.substr(6);
    size_t slash = rest.find('/');
    if (slash == std::string_view::npos)
        return std::nullopt;
    std::string_view span = rest.substr(0, slash);
    std::string_view total = rest.substr(slash + 1);
    ContentRange range;
    if (total != "*") {
        range.total = parse_u64(total);
        if (!range.total)
            return std::nullopt;
    }
    if (span == "*") {
        if (!range.total)
            return std::nullopt;
        return range;
    }
    size_t dash = span.find('-');
    if (dash == std::string_view::npos)
        return std::nullopt;
    range.first = parse_u64(span.substr(0, dash));
    range.last = parse_u64(span.substr(dash + 1));
    if (!range.first || !range.last || *range.last < *range.first ||
        (range.total && *range.last >= *range.total))
        return std::nullopt;
    return range;
}

} // namespace keel::net
