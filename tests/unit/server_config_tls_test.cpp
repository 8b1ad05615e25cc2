// Tests for the TLS side of kv/server_config.h: https:// URLs need their
// certificate and key (the refusal names the flags), certificate checks
// need a CA, and the files and switches come from flags or ETCD_*.
#include "kv/server_config.h"

#include <doctest/doctest.h>

using namespace keel;
using namespace keel::kv;

namespace {

using Environment = std::map<std::string, std::string>;

std::string refusal(std::vector<std::string> args, const Environment& environment = {}) {
    Result<ServerConfig> config = parse_server_config(args, environment);
    REQUIRE_FALSE(config.has_value());
    return config.error().to_string();
}

bool contains(const std::string& text, std::string_view part) {
    if (text.find(part) != std::string::npos)
        return true;
    MESSAGE(text);
    return false;
}

const std::vector<std::string> kHttpsClients = {
    "--listen-client-urls=https://127.0.0.1:2379",
    "--advertise-client-urls=https://127.0.0.1:2379",
};

} // namespace

TEST_CASE("an https client URL without --cert-file and --key-file is refused, naming the flags") {
    std::string why = refusal(kHttpsClients);
    CHECK(contains(why, "--cert-file, --key-file"));
    CHECK(contains(why, "https://127.0.0.1:2379"));
    std::vector<std::string> no_key = kHttpsClients;
    no_key.push_back("--cert-file=/c.pem");
    CHECK(contains(refusal(no_key), "--key-file"));
}

TEST_CASE("an https peer URL without --peer-cert-file and --peer-key-file is refused") {
    std::string why = refusal({"--listen-peer-urls=https://127.0.0.1:2380",
                               "--initial-advertise-peer-urls=https://127.0.0.1:2380"});
    CHECK(contains(why, "--peer-cert-file, --peer-key-file"));
    CHECK(contains(why, "peer url https://127.0.0.1:2380"));
}

TEST_CASE("client certificate checks without a CA to check against are refused") {
    std::vector<std::string> args = kHttpsClients;
    args.insert(args.end(), {"--cert-file=/c.pem", "--key-file=/k.pem", "--client-cert-auth"});
    CHECK(contains(refusal(args), "--client-cert-auth needs --trusted-ca-file"));
    CHECK(contains(refusal({"--peer-client-cert-auth", "--peer-cert-file=/c.pem",
                            "--peer-key-file=/k.pem", "--listen-peer-urls=https://127.0.0.1:2380",
                            "--initial-advertise-peer-urls=https://127.0.0.1:2380"}),
                   "--peer-client-cert-auth needs --peer-trusted-ca-file"));
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
    Environment environment = {{"ETCD_PEER_CERT_FILE", "/pc.pem"},
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
