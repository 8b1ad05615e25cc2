// Records of /dev/kmsg, the kernel's log as the journal reads it. Each read
// of /dev/kmsg returns one record:
//
//     PRIORITY,SEQUENCE,TIMESTAMP,FLAGS[,MORE...];MESSAGE\n[ KEY=value\n]...
//
// PRIORITY is the syslog facility * 8 + level, TIMESTAMP the kernel's clock
// in microseconds, FLAGS "-" ("c" or "+" on old kernels), MORE optional
// fields (newer kernels add "caller=T12"), MESSAGE the text with
// non-printable bytes already escaped by the kernel as \xNN, and the
// indented lines after it device properties. The text comes from outside
// keel (any root process can write to /dev/kmsg), so the parser is strict
// and has a fuzz target. No dependencies beyond base/.
#pragma once

#include "base/result.h"

#include <cstdint>
#include <string>
#include <string_view>

namespace keel {

struct KmsgRecord {
    int level = 6;               // syslog level 0 (emerg) .. 7 (debug)
    int facility = 0;            // 0 = kernel, 1 = user (anything written to /dev/kmsg)
    uint64_t sequence = 0;       // the kernel's record number; gaps mean lost records
    uint64_t timestamp_usec = 0; // kernel clock at the time of the record
    std::string message;         // the text, without the trailing newline
};

/// The largest record a read of /dev/kmsg can return (the kernel's
/// CONSOLE_EXT_LOG_MAX); a smaller read buffer makes the read fail with EINVAL.
inline constexpr std::size_t kKmsgRecordMax = 8192;

/// Parses one record as read from /dev/kmsg. Errors start with "kmsg record: ".
Result<KmsgRecord> parse_kmsg_record(std::string_view record);

/// The record in /dev/kmsg's read format (properties are not kept), so that
/// parse_kmsg_record(format_kmsg_record(r)) gives r back.
std::string format_kmsg_record(const KmsgRecord& record);

/// keel's own log lines are written to /dev/kmsg as "<6>keel: message" (or
/// "keel[pid]: " from its children, base/log.h): for such a record this
/// returns the message without the tag; otherwise an empty view and false.
bool strip_keel_tag(const KmsgRecord& record, std::string_view& message);

} // namespace keel
