// net/http_message: the HTTP/1.1 response as it arrives from a server,
// which is outside input: the status line and header fields parsed
// strictly (CRLF line ends, token field names, no obsolete line folding,
// limits on size and count), how the body is framed (RFC 9112 section 6.3:
// none, Content-Length, chunked, or until the connection closes), and the
// chunked transfer coding decoded incrementally, so a body of any length
// streams through a small buffer.
#pragma once

#include "base/names.h"
#include "base/result.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace keel::net {

/// RFC 9110's tchar: what a token (a field name, an auth scheme) is made of.
bool is_token_char(char c);

/// The most bytes a response's status line and header fields may take.
inline constexpr size_t kMaxHeadBytes = 64 * 1024;
/// The most header fields a response may have.
inline constexpr size_t kMaxHeaderCount = 128;

/// Header fields in the order they came, names compared without case.
class Headers {
public:
    /// Appends a field (a repeated name is kept twice).
    void add(std::string name, std::string value);
    /// Replaces every field named `name` with one.
    void set(std::string_view name, std::string value);
    /// Removes every field named `name`.
    void remove(std::string_view name);
    /// The first value of `name`, if any.
    std::optional<std::string_view> get(std::string_view name) const;
    /// Every value of `name`, in order.
    std::vector<std::string_view> all(std::string_view name) const;
    const std::vector<std::pair<std::string, std::string>>& fields() const { return m_fields; }

private:
    std::vector<std::pair<std::string, std::string>> m_fields;
};

/// A response's status line and header fields.
struct ResponseHead {
    /// 100 to 599.
    int status = 0;
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    int minor_version = 1;
    std::string reason;
    /// (Last, a class holding a vector: see base/result.h.)
    Headers headers;
};

/// The offset just past the blank line that ends the head in `buffer`
/// ("\r\n\r\n"), or nullopt when it has not all arrived yet.
std::optional<size_t> find_head_end(std::string_view buffer);

/// Parses a complete head (status line through the blank line); refuses a
/// version other than HTTP/1.0 and 1.1, a malformed status, a field name
/// that is not a token, control characters in values, folded lines, and
/// heads over kMaxHeadBytes or kMaxHeaderCount.
Result<ResponseHead> parse_response_head(std::string_view head);

/// How the body after a head is delimited.
enum class BodyFraming { None, ContentLength, Chunked, UntilClose };

inline constexpr auto kBodyFramingNames = name_table<BodyFraming>({
    {BodyFraming::None, "none"},
    {BodyFraming::ContentLength, "content-length"},
    {BodyFraming::Chunked, "chunked"},
    {BodyFraming::UntilClose, "until-close"},
});

/// Whether the request was HEAD: its response has no body whatever the
/// headers say.
enum class RequestKind { Head, Other };

/// The body's framing and, for ContentLength, its length.
struct BodyLength {
    uint64_t length = 0;
    BodyFraming framing = BodyFraming::None;
    /// (Trailing field: see base/result.h.)
    std::string transfer_encoding;
};

/// RFC 9112 6.3: 1xx, 204 and 304 and HEAD responses have no body;
/// Transfer-Encoding must end in chunked (other codings are refused, as
/// keel does not decode them) and wins over Content-Length; Content-Length
/// must be digits, repeated copies equal.
Result<BodyLength> body_length(const ResponseHead& head, RequestKind request);

/// Decodes the chunked transfer coding as bytes arrive: chunk sizes (hex,
/// at most 16 digits), extensions (ignored, bounded) and trailer fields
/// (skipped, bounded by kMaxHeadBytes).
class ChunkedDecoder {
public:
    /// Consumes a prefix of `input`, appending the data it carries to
    /// `output`; returns how many bytes of `input` it used (all of them,
    /// unless the body ended within them). Errors are final.
    Result<size_t> decode(std::string_view input, std::string& output);
    /// True once the last chunk and the trailer have been read.
    bool done() const { return m_state == State::Done; }

private:
    enum class State {
        Size,
        Extension,
        SizeLineFeed,
        Data,
        DataCarriageReturn,
        DataLineFeed,
        TrailerLineStart,
        TrailerLine,
        TrailerLineFeed,
        FinalLineFeed,
        Done,
    };
    uint64_t m_remaining = 0;
    size_t m_line_bytes = 0;
    size_t m_trailer_bytes = 0;
    int m_size_digits = 0;
    State m_state = State::Size;
};

/// A Content-Range header of a 206 or 416 response (RFC 9110 section 14.4).
struct ContentRange {
    /// The first and last byte sent; none in "bytes */LENGTH".
    std::optional<uint64_t> first;
    std::optional<uint64_t> last;
    /// The whole representation's length; none when "*".
    std::optional<uint64_t> total;
};

/// Parses "bytes FIRST-LAST/LENGTH", "bytes FIRST-LAST/*" or "bytes
/// */LENGTH"; nullopt for anything else, LAST below FIRST or LAST not
/// below LENGTH included.
std::optional<ContentRange> parse_content_range(std::string_view text);

} // namespace keel::net
