// What makes a Raft message from the network acceptable before any state
// looks at it: addressed to this member, from a member id, a known type,
// and entries that are contiguous and not from the future.
#include "base/strings.h"
#include "kv/raft_state.h"

namespace keel::kv {

namespace {

bool known_entry_type(EntryType type) {
    return type == EntryType::Normal || type == EntryType::ConfChange;
}

// No real log or term comes near this; refusing larger values keeps index
// arithmetic (index + count, last + 1) from overflowing.
constexpr uint64_t kLargestPosition = uint64_t(1) << 62;

bool positions_plausible(const Message& m) {
    for (uint64_t v : {m.term, m.log_term, m.index, m.commit, m.reject_hint, m.snapshot.meta.index,
                       m.snapshot.meta.term})
        if (v >= kLargestPosition)
            return false;
    for (const Entry& e : m.entries)
        if (e.index >= kLargestPosition || e.term >= kLargestPosition)
            return false;
    return m.entries.size() < kLargestPosition - m.index;
}

} // namespace

Result<void> validate_message(const Message& m, NodeId self) {
    std::string_view type = kMessageTypeNames.name(m.type);
    if (type == "?")
        return error(cat("raft message type ", int(m.type), " is unknown"));
    std::string what = cat("raft ", type, " from ", m.from);
    if (m.to != self)
        return error(cat(what, ": addressed to ", m.to, ", not ", self));
    if (m.from == 0 || m.from == self)
        return error(cat(what, ": impossible sender"));
    if (!positions_plausible(m))
        return error(cat(what, ": an index or term beyond any real log"));
    if (kCampaignKindNames.name(m.campaign) == "?")
        return error(cat(what, ": unknown campaign kind ", int(m.campaign)));
    bool needs_term = m.type != MessageType::Propose && m.type != MessageType::ReadIndex;
    if (needs_term && m.term == 0)
        return error(cat(what, ": term 0"));
    if (!needs_term && m.term != 0)
        return error(cat(what, ": a forwarded request carries no term"));
    switch (m.type) {
    case MessageType::Append: {
        for (size_t i = 0; i < m.entries.size(); ++i) {
            const Entry& e = m.entries[i];
            if (e.index != m.index + 1 + i)
                return error(cat(what, ": entry ", i, " has index ", e.index, ", expected ",
                                 m.index + 1 + i));
            Term previous = i == 0 ? m.log_term : m.entries[i - 1].term;
            if (e.term < previous || e.term > m.term)
                return error(cat(what, ": entry ", e.index, " has term ", e.term, " out of order"));
            if (!known_entry_type(e.type))
                return error(cat(what, ": entry ", e.index, " has an unknown type"));
        }
        if (m.log_term > m.term)
            return error(cat(what, ": previous term ", m.log_term, " after term ", m.term));
        if (m.index == 0 && m.log_term != 0)
            return error(cat(what, ": index 0 with term ", m.log_term));
        break;
    }
    case MessageType::Propose:
        if (m.entries.empty())
            return error(cat(what, ": no entries"));
        for (const Entry& e : m.entries)
            if (!known_entry_type(e.type))
                return error(cat(what, ": an entry of unknown type"));
        break;
    case MessageType::Vote:
    case MessageType::PreVote:
        if (m.log_term > m.term)
            return error(cat(what, ": last log term ", m.log_term, " after term ", m.term));
        break;
    case MessageType::Snapshot:
        if (m.snapshot.meta.index == 0 || m.snapshot.meta.term == 0 ||
            m.snapshot.meta.term > m.term)
            return error(cat(what, ": snapshot at ", m.snapshot.meta.index, " term ",
                             m.snapshot.meta.term, " is impossible"));
        if (m.snapshot.meta.conf.voters.empty())
            return error(cat(what, ": snapshot without voters"));
        break;
    default:
        if (!m.entries.empty())
            return error(cat(what, ": unexpected entries"));
        break;
    }
    return {};
}

} // namespace keel::kv
