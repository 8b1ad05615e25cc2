// control/types.h: the protocol's vocabulary. Each enum's wire number and
// its name in proto/control.proto agree with its name table, so a value
// means the same on both ends.
#include "control/types.h"

#include "proto/control.pb.h"

#include <doctest/doctest.h>

#include <cctype>
#include <string>

using namespace keel;

namespace {

// "not-found" in ActiveState's table is LOAD_STATE_NOT_FOUND in the proto.
std::string proto_name(std::string_view prefix, std::string_view name) {
    std::string out(prefix);
    for (char c : name)
        out += c == '-' ? '_' : char(std::toupper(static_cast<unsigned char>(c)));
    return out;
}

template <typename Enum, typename NameOf>
void check_table(std::string_view prefix, NameOf proto_name_of) {
    for (const auto& entry : names_of(Enum{}).entries()) {
        int number = to_wire(entry.value);
        CHECK_MESSAGE(proto_name_of(number) == proto_name(prefix, entry.name), entry.name);
        CHECK(from_wire<Enum>(number) == entry.value);
    }
    CHECK(proto_name_of(0) == cat(prefix, "UNSPECIFIED"));
    CHECK_FALSE(from_wire<Enum>(0));
    CHECK_FALSE(from_wire<Enum>(int(names_of(Enum{}).entries().size()) + 1));
}

} // namespace

TEST_CASE("every enum on the wire has the number and the name its table gives it") {
    namespace c = keel::control;
    check_table<ActiveState>("ACTIVE_STATE_",
                             [](int n) { return c::ActiveState_Name(c::ActiveState(n)); });
    check_table<LoadState>("LOAD_STATE_", [](int n) { return c::LoadState_Name(c::LoadState(n)); });
    check_table<EnableState>("ENABLE_STATE_",
                             [](int n) { return c::EnableState_Name(c::EnableState(n)); });
    check_table<UnitType>("UNIT_TYPE_", [](int n) { return c::UnitType_Name(c::UnitType(n)); });
    check_table<ServiceType>("SERVICE_TYPE_",
                             [](int n) { return c::ServiceType_Name(c::ServiceType(n)); });
    check_table<ServiceResult>("SERVICE_RESULT_",
                               [](int n) { return c::ServiceResult_Name(c::ServiceResult(n)); });
    check_table<JobType>("JOB_TYPE_", [](int n) { return c::JobType_Name(c::JobType(n)); });
    check_table<EnableAction>("ENABLE_ACTION_",
                              [](int n) { return c::EnableAction_Name(c::EnableAction(n)); });
    check_table<ProcessState>("PROCESS_STATE_",
                              [](int n) { return c::ProcessState_Name(c::ProcessState(n)); });
    check_table<SystemState>("SYSTEM_STATE_",
                             [](int n) { return c::SystemState_Name(c::SystemState(n)); });
    check_table<InitMode>("INIT_MODE_", [](int n) { return c::InitMode_Name(c::InitMode(n)); });
    check_table<PowerAction>("POWER_ACTION_",
                             [](int n) { return c::PowerAction_Name(c::PowerAction(n)); });
}

TEST_CASE("a number from a newer peer is named ?, not taken for another value") {
    CHECK(describe_wire<ActiveState>(99) == "?");
    CHECK(describe_wire<ActiveState>(to_wire(ActiveState::Failed)) == "failed");
    CHECK(describe(JobType::Restart) == "restart");
}
