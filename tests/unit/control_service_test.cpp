// init/control_service.cpp: the answers to every control request, called
// directly (no socket) on a Manager driven by the manager tests' fake host,
// a real Journal, and a fake of the rest of init.
#include "init/control_service.h"

#include "init/journal.h"
#include "tests/unit/manager_fixture.h"

#include <doctest/doctest.h>

#include <functional>

using namespace keel;
using keel::testing::exited;
using keel::testing::Fixture;

namespace {

constexpr struct ucred kRoot = {.pid = 4242, .uid = 0, .gid = 0};
// Not root, and not in a `keel` group (this machine has none by that name,
// or the test's user is not in it).
constexpr struct ucred kUser = {.pid = 4243, .uid = 54321, .gid = 54321};

class FakeInit final : public ControlHost {
public:
    Manager* current_manager = nullptr;
    Journal* current_journal = nullptr;
    InitStatus status;
    std::vector<PowerAction> ends;
    int reloads = 0;
    bool kexec_loaded = false;

    InitStatus init_status() const override { return status; }
    Manager* manager() override { return current_manager; }
    Journal* journal() override { return current_journal; }
    bool kernel_log_in_journal() const override { return false; }
    std::optional<CgroupStats> unit_stats(const std::string&) const override {
        return std::nullopt;
    }
    void request_shutdown(PowerAction action) override { ends.push_back(action); }
    void reload_units() override { ++reloads; }
    bool kexec_kernel_loaded() const override { return kexec_loaded; }
};

// What a client would have received.
class RecordingReply final : public ControlReply {
public:
    std::vector<control::Response> sent;
    bool finished = false;
    bool closed = false;
    std::function<void()> closing;

    bool send(const control::Response& response) override {
        if (!open())
            return false;
        sent.push_back(response);
        return true;
    }
    void finish(const control::Response& response) override {
        if (send(response))
            finished = true;
    }
    void close() override { closed = true; }
    bool open() const override { return !finished && !closed; }
    void on_close(std::function<void()> callback) override { closing = std::move(callback); }

    // The client hangs up.
    void hang_up() {
        closed = true;
        if (auto callback = std::move(closing))
            callback();
    }
    const control::Response& last() const {
        REQUIRE(!sent.empty());
        return sent.back();
    }
};

struct ServiceFixture {
    Fixture units;
    FakeInit init;
    ControlService service{init, units.dir.path()};
    std::shared_ptr<RecordingReply> reply = std::make_shared<RecordingReply>();

    ServiceFixture() { init.current_manager = &units.manager; }

    control::UnitRequest unit_request(control::JobType job, std::string unit) {
        control::UnitRequest request;
        request.set_job(job);
        request.set_unit(std::move(unit));
        return request;
    }
    control::EnableRequest enable_request(control::EnableAction action, std::string unit) {
        control::EnableRequest request;
        request.set_action(action);
        request.set_unit(std::move(unit));
        return request;
    }
};

} // namespace

TEST_CASE("status: init's state and the manager's summary, for root or the keel group") {
    ServiceFixture f;
    f.units.unit("ok.service", "[Service]\nExecStart=/bin/ok\n");
    f.units.unit("bad.service", "[Service]\nExecStart=/bin/bad\n");
    f.units.load();
    f.units.start("ok.service");
    f.units.start("bad.service");
    f.units.host.exit(f.units.main("bad.service"), exited(1));
    f.init.status.mode = InitMode::Container;
    f.init.status.ready_usec = 1500;
    f.init.status.reaped_orphans = 7;
    f.init.status.processes = {{"/bin/sh /demo.sh", 88, ProcessState::Running, 0},
                               {"/bin/false", 89, ProcessState::Failed, 1}};

    control::Response response = f.service.status(kRoot);
    REQUIRE(response.ok());
    const control::StatusResponse& status = response.status();
    CHECK(status.mode() == control::INIT_MODE_CONTAINER);
    CHECK(status.ready_usec() == 1500);
    CHECK(status.reaped_orphans() == 7);
    REQUIRE(status.processes_size() == 2);
    CHECK(status.processes(0).pid() == 88);
    CHECK(status.processes(0).state() == control::PROCESS_STATE_RUNNING);
    CHECK(status.processes(1).pid() == 0); // no pid once it has ended
    CHECK(status.processes(1).state() == control::PROCESS_STATE_FAILED);
    CHECK(status.processes(1).exit_status() == 1);
    CHECK(status.system_state() == control::SYSTEM_STATE_DEGRADED);
    CHECK(status.units_failed() == 1);
    CHECK(status.units_active() == 1);

    f.init.status.stopping = true;
    CHECK(f.service.status(kRoot).status().system_state() == control::SYSTEM_STATE_STOPPING);

    control::Response denied = f.service.status(kUser);
    CHECK_FALSE(denied.ok());
    CHECK(denied.error() == "permission denied: status needs root or the `keel` group");
}

TEST_CASE("a start is answered when its job ends; with no_block, once it is queued") {
    ServiceFixture f;
    f.units.unit("web.service", "[Service]\nType=notify\nExecStart=/bin/web\n");
    f.units.load();
    f.service.unit(f.unit_request(control::JOB_TYPE_START, "web"), kRoot, f.reply);
    CHECK(f.units.host.happened("start web.service ExecStart /bin/web")); // "web" = web.service
    CHECK(f.reply->sent.empty());                                         // not up yet
    f.units.host.notify(f.units.main("web.service"), "READY=1");
    REQUIRE(f.reply->finished);
    CHECK(f.reply->last().ok());

    auto quick = std::make_shared<RecordingReply>();
    control::UnitRequest stop = f.unit_request(control::JOB_TYPE_STOP, "web.service");
    stop.set_no_block(true);
    f.service.unit(stop, kRoot, quick);
    REQUIRE(quick->finished);
    CHECK(quick->last().ok());
    CHECK(f.units.state("web.service") == ActiveState::Deactivating);
}

TEST_CASE("a failed job says why, in systemctl's words; changes need root") {
    ServiceFixture f;
    f.units.unit("web.service", "[Service]\nExecStart=/bin/missing\n");
    f.units.load();
    f.units.host.failing_programs.insert("/bin/missing");
    f.service.unit(f.unit_request(control::JOB_TYPE_START, "web"), kRoot, f.reply);
    REQUIRE(f.reply->finished);
    CHECK(f.reply->last().error() ==
          "job for web.service failed because of unavailable resources or another system "
          "error.\nSee `keel status web.service` and `keel logs web.service` for details.");

    auto denied = std::make_shared<RecordingReply>();
    f.service.unit(f.unit_request(control::JOB_TYPE_RESTART, "web"), kUser, denied);
    CHECK(denied->last().error() == "permission denied: restart needs root");
    auto unknown = std::make_shared<RecordingReply>();
    f.service.unit(f.unit_request(control::JOB_TYPE_UNSPECIFIED, "web"), kRoot, unknown);
    CHECK(unknown->last().error() == "unknown job type");
}

TEST_CASE("enable links a unit into its targets and reloads; a unit that is not there is named") {
    ServiceFixture f;
    f.units.unit("web.service",
                 "[Service]\nExecStart=/bin/web\n[Install]\nWantedBy=multi-user.target\n");
    f.units.load();
    f.service.enable(f.enable_request(control::ENABLE_ACTION_ENABLE, "web"), kRoot, f.reply);
    REQUIRE(f.reply->finished);
    REQUIRE(f.reply->last().ok());
    REQUIRE(f.reply->last().changes_size() == 1);
    CHECK(f.reply->last().changes(0).starts_with("Created symlink "));
    CHECK(path_exists(f.units.dir / "multi-user.target.wants/web.service"));
    CHECK(f.init.reloads == 1);

    auto missing = std::make_shared<RecordingReply>();
    f.service.enable(f.enable_request(control::ENABLE_ACTION_DISABLE, "db"), kRoot, missing);
    CHECK(missing->last().error() == "unit `db.service` not found");
    CHECK(f.init.reloads == 1);
}

TEST_CASE("list-units and a unit's status carry its states; an unknown unit is an error") {
    ServiceFixture f;
    f.units.unit("web.service", "[Unit]\nDescription=Web\n[Service]\nExecStart=/bin/web\n");
    f.units.load();
    f.units.start("web.service");
    control::Response listed = f.service.list_units(kRoot);
    REQUIRE(listed.ok());
    const control::Unit* web = nullptr;
    for (const control::Unit& unit : listed.units())
        if (unit.name() == "web.service")
            web = &unit;
    REQUIRE(web);
    CHECK(web->description() == "Web");
    CHECK(web->load_state() == control::LOAD_STATE_LOADED);
    CHECK(web->active_state() == control::ACTIVE_STATE_ACTIVE);
    CHECK(web->sub_state() == "running");
    CHECK(web->type() == control::UNIT_TYPE_SERVICE);
    CHECK(web->service_type() == control::SERVICE_TYPE_SIMPLE);
    CHECK(web->result() == control::SERVICE_RESULT_SUCCESS);

    control::UnitStatusRequest request;
    request.set_unit("web");
    control::Response one = f.service.unit_status(request, kRoot);
    REQUIRE(one.units_size() == 1);
    CHECK(one.units(0).main_pid() == f.units.main("web.service"));
    request.set_unit("nope");
    CHECK(f.service.unit_status(request, kRoot).error() ==
          "unit `nope.service` could not be found");
}

TEST_CASE("logs sends the last lines, then new ones until the client hangs up") {
    ServiceFixture f;
    auto reactor = Reactor::create();
    REQUIRE(reactor);
    auto journal = Journal::create(**reactor, JournalOptions{});
    REQUIRE(journal);
    f.init.current_journal = journal->get();
    for (const char* message : {"one", "two", "three"})
        (*journal)->record({0, 0, "web.service", "stdout", 6, message});
    control::LogsRequest request;
    request.set_unit("web");
    request.set_lines(2);
    request.set_follow(true);
    f.service.logs(request, kRoot, f.reply);
    REQUIRE(f.reply->sent.size() == 1);
    REQUIRE(f.reply->last().entries_size() == 2);
    CHECK(f.reply->last().entries(0).message() == "two");
    CHECK(f.reply->last().entries(1).message() == "three");
    CHECK(f.reply->open()); // following

    (*journal)->record({0, 0, "web.service", "stdout", 6, "four"});
    (*journal)->record({0, 0, "db.service", "stdout", 6, "not web"});
    REQUIRE(f.reply->sent.size() == 2);
    CHECK(f.reply->last().entries(0).message() == "four");

    f.reply->hang_up(); // unsubscribes
    (*journal)->record({0, 0, "web.service", "stdout", 6, "five"});
    CHECK(f.reply->sent.size() == 2);

    auto once = std::make_shared<RecordingReply>();
    request.set_follow(false);
    f.service.logs(request, kRoot, once);
    CHECK(once->closed);
}

TEST_CASE("power: root only, and it asks init to end") {
    ServiceFixture f;
    control::PowerRequest request;
    request.set_action(control::POWER_ACTION_REBOOT);
    CHECK(f.service.power(request, kUser).error() == "permission denied: reboot needs root");
    CHECK(f.init.ends.empty());
    CHECK(f.service.power(request, kRoot).ok());
    CHECK(f.init.ends == std::vector<PowerAction>{PowerAction::Reboot});
    request.set_action(control::POWER_ACTION_UNSPECIFIED);
    CHECK(f.service.power(request, kRoot).error() == "unknown power action");
}

TEST_CASE("kexec ends the system only when a kernel is loaded, and only for a machine's init") {
    ServiceFixture f;
    control::PowerRequest request;
    request.set_action(control::POWER_ACTION_KEXEC);
    CHECK(f.service.power(request, kUser).error() == "permission denied: kexec needs root");
    CHECK(f.service.power(request, kRoot).error() ==
          "kexec: no kernel is loaded (keel reboot --kexec loads one first)");
    CHECK(f.init.ends.empty());
    f.init.kexec_loaded = true;
    f.init.status.mode = InitMode::Container;
    CHECK(f.service.power(request, kRoot).error() ==
          "kexec: only the init of a machine can start another kernel");
    CHECK(f.init.ends.empty());
    f.init.status.mode = InitMode::System;
    CHECK(f.service.power(request, kRoot).ok());
    CHECK(f.init.ends == std::vector<PowerAction>{PowerAction::Kexec});
}

TEST_CASE("daemon-reload: root only; an empty request is refused") {
    ServiceFixture f;
    CHECK(f.service.daemon_reload(kUser).error() == "permission denied: daemon-reload needs root");
    CHECK(f.service.daemon_reload(kRoot).ok());
    CHECK(f.init.reloads == 1);
    f.service.handle(control::Request{}, kRoot, f.reply);
    CHECK(f.reply->last().error() == "unknown request");
}
