// Signal names and numbers as kill(1) spells them ("SIGTERM", "TERM",
// "15").
#include "base/signal_names.h"

#include "base/strings.h"

#include <csignal>

namespace keel {

namespace {

struct SignalName {
    int number;
    std::string_view name; // without "SIG"
};
constexpr SignalName kSignals[] = {
    {SIGHUP, "HUP"},   {SIGINT, "INT"},       {SIGQUIT, "QUIT"}, {SIGILL, "ILL"},
    {SIGTRAP, "TRAP"}, {SIGABRT, "ABRT"},     {SIGBUS, "BUS"},   {SIGFPE, "FPE"},
    {SIGKILL, "KILL"}, {SIGUSR1, "USR1"},     {SIGSEGV, "SEGV"}, {SIGUSR2, "USR2"},
    {SIGPIPE, "PIPE"}, {SIGALRM, "ALRM"},     {SIGTERM, "TERM"}, {SIGSTKFLT, "STKFLT"},
    {SIGCHLD, "CHLD"}, {SIGCONT, "CONT"},     {SIGSTOP, "STOP"}, {SIGTSTP, "TSTP"},
    {SIGTTIN, "TTIN"}, {SIGTTOU, "TTOU"},     {SIGURG, "URG"},   {SIGXCPU, "XCPU"},
    {SIGXFSZ, "XFSZ"}, {SIGVTALRM, "VTALRM"}, {SIGPROF, "PROF"}, {SIGWINCH, "WINCH"},
    {SIGIO, "IO"},     {SIGPWR, "PWR"},       {SIGSYS, "SYS"},
};

} // namespace

Result<int> parse_signal(std::string_view text) {
    if (auto number = parse_u64(text)) {
        if (*number == 0 || *number > 64)
            return error(cat("signal number ", quoted(text), " is outside 1..64"));
        return int(*number);
    }
    std::string_view name = text;
    if (name.starts_with("SIG"))
        name.remove_prefix(3);
    for (const SignalName& signal : kSignals)
        if (signal.name == name)
            return signal.number;
    return error(cat("unknown signal ", quoted(text)));
}

std::string signal_name(int signo) {
    for (const SignalName& signal : kSignals)
        if (signal.number == signo)
            return cat("SIG", signal.name);
    return cat("signal ", signo);
}

} // namespace keel
