// CgroupPrefetch: makes cgroups on a second thread ahead of the starts that
// need them. At boot a few dozen services start in one go, and each group
// costs the thread that makes it a visit to the kernel's controllers (about
// half a millisecond under emulation, the first one with the memory
// controller several): PID 1 would spend that between two starts.
#pragma once

#include "base/fd.h"
#include "base/result.h"
#include "cgroups/cgroups.h"

#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace keel {

class CgroupPrefetch {
public:
    explicit CgroupPrefetch(std::string root = std::string(kCgroupRoot));
    /// Waits for the thread (it ends once the queue is empty).
    ~CgroupPrefetch();
    CgroupPrefetch(const CgroupPrefetch&) = delete;
    CgroupPrefetch& operator=(const CgroupPrefetch&) = delete;

    struct Request {
        std::string relative; // as Cgroup::create takes it
        CgroupLimits limits;
    };
    struct Made {
        Fd directory; // the group opened for spawn (closed if it would not open)
        Cgroup group;
        CgroupLimits limits; // as requested: a daemon-reload may have changed the unit's since
    };
    /// Queues groups to make with Cgroup::create, in this order, and starts
    /// the thread unless it runs. A group queued already is not queued twice.
    /// Without a thread (the system has none to give) nothing is queued.
    void make(std::vector<Request> requests);

    /// Hands over what Cgroup::create gave for a queued group (with the
    /// group's directory open), waiting while the thread is making it.
    /// nullopt when `relative` is not queued, the thread has not come to it
    /// (it is taken off the queue then) or could not make it (out of
    /// memory): the caller makes it itself.
    std::optional<Result<Made>> take(std::string_view relative);

    /// Groups queued or made and not taken.
    size_t pending() const;

    /// Waits until the thread has made every queued group (or has ended).
    void wait_until_made() const;

private:
    enum class State { Queued, Making, Made };
    struct Slot {
        uint64_t id; // finds the slot again without allocating
        Request request;
        State state = State::Queued;
        std::optional<Result<Made>> made;
    };
    void run();
    void drop_queued(); // with m_mutex held
    Result<Made> make_one(const Request& request) const;

    std::string m_root;
    mutable std::mutex m_mutex;
    mutable std::condition_variable m_made; // a slot made, or the thread done
    std::vector<Slot> m_slots;              // in queue order; taken ones leave
    uint64_t m_next_id = 0;
    bool m_running = false; // the thread works on m_slots
    std::thread m_thread;
};

} // namespace keel
