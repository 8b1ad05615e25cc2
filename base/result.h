// Errors and results: every fallible call in keel returns Result<T>.
//
// An Error carries the errno that caused it (0 when none) and a chain of
// context, innermost first. Callers wrap it on the way up, so a failure reads
// like "start unit `web`: mount `/proc`: Permission denied".
#pragma once

#include <cerrno>
#include <expected>
#include <string>
#include <utility>
#include <vector>

namespace keel {

class Error {
public:
    /// An error caused by a failed syscall: `code` is the errno, `what` says
    /// what was being done ("open `/etc/hostname`").
    static Error from_errno(int code, std::string what);
    /// An error with no errno behind it (bad input, a broken invariant).
    static Error message(std::string what);

    /// The errno behind this error, or 0.
    int code() const { return m_code; }
    /// Adds an outer layer of context.
    Error& wrap(std::string context) &;
    Error&& wrap(std::string context) &&;
    /// The innermost message, without context or errno text.
    const std::string& root() const { return m_chain.front(); }
    /// "outer: inner: strerror(code)".
    std::string to_string() const;

private:
    int m_code = 0;
    std::vector<std::string> m_chain; // innermost first, never empty
};

template <typename T> using Result = std::expected<T, Error>;

/// An error result built from the current errno.
inline std::unexpected<Error> errno_error(std::string what) {
    return std::unexpected(Error::from_errno(errno, std::move(what)));
}
/// An error result with an explicit errno.
inline std::unexpected<Error> errno_error(int code, std::string what) {
    return std::unexpected(Error::from_errno(code, std::move(what)));
}
/// An error result with no errno.
inline std::unexpected<Error> error(std::string what) {
    return std::unexpected(Error::message(std::move(what)));
}

} // namespace keel

/// Evaluates a Result; on error returns it from the enclosing function,
/// otherwise yields the value.
#define TRY(expr)                                                                                  \
    ({                                                                                             \
        auto&& keel_try_result_ = (expr);                                                          \
        if (!keel_try_result_)                                                                     \
            return std::unexpected(std::move(keel_try_result_).error());                           \
        std::move(keel_try_result_).value();                                                       \
    })

/// Like TRY, but wraps the error in one more layer of context first.
#define TRY_CTX(expr, context)                                                                     \
    ({                                                                                             \
        auto&& keel_try_result_ = (expr);                                                          \
        if (!keel_try_result_)                                                                     \
            return std::unexpected(std::move(keel_try_result_).error().wrap(context));             \
        std::move(keel_try_result_).value();                                                       \
    })
