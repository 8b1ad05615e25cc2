// The watch hub (kv/watch_hub.h): the watchers of each sink, the matching
// index over the live ones' keys and ranges, live delivery per revision,
// and the catch-up from the store for watchers that are behind.
#include "kv/watch_hub.h"

#include <algorithm>
#include <tuple>

namespace keel::kv {

// In a named namespace, not the anonymous one: WatchHub's classes (of
// the header) hold them.
namespace detail {

/// How a watcher's range is matched.
enum class Shape : uint8_t { Key, Prefix, FromKey, Range, Nothing };

/// The watchers of general ranges [start, end): a treap ordered by (start,
/// watcher) whose nodes also hold the largest end below them, so a lookup
/// skips every subtree whose ranges all ended before the key (an interval
/// tree: O(log n) per matching watcher instead of a pass over all ranges
/// that start before the key).
template <typename Payload> class RangeTree {
public:
    void insert(std::string_view start, std::string_view end, Payload* payload) {
        auto node = std::make_unique<Node>();
        node->start = start;
        node->end = end;
        node->max_end = end;
        node->payload = payload;
        node->priority = next_priority();
        Link left;
        Link right;
        split(std::move(m_root), Before{start, payload}, left, right);
        m_root = merge(merge(std::move(left), std::move(node)), std::move(right));
    }

    void erase(std::string_view start, Payload* payload) {
        Link left;
        Link rest;
        Link found;
        Link right;
        split(std::move(m_root), Before{start, payload}, left, rest);
        split(std::move(rest), AtMost{start, payload}, found, right);
        m_root = merge(std::move(left), std::move(right));
    }

    /// Calls `found` with the payload of every range holding `key`.
    template <typename Found> void stab(std::string_view key, Found&& found) const {
        stab(m_root.get(), key, found);
    }

private:
    struct Node {
        std::string_view start;
        std::string_view end;
        std::string_view max_end;
        Payload* payload = nullptr;
        uint64_t priority = 0;
        std::unique_ptr<Node> left;
        std::unique_ptr<Node> right;
    };
    using Link = std::unique_ptr<Node>;

    /// Node order: by start, then by payload address (unique).
    static bool less(std::string_view start, const Payload* payload, const Node& node) {
        if (start != node.start)
            return start < node.start;
        return std::less<>()(payload, node.payload);
    }
    /// Nodes before (start, payload).
    struct Before {
        std::string_view start;
        const Payload* payload;
        bool operator()(const Node& node) const {
            return node.start != start ? node.start < start : std::less<>()(node.payload, payload);
        }
    };
    /// Nodes at or before (start, payload).
    struct AtMost {
        std::string_view start;
        const Payload* payload;
        bool operator()(const Node& node) const { return !less(start, payload, node); }
    };

    static void update(Node& node) {
        node.max_end = node.end;
        for (const Link* child : {&node.left, &node.right})
            if (*child && (*child)->max_end > node.max_end)
                node.max_end = (*child)->max_end;
    }

    /// Splits `tree` into the nodes `goes_left` holds for and the rest.
    template <typename Predicate>
    static void split(Link tree, const Predicate& goes_left, Link& left, Link& right) {
        if (!tree) {
            left.reset();
            right.reset();
            return;
        }
        if (goes_left(*tree)) {
            Link rest;
            split(std::move(tree->right), goes_left, rest, right);
            tree->right = std::move(rest);
            update(*tree);
            left = std::move(tree);
        } else {
            Link rest;
            split(std::move(tree->left), goes_left, left, rest);
            tree->left = std::move(rest);
            update(*tree);
            right = std::move(tree);
        }
    }

    /// Joins two trees, every node of `left` before every node of `right`.
    static Link merge(Link left, Link right) {
        if (!left)
            return right;
        if (!right)
            return left;
        if (left->priority > right->priority) {
            left->right = merge(std::move(left->right), std::move(right));
            update(*left);
            return left;
        }
        right->left = merge(std::move(left), std::move(right->left));
        update(*right);
        return right;
    }

    template <typename Found>
    static void stab(const Node* node, std::string_view key, Found& found) {
        // Nothing below ends after the key: skip it all.
        while (node && key < node->max_end) {
            stab(node->left.get(), key, found);
            if (node->start > key)
                return; // this and everything right of it start after the key
            if (key < node->end)
                found(*node->payload);
            node = node->right.get();
        }
    }

    /// xorshift64: priorities only balance the tree, any sequence will do.
    uint64_t next_priority() {
        m_seed ^= m_seed << 13;
        m_seed ^= m_seed >> 7;
        m_seed ^= m_seed << 17;
        return m_seed;
    }

    Link m_root;
    uint64_t m_seed = 0x9e3779b97f4a7c15;
};

} // namespace detail

namespace {

using detail::RangeTree;
using detail::Shape;

/// Revisions read from the store per catch-up delivery: bounds the memory
/// one catch-up holds.
constexpr int64_t kCatchUpRevisions = 100;

/// The first key after every key with prefix `key`; empty when there is
/// none (every byte 0xff).
std::string prefix_end(std::string_view key) {
    std::string end(key);
    while (!end.empty() && uint8_t(end.back()) == 0xff)
        end.pop_back();
    if (!end.empty())
        end.back() = char(uint8_t(end.back()) + 1);
    return end;
}

Shape shape_of(std::string_view key, std::string_view range_end) {
    if (range_end.empty())
        return Shape::Key;
    if (range_end == std::string_view("\0", 1))
        return Shape::FromKey;
    if (range_end <= key)
        return Shape::Nothing;
    if (!key.empty() && range_end == prefix_end(key))
        return Shape::Prefix;
    return Shape::Range;
}

/// Removes the entry of `multimap` at `key` that holds `value`.
template <typename Multimap, typename Value>
void erase_entry(Multimap& multimap, std::string_view key, Value value) {
    auto [first, last] = multimap.equal_range(key);
    for (auto it = first; it != last; ++it) {
        if (it->second == value) {
            multimap.erase(it);
            return;
        }
    }
}

} // namespace

struct WatchHub::Watcher {
    WatchSink* sink = nullptr;
    WatchId id = 0;
    std::string key;
    /// Empty for a prefix watcher too (its end follows from the key; most
    /// range watchers are prefix watchers, so that saves a string each).
    std::string range_end;
    /// The first revision this watcher has not been given (nor skipped as
    /// before its start).
    int64_t next_revision = 0;
    PrevKv prev_kv = PrevKv::Omit;
    Shape shape = Shape::Key;
    bool no_put = false;
    bool no_delete = false;
    /// Gets live events (false: behind, catching up in resume()).
    bool live = false;

    /// etcd's range end of what it watches.
    std::string end_of_range() const {
        return shape == Shape::Prefix ? prefix_end(key) : range_end;
    }

    bool wants(const Event& event) const {
        return !(event.type == EventType::Put ? no_put : no_delete);
    }
};

struct WatchHub::SinkWatchers {
    WatchSink* sink = nullptr;
    /// By id; a map's nodes stay put, so the index may point at them.
    std::map<WatchId, Watcher> watchers;
    /// The next id to try for a watcher that asked for none.
    WatchId next_id = 0;
    /// How many of `watchers` are behind.
    size_t behind = 0;
};

/// Every watcher by what it watches. The string views point into the
/// watchers' own key strings (each watcher lives on the heap until it is
/// removed from here).
struct WatchHub::Index {
    std::unordered_multimap<std::string_view, Watcher*> keys;
    std::unordered_multimap<std::string_view, Watcher*> prefixes;
    /// Prefix length → how many prefix watchers have it.
    std::map<size_t, size_t> prefix_lengths;
    /// Watchers of every key from their key on, by that key.
    std::multimap<std::string_view, Watcher*> from_keys;
    /// Watchers of other ranges [key, range_end).
    RangeTree<Watcher> ranges;

    void add(Watcher& watcher) {
        std::string_view key = watcher.key;
        switch (watcher.shape) {
        case Shape::Key:
            keys.emplace(key, &watcher);
            break;
        case Shape::Prefix:
            prefixes.emplace(key, &watcher);
            ++prefix_lengths[key.size()];
            break;
        case Shape::FromKey:
            from_keys.emplace(key, &watcher);
            break;
        case Shape::Range:
            ranges.insert(key, watcher.range_end, &watcher);
            break;
        case Shape::Nothing:
            break;
        }
    }

    void remove(Watcher& watcher) {
        std::string_view key = watcher.key;
        switch (watcher.shape) {
        case Shape::Key:
            erase_entry(keys, key, &watcher);
            break;
        case Shape::Prefix:
            erase_entry(prefixes, key, &watcher);
            if (--prefix_lengths[key.size()] == 0)
                prefix_lengths.erase(key.size());
            break;
        case Shape::FromKey:
            erase_entry(from_keys, key, &watcher);
            break;
        case Shape::Range:
            ranges.erase(key, &watcher);
            break;
        case Shape::Nothing:
            break;
        }
    }

    /// Calls `found` with every watcher whose range holds `key`.
    template <typename Found> void match(std::string_view key, Found&& found) const {
        auto [first, last] = keys.equal_range(key);
        for (auto it = first; it != last; ++it)
            found(*it->second);
        for (auto [length, count] : prefix_lengths) {
            if (length > key.size())
                break;
            auto [from, to] = prefixes.equal_range(key.substr(0, length));
            for (auto it = from; it != to; ++it)
                found(*it->second);
        }
        // Every watcher from a key at or before `key` on holds it.
        for (auto it = from_keys.begin(); it != from_keys.end() && it->first <= key; ++it)
            found(*it->second);
        ranges.stab(key, found);
    }
};

WatchHub::WatchHub(const MvccStore& store, size_t max_pending_bytes)
    : m_store(store), m_max_pending_bytes(max_pending_bytes), m_notified(store.revision()),
      m_index(std::make_unique<Index>()) {}

WatchHub::~WatchHub() = default;

Result<WatchId> WatchHub::add(WatchSink& sink, WatchSpec spec) {
    std::unique_ptr<SinkWatchers>& entry = m_sinks[&sink];
    if (!entry) {
        entry = std::make_unique<SinkWatchers>();
        entry->sink = &sink;
    }
    SinkWatchers& watchers = *entry;
    WatchId id = spec.id;
    if (id == 0) {
        while (watchers.watchers.contains(watchers.next_id))
            ++watchers.next_id;
        id = watchers.next_id++;
    } else if (watchers.watchers.contains(id)) {
        return error("mvcc: duplicate watch ID provided on the WatchStream");
    }

    Watcher& watcher = watchers.watchers[id];
    watcher.sink = &sink;
    watcher.id = id;
    watcher.shape = shape_of(spec.key, spec.range_end);
    watcher.key = std::move(spec.key);
    if (watcher.shape != Shape::Prefix)
        watcher.range_end = std::move(spec.range_end);
    watcher.prev_kv = spec.prev_kv;
    watcher.no_put = spec.no_put;
    watcher.no_delete = spec.no_delete;
    if (spec.start_revision <= 0 || spec.start_revision > m_notified) {
        watcher.next_revision = std::max(spec.start_revision, m_notified + 1);
        watcher.live = true;
    } else {
        watcher.next_revision = spec.start_revision;
        ++watchers.behind;
    }
    m_index->add(watcher);
    ++m_watcher_count;
    return id;
}

void WatchHub::unindex(Watcher& watcher) {
    m_index->remove(watcher);
    --m_watcher_count;
}

void WatchHub::cancel(WatchSink& sink, WatchId id) {
    auto entry = m_sinks.find(&sink);
    if (entry == m_sinks.end())
        return;
    SinkWatchers& watchers = *entry->second;
    auto found = watchers.watchers.find(id);
    if (found == watchers.watchers.end())
        return;
    if (!found->second.live)
        --watchers.behind;
    unindex(found->second);
    watchers.watchers.erase(found);
}

void WatchHub::remove_sink(WatchSink& sink) {
    auto entry = m_sinks.find(&sink);
    if (entry == m_sinks.end())
        return;
    for (auto& [id, watcher] : entry->second->watchers)
        unindex(watcher);
    m_sinks.erase(entry);
}

void WatchHub::fall_behind(SinkWatchers& sink, int64_t revision) {
    for (auto& [id, watcher] : sink.watchers) {
        if (!watcher.live)
            continue;
        watcher.live = false;
        watcher.next_revision = std::max(watcher.next_revision, revision);
        ++sink.behind;
    }
}

void WatchHub::notify(std::span<const Event> events, int64_t revision) {
    m_notified = revision;
    // (watcher, event) pairs, then grouped by sink and watcher.
    std::vector<std::pair<Watcher*, uint32_t>> matches;
    for (uint32_t index = 0; index < events.size(); ++index)
        m_index->match(events[index].kv.key, [&](Watcher& watcher) {
            if (watcher.live && revision >= watcher.next_revision && watcher.wants(events[index]))
                matches.emplace_back(&watcher, index);
        });
    if (matches.empty())
        return;
    std::sort(matches.begin(), matches.end(), [](const auto& left, const auto& right) {
        if (left.first->sink != right.first->sink)
            return std::less<>()(left.first->sink, right.first->sink);
        return std::tie(left.first->id, left.second) < std::tie(right.first->id, right.second);
    });

    size_t at = 0;
    while (at < matches.size()) {
        WatchSink* sink = matches[at].first->sink;
        size_t sink_end = at;
        while (sink_end < matches.size() && matches[sink_end].first->sink == sink)
            ++sink_end;
        if (sink->pending_bytes() > m_max_pending_bytes) {
            // Too slow: no more live events; its watchers catch up from the
            // store once it drains (resume()).
            fall_behind(*m_sinks.at(sink), revision);
            at = sink_end;
            continue;
        }
        while (at < sink_end) {
            Watcher& watcher = *matches[at].first;
            std::vector<Event> batch;
            for (; at < sink_end && matches[at].first == &watcher; ++at) {
                Event event = events[matches[at].second];
                if (watcher.prev_kv == PrevKv::Omit)
                    event.prev_kv.reset();
                batch.push_back(std::move(event));
            }
            sink->deliver(watcher.id, std::move(batch), revision);
        }
    }
}

Result<bool> WatchHub::catch_up(SinkWatchers& sink, Watcher& watcher) {
    while (watcher.next_revision <= m_notified) {
        if (sink.sink->pending_bytes() > m_max_pending_bytes)
            return false;
        if (watcher.next_revision < m_store.compact_revision()) {
            // What it needs next is gone: cancel it, as etcd does.
            WatchId id = watcher.id;
            int64_t compact_revision = m_store.compact_revision();
            --sink.behind;
            unindex(watcher);
            sink.watchers.erase(id);
            sink.sink->compacted(id, compact_revision);
            return true;
        }
        int64_t end = std::min(m_notified, watcher.next_revision + kCatchUpRevisions - 1);
        std::vector<Event> events =
            TRY_CTX(m_store.events_since(watcher.key, watcher.end_of_range(), watcher.next_revision,
                                         watcher.prev_kv, end),
                    "catch up watcher " + std::to_string(watcher.id));
        std::erase_if(events, [&](const Event& event) { return !watcher.wants(event); });
        watcher.next_revision = end + 1;
        if (!events.empty())
            sink.sink->deliver(watcher.id, std::move(events), m_notified);
    }
    watcher.live = true;
    --sink.behind;
    return true;
}

Result<void> WatchHub::resume(WatchSink& sink) {
    auto entry = m_sinks.find(&sink);
    if (entry == m_sinks.end())
        return {};
    SinkWatchers& watchers = *entry->second;
    std::vector<WatchId> behind;
    for (const auto& [id, watcher] : watchers.watchers)
        if (!watcher.live)
            behind.push_back(id);
    for (WatchId id : behind) {
        auto found = watchers.watchers.find(id);
        if (found == watchers.watchers.end())
            continue;
        if (!TRY(catch_up(watchers, found->second)))
            break;
    }
    return {};
}

void WatchHub::restored() {
    for (auto& [sink, watchers] : m_sinks)
        fall_behind(*watchers, m_notified + 1);
    m_notified = m_store.revision();
}

std::optional<int64_t> WatchHub::progress(const WatchSink& sink) const {
    auto entry = m_sinks.find(&sink);
    if (entry != m_sinks.end() && entry->second->behind > 0)
        return std::nullopt;
    return m_notified;
}

std::optional<int64_t> WatchHub::progress(const WatchSink& sink, WatchId id) const {
    auto entry = m_sinks.find(&sink);
    if (entry == m_sinks.end())
        return std::nullopt;
    auto found = entry->second->watchers.find(id);
    if (found == entry->second->watchers.end() || !found->second.live)
        return std::nullopt;
    return m_notified;
}

size_t WatchHub::behind(const WatchSink& sink) const {
    auto entry = m_sinks.find(&sink);
    return entry == m_sinks.end() ? 0 : entry->second->behind;
}

} // namespace keel::kv
