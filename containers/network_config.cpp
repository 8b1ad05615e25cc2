// The bridge network's pure parts (network.h, containers.h): `-p` specs,
// the container's resolv.conf, address allocation, lease files' JSON and
// the nftables rule set made from the leases. No syscalls here: the fuzz
// target and the unit tests run all of it.
#include "base/json.h"
#include "base/strings.h"
#include "containers/network.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>

namespace keel::containers {

namespace {

constexpr std::string_view kPortMappingForm = "[[IP:][HOST_PORT]:]CONTAINER_PORT[/tcp|udp]";

Result<uint16_t> parse_port(std::string_view text, std::string_view which) {
    std::optional<uint64_t> port = parse_u64(text);
    if (text.empty() || text.size() > 5 || !port || *port == 0 || *port > 65535)
        return error(cat(which, " ", quoted(text), " is not a port (1 to 65535)"));
    return uint16_t(*port);
}

} // namespace

Result<PortMapping> parse_port_mapping(std::string_view spec) {
    auto context = [&] { return cat("port mapping ", quoted(spec)); };
    PortMapping mapping;
    std::string_view rest = spec;
    if (size_t slash = rest.rfind('/'); slash != std::string_view::npos) {
        std::string_view protocol = rest.substr(slash + 1);
        auto parsed = kProtocolNames.parse(protocol);
        if (!parsed)
            return error(cat(context(), ": unknown protocol ", quoted(protocol), " (expected ",
                             kProtocolNames.names(", ", " or "), ")"));
        mapping.protocol = *parsed;
        rest = rest.substr(0, slash);
    }
    if (rest.starts_with('['))
        return error(cat(context(), ": IPv6 host addresses are not supported"));
    std::vector<std::string_view> parts = split(rest, ':');
    if (parts.size() > 3)
        return error(cat(context(), ": expected ", kPortMappingForm));
    if (parts.size() == 3) {
        Ipv4Address host = TRY_CTX(parse_ipv4(parts[0]), context());
        if (host.value != 0)
            mapping.host_ip = format_ipv4(host);
        parts.erase(parts.begin());
        // "IP::CONTAINER_PORT": any free port of that address.
        if (parts[0].empty())
            parts.erase(parts.begin());
    }
    // CONTAINER_PORT alone: host_port stays 0, a free port chosen when
    // the container is attached.
    if (parts.size() == 2)
        mapping.host_port = TRY_CTX(parse_port(parts[0], "host port"), context());
    mapping.container_port = TRY_CTX(parse_port(parts.back(), "container port"), context());
    return mapping;
}

std::string format_port_mapping(const PortMapping& mapping) {
    std::string host = mapping.host_port == 0 ? std::string() : cat(mapping.host_port);
    std::string prefix;
    if (!mapping.host_ip.empty())
        prefix = cat(mapping.host_ip, ":", host, ":");
    else if (!host.empty())
        prefix = cat(host, ":");
    return cat(prefix, mapping.container_port, "/", kProtocolNames.name(mapping.protocol));
}

std::string published_port_text(const PortMapping& mapping) {
    return cat(mapping.host_ip.empty() ? "0.0.0.0" : mapping.host_ip, ":", mapping.host_port, "->",
               mapping.container_port, "/", kProtocolNames.name(mapping.protocol));
}

std::string published_ports_text(std::span<const PortMapping> ports) {
    std::string text;
    for (const PortMapping& port : ports)
        text += cat(text.empty() ? "" : ", ", published_port_text(port));
    return text;
}

std::vector<PortMapping> ports_for(std::span<const PortMapping> ports,
                                   std::string_view container_port) {
    std::vector<PortMapping> out;
    if (container_port.empty())
        return {ports.begin(), ports.end()};
    std::string_view number = container_port;
    std::optional<Protocol> protocol;
    if (size_t slash = number.find('/'); slash != std::string_view::npos) {
        protocol = kProtocolNames.parse(number.substr(slash + 1));
        if (!protocol)
            return out;
        number = number.substr(0, slash);
    }
    for (const PortMapping& port : ports)
        if (cat(port.container_port) == number && (!protocol || port.protocol == *protocol))
            out.push_back(port);
    return out;
}

std::string container_resolv_conf(std::string_view host_resolv_conf) {
    std::string out;
    bool nameserver_kept = false;
    for (std::string_view line : split(host_resolv_conf, '\n')) {
        std::string_view text = trim(line);
        if (text.starts_with("nameserver") && text.size() > 10 &&
            (text[10] == ' ' || text[10] == '\t')) {
            std::string_view address = trim(text.substr(10));
            address = address.substr(0, address.find_first_of(" \t#;"));
            bool loopback =
                address.starts_with("127.") || address == "::1" || address == "0:0:0:0:0:0:0:1";
            if (loopback || address.empty())
                continue;
            nameserver_kept = true;
        }
        out += line;
        out += '\n';
    }
    // split() gives one empty field after a final newline: do not double it.
    while (out.ends_with("\n\n"))
        out.pop_back();
    if (out == "\n")
        out.clear();
    if (!nameserver_kept)
        out += "nameserver 8.8.8.8\nnameserver 8.8.4.4\n";
    return out;
}

Result<Ipv4Address> allocate_address(const Ipv4Subnet& subnet, std::span<const Ipv4Address> taken) {
    std::vector<Ipv4Address> sorted(taken.begin(), taken.end());
    std::sort(sorted.begin(), sorted.end());
    Ipv4Address candidate{subnet.first_host().value + 1};
    for (Ipv4Address used : sorted) {
        if (used < candidate)
            continue;
        if (used != candidate)
            break;
        candidate.value++;
    }
    if (candidate >= subnet.broadcast())
        return errno_error(ENOSPC, cat("no free address left in ", format_subnet(subnet)));
    return candidate;
}

std::string host_interface_name(Ipv4Address address) {
    char hex[9];
    std::snprintf(hex, sizeof hex, "%08x", unsigned(address.value));
    return cat("keel", hex);
}

std::string attachment_json(const NetworkAttachment& attachment) {
    JsonWriter json;
    json.begin_object()
        .field("id", attachment.container_id)
        .field("bridge", attachment.bridge)
        .field("subnet", attachment.subnet)
        .field("address", attachment.address)
        .field("gateway", attachment.gateway)
        .field("interface", attachment.host_interface);
    json.key("ports").begin_array();
    for (const PortMapping& port : attachment.ports) {
        json.begin_object()
            .field("host_ip", port.host_ip)
            .field("host_port", port.host_port)
            .field("container_port", port.container_port)
            .field("protocol", kProtocolNames.name(port.protocol))
            .end_object();
    }
    json.end_array().end_object();
    return json.text() + "\n";
}

namespace {

Result<std::string> interface_name_field(const JsonObjectCursor& object, std::string_view key) {
    std::string name = TRY(object[key].string());
    if (name.empty() || name.size() > kInterfaceNameMax ||
        name.find_first_of("/ \t\n:") != std::string::npos || name == "." || name == "..")
        return error(cat(object[key].path(), ": ", quoted(name), " is not an interface name"));
    return name;
}

} // namespace

Result<NetworkAttachment> parse_attachment_json(std::string_view text) {
    JsonValue document = TRY(parse_json(text));
    JsonObjectCursor object = TRY(JsonCursor(document).object());
    NetworkAttachment attachment;
    attachment.container_id = TRY(object["id"].string());
    if (attachment.container_id.empty())
        return error("id: empty");
    attachment.bridge = TRY(interface_name_field(object, "bridge"));
    attachment.host_interface = TRY(interface_name_field(object, "interface"));
    Ipv4Subnet subnet = TRY_CTX(parse_subnet(TRY(object["subnet"].string())), "subnet");
    attachment.subnet = format_subnet(subnet);
    Ipv4Address address = TRY_CTX(parse_ipv4(TRY(object["address"].string())), "address");
    Ipv4Address gateway = TRY_CTX(parse_ipv4(TRY(object["gateway"].string())), "gateway");
    if (!subnet.contains(address) || address <= subnet.first_host() ||
        address >= subnet.broadcast())
        return error(cat("address: ", format_ipv4(address), " is no container address of ",
                         attachment.subnet));
    if (gateway != subnet.first_host())
        return error(cat("gateway: ", format_ipv4(gateway), " is not the first address of ",
                         attachment.subnet));
    attachment.address = format_ipv4(address);
    attachment.gateway = format_ipv4(gateway);
    for (const JsonCursor& element : TRY(object["ports"].array())) {
        JsonObjectCursor port = TRY(element.object());
        PortMapping mapping;
        std::string host_ip = TRY(port["host_ip"].value_or(""));
        if (!host_ip.empty())
            mapping.host_ip = format_ipv4(TRY_CTX(parse_ipv4(host_ip), port["host_ip"].path()));
        mapping.host_port = TRY(port["host_port"].integer<uint16_t>(1, 65535));
        mapping.container_port = TRY(port["container_port"].integer<uint16_t>(1, 65535));
        std::string protocol = TRY(port["protocol"].string());
        auto parsed = kProtocolNames.parse(protocol);
        if (!parsed)
            return error(cat(port["protocol"].path(), ": unknown protocol ", quoted(protocol)));
        mapping.protocol = *parsed;
        attachment.ports.push_back(std::move(mapping));
    }
    return attachment;
}

Result<NatRuleset> ruleset_for(std::span<const NetworkAttachment> attachments) {
    NatRuleset ruleset;
    for (const NetworkAttachment& attachment : attachments) {
        Ipv4Subnet subnet = TRY(parse_subnet(attachment.subnet));
        bool known = std::any_of(ruleset.bridges.begin(), ruleset.bridges.end(),
                                 [&](const NatBridge& b) { return b.name == attachment.bridge; });
        if (!known)
            ruleset.bridges.push_back({subnet, attachment.bridge});
        Ipv4Address address = TRY(parse_ipv4(attachment.address));
        for (const PortMapping& mapping : attachment.ports) {
            PortRule port;
            port.protocol = mapping.protocol;
            port.host_port = mapping.host_port;
            port.container_port = mapping.container_port;
            if (!mapping.host_ip.empty())
                port.host_address = TRY(parse_ipv4(mapping.host_ip));
            port.container_address = address;
            port.container_id = attachment.container_id;
            ruleset.ports.push_back(std::move(port));
        }
    }
    return ruleset;
}

} // namespace keel::containers
