// init's control socket, the server side: protobuf requests over
// SOCK_SEQPACKET at /run/keel/init.sock, one request per connection, answered
// by one response or (for `keel logs -f`, or a start that waits for its job)
// by responses sent later on the same connection. The server runs on init's
// reactor and never blocks it: replies are queued per client, and a client
// that stops reading while its queue grows past a bound is dropped, not
// waited for. The client is control/control.h.
#pragma once

#include "base/fd.h"
#include "base/reactor.h"
#include "base/result.h"
#include "proto/control.pb.h"

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <sys/socket.h>

namespace keel {

/// Handles one request from a peer with the given credentials.
using ControlHandler =
    std::function<control::Response(const control::Request&, const struct ucred& peer)>;

/// The connection of one client whose request is being answered, for
/// handlers that answer later or stream several responses. The server's
/// connections implement it; tests of the handlers record what is sent.
class ControlReply {
public:
    virtual ~ControlReply() = default;
    /// Queues one Response. False when the connection is gone: the client
    /// hung up, or was dropped for not reading what was queued for it.
    virtual bool send(const control::Response& response) = 0;
    /// Queues the last Response; the connection closes once it is written.
    virtual void finish(const control::Response& response) = 0;
    /// Closes once what is queued is written (the end of a stream).
    virtual void close() = 0;
    /// False once the connection has ended.
    virtual bool open() const = 0;
    /// Runs once when the connection ends, for whatever reason.
    virtual void on_close(std::function<void()> callback) = 0;
};
using ControlReplyPtr = std::shared_ptr<ControlReply>;

/// Handles one request; answers through `reply`, now or later.
using AsyncControlHandler =
    std::function<void(const control::Request&, const struct ucred& peer, ControlReplyPtr reply)>;

class ControlServer {
public:
    /// Listens at `path` and serves requests on `reactor`.
    static Result<std::unique_ptr<ControlServer>> start(Reactor& reactor, const std::string& path,
                                                        ControlHandler handler);
    static Result<std::unique_ptr<ControlServer>> start(Reactor& reactor, const std::string& path,
                                                        AsyncControlHandler handler);
    ~ControlServer();

    /// Bytes queued for one client before it counts as not reading.
    static constexpr std::size_t kMaxQueued = 4u << 20;

private:
    class Connection; // a client's ControlReply
    ControlServer(Reactor& reactor, AsyncControlHandler handler)
        : m_reactor(reactor), m_handler(std::move(handler)) {}
    void accept_client();
    void serve_client(int fd, uint32_t events);
    void read_request(int fd);
    bool queue(int fd, const control::Response& response);
    void flush(int fd);
    void close_after_flush(int fd);
    void drop_client(int fd);

    Reactor& m_reactor;
    AsyncControlHandler m_handler;
    Fd m_listener;
    std::string m_path;
    struct Client {
        Fd fd;
        Reactor::TimerId timeout = 0;
        bool requested = false; // the request was read; only replies from now on
        bool closing = false;   // close once the queue is written
        std::deque<std::string> queue;
        std::size_t queued = 0;
        std::shared_ptr<Connection> reply;
    };
    std::map<int, Client> m_clients;
};

/// True when `peer` may use read-only verbs: root, or a member of the
/// `keel` group (from /etc/group).
bool may_read(const struct ucred& peer);

} // namespace keel
