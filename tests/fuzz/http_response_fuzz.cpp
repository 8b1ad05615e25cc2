// Fuzz target for net/http_message.h (and net/url.h): a response head, its
// body framing and a chunked body decoded from arbitrary bytes, whole and
// split into pieces; the input as a URL, as a Location reference and as a
// Content-Range.
//
// Besides "does not crash": the decoder never uses more input than it is
// given, decodes the same whatever the split, and a parsed head stays
// within the limits.
#include "net/http_message.h"
#include "net/url.h"
#include "tests/fuzz/fuzz_check.h"

#include <cstdint>
#include <string>
#include <string_view>

using namespace keel;
using namespace keel::net;

namespace {

// Decodes `body` in pieces of `piece` bytes; the data, or nullopt on error.
std::optional<std::string> decode(std::string_view body, size_t piece, size_t& used) {
    ChunkedDecoder decoder;
    std::string out;
    used = 0;
    while (used < body.size() && !decoder.done()) {
        std::string_view next = body.substr(used, piece);
        auto n = decoder.decode(next, out);
        if (!n)
            return std::nullopt;
        FUZZ_CHECK(*n <= next.size());
        FUZZ_CHECK(*n == next.size() || decoder.done());
        used += *n;
    }
    if (!decoder.done())
        return std::nullopt;
    return out;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view input(reinterpret_cast<const char*>(data), size);

    std::string_view body = input;
    if (std::optional<size_t> end = find_head_end(input)) {
        FUZZ_CHECK(*end <= input.size());
        if (auto head = parse_response_head(input.substr(0, *end))) {
            FUZZ_CHECK(head->status >= 100 && head->status <= 599);
            FUZZ_CHECK(head->headers.fields().size() <= kMaxHeaderCount);
            (void)body_length(*head, RequestKind::Other);
        }
        body = input.substr(*end);
    }
    size_t used_whole = 0;
    size_t used_split = 0;
    std::optional<std::string> whole = decode(body, body.size() + 1, used_whole);
    std::optional<std::string> split = decode(body, 3, used_split);
    FUZZ_CHECK(whole.has_value() == split.has_value());
    if (whole) {
        FUZZ_CHECK(*whole == *split);
        FUZZ_CHECK(used_whole == used_split);
    }

    if (auto url = parse_url(input)) {
        FUZZ_CHECK(!url->host.empty());
        FUZZ_CHECK(!url->target.empty() && url->target.front() == '/');
        auto again = parse_url(url->str());
        FUZZ_CHECK(again && again->str() == url->str());
        if (auto resolved = resolve_reference(*url, "../a?b"))
            FUZZ_CHECK(resolved->same_origin(*url));
    }
    if (std::optional<ContentRange> range = parse_content_range(input)) {
        FUZZ_CHECK(range->first.has_value() == range->last.has_value());
        FUZZ_CHECK(range->first || range->total);
        if (range->first)
            FUZZ_CHECK(*range->first <= *range->last &&
                       (!range->total || *range->last < *range->total));
    }
    Url base{Scheme::Https, 443, "registry.example", "/v2/x/blobs/y"};
    if (auto resolved = resolve_reference(base, input))
        FUZZ_CHECK(!resolved->target.empty() && resolved->target.front() == '/');
    return 0;
}
