// keel_check_history: checks a recorded KV history for linearizability
// (tests/cluster/linearizability.h) from the command line.
//
//   keel_check_history [--whole] [--no-revisions] [--max-steps N]
//                      [--max-seconds N] FILE|-
//
// Prints "linearizable", or each failing key partition with a minimal
// non-linearizable sub-history. Exit status: 0 linearizable, 1 not (or the
// budget ran out: no proof either way), 2 bad usage or input.
#include "base/strings.h"
#include "base/sys.h"
#include "tests/cluster/history.h"
#include "tests/cluster/linearizability.h"

#include <cstdio>
#include <string>
#include <string_view>
#include <unistd.h>

using namespace keel;

namespace {

constexpr int kExitLinearizable = 0;
constexpr int kExitNotLinearizable = 1;
constexpr int kExitBadInput = 2;

constexpr std::string_view kUsage =
    "usage: keel_check_history [--whole] [--no-revisions] [--max-steps N] [--max-seconds N] "
    "FILE|-\n";

int bad_input(const std::string& message) {
    std::fprintf(stderr, "keel_check_history: %s\n", message.c_str());
    return kExitBadInput;
}

} // namespace

int main(int argc, char** argv) {
    linearizability::Options options;
    std::string path;
    for (int i = 1; i < argc; ++i) {
        std::string_view arg = argv[i];
        auto number = [&](std::string_view flag) -> std::optional<uint64_t> {
            if (i + 1 >= argc)
                return std::nullopt;
            std::optional<uint64_t> n = parse_u64(argv[++i]);
            if (!n)
                std::fprintf(stderr, "keel_check_history: %.*s: expected a number\n",
                             static_cast<int>(flag.size()), flag.data());
            return n;
        };
        if (arg == "--whole") {
            options.explanation = linearizability::Explanation::Whole;
        } else if (arg == "--no-revisions") {
            options.revisions = linearizability::RevisionCheck::Off;
        } else if (arg == "--max-steps") {
            std::optional<uint64_t> n = number(arg);
            if (!n)
                return bad_input(std::string(kUsage));
            options.max_steps = *n;
        } else if (arg == "--max-seconds") {
            std::optional<uint64_t> n = number(arg);
            if (!n)
                return bad_input(std::string(kUsage));
            options.max_time = std::chrono::seconds(*n);
        } else if (path.empty() && (arg == "-" || !starts_with(arg, "-"))) {
            path = arg;
        } else {
            return bad_input(cat("unknown argument ", keel::quoted(arg), "\n", kUsage));
        }
    }
    if (path.empty())
        return bad_input(std::string(kUsage));

    Result<std::string> text = path == "-" ? read_all(STDIN_FILENO) : read_file(path);
    if (!text)
        return bad_input(text.error().to_string());
    Result<history::History> history = history::parse_history(*text);
    if (!history)
        return bad_input(cat(path, ": ", history.error().to_string()));

    linearizability::Report report = linearizability::check(*history, options);
    std::fputs(linearizability::describe(report).c_str(), stdout);
    return report.verdict == linearizability::Verdict::Linearizable ? kExitLinearizable
                                                                    : kExitNotLinearizable;
}
