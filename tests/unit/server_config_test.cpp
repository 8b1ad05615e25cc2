// Tests for kv/server_config.h: `keel kv serve` takes etcd's flags and
// ETCD_* variables, fills in etcd's defaults, and refuses what etcd
// refuses with a message that says how to fix it (TLS settings included).
#include "kv/server_config.h"
#include "tests/unit/test_util.h"

#include <doctest/doctest.h>

using namespace keel;
using namespace keel::kv;

using keel::testing::contains_or_show;

namespace {

using EnvironmentMap = std::map<std::string, std::string>;

ServerConfig config_from(std::vector<std::string> args, const EnvironmentMap& environment = {}) {
    Result<ServerConfig> config = parse_server_config(args, environment);
    if (!config)
        FAIL(config.error().to_string());
    return *config;
}

std::string config_refusal(std::vector<std::string> args, const EnvironmentMap& environment = {}) {
    Result<ServerConfig> config = parse_server_config(args, environment);
    REQUIRE_FALSE(config.has_value());
    return config.error().to_string();
}

const std::vector<std::string> kThreeMembers = {
    "--name=b",
    "--initial-advertise-peer-urls=http://127.0.0.1:2382",
    "--initial-cluster=a=http://127.0.0.1:2380,b=http://127.0.0.1:2382,c=http://127.0.0.1:2384",
    "--initial-cluster-token=tok",
};

const std::vector<std::string> kHttpsClients = {
    "--listen-client-urls=https://127.0.0.1:2379",
    "--advertise-client-urls=https://127.0.0.1:2379",
};

} // namespace

TEST_CASE("with no flags the member is etcd's default single-member cluster") {
    ServerConfig config = config_from({});
    CHECK(config.name == "default");
    CHECK(config.data_dir == "default.etcd");
    REQUIRE(config.listen_client_urls.size() == 1);
    CHECK(config.listen_client_urls[0].str() == "http://localhost:2379");
    CHECK(config.listen_client_urls[0].address() == "127.0.0.1:2379");
    CHECK(config.advertise_client_urls[0].str() == "http://localhost:2379");
    CHECK(config.listen_peer_urls[0].address() == "127.0.0.1:2380");
    CHECK(config.initial_advertise_peer_urls[0].str() == "http://localhost:2380");
    REQUIRE(config.initial_cluster.size() == 1);
    CHECK(config.initial_cluster[0].name == "default");
    CHECK(config.initial_cluster[0].peer_urls[0].str() == "http://localhost:2380");
    CHECK(config.initial_cluster_token == "etcd-cluster");
    CHECK(config.initial_cluster_state == ClusterState::New);
    CHECK(config.snapshot_count == 100000);
    CHECK(config.quota_backend_bytes == 2ull << 30);
    CHECK(config.heartbeat_interval_ms == 100);
    CHECK(config.election_timeout_ms == 1000);
    CHECK(config.max_request_bytes == 1572864);
    CHECK(config.max_txn_ops == 128);
    CHECK(config.auto_compaction_mode == AutoCompactionMode::Periodic);
    CHECK(config.auto_compaction_retention == "0");
    CHECK(config.member_id != 0);
    CHECK(config.member_id == config.initial_cluster[0].id);
    CHECK(config.cluster_id != 0);
    CHECK(config.notes.empty());
}

TEST_CASE("every flag is read, in both --flag=value and --flag value forms") {
    ServerConfig config = config_from({
        "--name",
        "n1",
        "--data-dir=/var/lib/kv",
        "--listen-client-urls",
        "http://0.0.0.0:12379,https://[::1]:12380",
        "--advertise-client-urls=http://10.0.0.1:12379",
        "--listen-peer-urls=http://10.0.0.1:12380",
        "--initial-advertise-peer-urls=http://10.0.0.1:12380",
        "--initial-cluster=n1=http://10.0.0.1:12380,n2=http://10.0.0.2:12380",
        "--initial-cluster-token=t",
        "--initial-cluster-state=existing",
        "--snapshot-count=5",
        "--quota-backend-bytes=1048576",
        "--heartbeat-interval=50",
        "--election-timeout=500",
        "--max-request-bytes=1000",
        "--max-txn-ops=7",
        "--auto-compaction-retention=1h",
        "--auto-compaction-mode=revision",
        "--cert-file=c.pem",
        "--key-file=k.pem",
        "--trusted-ca-file=ca.pem",
        "--client-cert-auth",
        "--peer-cert-file=pc.pem",
        "--peer-key-file=pk.pem",
        "--peer-trusted-ca-file=pca.pem",
        "--peer-client-cert-auth=false",
    });
    CHECK(config.name == "n1");
    CHECK(config.data_dir == "/var/lib/kv");
    REQUIRE(config.listen_client_urls.size() == 2);
    CHECK(config.listen_client_urls[1].scheme == UrlScheme::Https);
    CHECK(config.listen_client_urls[1].address() == "[::1]:12380");
    CHECK(config.listen_client_urls[1].str() == "https://[::1]:12380");
    CHECK(config.advertise_client_urls[0].str() == "http://10.0.0.1:12379");
    CHECK(config.listen_peer_urls[0].port == 12380);
    CHECK(config.initial_cluster.size() == 2);
    CHECK(config.initial_cluster_token == "t");
    CHECK(config.initial_cluster_state == ClusterState::Existing);
    CHECK(config.snapshot_count == 5);
    CHECK(config.quota_backend_bytes == 1048576);
    CHECK(config.heartbeat_interval_ms == 50);
    CHECK(config.election_timeout_ms == 500);
    CHECK(config.max_request_bytes == 1000);
    CHECK(config.max_txn_ops == 7);
    CHECK(config.auto_compaction_retention == "1h");
    CHECK(config.auto_compaction_mode == AutoCompactionMode::Revision);
    CHECK(config.client_tls.cert_file == "c.pem");
    CHECK(config.client_tls.key_file == "k.pem");
    CHECK(config.client_tls.trusted_ca_file == "ca.pem");
    CHECK(config.client_tls.client_cert_auth);
    CHECK(config.peer_tls.cert_file == "pc.pem");
    CHECK(config.peer_tls.key_file == "pk.pem");
    CHECK(config.peer_tls.trusted_ca_file == "pca.pem");
    CHECK_FALSE(config.peer_tls.client_cert_auth);
    CHECK(config.member_id == config.initial_cluster[0].id);
}

TEST_CASE("single-dash flags work as in Go's flag package") {
    CHECK(config_from({"-name=x", "-initial-cluster", "x=http://localhost:2380"}).name == "x");
}

TEST_CASE("ETCD_ variables set flags, and a flag beats its variable") {
    EnvironmentMap environment = {
        {"ETCD_NAME", "from-env"},
        {"ETCD_DATA_DIR", "/env/dir"},
        {"ETCD_SNAPSHOT_COUNT", "42"},
        {"ETCD_INITIAL_CLUSTER", "from-env=http://localhost:2380,flag=http://localhost:2390"},
        {"ETCD_CLIENT_CERT_AUTH", "true"},
        {"UNRELATED", "x"},
    };
    ServerConfig config = config_from({}, environment);
    CHECK(config.name == "from-env");
    CHECK(config.data_dir == "/env/dir");
    CHECK(config.snapshot_count == 42);
    CHECK(config.client_tls.client_cert_auth);
    CHECK(config.initial_cluster.size() == 2);

    config = config_from({"--name=flag", "--initial-advertise-peer-urls=http://localhost:2390",
                          "--snapshot-count", "7"},
                         environment);
    CHECK(config.name == "flag");
    CHECK(config.snapshot_count == 7);
    CHECK(config.data_dir == "/env/dir");
}

TEST_CASE("a bad value from a variable is reported under the variable's name") {
    CHECK(contains_or_show(config_refusal({}, {{"ETCD_SNAPSHOT_COUNT", "lots"}}),
                           "ETCD_SNAPSHOT_COUNT `lots`: expected a whole number"));
}

TEST_CASE("logging and v2 flags are accepted and noted as ignored") {
    ServerConfig config = config_from({"--enable-v2", "--logger=zap", "--log-level", "debug"});
    REQUIRE(config.notes.size() == 3);
    CHECK(contains_or_show(config.notes[0], "--enable-v2 is accepted and ignored"));
}

TEST_CASE("discovery settings replace the initial cluster") {
    ServerConfig config =
        config_from({"--discovery-token=abc",
                     "--discovery-endpoints=http://10.0.0.9:2379,http://10.0.0.8:2379"});
    CHECK(config.discovery_token == "abc");
    CHECK(config.discovery_endpoints ==
          std::vector<std::string>{"http://10.0.0.9:2379", "http://10.0.0.8:2379"});
    CHECK(config.initial_cluster.empty());
    CHECK(config.member_id == 0);
    CHECK(contains_or_show(config_refusal({"--discovery-token=abc", "--discovery-endpoints=x",
                                           "--initial-cluster=default=http://localhost:2380"}),
                           "choose one of --initial-cluster or --discovery-token"));
    CHECK(
        contains_or_show(config_refusal({"--discovery-token=abc"}), "needs --discovery-endpoints"));
}

TEST_CASE("discovery's timeouts take Go durations, and its endpoints plaintext IP addresses") {
    ServerConfig config =
        config_from({"--discovery-token=abc", "--discovery-endpoints=127.0.0.1:2379",
                     "--discovery-dial-timeout=500ms"},
                    {{"ETCD_DISCOVERY_WAIT_TIMEOUT", "1m30s"}});
    CHECK(config.discovery_dial_timeout_ms == 500);
    CHECK(config.discovery_request_timeout_ms == 5000);
    CHECK(config.discovery_wait_timeout_ms == 90000);
    CHECK(contains_or_show(
        config_refusal({"--discovery-token=abc", "--discovery-endpoints=127.0.0.1:2379",
                        "--discovery-request-timeout=5"}),
        "--discovery-request-timeout `5`: expected a positive duration"));
    CHECK(contains_or_show(
        config_refusal({"--discovery-token=abc", "--discovery-endpoints=127.0.0.1:2379",
                        "--discovery-wait-timeout=0s"}),
        "expected a positive duration"));
    CHECK(contains_or_show(
        config_refusal({"--discovery-token=abc", "--discovery-endpoints=https://10.0.0.1:2379"}),
        "plaintext only"));
    CHECK(contains_or_show(
        config_refusal({"--discovery-token=abc", "--discovery-endpoints=disco.example:2379"}),
        "which is no IP address"));
    CHECK(contains_or_show(config_refusal({"--discovery-endpoints=127.0.0.1:2379"}),
                           "--discovery-endpoints needs --discovery-token"));
    CHECK(contains_or_show(
        config_refusal({"--discovery-token=a/b", "--discovery-endpoints=127.0.0.1:2379"}),
        "no `/` in it"));
}

TEST_CASE("URLs other than http(s) with an IP or localhost and a port are refused") {
    CHECK(contains_or_show(
        config_refusal({"--listen-peer-urls=http://example.com:2380"}),
        "--listen-peer-urls `http://example.com:2380`: `http://example.com:2380` has "
        "the host `example.com`, which is no IP address"));
    CHECK(contains_or_show(config_refusal({"--listen-peer-urls=unix://x:1"}),
                           "has the scheme `unix`"));
    CHECK(contains_or_show(config_refusal({"--listen-peer-urls=127.0.0.1:2380"}), "has no scheme"));
    CHECK(contains_or_show(config_refusal({"--listen-peer-urls=http://127.0.0.1"}), "has no port"));
    CHECK(contains_or_show(config_refusal({"--listen-peer-urls=http://127.0.0.1:99999"}),
                           "has the port `99999`"));
    CHECK(contains_or_show(config_refusal({"--listen-peer-urls=http://127.0.0.1:2380/path"}),
                           "more than scheme://host:port"));
    CHECK(
        contains_or_show(config_refusal({"--listen-peer-urls=http://[zz]:1"}), "no IPv6 address"));
    CHECK(contains_or_show(config_refusal({"--listen-peer-urls=http://::1:1"}), "no IP address"));
    CHECK(contains_or_show(config_refusal({"--advertise-client-urls="}),
                           "accepted: http:// or https://"));
}

TEST_CASE("flags etcd does not have, missing values and stray words are refused") {
    CHECK(contains_or_show(config_refusal({"--no-such-flag=1"}), "unknown flag --no-such-flag"));
    CHECK(contains_or_show(config_refusal({"--name"}), "flag --name needs a value"));
    CHECK(contains_or_show(config_refusal({"serve"}), "`serve` is not a valid flag"));
    CHECK(contains_or_show(config_refusal({"--client-cert-auth=maybe"}), "expected true or false"));
    CHECK(contains_or_show(config_refusal({"--initial-cluster-state=old"}),
                           "--initial-cluster-state `old`: expected new or existing"));
    CHECK(contains_or_show(config_refusal({"--auto-compaction-mode=hourly"}),
                           "expected periodic or revision"));
    CHECK(contains_or_show(config_refusal({"--max-txn-ops=0"}), "must be at least 1"));
    CHECK(
        contains_or_show(config_refusal({"--quota-backend-bytes=-1"}), "expected a whole number"));
}

TEST_CASE("election timeout and heartbeat are checked as etcd checks them") {
    CHECK(contains_or_show(config_refusal({"--heartbeat-interval=0"}),
                           "--heartbeat-interval must be >0"));
    CHECK(contains_or_show(config_refusal({"--election-timeout=0"}),
                           "--election-timeout must be >0"));
    CHECK(contains_or_show(config_refusal({"--heartbeat-interval=300"}),
                           "should be at least as 5 times as --heartbeat-interval[300ms]: raise "
                           "--election-timeout to 1500"));
    CHECK(contains_or_show(config_refusal({"--election-timeout=60000"}), "is too long"));
    CHECK(config_from({"--heartbeat-interval=200"}).heartbeat_interval_ms == 200);
}

TEST_CASE("listen-client-urls without advertise-client-urls is refused") {
    CHECK(contains_or_show(config_refusal({"--listen-client-urls=http://127.0.0.1:2379"}),
                           "--advertise-client-urls is required when --listen-client-urls is set"));
}

TEST_CASE("this member must be in the initial cluster with its advertised peer URLs") {
    CHECK(
        contains_or_show(config_refusal({"--name=z", "--initial-cluster=a=http://127.0.0.1:2380"}),
                         "couldn't find local name `z` in the initial cluster configuration: add "
                         "z=http://localhost:2380 to --initial-cluster"));
    CHECK(
        contains_or_show(config_refusal({"--name=a", "--initial-cluster=a=http://127.0.0.1:2381"}),
                         "--initial-cluster has a=http://127.0.0.1:2381 but "
                         "--initial-advertise-peer-urls=http://localhost:2380"));
    // localhost and 127.0.0.1 reach the same place.
    CHECK(config_from({"--name=a", "--initial-cluster=a=http://127.0.0.1:2380"}).name == "a");
}

TEST_CASE("a malformed initial cluster or a URL given to two members is refused") {
    CHECK(contains_or_show(config_refusal({"--initial-cluster=http://localhost:2380"}),
                           "is not NAME=URL"));
    CHECK(contains_or_show(config_refusal({"--initial-cluster=default=ftp://x:1"}),
                           "member `default`: `ftp://x:1` has the scheme `ftp`"));
    CHECK(
        contains_or_show(config_refusal({"--initial-cluster=default=http://localhost:2380,b=http://"
                                         "127.0.0.1:2380"}),
                         "is given twice"));
    // One name twice gives that member two URLs, as in etcd.
    ServerConfig config =
        config_from({"--initial-advertise-peer-urls=http://localhost:2380,http://"
                     "localhost:2381",
                     "--initial-cluster=default=http://localhost:2380,default=http://"
                     "localhost:2381"});
    REQUIRE(config.initial_cluster.size() == 1);
    CHECK(config.initial_cluster[0].peer_urls.size() == 2);
}

TEST_CASE("every member derives the same ids for everyone") {
    ServerConfig b = config_from(kThreeMembers);
    std::vector<std::string> as_a = kThreeMembers;
    as_a[0] = "--name=a";
    as_a[1] = "--initial-advertise-peer-urls=http://127.0.0.1:2380";
    ServerConfig a = config_from(as_a);
    CHECK(a.cluster_id == b.cluster_id);
    REQUIRE(a.initial_cluster.size() == 3);
    for (size_t i = 0; i < 3; ++i)
        CHECK(a.initial_cluster[i].id == b.initial_cluster[i].id);
    CHECK(a.member_id == a.initial_cluster[0].id);
    CHECK(b.member_id == b.initial_cluster[1].id);
    CHECK(a.member_id != b.member_id);

    // Another token is another cluster.
    std::vector<std::string> other = kThreeMembers;
    other[3] = "--initial-cluster-token=other";
    ServerConfig c = config_from(other);
    CHECK(c.cluster_id != b.cluster_id);
    CHECK(c.member_id != b.member_id);
}

TEST_CASE("member ids ignore URL order, and cluster ids member order") {
    std::vector<std::string> urls = {"http://10.0.0.1:2380", "http://10.0.0.2:2380"};
    std::vector<std::string> reversed = {urls[1], urls[0]};
    CHECK(member_id(urls, "t") == member_id(reversed, "t"));
    CHECK(member_id(urls, "t") != member_id(urls, "u"));
    std::vector<uint64_t> ids = {3, 1, 2};
    std::vector<uint64_t> sorted = {1, 2, 3};
    CHECK(cluster_id(ids) == cluster_id(sorted));
    CHECK(cluster_id(ids) != cluster_id(std::vector<uint64_t>{1, 2}));
    CHECK(member_id(urls, "t") != 0);
}

TEST_CASE("the watch progress interval is a Go duration, raised to etcd's 100 ms minimum") {
    CHECK(config_from({}).watch_progress_notify_interval_ms == 600000);
    CHECK(config_from({"--experimental-watch-progress-notify-interval=1m30s"})
              .watch_progress_notify_interval_ms == 90000);
    CHECK(config_from({"--experimental-watch-progress-notify-interval=10ms"})
              .watch_progress_notify_interval_ms == 100);
    CHECK(config_refusal({"--experimental-watch-progress-notify-interval=soon"})
              .find("experimental-watch-progress-notify-interval") != std::string::npos);
}

TEST_CASE("the corruption checks are off unless asked for, with etcd's flag names") {
    CHECK_FALSE(config_from({}).initial_corrupt_check);
    CHECK(config_from({}).corrupt_check_time_ms == 0);
    CHECK(config_from({"--experimental-initial-corrupt-check"}).initial_corrupt_check);
    CHECK(config_from({"--experimental-initial-corrupt-check=false"}).initial_corrupt_check ==
          false);
    CHECK(config_from({"--experimental-corrupt-check-time=1m30s"}).corrupt_check_time_ms == 90000);
    CHECK(config_refusal({"--experimental-corrupt-check-time=often"})
              .find("experimental-corrupt-check-time") != std::string::npos);
    CHECK(config_refusal({"--experimental-corrupt-check-time=-5s"})
              .find("experimental-corrupt-check-time") != std::string::npos);
    CHECK(config_refusal({"--experimental-initial-corrupt-check=maybe"})
              .find("experimental-initial-corrupt-check") != std::string::npos);
}

TEST_CASE("a malformed auto-compaction retention stops the member at its command line") {
    CHECK(config_refusal({"--auto-compaction-retention=1 hour"})
              .find("--auto-compaction-retention") != std::string::npos);
    CHECK(config_from({"--auto-compaction-mode=revision", "--auto-compaction-retention=500"})
              .auto_compaction_retention == "500");
}

// ---- TLS: https:// URLs need their certificate and key, certificate checks
// need a CA, and the files and switches come from flags or ETCD_*.

TEST_CASE("an https client URL without --cert-file and --key-file is refused, naming the flags") {
    std::string why = config_refusal(kHttpsClients);
    CHECK(contains_or_show(why, "--cert-file, --key-file"));
    CHECK(contains_or_show(why, "https://127.0.0.1:2379"));
    std::vector<std::string> no_key = kHttpsClients;
    no_key.push_back("--cert-file=/c.pem");
    CHECK(contains_or_show(config_refusal(no_key), "--key-file"));
}

TEST_CASE("an https peer URL without --peer-cert-file and --peer-key-file is refused") {
    std::string why = config_refusal({"--listen-peer-urls=https://127.0.0.1:2380",
                                      "--initial-advertise-peer-urls=https://127.0.0.1:2380"});
    CHECK(contains_or_show(why, "--peer-cert-file, --peer-key-file"));
    CHECK(contains_or_show(why, "peer url https://127.0.0.1:2380"));
}

TEST_CASE("client certificate checks without a CA to check against are refused") {
    std::vector<std::string> args = kHttpsClients;
    args.insert(args.end(), {"--cert-file=/c.pem", "--key-file=/k.pem", "--client-cert-auth"});
    CHECK(contains_or_show(config_refusal(args), "--client-cert-auth needs --trusted-ca-file"));
    CHECK(contains_or_show(
        config_refusal({"--peer-client-cert-auth", "--peer-cert-file=/c.pem",
                        "--peer-key-file=/k.pem", "--listen-peer-urls=https://127.0.0.1:2380",
                        "--initial-advertise-peer-urls=https://127.0.0.1:2380"}),
        "--peer-client-cert-auth needs --peer-trusted-ca-file"));
}

TEST_CASE("allowed peer and client certificate names need verified certificates and exclude "
          "each other") {
    std::vector<std::string> peer_tls = {"--peer-client-cert-auth",
                                         "--peer-cert-file=/c.pem",
                                         "--peer-key-file=/k.pem",
                                         "--peer-trusted-ca-file=/ca.pem",
                                         "--listen-peer-urls=https://127.0.0.1:2380",
                                         "--initial-advertise-peer-urls=https://127.0.0.1:2380"};
    std::vector<std::string> args = peer_tls;
    args.push_back("--peer-cert-allowed-cn=member");
    Result<ServerConfig> config = parse_server_config(args, {});
    REQUIRE_MESSAGE(config, (config ? "" : config.error().to_string()));
    CHECK(config->peer_tls.allowed_cn == "member");
    args.push_back("--peer-cert-allowed-hostname=member.keel.test");
    CHECK(contains_or_show(config_refusal(args),
                           "--peer-cert-allowed-cn and --peer-cert-allowed-hostname are mutually "
                           "exclusive (cn=`member`, hostname=`member.keel.test`)"));
    CHECK(contains_or_show(config_refusal({"--peer-cert-allowed-hostname=m1"}),
                           "--peer-cert-allowed-hostname needs https:// peer URLs and "
                           "--peer-client-cert-auth"));
    CHECK(contains_or_show(config_refusal({"--client-cert-allowed-hostname=c1"}),
                           "--client-cert-allowed-hostname needs https:// client URLs"));
}

TEST_CASE("TLS switches are accepted and unused on http URLs, as etcd does") {
    Result<ServerConfig> config = parse_server_config(
        std::vector<std::string>{"--client-cert-auth", "--peer-client-cert-auth"}, {});
    REQUIRE_MESSAGE(config, (config ? "" : config.error().to_string()));
    CHECK(config->client_tls.client_cert_auth);
}

TEST_CASE("TLS files and switches come from flags and ETCD_* variables") {
    std::vector<std::string> args = kHttpsClients;
    args.insert(args.end(), {"--cert-file=/c.pem", "--key-file=/k.pem", "--trusted-ca-file=/ca.pem",
                             "--client-cert-auth"});
    EnvironmentMap environment = {{"ETCD_PEER_CERT_FILE", "/pc.pem"},
                                  {"ETCD_PEER_KEY_FILE", "/pk.pem"},
                                  {"ETCD_PEER_TRUSTED_CA_FILE", "/pca.pem"},
                                  {"ETCD_PEER_CLIENT_CERT_AUTH", "true"},
                                  {"ETCD_LISTEN_PEER_URLS", "https://127.0.0.1:2380"},
                                  {"ETCD_INITIAL_ADVERTISE_PEER_URLS", "https://127.0.0.1:2380"}};
    Result<ServerConfig> config = parse_server_config(args, environment);
    REQUIRE_MESSAGE(config, (config ? "" : config.error().to_string()));
    CHECK(config->client_tls.cert_file == "/c.pem");
    CHECK(config->client_tls.key_file == "/k.pem");
    CHECK(config->client_tls.trusted_ca_file == "/ca.pem");
    CHECK(config->client_tls.client_cert_auth);
    CHECK(config->peer_tls.cert_file == "/pc.pem");
    CHECK(config->peer_tls.key_file == "/pk.pem");
    CHECK(config->peer_tls.trusted_ca_file == "/pca.pem");
    CHECK(config->peer_tls.client_cert_auth);
    CHECK(config->listen_client_urls.front().scheme == UrlScheme::Https);
    CHECK(config->listen_peer_urls.front().scheme == UrlScheme::Https);
}
