// serve(): a KV member as a process: parses the command line, runs the
// member on a Reactor, stops on SIGTERM or SIGINT.
#include "kv/kv.h"

#include "base/log.h"
#include "base/reactor.h"
#include "kv/kv_server.h"
#include "kv/server_config.h"

#include <csignal>

namespace keel::kv {

Result<void> serve(std::span<const std::string> args,
                   const std::map<std::string, std::string>& environment) {
    ServerConfig config = TRY(parse_server_config(args, environment));
    // A client that goes away mid-write is that connection's error, not
    // the process's end.
    std::signal(SIGPIPE, SIG_IGN);
    TRY(block_signals({SIGTERM, SIGINT}));
    auto reactor = TRY(Reactor::create());
    auto server = TRY(KvServer::start(*reactor, config));
    auto stop = [&](const signalfd_siginfo&) { reactor->stop(); };
    TRY(reactor->on_signal(SIGTERM, stop));
    TRY(reactor->on_signal(SIGINT, stop));
    TRY(reactor->run());
    log_info("kv: stopping");
    server->stop();
    return {};
}

std::string serve_usage() {
    return server_config_usage();
}

} // namespace keel::kv
