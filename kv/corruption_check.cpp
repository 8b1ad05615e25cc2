// The corruption checks' questions and comparisons (kv/corruption_check.h).
// The rules are etcd 3.4's, so a keel cluster raises CORRUPT exactly when
// an etcd cluster in its place would.
#include "kv/corruption_check.h"

#include "base/strings.h"
#include "kv/kv_state_machine.h"
#include "kv/peer_query.h"

namespace keel::kv {

std::vector<PeerHashResult> ask_peer_hashes(std::span<const PeerToCheck> peers, uint64_t cluster_id,
                                            NodeId self, int64_t revision,
                                            std::chrono::milliseconds timeout,
                                            const std::shared_ptr<TlsContext>& tls) {
    std::vector<PeerHashResult> results;
    for (const PeerToCheck& peer : peers) {
        PeerHashResult& result = results.emplace_back();
        result.id = peer.id;
        PeerHello hello;
        hello.cluster_id = cluster_id;
        hello.from = self;
        hello.to = peer.id;
        hello.purpose = HelloPurpose::HashKv;
        hello.revision = revision;
        for (const ServerUrl& url : peer.urls) {
            Result<std::string> frame = ask_peer(url, hello, timeout, tls);
            Result<PeerHashKv> answer = frame ? decode_peer_hash_kv(*frame)
                                              : Result<PeerHashKv>(std::unexpected(frame.error()));
            if (answer && answer->member_id != peer.id)
                answer = error(cat("member ", hex_number(answer->member_id), " answered"));
            if (answer) {
                result.answer = std::move(*answer);
                result.failure.clear();
                break;
            }
            result.failure = cat(result.failure.empty() ? "" : "; ", url.str(), ": ",
                                 answer.error().to_string());
        }
        if (peer.urls.empty())
            result.failure = "it has no peer URL";
    }
    return results;
}

namespace {

/// Why a peer could not be compared, or nullopt when it answered a hash.
std::optional<std::string> not_comparable(const PeerHashResult& peer) {
    if (!peer.answer)
        return cat("member ", hex_number(peer.id), " did not answer (", peer.failure, ")");
    if (!peer.answer->error.empty())
        return cat("member ", hex_number(peer.id), ": ", peer.answer->error);
    return std::nullopt;
}

} // namespace

CorruptionFindings compare_initial_hashes(const HashKv& own,
                                          std::span<const PeerHashResult> peers) {
    CorruptionFindings findings;
    for (const PeerHashResult& peer : peers) {
        if (auto why = not_comparable(peer)) {
            findings.skipped.push_back(std::move(*why));
            continue;
        }
        const PeerHashKv& answer = *peer.answer;
        if (answer.hash == own.hash)
            continue;
        if (answer.compact_revision == own.compact_revision)
            findings.mismatches.push_back(cat("member ", hex_number(peer.id), "'s hash ",
                                              answer.hash, " != this member's ", own.hash,
                                              " (revision ", own.hash_revision, ", compacted at ",
                                              own.compact_revision, ")"));
        else
            findings.skipped.push_back(
                cat("member ", hex_number(peer.id), " is compacted at another revision (",
                    answer.compact_revision, ", this member at ", own.compact_revision, ")"));
    }
    return findings;
}

CorruptionFindings compare_leader_hashes(const HashKv& before, const HashKv& after,
                                         std::span<const PeerHashResult> peers) {
    CorruptionFindings findings;
    if (after.hash != before.hash && after.hash_revision == before.hash_revision &&
        after.compact_revision == before.compact_revision)
        findings.mismatches.push_back(cat("the leader's hash changed from ", before.hash, " to ",
                                          after.hash, " at revision ", before.hash_revision,
                                          " with no write in between"));
    for (const PeerHashResult& peer : peers) {
        if (auto why = not_comparable(peer)) {
            findings.skipped.push_back(std::move(*why));
            continue;
        }
        const PeerHashKv& answer = *peer.answer;
        std::string member = cat("member ", hex_number(peer.id));
        if (answer.revision > after.hash_revision)
            findings.mismatches.push_back(cat(member, " is at revision ", answer.revision,
                                              ", past the leader's ", after.hash_revision));
        if (answer.compact_revision > after.compact_revision)
            findings.mismatches.push_back(cat(member, " is compacted at revision ",
                                              answer.compact_revision, ", past the leader's ",
                                              after.compact_revision));
        if (answer.compact_revision == before.compact_revision && answer.hash != before.hash)
            findings.mismatches.push_back(cat(member, "'s hash ", answer.hash, " at revision ",
                                              before.hash_revision, " != the leader's ",
                                              before.hash));
    }
    return findings;
}

} // namespace keel::kv
