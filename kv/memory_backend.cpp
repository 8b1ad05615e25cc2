// The in-memory Backend (kv/mvcc_backend.h): a std::map. Commits apply in
// full or not at all (a commit cannot fail halfway in memory).
#include "kv/mvcc_backend.h"

#include <map>

namespace keel::kv {

namespace {

class MemoryBackend final : public Backend {
public:
    Result<std::optional<std::string>> get(std::string_view key) const override {
        auto found = m_data.find(key);
        if (found == m_data.end())
            return std::optional<std::string>();
        return std::optional<std::string>(found->second);
    }

    Result<void> scan(std::string_view from, std::string_view to,
                      const ScanVisitor& visit) const override {
        for (auto it = m_data.lower_bound(from); it != m_data.end(); ++it) {
            if (!to.empty() && std::string_view(it->first) >= to)
                break;
            if (visit(it->first, it->second) == ScanStep::Stop)
                break;
        }
        return {};
    }

    Result<void> commit(std::span<const BackendWrite> writes) override {
        for (const BackendWrite& write : writes) {
            auto old = m_data.find(write.key);
            if (old != m_data.end()) {
                m_bytes -= old->first.size() + old->second.size();
                m_data.erase(old);
            }
            if (write.kind == BackendWrite::Kind::Put) {
                m_bytes += write.key.size() + write.value.size();
                m_data.emplace(write.key, write.value);
            }
        }
        return {};
    }

    /// The keys' and values' bytes.
    Result<uint64_t> size_in_use() const override { return m_bytes; }

private:
    // std::string's operator< is memcmp order, as the interface promises.
    std::map<std::string, std::string, std::less<>> m_data;
    uint64_t m_bytes = 0;
};

} // namespace

std::unique_ptr<Backend> make_memory_backend() {
    return std::make_unique<MemoryBackend>();
}

} // namespace keel::kv
