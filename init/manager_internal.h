// Helpers shared by the Manager's source files (init/manager*.cpp): the
// log priorities it records with, how a ServiceState maps to an
// ActiveState, and small questions about a unit's configuration. Private
// to the Manager: nothing outside init/manager*.cpp includes this header.
#pragma once

#include "base/strings.h"
#include "init/manager.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace keel::manager_internal {

inline constexpr uint64_t kInfinity = UINT64_MAX;

inline constexpr int kError = 3, kWarning = 4, kInfo = 6, kDebug = 7;

// "100 ms", "2 s", "1.5 s", "2 min 5 s".
inline std::string format_duration(uint64_t usec) {
    if (usec == kInfinity)
        return "infinity";
    if (usec < 1000)
        return cat(usec, " us");
    if (usec < 1'000'000)
        return cat(usec / 1000, " ms");
    if (usec < 60'000'000) {
        uint64_t ms = usec / 1000;
        std::string out = cat(ms / 1000);
        if (ms % 1000) {
            std::string fraction = cat(1000 + ms % 1000).substr(1);
            while (fraction.back() == '0')
                fraction.pop_back();
            out += cat(".", fraction);
        }
        return out + " s";
    }
    uint64_t seconds = usec / 1'000'000;
    return seconds % 60 ? cat(seconds / 60, " min ", seconds % 60, " s")
                        : cat(seconds / 60, " min");
}

inline bool is_starting(ServiceState state) {
    return state == ServiceState::StartPre || state == ServiceState::Start ||
           state == ServiceState::StartPost;
}
inline bool is_stopping(ServiceState state) {
    return state == ServiceState::Stop || state == ServiceState::StopWatchdog ||
           state == ServiceState::StopSigterm || state == ServiceState::StopSigkill ||
           state == ServiceState::StopPost;
}
inline bool is_inactive(ServiceState state) {
    return state == ServiceState::Dead || state == ServiceState::Failed;
}
inline bool is_active(ServiceState state) {
    return state == ServiceState::Running || state == ServiceState::Exited;
}

inline ActiveState active_of(ServiceState state) {
    switch (state) {
    case ServiceState::Dead:
        return ActiveState::Inactive;
    case ServiceState::Failed:
        return ActiveState::Failed;
    case ServiceState::StartPre:
    case ServiceState::Start:
    case ServiceState::StartPost:
    case ServiceState::AutoRestart:
        return ActiveState::Activating;
    case ServiceState::Running:
    case ServiceState::Exited:
        return ActiveState::Active;
    case ServiceState::Reload:
        return ActiveState::Reloading;
    case ServiceState::Stop:
    case ServiceState::StopWatchdog:
    case ServiceState::StopSigterm:
    case ServiceState::StopSigkill:
    case ServiceState::StopPost:
        return ActiveState::Deactivating;
    }
    return ActiveState::Inactive;
}

inline const std::vector<ExecCommand>& commands_of(const ServiceConfig& service, ExecPhase phase) {
    switch (phase) {
    case ExecPhase::StartPre:
        return service.exec_start_pre;
    case ExecPhase::Start:
        return service.exec_start;
    case ExecPhase::StartPost:
        return service.exec_start_post;
    case ExecPhase::Reload:
        return service.exec_reload;
    case ExecPhase::Stop:
        return service.exec_stop;
    case ExecPhase::StopPost:
        return service.exec_stop_post;
    }
    return service.exec_start;
}

// "web.service - The web server", as systemd names units in its messages.
inline std::string title(const Unit& unit) {
    return unit.description == unit.name ? unit.name : cat(unit.name, " - ", unit.description);
}

// The dependencies that pull a unit's start in.
inline std::vector<std::string> pulled_in(const Unit& unit) {
    std::vector<std::string> names = unit.requirements;
    names.insert(names.end(), unit.binds_to.begin(), unit.binds_to.end());
    names.insert(names.end(), unit.wants.begin(), unit.wants.end());
    return names;
}

} // namespace keel::manager_internal
