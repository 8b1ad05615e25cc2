// A joining member's questions to the running cluster: one blocking TCP
// exchange per peer (Hello with the members purpose out, one
// ClusterMembers frame back), and the search for itself in the answer.
#include "kv/member_join.h"

#include "base/fd.h"
#include "base/framing.h"
#include "base/strings.h"
#include "kv/wal.h"

#include <algorithm>
#include <arpa/inet.h>
#include <cerrno>
#include <cstdio>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>

namespace keel::kv {

namespace {

// How long a joining member gives each peer to connect and answer.
constexpr std::chrono::milliseconds kQueryTimeout{2000};
// The largest answer read (a member list is a few hundred bytes a member).
constexpr size_t kMaxAnswer = 1 << 20;

std::string hex(uint64_t id) {
    char text[17];
    std::snprintf(text, sizeof text, "%llx", static_cast<unsigned long long>(id));
    return text;
}

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
        parts.push_back(cat(hex(member.id), " ", member.name.empty() ? "(unstarted)" : member.name,
                            " ", join(member.peer_urls, ",")));
    return join(parts, "; ");
}

/// One question to one peer: connect, send the Hello, read one frame.
Result<ClusterMembers> ask(const ServerUrl& peer, std::chrono::milliseconds timeout) {
    sockaddr_storage storage{};
    socklen_t length = 0;
    auto* v4 = reinterpret_cast<sockaddr_in*>(&storage);
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&storage);
    if (::inet_pton(AF_INET, peer.ip.c_str(), &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(peer.port);
        length = sizeof(sockaddr_in);
    } else if (::inet_pton(AF_INET6, peer.ip.c_str(), &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(peer.port);
        length = sizeof(sockaddr_in6);
    } else {
        return error(cat("address ", quoted(peer.ip), " is no IP address"));
    }
    Fd socket(::socket(storage.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!socket)
        return errno_error("socket");
    // Blocking calls bounded by the socket's timeouts (Linux applies the
    // send timeout to connect as well).
    timeval limit{};
    limit.tv_sec = static_cast<time_t>(timeout.count() / 1000);
    limit.tv_usec = static_cast<suseconds_t>(timeout.count() % 1000 * 1000);
    if (::setsockopt(socket.get(), SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit) < 0 ||
        ::setsockopt(socket.get(), SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit) < 0)
        return errno_error("setsockopt");
    if (::connect(socket.get(), reinterpret_cast<sockaddr*>(&storage), length) < 0)
        return errno_error("connect");
    PeerHello hello;
    hello.purpose = HelloPurpose::Members;
    std::string frame = encode_frame(encode_hello(hello));
    if (::send(socket.get(), frame.data(), frame.size(), MSG_NOSIGNAL) != ssize_t(frame.size()))
        return errno_error("send");
    FrameDecoder decoder(kMaxAnswer);
    char buffer[16384];
    for (;;) {
        if (auto answer = TRY(decoder.next()))
            return TRY_CTX(decode_cluster_members(*answer), "its answer");
        ssize_t got = ::recv(socket.get(), buffer, sizeof buffer, 0);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            return errno_error("receive");
        if (got == 0)
            return error("it closed the connection without an answer (a member that refuses "
                         "members queries, or one of another cluster)");
        decoder.feed(std::string_view(buffer, size_t(got)));
    }
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
                         ") is not in cluster ", hex(members.cluster_id), ", whose members are ",
                         describe(members),
                         ": add it with `etcdctl member add` first, or start a new cluster with "
                         "--initial-cluster-state new"));
    return identity;
}

Result<ClusterMembers> query_cluster_members(std::span<const ServerUrl> peers,
                                             std::chrono::milliseconds timeout) {
    std::vector<std::string> failures;
    for (const ServerUrl& peer : peers) {
        Result<ClusterMembers> answer = ask(peer, timeout);
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
    ClusterMembers members = TRY(query_cluster_members(peers, kQueryTimeout));
    return find_joining_member(members, config);
}

} // namespace keel::kv
