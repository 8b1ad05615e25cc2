// init's control socket: protobuf requests over SOCK_SEQPACKET at
// /run/keel/init.sock, one request and one response per connection.
// The server runs on init's reactor and never blocks it.
#pragma once

#include "base/fd.h"
#include "base/reactor.h"
#include "base/result.h"
#include "proto/control.pb.h"

#include <functional>
#include <memory>
#include <string>
#include <sys/socket.h>

namespace keel {

inline constexpr const char* kDefaultControlSocket = "/run/keel/init.sock";

/// The socket path: $KEEL_CONTROL_SOCKET, else the default.
std::string control_socket_path();

/// Handles one request from a peer with the given credentials.
using ControlHandler =
    std::function<control::Response(const control::Request&, const struct ucred& peer)>;

class ControlServer {
public:
    /// Listens at `path` and serves requests on `reactor`.
    static Result<std::unique_ptr<ControlServer>> start(Reactor& reactor, const std::string& path,
                                                        ControlHandler handler);
    ~ControlServer();

private:
    ControlServer(Reactor& reactor, ControlHandler handler)
        : m_reactor(reactor), m_handler(std::move(handler)) {}
    void accept_client();
    void serve_client(int fd);
    void drop_client(int fd);

    Reactor& m_reactor;
    ControlHandler m_handler;
    Fd m_listener;
    std::string m_path;
    struct Client {
        Fd fd;
        Reactor::TimerId timeout;
    };
    std::map<int, Client> m_clients;
};

/// Sends one request to init and returns its response.
Result<control::Response> call_init(const control::Request& request,
                                    const std::string& path = control_socket_path());

/// True when `peer` may use read-only verbs: root, or a member of the
/// `keel` group (from /etc/group).
bool may_read(const struct ucred& peer);

} // namespace keel
