// RaftDriver: opening the data dir, the Ready cycle (send, persist with one
// sync, send what depends on the write, apply, advance) and snapshots, taken
// every snapshot_count applied entries or received from the leader. The
// callers waiting for answers are in raft_driver_requests.cpp.
#include "kv/raft_driver.h"

#include "base/endian.h"
#include "base/log.h"
#include "base/strings.h"
#include "kv/file_names.h"
#include "kv/snapshot_file.h"

#include <algorithm>

namespace keel::kv {

namespace {

// A command as proposed through the driver: the request id in front (see
// raft_driver_requests.cpp). Shorter data has no id: it was not.
struct Request {
    std::optional<uint64_t> id;
    std::string_view body;
};

Request split_request(std::string_view data) {
    if (data.size() < 8)
        return {std::nullopt, data};
    return {get_u64(data, 0), data.substr(8)};
}

} // namespace

RaftDriver::RaftDriver(Reactor& reactor, RaftDriverOptions options, StateMachine& machine,
                       RaftTransport& transport)
    : m_reactor(reactor), m_options(std::move(options)), m_machine(machine), m_transport(transport),
      m_self(std::make_shared<RaftDriver*>(this)) {}

Result<std::unique_ptr<RaftDriver>> RaftDriver::open(Reactor& reactor, RaftDriverOptions options,
                                                     StateMachine& machine,
                                                     RaftTransport& transport) {
    std::unique_ptr<RaftDriver> driver(
        new RaftDriver(reactor, std::move(options), machine, transport));
    TRY_CTX(driver->start(), cat("kv: start member in ", quoted(driver->m_options.data_dir)));
    return driver;
}

Result<void> RaftDriver::start() {
    const RaftDriverOptions& o = m_options;
    if (o.metadata.member_id == 0)
        return error("member id 0");
    Storage& storage = *o.storage;
    std::string wal_dir = cat(o.data_dir, "/wal");
    m_snap_dir = cat(o.data_dir, "/snap");
    TRY(storage.make_directories(o.data_dir, 0700));
    WalOptions wal_options{.segment_bytes = o.wal_segment_bytes, .storage = &storage};

    RestoreState restore;
    if (TRY(Wal::exists(wal_dir, storage))) {
        Wal wal = TRY(Wal::open(wal_dir, wal_options));
        TRY(wal.check_metadata(o.metadata));
        WalState& state = wal.recovered();
        // Not through TRY: optional<Snapshot> ends in padding, which TRY's
        // layout check for libc++ 16 refuses; the value is only moved out.
        Result<std::optional<Snapshot>> loaded = load_snapshot_file(storage, m_snap_dir, state);
        if (!loaded)
            return std::unexpected(std::move(loaded).error());
        std::optional<Snapshot> snapshot = std::move(*loaded);
        Index snapshot_index = snapshot ? snapshot->meta.index : 0;
        if (snapshot && m_machine.applied_index() < snapshot_index)
            TRY_CTX(m_machine.restore(*snapshot),
                    cat("restore the state machine from the snapshot at ", snapshot_index));
        m_applied = std::max(m_machine.applied_index(), snapshot_index);
        m_snapshot_index = snapshot_index;
        if (snapshot)
            m_conf = snapshot->meta.conf;
        std::span<const Entry> entries = entries_after(state, snapshot_index);
        // The membership as of what the state machine has applied: the
        // changes it holds are not handed to it again.
        for (const Entry& entry : entries) {
            if (entry.index > m_applied)
                break;
            if (entry.type != EntryType::ConfChange)
                continue;
            if (Result<ConfChange> change = decode_conf_change(entry.data))
                if (Result<ConfState> conf = apply_conf_change(m_conf, *change))
                    m_conf = std::move(*conf);
        }
        restore.hard = state.hard_state;
        // Moved, not copied: the core keeps the newest in memory and lets
        // the rest go (it skips those the snapshot covers); older ones are
        // read back from the files when a follower needs them.
        restore.entries = std::move(state.entries);
        state.entries = {};
        // The core keeps the snapshot's position, not its data (the state
        // machine's whole state): a follower that needs it is sent the
        // file's (fill_snapshot_data).
        if (snapshot)
            restore.snapshot = Snapshot{snapshot->meta, {}};
        restore.applied = m_applied;
        m_wal = std::move(wal);
    } else {
        if (m_machine.applied_index() != 0)
            return error(cat("the state machine has applied entries up to ",
                             m_machine.applied_index(), " but ", quoted(wal_dir), " holds no log"));
        m_wal = TRY(Wal::create(wal_dir, o.metadata, wal_options));
        restore.initial = o.initial;
        // Each context is led by a request id, as proposed changes' are
        // (0: nobody waits for these).
        for (const auto& [id, context] : o.initial_contexts)
            restore.initial_contexts[id] = std::string(8, '\0') + context;
    }
    m_synced_hard = restore.hard;
    m_term = restore.hard.term;

    RaftConfig config{
        .id = o.metadata.member_id,
        .election_ticks = o.election_ticks,
        .heartbeat_ticks = 1,
        .seed = o.seed,
        .entry_source = &m_wal_entries,
        .max_entries_in_memory = o.log_memory_entries,
        .max_bytes_in_memory = o.log_memory_bytes,
    };
    m_node.emplace(config, std::move(restore));
    std::weak_ptr<RaftDriver*> self = m_self;
    m_tick_timer = TRY(m_reactor.add_timer(
        o.tick,
        [self] {
            if (auto driver = self.lock())
                (*driver)->tick();
        },
        o.tick));
    // A new cluster's first Ready holds its membership entries.
    schedule();
    return {};
}

RaftDriver::~RaftDriver() {
    stop();
}

void RaftDriver::stop() {
    if (m_stopped)
        return;
    m_stopped = true;
    if (m_tick_timer)
        m_reactor.cancel_timer(*m_tick_timer);
    m_tick_timer.reset();
    fail_all(Error::from_code(ErrorCode::ServerStopped, "server stopped"));
}

void RaftDriver::fail(const Error& failure) {
    log_error(cat("kv: member ", m_options.metadata.member_id, " stops: ", failure.to_string()));
    stop();
    if (m_on_fatal)
        defer_alive([this, failure] {
            if (m_on_fatal)
                m_on_fatal(failure);
        });
}

void RaftDriver::defer_alive(std::function<void()> callback) {
    std::weak_ptr<RaftDriver*> self = m_self;
    m_reactor.defer([self, callback = std::move(callback)] {
        if (self.lock())
            callback();
    });
}

void RaftDriver::schedule() {
    if (m_scheduled || m_stopped)
        return;
    m_scheduled = true;
    defer_alive([this] { process_ready(); });
}

Result<std::vector<Entry>> RaftDriver::WalEntries::entries(Index low, Index high,
                                                           size_t max_bytes) {
    return driver.m_wal->read_entries(low, high, max_bytes);
}

void RaftDriver::check_entry_source() {
    std::optional<Error> failure = m_node->take_entry_source_error();
    if (!failure)
        return;
    // A record that fails its checks is damage on the disk: the member
    // stops rather than send a follower garbage, as it refuses to start
    // on such a log. Anything else (EMFILE, EIO on a read) may pass: the
    // follower's next answer asks for the entries again.
    if (failure->code() == int(ErrorCode::DataCorrupt)) {
        fail(std::move(*failure).wrap("read the log for a follower"));
        return;
    }
    log_warning(cat("kv: member ", m_options.metadata.member_id,
                    " cannot read its log for a follower (tried again at its next answer): ",
                    failure->to_string()));
}

void RaftDriver::step(const Message& message) {
    if (m_stopped)
        return;
    if (Result<void> stepped = m_node->step(message); !stepped)
        log_warning(cat("kv: member ", m_options.metadata.member_id, " drops a ",
                        kMessageTypeNames.name(message.type), " from ", message.from, ": ",
                        stepped.error().to_string()));
    check_entry_source();
    schedule();
}

void RaftDriver::report_unreachable(NodeId peer) {
    if (m_stopped)
        return;
    m_node->report_unreachable(peer);
    schedule();
}

void RaftDriver::report_snapshot(NodeId peer, SnapshotStatus status) {
    if (m_stopped)
        return;
    m_node->report_snapshot(peer, status);
    schedule();
}

Result<void> RaftDriver::transfer_leadership(NodeId target) {
    if (m_stopped)
        return std::unexpected(Error::from_code(ErrorCode::ServerStopped, "server stopped"));
    TRY(m_node->transfer_leadership(target));
    schedule();
    return {};
}

RaftStatus RaftDriver::status() const {
    return m_node->status();
}

void RaftDriver::on_leader_change(LeaderCallback callback) {
    m_on_leader_change = std::move(callback);
}

void RaftDriver::on_fatal(FatalCallback callback) {
    m_on_fatal = std::move(callback);
}

void RaftDriver::note_leader(NodeId leader, Term term) {
    m_leader = leader;
    m_term = term;
    if (m_on_leader_change)
        defer_alive([this, leader, term] {
            if (m_on_leader_change)
                m_on_leader_change(leader, term);
        });
}

// One Ready per loop iteration: whatever arrived since the last one is
// persisted with one sync.
void RaftDriver::process_ready() {
    m_scheduled = false;
    if (m_stopped)
        return;
    send_read_round();
    if (!m_node->has_ready())
        return;
    Ready ready = m_node->ready();
    check_entry_source();
    if (m_stopped)
        return;
    if (Result<void> handled = handle_ready(ready); !handled) {
        fail(handled.error());
        return;
    }
    // advance() may have made more work (the leader's commit moves once
    // its own write is done): next iteration, with whatever else comes in.
    if (m_node->has_ready())
        schedule();
}

Result<void> RaftDriver::handle_ready(Ready& ready) {
    Term term = ready.hard_state ? ready.hard_state->term : m_term;
    if (ready.leader != m_leader || term != m_term)
        note_leader(ready.leader, term);
    fill_snapshot_data(ready.messages);
    if (!ready.messages.empty())
        m_transport.send(std::move(ready.messages));
    TRY(persist(ready));
    if (!ready.messages_after_persist.empty())
        m_transport.send(std::move(ready.messages_after_persist));
    if (ready.snapshot)
        TRY(install_snapshot(*ready.snapshot));
    for (const Entry& entry : ready.committed)
        TRY_CTX(apply_entry(entry), cat("apply entry ", entry.index));
    answer_read_states(ready.read_states);
    answer_applied_reads();
    m_node->advance(ready);
    if (ready.snapshot)
        TRY(release_to_leader_snapshot(ready.snapshot->meta.index));
    TRY(maybe_take_snapshot());
    return {};
}

Result<void> RaftDriver::persist(const Ready& ready) {
    Storage& storage = *m_options.storage;
    if (ready.snapshot) {
        const SnapshotMeta& meta = ready.snapshot->meta;
        // The file first: the log's marker vouches for it.
        TRY(save_snapshot_file(storage, m_snap_dir, *ready.snapshot));
        Index last = m_wal->last_index();
        TRY(m_wal->append_snapshot({meta.index, meta.term}));
        if (meta.index <= last) {
            // The log goes on past the snapshot with entries of another
            // history (the leader sends a snapshot only where this member's
            // log differs from its own). An entry at the snapshot's index
            // replaces them on disk, as Raft's truncation does; the snapshot
            // covers that entry, so nothing reads it.
            Entry cut{
                .term = meta.term, .index = meta.index, .type = EntryType::Normal, .data = {}};
            TRY(m_wal->append(std::span<const Entry>(&cut, 1)));
        }
    }
    if (!ready.entries.empty() || ready.hard_state)
        TRY(m_wal->append(ready.entries, ready.hard_state));
    // A commit index alone need not be durable (a restarted member learns
    // it again from the leader), as in etcd. It is written to the file
    // (not synced) before the entries it commits are applied, though: a
    // member killed after applying them comes back at least as far as it
    // was, even alone, so its revision never goes back (tests/host/
    // kv_crash_points.sh, kv.store.flush).
    bool vote_changed = ready.hard_state && (ready.hard_state->term != m_synced_hard.term ||
                                             ready.hard_state->vote != m_synced_hard.vote);
    if (ready.snapshot || !ready.entries.empty() || vote_changed) {
        TRY(m_wal->sync());
        ++m_wal_syncs;
        if (ready.hard_state)
            m_synced_hard = *ready.hard_state;
    } else if (ready.hard_state && !ready.committed.empty()) {
        TRY(m_wal->write());
    }
    return {};
}

void RaftDriver::fill_snapshot_data(std::vector<Message>& messages) {
    auto unfilled = [](const Message& m) {
        return m.type == MessageType::Snapshot && m.snapshot.data.empty();
    };
    if (std::none_of(messages.begin(), messages.end(), unfilled))
        return;
    std::vector<Message> kept;
    for (Message& message : messages) {
        if (!unfilled(message)) {
            kept.push_back(std::move(message));
            continue;
        }
        const SnapshotMeta& meta = message.snapshot.meta;
        std::string path =
            cat(m_snap_dir, "/", numbered_file_name({meta.term, meta.index}, ".snap"));
        Result<std::string> bytes = m_options.storage->read_file(path);
        std::string problem;
        if (!bytes) {
            problem = bytes.error().to_string();
        } else if (auto decoded = decode_snapshot_file(*bytes); !decoded) {
            problem = cat(quoted(path), ": ", decoded.error());
        } else if (decoded->meta.index != meta.index || decoded->meta.term != meta.term) {
            problem = cat(quoted(path), " holds the snapshot at ", decoded->meta.index);
        } else {
            message.snapshot.data = std::move(decoded->data);
            kept.push_back(std::move(message));
            continue;
        }
        // Not sent: the core probes the follower again and sends the
        // snapshot then (a newer one by that time, if this was pruned).
        log_warning(cat("kv: member ", m_options.metadata.member_id, " cannot send member ",
                        message.to, " its snapshot at ", meta.index, ": ", problem));
        m_node->report_snapshot(message.to, SnapshotStatus::Failure);
    }
    messages = std::move(kept);
}

Result<void> RaftDriver::install_snapshot(const Snapshot& snapshot) {
    TRY_CTX(m_machine.restore(snapshot),
            cat("restore the state machine from the leader's snapshot at ", snapshot.meta.index));
    m_applied = snapshot.meta.index;
    m_snapshot_index = snapshot.meta.index;
    m_conf = snapshot.meta.conf;
    note_leader(m_leader, m_term);
    return {};
}

Result<void> RaftDriver::release_to_leader_snapshot(Index index) {
    // The state machine's storage must hold what the released entries did.
    TRY(m_machine.flush());
    TRY(m_wal->release(index));
    // Older snapshot files cannot stand in for the leader's: the log does
    // not reach up to it from them (or holds another history there).
    TRY(prune_snapshot_files(*m_options.storage, m_snap_dir, 1));
    return {};
}

Result<void> RaftDriver::apply_entry(const Entry& entry) {
    // Entries the state machine holds already come round again after a
    // restart (the log's commit index on disk may lag behind it).
    if (entry.index <= m_applied)
        return {};
    if (entry.type == EntryType::ConfChange) {
        TRY(apply_conf_change_entry(entry));
    } else if (entry.data.empty()) {
        TRY(m_machine.apply_empty(entry.index));
    } else {
        Request request = split_request(entry.data);
        std::string response = TRY(m_machine.apply(entry.index, request.body));
        if (request.id)
            finish_proposal(*request.id, std::move(response));
    }
    m_applied = entry.index;
    return {};
}

Result<void> RaftDriver::apply_conf_change_entry(const Entry& entry) {
    Result<ConfChange> change = decode_conf_change(entry.data);
    if (!change) {
        // The Raft core skips it too.
        log_warning(cat("kv: entry ", entry.index, ": ", change.error().to_string()));
        return m_machine.apply_empty(entry.index);
    }
    // The driver's request id leads the context (a new cluster's own
    // membership entries have none).
    Request request = split_request(change->context);
    change->context = std::string(request.body);
    Result<ConfState> conf = apply_conf_change(m_conf, *change);
    if (!conf) {
        // Every member finds the same: it changes nothing anywhere.
        TRY(m_machine.apply_empty(entry.index));
        if (request.id)
            finish_conf_change(*request.id, std::unexpected(conf.error()));
        return {};
    }
    m_conf = std::move(*conf);
    TRY(m_machine.apply_conf_change(entry.index, *change, m_conf));
    if (request.id)
        finish_conf_change(*request.id, {});
    note_leader(m_leader, m_term);
    return {};
}

Result<void> RaftDriver::maybe_take_snapshot() {
    if (m_applied < m_snapshot_index + std::max<uint64_t>(m_options.snapshot_count, 1))
        return {};
    // After a restart the core may hand out again entries the state
    // machine holds: the snapshot waits until both agree.
    if (m_node->status().applied != m_applied)
        return {};
    TRY(m_machine.flush());
    std::string data = TRY(m_machine.snapshot());
    // The data stays in the file only (fill_snapshot_data).
    SnapshotMeta meta = TRY(m_node->compact(m_applied, {}));
    Snapshot snapshot{std::move(meta), std::move(data)};
    TRY(save_snapshot_file(*m_options.storage, m_snap_dir, snapshot));
    TRY(m_wal->append_snapshot({snapshot.meta.index, snapshot.meta.term}));
    TRY(m_wal->sync());
    ++m_wal_syncs;
    m_snapshot_index = snapshot.meta.index;
    TRY(m_wal->release(snapshot.meta.index));
    TRY(prune_snapshot_files(*m_options.storage, m_snap_dir, kSnapshotFilesKept));
    return {};
}

} // namespace keel::kv
