// What keel's gRPC client (grpc_client.cpp) and server (grpc_server.cpp)
// share of nghttp2: header entries made from string views, and the C
// callbacks that hand a session's events to the connection object
// registered as its user data.
#pragma once

#include <nghttp2/nghttp2.h>

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <sys/types.h>

namespace keel::kv {

/// A header for nghttp2_submit_*(): nghttp2 copies names and values (no
/// NO_COPY flags), so the views need only live until the call returns.
inline nghttp2_nv http2_header(std::string_view name, std::string_view value) {
    return nghttp2_nv{reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
                      reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(),
                      value.size(), NGHTTP2_NV_FLAG_NONE};
}

/// nghttp2's callbacks for a session whose user data is a `Connection`:
/// each passes the event on to the member of the same name, with bytes as
/// string views. Only the callbacks a session registers are instantiated.
template <typename Connection> struct Http2Callbacks {
    static Connection& of(void* user_data) { return *static_cast<Connection*>(user_data); }

    static int begin_headers(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
        return of(user_data).on_begin_headers(*frame);
    }
    static int header(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name,
                      size_t name_length, const uint8_t* value, size_t value_length, uint8_t,
                      void* user_data) {
        return of(user_data).on_header(
            *frame, std::string_view(reinterpret_cast<const char*>(name), name_length),
            std::string_view(reinterpret_cast<const char*>(value), value_length));
    }
    static int frame_recv(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
        return of(user_data).on_frame_recv(*frame);
    }
    static int data_chunk(nghttp2_session*, uint8_t, int32_t stream_id, const uint8_t* data,
                          size_t length, void* user_data) {
        return of(user_data).on_data_chunk(
            stream_id, std::string_view(reinterpret_cast<const char*>(data), length));
    }
    static int stream_close(nghttp2_session*, int32_t stream_id, uint32_t error_code,
                            void* user_data) {
        return of(user_data).on_stream_close(stream_id, error_code);
    }
    static int frame_send(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
        return of(user_data).on_frame_send(*frame);
    }
    static ssize_t data_read(nghttp2_session*, int32_t stream_id, uint8_t* buffer, size_t length,
                             uint32_t* flags, nghttp2_data_source*, void* user_data) {
        return of(user_data).read_data(stream_id, buffer, length, flags);
    }
};

} // namespace keel::kv
