// Fuzz target for kv/server_config.h: `keel kv serve`'s command line and
// environment. The input is split at newlines; a line "ETCD_X=v" is a
// variable, any other line one argument. Besides "does not crash": an
// accepted configuration satisfies etcd's checks, and its URLs read back
// from their text form as themselves, and its auto-compaction retention
// (kv/auto_compaction.h) reads and gives a compaction policy that ticks.
#include "kv/auto_compaction.h"
#include "kv/server_config.h"
#include "tests/fuzz/fuzz_check.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

using namespace keel;
using namespace keel::kv;

namespace {

void check_urls(const std::vector<ServerUrl>& urls) {
    FUZZ_CHECK(!urls.empty());
    for (const ServerUrl& url : urls) {
        auto again = parse_server_url(url.str());
        FUZZ_CHECK(again.has_value());
        FUZZ_CHECK(*again == url);
        FUZZ_CHECK(url.port != 0);
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view input(reinterpret_cast<const char*>(data), size);
    std::vector<std::string> args;
    std::map<std::string, std::string> environment;
    size_t start = 0;
    while (start <= input.size()) {
        size_t end = std::min(input.find('\n', start), input.size());
        std::string_view line = input.substr(start, end - start);
        size_t equals = line.find('=');
        if (line.starts_with("ETCD_") && equals != std::string_view::npos)
            environment[std::string(line.substr(0, equals))] = std::string(line.substr(equals + 1));
        else
            args.emplace_back(line);
        start = end + 1;
    }
    auto config = parse_server_config(args, environment);
    if (!config)
        return 0;
    FUZZ_CHECK(config->heartbeat_interval_ms > 0);
    FUZZ_CHECK(config->election_timeout_ms >= 5 * config->heartbeat_interval_ms);
    FUZZ_CHECK(config->max_txn_ops > 0);
    FUZZ_CHECK(config->watch_progress_notify_interval_ms >= 100);
    auto retention =
        parse_compaction_retention(config->auto_compaction_mode, config->auto_compaction_retention);
    FUZZ_CHECK(retention.has_value());
    if (*retention) {
        AutoCompactor compactor(**retention, std::chrono::steady_clock::time_point{});
        FUZZ_CHECK(compactor.interval().count() > 0);
        (void)compactor.due(std::chrono::steady_clock::time_point{} + compactor.interval(), 10);
    }
    check_urls(config->listen_client_urls);
    check_urls(config->advertise_client_urls);
    check_urls(config->listen_peer_urls);
    check_urls(config->initial_advertise_peer_urls);
    if (config->discovery_token.empty()) {
        FUZZ_CHECK(config->member_id != 0 && config->cluster_id != 0);
        bool found = false;
        for (const InitialMember& member : config->initial_cluster) {
            FUZZ_CHECK(member.id != 0);
            check_urls(member.peer_urls);
            found = found || (member.name == config->name && member.id == config->member_id);
        }
        FUZZ_CHECK(found);
    }
    return 0;
}
