// KvServer's corruption checks (kv/corruption_check.h has the rules): the
// initial one blocks start, before anything is served; the leader's
// periodic one asks its peers on a thread of its own, so a peer that does
// not answer never stalls the loop, and compares on the loop once the
// thread signals its eventfd.
#include "base/log.h"
#include "base/strings.h"
#include "kv/etcd_errors.h"
#include "kv/kv_server.h"
#include "kv/peer_query.h"
#include "proto/etcd/rpc.pb.h"
#include "proto/kv/internal.pb.h"

#include <set>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

namespace keel::kv {

namespace {

// How long a peer (each of its URLs) has to answer a HashKV query.
constexpr std::chrono::milliseconds kPeerHashTimeout{2000};

void log_skipped(const CorruptionFindings& findings) {
    for (const std::string& skipped : findings.skipped)
        log_warning(cat("kv: corruption check: cannot compare with ", skipped));
}

} // namespace

std::vector<PeerToCheck> KvServer::peers_to_check(const std::vector<ClusterMember>& joined) const {
    std::vector<PeerToCheck> peers;
    auto add = [&](NodeId id, const std::vector<std::string>& urls) {
        if (id == m_member_id)
            return;
        PeerToCheck& peer = peers.emplace_back();
        peer.id = id;
        for (const std::string& url : urls)
            if (auto parsed = parse_server_url(url))
                peer.urls.push_back(*parsed);
    };
    if (!m_machine->members().empty()) {
        for (const auto& [id, member] : m_machine->members())
            add(id, member.peer_urls);
    } else if (!joined.empty()) {
        for (const ClusterMember& member : joined)
            add(member.id, member.peer_urls);
    } else {
        // A new cluster's first start: its log has not made the members yet.
        for (const InitialMember& member : m_config.initial_cluster)
            if (member.id != m_member_id)
                peers.push_back({member.id, member.peer_urls});
    }
    return peers;
}

PeerHashKv KvServer::answer_hash_kv(int64_t revision) const {
    const MvccStore& store = m_machine->store();
    PeerHashKv answer;
    answer.member_id = m_member_id;
    answer.revision = store.revision();
    answer.compact_revision = store.compact_revision();
    if (auto hash = store.hash_kv(revision))
        answer.hash = hash->hash;
    else
        answer.error = status_of(hash.error()).message;
    return answer;
}

Result<void> KvServer::check_initial_corruption(const std::vector<ClusterMember>& joined) {
    log_info(cat("kv: member ", hex_number(m_member_id), " starting the initial corruption check"));
    HashKv own = TRY_CTX(m_machine->store().hash_kv(0),
                         cat("kv: member ", hex_number(m_member_id), " failed to fetch its hash"));
    std::vector<PeerToCheck> peers = peers_to_check(joined);
    std::shared_ptr<TlsContext> tls = TRY(peer_client_tls(m_config));
    auto results =
        ask_peer_hashes(peers, m_cluster_id, m_member_id, own.hash_revision, kPeerHashTimeout, tls);
    CorruptionFindings findings = compare_initial_hashes(own, results);
    log_skipped(findings);
    for (const std::string& mismatch : findings.mismatches)
        log_error(cat("kv: initial corruption check: ", mismatch));
    if (!findings.mismatches.empty())
        return error(cat("kv: member ", hex_number(m_member_id),
                         " found data inconsistency with peers: ", findings.mismatches.front(),
                         findings.mismatches.size() > 1 ? " (and more, logged)" : "",
                         ". Its store differs from theirs at the same revision: replace this "
                         "member (etcdctl member remove, then add it back with an empty data "
                         "dir) or restore the cluster from a snapshot"));
    log_info(cat("kv: initial corruption check passed at revision ", own.hash_revision, " (hash ",
                 own.hash, ", ", results.size() - findings.skipped.size(), " of ", results.size(),
                 " peers compared)"));
    return {};
}

void KvServer::start_corruption_check() {
    // A check whose thread has answered is finished here if its eventfd
    // was not heard (in full test-suite runs, a leader stopped checking
    // for good: its check never finished). Then the next one starts.
    if (m_corruption_check && m_corruption_check->answered.load(std::memory_order_acquire) &&
        ++m_corruption_check->ticks_answered >= 2) {
        log_warning("kv: corruption check: finishing a check whose answer went unnoticed");
        finish_corruption_check();
    }
    if (m_corruption_check || m_driver->leader() != m_member_id)
        return;
    auto hash = m_machine->store().hash_kv(0);
    if (!hash) {
        log_warning(cat("kv: corruption check: ", hash.error().to_string()));
        return;
    }
    auto tls = peer_client_tls(m_config);
    if (!tls) {
        log_warning(cat("kv: corruption check: ", tls.error().to_string()));
        return;
    }
    auto check = std::make_unique<RunningCorruptionCheck>();
    check->before = *hash;
    check->peers = peers_to_check({});
    check->done = Fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!check->done) {
        log_warning(cat("kv: corruption check: ", Error::from_errno(errno, "eventfd").to_string()));
        return;
    }
    KvServer* raw = this;
    if (auto added = m_reactor.add_fd(check->done.get(), EPOLLIN,
                                      [raw](uint32_t) { raw->finish_corruption_check(); });
        !added) {
        log_warning(cat("kv: corruption check: ", added.error().to_string()));
        return;
    }
    // The thread owns nothing of the server: it reads `peers` and writes
    // `results`, which the loop touches only after the eventfd fired.
    RunningCorruptionCheck* running = check.get();
    uint64_t cluster = m_cluster_id;
    NodeId self = m_member_id;
    running->thread = std::thread([running, cluster, self, tls = std::move(*tls)] {
        running->results = ask_peer_hashes(running->peers, cluster, self,
                                           running->before.hash_revision, kPeerHashTimeout, tls);
        running->answered.store(true, std::memory_order_release);
        uint64_t one = 1;
        [[maybe_unused]] ssize_t written = ::write(running->done.get(), &one, sizeof one);
    });
    m_corruption_check = std::move(check);
}

void KvServer::abandon_corruption_check() {
    if (!m_corruption_check)
        return;
    m_reactor.remove_fd(m_corruption_check->done.get());
    if (m_corruption_check->thread.joinable())
        m_corruption_check->thread.join();
    m_corruption_check.reset();
}

void KvServer::finish_corruption_check() {
    std::shared_ptr<RunningCorruptionCheck> check(std::move(m_corruption_check));
    m_reactor.remove_fd(check->done.get());
    check->thread.join();
    // Hashed again once this member has applied everything committed when
    // the peers answered (etcd's linearizable read), so a peer that applied
    // an entry first is not taken for one ahead of the leader.
    read_barrier([this, check](Result<void> ready) {
        if (!ready) {
            log_warning(cat("kv: corruption check: ", ready.error().to_string()));
            return;
        }
        auto after = m_machine->store().hash_kv(0);
        if (!after) {
            log_warning(cat("kv: corruption check: ", after.error().to_string()));
            return;
        }
        CorruptionFindings findings = compare_leader_hashes(check->before, *after, check->results);
        // A peer that stays down is logged once, not at every check.
        std::set<std::string> skipped(findings.skipped.begin(), findings.skipped.end());
        for (const std::string& peer : skipped) {
            std::string line = cat("kv: corruption check: cannot compare with ", peer);
            if (m_corruption_skipped.contains(peer))
                log_debug(line);
            else
                log_warning(line);
        }
        m_corruption_skipped = std::move(skipped);
        if (findings.mismatches.empty()) {
            log_debug(cat("kv: corruption check passed at revision ", check->before.hash_revision));
            return;
        }
        for (const std::string& mismatch : findings.mismatches)
            log_error(cat("kv: corruption check: ", mismatch));
        if (m_raising_corrupt || m_machine->alarmed(etcdserverpb::CORRUPT))
            return;
        // etcd 3.4 raises it for member 0: which member holds the bad data
        // is not known from two hashes alone.
        log_error("kv: raising the CORRUPT alarm: writes are refused until it is disarmed");
        InternalRequest request;
        auto& alarm = *request.mutable_alarm();
        alarm.set_action(etcdserverpb::AlarmRequest::ACTIVATE);
        alarm.set_memberid(0);
        alarm.set_alarm(etcdserverpb::CORRUPT);
        m_raising_corrupt = true;
        propose(request, [this](Result<std::string>) { m_raising_corrupt = false; });
    });
}

} // namespace keel::kv
