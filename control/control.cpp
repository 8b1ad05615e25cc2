// The control socket client: the socket path, the unit-name rule, one
// connection per request, and the one-shot and streaming calls built on it.
#include "control/control.h"

#include "base/framing.h"
#include "base/sys.h"

#include <cstdlib>
#include <sys/socket.h>

namespace keel {

std::string control_socket_path() {
    const char* path = std::getenv("KEEL_CONTROL_SOCKET");
    return path && *path ? path : kDefaultControlSocket;
}

std::string unit_name_argument(std::string_view name) {
    if (name.empty() || name.find('.') != std::string_view::npos || name == "kernel" ||
        name == "keel")
        return std::string(name);
    return std::string(name) + ".service";
}

Result<ControlConnection> ControlConnection::send(const control::Request& request,
                                                  const std::string& path) {
    Fd fd = TRY_CTX(unix_connect(path, SOCK_SEQPACKET), "reach init (is keel running as init?)");
    TRY_CTX(write_message(fd.get(), request, Transport::Seqpacket, kMaxControlFrame),
            "send request to init");
    return ControlConnection(std::move(fd));
}

Result<control::Response> ControlConnection::receive() {
    return TRY_CTX(
        read_message<control::Response>(m_fd.get(), Transport::Seqpacket, kMaxControlFrame),
        "read init's response");
}

Result<control::Response> call_init(const control::Request& request, const std::string& path) {
    ControlConnection connection = TRY(ControlConnection::send(request, path));
    return connection.receive();
}

Result<control::Response> ask_init(const control::Request& request) {
    control::Response response = TRY(call_init(request));
    if (!response.ok())
        return error(response.error());
    return response;
}

Result<void> call_init_stream(const control::Request& request,
                              const std::function<bool(const control::Response&)>& on_response,
                              const std::string& path) {
    ControlConnection connection = TRY(ControlConnection::send(request, path));
    for (;;) {
        auto response = connection.receive();
        if (!response) {
            if (is_connection_closed(response.error()))
                return {}; // the end of the stream
            return std::unexpected(std::move(response).error());
        }
        if (!on_response(*response))
            return {};
    }
}

} // namespace keel
