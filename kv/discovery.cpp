// Discovery's pure part: the registry's key names and values, the members
// a registry makes a cluster of, and the refusals of a registry or a data
// dir that does not fit this member (kv/discovery.h).
#include "kv/discovery.h"

#include "base/strings.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>

namespace keel::kv {

namespace {

constexpr std::string_view kRegistryPrefix = "/_etcd/registry/";

std::vector<std::string> url_texts(const std::vector<ServerUrl>& urls) {
    std::vector<std::string> out;
    for (const ServerUrl& url : urls)
        out.push_back(url.str());
    std::ranges::sort(out);
    return out;
}

/// "name (id) url,url", for listing members in messages.
std::string describe(const InitialMember& member) {
    return cat(member.name, " (", hex_number(member.id), ") ", join_urls(member.peer_urls));
}

std::string describe(const std::vector<InitialMember>& members) {
    std::string out;
    for (const InitialMember& member : members)
        out += (out.empty() ? "" : "; ") + describe(member);
    return out;
}

/// Parses a whole lowercase hex id as etcd writes it (no leading zeros).
std::optional<uint64_t> parse_hex_number(std::string_view text) {
    if (text.empty() || text.size() > 16 || (text.size() > 1 && text[0] == '0'))
        return std::nullopt;
    uint64_t value = 0;
    for (char c : text) {
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return std::nullopt;
        value = (value << 4) | uint64_t(hex_digit_value(c));
    }
    return value;
}

std::string how_to_start_over(std::string_view token) {
    return cat("bootstrap a new cluster with a fresh --discovery-token (and set its size with "
               "`etcdctl put ",
               discovery_size_key("NEW-TOKEN"),
               " N`), or delete this token's registry (`etcdctl "
               "del --prefix ",
               kRegistryPrefix, token, "/`) before reusing it");
}

} // namespace

std::string discovery_registration_path(std::string_view data_dir) {
    return cat(data_dir, "/discovery-registration");
}

std::string discovery_size_key(std::string_view token) {
    return cat(kRegistryPrefix, token, "/_config/size");
}

std::string discovery_members_prefix(std::string_view token) {
    return cat(kRegistryPrefix, token, "/members/");
}

std::string discovery_member_key(std::string_view token, uint64_t id) {
    return discovery_members_prefix(token) + hex_number(id);
}

std::string discovery_member_value(const InitialMember& member) {
    std::vector<std::string> pairs;
    for (const std::string& url : url_texts(member.peer_urls))
        pairs.push_back(cat(member.name, "=", url));
    std::string out;
    for (const std::string& pair : pairs)
        out += (out.empty() ? "" : ",") + pair;
    return out;
}

Result<uint64_t> parse_discovery_size(std::string_view token, std::string_view value) {
    std::optional<uint64_t> size = parse_u64(value);
    if (!size || *size == 0 || *size > 1000)
        return error(cat("discovery: ", discovery_size_key(token), " is ", quoted(value),
                         ", not a cluster size (a whole number from 1 to 1000): set it with "
                         "`etcdctl put ",
                         discovery_size_key(token), " 3`"));
    return *size;
}

Result<InitialMember> parse_registry_entry(std::string_view token, const RegistryEntry& entry) {
    auto refuse = [&](std::string_view why) {
        return error(
            cat("discovery: registry entry ", entry.key, " = ", quoted(entry.value), " ", why));
    };
    std::string prefix = discovery_members_prefix(token);
    if (!entry.key.starts_with(prefix))
        return refuse(cat("is not under ", prefix));
    std::optional<uint64_t> id =
        parse_hex_number(std::string_view(entry.key).substr(prefix.size()));
    if (!id)
        return refuse("does not end in a member id (lowercase hex, as etcd writes it)");
    InitialMember member;
    member.id = *id;
    std::set<std::string> seen;
    for (std::string_view item : split(trim(entry.value), ',')) {
        item = trim(item);
        std::string_view url_text = item;
        if (size_t equals = item.find('='); equals != std::string_view::npos) {
            std::string_view name = item.substr(0, equals);
            if (name.empty())
                return refuse("has an empty member name (expected name=peerURL)");
            if (!member.name.empty() && member.name != name)
                return refuse(cat("names two members, ", quoted(member.name), " and ", quoted(name),
                                  " (an entry is one member)"));
            member.name = name;
            url_text = item.substr(equals + 1);
        } else if (member.name.empty()) {
            return refuse("is not name=peerURL[,peerURL]");
        }
        Result<ServerUrl> url = parse_server_url(url_text);
        if (!url)
            return refuse(cat("has a bad peer URL: ", url.error().root()));
        if (!seen.insert(url->str()).second)
            return refuse(cat("gives the peer URL ", url->str(), " twice"));
        member.peer_urls.push_back(std::move(*url));
    }
    std::vector<std::string> urls = url_texts(member.peer_urls);
    uint64_t derived = member_id(urls, token);
    if (derived != member.id)
        return refuse(cat("has the id ", hex_number(member.id),
                          " but its peer URLs and the token give ", hex_number(derived),
                          ": it was not registered by a keel member of this token's cluster (an "
                          "etcd member, or one with another token); ",
                          how_to_start_over(token)));
    return member;
}

Result<std::vector<InitialMember>> registered_members(std::string_view token,
                                                      std::span<const RegistryEntry> entries) {
    std::vector<const RegistryEntry*> ordered;
    for (const RegistryEntry& entry : entries)
        ordered.push_back(&entry);
    // Ties cannot happen in one etcd (a revision creates one key each), but
    // the order must not depend on how the answer listed them.
    std::ranges::stable_sort(ordered, [](const RegistryEntry* a, const RegistryEntry* b) {
        return std::pair(a->create_revision, a->key) < std::pair(b->create_revision, b->key);
    });
    std::vector<InitialMember> registered;
    for (const RegistryEntry* entry : ordered)
        registered.push_back(TRY(parse_registry_entry(token, *entry)));
    return registered;
}

Result<DiscoveryOutcome> choose_discovered_members(std::string_view token, uint64_t size,
                                                   const InitialMember& self,
                                                   std::span<const RegistryEntry> entries) {
    std::vector<InitialMember> registered = TRY(registered_members(token, entries));
    std::vector<std::string> own_urls = url_texts(self.peer_urls);
    for (const InitialMember& member : registered)
        if (member.id == self.id &&
            (member.name != self.name || url_texts(member.peer_urls) != own_urls))
            return error(cat("discovery: this member's registry entry ",
                             discovery_member_key(token, self.id), " names ", describe(member),
                             ", not this member ", describe(self),
                             ": another member with these peer URLs registered under another "
                             "name; give this member that name (--name ",
                             member.name, "), or ", how_to_start_over(token)));

    DiscoveryOutcome outcome;
    bool self_counted = false;
    for (const InitialMember& member : registered) {
        if (outcome.members.size() == size)
            break;
        self_counted = self_counted || member.id == self.id;
        outcome.members.push_back(member);
    }
    if (!self_counted && outcome.members.size() == size)
        return error(cat("discovery: cluster of size ", size, " for token ", token,
                         " is already full: its members are ", describe(outcome.members),
                         "; this member ", describe(self),
                         " is not one of them. To start a new cluster, use a fresh "
                         "--discovery-token and set its size (`etcdctl put ",
                         discovery_size_key("NEW-TOKEN"),
                         " N`); to add this member to the running cluster, run `etcdctl member "
                         "add ",
                         self.name, " --peer-urls=", join_urls(self.peer_urls),
                         "` and start it with the --initial-cluster it prints and "
                         "--initial-cluster-state=existing instead of the discovery flags"));

    std::map<std::string, const InitialMember*> names;
    std::map<std::string, const InitialMember*> urls;
    for (const InitialMember& member : outcome.members) {
        if (auto [it, added] = names.emplace(member.name, &member); !added)
            return error(cat("discovery: token ", token, " has two members named ",
                             quoted(member.name), ": ", describe(*it->second), " and ",
                             describe(member), "; give each member a name of its own, and ",
                             how_to_start_over(token)));
        for (const ServerUrl& url : member.peer_urls)
            if (auto [it, added] = urls.emplace(url.address(), &member); !added)
                return error(cat("discovery: token ", token, " has two members at ", url.address(),
                                 ": ", describe(*it->second), " and ", describe(member), "; ",
                                 how_to_start_over(token)));
    }
    outcome.progress = outcome.members.size() == size && self_counted ? DiscoveryProgress::Complete
                                                                      : DiscoveryProgress::Waiting;
    return outcome;
}

ServerConfig with_discovered_cluster(ServerConfig config, std::vector<InitialMember> members) {
    std::ranges::sort(members, {}, &InitialMember::name);
    std::vector<uint64_t> ids;
    for (const InitialMember& member : members)
        ids.push_back(member.id);
    config.initial_cluster = std::move(members);
    config.initial_cluster_token = config.discovery_token;
    config.member_id = discovery_self(config).id;
    config.cluster_id = cluster_id(ids);
    return config;
}

InitialMember discovery_self(const ServerConfig& config) {
    InitialMember self;
    self.name = config.name;
    self.peer_urls = config.initial_advertise_peer_urls;
    self.id = member_id(url_texts(self.peer_urls), config.discovery_token);
    return self;
}

Result<void> check_discovered_data_dir(const ServerConfig& config, uint64_t data_cluster_id,
                                       uint64_t data_member_id, uint64_t registry_cluster_id) {
    InitialMember self = discovery_self(config);
    if (data_member_id != self.id)
        return std::unexpected(Error::from_code(
            ErrorCode::ForeignDataDir,
            cat("discovery: data dir ", config.data_dir, " belongs to member ",
                hex_number(data_member_id), " of cluster ", hex_number(data_cluster_id),
                ", but this member's peer URLs (", join_urls(self.peer_urls),
                ") and --discovery-token ", config.discovery_token, " make it member ",
                hex_number(self.id),
                ": it is another member's data dir, or the member was bootstrapped with another "
                "token or other peer URLs. Start it with the token and "
                "--initial-advertise-peer-urls it was bootstrapped with, or give it an empty "
                "data dir to bootstrap anew")));
    if (registry_cluster_id != 0 && registry_cluster_id != data_cluster_id)
        return std::unexpected(Error::from_code(
            ErrorCode::ForeignDataDir,
            cat("discovery: data dir ", config.data_dir, " belongs to cluster ",
                hex_number(data_cluster_id), ", but the registry of --discovery-token ",
                config.discovery_token, " describes cluster ", hex_number(registry_cluster_id),
                ": the token was reused for another cluster since this member was bootstrapped. "
                "Start it without the discovery flags (--initial-cluster-state=existing with its "
                "cluster's --initial-cluster), or give it an empty data dir and a fresh token")));
    return {};
}

} // namespace keel::kv
