// `keel network attach|detach|ls` (see network_commands.h), on
// containers/containers.h's Networking section.
#include "cli/network_commands.h"

#include "base/json.h"
#include "base/strings.h"
#include "base/sys.h"
#include "containers/containers.h"

#include <fcntl.h>
#include <string>
#include <vector>

namespace keel::cli {

namespace {

namespace ct = containers;

// `ls`'s columns (each followed by a space).
constexpr size_t kNetworkIdWidth = 16;
constexpr size_t kAddressWidth = 16;
constexpr size_t kBridgeWidth = 8;
constexpr size_t kInterfaceWidth = 13;

const Option kStateOption{
    .name = "--state",
    .value_name = "DIR",
    .type = ValueType::Text,
    .shown = Shown::InOptionList,
    .help = "the lease directory (default /run/keel/network)",
};

const Positional kNetworkContainerId{.name = "ID", .noun = "container id"};

ct::BridgeConfig bridge_config_of(const ParsedArgs& args) {
    ct::BridgeConfig config;
    if (auto bridge = args.value("--bridge"))
        config.bridge = std::string(*bridge);
    if (auto subnet = args.value("--subnet"))
        config.subnet = std::string(*subnet);
    if (auto state = args.value("--state"))
        config.state_directory = std::string(*state);
    return config;
}

std::string ports_text(const std::vector<ct::PortMapping>& ports) {
    std::string text;
    for (const ct::PortMapping& port : ports)
        text += cat(text.empty() ? "" : ",", ct::format_port_mapping(port));
    return text.empty() ? "-" : text;
}

CommandResult network_attach(const ParsedArgs& args) {
    std::vector<ct::PortMapping> ports;
    for (std::string_view spec : args.values("--publish")) {
        auto mapping = ct::parse_port_mapping(spec);
        if (!mapping)
            return usage_error(args, cat("-p: ", mapping.error().to_string()));
        ports.push_back(std::move(*mapping));
    }
    std::string netns_path(*args.positional("NETNS-PATH"));
    Fd netns = TRY(open_file(netns_path, O_RDONLY));
    ct::NetworkAttachment attachment =
        TRY(ct::attach_bridge(bridge_config_of(args), *args.positional("ID"), netns.get(), ports));
    print(cat(attachment.address, "\n"));
    return kExitSuccess;
}

const Command kAttach{
    .names = {"attach"},
    .summary = "attach the network namespace at NETNS-PATH (/proc/PID/ns/net, /run/netns/NAME) "
               "to the bridge as container ID: eth0 with a leased address, a default route via "
               "the bridge, outbound NAT, published ports; prints the address",
    .options = {{.name = "--bridge",
                 .value_name = "NAME",
                 .type = ValueType::Text,
                 .help = "the bridge (default keel0; made on first use)"},
                {.name = "--subnet",
                 .value_name = "CIDR",
                 .type = ValueType::Text,
                 .help = "the bridge's network (default 10.88.0.0/16; the first address is "
                         "the gateway)"},
                {.name = "--publish",
                 .short_name = 'p',
                 .value_name = "[IP:]HOST:CTR[/udp]",
                 .type = ValueType::Text,
                 .repeat = Repeat::Collect,
                 .help = "publish a port, as `docker run -p` does (tcp unless /udp)"},
                kStateOption},
    .positionals = {kNetworkContainerId, {.name = "NETNS-PATH", .noun = "network namespace path"}},
    .run = network_attach,
};

CommandResult network_detach(const ParsedArgs& args) {
    TRY(ct::detach_bridge(bridge_config_of(args), *args.positional("ID")));
    return kExitSuccess;
}

const Command kDetach{
    .names = {"detach"},
    .summary = "detach container ID: its veth pair, its lease and its port rules go",
    .options = {kStateOption},
    .positionals = {kNetworkContainerId},
    .run = network_detach,
};

CommandResult network_ls(const ParsedArgs& args) {
    std::vector<ct::NetworkAttachment> attachments =
        TRY(ct::list_attachments(bridge_config_of(args)));
    if (args.flag("--json")) {
        JsonWriter json;
        json.begin_array();
        for (const ct::NetworkAttachment& a : attachments) {
            json.begin_object()
                .field("id", a.container_id)
                .field("bridge", a.bridge)
                .field("address", a.address)
                .field("subnet", a.subnet)
                .field("gateway", a.gateway)
                .field("interface", a.host_interface);
            json.key("ports").begin_array();
            for (const ct::PortMapping& port : a.ports)
                json.value(ct::format_port_mapping(port));
            json.end_array().end_object();
        }
        json.end_array();
        print(json.text() + "\n");
        return kExitSuccess;
    }
    std::string out =
        cat(cell("ID", kNetworkIdWidth), cell("ADDRESS", kAddressWidth),
            cell("BRIDGE", kBridgeWidth), cell("INTERFACE", kInterfaceWidth), "PORTS\n");
    for (const ct::NetworkAttachment& a : attachments)
        out += cat(cell(a.container_id, kNetworkIdWidth), cell(a.address, kAddressWidth),
                   cell(a.bridge, kBridgeWidth), cell(a.host_interface, kInterfaceWidth),
                   ports_text(a.ports), "\n");
    print(out);
    return kExitSuccess;
}

const Command kLs{
    .names = {"ls"},
    .summary = "list the attached containers: id, address, bridge, host interface, ports",
    .options = {kJsonOption, kStateOption},
    .run = network_ls,
};

} // namespace

const Command kNetworkCommand{
    .names = {"network"},
    .summary = "bridge networking for containers by hand (see `keel network help`)",
    .notes = "Every command takes --state DIR: the lease directory (default /run/keel/network).\n",
    .subcommands = {&kAttach, &kDetach, &kLs},
};

} // namespace keel::cli
