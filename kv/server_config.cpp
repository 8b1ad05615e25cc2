// parse_server_config: etcd's flags over its ETCD_* variables, defaults
// filled in, then etcd's checks (embed/config.go's Validate and
// etcdserver's bootstrap checks), and the member and cluster ids.
#include "kv/server_config.h"

#include "base/digest.h"
#include "base/go_duration.h"
#include "base/strings.h"
#include "kv/auto_compaction.h"

#include <algorithm>
#include <arpa/inet.h>
#include <cctype>
#include <chrono>
#include <netinet/in.h>
#include <optional>
#include <set>

namespace keel::kv {

namespace {

enum class FlagKind : uint8_t {
    /// Takes a value: `--flag=value` or `--flag value`.
    Value,
    /// Go's boolean flag: `--flag` alone is true; a value only after "=".
    Boolean,
};

struct FlagSpec {
    std::string_view name;
    FlagKind kind = FlagKind::Value;
};

constexpr FlagSpec kFlags[] = {
    {"name"},
    {"data-dir"},
    {"listen-client-urls"},
    {"advertise-client-urls"},
    {"listen-peer-urls"},
    {"initial-advertise-peer-urls"},
    {"initial-cluster"},
    {"initial-cluster-token"},
    {"initial-cluster-state"},
    {"snapshot-count"},
    {"quota-backend-bytes"},
    {"heartbeat-interval"},
    {"election-timeout"},
    {"max-request-bytes"},
    {"max-txn-ops"},
    {"auto-compaction-retention"},
    {"auto-compaction-mode"},
    {"enable-v2", FlagKind::Boolean},
    {"logger"},
    {"log-level"},
    {"log-outputs"},
    {"cert-file"},
    {"key-file"},
    {"trusted-ca-file"},
    {"client-cert-auth", FlagKind::Boolean},
    {"client-cert-allowed-hostname"},
    {"peer-cert-file"},
    {"peer-key-file"},
    {"peer-trusted-ca-file"},
    {"peer-client-cert-auth", FlagKind::Boolean},
    {"peer-cert-allowed-cn"},
    {"peer-cert-allowed-hostname"},
    {"discovery-token"},
    {"discovery-endpoints"},
    {"discovery-dial-timeout"},
    {"discovery-request-timeout"},
    {"discovery-wait-timeout"},
    {"experimental-watch-progress-notify-interval"},
    {"experimental-initial-corrupt-check", FlagKind::Boolean},
    {"experimental-corrupt-check-time"},
};

/// Flags keel takes and does nothing with, and why.
constexpr std::pair<std::string_view, std::string_view> kIgnoredFlags[] = {
    {"enable-v2", "keel serves etcd's v3 API only"},
    {"logger", "keel logs through its own logger"},
    {"log-level", "keel's log level is set by keel.log= or its own flags"},
    {"log-outputs", "keel logs through its own logger"},
};

/// The upper bound etcd puts on --election-timeout.
constexpr uint64_t kMaxElectionMs = 50000;

const FlagSpec* find_flag(std::string_view name) {
    for (const FlagSpec& spec : kFlags)
        if (spec.name == name)
            return &spec;
    return nullptr;
}

/// "some-flag" -> "ETCD_SOME_FLAG", as etcd's flags.FlagToEnv.
std::string environment_name(std::string_view flag) {
    std::string name = "ETCD_";
    for (char c : flag)
        name += c == '-' ? '_' : char(std::toupper(static_cast<unsigned char>(c)));
    return name;
}

/// A flag's value and where it came from, for error messages.
struct Setting {
    std::string value;
    /// "--name" or "ETCD_NAME".
    std::string origin;
};

/// The raw settings: environment first, flags over it.
class Settings {
public:
    std::optional<std::string_view> get(std::string_view flag) const {
        auto it = m_values.find(std::string(flag));
        if (it == m_values.end())
            return std::nullopt;
        return std::string_view(it->second.value);
    }
    bool has(std::string_view flag) const { return m_values.contains(std::string(flag)); }
    void set(std::string_view flag, std::string value, std::string origin) {
        m_values[std::string(flag)] = {std::move(value), std::move(origin)};
    }
    /// "--flag" or "ETCD_FLAG", whichever gave the value.
    std::string origin(std::string_view flag) const {
        auto it = m_values.find(std::string(flag));
        return it == m_values.end() ? cat("--", flag) : it->second.origin;
    }
    /// An error about a flag's value: "--flag `value`: problem".
    std::unexpected<Error> refuse(std::string_view flag, std::string_view problem) const {
        return error(cat(origin(flag), " ", quoted(get(flag).value_or("")), ": ", problem));
    }

private:
    std::map<std::string, Setting> m_values;
};

Result<Settings> collect(std::span<const std::string> args,
                         const std::map<std::string, std::string>& environment) {
    Settings settings;
    for (const FlagSpec& spec : kFlags) {
        std::string variable = environment_name(spec.name);
        if (auto it = environment.find(variable); it != environment.end())
            settings.set(spec.name, it->second, variable);
    }
    for (size_t i = 0; i < args.size(); ++i) {
        std::string_view arg = args[i];
        if (arg.size() < 2 || arg[0] != '-' || arg == "--")
            return error(cat(quoted(arg), " is not a valid flag (keel kv serve takes only "
                                          "--flag=value and --flag value)"));
        arg.remove_prefix(arg[1] == '-' ? 2 : 1);
        std::optional<std::string_view> inline_value;
        if (size_t equals = arg.find('='); equals != std::string_view::npos) {
            inline_value = arg.substr(equals + 1);
            arg = arg.substr(0, equals);
        }
        const FlagSpec* spec = find_flag(arg);
        if (!spec)
            return error(cat("unknown flag --", arg,
                             " (keel kv serve takes etcd's flags: see "
                             "`keel kv serve --help`)"));
        std::string value;
        if (inline_value)
            value = std::string(*inline_value);
        else if (spec->kind == FlagKind::Boolean)
            value = "true";
        else if (i + 1 < args.size())
            value = args[++i];
        else
            return error(cat("flag --", arg, " needs a value (--", arg, "=VALUE)"));
        settings.set(spec->name, std::move(value), cat("--", spec->name));
    }
    return settings;
}

Result<uint64_t> number(const Settings& settings, std::string_view flag, uint64_t fallback) {
    std::optional<std::string_view> text = settings.get(flag);
    if (!text)
        return fallback;
    std::optional<uint64_t> value = parse_u64(*text);
    if (!value)
        return settings.refuse(flag, "expected a whole number");
    return *value;
}

/// Go's strconv.ParseBool.
Result<bool> boolean(const Settings& settings, std::string_view flag) {
    std::optional<std::string_view> text = settings.get(flag);
    if (!text)
        return false;
    for (std::string_view yes : {"1", "t", "T", "true", "TRUE", "True"})
        if (*text == yes)
            return true;
    for (std::string_view no : {"0", "f", "F", "false", "FALSE", "False"})
        if (*text == no)
            return false;
    return settings.refuse(flag, "expected true or false");
}

std::string text(const Settings& settings, std::string_view flag, std::string_view fallback) {
    return std::string(settings.get(flag).value_or(fallback));
}

Result<std::vector<ServerUrl>> url_list(const Settings& settings, std::string_view flag,
                                        std::string_view fallback) {
    std::string_view list = settings.get(flag).value_or(fallback);
    std::vector<ServerUrl> urls;
    for (std::string_view item : split(list, ',')) {
        Result<ServerUrl> url = parse_server_url(trim(item));
        if (!url)
            return error(cat(settings.origin(flag), " ", quoted(list), ": ", url.error().root()));
        urls.push_back(std::move(*url));
    }
    return urls;
}

/// "name=url,name=url"; a name given twice gets both URLs (as etcd's
/// URLsMap does).
Result<std::vector<InitialMember>> parse_initial_cluster(const Settings& settings,
                                                         std::string_view list) {
    std::map<std::string, InitialMember> members;
    std::set<std::string> seen_urls;
    for (std::string_view item : split(list, ',')) {
        item = trim(item);
        size_t equals = item.find('=');
        if (equals == std::string_view::npos || equals == 0)
            return error(cat(settings.origin("initial-cluster"), " ", quoted(list), ": ",
                             quoted(item), " is not NAME=URL"));
        Result<ServerUrl> url = parse_server_url(item.substr(equals + 1));
        if (!url)
            return error(cat(settings.origin("initial-cluster"), " ", quoted(list), ": member ",
                             quoted(item.substr(0, equals)), ": ", url.error().root()));
        if (!seen_urls.insert(url->address()).second)
            return error(cat(settings.origin("initial-cluster"), " ", quoted(list),
                             ": the peer URL ", url->str(),
                             " is given twice (each member needs URLs of its own)"));
        InitialMember& member = members[std::string(item.substr(0, equals))];
        member.name = item.substr(0, equals);
        member.peer_urls.push_back(std::move(*url));
    }
    std::vector<InitialMember> out;
    for (auto& [name, member] : members)
        out.push_back(std::move(member));
    return out;
}

/// The URLs compared by what they reach: localhost and 127.0.0.1 match.
std::set<std::string> reach(const std::vector<ServerUrl>& urls) {
    std::set<std::string> out;
    for (const ServerUrl& url : urls)
        out.insert(cat(kUrlSchemeNames.name(url.scheme), "://", url.address()));
    return out;
}

/// https:// URLs need their side's certificate and key (etcd's refusal),
/// and certificate checks on them a CA (keel's: it trusts no system CA
/// for clients and peers).
Result<void> check_tls(const ServerConfig& config) {
    for (const ServerUrl& url : config.listen_client_urls)
        if (url.scheme == UrlScheme::Https &&
            (config.client_tls.cert_file.empty() || config.client_tls.key_file.empty()))
            return error(cat("TLS key/cert (--cert-file, --key-file) must be provided for "
                             "client url ",
                             url.str(), " with HTTPS scheme"));
    for (const ServerUrl& url : config.listen_peer_urls)
        if (url.scheme == UrlScheme::Https &&
            (config.peer_tls.cert_file.empty() || config.peer_tls.key_file.empty()))
            return error(cat("TLS key/cert (--peer-cert-file, --peer-key-file) must be provided "
                             "for peer url ",
                             url.str(), " with HTTPS scheme"));
    // Only where TLS is used: etcd ignores these for http:// URLs.
    auto https = [](const std::vector<ServerUrl>& urls) {
        return std::ranges::any_of(
            urls, [](const ServerUrl& url) { return url.scheme == UrlScheme::Https; });
    };
    if (https(config.listen_client_urls) && config.client_tls.client_cert_auth &&
        config.client_tls.trusted_ca_file.empty())
        return error("--client-cert-auth needs --trusted-ca-file: the CA that client "
                     "certificates are checked against");
    if (https(config.listen_peer_urls) && config.peer_tls.client_cert_auth &&
        config.peer_tls.trusted_ca_file.empty())
        return error("--peer-client-cert-auth needs --peer-trusted-ca-file: the CA that peer "
                     "certificates are checked against");
    const TlsFiles& peer = config.peer_tls;
    if (!peer.allowed_cn.empty() && !peer.allowed_hostname.empty())
        return error(cat("--peer-cert-allowed-cn and --peer-cert-allowed-hostname are mutually "
                         "exclusive (cn=",
                         quoted(peer.allowed_cn), ", hostname=", quoted(peer.allowed_hostname),
                         ")"));
    if ((!peer.allowed_cn.empty() || !peer.allowed_hostname.empty()) &&
        !(https(config.listen_peer_urls) && peer.client_cert_auth))
        return error(
            cat(peer.allowed_cn.empty() ? "--peer-cert-allowed-hostname" : "--peer-cert-allowed-cn",
                " needs https:// peer URLs and --peer-client-cert-auth: only a "
                "verified peer certificate has a name to check"));
    if (!config.client_tls.allowed_hostname.empty() &&
        !(https(config.listen_client_urls) && config.client_tls.client_cert_auth))
        return error("--client-cert-allowed-hostname needs https:// client URLs and "
                     "--client-cert-auth: only a verified client certificate has a name to "
                     "check");
    return {};
}

Result<void> check_timing(const ServerConfig& config) {
    if (config.heartbeat_interval_ms == 0)
        return error("--heartbeat-interval must be >0 (set to 0ms)");
    if (config.election_timeout_ms == 0)
        return error("--election-timeout must be >0 (set to 0ms)");
    if (5 * config.heartbeat_interval_ms > config.election_timeout_ms)
        return error(cat("--election-timeout[", config.election_timeout_ms,
                         "ms] should be at least as 5 times as --heartbeat-interval[",
                         config.heartbeat_interval_ms, "ms]: raise --election-timeout to ",
                         5 * config.heartbeat_interval_ms,
                         " or more, or lower --heartbeat-interval"));
    if (config.election_timeout_ms > kMaxElectionMs)
        return error(cat("--election-timeout[", config.election_timeout_ms,
                         "ms] is too long, and should be set less than ", kMaxElectionMs, "ms"));
    return {};
}

Result<void> check_bootstrap(ServerConfig& config) {
    auto local = std::find_if(config.initial_cluster.begin(), config.initial_cluster.end(),
                              [&](const InitialMember& m) { return m.name == config.name; });
    if (local == config.initial_cluster.end())
        return error(cat("couldn't find local name ", quoted(config.name),
                         " in the initial cluster configuration: add ", config.name, "=",
                         join_urls(config.initial_advertise_peer_urls),
                         " to --initial-cluster, or set --name to one of its members"));
    if (reach(local->peer_urls) != reach(config.initial_advertise_peer_urls))
        return error(cat(
            "--initial-cluster has ", config.name, "=", join_urls(local->peer_urls),
            " but --initial-advertise-peer-urls=", join_urls(config.initial_advertise_peer_urls),
            ": this member's URLs in both must be the same"));
    std::map<uint64_t, std::string> ids;
    std::vector<uint64_t> member_ids;
    for (InitialMember& member : config.initial_cluster) {
        std::vector<std::string> urls;
        for (const ServerUrl& url : member.peer_urls)
            urls.push_back(url.str());
        member.id = member_id(urls, config.initial_cluster_token);
        if (auto [it, added] = ids.emplace(member.id, member.name); !added)
            return error(cat("--initial-cluster: members ", quoted(it->second), " and ",
                             quoted(member.name), " have the same id; give them other URLs"));
        member_ids.push_back(member.id);
    }
    config.member_id = local->id;
    config.cluster_id = cluster_id(member_ids);
    return {};
}

/// A Go duration ("2s", "500ms", "1m30s") in milliseconds, at least 1.
Result<uint64_t> duration_ms(const Settings& settings, std::string_view flag, uint64_t fallback) {
    std::optional<std::string_view> value = settings.get(flag);
    if (!value)
        return fallback;
    auto parsed = parse_go_duration(*value);
    if (!parsed || parsed->count() <= 0)
        return settings.refuse(flag, "expected a positive duration such as 2s or 500ms");
    return std::max<uint64_t>(
        1, static_cast<uint64_t>(
               std::chrono::duration_cast<std::chrono::milliseconds>(*parsed).count()));
}

/// A discovery endpoint is dialed with keel's plaintext gRPC client:
/// "http://ip:port" or "ip:port" (localhost is 127.0.0.1).
Result<void> check_discovery_endpoints(const Settings& settings,
                                       const std::vector<std::string>& endpoints) {
    for (const std::string& endpoint : endpoints) {
        if (endpoint.starts_with("https://"))
            return settings.refuse("discovery-endpoints",
                                   cat(quoted(endpoint),
                                       ": keel dials discovery endpoints in plaintext only; give "
                                       "an http:// endpoint of the discovery service"));
        std::string url =
            endpoint.find("://") == std::string::npos ? "http://" + endpoint : endpoint;
        if (auto parsed = parse_server_url(url); !parsed)
            return settings.refuse("discovery-endpoints", parsed.error().root());
    }
    return {};
}

Result<ServerConfig> build(const Settings& settings) {
    ServerConfig config;
    config.name = text(settings, "name", "default");
    config.data_dir = text(settings, "data-dir", config.name + ".etcd");
    config.listen_client_urls =
        TRY(url_list(settings, "listen-client-urls", "http://localhost:2379"));
    config.advertise_client_urls =
        TRY(url_list(settings, "advertise-client-urls", "http://localhost:2379"));
    config.listen_peer_urls = TRY(url_list(settings, "listen-peer-urls", "http://localhost:2380"));
    config.initial_advertise_peer_urls =
        TRY(url_list(settings, "initial-advertise-peer-urls", "http://localhost:2380"));
    config.initial_cluster_token = text(settings, "initial-cluster-token", "etcd-cluster");
    if (std::optional<std::string_view> state = settings.get("initial-cluster-state")) {
        Result<ClusterState> parsed = parse_choice(kClusterStateNames, *state);
        if (!parsed)
            return settings.refuse("initial-cluster-state", "expected new or existing");
        config.initial_cluster_state = *parsed;
    }
    config.snapshot_count = TRY(number(settings, "snapshot-count", config.snapshot_count));
    config.quota_backend_bytes =
        TRY(number(settings, "quota-backend-bytes", config.quota_backend_bytes));
    if (config.quota_backend_bytes == 0) // etcd: 0 means the default
        config.quota_backend_bytes = 2ull << 30;
    config.heartbeat_interval_ms =
        TRY(number(settings, "heartbeat-interval", config.heartbeat_interval_ms));
    config.election_timeout_ms =
        TRY(number(settings, "election-timeout", config.election_timeout_ms));
    config.max_request_bytes = TRY(number(settings, "max-request-bytes", config.max_request_bytes));
    config.max_txn_ops = TRY(number(settings, "max-txn-ops", config.max_txn_ops));
    if (config.max_txn_ops == 0)
        return settings.refuse("max-txn-ops", "must be at least 1");
    if (config.max_request_bytes == 0)
        return settings.refuse("max-request-bytes", "must be at least 1");
    config.auto_compaction_retention = text(settings, "auto-compaction-retention", "0");
    if (std::optional<std::string_view> mode = settings.get("auto-compaction-mode")) {
        Result<AutoCompactionMode> parsed = parse_choice(kAutoCompactionModeNames, *mode);
        if (!parsed)
            return settings.refuse("auto-compaction-mode", "expected periodic or revision");
        config.auto_compaction_mode = *parsed;
    }
    // Checked here so that a bad value stops the member before it starts.
    TRY(parse_compaction_retention(config.auto_compaction_mode, config.auto_compaction_retention));
    if (auto interval = settings.get("experimental-watch-progress-notify-interval")) {
        auto parsed = parse_go_duration(*interval);
        if (!parsed)
            return settings.refuse("experimental-watch-progress-notify-interval",
                                   "expected a duration such as 10m or 500ms");
        // etcd's minimum, which it raises shorter intervals to.
        config.watch_progress_notify_interval_ms = std::max<uint64_t>(
            100, static_cast<uint64_t>(
                     std::chrono::duration_cast<std::chrono::milliseconds>(*parsed).count()));
    }
    config.initial_corrupt_check = TRY(boolean(settings, "experimental-initial-corrupt-check"));
    if (auto every = settings.get("experimental-corrupt-check-time")) {
        auto parsed = parse_go_duration(*every);
        if (!parsed || parsed->count() < 0)
            return settings.refuse("experimental-corrupt-check-time",
                                   "expected a duration such as 5m or 30s (0s: no checks)");
        config.corrupt_check_time_ms = static_cast<uint64_t>(
            std::chrono::duration_cast<std::chrono::milliseconds>(*parsed).count());
    }
    config.client_tls = {.client_cert_auth = TRY(boolean(settings, "client-cert-auth")),
                         .cert_file = text(settings, "cert-file", ""),
                         .key_file = text(settings, "key-file", ""),
                         .allowed_hostname = text(settings, "client-cert-allowed-hostname", ""),
                         .trusted_ca_file = text(settings, "trusted-ca-file", "")};
    config.peer_tls = {.client_cert_auth = TRY(boolean(settings, "peer-client-cert-auth")),
                       .cert_file = text(settings, "peer-cert-file", ""),
                       .key_file = text(settings, "peer-key-file", ""),
                       .allowed_cn = text(settings, "peer-cert-allowed-cn", ""),
                       .allowed_hostname = text(settings, "peer-cert-allowed-hostname", ""),
                       .trusted_ca_file = text(settings, "peer-trusted-ca-file", "")};
    config.discovery_token = text(settings, "discovery-token", "");
    std::string endpoints = text(settings, "discovery-endpoints", "");
    for (std::string_view endpoint : split(endpoints, ','))
        if (!trim(endpoint).empty())
            config.discovery_endpoints.emplace_back(trim(endpoint));
    config.discovery_dial_timeout_ms =
        TRY(duration_ms(settings, "discovery-dial-timeout", config.discovery_dial_timeout_ms));
    config.discovery_request_timeout_ms = TRY(
        duration_ms(settings, "discovery-request-timeout", config.discovery_request_timeout_ms));
    config.discovery_wait_timeout_ms =
        TRY(duration_ms(settings, "discovery-wait-timeout", config.discovery_wait_timeout_ms));
    TRY(boolean(settings, "enable-v2"));
    for (auto [flag, why] : kIgnoredFlags)
        if (settings.has(flag))
            config.notes.push_back(cat(settings.origin(flag), " is accepted and ignored: ", why));

    TRY(check_timing(config));
    TRY(check_tls(config));
    if (settings.has("listen-client-urls") && !settings.has("advertise-client-urls"))
        return error("--advertise-client-urls is required when --listen-client-urls is set "
                     "explicitly: set it to the URLs clients reach this member at");
    bool discovery = !config.discovery_token.empty();
    if (discovery && settings.has("initial-cluster"))
        return error("multiple discovery or bootstrap flags are set: choose one of "
                     "--initial-cluster or --discovery-token");
    if (discovery && config.initial_cluster_state == ClusterState::Existing)
        return error("--discovery-token should not be set when joining an existing cluster "
                     "(--initial-cluster-state=existing)");
    if (!config.discovery_token.empty() && config.discovery_endpoints.empty())
        return error("--discovery-token needs --discovery-endpoints");
    if (!discovery && !config.discovery_endpoints.empty())
        return error("--discovery-endpoints needs --discovery-token: the token names the "
                     "cluster in the discovery service's registry");
    if (discovery) {
        TRY(check_discovery_endpoints(settings, config.discovery_endpoints));
        if (config.discovery_token.find('/') != std::string::npos)
            return settings.refuse("discovery-token",
                                   "a token is one key segment and has no `/` in it");
        return config;
    }

    // etcd's default: this member alone, at its advertised peer URLs.
    std::string fallback;
    for (const ServerUrl& url : config.initial_advertise_peer_urls)
        fallback += (fallback.empty() ? "" : ",") + config.name + "=" + url.str();
    std::string_view cluster = settings.get("initial-cluster").value_or(fallback);
    config.initial_cluster = TRY(parse_initial_cluster(settings, cluster));
    TRY(check_bootstrap(config));
    return config;
}

/// Reads the first 8 bytes of a hex digest, big-endian.
uint64_t leading_u64(const std::string& hex) {
    uint64_t value = 0;
    for (size_t i = 0; i < 16; ++i)
        value = (value << 4) | uint64_t(hex_digit_value(hex[i]));
    return value == 0 ? 1 : value;
}

} // namespace

std::string join_urls(const std::vector<ServerUrl>& urls) {
    std::string out;
    for (const ServerUrl& url : urls)
        out += (out.empty() ? "" : ",") + url.str();
    return out;
}

std::string ServerUrl::str() const {
    bool v6 = host.find(':') != std::string::npos;
    return cat(kUrlSchemeNames.name(scheme), "://", v6 ? "[" : "", host, v6 ? "]" : "", ":", port);
}

std::string ServerUrl::address() const {
    bool v6 = ip.find(':') != std::string::npos;
    return cat(v6 ? "[" : "", ip, v6 ? "]" : "", ":", port);
}

Result<ServerUrl> parse_server_url(std::string_view text) {
    constexpr std::string_view accepted =
        " (accepted: http:// or https:// with a numeric IPv4 or [IPv6] host or localhost, "
        "and a port, as in http://10.0.0.1:2380)";
    auto refuse = [&](std::string_view why) {
        return error(cat(quoted(text), " ", why, accepted));
    };
    ServerUrl url;
    size_t separator = text.find("://");
    if (separator == std::string_view::npos)
        return refuse("has no scheme");
    std::optional<UrlScheme> scheme = kUrlSchemeNames.parse(text.substr(0, separator));
    if (!scheme)
        return refuse(cat("has the scheme ", quoted(text.substr(0, separator))));
    url.scheme = *scheme;
    std::string_view rest = text.substr(separator + 3);
    if (rest.ends_with('/'))
        rest.remove_suffix(1);
    if (rest.find_first_of("/?#@") != std::string_view::npos)
        return refuse("has more than scheme://host:port");
    std::string_view port_text;
    if (rest.starts_with('[')) {
        size_t close = rest.find("]:");
        if (close == std::string_view::npos)
            return refuse("has no port");
        url.host = rest.substr(1, close - 1);
        port_text = rest.substr(close + 2);
        in6_addr address{};
        if (::inet_pton(AF_INET6, url.host.c_str(), &address) != 1)
            return refuse(cat("has the host ", quoted(url.host), ", which is no IPv6 address"));
        url.ip = url.host;
    } else {
        size_t colon = rest.rfind(':');
        if (colon == std::string_view::npos)
            return refuse("has no port");
        url.host = rest.substr(0, colon);
        port_text = rest.substr(colon + 1);
        in_addr address{};
        if (url.host == "localhost")
            url.ip = "127.0.0.1";
        else if (url.host.find(':') == std::string::npos &&
                 ::inet_pton(AF_INET, url.host.c_str(), &address) == 1)
            url.ip = url.host;
        else
            return refuse(cat("has the host ", quoted(url.host),
                              ", which is no IP address (names are not resolved)"));
    }
    std::optional<uint64_t> port = parse_u64(port_text);
    if (!port || *port == 0 || *port > 65535)
        return refuse(cat("has the port ", quoted(port_text)));
    url.port = uint16_t(*port);
    return url;
}

Result<ServerConfig> parse_server_config(std::span<const std::string> args,
                                         const std::map<std::string, std::string>& environment) {
    Settings settings = TRY(collect(args, environment));
    return build(settings);
}

uint64_t member_id(std::span<const std::string> peer_urls, std::string_view token) {
    std::vector<std::string> sorted(peer_urls.begin(), peer_urls.end());
    std::sort(sorted.begin(), sorted.end());
    std::string input;
    for (const std::string& url : sorted)
        input += url;
    input += token;
    return leading_u64(sha256_hex(input));
}

uint64_t cluster_id(std::span<const uint64_t> member_ids) {
    std::vector<uint64_t> sorted(member_ids.begin(), member_ids.end());
    std::sort(sorted.begin(), sorted.end());
    std::string input;
    for (uint64_t id : sorted)
        for (int shift = 56; shift >= 0; shift -= 8)
            input += char(uint8_t(id >> shift));
    return leading_u64(sha256_hex(input));
}

} // namespace keel::kv
