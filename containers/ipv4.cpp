// Dotted quads and CIDR blocks read and written (ipv4.h).
#include "containers/ipv4.h"

#include "base/strings.h"

namespace keel::containers {

std::string format_ipv4(Ipv4Address address) {
    auto b = address.bytes();
    return cat(int(b[0]), ".", int(b[1]), ".", int(b[2]), ".", int(b[3]));
}

Result<Ipv4Address> parse_ipv4(std::string_view text) {
    auto bad = [&] { return error(cat(quoted(text), " is not an IPv4 address (like 10.88.0.2)")); };
    std::vector<std::string_view> parts = split(text, '.');
    if (parts.size() != 4)
        return bad();
    uint32_t value = 0;
    for (std::string_view part : parts) {
        if (part.empty() || part.size() > 3 || (part.size() > 1 && part[0] == '0'))
            return bad();
        uint32_t byte = 0;
        for (char c : part) {
            if (c < '0' || c > '9')
                return bad();
            byte = byte * 10 + uint32_t(c - '0');
        }
        if (byte > 255)
            return bad();
        value = value << 8 | byte;
    }
    return Ipv4Address{value};
}

std::string format_subnet(const Ipv4Subnet& subnet) {
    return cat(format_ipv4(subnet.network), "/", subnet.prefix_length);
}

Result<Ipv4Subnet> parse_subnet(std::string_view text) {
    size_t slash = text.find('/');
    if (slash == std::string_view::npos)
        return error(cat("subnet ", quoted(text), ": expected ADDRESS/PREFIX, like 10.88.0.0/16"));
    Ipv4Address network = TRY_CTX(parse_ipv4(text.substr(0, slash)), cat("subnet ", quoted(text)));
    std::string_view prefix_text = text.substr(slash + 1);
    std::optional<uint64_t> prefix = parse_u64(prefix_text);
    if (!prefix || prefix_text.size() > 2 || *prefix < 8 || *prefix > 30)
        return error(cat("subnet ", quoted(text), ": the prefix length must be 8 to 30, got ",
                         quoted(prefix_text)));
    Ipv4Subnet subnet{network, int(*prefix)};
    if ((network.value & subnet.mask()) != network.value)
        return error(cat("subnet ", quoted(text), ": host bits are set (the network is ",
                         format_subnet({{network.value & subnet.mask()}, subnet.prefix_length}),
                         ")"));
    return subnet;
}

} // namespace keel::containers
