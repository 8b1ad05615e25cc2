// KvServer: opens a member's data dir and wires its pieces together on one
// Reactor. The peer transport feeds the Raft driver, the driver applies to
// the KV state machine, the gRPC servers turn client calls into proposals
// and reads; two timers do what only a running member can: the leader
// revokes expired leases through the log, and every member publishes its
// name and client URLs once a leader is known.
#include "kv/kv_server.h"

#include "base/log.h"
#include "base/strings.h"
#include "base/sys.h"
#include "kv/discovery.h"
#include "kv/etcd_services.h"
#include "kv/file_names.h"
#include "kv/grpc_server.h"
#include "kv/member_join.h"
#include "kv/peer_query.h"
#include "kv/tls_stream.h"
#include "kv/wal.h"
#include "proto/etcd/rpc.pb.h"
#include "proto/kv/internal.pb.h"

#include <cerrno>
#include <chrono>
#include <random>
#include <sys/stat.h>
#include <unistd.h>

namespace keel::kv {

namespace {

// How often the leader looks for expired leases, and how many revokes it
// proposes at once (etcd's rate limit on expiry).
constexpr auto kLeaseCheckInterval = std::chrono::milliseconds(500);
constexpr size_t kLeaseRevokesPerCheck = 500;

TlsContextOptions client_tls_options(const TlsFiles& files) {
    TlsContextOptions options;
    options.role = TlsRole::Server;
    options.verify = files.client_cert_auth ? PeerVerification::Required : PeerVerification::None;
    options.alpn = {"h2"};
    options.cert_file = files.cert_file;
    options.key_file = files.key_file;
    options.allowed_hostname = files.allowed_hostname;
    options.trusted_ca_file = files.trusted_ca_file;
    return options;
}

/// Peers, the accepting side: client certificates are checked when
/// --peer-client-cert-auth says so (the dialing side: kv/peer_query.h's
/// peer_client_tls()).
TlsContextOptions peer_server_tls_options(const TlsFiles& files) {
    TlsContextOptions options;
    options.role = TlsRole::Server;
    options.verify = files.client_cert_auth ? PeerVerification::Required : PeerVerification::None;
    options.cert_file = files.cert_file;
    options.key_file = files.key_file;
    options.allowed_cn = files.allowed_cn;
    options.allowed_hostname = files.allowed_hostname;
    options.trusted_ca_file = files.trusted_ca_file;
    return options;
}

} // namespace

KvServer::KvServer(Reactor& reactor, ServerConfig config)
    : m_reactor(reactor), m_config(std::move(config)) {}

KvServer::~KvServer() {
    stop();
}

Result<std::unique_ptr<KvServer>> KvServer::start(Reactor& reactor, const ServerConfig& config) {
    std::unique_ptr<KvServer> server(new KvServer(reactor, config));
    KvServer& s = *server;
    s.m_member_id = config.member_id;
    s.m_cluster_id = config.cluster_id;
    s.m_lease_ids.seed(std::random_device()() ^ (uint64_t(std::random_device()()) << 32));

    if (auto made = make_directories(config.data_dir, 0700); !made)
        return std::unexpected(std::move(made).error().wrap("kv: data dir " + config.data_dir));
    // A member joining a running cluster learns who it is from the cluster
    // (or, restarted, from its own log): its ids are not derived from
    // --initial-cluster, which need not hold the founding members.
    JoinIdentity joined;
    if (config.initial_cluster_state == ClusterState::Existing) {
        joined = TRY(join_identity(config));
        s.m_member_id = joined.member_id;
        s.m_cluster_id = joined.cluster_id;
    }
    s.m_db_path = config.data_dir + "/" + std::string(kStoreFileName);
    // LMDB's map size bounds the file: the space quota plus room for what a
    // compaction needs before it frees pages.
    auto backend = TRY(open_lmdb_backend(s.m_db_path, config.quota_backend_bytes * 2,
                                         LmdbSync::NoMetaSync, LmdbCommit::Batched));
    s.m_machine = TRY(KvStateMachine::open(
        std::move(backend), [] { return std::chrono::steady_clock::now(); },
        s.minimum_lease_ttl()));

    PeerTransportOptions transport;
    transport.cluster_id = s.m_cluster_id;
    transport.self = s.m_member_id;
    transport.listen = config.listen_peer_urls.front().address();
    // https:// peer URLs: TLS on what this member accepts and dials (all
    // members of a cluster use one scheme).
    bool peer_tls = config.listen_peer_urls.front().scheme == UrlScheme::Https;
    for (const auto& member : config.initial_cluster)
        for (const auto& url : member.peer_urls)
            peer_tls = peer_tls || url.scheme == UrlScheme::Https;
    if (peer_tls) {
        std::string context =
            "kv: peer TLS (--peer-cert-file, --peer-key-file, --peer-trusted-ca-file)";
        transport.accept_tls =
            TRY_CTX(TlsContext::create(peer_server_tls_options(config.peer_tls)), context);
        transport.connect_tls = TRY(peer_client_tls(config));
    }
    KvServer* raw = &s;
    transport.members = [raw] { return raw->cluster_members(); };
    transport.hash_kv = [raw](int64_t revision) { return raw->answer_hash_kv(revision); };
    // Before anything listens: a member whose store differs from its
    // peers' does not start (its peers skip it meanwhile).
    if (config.initial_corrupt_check)
        TRY(s.check_initial_corruption(joined.members));
    s.m_transport = TRY(PeerTransport::listen(
        reactor, transport,
        [raw](Message message) {
            if (raw->m_driver)
                raw->m_driver->step(message);
        },
        [raw](NodeId peer) {
            if (raw->m_driver)
                raw->m_driver->report_unreachable(peer);
        },
        [raw](NodeId peer, SnapshotStatus status) {
            if (raw->m_driver)
                raw->m_driver->report_snapshot(peer, status);
        }));
    if (config.initial_cluster_state == ClusterState::New) {
        for (const auto& member : config.initial_cluster)
            if (member.id != s.m_member_id)
                s.m_transport->set_peer(member.id, member.peer_urls.front().address());
    }
    for (const auto& member : joined.members)
        if (auto url = parse_server_url(member.peer_urls.front());
            url && member.id != s.m_member_id)
            s.m_transport->set_peer(member.id, url->address());
    s.connect_members();
    s.m_machine->on_members_changed([raw] { raw->connect_members(); });

    RaftDriverOptions options;
    options.data_dir = config.data_dir;
    options.metadata = {s.m_cluster_id, s.m_member_id};
    bool fresh = !TRY(Wal::exists(config.data_dir + "/wal"));
    if (fresh && config.initial_cluster_state == ClusterState::New) {
        for (const auto& member : config.initial_cluster) {
            options.initial.voters.push_back(member.id);
            MemberInfo info;
            info.id = member.id;
            info.name = member.name;
            for (const auto& url : member.peer_urls)
                info.peer_urls.push_back(url.str());
            options.initial_contexts[member.id] = encode_member(info);
        }
    }
    options.tick = std::chrono::milliseconds(config.heartbeat_interval_ms);
    options.election_ticks = std::max<int>(
        2, static_cast<int>(config.election_timeout_ms / config.heartbeat_interval_ms));
    options.snapshot_count = config.snapshot_count;
    s.m_driver = TRY(RaftDriver::open(reactor, std::move(options), *s.m_machine, *s.m_transport));
    if (fresh && !config.discovery_token.empty()) {
        // The member has its log now: from here on, a data dir without
        // one lost it, and discovery must refuse it (kv/discovery_client.cpp).
        std::string marker = discovery_registration_path(config.data_dir);
        if (::unlink(marker.c_str()) == 0)
            TRY(system_storage().sync_directory(config.data_dir));
        else if (errno != ENOENT)
            return errno_error(cat("kv: remove ", marker));
    }
    s.m_driver->on_leader_change([raw](NodeId leader, Term) {
        // A new leader takes over the lease clocks it kept as a follower,
        // each given at least an election's time: holders that could not
        // reach anyone during the election get to renew first.
        if (leader == raw->m_member_id)
            raw->m_machine->lessor().on_promote(
                std::chrono::steady_clock::now(),
                std::chrono::milliseconds(raw->m_config.election_timeout_ms));
        raw->m_published = raw->m_published && leader != 0;
        // Publish as soon as there is a leader to take it, so the member
        // list shows this member's name and client URLs from the start.
        if (leader != 0)
            raw->m_reactor.defer([raw] { raw->publish_attributes(); });
    });
    s.m_driver->on_fatal([raw](const Error& error) {
        // The member cannot go on (its disk or its store failed): it stops
        // serving and the process ends with the error.
        raw->m_failure = error;
        raw->stop();
        raw->m_reactor.stop();
    });

    // One server TLS context for every https:// client URL.
    std::shared_ptr<TlsContext> client_tls;
    for (const auto& url : config.listen_client_urls)
        if (url.scheme == UrlScheme::Https && !client_tls)
            client_tls = TRY_CTX(TlsContext::create(client_tls_options(config.client_tls)),
                                 "kv: client TLS (--cert-file, --key-file, --trusted-ca-file)");
    for (const auto& url : config.listen_client_urls) {
        GrpcServerOptions grpc;
        grpc.max_receive_message = config.max_request_bytes + (512 << 10);
        if (url.scheme == UrlScheme::Https)
            grpc.tls = client_tls;
        auto listener = TRY(GrpcServer::listen(reactor, url.address(), grpc));
        add_kv_service(*listener, s);
        add_watch_service(*listener, s);
        add_lease_service(*listener, s);
        add_cluster_service(*listener, s);
        add_maintenance_service(*listener, s);
        listener->admit_with(
            [raw](std::string_view path) { return learner_admission(*raw, path); });
        s.m_clients.push_back(std::move(listener));
    }

    s.m_lease_timer = TRY(reactor.add_timer(
        kLeaseCheckInterval,
        [raw] {
            raw->expire_leases();
            raw->publish_attributes();
        },
        kLeaseCheckInterval));
    TRY(s.start_upkeep());
    if (config.corrupt_check_time_ms > 0) {
        auto every = std::chrono::milliseconds(config.corrupt_check_time_ms);
        s.m_corruption_timer = TRY(reactor.add_timer(
            every, [raw] { raw->start_corruption_check(); }, every));
    }
    log_info(cat("kv: member ", config.name, " (", hex_id(s.m_member_id), ") of cluster ",
                 hex_id(s.m_cluster_id), " serving clients on ",
                 config.listen_client_urls.front().str()));
    return server;
}

void KvServer::stop() {
    if (m_lease_timer != 0) {
        m_reactor.cancel_timer(m_lease_timer);
        m_lease_timer = 0;
    }
    if (m_compaction_timer != 0) {
        m_reactor.cancel_timer(m_compaction_timer);
        m_compaction_timer = 0;
    }
    if (m_corruption_timer != 0) {
        m_reactor.cancel_timer(m_corruption_timer);
        m_corruption_timer = 0;
    }
    abandon_corruption_check();
    for (auto& client : m_clients)
        client->stop();
    if (m_driver)
        m_driver->stop();
}

void KvServer::connect_members() {
    for (const auto& [id, member] : m_machine->members()) {
        if (id == m_member_id || member.peer_urls.empty())
            continue;
        auto url = parse_server_url(member.peer_urls.front());
        if (url)
            m_transport->set_peer(id, url->address());
    }
}

bool KvServer::is_learner() const {
    auto self = m_machine->members().find(m_member_id);
    return self != m_machine->members().end() && self->second.is_learner;
}

ClusterMembers KvServer::cluster_members() const {
    ClusterMembers answer;
    answer.cluster_id = m_cluster_id;
    for (const auto& [id, member] : m_machine->members()) {
        if (member.peer_urls.empty())
            continue;
        ClusterMember& out = answer.members.emplace_back();
        out.id = id;
        out.name = member.name;
        out.peer_urls = member.peer_urls;
        out.client_urls = member.client_urls;
        out.is_learner = member.is_learner;
    }
    return answer;
}

void KvServer::propose(const InternalRequest& request,
                       std::function<void(Result<std::string>)> done) {
    auto bytes = encode_proposal(request, limits());
    if (!bytes) {
        // etcd's "request is too large": refused before it reaches the log.
        m_reactor.defer([done = std::move(done), status = bytes.error()] {
            done(std::unexpected(Error::message(status.message)));
        });
        return;
    }
    m_driver->propose(std::move(*bytes), [done = std::move(done)](Result<std::string> answer) {
        if (!answer)
            return done(std::unexpected(answer.error()));
        done(decode_apply_answer(*answer));
    });
}

void KvServer::read_barrier(std::function<void(Result<void>)> done) {
    m_driver->read_barrier(std::move(done));
}

void KvServer::fill_header(etcdserverpb::ResponseHeader& header, int64_t revision) const {
    header.set_cluster_id(m_cluster_id);
    header.set_member_id(m_member_id);
    header.set_revision(revision != 0 ? revision : m_machine->store().revision());
    header.set_raft_term(m_driver->term());
}

int64_t KvServer::new_lease_id() {
    // Random ids, as etcd's: a client that retries a grant after a leader
    // change cannot collide with another member's choice.
    for (;;) {
        auto id = static_cast<int64_t>(m_lease_ids() >> 1);
        if (id != 0 && !m_machine->lessor().exists(id))
            return id;
    }
}

int64_t KvServer::minimum_lease_ttl() const {
    // etcd's minimum TTL: a lease must outlive an election, or a leader
    // change would expire leases whose holders did nothing wrong.
    return static_cast<int64_t>((m_config.election_timeout_ms * 3 / 2 + 999) / 1000);
}

Limits KvServer::limits() const {
    Limits limits;
    limits.max_txn_ops = m_config.max_txn_ops;
    limits.max_request_bytes = m_config.max_request_bytes;
    return limits;
}

uint16_t KvServer::client_port() const {
    return m_clients.empty() ? 0 : m_clients.front()->port();
}

int64_t KvServer::db_size() const {
    struct stat st {};
    if (::stat(m_db_path.c_str(), &st) != 0)
        return 0;
    return st.st_size;
}

void KvServer::expire_leases() {
    if (m_driver->leader() != m_member_id)
        return;
    for (int64_t id :
         m_machine->lessor().expired(std::chrono::steady_clock::now(), kLeaseRevokesPerCheck)) {
        if (!m_revoking.insert(id).second)
            continue;
        InternalRequest request;
        request.mutable_lease_revoke()->set_id(id);
        propose(request, [this, id](Result<std::string>) { m_revoking.erase(id); });
    }
}

void KvServer::publish_attributes() {
    if (m_published || m_driver->leader() == 0)
        return;
    auto self = m_machine->members().find(m_member_id);
    if (self != m_machine->members().end() && self->second.name == m_config.name &&
        self->second.client_urls.size() == m_config.advertise_client_urls.size()) {
        m_published = true;
        return;
    }
    InternalRequest request;
    auto& attributes = *request.mutable_member_attributes();
    attributes.set_id(m_member_id);
    attributes.set_name(m_config.name);
    for (const auto& url : m_config.advertise_client_urls)
        attributes.add_client_urls(url.str());
    m_published = true;
    propose(request, [this](Result<std::string> answer) {
        if (!answer)
            m_published = false; // try again on the next round
    });
}

} // namespace keel::kv
