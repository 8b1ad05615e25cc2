// The gRPC message prefix, grpc-message's percent-encoding and grpc-timeout
// (see kv/grpc_frame.h). The status texts follow grpc-go's, which etcd's
// clients print as they are.
#include "kv/grpc_frame.h"

#include "base/strings.h"

#include <algorithm>
#include <array>
#include <cstdint>

namespace keel::kv {

namespace {

enum class CompressedFlag : uint8_t { Identity = 0, Compressed = 1 };

constexpr std::string_view kHexDigits = "0123456789ABCDEF";

} // namespace

std::string encode_grpc_message(std::string_view message) {
    std::string out;
    out.reserve(kGrpcPrefixSize + message.size());
    auto length = uint32_t(message.size());
    out += char(CompressedFlag::Identity);
    out += char(length >> 24);
    out += char((length >> 16) & 0xff);
    out += char((length >> 8) & 0xff);
    out += char(length & 0xff);
    out += message;
    return out;
}

void GrpcMessageDecoder::feed(std::string_view bytes) {
    if (m_failure)
        return;
    if (m_consumed > 0) {
        m_buffer.erase(0, m_consumed);
        m_consumed = 0;
    }
    m_buffer += bytes;
}

GrpcResult<std::optional<std::string>> GrpcMessageDecoder::next() {
    if (m_failure)
        return std::unexpected(*m_failure);
    std::string_view rest = std::string_view(m_buffer).substr(m_consumed);
    if (rest.size() < kGrpcPrefixSize)
        return std::nullopt;
    auto flag = uint8_t(rest[0]);
    uint64_t length = (uint64_t(uint8_t(rest[1])) << 24) | (uint64_t(uint8_t(rest[2])) << 16) |
                      (uint64_t(uint8_t(rest[3])) << 8) | uint64_t(uint8_t(rest[4]));
    if (flag == uint8_t(CompressedFlag::Compressed))
        m_failure = GrpcStatus{GrpcCode::Internal,
                               "grpc: compressed flag set with identity or empty encoding"};
    else if (flag != uint8_t(CompressedFlag::Identity))
        m_failure = GrpcStatus{GrpcCode::Internal,
                               cat("grpc: received unexpected payload format ", unsigned(flag))};
    else if (length > m_max)
        m_failure =
            GrpcStatus{GrpcCode::ResourceExhausted, cat("grpc: received message larger than max (",
                                                        length, " vs. ", m_max, ")")};
    if (m_failure) {
        m_buffer.clear();
        m_consumed = 0;
        return std::unexpected(*m_failure);
    }
    if (rest.size() - kGrpcPrefixSize < length)
        return std::nullopt;
    std::string message(rest.substr(kGrpcPrefixSize, size_t(length)));
    m_consumed += kGrpcPrefixSize + size_t(length);
    return message;
}

GrpcResult<void> GrpcMessageDecoder::finish() const {
    if (m_failure)
        return std::unexpected(*m_failure);
    if (buffered() != 0)
        return std::unexpected(
            GrpcStatus{GrpcCode::Internal, cat("grpc: stream ended inside a message (", buffered(),
                                               " bytes of an unfinished message)")});
    return {};
}

std::string percent_encode_grpc_message(std::string_view message) {
    std::string out;
    out.reserve(message.size());
    for (char c : message) {
        auto byte = uint8_t(c);
        if (byte >= 0x20 && byte <= 0x7e && c != '%') {
            out += c;
            continue;
        }
        out += '%';
        out += kHexDigits[byte >> 4];
        out += kHexDigits[byte & 0xf];
    }
    return out;
}

std::string percent_decode_grpc_message(std::string_view encoded) {
    std::string out;
    out.reserve(encoded.size());
    for (size_t i = 0; i < encoded.size(); ++i) {
        if (encoded[i] == '%' && i + 2 < encoded.size()) {
            int high = hex_digit_value(encoded[i + 1]);
            int low = hex_digit_value(encoded[i + 2]);
            if (high >= 0 && low >= 0) {
                out += char((high << 4) | low);
                i += 2;
                continue;
            }
        }
        out += encoded[i];
    }
    return out;
}

std::optional<std::chrono::nanoseconds> parse_grpc_timeout(std::string_view text) {
    if (text.size() < 2 || text.size() > 9)
        return std::nullopt;
    std::string_view digits = text.substr(0, text.size() - 1);
    uint64_t value = 0;
    for (char c : digits) {
        if (c < '0' || c > '9')
            return std::nullopt;
        value = value * 10 + uint64_t(c - '0');
    }
    // At most 99999999 hours: ~3.6e20 ns overflows int64, so saturate.
    using std::chrono::nanoseconds;
    constexpr int64_t kMax = INT64_MAX;
    auto scaled = [&](int64_t unit_ns) -> nanoseconds {
        if (value > uint64_t(kMax / unit_ns))
            return nanoseconds(kMax);
        return nanoseconds(int64_t(value) * unit_ns);
    };
    switch (text.back()) {
    case 'H':
        return scaled(3'600'000'000'000);
    case 'M':
        return scaled(60'000'000'000);
    case 'S':
        return scaled(1'000'000'000);
    case 'm':
        return scaled(1'000'000);
    case 'u':
        return scaled(1'000);
    case 'n':
        return scaled(1);
    default:
        return std::nullopt;
    }
}

std::string format_grpc_timeout(std::chrono::nanoseconds timeout) {
    constexpr int64_t kMaxDigits = 99'999'999;
    struct Unit {
        int64_t ns;
        char suffix;
    };
    constexpr std::array<Unit, 6> kUnits{{{1, 'n'},
                                          {1'000, 'u'},
                                          {1'000'000, 'm'},
                                          {1'000'000'000, 'S'},
                                          {60'000'000'000, 'M'},
                                          {3'600'000'000'000, 'H'}}};
    int64_t ns = std::max<int64_t>(timeout.count(), 0);
    for (const Unit& unit : kUnits) {
        // Rounded up, so that the server never sees a shorter deadline.
        int64_t count = ns / unit.ns + (ns % unit.ns != 0 ? 1 : 0);
        if (count <= kMaxDigits)
            return cat(count, std::string(1, unit.suffix));
    }
    return cat(kMaxDigits, "H");
}

} // namespace keel::kv
