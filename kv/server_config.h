// `keel kv serve`'s configuration: etcd's command-line flags and their
// ETCD_* environment variables, parsed and checked the way etcd checks
// them, with the member and cluster ids every member derives alike from
// the initial cluster. Pure: no sockets, files or name lookups (a URL's
// host is an IP literal, or localhost, which means 127.0.0.1).
#pragma once

#include "base/names.h"
#include "base/result.h"

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace keel::kv {

/// Whether this member starts a cluster or joins a running one.
enum class ClusterState : uint8_t { New, Existing };
inline constexpr auto kClusterStateNames = name_table<ClusterState>({
    {ClusterState::New, "new"},
    {ClusterState::Existing, "existing"},
});

/// How --auto-compaction-retention is read: a duration (periodic) or a
/// number of revisions (revision).
enum class AutoCompactionMode : uint8_t { Periodic, Revision };
inline constexpr auto kAutoCompactionModeNames = name_table<AutoCompactionMode>({
    {AutoCompactionMode::Periodic, "periodic"},
    {AutoCompactionMode::Revision, "revision"},
});

/// A URL's scheme: plaintext or TLS.
enum class UrlScheme : uint8_t { Http, Https };
inline constexpr auto kUrlSchemeNames = name_table<UrlScheme>({
    {UrlScheme::Http, "http"},
    {UrlScheme::Https, "https"},
});

/// A client or peer URL: scheme://host:port, nothing after the port.
struct ServerUrl {
    UrlScheme scheme = UrlScheme::Http;
    uint16_t port = 0;
    /// The host as written ("localhost", "10.0.0.1", "::1").
    std::string host;
    /// The numeric address it means ("127.0.0.1" for localhost).
    std::string ip;

    /// "http://host:port", IPv6 hosts in brackets: the form ids are
    /// derived from and members advertise.
    std::string str() const;
    /// "ip:port" or "[ip]:port", for binding and connecting.
    std::string address() const;
    bool operator==(const ServerUrl&) const = default;
};

/// Parses one URL; the error says what is accepted.
Result<ServerUrl> parse_server_url(std::string_view text);

/// The URLs as a flag writes them: "http://a:2380,http://b:2380".
std::string join_urls(const std::vector<ServerUrl>& urls);

/// One member of --initial-cluster.
struct InitialMember {
    uint64_t id = 0;
    std::string name;
    std::vector<ServerUrl> peer_urls;
};

/// Certificate files for one side (clients or peers).
struct TlsFiles {
    /// Require and verify client certificates (--client-cert-auth,
    /// --peer-client-cert-auth).
    bool client_cert_auth = false;
    std::string cert_file;
    std::string key_file;
    /// The other end's certificate must have this CommonName
    /// (--peer-cert-allowed-cn) or be for this host
    /// (--peer-cert-allowed-hostname, --client-cert-allowed-hostname).
    std::string allowed_cn;
    std::string allowed_hostname;
    std::string trusted_ca_file;
};

/// Everything `keel kv serve` is told, after defaults and checks.
struct ServerConfig {
    std::string name = "default";
    /// Default: "<name>.etcd".
    std::string data_dir;
    std::vector<ServerUrl> listen_client_urls;
    std::vector<ServerUrl> advertise_client_urls;
    std::vector<ServerUrl> listen_peer_urls;
    std::vector<ServerUrl> initial_advertise_peer_urls;
    /// Sorted by name. Empty when bootstrapping through discovery.
    std::vector<InitialMember> initial_cluster;
    std::string initial_cluster_token = "etcd-cluster";
    ClusterState initial_cluster_state = ClusterState::New;
    AutoCompactionMode auto_compaction_mode = AutoCompactionMode::Periodic;
    uint64_t snapshot_count = 100000;
    uint64_t quota_backend_bytes = 2ull << 30;
    uint64_t heartbeat_interval_ms = 100;
    uint64_t election_timeout_ms = 1000;
    uint64_t max_request_bytes = 1572864;
    uint64_t max_txn_ops = 128;
    /// How long a watcher that asked for progress notifications may go
    /// without a response before it gets one (etcd: 10 minutes; at least
    /// 100 ms).
    uint64_t watch_progress_notify_interval_ms = 600000;
    /// --experimental-initial-corrupt-check: compare the store's hash with
    /// the peers' before serving, and refuse to start on a mismatch.
    bool initial_corrupt_check = false;
    /// --experimental-corrupt-check-time: how often the leader compares
    /// every member's hash (0: never, etcd's default).
    uint64_t corrupt_check_time_ms = 0;
    /// As given ("0": off; "1h", "5m", or a revision count).
    std::string auto_compaction_retention = "0";
    TlsFiles client_tls;
    TlsFiles peer_tls;
    std::string discovery_token;
    /// As given: "http://ip:port" or "ip:port" (plaintext gRPC).
    std::vector<std::string> discovery_endpoints;
    /// --discovery-dial-timeout: connecting to a discovery endpoint (etcd: 2s).
    uint64_t discovery_dial_timeout_ms = 2000;
    /// --discovery-request-timeout: one request to it (etcd: 5s).
    uint64_t discovery_request_timeout_ms = 5000;
    /// --discovery-wait-timeout (keel's): how long a member waits for the
    /// rest of the cluster to register before it gives up (10m).
    uint64_t discovery_wait_timeout_ms = 600000;
    /// This member's id (0 when bootstrapping through discovery).
    uint64_t member_id = 0;
    /// The cluster's id (0 when bootstrapping through discovery).
    uint64_t cluster_id = 0;
    /// Lines for the log about flags that were accepted but do nothing.
    std::vector<std::string> notes;
};

/// Parses etcd's flags (`--flag=value`, `--flag value`, one dash or two;
/// a boolean flag alone means true) over the ETCD_* variables in
/// `environment` (ETCD_DATA_DIR for --data-dir; a flag wins), fills in
/// etcd's defaults and checks the result as etcd does. Errors name the
/// flag and the value, and say what would be accepted.
Result<ServerConfig> parse_server_config(std::span<const std::string> args,
                                         const std::map<std::string, std::string>& environment);

/// A member's id from its peer URLs (the str() forms, in any order) and
/// the cluster token: SHA-256 of the sorted URLs and the token, the first 8
/// bytes big-endian; never 0.
uint64_t member_id(std::span<const std::string> peer_urls, std::string_view token);
/// The cluster's id from its members' ids (in any order): SHA-256 of the
/// sorted ids, 8 bytes big-endian each, the first 8 bytes; never 0.
uint64_t cluster_id(std::span<const uint64_t> member_ids);

} // namespace keel::kv
