// serve(): a KV member as a process: parses the command line, runs the
// member on a Reactor, stops on SIGTERM or SIGINT.
#include "kv/kv.h"

#include "base/log.h"
#include "base/reactor.h"
#include "kv/kv_server.h"
#include "kv/server_config.h"

#include <csignal>
#include <string>

namespace keel::kv {

Result<void> serve(std::span<const std::string> args,
                   const std::map<std::string, std::string>& environment) {
    auto parsed = parse_server_config(args, environment);
    if (!parsed)
        return std::unexpected(std::move(parsed).error().wrap("kv serve"));
    ServerConfig config = std::move(*parsed);
    // A client that goes away mid-write is that connection's error, not
    // the process's end.
    std::signal(SIGPIPE, SIG_IGN);
    TRY(block_signals({SIGTERM, SIGINT}));
    auto reactor = TRY(Reactor::create());
    auto started = KvServer::start(*reactor, config);
    if (!started)
        return std::unexpected(std::move(started).error().wrap("kv serve"));
    auto server = std::move(*started);
    auto stop = [&](const signalfd_siginfo&) { reactor->stop(); };
    TRY(reactor->on_signal(SIGTERM, stop));
    TRY(reactor->on_signal(SIGINT, stop));
    TRY(reactor->run());
    if (server->failure())
        return std::unexpected(Error(*server->failure()).wrap("kv serve"));
    log_info("kv: stopping");
    server->stop();
    return {};
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
