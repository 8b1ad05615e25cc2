// RaftDriver: the callers waiting for an answer. Proposals and membership
// changes carry a request id (the low 16 bits of the member id, then a
// 48-bit counter started from the clock, the shape of etcd's idutil, so
// that ids stay unique across restarts) by which the applied entry finds
// its caller; linearizable reads issued in one loop iteration share one
// ReadIndex round whose context is such an id. Everything waiting fails
// with RequestTimedOut after request_timeout, checked every tick.
#include "base/endian.h"
#include "base/strings.h"
#include "kv/raft_driver.h"

namespace keel::kv {

namespace {

// A read the leader has not answered is asked again after this long (the
// request or its answer may have been lost): etcd's readIndexRetryTime.
constexpr std::chrono::milliseconds kReadRetry{500};

constexpr uint64_t kCounterMask = (uint64_t(1) << 48) - 1;

Error timed_out() {
    return Error::from_code(ErrorCode::RequestTimedOut, "request timed out");
}

// Hands `value` to `callback` from the reactor: never inside the call that
// registered it, and whether or not the driver still exists.
template <typename Callback, typename Value>
void answer(Reactor& reactor, Callback callback, Value value) {
    reactor.defer([callback = std::move(callback), value = std::move(value)]() mutable {
        callback(std::move(value));
    });
}

std::string id_bytes(uint64_t id) {
    std::string bytes;
    put_u64(bytes, id);
    return bytes;
}

} // namespace

uint64_t RaftDriver::next_request_id() {
    if (m_next_request == 0) {
        auto now = std::chrono::system_clock::now().time_since_epoch();
        m_next_request =
            uint64_t(std::chrono::duration_cast<std::chrono::milliseconds>(now).count()) << 8;
    }
    uint64_t prefix = (m_options.metadata.member_id & 0xffff) << 48;
    return prefix | (m_next_request++ & kCounterMask);
}

void RaftDriver::propose(std::string command, ProposeCallback done) {
    if (m_stopped) {
        answer(m_reactor, std::move(done),
               Result<std::string>(
                   std::unexpected(Error::from_code(ErrorCode::ServerStopped, "server stopped"))));
        return;
    }
    uint64_t id = next_request_id();
    std::string data = id_bytes(id);
    data += command;
    if (Result<void> proposed = m_node->propose(std::move(data)); !proposed) {
        answer(m_reactor, std::move(done), Result<std::string>(std::unexpected(proposed.error())));
        return;
    }
    m_waiters.emplace(id, Waiter{.proposal = std::move(done), .conf_change = {}});
    m_deadlines.emplace_back(std::chrono::steady_clock::now() + m_options.request_timeout, id);
    schedule();
}

void RaftDriver::propose_conf_change(ConfChange change, DoneCallback done) {
    if (m_stopped) {
        answer(m_reactor, std::move(done),
               Result<void>(
                   std::unexpected(Error::from_code(ErrorCode::ServerStopped, "server stopped"))));
        return;
    }
    uint64_t id = next_request_id();
    change.context = id_bytes(id) + change.context;
    if (Result<void> proposed = m_node->propose_conf_change(change); !proposed) {
        answer(m_reactor, std::move(done), Result<void>(std::unexpected(proposed.error())));
        return;
    }
    m_waiters.emplace(id, Waiter{.proposal = {}, .conf_change = std::move(done)});
    m_deadlines.emplace_back(std::chrono::steady_clock::now() + m_options.request_timeout, id);
    schedule();
}

void RaftDriver::read_barrier(DoneCallback done) {
    if (m_stopped) {
        answer(m_reactor, std::move(done),
               Result<void>(
                   std::unexpected(Error::from_code(ErrorCode::ServerStopped, "server stopped"))));
        return;
    }
    m_unsent_reads.push_back(std::move(done));
    schedule();
}

void RaftDriver::send_read_round() {
    if (m_unsent_reads.empty())
        return;
    std::vector<DoneCallback> waiting = std::move(m_unsent_reads);
    m_unsent_reads.clear();
    uint64_t id = next_request_id();
    std::string context = id_bytes(id);
    if (Result<void> asked = m_node->read_index(context); !asked) {
        for (DoneCallback& done : waiting)
            answer(m_reactor, std::move(done), Result<void>(std::unexpected(asked.error())));
        return;
    }
    auto now = std::chrono::steady_clock::now();
    m_reads.emplace(id, ReadRound{.waiting = std::move(waiting),
                                  .index = std::nullopt,
                                  .sent = now,
                                  .context = std::move(context)});
    m_deadlines.emplace_back(now + m_options.request_timeout, id);
}

void RaftDriver::answer_read_states(const std::vector<ReadState>& states) {
    for (const ReadState& state : states) {
        if (state.context.size() != 8)
            continue;
        auto round = m_reads.find(get_u64(state.context, 0));
        // A round asked twice may be answered twice: the first counts.
        if (round != m_reads.end() && !round->second.index)
            round->second.index = state.index;
    }
}

void RaftDriver::answer_applied_reads() {
    for (auto round = m_reads.begin(); round != m_reads.end();) {
        if (!round->second.index || *round->second.index > m_applied) {
            ++round;
            continue;
        }
        for (DoneCallback& done : round->second.waiting)
            answer(m_reactor, std::move(done), Result<void>());
        round = m_reads.erase(round);
    }
}

void RaftDriver::finish_proposal(uint64_t id, Result<std::string> response) {
    auto waiter = m_waiters.find(id);
    if (waiter == m_waiters.end() || !waiter->second.proposal)
        return; // proposed before a restart, or timed out already
    answer(m_reactor, std::move(waiter->second.proposal), std::move(response));
    m_waiters.erase(waiter);
}

void RaftDriver::finish_conf_change(uint64_t id, Result<void> outcome) {
    auto waiter = m_waiters.find(id);
    if (waiter == m_waiters.end() || !waiter->second.conf_change)
        return;
    answer(m_reactor, std::move(waiter->second.conf_change), std::move(outcome));
    m_waiters.erase(waiter);
}

void RaftDriver::tick() {
    if (m_stopped)
        return;
    // What was applied stays in the state machine's write batch for at most
    // a tick (etcd commits its backend every 100 ms): a member that is
    // killed re-applies a tick's entries on restart, not all of its log,
    // which would keep its loop from heartbeats, votes and clients meanwhile.
    if (m_applied != m_flushed) {
        if (auto flushed = m_machine.flush(); !flushed) {
            fail(flushed.error());
            return;
        }
        m_flushed = m_applied;
    }
    m_node->tick();
    expire_requests();
    schedule();
}

void RaftDriver::expire_requests() {
    auto now = std::chrono::steady_clock::now();
    while (!m_deadlines.empty() && m_deadlines.front().first <= now) {
        uint64_t id = m_deadlines.front().second;
        m_deadlines.pop_front();
        if (auto waiter = m_waiters.find(id); waiter != m_waiters.end()) {
            if (waiter->second.proposal)
                answer(m_reactor, std::move(waiter->second.proposal),
                       Result<std::string>(std::unexpected(timed_out())));
            else
                answer(m_reactor, std::move(waiter->second.conf_change),
                       Result<void>(std::unexpected(timed_out())));
            m_waiters.erase(waiter);
        } else if (auto round = m_reads.find(id); round != m_reads.end()) {
            for (DoneCallback& done : round->second.waiting)
                answer(m_reactor, std::move(done), Result<void>(std::unexpected(timed_out())));
            m_reads.erase(round);
        }
    }
    for (auto& [id, round] : m_reads) {
        if (round.index || now - round.sent < kReadRetry)
            continue;
        // No leader right now: ask again next time round.
        (void)m_node->read_index(round.context);
        round.sent = now;
    }
}

void RaftDriver::fail_all(const Error& failure) {
    for (auto& [id, waiter] : m_waiters) {
        if (waiter.proposal)
            answer(m_reactor, std::move(waiter.proposal),
                   Result<std::string>(std::unexpected(failure)));
        else if (waiter.conf_change)
            answer(m_reactor, std::move(waiter.conf_change),
                   Result<void>(std::unexpected(failure)));
    }
    m_waiters.clear();
    for (DoneCallback& done : m_unsent_reads)
        answer(m_reactor, std::move(done), Result<void>(std::unexpected(failure)));
    m_unsent_reads.clear();
    for (auto& [id, round] : m_reads)
        for (DoneCallback& done : round.waiting)
            answer(m_reactor, std::move(done), Result<void>(std::unexpected(failure)));
    m_reads.clear();
    m_deadlines.clear();
}

} // namespace keel::kv
