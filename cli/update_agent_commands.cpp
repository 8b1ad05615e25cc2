// `keel update agent` and `keel update reboot`: the update role's agent
// (update/agent.h) on the real machine. The host behind it asks init over
// the control socket for the health units' states and for the reboot,
// reads and writes the slots on the disk, and changes the reboot lock in
// the KV (each of KVEndpoints= in turn until one answers).
#include "cli/update_agent_commands.h"

#include "base/cmdline.h"
#include "base/log.h"
#include "base/strings.h"
#include "base/sys.h"
#include "control/control.h"
#include "update/agent.h"
#include "update/source.h"
#include "update/update_config.h"

#include <chrono>
#include <ctime>
#include <thread>
#include <unistd.h>

namespace keel::cli {

namespace {

namespace up = update;
using std::chrono::microseconds;

// The machine the agent runs on, with the overrides a test (or an operator
// on a system not booted from a slot) gives.
class MachineHost final : public up::AgentHost {
public:
    MachineHost(const up::UpdateConfig& config, std::string config_path,
                std::optional<up::BootedSlot> booted, std::optional<std::string> id)
        : m_config(config), m_config_path(std::move(config_path)), m_booted(std::move(booted)),
          m_id(std::move(id)) {}

    microseconds boot_time() override { return microseconds(int64_t(boottime_usec())); }
    std::chrono::sys_seconds wall_time() override {
        return std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
    }
    std::chrono::seconds utc_offset(std::chrono::sys_seconds at) override {
        // libc reads /etc/localtime (or $TZ) itself, without NSS.
        time_t t = at.time_since_epoch().count();
        std::tm local{};
        if (!::localtime_r(&t, &local))
            return {};
        return std::chrono::seconds(local.tm_gmtoff);
    }
    void sleep_for(microseconds duration) override { std::this_thread::sleep_for(duration); }

    Result<std::vector<up::UnitHealth>>
    unit_health(const std::vector<std::string>& units) override {
        std::vector<up::UnitHealth> states;
        if (units.empty()) {
            control::Request request;
            request.mutable_status();
            control::Response response = TRY(call_init(request));
            if (!response.ok())
                return error(response.error());
            up::UnitHealth system{.name = "the system"};
            switch (response.status().system_state()) {
            case control::SYSTEM_STATE_RUNNING:
                system.activity = up::UnitActivity::Active;
                break;
            case control::SYSTEM_STATE_DEGRADED:
                system.activity = up::UnitActivity::Failed;
                system.detail =
                    cat("degraded: ", response.status().units_failed(), " failed units");
                break;
            default:
                system.activity = up::UnitActivity::Activating;
                break;
            }
            states.push_back(std::move(system));
            return states;
        }
        for (const std::string& name : units) {
            control::Request request;
            request.mutable_unit_status()->set_unit(name);
            control::Response response = TRY(call_init(request));
            up::UnitHealth health{.name = name};
            if (!response.ok() || response.units_size() == 0) {
                health.activity = up::UnitActivity::Failed;
                health.detail = response.error();
                states.push_back(std::move(health));
                continue;
            }
            const control::Unit& unit = response.units(0);
            switch (unit.active_state()) {
            case control::ACTIVE_STATE_ACTIVE:
            case control::ACTIVE_STATE_RELOADING:
                health.activity = up::UnitActivity::Active;
                break;
            case control::ACTIVE_STATE_FAILED:
                health.activity = up::UnitActivity::Failed;
                break;
            case control::ACTIVE_STATE_ACTIVATING:
                health.activity = up::UnitActivity::Activating;
                break;
            default:
                health.activity = up::UnitActivity::Inactive;
                break;
            }
            if (unit.load_state() == control::LOAD_STATE_NOT_FOUND ||
                unit.load_state() == control::LOAD_STATE_ERROR) {
                health.activity = up::UnitActivity::Failed;
                health.detail = unit.load_error().empty() ? "not found" : unit.load_error();
            } else if (!unit.last_exit().empty()) {
                health.detail = unit.last_exit();
            }
            if (unit.state_since_usec() > 0)
                health.since = microseconds(int64_t(unit.state_since_usec()));
            states.push_back(std::move(health));
        }
        return states;
    }

    Result<up::BootedSlot> booted_slot() override {
        if (m_booted)
            return *m_booted;
        return up::booted_slot();
    }
    Result<up::Slots> read_slots(const std::string& disk) override { return up::read_slots(disk); }
    Result<void> write_slots(const up::Slots& slots) override {
        TRY(up::write_slots(system_storage(), slots));
        return {};
    }
    Result<std::string> machine_id() override {
        if (m_id)
            return *m_id;
        std::string id = TRY_CTX(read_file("/etc/machine-id"), "this machine's id");
        std::string_view trimmed = trim(id);
        if (trimmed.empty())
            return error("/etc/machine-id is empty");
        return std::string(trimmed);
    }
    Result<up::RebootSemaphore> change_reboot_lock(up::RebootLockChange change,
                                                   std::string_view holder) override {
        std::optional<Error> last;
        for (const std::string& endpoint : m_config.kv_endpoints) {
            up::RebootLockOptions options;
            options.endpoint = endpoint;
            options.group = m_config.lock_group;
            auto changed = up::change_reboot_lock(options, change, holder);
            if (changed)
                return changed;
            last = std::move(changed).error();
        }
        return std::unexpected(std::move(*last));
    }
    Result<void> reboot(std::string_view why) override {
        log(cat("asking init to reboot: ", why));
        control::Request request;
        request.mutable_power()->set_action(control::POWER_ACTION_REBOOT);
        control::Response response = TRY(call_init(request));
        if (!response.ok())
            return error(response.error());
        return {};
    }
    void log(std::string_view line) override {
        print(cat(line, "\n"));
        if (m_kernel_log == KernelLog::Also)
            log_notice(line);
    }
    Result<std::string> install_offered_update() override {
        up::SourceConfig source = TRY(up::load_source_config(m_config_path));
        if (!m_config.source.empty()) // keel.update.Source= on the command line
            source.base_url = m_config.source;
        if (!m_config.channel.empty())
            source.channel = m_config.channel;
        if (m_config.signed_channel)
            source.signed_channel = *m_config.signed_channel;
        up::BootedSlot booted = TRY(booted_slot());
        up::InstallRequest request;
        request.disk = booted.disk;
        request.booted = booted.slot;
        up::OfferedInstall done = TRY(up::install_offered_update(source, std::move(request)));
        log(cat("update: ", done.summary));
        return done.installed ? done.report.version : std::string();
    }

    /// Whether the agent's lines go to the kernel's log (the console) too.
    enum class KernelLog { No, Also };
    void set_kernel_log(KernelLog kernel_log) { m_kernel_log = kernel_log; }

private:
    const up::UpdateConfig& m_config;
    std::string m_config_path; // update.conf, for the source's own keys
    std::optional<up::BootedSlot> m_booted;
    std::optional<std::string> m_id;
    KernelLog m_kernel_log = KernelLog::No;
};

std::string config_path(const ParsedArgs& args) {
    return std::string(args.value("--config").value_or(up::kUpdateConfigFile));
}

Result<up::UpdateConfig> load_config(const ParsedArgs& args) {
    std::string path = config_path(args);
    std::string text;
    if (path_exists(path))
        text = TRY(read_file(path));
    KernelCommandLine cmdline;
    if (!args.flag("--no-kernel-command-line")) {
        if (auto read = KernelCommandLine::read())
            cmdline = std::move(*read);
    }
    return up::parse_update_config(text, path, cmdline);
}

// --disk and --slot together stand for the booted slot.
std::expected<std::optional<up::BootedSlot>, Failure> booted_override(const ParsedArgs& args) {
    auto disk = args.value("--disk");
    auto slot = args.value("--slot");
    if (!disk && !slot)
        return std::optional<up::BootedSlot>();
    if (!disk || !slot)
        return usage_error(args, "--disk and --slot go together");
    auto name = up::kSlotNames.parse(*slot);
    if (!name)
        return usage_error(args, cat("--slot: expected A or B, got ", quoted(*slot)));
    return up::BootedSlot{*name, std::string(*disk)};
}

std::optional<std::string> id_override(const ParsedArgs& args) {
    if (auto id = args.value("--id"))
        return std::string(*id);
    return std::nullopt;
}

CommandResult command_agent(const ParsedArgs& args) {
    up::UpdateConfig config = TRY(load_config(args));
    std::optional<up::BootedSlot> booted = TRY(booted_override(args));
    MachineHost host(config, config_path(args), booted, id_override(args));
    if (!args.flag("--once")) {
        // The role's decisions are the machine's: on the console and in
        // dmesg as well as in the unit's journal.
        set_log_tag("keel-update");
        log_to_kmsg();
        host.set_kernel_log(MachineHost::KernelLog::Also);
    }
    up::Agent agent(host, config);
    auto outcome = agent.run_health_gate();
    // An error: not booted from a keel disk (keel.root=, a container), or
    // the slots could not be read or written.
    host.log(cat("health gate: ", outcome ? std::string(up::kGateOutcomeNames.name(*outcome))
                                          : outcome.error().to_string()));
    if (args.flag("--once"))
        return outcome ? kExitSuccess : kExitFailure;
    // A healthy machine with an update source looks for updates, installs
    // one and reboots into it by the strategy.
    bool healthy = outcome && (*outcome == up::GateOutcome::AlreadySuccessful ||
                               *outcome == up::GateOutcome::MarkedGood);
    if (healthy && !config.source.empty())
        if (auto done = agent.run_updates(); !done)
            host.log(cat("update: ", done.error().to_string()));
    // The role stays up until init stops it.
    for (;;)
        ::pause();
}

CommandResult command_reboot(const ParsedArgs& args) {
    up::UpdateConfig config = TRY(load_config(args));
    if (auto strategy = args.value("--strategy"))
        config.strategy = TRY(up::parse_reboot_strategy(*strategy));
    MachineHost host(config, config_path(args), std::nullopt, id_override(args));
    up::LockBackoff backoff;
    if (auto longest = args.number("--lock-backoff")) {
        backoff.longest = std::chrono::seconds(std::max<uint64_t>(*longest, 1));
        backoff.first = std::min(backoff.first, backoff.longest);
    }
    up::Agent agent(host, config, backoff);
    TRY(agent.request_reboot_for_update());
    return kExitSuccess;
}

const Option kConfigOption{.name = "--config",
                           .value_name = "FILE",
                           .type = ValueType::Text,
                           .help = "the role's settings (default /etc/keel/update.conf; "
                                   "keel.update.* words on the kernel command line win)"};
const Option kNoCmdlineOption{.name = "--no-kernel-command-line",
                              .help = "ignore keel.update.* words in /proc/cmdline"};
const Option kIdOverride{.name = "--id",
                         .value_name = "ID",
                         .type = ValueType::Text,
                         .help =
                             "this machine's name in the reboot lock (default /etc/machine-id)"};

} // namespace

const Command kUpdateAgentCommand{
    .names = {"agent"},
    .summary = "the update role: mark a newly booted slot good once healthy, or reboot away "
               "from it",
    .options = {kConfigOption,
                kNoCmdlineOption,
                kIdOverride,
                {.name = "--disk",
                 .value_name = "DISK",
                 .type = ValueType::Text,
                 .help = "the disk holding the slots (with --slot: instead of the booted one)"},
                {.name = "--slot",
                 .value_name = "SLOT",
                 .type = ValueType::Text,
                 .help = "the slot taken as booted (A or B; with --disk)"},
                {.name = "--once", .help = "exit after the health gate instead of staying up"}},
    .notes = R"(When the booted slot is not yet successful, the agent waits until every
health unit (HealthUnits=, keel.update.health=) has been active without a
break for HealthyFor=, then marks the slot successful. A health unit that
fails, or no health within HealthTimeout=, reboots the machine: the slot
has no tries left, so the other one boots. With RebootStrategy=kv-lock the
machine gives back its unit of the reboot lock once healthy.)",
    .run = command_agent,
};

const Command kUpdateRebootCommand{
    .names = {"reboot"},
    .summary = "reboot into an installed update by the strategy: in the reboot window, with "
               "the cluster's reboot lock for kv-lock",
    .options = {kConfigOption,
                kNoCmdlineOption,
                kIdOverride,
                {.name = "--lock-backoff",
                 .value_name = "SECONDS",
                 .type = ValueType::Number,
                 .max = 3600,
                 .expected = "seconds from 1 to 3600",
                 .help = "the longest wait between tries at a taken reboot lock (default 300)"},
                {.name = "--strategy",
                 .value_name = "STRATEGY",
                 .type = ValueType::Text,
                 .help = "reboot, kv-lock or off instead of RebootStrategy="}},
    .run = command_reboot,
};

} // namespace keel::cli
