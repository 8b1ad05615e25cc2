// CgroupPrefetch (see prefetch.h). The thread only calls Cgroup::create,
// which makes system calls and allocates; it never logs, and every signal is
// blocked in it, so that they stay pending for init's signalfd.
#include "cgroups/prefetch.h"

#include "base/sys.h"

#include <algorithm>
#include <system_error>

namespace keel {

CgroupPrefetch::CgroupPrefetch(std::string root) : m_root(std::move(root)) {}

CgroupPrefetch::~CgroupPrefetch() {
    {
        std::lock_guard lock(m_mutex);
        drop_queued(); // the thread ends after its current group
    }
    if (m_thread.joinable())
        m_thread.join();
}

void CgroupPrefetch::make(std::vector<Request> requests) {
    std::unique_lock lock(m_mutex);
    for (Request& request : requests) {
        bool queued = std::any_of(m_slots.begin(), m_slots.end(), [&](const Slot& slot) {
            return slot.request.relative == request.relative;
        });
        if (!queued)
            m_slots.push_back(Slot{m_next_id++, std::move(request)});
    }
    if (m_running || m_slots.empty())
        return;
    if (m_thread.joinable()) { // a thread that found the queue empty and ended
        lock.unlock();
        m_thread.join();
        lock.lock();
    }
    AllSignalsBlocked blocked;
    try {
        m_thread = std::thread([this] { run(); });
        m_running = true;
    } catch (const std::system_error&) {
        drop_queued(); // no thread: the callers make their groups
    }
}

void CgroupPrefetch::drop_queued() {
    std::erase_if(m_slots, [](const Slot& slot) { return slot.state == State::Queued; });
}

Result<CgroupPrefetch::Made> CgroupPrefetch::make_one(const Request& request) const {
    Cgroup group = TRY(Cgroup::create(request.relative, request.limits, m_root));
    auto directory = group.open_directory(); // the caller opens it again if this failed
    return Made{directory ? std::move(*directory) : Fd(), std::move(group), request.limits};
}

void CgroupPrefetch::run() {
    std::unique_lock lock(m_mutex);
    for (;;) {
        auto next = std::find_if(m_slots.begin(), m_slots.end(),
                                 [](const Slot& slot) { return slot.state == State::Queued; });
        if (next == m_slots.end()) {
            m_running = false;
            m_made.notify_all();
            return;
        }
        next->state = State::Making;
        uint64_t id = next->id;
        // An exception must not end PID 1 (std::terminate): out of memory,
        // the slot is handed over empty and the caller makes the group.
        std::optional<Result<Made>> made;
        try {
            Request request = next->request; // the slot may move while unlocked
            lock.unlock();
            made = make_one(request);
        } catch (...) {
        }
        if (!lock.owns_lock())
            lock.lock();
        // The slot may have moved (others taken), never gone: take() waits.
        auto slot = std::find_if(m_slots.begin(), m_slots.end(),
                                 [&](const Slot& each) { return each.id == id; });
        slot->made = std::move(made);
        slot->state = State::Made;
        m_made.notify_all();
    }
}

std::optional<Result<CgroupPrefetch::Made>> CgroupPrefetch::take(std::string_view relative) {
    std::unique_lock lock(m_mutex);
    auto find = [&] {
        return std::find_if(m_slots.begin(), m_slots.end(),
                            [&](const Slot& slot) { return slot.request.relative == relative; });
    };
    auto slot = find();
    if (slot == m_slots.end())
        return std::nullopt;
    if (slot->state == State::Queued) {
        m_slots.erase(slot);
        return std::nullopt;
    }
    m_made.wait(lock, [&] { return find()->state == State::Made; });
    slot = find();
    std::optional<Result<Made>> made = std::move(slot->made);
    m_slots.erase(slot);
    return made;
}

void CgroupPrefetch::wait_until_made() const {
    std::unique_lock lock(m_mutex);
    m_made.wait(lock, [&] { return !m_running; });
}

size_t CgroupPrefetch::pending() const {
    std::lock_guard lock(m_mutex);
    return m_slots.size();
}

} // namespace keel
