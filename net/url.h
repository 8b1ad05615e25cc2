// net/url: the http and https URLs keel fetches (a registry's API, its
// token realm, the storage a blob redirects to): parsed strictly into
// scheme, host (an [IPv6] literal without its brackets), port and request
// target, and relative references (a Location header) resolved against
// the URL they came from (RFC 3986 section 5.2).
#pragma once

#include "base/names.h"
#include "base/result.h"

#include <cstdint>
#include <string>
#include <string_view>

namespace keel::net {

enum class Scheme { Http, Https };

inline constexpr auto kSchemeNames = name_table<Scheme>({
    {Scheme::Http, "http"},
    {Scheme::Https, "https"},
});

/// 80 for http, 443 for https.
uint16_t default_port(Scheme scheme);

/// An absolute http(s) URL. A fragment is dropped when parsed; user
/// information ("user:pass@host") is refused, so no credential travels in
/// a URL.
struct Url {
    Scheme scheme = Scheme::Https;
    uint16_t port = 443;
    /// Lower-case name, dotted IPv4, or IPv6 without brackets.
    std::string host;
    /// Path and query, starting with "/" ("/v2/?x=1"). (Last: a Result's
    /// value must not end in padding with libc++ 16.)
    std::string target;

    /// host[:port] as a Host header says it: brackets around IPv6, the port
    /// only when it is not the scheme's default.
    std::string authority() const;
    /// "https://host:port/target" (the port only when not the default).
    std::string str() const;
    /// True when `other` has the same scheme, host and port (RFC 6454
    /// origin): credentials for one origin are not sent to another.
    bool same_origin(const Url& other) const;
};

/// Parses an absolute http or https URL.
Result<Url> parse_url(std::string_view text);

/// Resolves `reference` (absolute, scheme-relative "//host/p",
/// absolute-path "/p", or relative "p?q") against `base`, removing dot
/// segments.
Result<Url> resolve_reference(const Url& base, std::string_view reference);

/// Percent-encodes every byte but RFC 3986's unreserved characters
/// (A-Z a-z 0-9 - . _ ~): for a value in a query string.
std::string percent_encode(std::string_view text);

} // namespace keel::net
