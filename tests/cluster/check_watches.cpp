// keel_check_watches: checks a watch log (tests/cluster/watch_log.h)
// against etcd's watch guarantees (tests/cluster/watch_guarantees.h) from
// the command line.
//
//   keel_check_watches FILE|-
//
// Prints "watch guarantees hold" and a summary, or each violation. Exit
// status: 0 they hold, 1 a guarantee is broken, 2 bad usage or input.
#include "base/strings.h"
#include "base/sys.h"
#include "tests/cluster/watch_guarantees.h"
#include "tests/cluster/watch_log.h"

#include <cstdio>
#include <string>
#include <string_view>
#include <unistd.h>

using namespace keel;

namespace {

constexpr int kExitHold = 0;
constexpr int kExitBroken = 1;
constexpr int kExitBadInput = 2;

} // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fputs("usage: keel_check_watches FILE|-\n", stderr);
        return kExitBadInput;
    }
    std::string path = argv[1];
    Result<std::string> text = path == "-" ? read_all(STDIN_FILENO) : read_file(path);
    if (!text) {
        std::fprintf(stderr, "keel_check_watches: %s\n", text.error().to_string().c_str());
        return kExitBadInput;
    }
    Result<watch_log::WatchLog> log = watch_log::parse_watch_log(*text);
    if (!log) {
        std::fprintf(stderr, "keel_check_watches: %s: %s\n", argv[1],
                     log.error().to_string().c_str());
        return kExitBadInput;
    }
    std::vector<watch_guarantees::Violation> violations =
        watch_guarantees::check(log->watchers, log->writes, log->write_set);
    for (const watch_guarantees::Violation& violation : violations)
        std::printf("%s\n", watch_guarantees::describe(violation).c_str());
    if (!violations.empty())
        return kExitBroken;
    size_t messages = 0;
    for (const watch_guarantees::Watcher& watcher : log->watchers)
        messages += watcher.messages.size();
    std::printf("watch guarantees hold: %zu watcher(s), %zu message(s), %zu write(s)%s\n",
                log->watchers.size(), messages, log->writes.size(),
                log->write_set == watch_guarantees::WriteSet::Partial ? ", some unknown" : "");
    return kExitHold;
}
