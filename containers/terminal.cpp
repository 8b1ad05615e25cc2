// containers/terminal: the pty of a container's process (made in its /dev,
// the master sent over a console socket) and keel's relay of it: raw mode
// on keel's own stdin, the window size, the copying both ways.
#include "containers/terminal.h"

#include "base/strings.h"
#include "base/sys.h"

#include <array>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

namespace keel::containers {

namespace {

constexpr size_t kChunk = 64 * 1024;
// Input read ahead of what the pty has taken, at most (then stdin waits).
constexpr size_t kMaxPending = 64 * 1024;

// The signals that end keel on the spot, after which the terminal's mode
// is put back by the handler below.
constexpr std::array kFatalSignals = {SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL};

// The mode stdin had before RawInput (one at a time: keel has one stdin),
// for the signal handler, which can only reach globals.
termios g_saved_mode{};
volatile sig_atomic_t g_mode_saved = 0;
struct sigaction g_previous_actions[kFatalSignals.size()] = {};
struct sigaction g_previous_pipe {};

void restore_on_signal(int signal) {
    if (g_mode_saved)
        ::tcsetattr(STDIN_FILENO, TCSANOW, &g_saved_mode);
    // SA_RESETHAND made the action the default again: the signal now ends
    // keel as it would have.
    ::raise(signal);
}

ssize_t retrying_read(int fd, void* buffer, size_t size) {
    ssize_t got;
    do
        got = ::read(fd, buffer, size);
    while (got < 0 && errno == EINTR);
    return got;
}

// All of `data` to stdout; a stdout that is gone takes nothing more.
void write_output(std::string_view data) {
    while (!data.empty()) {
        ssize_t wrote = ::write(STDOUT_FILENO, data.data(), data.size());
        if (wrote < 0 && errno == EINTR)
            continue;
        if (wrote < 0 && errno == EAGAIN) {
            pollfd out{.fd = STDOUT_FILENO, .events = POLLOUT, .revents = 0};
            ::poll(&out, 1, -1);
            continue;
        }
        if (wrote <= 0)
            return;
        data.remove_prefix(size_t(wrote));
    }
}

} // namespace

std::optional<oci::ConsoleSize> own_window_size() {
    for (int fd : {STDOUT_FILENO, STDIN_FILENO, STDERR_FILENO}) {
        winsize size{};
        if (::isatty(fd) && ::ioctl(fd, TIOCGWINSZ, &size) == 0 && size.ws_row && size.ws_col)
            return oci::ConsoleSize{.height = size.ws_row, .width = size.ws_col};
    }
    return std::nullopt;
}

// /dev/ptmx and devpts's ptmx: TTYAUX_MAJOR, minor 2.
constexpr unsigned kPtyMuxMajor = 5;
constexpr unsigned kPtyMuxMinor = 2;

Result<void> set_window_size(int master, const oci::ConsoleSize& size) {
    winsize window{.ws_row = uint16_t(size.height),
                   .ws_col = uint16_t(size.width),
                   .ws_xpixel = 0,
                   .ws_ypixel = 0};
    if (::ioctl(master, TIOCSWINSZ, &window) != 0)
        return errno_error("set the terminal's window size");
    return {};
}

Result<std::string> make_console(int console_socket, const std::optional<oci::ConsoleSize>& size) {
    // Opened in the container's /dev, which its processes may have changed
    // (a symlink in place of /dev/ptmx): it must be the multiplexer, and
    // the slave is the master's own peer (TIOCGPTPEER), never a path.
    Fd master = TRY(open_file("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC));
    struct stat master_stat {};
    if (::fstat(master.get(), &master_stat) != 0)
        return errno_error("stat /dev/ptmx");
    if (!S_ISCHR(master_stat.st_mode) || major(master_stat.st_rdev) != kPtyMuxMajor ||
        minor(master_stat.st_rdev) != kPtyMuxMinor)
        return error("/dev/ptmx is not the pty multiplexer (character device 5:2)");
    int unlock = 0;
    if (::ioctl(master.get(), TIOCSPTLCK, &unlock) != 0)
        return errno_error("unlock the pty");
    int number = 0;
    if (::ioctl(master.get(), TIOCGPTN, &number) != 0)
        return errno_error("name the pty");
    std::string slave_path = cat("/dev/pts/", number);
    Fd slave(::ioctl(master.get(), TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC));
    if (!slave)
        return errno_error("open the pty's slave (TIOCGPTPEER)");
    if (size)
        TRY(set_window_size(slave.get(), *size));

    // SCM_RIGHTS with the pty's name as the data, as runc sends it.
    TRY_CTX(send_with_fd(console_socket, slave_path, master.get()),
            "send the pty to the console socket");

    for (int target = 0; target <= 2; ++target)
        if (::dup2(slave.get(), target) < 0)
            return errno_error("make the pty the process's stdio");
    return slave_path;
}

Result<void> take_console() {
    if (::ioctl(STDIN_FILENO, TIOCSCTTY, 0) != 0)
        return errno_error("make the pty the controlling terminal");
    return {};
}

Result<Fd> receive_console(int socket) {
    MessageWithFd message =
        TRY_CTX(receive_with_fd(socket, 256), "receive the pty from the console socket");
    if (!message.fd)
        return error("the console socket sent no pty");
    return std::move(message.fd);
}

Result<ConsoleChannel> console_channel() {
    int pair[2] = {-1, -1};
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0)
        return errno_error("make the console socket");
    return ConsoleChannel{.receiver = Fd(pair[0]), .sender = Fd(pair[1])};
}

Result<RawInput> RawInput::enter() {
    RawInput raw;
    if (!::isatty(STDIN_FILENO))
        return raw;
    termios mode{};
    if (::tcgetattr(STDIN_FILENO, &mode) != 0)
        return errno_error("read the terminal's mode");
    g_saved_mode = mode;
    g_mode_saved = 1;
    struct sigaction restore {};
    restore.sa_handler = restore_on_signal;
    restore.sa_flags = SA_RESETHAND;
    for (size_t i = 0; i < kFatalSignals.size(); ++i)
        ::sigaction(kFatalSignals[i], &restore, &g_previous_actions[i]);
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;
    ::sigaction(SIGPIPE, &ignore, &g_previous_pipe);
    raw.m_active = true;
    ::cfmakeraw(&mode);
    if (::tcsetattr(STDIN_FILENO, TCSANOW, &mode) != 0)
        return errno_error("put the terminal in raw mode");
    return raw;
}

RawInput::RawInput(RawInput&& other) noexcept : m_active(std::exchange(other.m_active, false)) {}

RawInput::~RawInput() {
    if (!m_active)
        return;
    ::tcsetattr(STDIN_FILENO, TCSANOW, &g_saved_mode);
    g_mode_saved = 0;
    for (size_t i = 0; i < kFatalSignals.size(); ++i)
        ::sigaction(kFatalSignals[i], &g_previous_actions[i], nullptr);
    ::sigaction(SIGPIPE, &g_previous_pipe, nullptr);
}

TerminalRelay::TerminalRelay(Fd master, Stdin input)
    : m_master(std::move(master)), m_input_open(input == Stdin::Open) {
    ::fcntl(m_master.get(), F_SETFL, ::fcntl(m_master.get(), F_GETFL) | O_NONBLOCK);
}

void TerminalRelay::watch(std::vector<pollfd>& fds) const {
    if (m_output_open || !m_pending.empty()) {
        short events = m_output_open ? POLLIN : 0;
        if (!m_pending.empty())
            events |= POLLOUT;
        fds.push_back({.fd = m_master.get(), .events = events, .revents = 0});
    }
    if (m_input_open && m_pending.size() < kMaxPending)
        fds.push_back({.fd = STDIN_FILENO, .events = POLLIN, .revents = 0});
}

void TerminalRelay::on_ready(std::span<const pollfd> ready) {
    for (const pollfd& entry : ready) {
        if (entry.revents == 0)
            continue;
        if (entry.fd == m_master.get()) {
            if (entry.revents & POLLOUT)
                write_input();
            if (entry.revents & (POLLIN | POLLHUP | POLLERR))
                read_master();
        } else if (entry.fd == STDIN_FILENO) {
            read_input();
        }
    }
}

void TerminalRelay::read_master() {
    char buffer[kChunk];
    for (;;) {
        ssize_t got = retrying_read(m_master.get(), buffer, sizeof buffer);
        if (got > 0) {
            write_output(std::string_view(buffer, size_t(got)));
            continue;
        }
        // EAGAIN: nothing more now. EIO or 0: the slave side is closed.
        if (got < 0 && errno == EAGAIN)
            return;
        m_output_open = false;
        m_pending.clear();
        return;
    }
}

void TerminalRelay::read_input() {
    char buffer[4096];
    ssize_t got = retrying_read(STDIN_FILENO, buffer, sizeof buffer);
    if (got > 0) {
        m_pending.append(buffer, size_t(got));
        write_input();
        return;
    }
    if (got < 0 && errno == EAGAIN)
        return;
    // The end of keel's input is the end of the terminal's: its EOF
    // character (^D), which a reading process in canonical mode sees as
    // the end.
    m_input_open = false;
    termios mode{};
    char eof = ::tcgetattr(m_master.get(), &mode) == 0 ? char(mode.c_cc[VEOF]) : '\x04';
    m_pending.push_back(eof);
    write_input();
}

void TerminalRelay::write_input() {
    while (!m_pending.empty() && m_output_open) {
        ssize_t wrote = ::write(m_master.get(), m_pending.data(), m_pending.size());
        if (wrote < 0 && errno == EINTR)
            continue;
        if (wrote < 0 && errno == EAGAIN)
            return;
        if (wrote <= 0) {
            m_pending.clear();
            return;
        }
        m_pending.erase(0, size_t(wrote));
    }
}

void TerminalRelay::copy_window_size() {
    if (std::optional<oci::ConsoleSize> size = own_window_size())
        (void)set_window_size(m_master.get(), *size);
}

void TerminalRelay::drain() {
    // Once the process has exited, the kernel's read flushes what it wrote
    // to the pty before it answers EAGAIN (someone still holds the slave)
    // or EIO (no one does).
    if (m_output_open)
        read_master();
}

Fd TerminalRelay::take_master() {
    return std::move(m_master);
}

Result<void> relay_in_background(Fd master) {
    pid_t pid = ::fork();
    if (pid < 0)
        return errno_error("fork the terminal's relay");
    if (pid > 0)
        return {};
    // The relay: nothing of keel's but the master and stdout, stderr.
    ::setsid();
    int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (null >= 0)
        ::dup2(null, STDIN_FILENO);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGPIPE, SIG_IGN);
    ::signal(SIGHUP, SIG_IGN);
    int fd = master.get();
    if (::dup2(fd, 3) == 3)
        fd = 3;
    ::syscall(SYS_close_range, 4U, ~0U, 0U);
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    char buffer[kChunk];
    for (;;) {
        ssize_t got = retrying_read(fd, buffer, sizeof buffer);
        if (got <= 0)
            ::_exit(0);
        write_output(std::string_view(buffer, size_t(got)));
    }
}

} // namespace keel::containers
