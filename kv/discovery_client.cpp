// bootstrap_through_discovery: a new member's conversation with the
// discovery service (any etcd v3 API, through kv's blocking gRPC client):
// read the token's size and registry, register this member with a Txn
// that creates its key only if it is missing, then watch the registry
// until the cluster is complete or --discovery-wait-timeout passes. A
// member restarting on its data dir needs no discovery service; its ids
// are checked against the token and, when the service answers, against
// the registry's cluster.
#include "kv/discovery.h"

#include "base/crash_point.h"
#include "base/log.h"
#include "base/strings.h"
#include "kv/auto_compaction.h"
#include "kv/grpc_client.h"
#include "kv/kv_state_machine.h"
#include "kv/member_join.h"
#include "kv/peer_query.h"
#include "kv/wal.h"
#include "proto/etcd/rpc.pb.h"

#include <algorithm>
#include <chrono>
#include <fcntl.h>
#include <thread>

namespace keel::kv {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Between attempts to reach a discovery service that failed.
constexpr milliseconds kRetryPause{1000};
// How long a member that finds itself already registered gives each other
// member to say whether the cluster runs.
constexpr milliseconds kRunningClusterQuery{1000};
// Registrations one pass makes before it gives up on a key that vanishes.
constexpr int kMaxRegistrations = 3;

std::string describe(const GrpcStatus& status) {
    return cat(kGrpcCodeNames.name(status.code), ": ", status.message);
}

/// The end of a prefix range: the prefix with its last byte raised.
std::string prefix_end(std::string prefix) {
    while (!prefix.empty()) {
        if (static_cast<unsigned char>(prefix.back()) < 0xff) {
            prefix.back() = char(static_cast<unsigned char>(prefix.back()) + 1);
            return prefix;
        }
        prefix.pop_back();
    }
    return std::string(1, '\0');
}

std::string duration_text(milliseconds duration) {
    return cat(format_seconds(static_cast<uint64_t>(duration.count()) * 1000), " s");
}

/// The registry's keys under a prefix and the revision they were read at.
struct Listing {
    std::vector<RegistryEntry> entries;
    int64_t revision = 0;
};

/// One connection to the discovery service.
class Registry {
public:
    /// Connects to the first endpoint that answers; the error lists why
    /// each did not.
    static Result<Registry> connect(const ServerConfig& config) {
        GrpcClientOptions options;
        options.connect_timeout = milliseconds(config.discovery_dial_timeout_ms);
        options.send_timeout = milliseconds(config.discovery_request_timeout_ms);
        std::string failures;
        for (const std::string& endpoint : config.discovery_endpoints) {
            auto client = GrpcClient::connect(endpoint, options);
            if (client)
                return Registry(std::move(*client), endpoint,
                                milliseconds(config.discovery_request_timeout_ms));
            failures += cat(failures.empty() ? "" : "; ", client.error().to_string());
        }
        return error(cat("no discovery endpoint answered (", failures, ")"));
    }

    const std::string& endpoint() const { return m_endpoint; }

    /// One key (no entry when it does not exist).
    GrpcResult<Listing> get(const std::string& key) { return range(key, ""); }

    /// Every key under `prefix`.
    GrpcResult<Listing> list(const std::string& prefix) {
        return range(prefix, prefix_end(prefix));
    }

    GrpcResult<Listing> range(const std::string& key, const std::string& end) {
        etcdserverpb::RangeRequest request;
        request.set_key(key);
        request.set_range_end(end);
        etcdserverpb::RangeResponse response = TRY(call<etcdserverpb::RangeResponse>(
            "/etcdserverpb.KV/Range", request.SerializeAsString()));
        Listing listing;
        listing.revision = response.header().revision();
        for (const auto& kv : response.kvs())
            listing.entries.push_back({kv.create_revision(), kv.key(), kv.value()});
        return listing;
    }

    /// Puts `key` only if it does not exist (its create revision is 0);
    /// false when it did.
    GrpcResult<bool> create(const std::string& key, const std::string& value) {
        etcdserverpb::TxnRequest request;
        etcdserverpb::Compare* compare = request.add_compare();
        compare->set_key(key);
        compare->set_result(etcdserverpb::Compare::EQUAL);
        compare->set_target(etcdserverpb::Compare::CREATE);
        compare->set_create_revision(0);
        etcdserverpb::PutRequest* put = request.add_success()->mutable_request_put();
        put->set_key(key);
        put->set_value(value);
        etcdserverpb::TxnResponse response = TRY(
            call<etcdserverpb::TxnResponse>("/etcdserverpb.KV/Txn", request.SerializeAsString()));
        return response.succeeded();
    }

    /// Returns once something under `prefix` changed after `revision`, or
    /// at `deadline` (DeadlineExceeded).
    GrpcResult<void> wait_for_change(const std::string& prefix, int64_t revision,
                                     Clock::time_point deadline) {
        auto stream = TRY(m_client->open_stream("/etcdserverpb.Watch/Watch"));
        etcdserverpb::WatchRequest request;
        auto* create = request.mutable_create_request();
        create->set_key(prefix);
        create->set_range_end(prefix_end(prefix));
        create->set_start_revision(revision + 1);
        TRY(stream->send(request.SerializeAsString()));
        for (;;) {
            auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
            if (left.count() <= 0)
                return std::unexpected(GrpcStatus{GrpcCode::DeadlineExceeded, "waiting"});
            auto message = TRY(stream->receive(left));
            if (!message)
                return {}; // the service ended the watch: read the registry again
            etcdserverpb::WatchResponse response;
            if (!response.ParseFromString(*message))
                return std::unexpected(
                    GrpcStatus{GrpcCode::Internal, "a watch response that does not parse"});
            // A cancelled watch (its start compacted away) is read again too.
            if (response.canceled() || response.events_size() > 0)
                return {};
        }
    }

private:
    Registry(std::unique_ptr<GrpcClient> client, std::string endpoint, milliseconds timeout)
        : m_client(std::move(client)), m_endpoint(std::move(endpoint)), m_timeout(timeout) {}

    template <typename Response>
    GrpcResult<Response> call(std::string_view path, const std::string& request) {
        std::string reply = TRY(m_client->unary(path, request, m_timeout));
        Response response;
        if (!response.ParseFromString(reply))
            return std::unexpected(GrpcStatus{GrpcCode::Internal, "an answer that does not parse"});
        return response;
    }

    std::unique_ptr<GrpcClient> m_client;
    std::string m_endpoint;
    milliseconds m_timeout;
};

/// How one pass over one connection ended.
enum class PassEnd : uint8_t {
    /// The cluster is complete: DiscoveryState::members holds it.
    Formed,
    /// The service failed (DiscoveryState::failure says how): try again.
    ServiceFailed,
};

/// What a member knows across passes.
struct DiscoveryState {
    InitialMember self;
    Clock::time_point deadline;
    uint64_t size = 0;
    /// The registry has been read at least once by this process.
    bool listed_once = false;
    /// At its first reading the registry already held the whole cluster,
    /// this member included: it registered in an earlier life and the
    /// cluster may have formed without it since.
    bool complete_before = false;
    std::vector<InitialMember> members;
    std::string failure;
};

std::string registration_text(const ServerConfig& config, const DiscoveryState& state) {
    return cat(config.discovery_token, "\n", hex_number(state.self.id), "\n");
}

/// Notes in the data dir that its member registers (before it does), so a
/// member that stopped between registering and making its log knows it.
Result<void> record_registration(const ServerConfig& config, const DiscoveryState& state) {
    Storage& storage = system_storage();
    std::string context = cat("discovery: record the registration in ", config.data_dir);
    TRY_CTX(storage.make_directories(config.data_dir, 0700), context);
    std::string path = discovery_registration_path(config.data_dir);
    std::string temp_path = cat(path, ".tmp");
    {
        File file = TRY_CTX(storage.open(temp_path, O_WRONLY | O_CREAT | O_TRUNC, 0600), context);
        TRY_CTX(storage.write_all(file, registration_text(config, state)), context);
        TRY_CTX(storage.fsync(file), context);
    }
    TRY_CTX(storage.rename(temp_path, path), context);
    TRY_CTX(storage.sync_directory(config.data_dir), context);
    return {};
}

/// Whether this data dir registered this member for this token earlier.
bool registered_from_this_data_dir(const ServerConfig& config, const DiscoveryState& state) {
    Result<std::string> text =
        system_storage().read_file(discovery_registration_path(config.data_dir));
    return text && *text == registration_text(config, state);
}

/// A member that finds the cluster complete with itself in it, and no log
/// of its own: if the others run, its data dir was lost (or the token
/// reused), and starting it as a new member would bring back a member
/// without the log it acknowledged. If none answers, the cluster never
/// formed (every member stopped before it started) and this one forms it.
/// A data dir that registered the member itself and has no log yet stopped
/// between the two: its member never ran, never voted nor acknowledged
/// anything, so it starts now as the others expect it to.
Result<void> refuse_running_cluster(const ServerConfig& config, const DiscoveryState& state) {
    if (registered_from_this_data_dir(config, state)) {
        log_info(cat("discovery: member ", config.name, " registered from data dir ",
                     config.data_dir, " before it made a log: it starts now"));
        return {};
    }
    std::vector<ServerUrl> peers;
    for (const InitialMember& member : state.members)
        if (member.id != state.self.id)
            peers.insert(peers.end(), member.peer_urls.begin(), member.peer_urls.end());
    if (peers.empty())
        return {};
    auto running = query_cluster_members(peers, kRunningClusterQuery, TRY(peer_client_tls(config)));
    if (!running)
        return {}; // nobody answers: the cluster never formed, so this forms it
    return error(cat("discovery: member ", config.name, " is already registered for token ",
                     config.discovery_token, " and the cluster it formed runs (cluster ",
                     hex_number(running->cluster_id), "), but data dir ", config.data_dir,
                     " holds no log: this member's data was lost, or the token is reused. "
                     "Replace the member: `etcdctl member remove ",
                     hex_number(state.self.id), "`, then `etcdctl member add ", config.name,
                     " --peer-urls=...` and start it with --initial-cluster-state=existing; or "
                     "bootstrap a new cluster with a fresh --discovery-token"));
}

Result<PassEnd> discovery_pass(Registry& registry, const ServerConfig& config,
                               DiscoveryState& state) {
    const std::string& token = config.discovery_token;
    auto failed = [&](std::string_view what, const GrpcStatus& status) {
        state.failure = cat(registry.endpoint(), ": ", what, ": ", describe(status));
        return PassEnd::ServiceFailed;
    };
    auto size_key = registry.get(discovery_size_key(token));
    if (!size_key)
        return failed(cat("read ", discovery_size_key(token)), size_key.error());
    if (size_key->entries.empty())
        return error(cat("discovery: token ", token, " has no size in the discovery service at ",
                         registry.endpoint(),
                         ": set it before the members start, with `etcdctl "
                         "put ",
                         discovery_size_key(token), " 3` (the number of members)"));
    state.size = TRY(parse_discovery_size(token, size_key->entries.front().value));

    std::string prefix = discovery_members_prefix(token);
    std::string own_key = discovery_member_key(token, state.self.id);
    int registrations = 0;
    for (;;) {
        auto listing = registry.list(prefix);
        if (!listing)
            return failed(cat("list ", prefix), listing.error());
        // Refuses a full cluster before this member adds itself to it.
        DiscoveryOutcome outcome =
            TRY(choose_discovered_members(token, state.size, state.self, listing->entries));
        bool listed = std::ranges::any_of(
            listing->entries, [&](const RegistryEntry& entry) { return entry.key == own_key; });
        if (!state.listed_once)
            state.complete_before = outcome.progress == DiscoveryProgress::Complete;
        state.listed_once = true;
        if (!listed) {
            // Someone deleting the key as fast as it is made is no service
            // to wait on.
            if (++registrations > kMaxRegistrations)
                return failed(cat("register ", own_key),
                              {GrpcCode::Aborted, "the key is gone each time it is read back"});
            // Created only if missing: a registration of its own that the
            // listing raced with stays as it was.
            TRY(record_registration(config, state));
            auto created = registry.create(own_key, discovery_member_value(state.self));
            if (!created)
                return failed(cat("register ", own_key), created.error());
            log_info(
                cat("discovery: registered ", own_key, " = ", discovery_member_value(state.self)));
            crash_point("kv.discovery.registered"); // registered, no log yet
            continue;
        }
        state.members = outcome.members;
        if (outcome.progress == DiscoveryProgress::Complete)
            return PassEnd::Formed;
        log_info(cat("discovery: ", outcome.members.size(), " of ", state.size,
                     " members registered for token ", token, "; waiting for the rest"));
        auto changed = registry.wait_for_change(prefix, listing->revision, state.deadline);
        if (!changed && changed.error().code == GrpcCode::DeadlineExceeded &&
            Clock::now() >= state.deadline)
            return PassEnd::ServiceFailed;
        if (!changed)
            return failed(cat("watch ", prefix), changed.error());
    }
}

std::string describe_members(const std::vector<InitialMember>& members) {
    std::string out;
    for (const InitialMember& member : members)
        out += cat(out.empty() ? "" : ", ", member.name);
    return out.empty() ? "none" : out;
}

Result<ServerConfig> discover(ServerConfig config) {
    DiscoveryState state;
    state.self = discovery_self(config);
    milliseconds wait(config.discovery_wait_timeout_ms);
    state.deadline = Clock::now() + wait;
    log_info(cat("discovery: member ", config.name, " (", hex_number(state.self.id),
                 ") joins token ", config.discovery_token, " at ",
                 config.discovery_endpoints.front(),
                 config.discovery_endpoints.size() > 1 ? " (or the other endpoints)" : ""));
    for (;;) {
        if (auto registry = Registry::connect(config)) {
            if (TRY(discovery_pass(*registry, config, state)) == PassEnd::Formed)
                break;
        } else {
            state.failure = registry.error().to_string();
        }
        if (Clock::now() >= state.deadline) {
            if (state.size != 0 && state.failure.empty())
                return error(cat(
                    "discovery: only ", state.members.size(), " of ", state.size,
                    " members registered for token ", config.discovery_token, " within ",
                    duration_text(wait),
                    " (--discovery-wait-timeout); registered: ", describe_members(state.members),
                    ". Start the missing members with the same --discovery-token, "
                    "or raise --discovery-wait-timeout"));
            return error(cat("discovery: the discovery service did not answer within ",
                             duration_text(wait), " (--discovery-wait-timeout): ", state.failure,
                             ". Check --discovery-endpoints and that the service runs"));
        }
        log_warning(cat("discovery: ", state.failure, "; trying again"));
        state.failure.clear();
        std::this_thread::sleep_for(
            std::min<Clock::duration>(kRetryPause, state.deadline - Clock::now()));
    }
    if (state.complete_before)
        TRY(refuse_running_cluster(config, state));
    log_info(cat("discovery: cluster of ", state.size, " for token ", config.discovery_token,
                 " is complete: ", describe_members(state.members)));
    return with_discovered_cluster(std::move(config), std::move(state.members));
}

/// The cluster id the registry describes, if the discovery service answers
/// and its registry is complete; 0 otherwise (a restart does not need it).
uint64_t registry_cluster_id(const ServerConfig& config) {
    const std::string& token = config.discovery_token;
    auto registry = Registry::connect(config);
    if (!registry) {
        log_info(cat("discovery: not checking the data dir against the registry: ",
                     registry.error().to_string()));
        return 0;
    }
    auto size_key = registry->get(discovery_size_key(token));
    auto listing = registry->list(discovery_members_prefix(token));
    if (!size_key || size_key->entries.empty() || !listing)
        return 0;
    auto size = parse_discovery_size(token, size_key->entries.front().value);
    auto members = registered_members(token, listing->entries);
    if (!size || !members || members->size() < *size) {
        log_warning(cat("discovery: not checking the data dir against token ", token,
                        "'s registry, which holds no complete cluster"));
        return 0;
    }
    std::vector<uint64_t> ids;
    for (size_t i = 0; i < *size; ++i)
        ids.push_back((*members)[i].id);
    return cluster_id(ids);
}

} // namespace

Result<ServerConfig> bootstrap_through_discovery(ServerConfig config) {
    if (config.discovery_token.empty())
        return config;
    std::string wal_dir = config.data_dir + "/wal";
    if (!TRY(Wal::exists(wal_dir)))
        return discover(std::move(config));
    // A restart, as in etcd: the log knows the cluster.
    WalMetadata metadata = TRY(Wal::open(wal_dir)).metadata();
    TRY(check_discovered_data_dir(config, metadata.cluster_id, metadata.member_id,
                                  registry_cluster_id(config)));
    config.member_id = metadata.member_id;
    config.cluster_id = metadata.cluster_id;
    return config;
}

} // namespace keel::kv
