// net/http_auth: HTTP authentication as a client meets it. The
// WWW-Authenticate header's challenges (RFC 7235: a scheme, then a token68
// or auth-params whose values are tokens or quoted strings with escapes;
// several challenges separated by commas in one header), and the
// credentials a client answers with (Basic's base64 of user:password).
#pragma once

#include "base/result.h"

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace keel::net {

/// One challenge: `Bearer realm="https://auth.example/token",service="x"`.
struct Challenge {
    /// Lower-case ("bearer", "basic").
    std::string scheme;
    /// The token68 form's value ("Negotiate abc=="); empty otherwise.
    std::string token68;
    /// Auth-params by lower-case name, quoted strings unescaped. A name
    /// given twice is refused (RFC 7235 2.1).
    std::map<std::string, std::string> params;
};

/// Parses a WWW-Authenticate (or Proxy-Authenticate) header's value; the
/// error says where it stopped making sense.
Result<std::vector<Challenge>> parse_www_authenticate(std::string_view header);

/// The first challenge whose scheme is `scheme` (lower-case), if any.
const Challenge* find_challenge(const std::vector<Challenge>& challenges, std::string_view scheme);

/// Standard base64 with padding.
std::string base64_encode(std::string_view data);
/// Decodes standard base64 (padding optional, no whitespace); nullopt for
/// anything else.
std::optional<std::string> base64_decode(std::string_view text);

/// "Basic " + base64("user:password").
std::string basic_authorization(std::string_view username, std::string_view password);

} // namespace keel::net
