// Fuzz target for base/notify.h: sd_notify datagrams, which any process of a
// service can send to PID 1. Besides "does not crash": an accepted message
// stays within the size limit, its values are the ones validated (a pid
// above 0, watchdog and timeout values above 0), and a refusal names the
// line or the whole message.
#include "base/notify.h"
#include "tests/fuzz/fuzz_check.h"

#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    auto message = keel::parse_notify_message(text);
    if (!message) {
        const std::string what = message.error().to_string();
        FUZZ_CHECK(what.starts_with("line ") || what.starts_with("message ") ||
                   what == "empty message");
        return 0;
    }
    FUZZ_CHECK(size <= keel::kMaxNotifyMessage);
    FUZZ_CHECK(!message->main_pid || *message->main_pid > 0);
    FUZZ_CHECK(!message->watchdog_usec || *message->watchdog_usec > 0);
    FUZZ_CHECK(!message->extend_timeout_usec || *message->extend_timeout_usec > 0);
    FUZZ_CHECK(!(message->watchdog && message->watchdog_trigger) ||
               text.find("WATCHDOG=1") != std::string_view::npos);
    if (message->status)
        FUZZ_CHECK(message->status->find('\n') == std::string::npos);
    return 0;
}
