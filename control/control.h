// The client of init's control socket: protobuf requests over SOCK_SEQPACKET
// at /run/keel/init.sock, one request per connection, answered by one
// response or by a stream of them that ends when init closes the connection.
// The CLI reaches init only through this; the server is init's
// (init/control_server.h). Also the rule both sides share for what a unit
// name on the command line means.
#pragma once

#include "base/fd.h"
#include "base/result.h"
#include "proto/control.pb.h"

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace keel {

inline constexpr const char* kDefaultControlSocket = "/run/keel/init.sock";

/// The largest frame on the control socket, either way: a response as large
/// as list-units of a few thousand units. The server sends nothing larger,
/// the client reads nothing larger.
inline constexpr std::size_t kMaxControlFrame = 1u << 20;

/// The socket path: $KEEL_CONTROL_SOCKET, else the default.
std::string control_socket_path();

/// The unit a name on the command line means, as systemctl reads it: "web"
/// is web.service; a name with a dot ("web.service", "multi-user.target")
/// is kept as it is, and so are "kernel" and "keel", the journal's names
/// for the kernel's and init's own lines; an empty name stays empty.
std::string unit_name_argument(std::string_view name);

/// One request on its own connection to init: sent when the connection is
/// made, its response (or responses, for a stream) read later, so several
/// requests can be in flight at once.
class ControlConnection {
public:
    /// Connects to init at `path` and sends `request`. Errors say whether
    /// init could not be reached or the request not sent.
    static Result<ControlConnection> send(const control::Request& request,
                                          const std::string& path = control_socket_path());

    /// Waits for the next response. Once init has closed the connection (after
    /// the last response of a stream, or without answering) the error is one
    /// for which is_connection_closed() (base/framing.h) holds.
    Result<control::Response> receive();

private:
    explicit ControlConnection(Fd fd) : m_fd(std::move(fd)) {}
    Fd m_fd;
};

/// Sends one request to init and returns its response.
Result<control::Response> call_init(const control::Request& request,
                                    const std::string& path = control_socket_path());

/// call_init() for a request that must succeed: a response that says it
/// failed is an error carrying init's message.
Result<control::Response> ask_init(const control::Request& request);

/// Sends one request and hands each response to `on_response` until init
/// closes the connection or `on_response` returns false.
Result<void> call_init_stream(const control::Request& request,
                              const std::function<bool(const control::Response&)>& on_response,
                              const std::string& path = control_socket_path());

} // namespace keel
