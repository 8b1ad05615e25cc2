// A joining member's questions to the running cluster: one blocking
// exchange per peer (kv/peer_query.h: Hello with the members purpose out,
// one ClusterMembers frame back), and the search for itself in the answer.
#include "kv/member_join.h"

#include "base/strings.h"
#include "kv/peer_query.h"
#include "kv/wal.h"

#include <algorithm>
#include <cstdio>

namespace keel::kv {

namespace {

// How long a joining member gives each peer to connect and answer.
constexpr std::chrono::milliseconds kQueryTimeout{2000};

std::string join(const std::vector<std::string>& parts, std::string_view separator) {
    std::string out;
    for (const std::string& part : parts)
        out += (out.empty() ? "" : std::string(separator)) + part;
    return out;
}

std::vector<std::string> sorted(std::vector<std::string> urls) {
    std::ranges::sort(urls);
    return urls;
}

std::string describe(const ClusterMembers& members) {
    std::vector<std::string> parts;
    for (const ClusterMember& member : members.members)
        parts.push_back(cat(hex_number(member.id), " ",
                            member.name.empty() ? "(unstarted)" : member.name, " ",
                            join(member.peer_urls, ",")));
    return join(parts, "; ");
}

/// One question to one peer: the members.
Result<ClusterMembers> ask(const ServerUrl& peer, std::chrono::milliseconds timeout,
                           const std::shared_ptr<TlsContext>& tls) {
    PeerHello hello;
    hello.purpose = HelloPurpose::Members;
    std::string answer = TRY(ask_peer(peer, hello, timeout, tls));
    return TRY_CTX(decode_cluster_members(answer), "its answer");
}

} // namespace

Result<JoinIdentity> find_joining_member(const ClusterMembers& members,
                                         const ServerConfig& config) {
    std::vector<std::string> own;
    for (const ServerUrl& url : config.initial_advertise_peer_urls)
        own.push_back(url.str());
    own = sorted(std::move(own));
    JoinIdentity identity;
    identity.cluster_id = members.cluster_id;
    identity.members = members.members;
    for (const ClusterMember& member : members.members)
        if (sorted(member.peer_urls) == own)
            identity.member_id = member.id;
    if (identity.member_id == 0)
        return error(cat("kv: member ", config.name, " (peer URLs ", join(own, ","),
                         ") is not in cluster ", hex_number(members.cluster_id),
                         ", whose members are ", describe(members),
                         ": add it with `etcdctl member add` first, or start a new cluster with "
                         "--initial-cluster-state new"));
    return identity;
}

Result<ClusterMembers> query_cluster_members(std::span<const ServerUrl> peers,
                                             std::chrono::milliseconds timeout,
                                             const std::shared_ptr<TlsContext>& tls) {
    std::vector<std::string> failures;
    for (const ServerUrl& peer : peers) {
        Result<ClusterMembers> answer = ask(peer, timeout, tls);
        // A member that joined moments ago may not have its log yet: its
        // empty list says nothing, so the next peer is asked.
        if (answer && !answer->members.empty())
            return answer;
        failures.push_back(
            cat(peer.str(), ": ", answer ? "it knows no members yet" : answer.error().to_string()));
    }
    if (peers.empty())
        return error("kv: --initial-cluster-state existing: --initial-cluster names no other "
                     "member to ask for the cluster's members");
    return error(cat("kv: could not retrieve the cluster's members from any peer in "
                     "--initial-cluster (",
                     join(failures, "; "), ")"));
}

Result<JoinIdentity> join_identity(const ServerConfig& config) {
    std::string wal_dir = config.data_dir + "/wal";
    if (TRY(Wal::exists(wal_dir))) {
        Wal wal = TRY(Wal::open(wal_dir));
        JoinIdentity identity;
        identity.cluster_id = wal.metadata().cluster_id;
        identity.member_id = wal.metadata().member_id;
        return identity;
    }
    std::vector<ServerUrl> own = config.initial_advertise_peer_urls;
    std::vector<ServerUrl> peers;
    for (const InitialMember& member : config.initial_cluster)
        for (const ServerUrl& url : member.peer_urls)
            if (std::ranges::find(own, url) == own.end())
                peers.push_back(url);
    std::shared_ptr<TlsContext> tls = TRY(peer_client_tls(config));
    ClusterMembers members = TRY(query_cluster_members(peers, kQueryTimeout, tls));
    return find_joining_member(members, config);
}

} // namespace keel::kv
