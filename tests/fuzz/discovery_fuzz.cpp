// Fuzz target for kv/discovery.h: a discovery service's registry as a
// member reads it. The input is split at newlines: the token, the size
// key's value, then registry entries as "KEY VALUE" (a space between), one
// a line, created in that order. Besides "does not crash": an entry that
// parses has the key its id makes and the id its URLs make, and a cluster
// that is chosen is at most `size` members with names and peer addresses
// of their own, complete only with this member in it.
#include "kv/discovery.h"
#include "tests/fuzz/fuzz_check.h"

#include <set>
#include <string>
#include <vector>

using namespace keel;
using namespace keel::kv;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view input(reinterpret_cast<const char*>(data), size);
    std::vector<std::string_view> lines;
    size_t start = 0;
    while (start <= input.size()) {
        size_t end = std::min(input.find('\n', start), input.size());
        lines.push_back(input.substr(start, end - start));
        start = end + 1;
    }
    if (lines.size() < 2 || lines[0].empty() || lines[0].find('/') != std::string_view::npos)
        return 0;
    std::string token(lines[0]);
    auto cluster_size = parse_discovery_size(token, lines[1]);
    FUZZ_CHECK(!cluster_size || (*cluster_size >= 1 && *cluster_size <= 1000));

    std::vector<RegistryEntry> entries;
    for (size_t i = 2; i < lines.size(); ++i) {
        size_t space = lines[i].find(' ');
        RegistryEntry entry;
        entry.create_revision = int64_t(i);
        entry.key = lines[i].substr(0, space);
        if (space != std::string_view::npos)
            entry.value = lines[i].substr(space + 1);
        if (auto member = parse_registry_entry(token, entry)) {
            FUZZ_CHECK(discovery_member_key(token, member->id) == entry.key);
            FUZZ_CHECK(!member->name.empty() && !member->peer_urls.empty());
            RegistryEntry again{entry.create_revision, entry.key, discovery_member_value(*member)};
            auto reread = parse_registry_entry(token, again);
            FUZZ_CHECK(reread.has_value());
            FUZZ_CHECK(reread->name == member->name && reread->id == member->id);
        }
        entries.push_back(std::move(entry));
    }

    std::vector<std::string> args = {
        "--name=self", "--initial-advertise-peer-urls=http://127.0.0.1:2380",
        "--discovery-token=" + token, "--discovery-endpoints=127.0.0.1:2379"};
    auto config = parse_server_config(args, {});
    if (!config || !cluster_size)
        return 0;
    InitialMember self = discovery_self(*config);
    auto outcome = choose_discovered_members(token, *cluster_size, self, entries);
    if (!outcome)
        return 0;
    FUZZ_CHECK(outcome->members.size() <= *cluster_size);
    std::set<std::string> names;
    std::set<std::string> addresses;
    bool has_self = false;
    for (const InitialMember& member : outcome->members) {
        FUZZ_CHECK(names.insert(member.name).second);
        for (const ServerUrl& url : member.peer_urls)
            FUZZ_CHECK(addresses.insert(url.address()).second);
        has_self = has_self || member.id == self.id;
    }
    if (outcome->progress == DiscoveryProgress::Complete) {
        FUZZ_CHECK(has_self && outcome->members.size() == *cluster_size);
        ServerConfig formed = with_discovered_cluster(*config, outcome->members);
        FUZZ_CHECK(formed.member_id == self.id && formed.cluster_id != 0);
    }
    return 0;
}
