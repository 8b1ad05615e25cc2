// serve() and serve_role(): a KV member as a process: parses the command
// line (for the role, the kernel command line's keel.kv.* words), runs the
// member on a Reactor, tells a service manager it is ready when
// $NOTIFY_SOCKET names one, stops on SIGTERM or SIGINT.
#include "kv/kv.h"

#include "base/log.h"
#include "base/notify.h"
#include "base/reactor.h"
#include "base/strings.h"
#include "kv/discovery.h"
#include "kv/kv_server.h"
#include "kv/role_config.h"
#include "kv/server_config.h"

#include <csignal>
#include <string>

namespace keel::kv {

namespace {

// sd_notify, as etcd does under systemd: a manager that waits for READY=1
// (Type=notify) starts what comes after the KV once it listens. A manager
// that cannot be told is not the member's failure.
void tell_service_manager(const std::map<std::string, std::string>& environment,
                          std::string_view message) {
    auto socket = environment.find("NOTIFY_SOCKET");
    if (socket == environment.end() || socket->second.empty())
        return;
    if (auto sent = send_notify(socket->second, message); !sent)
        log_warning(cat("kv: telling the service manager ", quoted(message), ": ",
                        sent.error().to_string()));
}

// `what` ("kv serve", "kv role") is the context of its errors.
Result<void> run_member(const ServerConfig& config,
                        const std::map<std::string, std::string>& environment, std::string what) {
    // A client that goes away mid-write is that connection's error, not
    // the process's end.
    std::signal(SIGPIPE, SIG_IGN);
    TRY(block_signals({SIGTERM, SIGINT}));
    auto reactor = TRY(Reactor::create());
    auto started = KvServer::start(*reactor, config);
    if (!started)
        return std::unexpected(std::move(started).error().wrap(what));
    auto server = std::move(*started);
    tell_service_manager(environment, cat("READY=1\nSTATUS=member ", config.name, " serving"));
    auto stop = [&](const signalfd_siginfo&) { reactor->stop(); };
    TRY(reactor->on_signal(SIGTERM, stop));
    TRY(reactor->on_signal(SIGINT, stop));
    TRY(reactor->run());
    if (server->failure())
        return std::unexpected(Error(*server->failure()).wrap(what));
    log_info("kv: stopping");
    tell_service_manager(environment, "STOPPING=1");
    server->stop();
    return {};
}

} // namespace

Result<void> serve(std::span<const std::string> args,
                   const std::map<std::string, std::string>& environment) {
    auto parsed = parse_server_config(args, environment);
    if (!parsed)
        return std::unexpected(std::move(parsed).error().wrap("kv serve"));
    // Before run_member blocks SIGTERM: a member waiting for the rest of
    // its cluster stops at once.
    auto config = bootstrap_through_discovery(std::move(*parsed));
    if (!config)
        return std::unexpected(std::move(config).error().wrap("kv serve"));
    return run_member(*config, environment, "kv serve");
}

Result<void> serve_role(const std::map<std::string, std::string>& environment) {
    std::string settings =
        cat("kv role: settings from the kernel command line (", kRoleParameterPrefix,
            "FLAG=VALUE as --FLAG=VALUE) and ", kRoleConfigFile, " (ETCD_* variables)");
    auto cmdline = KernelCommandLine::read();
    if (!cmdline)
        return std::unexpected(std::move(cmdline).error().wrap(settings));
    auto args = role_arguments(*cmdline, environment);
    if (!args)
        return std::unexpected(std::move(args).error().wrap(settings));
    auto parsed = parse_server_config(*args, environment);
    if (!parsed)
        return std::unexpected(std::move(parsed).error().wrap(settings));
    auto config = bootstrap_through_discovery(std::move(*parsed));
    if (!config)
        return std::unexpected(std::move(config).error().wrap("kv role"));
    return run_member(*config, environment, "kv role");
}

std::string serve_usage() {
    return R"(usage: keel kv serve [ETCD FLAGS...]

etcd's flags, also read from ETCD_* variables (--data-dir: ETCD_DATA_DIR;
a flag wins over its variable):
  --name NAME                          this member's name (default "default")
  --data-dir DIR                       its data (default NAME.etcd)
  --listen-client-urls URLS            where clients connect (http://localhost:2379)
  --advertise-client-urls URLS         what the member list tells clients
  --listen-peer-urls URLS              where members connect (http://localhost:2380)
  --initial-advertise-peer-urls URLS   what other members connect to
  --initial-cluster NAME=URL,...       the members of a new cluster
  --initial-cluster-token TOKEN        tells clusters apart (etcd-cluster)
  --initial-cluster-state new|existing start a cluster or join one
  --discovery-token TOKEN              form a new cluster through a discovery
                                       service instead of --initial-cluster
  --discovery-endpoints URLS           its etcd v3 endpoints (http://IP:PORT,...)
  --discovery-dial-timeout D           connecting to one (2s)
  --discovery-request-timeout D        one request to it (5s)
  --discovery-wait-timeout D           waiting for the whole cluster (10m)
  --heartbeat-interval MS              Raft's tick (100)
  --election-timeout MS                Raft's election timeout (1000)
  --snapshot-count N                   applied entries between snapshots (100000)
  --quota-backend-bytes N              the store's space quota (2 GiB)
  --max-request-bytes N                the largest request (1.5 MiB)
  --max-txn-ops N                      the most operations in a txn (128)
  --auto-compaction-mode periodic|revision
  --auto-compaction-retention R        history kept: hours or a duration (1h30m),
                                       or N revisions; 0 keeps all (0)
  --experimental-watch-progress-notify-interval D
                                       progress notifications to idle watchers (10m)
URLs take numeric IPv4 or IPv6 hosts, or localhost.
)";
}

} // namespace keel::kv
