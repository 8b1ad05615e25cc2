// Fuzz target for kv/raft.h: a member fed messages it cannot trust (they
// come from the network), mixed with ticks, proposals, reads, compaction
// and Ready cycles. Whatever arrives, it must not crash, its commit index
// must never go back, and the entries it hands out to apply must follow one
// another.
//
// Each operation is one byte (its kind) followed by the bytes it consumes;
// messages take small numbers most of the time, so that they land near the
// member's real log and terms, and sometimes huge ones.
#include "kv/raft.h"
#include "tests/fuzz/fuzz_check.h"

#include <cstdint>
#include <string>

using namespace keel;
using namespace keel::kv;

namespace {

class Reader {
public:
    Reader(const uint8_t* data, size_t size) : m_data(data), m_size(size) {}
    bool empty() const { return m_at >= m_size; }
    uint8_t byte() { return m_at < m_size ? m_data[m_at++] : 0; }
    uint64_t number() {
        uint8_t b = byte();
        if (b == 0xff) {
            uint64_t v = 0;
            for (int i = 0; i < 8; ++i)
                v = v << 8 | byte();
            return v;
        }
        return b % 24;
    }

private:
    const uint8_t* m_data;
    size_t m_size;
    size_t m_at = 0;
};

Message read_message(Reader& in) {
    Message m;
    m.type = MessageType(in.byte() % 15);
    m.from = in.byte() % 5;
    m.to = in.byte() % 8 == 0 ? 2 : 1;
    m.term = in.number();
    m.log_term = in.number();
    m.index = in.number();
    m.commit = in.number();
    m.reject_hint = in.number();
    m.reject = in.byte() & 1;
    m.campaign = CampaignKind(in.byte() % 3);
    size_t entries = in.byte() % 4;
    for (size_t i = 0; i < entries; ++i) {
        Entry e;
        e.term = in.number();
        e.index = in.byte() & 1 ? m.index + 1 + i : in.number();
        e.type = EntryType(in.byte() % 3);
        e.data = std::string(in.byte() % 4, 'x');
        m.entries.push_back(std::move(e));
    }
    if (m.type == MessageType::Snapshot) {
        m.snapshot.meta.index = in.number();
        m.snapshot.meta.term = in.number();
        for (uint8_t ids = in.byte() % 4, id = 1; id <= ids; ++id)
            m.snapshot.meta.conf.voters.push_back(id);
    }
    m.context = std::string(in.byte() % 3, 'c');
    return m;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    Reader in(data, size);
    RaftNode node(RaftConfig{.id = 1, .election_ticks = 3, .max_size_per_msg = 4, .seed = 1},
                  RestoreState{.initial = ConfState{{1, 2, 3}, {4}}});
    Index commit = 0;
    Index applied = 0;
    for (int op = 0; op < 200 && !in.empty(); ++op) {
        switch (in.byte() % 8) {
        case 0:
            node.tick();
            break;
        case 1:
        case 2:
            (void)node.step(read_message(in));
            break;
        case 3:
            (void)node.propose(std::string(in.byte() % 8, 'p'));
            break;
        case 4:
            (void)node.compact(in.number(), "snapshot");
            break;
        case 5:
            (void)node.read_index(std::string(1 + in.byte() % 2, 'r'));
            break;
        case 6:
            (void)node.propose_conf_change(
                ConfChange{ConfChangeType(in.byte() % 5), NodeId(in.byte() % 6), {}});
            break;
        case 7:
            (void)node.transfer_leadership(in.byte() % 5);
            break;
        }
        RaftStatus status = node.status();
        FUZZ_CHECK(status.commit >= commit);
        commit = status.commit;
        if (in.byte() & 1) {
            Ready ready = node.ready();
            if (ready.snapshot)
                applied = ready.snapshot->meta.index;
            for (const Entry& e : ready.committed) {
                FUZZ_CHECK(e.index == applied + 1);
                applied = e.index;
            }
            node.advance(ready);
        }
    }
    return 0;
}
