// Errors and results: every fallible call in keel returns Result<T>.
//
// An Error carries the errno that caused it (0 when none), or one of keel's
// own ErrorCodes, and a chain of context, innermost first. Callers wrap it on
// the way up, so a failure reads like "start unit `web`: mount `/proc`:
// Permission denied", and tell errors apart by code, never by that text.
#pragma once

#include <cerrno>
#include <expected>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace keel {

/// keel's own error codes: conditions that are no failed syscall but that
/// callers must tell apart from other errors. Negative, so none is ever
/// taken for an errno value; kept in this one list, so no two share a value.
enum class ErrorCode : int {
    /// The peer closed the connection cleanly (base/framing.h's
    /// is_connection_closed()).
    ConnectionClosed = -1,
    /// Data on disk failed its checks (a checksum, a record's framing): it
    /// was damaged after it was written, so it is refused, not repaired.
    DataCorrupt = -2,
    /// A data directory belongs to another cluster or member than the one
    /// that opened it.
    ForeignDataDir = -3,
    /// A Raft member knows no leader to take a proposal or a read (the KV
    /// answers "etcdserver: no leader").
    NoLeader = -4,
    /// A Raft leader refused a proposal: a leadership transfer is under way,
    /// or a membership change is not allowed yet (the caller retries).
    ProposalDropped = -5,
    /// A proposal or a linearizable read was not answered in time (etcd's
    /// "etcdserver: request timed out", gRPC Unavailable).
    RequestTimedOut = -6,
    /// The KV server is shutting down and answers nothing more
    /// ("etcdserver: server stopped", gRPC Unavailable).
    ServerStopped = -7,
    /// A Raft leader refused to promote a learner whose log is not close
    /// enough to its own ("etcdserver: can only promote a learner member
    /// which is in sync with leader").
    LearnerNotReady = -8,
    /// The container runtime: no container has that id (its record is not
    /// there, or went while it was being looked at).
    NoSuchContainer = -9,
    /// The MVCC store (kv/mvcc.h): a revision at or below the compaction
    /// point was asked for (etcd's "mvcc: required revision has been
    /// compacted", gRPC OutOfRange).
    RevisionCompacted = -20,
    /// The MVCC store: a revision after the current one was asked for
    /// ("mvcc: required revision is a future revision", OutOfRange).
    FutureRevision = -21,
    /// The MVCC store: a put with ignore_value or ignore_lease names a key
    /// that does not exist ("etcdserver: key not found", InvalidArgument).
    KeyNotFound = -22,
    /// The MVCC store: a txn's branch puts one key twice, or puts a key it
    /// also deletes ("etcdserver: duplicate key given in txn request",
    /// InvalidArgument).
    DuplicateKey = -23,
    /// Leases (kv/lessor.h): no lease with that id ("etcdserver: requested
    /// lease not found", gRPC NotFound).
    LeaseNotFound = -24,
    /// Leases: a grant named an id that is taken ("etcdserver: lease already
    /// exists", gRPC FailedPrecondition).
    LeaseExists = -25,
    /// Leases: a TTL beyond the maximum ("etcdserver: too large lease TTL",
    /// gRPC OutOfRange).
    LeaseTtlTooLarge = -26,
};

class Error {
public:
    /// An error caused by a failed syscall: `code` is the errno, `what` says
    /// what was being done ("open `/etc/hostname`").
    static Error from_errno(int code, std::string what);
    /// An error with no errno behind it (bad input, a broken invariant).
    static Error message(std::string what);
    /// An error that is one of keel's own conditions: code() returns `code`
    /// (negative), and to_string() shows `what` with no errno text.
    static Error from_code(ErrorCode code, std::string what);

    /// The errno behind this error, a (negative) ErrorCode, or 0. Wrapping
    /// keeps it.
    int code() const { return m_code; }
    /// Adds an outer layer of context.
    Error& wrap(std::string context) &;
    Error&& wrap(std::string context) &&;
    /// The innermost message, without context or errno text.
    const std::string& root() const { return m_chain.front(); }
    /// "outer: inner: strerror(code)" (no strerror for 0 or an ErrorCode).
    std::string to_string() const;

private:
    int m_code = 0;
    std::vector<std::string> m_chain; // innermost first, never empty
};

template <typename T> using Result = std::expected<T, Error>;

namespace detail {
// libc++ before 18 may keep std::expected's "has value" flag in the tail
// padding of T (LLVM #70494); constructing T can then overwrite it, and a
// success reads as a garbage error. The musl and fuzz builds use libc++ 16,
// so every Result that goes through TRY is checked there: the flag must sit
// outside T. (An alias cannot check: Result<T> is named while T is incomplete.)
template <typename R> constexpr void check_result_layout() {
#if defined(_LIBCPP_VERSION) && _LIBCPP_VERSION < 180000
    using T = typename R::value_type;
    if constexpr (!std::is_void_v<T>)
        static_assert(sizeof(R) > (sizeof(T) > sizeof(Error) ? sizeof(T) : sizeof(Error)),
                      "Result<T>: libc++ 16 keeps std::expected's flag in T's tail padding; give T "
                      "an explicit trailing field or reorder its members");
#endif
}
} // namespace detail

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
        keel::detail::check_result_layout<std::remove_cvref_t<decltype(keel_try_result_)>>();      \
        if (!keel_try_result_)                                                                     \
            return std::unexpected(std::move(keel_try_result_).error());                           \
        std::move(keel_try_result_).value();                                                       \
    })

/// Like TRY, but wraps the error in one more layer of context first.
#define TRY_CTX(expr, context)                                                                     \
    ({                                                                                             \
        auto&& keel_try_result_ = (expr);                                                          \
        keel::detail::check_result_layout<std::remove_cvref_t<decltype(keel_try_result_)>>();      \
        if (!keel_try_result_)                                                                     \
            return std::unexpected(std::move(keel_try_result_).error().wrap(context));             \
        std::move(keel_try_result_).value();                                                       \
    })
