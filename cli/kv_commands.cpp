// `keel kv serve`: hands etcd's command line and the environment to the KV;
// `keel kv role`: PID 1's kv role, settings from the kernel command line;
// `keel kv snapshot restore|status`: etcdctl's (etcdutl's) commands for
// keel's saved snapshots.
#include "cli/kv_commands.h"

#include "base/json.h"
#include "base/strings.h"
#include "kv/kv.h"

#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <map>
#include <string>
#include <unistd.h>
#include <vector>

extern char** environ;

namespace keel::cli {

namespace {

constexpr std::string_view kKvUsage = R"(usage: keel kv serve [ETCD FLAGS...]
       keel kv role
       keel kv snapshot restore FILE [--data-dir DIR] [--name NAME] ...
       keel kv snapshot status FILE [-w simple|table|json]

`keel kv serve` runs a member of keel's embedded KV store, which speaks
etcd's v3 API: etcdctl and etcd's client libraries work against it. It
takes etcd's flags and ETCD_* variables; `keel kv serve --help` lists them.

`keel kv role` is what PID 1's keel-kv.service runs: the same member, with
keel.kv.FLAG=VALUE words of the kernel command line as etcd's --FLAG=VALUE,
over ETCD_* variables (the unit reads them from /etc/keel/kv.conf), and the
data in /var/lib/keel/kv unless they say otherwise.

`keel kv snapshot restore` makes a new member's data dir from a snapshot
`etcdctl snapshot save` wrote, as etcdctl's (etcdutl's) snapshot restore
does for etcd: `keel kv snapshot --help` says more.
)";

std::map<std::string, std::string> environment() {
    std::map<std::string, std::string> variables;
    for (char** entry = environ; entry && *entry; ++entry) {
        std::string_view text(*entry);
        size_t equals = text.find('=');
        if (equals != std::string_view::npos)
            variables.emplace(text.substr(0, equals), text.substr(equals + 1));
    }
    return variables;
}

CommandResult command_kv(const ParsedArgs&) {
    print(kKvUsage);
    return kExitSuccess;
}

// etcd's boolean flags: alone, or =true/=false.
Result<bool> kv_boolean_flag(const ParsedArgs& args, std::string_view name) {
    if (!args.flag(name))
        return false;
    std::optional<std::string_view> value = args.value(name);
    if (!value || *value == "true")
        return true;
    if (*value == "false")
        return false;
    return error(cat(name, ": expected true or false, got ", quoted(*value)));
}

CommandResult command_kv_snapshot_restore(const ParsedArgs& args) {
    kv::SnapshotRestoreOptions options;
    options.snapshot_path = std::string(*args.positional("FILE"));
    if (auto value = args.value("--name"))
        options.name = std::string(*value);
    if (auto value = args.value("--data-dir"))
        options.data_dir = std::string(*value);
    if (auto value = args.value("--initial-cluster"))
        options.initial_cluster = std::string(*value);
    if (auto value = args.value("--initial-cluster-token"))
        options.initial_cluster_token = std::string(*value);
    if (auto value = args.value("--initial-advertise-peer-urls"))
        options.initial_advertise_peer_urls = std::string(*value);
    auto skip = kv_boolean_flag(args, "--skip-hash-check");
    if (!skip)
        return usage_error(args, skip.error().to_string());
    options.hash_check = *skip ? kv::HashCheck::Skip : kv::HashCheck::Verify;
    kv::RestoredMember restored = TRY(kv::restore_snapshot(options));
    print(cat("Restored snapshot ", options.snapshot_path, " (revision ", restored.revision,
              ") into ", restored.data_dir, ": member ", hex_number(restored.member_id),
              " of cluster ", hex_number(restored.cluster_id), "\n"));
    return kExitSuccess;
}

// Bytes as etcdctl prints sizes (go-humanize's Bytes): "512 B", "2.1 MB",
// "25 kB".
std::string kv_humanized_bytes(uint64_t bytes) {
    static constexpr const char* kUnits[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB"};
    if (bytes < 10)
        return cat(bytes, " B");
    size_t unit = 0;
    double value = double(bytes);
    while (value >= 1000 && unit + 1 < std::size(kUnits)) {
        value /= 1000;
        ++unit;
    }
    value = std::floor(value * 10 + 0.5) / 10;
    char text[32];
    std::snprintf(text, sizeof text, value < 10 ? "%.1f %s" : "%.0f %s", value, kUnits[unit]);
    return text;
}

CommandResult command_kv_snapshot_status(const ParsedArgs& args) {
    std::string_view format = args.value("--write-out").value_or("simple");
    if (format != "simple" && format != "table" && format != "json")
        return usage_error(
            args, cat("--write-out: expected simple, table or json, got ", quoted(format)));
    kv::SavedSnapshotStatus status =
        TRY(kv::saved_snapshot_status(std::string(*args.positional("FILE"))));
    char hash[16];
    std::snprintf(hash, sizeof hash, "%x", status.hash);
    std::string size = kv_humanized_bytes(status.total_size);
    if (format == "json") {
        JsonWriter json;
        json.begin_object()
            .field("hash", status.hash)
            .field("revision", status.revision)
            .field("totalKey", status.total_keys)
            .field("totalSize", status.total_size)
            .end_object();
        print(json.text() + "\n");
    } else if (format == "simple") {
        print(cat(hash, ", ", status.revision, ", ", status.total_keys, ", ", size, "\n"));
    } else {
        // etcdctl's table: centred headers, right-aligned numbers.
        std::vector<std::string> headers = {"HASH", "REVISION", "TOTAL KEYS", "TOTAL SIZE"};
        std::vector<std::string> row = {hash, std::to_string(status.revision),
                                        std::to_string(status.total_keys), size};
        std::string rule = "+", head = "|", line = "|";
        for (size_t i = 0; i < headers.size(); ++i) {
            size_t width = std::max(headers[i].size(), row[i].size()) + 2;
            rule += std::string(width, '-') + "+";
            size_t left = (width - headers[i].size()) / 2;
            head += std::string(left, ' ') + headers[i] +
                    std::string(width - left - headers[i].size(), ' ') + "|";
            line += i == 0 || i == 3 ? " " + pad(row[i], width - 2) + " |"
                                     : std::string(width - 1 - row[i].size(), ' ') + row[i] + " |";
        }
        print(cat(rule, "\n", head, "\n", rule, "\n", line, "\n", rule, "\n"));
    }
    return kExitSuccess;
}

const Command kKvSnapshotRestore{
    .names = {"restore"},
    .summary = "make a new member's data dir from a saved snapshot (etcdctl's flags and "
               "defaults)",
    .options =
        {
            {.name = "--data-dir",
             .value_name = "DIR",
             .type = ValueType::Text,
             .help = "the data dir to make (default NAME.etcd); it must not exist, or be empty"},
            {.name = "--name",
             .value_name = "NAME",
             .type = ValueType::Text,
             .help = "this member's name in --initial-cluster (default `default`)"},
            {.name = "--initial-cluster",
             .value_name = "NAME=URL,...",
             .type = ValueType::Text,
             .help = "the new cluster's members (default default=http://localhost:2380)"},
            {.name = "--initial-cluster-token",
             .value_name = "TOKEN",
             .type = ValueType::Text,
             .help = "the new cluster's token (default etcd-cluster)"},
            {.name = "--initial-advertise-peer-urls",
             .value_name = "URLS",
             .type = ValueType::Text,
             .help = "this member's peer URLs (default http://localhost:2380)"},
            {.name = "--skip-hash-check",
             .value_name = "BOOL",
             .type = ValueType::Text,
             .need = ValueNeed::Optional,
             .help = "take a snapshot without its SHA-256 trailer, or a data dir's "
                     "snap/*.snap file"},
        },
    .positionals = {{.name = "FILE", .noun = "snapshot file"}},
    .notes = R"(The keys, their revisions and history, the compaction and the leases are the
snapshot's; the membership is exactly --initial-cluster's, with ids derived
from it and the token, under a new cluster id. The old cluster's members,
alarms and Raft log are dropped. Restore one data dir per member (each with
its --name and --initial-advertise-peer-urls), then start each with `keel kv
serve` and the same --name, --initial-cluster, --initial-cluster-token and
--initial-cluster-state new. A damaged or cut-short snapshot, or a data dir
that is not empty, is refused and nothing is written.)",
    .run = command_kv_snapshot_restore,
};

const Command kKvSnapshotStatus{
    .names = {"status"},
    .summary = "a saved snapshot's hash, revision, total keys and total size",
    .options = {{.name = "--write-out",
                 .short_name = 'w',
                 .value_name = "FORMAT",
                 .type = ValueType::Text,
                 .help = "simple (default), table or json, as etcdctl prints them"}},
    .positionals = {{.name = "FILE", .noun = "snapshot file"}},
    .notes = R"(The hash is the store's HashKV at the snapshot's revision: what `etcdctl
endpoint hashkv` shows for a member restored from it. Total keys counts the
snapshot's records: every revision kept, and the store's bookkeeping.)",
    .run = command_kv_snapshot_status,
};

const Command kKvSnapshotCommand{
    .names = {"snapshot"},
    .summary = "saved snapshots (`etcdctl snapshot save`'s files): restore, status",
    .subcommands = {&kKvSnapshotRestore, &kKvSnapshotStatus},
};

} // namespace

const Command kKvCommand{
    .names = {"kv"},
    .summary = "the embedded KV store: `keel kv serve` runs a member with etcd's flags, "
               "`keel kv role` the member PID 1 runs, `keel kv snapshot restore|status` "
               "read saved snapshots",
    .run = command_kv,
};

CommandResult run_kv(std::span<const std::string_view> args) {
    if (!args.empty() && args[0] == "serve")
        return run_kv_serve(args.subspan(1));
    if (!args.empty() && args[0] == "snapshot")
        return dispatch(kKvSnapshotCommand, "kv snapshot", args.subspan(1));
    if (args.size() == 1 && args[0] == "role") {
        auto served = kv::serve_role(environment());
        if (!served)
            return std::unexpected(Failure(std::move(served).error()));
        return kExitSuccess;
    }
    if (!args.empty() && (args[0] == "help" || args[0] == "--help" || args[0] == "-h")) {
        print(kKvUsage);
        return kExitSuccess;
    }
    return usage_error(
        std::string(args.empty() ? "keel kv: no command given\n" : "keel kv: unknown command\n") +
        std::string(kKvUsage));
}

CommandResult run_kv_serve(std::span<const std::string_view> args) {
    for (std::string_view arg : args) {
        if (arg == "--help" || arg == "-h") {
            print(kv::serve_usage());
            return kExitSuccess;
        }
    }
    std::vector<std::string> owned(args.begin(), args.end());
    auto served = kv::serve(owned, environment());
    if (!served)
        return std::unexpected(Failure(std::move(served).error()));
    return kExitSuccess;
}

} // namespace keel::cli
