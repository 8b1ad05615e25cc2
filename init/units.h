// Service units, first cut: what init needs to start the services found in
// the unit directories. The full service manager (dependencies, restart,
// readiness) builds on this model.
#pragma once

#include "base/result.h"
#include "base/spawn.h"
#include "base/unit_file.h"

#include <string>
#include <vector>

namespace keel {

/// Where units are looked up; later directories override earlier ones.
inline const std::vector<std::string> kDefaultUnitDirectories = {
    "/usr/lib/keel/units", "/etc/keel/units", "/run/keel/units"};

struct ServiceUnit {
    std::string name; // "web.service"
    std::string path; // file it came from
    std::string description;
    SpawnOptions spawn;
    bool ignore_failure = false; // ExecStart=-...
};

/// Builds a service from a parsed unit file. Unknown keys produce warnings
/// (appended to `warnings` as "file:line: ..."), malformed values errors.
Result<ServiceUnit> parse_service_unit(const UnitFile& file, std::string name,
                                       std::vector<std::string>& warnings);

/// Finds `*.service` files in `directories` (a later directory's file of the
/// same name wins) and parses each. A bad unit is reported in `errors` and
/// skipped; the others load.
std::vector<ServiceUnit> load_service_units(const std::vector<std::string>& directories,
                                            std::vector<std::string>& errors,
                                            std::vector<std::string>& warnings);

} // namespace keel
