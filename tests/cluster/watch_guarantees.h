// The watch checker: what each watcher of a cluster test received, checked
// against etcd's watch guarantees and against the writes the clients made
// (with the revisions their responses carried).
//
//   ordered       revisions never go back within a watcher
//   unique        no event (revision, key) twice
//   atomic        all events of one revision arrive in one response
//   reliable      every write to a watched key between the watcher's start
//                 and the last revision it saw is delivered
//   resumable     after a reconnect from revision R, events continue from R
//   bookmarkable  no event at or below a progress-notify revision after it
//   faithful      an event agrees with the write at its revision
//
// A reconnect starts a new segment: ordered, unique and reliable hold
// within each (a watcher that resumes from an older revision sees those
// events again, as it asked).
#pragma once

#include "base/names.h"

#include <cstdint>
#include <string>
#include <vector>

namespace keel::watch_guarantees {

/// What an event (or a write) did to its key.
enum class EventType : uint8_t { Put, Delete };
inline constexpr auto kEventTypeNames = name_table<EventType>({
    {EventType::Put, "put"},
    {EventType::Delete, "delete"},
});

/// One watch event as received, or one write as the client made it (its
/// response's revision).
struct Event {
    uint64_t revision = 0;
    EventType type = EventType::Put;
    std::string key;
    /// What a Put wrote; empty for a Delete.
    std::string value;

    bool operator==(const Event&) const = default;
};

/// What one message on a watcher's stream was.
enum class MessageKind : uint8_t {
    /// A watch response carrying events.
    Events,
    /// A progress notification (or a progress response): `revision` is its
    /// header's revision.
    Progress,
    /// The client reconnected and watches again from `revision`.
    Resume,
};

/// One message a watcher received, in the order received.
struct Message {
    MessageKind kind = MessageKind::Events;
    /// Progress: the header revision; Resume: the start revision asked for.
    uint64_t revision = 0;
    std::vector<Event> events;
};

/// One watcher and what it received.
struct Watcher {
    /// Its name in reports.
    std::string name;
    /// etcd's range: `range_end` empty is the key alone, "\0" every key from
    /// `key` on, anything else [key, range_end).
    std::string key;
    std::string range_end;
    /// The revision it started from; 0: "from now" (the first event's
    /// revision is taken as the start).
    uint64_t start_revision = 0;
    std::vector<Message> messages;
};

/// Whether the writes given are all the writes there were.
enum class WriteSet : uint8_t {
    /// Every write is listed (no unknown outcomes): an event at a revision
    /// no listed write has is an error.
    Complete,
    /// Writes with an unknown outcome may be missing: events without a
    /// listed write are accepted (listed ones are still checked).
    Partial,
};

/// Which guarantee a violation breaks.
enum class Guarantee : uint8_t {
    Ordered,
    Unique,
    Atomic,
    Reliable,
    Resumable,
    Bookmarkable,
    Faithful
};
inline constexpr auto kGuaranteeNames = name_table<Guarantee>({
    {Guarantee::Ordered, "ordered"},
    {Guarantee::Unique, "unique"},
    {Guarantee::Atomic, "atomic"},
    {Guarantee::Reliable, "reliable"},
    {Guarantee::Resumable, "resumable"},
    {Guarantee::Bookmarkable, "bookmarkable"},
    {Guarantee::Faithful, "faithful"},
});

/// One broken guarantee.
struct Violation {
    Guarantee guarantee = Guarantee::Ordered;
    uint64_t revision = 0;
    std::string watcher;
    /// What was wrong, in words.
    std::string what;
};

/// Whether `key` is in the watcher's range.
bool watches(const Watcher& watcher, const std::string& key);

/// Checks every watcher against the guarantees and `writes` (the writes the
/// clients made, each with its response's revision; several events of one
/// transaction share one). Returns the violations, in watcher order.
std::vector<Violation> check(const std::vector<Watcher>& watchers, const std::vector<Event>& writes,
                             WriteSet write_set = WriteSet::Complete);

/// A violation in words: "watcher `w1`, revision 7: reliable: put `x` was
/// not delivered".
std::string describe(const Violation& violation);

} // namespace keel::watch_guarantees
