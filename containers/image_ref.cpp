// Image references by the distribution project's grammar:
//
//   reference  := name [":" tag] ["@" digest]
//   name       := [domain "/"] path-component ["/" path-component]*
//   domain     := domain-component ["." domain-component]* [":" port]
//                 | "[" IPv6 "]" [":" port]
//   path-component := [a-z0-9]+ (separator [a-z0-9]+)*
//   separator  := "." | "_" | "__" | "-"+
//   tag        := [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}
//
// and Docker's normalisation: a first component is a registry only when it
// holds "." or ":", is "localhost", or has upper case; otherwise the
// registry is docker.io, where a one-component name is under "library/".
#include "containers/image_ref.h"

#include "base/strings.h"

#include <algorithm>

namespace keel::oci {

namespace {

constexpr size_t kMaxNameLength = 255;
constexpr size_t kMaxTagLength = 128;

bool lower_alnum(char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

bool alnum(char c) {
    return lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

Result<void> check_path_component(std::string_view component) {
    if (component.empty())
        return error("empty path component");
    if (std::ranges::any_of(component, [](char c) { return c >= 'A' && c <= 'Z'; }))
        return error(cat("repository name ", quoted(component), " must be lower-case"));
    if (!lower_alnum(component.front()) || !lower_alnum(component.back()))
        return error(cat("path component ", quoted(component),
                         " must start and end with a lower-case letter or digit"));
    for (size_t i = 0; i < component.size();) {
        char c = component[i];
        if (lower_alnum(c)) {
            ++i;
            continue;
        }
        // A separator: ".", "_", "__" or a run of "-".
        size_t end = i;
        if (c == '.')
            end = i + 1;
        else if (c == '_')
            end = component.substr(i, 2) == "__" ? i + 2 : i + 1;
        else if (c == '-')
            while (end < component.size() && component[end] == '-')
                ++end;
        else
            return error(
                cat("path component ", quoted(component), " holds ", quoted(std::string(1, c))));
        if (end >= component.size() || !lower_alnum(component[end]))
            return error(cat("path component ", quoted(component), " has a malformed separator"));
        i = end;
    }
    return {};
}

Result<void> check_domain(std::string_view domain) {
    std::string_view host = domain;
    std::string_view port;
    if (host.starts_with('[')) {
        size_t close = host.find(']');
        if (close == std::string_view::npos)
            return error(cat("registry ", quoted(domain), ": unclosed `[`"));
        std::string_view address = host.substr(1, close - 1);
        if (address.empty() || !std::ranges::all_of(address, [](char c) {
                return hex_digit_value(c) >= 0 || c == ':' || c == '.';
            }))
            return error(cat("registry ", quoted(domain), ": malformed IPv6 address"));
        std::string_view rest = host.substr(close + 1);
        if (!rest.empty()) {
            if (rest.front() != ':')
                return error(cat("registry ", quoted(domain), ": malformed"));
            port = rest.substr(1);
            if (port.empty())
                return error(cat("registry ", quoted(domain), ": empty port"));
        }
        host = {};
    } else if (size_t colon = host.find(':'); colon != std::string_view::npos) {
        port = host.substr(colon + 1);
        host = host.substr(0, colon);
        if (port.empty())
            return error(cat("registry ", quoted(domain), ": empty port"));
    }
    if (!port.empty() && !std::ranges::all_of(port, [](char c) { return c >= '0' && c <= '9'; }))
        return error(cat("registry ", quoted(domain), ": port must be digits"));
    if (!domain.starts_with('[')) {
        for (std::string_view component : split(host, '.')) {
            if (component.empty())
                return error(cat("registry ", quoted(domain), ": empty domain component"));
            if (!alnum(component.front()) || !alnum(component.back()) ||
                !std::ranges::all_of(component, [](char c) { return alnum(c) || c == '-'; }))
                return error(cat("registry ", quoted(domain), ": malformed domain component ",
                                 quoted(component)));
        }
    }
    return {};
}

Result<void> check_tag(std::string_view tag) {
    if (tag.empty())
        return error("empty tag");
    if (tag.size() > kMaxTagLength)
        return error(cat("tag longer than ", kMaxTagLength, " characters"));
    auto word = [](char c) { return alnum(c) || c == '_'; };
    if (!word(tag.front()) ||
        !std::ranges::all_of(tag, [&](char c) { return word(c) || c == '.' || c == '-'; }))
        return error(cat("tag ", quoted(tag),
                         " may hold only letters, digits, `_`, `.` and `-`, "
                         "and must not start with `.` or `-`"));
    return {};
}

bool is_registry(std::string_view first) {
    return first.find_first_of(".:") != std::string_view::npos || first == "localhost" ||
           std::ranges::any_of(first, [](char c) { return c >= 'A' && c <= 'Z'; });
}

Result<ImageReference> parse(std::string_view text) {
    if (text.empty())
        return error("empty reference");
    ImageReference reference;
    std::string_view rest = text;
    if (size_t at = rest.find('@'); at != std::string_view::npos) {
        reference.digest = TRY_CTX(parse_digest(rest.substr(at + 1)), "digest");
        rest = rest.substr(0, at);
    }
    // The tag follows the last ":" after the last "/" (earlier colons are
    // a registry's port).
    size_t slash = rest.rfind('/');
    size_t colon = rest.rfind(':');
    if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) {
        std::string_view tag = rest.substr(colon + 1);
        TRY(check_tag(tag));
        reference.tag = std::string(tag);
        rest = rest.substr(0, colon);
    }
    if (rest.empty())
        return error("empty name");

    std::string_view path = rest;
    size_t first_slash = rest.find('/');
    if (first_slash != std::string_view::npos && is_registry(rest.substr(0, first_slash))) {
        std::string_view domain = rest.substr(0, first_slash);
        TRY(check_domain(domain));
        reference.registry = std::string(domain);
        path = rest.substr(first_slash + 1);
    } else {
        // Docker refuses a bare 64-hex name: it would read as an image id.
        if (rest.size() == 64 && std::ranges::all_of(rest, [](char c) {
                return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
            }))
            return error("a 64-digit hex name is an image id, not a repository");
        reference.registry = std::string(kDefaultRegistry);
    }
    if (reference.registry == "index.docker.io")
        reference.registry = std::string(kDefaultRegistry);
    for (std::string_view component : split(path, '/'))
        TRY(check_path_component(component));
    reference.repository = std::string(path);
    if (reference.registry == kDefaultRegistry && path.find('/') == std::string_view::npos)
        reference.repository = cat("library/", path);
    // As the distribution project counts it: the normalised name, registry
    // included.
    if (reference.registry.size() + 1 + reference.repository.size() > kMaxNameLength)
        return error(cat("name longer than ", kMaxNameLength, " characters"));
    if (reference.tag.empty() && !reference.digest)
        reference.tag = "latest";
    return reference;
}

} // namespace

std::string ImageReference::str() const {
    std::string out = cat(registry, "/", repository);
    if (!tag.empty())
        out += cat(":", tag);
    if (digest)
        out += cat("@", digest->str());
    return out;
}

std::string ImageReference::familiar() const {
    std::string out;
    std::string_view first = std::string_view(repository).substr(0, repository.find('/'));
    // docker.io is left out unless the name's first component would then
    // read as a registry ("docker.io/a.b/c").
    if (registry == kDefaultRegistry &&
        (repository.find('/') == std::string::npos || !is_registry(first))) {
        std::string_view name = repository;
        if (name.starts_with("library/") && name.find('/', 8) == std::string_view::npos)
            name.remove_prefix(8);
        out = std::string(name);
    } else {
        out = cat(registry, "/", repository);
    }
    if (!tag.empty())
        out += cat(":", tag);
    if (digest)
        out += cat("@", digest->str());
    return out;
}

Result<ImageReference> parse_image_reference(std::string_view text) {
    return TRY_CTX(parse(text), cat("image reference ", quoted(text)));
}

} // namespace keel::oci
