// locksmith's reboot semaphore as a value: its JSON (outside input: it
// comes from the KV, where anyone may have written it), its key, and what
// take, release and set-max do to it. No I/O: reboot_lock.cpp does the KV.
#include "update/update.h"

#include "base/json.h"
#include "base/strings.h"

#include <algorithm>

namespace keel::update {

namespace {

constexpr std::string_view kLockPrefix = "coreos.com/updateengine/rebootlock";

// "a, b" for messages; "nobody" for none.
std::string holder_list(const std::vector<std::string>& holders) {
    std::string out;
    for (const std::string& holder : holders)
        out += cat(out.empty() ? "" : ", ", holder);
    return out.empty() ? std::string("nobody") : out;
}

} // namespace

Result<RebootSemaphore> parse_reboot_semaphore(std::string_view json) {
    JsonValue value = TRY(parse_json(json));
    JsonObjectCursor object = TRY(JsonCursor(value).object());
    RebootSemaphore semaphore;
    semaphore.semaphore = TRY(object["semaphore"].integer<int64_t>());
    semaphore.max = TRY(object["max"].integer<int64_t>(0));
    if (!object["holders"].missing() && !object["holders"].null())
        for (const JsonCursor& holder : TRY(object["holders"].array()))
            semaphore.holders.push_back(TRY(holder.string()));
    for (size_t i = 0; i < semaphore.holders.size(); ++i)
        if (std::count(semaphore.holders.begin(), semaphore.holders.end(), semaphore.holders[i]) >
            1)
            return error(cat("holders: ", quoted(semaphore.holders[i]), " is there twice"));
    if (semaphore.semaphore + int64_t(semaphore.holders.size()) != semaphore.max)
        return error(cat("semaphore ", semaphore.semaphore, " and ", semaphore.holders.size(),
                         " holders do not add up to max ", semaphore.max));
    return semaphore;
}

std::string encode_reboot_semaphore(const RebootSemaphore& semaphore) {
    JsonWriter json;
    json.begin_object().field("semaphore", semaphore.semaphore).field("max", semaphore.max);
    json.key("holders").begin_array();
    for (const std::string& holder : semaphore.holders)
        json.value(holder);
    json.end_array().end_object();
    return json.text();
}

Result<RebootSemaphore> take_reboot_lock(RebootSemaphore semaphore, std::string_view holder) {
    if (std::find(semaphore.holders.begin(), semaphore.holders.end(), holder) !=
        semaphore.holders.end())
        return semaphore;
    if (semaphore.semaphore <= 0)
        return error(cat("the reboot lock is taken: ", semaphore.max, " of ", semaphore.max,
                         " held, by ", holder_list(semaphore.holders)));
    --semaphore.semaphore;
    semaphore.holders.emplace_back(holder);
    return semaphore;
}

RebootSemaphore release_reboot_lock(RebootSemaphore semaphore, std::string_view holder) {
    auto found = std::find(semaphore.holders.begin(), semaphore.holders.end(), holder);
    if (found != semaphore.holders.end()) {
        semaphore.holders.erase(found);
        ++semaphore.semaphore;
    }
    return semaphore;
}

Result<RebootSemaphore> set_reboot_lock_max(RebootSemaphore semaphore, int64_t max) {
    if (max < 1)
        return error(cat("a maximum of ", max, ": at least 1 machine must be able to reboot"));
    if (int64_t(semaphore.holders.size()) > max)
        return error(cat(semaphore.holders.size(), " machines hold the reboot lock (",
                         holder_list(semaphore.holders), "): more than a maximum of ", max));
    semaphore.semaphore += max - semaphore.max;
    semaphore.max = max;
    return semaphore;
}

std::string reboot_lock_key(std::string_view group) {
    return group.empty() ? cat(kLockPrefix, "/semaphore")
                         : cat(kLockPrefix, "/groups/", group, "/semaphore");
}

} // namespace keel::update
