// Error: errno (or keel's own code) plus a chain of context.
#include "base/result.h"

#include <cstring>

namespace keel {

Error Error::from_errno(int code, std::string what) {
    Error e;
    e.m_code = code;
    e.m_chain.push_back(std::move(what));
    return e;
}

Error Error::message(std::string what) {
    return from_errno(0, std::move(what));
}

Error Error::from_code(ErrorCode code, std::string what) {
    return from_errno(int(code), std::move(what));
}

Error& Error::wrap(std::string context) & {
    m_chain.push_back(std::move(context));
    return *this;
}

Error&& Error::wrap(std::string context) && {
    m_chain.push_back(std::move(context));
    return std::move(*this);
}

std::string Error::to_string() const {
    std::string out;
    for (auto it = m_chain.rbegin(); it != m_chain.rend(); ++it) {
        if (!out.empty())
            out += ": ";
        out += *it;
    }
    if (m_code > 0) {
        out += ": ";
        out += std::strerror(m_code);
    }
    return out;
}

} // namespace keel
