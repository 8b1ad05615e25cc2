// Cluster discovery (--discovery-token, --discovery-endpoints): a new
// cluster formed from a token and a size alone, through etcd 3.5's v3
// discovery protocol against any etcd v3 API (keel's or etcd's). The
// registry of a token is
//   /_etcd/registry/<token>/_config/size          the cluster's size, "3"
//   /_etcd/registry/<token>/members/<id in hex>   "name=peerURL[,name=peerURL]"
// Each member registers itself, waits until `size` members registered, and
// takes the first `size` of them by create revision as its initial
// cluster. Member ids are derived from a member's peer URLs and the token,
// so every member derives the same ids and cluster id from the registry.
//
// The pure part (keys, registry values, choosing the members, the
// refusals) is here and in discovery.cpp; discovery_client.cpp talks to the
// discovery service with kv's gRPC client. Private to kv/.
#pragma once

#include "base/result.h"
#include "kv/server_config.h"

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace keel::kv {

/// "/_etcd/registry/<token>/_config/size".
std::string discovery_size_key(std::string_view token);
/// The file in a data dir that says the data dir registered its member
/// (written before the registration, removed once the member has a log).
std::string discovery_registration_path(std::string_view data_dir);
/// "/_etcd/registry/<token>/members/": every member key starts so.
std::string discovery_members_prefix(std::string_view token);
/// "/_etcd/registry/<token>/members/<id>", the id in lowercase hex without
/// leading zeros (as etcd prints member ids there).
std::string discovery_member_key(std::string_view token, uint64_t id);
/// What a member registers: "name=url" for each of its peer URLs, sorted,
/// joined by commas (etcd's form of a one-member initial cluster).
std::string discovery_member_value(const InitialMember& member);

/// The size key's value: a whole number of at least 1. The error names the
/// key and says how to set it.
Result<uint64_t> parse_discovery_size(std::string_view token, std::string_view value);

/// One key under the token's members prefix, as the discovery service
/// holds it.
struct RegistryEntry {
    int64_t create_revision = 0;
    std::string key;
    std::string value;
};

/// A registry entry read as a member: the key's id, the value's name and
/// peer URLs ("name=url,name=url"; a bare URL after the first continues the
/// same member). The id must be the one the URLs and the token derive
/// (kv::member_id), or the entry was not written by a member of this
/// token's cluster.
Result<InitialMember> parse_registry_entry(std::string_view token, const RegistryEntry& entry);

/// Every entry read as a member, by create revision (ties, which one etcd
/// cannot make, by key). Refuses the registry at the first entry that
/// does not parse.
Result<std::vector<InitialMember>> registered_members(std::string_view token,
                                                      std::span<const RegistryEntry> entries);

/// Whether the registry holds the whole cluster yet.
enum class DiscoveryProgress : uint8_t { Waiting, Complete };

/// What the registry says so far.
struct DiscoveryOutcome {
    DiscoveryProgress progress = DiscoveryProgress::Waiting;
    /// The cluster's members: the first `size` entries by create revision
    /// (fewer while waiting), in that order.
    std::vector<InitialMember> members;
};

/// The cluster the registry describes for `self` (its id, name and peer
/// URLs): the first `size` entries by create revision. Refuses a registry
/// whose first `size` entries are taken by others (the cluster is full),
/// an entry that does not parse, two members with one name or one peer
/// URL, and an entry under this member's id with another name or URLs.
/// `self` need not be registered yet: then it is counted as the next one.
Result<DiscoveryOutcome> choose_discovered_members(std::string_view token, uint64_t size,
                                                   const InitialMember& self,
                                                   std::span<const RegistryEntry> entries);

/// `config` with its initial cluster set to `members` (sorted by name),
/// its member and cluster ids derived from them and the token (the token
/// is the cluster token, as in etcd). `members` must hold config's own.
ServerConfig with_discovered_cluster(ServerConfig config, std::vector<InitialMember> members);

/// This member as the discovery flags describe it: its name, its
/// advertised peer URLs, and the id they derive with the token.
InitialMember discovery_self(const ServerConfig& config);

/// Checks a data dir's ids against the discovery flags: its member id must
/// be the one this member's peer URLs and the token derive, and its
/// cluster id, when the registry is known (`registry_cluster_id` not 0),
/// the registry's. The error says whose data dir it is and what to do.
Result<void> check_discovered_data_dir(const ServerConfig& config, uint64_t data_cluster_id,
                                       uint64_t data_member_id, uint64_t registry_cluster_id);

/// Bootstraps through discovery when config has a --discovery-token: a
/// member whose data dir holds a log restarts on it (the discovery service
/// need not run; its ids are checked as check_discovered_data_dir says);
/// else it registers, waits up to --discovery-wait-timeout for the rest of
/// the cluster, and returns config with the discovered initial cluster.
/// Without a token, returns config as it is. Blocks: it runs once before
/// the member starts.
Result<ServerConfig> bootstrap_through_discovery(ServerConfig config);

} // namespace keel::kv
