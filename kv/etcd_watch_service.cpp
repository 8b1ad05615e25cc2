// etcd's Watch service: one bidirectional stream carries many watchers.
// Each stream is a WatchSink of the state machine's watch hub; the hub
// decides what each watcher sees (catch-up, live events, compaction), this
// file turns it into WatchResponses in etcd's shape: fragments for the
// watchers that asked for them, and a progress notification on a timer to
// each watcher that asked for one and got nothing since the last.
#include "base/log.h"
#include "base/strings.h"
#include "kv/etcd_convert.h"
#include "kv/etcd_errors.h"
#include "kv/etcd_services.h"
#include "kv/watch_fragment.h"
#include "proto/etcd/rpc.pb.h"

#include <chrono>
#include <map>
#include <set>
#include <utility>
#include <vector>

namespace keel::kv {

namespace {

// What clientv3 expects as the id of a progress response that answers a
// WatchProgressRequest (etcd's InvalidWatchID).
constexpr int64_t kProgressWatchId = -1;
// What etcd allows a watch response beyond --max-request-bytes before it
// cuts it into fragments (its gRPC overhead allowance).
constexpr size_t kWatchResponseOverhead = 512 * 1024;

class WatchStream final : public GrpcHandler, public WatchSink {
public:
    WatchStream(KvServer& server, std::shared_ptr<GrpcCall> call)
        : m_server(server), m_call(std::move(call)) {
        m_call->on_drained([this] { catch_up(); });
    }
    ~WatchStream() override {
        if (m_progress_timer != 0)
            m_server.reactor().cancel_timer(m_progress_timer);
        m_call->on_drained(nullptr);
        hub().remove_sink(*this);
    }

    void on_message(std::string_view bytes) override {
        auto request = parse_message<etcdserverpb::WatchRequest>(bytes);
        if (!request)
            return m_call->finish(request.error());
        switch (request->request_union_case()) {
        case etcdserverpb::WatchRequest::kCreateRequest:
            return create(request->create_request());
        case etcdserverpb::WatchRequest::kCancelRequest: {
            int64_t id = request->cancel_request().watch_id();
            hub().cancel(*this, id);
            forget(id);
            etcdserverpb::WatchResponse response;
            response.set_watch_id(id);
            response.set_canceled(true);
            return send(response, 0);
        }
        case etcdserverpb::WatchRequest::kProgressRequest: {
            // etcd answers only when every watcher of the stream is live:
            // the revision then bounds every event still to come.
            auto revision = hub().progress(*this);
            if (!revision)
                return;
            etcdserverpb::WatchResponse response;
            response.set_watch_id(kProgressWatchId);
            return send(response, *revision);
        }
        case etcdserverpb::WatchRequest::REQUEST_UNION_NOT_SET:
            return;
        }
    }
    void on_half_close() override { m_call->finish({}); }
    void on_cancel() override { hub().remove_sink(*this); }

    void deliver(WatchId id, std::vector<Event> events, int64_t revision) override {
        etcdserverpb::WatchResponse response;
        response.set_watch_id(id);
        for (const Event& event : events)
            to_proto(event, response.add_events());
        // Events count as progress: the next notification is skipped.
        if (auto idle = m_idle.find(id); idle != m_idle.end() && !events.empty())
            idle->second = false;
        send(response, revision);
    }
    void compacted(WatchId id, int64_t compact_revision) override {
        etcdserverpb::WatchResponse response;
        response.set_watch_id(id);
        response.set_canceled(true);
        response.set_compact_revision(compact_revision);
        response.set_cancel_reason("mvcc: required revision has been compacted");
        forget(id);
        send(response, 0);
    }
    size_t pending_bytes() const override { return m_call->queued_bytes(); }

private:
    WatchHub& hub() { return m_server.machine().watches(); }

    void create(const etcdserverpb::WatchCreateRequest& create) {
        WatchSpec spec;
        spec.key = create.key();
        spec.range_end = create.range_end();
        spec.start_revision = create.start_revision();
        spec.prev_kv = create.prev_kv() ? PrevKv::Include : PrevKv::Omit;
        for (int filter : create.filters()) {
            if (filter == etcdserverpb::WatchCreateRequest::NOPUT)
                spec.no_put = true;
            else if (filter == etcdserverpb::WatchCreateRequest::NODELETE)
                spec.no_delete = true;
        }
        // The hub may hand out catch-up events while it adds the watcher;
        // they must follow the "created" response, so hold them until then.
        m_creating = true;
        auto id = hub().add(*this, std::move(spec));
        m_creating = false;
        etcdserverpb::WatchResponse response;
        response.set_created(true);
        if (!id) {
            response.set_watch_id(kProgressWatchId);
            response.set_canceled(true);
            response.set_cancel_reason(status_of(id.error()).message);
            m_held.clear();
            return send(response, 0);
        }
        response.set_watch_id(*id);
        if (create.fragment())
            m_fragmented.insert(*id);
        if (create.progress_notify())
            watch_progress(*id);
        send(response, 0);
        std::vector<std::pair<std::string, int64_t>> held = std::move(m_held);
        m_held.clear();
        for (auto& [bytes, revision] : held)
            m_call->send(std::move(bytes));
        // A start in the past: the hub catches the watcher up from the store.
        catch_up();
    }

    void catch_up() {
        if (auto resumed = hub().resume(*this); !resumed)
            log_warning(cat("kv: watch catch-up: ", resumed.error().to_string()));
    }

    void send(etcdserverpb::WatchResponse& response, int64_t revision) {
        m_server.fill_header(*response.mutable_header(), revision);
        std::vector<std::string> messages;
        if (m_fragmented.contains(response.watch_id()))
            messages = fragment_watch_response(response, m_server.config().max_request_bytes +
                                                             kWatchResponseOverhead);
        else
            messages.push_back(response.SerializeAsString());
        for (std::string& message : messages) {
            if (m_creating)
                m_held.emplace_back(std::move(message), revision);
            else
                m_call->send(std::move(message));
        }
    }

    // Progress notifications (etcd's progress_notify): every interval, a
    // watcher that was sent no events since the last tick, and is not
    // catching up, gets an empty response at the current revision.
    void watch_progress(WatchId id) {
        m_idle[id] = true;
        if (m_progress_timer != 0)
            return;
        auto interval =
            std::chrono::milliseconds(m_server.config().watch_progress_notify_interval_ms);
        auto timer = m_server.reactor().add_timer(
            interval, [this] { notify_progress(); }, interval);
        if (!timer)
            log_warning(cat("kv: watch progress timer: ", timer.error().to_string()));
        else
            m_progress_timer = *timer;
    }

    void notify_progress() {
        for (auto& [id, idle] : m_idle) {
            if (idle) {
                if (auto revision = hub().progress(*this, id)) {
                    etcdserverpb::WatchResponse response;
                    response.set_watch_id(id);
                    send(response, *revision);
                }
            }
            idle = true;
        }
    }

    void forget(WatchId id) {
        m_idle.erase(id);
        m_fragmented.erase(id);
    }

    KvServer& m_server;
    std::shared_ptr<GrpcCall> m_call;
    bool m_creating = false;
    std::vector<std::pair<std::string, int64_t>> m_held;
    /// Watchers that asked for fragments.
    std::set<WatchId> m_fragmented;
    /// Watchers that asked for progress notifications: whether each was
    /// sent nothing since the last tick.
    std::map<WatchId, bool> m_idle;
    Reactor::TimerId m_progress_timer = 0;
};

} // namespace

void add_watch_service(GrpcServer& grpc, KvServer& server) {
    grpc.route("/etcdserverpb.Watch/Watch",
               [&server](std::shared_ptr<GrpcCall> call) -> std::unique_ptr<GrpcHandler> {
                   return std::make_unique<WatchStream>(server, std::move(call));
               });
}

} // namespace keel::kv
