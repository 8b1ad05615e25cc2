// containers/terminal: a container process's terminal and keel's end of
// it (inside containers/ only). The container's side makes a pty in its own
// /dev (the container's devpts instance), sends the master over a console
// socket (SCM_RIGHTS, the slave's name as the data, as runc does) and makes
// the slave its stdin, stdout, stderr and controlling terminal. keel's side
// (keel run -t, keel exec -t, keel oci run with process.terminal and no
// --console-socket) receives the master and relays: its own stdin to the
// master (with -i; in raw mode when stdin is a terminal, restored on every
// way out), the master to its stdout, the window size at the start and on
// each SIGWINCH, until the process has exited and the master is drained.
#pragma once

#include "base/fd.h"
#include "base/result.h"
#include "containers/run_spec.h"
#include "containers/spec.h"

#include <optional>
#include <poll.h>
#include <span>
#include <string>
#include <termios.h>
#include <vector>

namespace keel::containers {

/// The window size of keel's own terminal: stdout's, else stdin's, else
/// stderr's; none when none of them is a terminal.
std::optional<oci::ConsoleSize> own_window_size();

/// Makes a pty in the calling process's /dev/ptmx (the container's, once
/// its root is entered), sized `size` when given; sends the master over
/// `console_socket` and makes the slave fds 0, 1 and 2. Returns the slave's
/// path (/dev/pts/N).
Result<std::string> make_console(int console_socket, const std::optional<oci::ConsoleSize>& size);

/// Makes the pty on fd 0 the calling process's controlling terminal (it
/// must lead a session of its own: spawn's setsid). Before exec.
Result<void> take_console();

/// Receives a pty master sent over `socket` (SCM_RIGHTS).
Result<Fd> receive_console(int socket);

/// Both ends of a console socket keel makes for itself: the container's
/// side sends on `sender`, keel receives on `receiver`.
struct ConsoleChannel {
    Fd receiver;
    Fd sender;
};

/// A connected AF_UNIX stream socket pair (close-on-exec).
Result<ConsoleChannel> console_channel();

/// Sets the pty's window size (TIOCSWINSZ on its master).
Result<void> set_window_size(int master, const oci::ConsoleSize& size);

/// keel's stdin in raw mode (cfmakeraw, as Docker's CLI makes it) while
/// this lives, when stdin is a terminal; the mode it had is put back when
/// it goes, and by a handler of the signals that would end keel on the spot
/// (SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL); SIGPIPE is ignored meanwhile.
class RawInput {
public:
    /// Raw mode on stdin if it is a terminal; otherwise nothing.
    static Result<RawInput> enter();
    RawInput(RawInput&& other) noexcept;
    RawInput& operator=(RawInput&&) = delete;
    RawInput(const RawInput&) = delete;
    RawInput& operator=(const RawInput&) = delete;
    ~RawInput();

private:
    RawInput() = default;
    bool m_active = false;
};

/// The relay between a pty's master and keel's stdin and stdout, driven by
/// a poll loop: watch() adds the fds to poll, on_ready() acts on what poll
/// said, drain() takes what is left once the process has exited.
class TerminalRelay {
public:
    /// `input` Open: keel's stdin goes to the pty (its end sent as the
    /// terminal's EOF character); Closed: nothing is ever written to it.
    TerminalRelay(Fd master, Stdin input);

    /// Appends the fds to poll (the master, stdin while it is read).
    void watch(std::vector<pollfd>& fds) const;
    /// Reads and writes what `ready` (the entries watch() added, as poll
    /// returned them) says can be.
    void on_ready(std::span<const pollfd> ready);
    /// Copies keel's window size to the pty (SIGWINCH), which signals the
    /// pty's foreground process group.
    void copy_window_size();
    /// After the process has exited: what the pty still holds goes to
    /// stdout, until the slave side is closed (EIO) or nothing more is
    /// there (something in the container still holds the slave).
    void drain();
    /// The master, for a relay that goes on in another process.
    Fd take_master();

private:
    void read_master();
    void read_input();
    void write_input();

    Fd m_master;
    bool m_input_open = false;
    bool m_output_open = true;
    /// Input read but not yet taken by the pty.
    std::string m_pending;
};

/// Leaves a process behind (a new session, stdin /dev/null) that copies
/// the pty's output to keel's stdout until the slave side is closed: the
/// output of a detached container or exec goes where a detached one's
/// goes without a terminal.
Result<void> relay_in_background(Fd master);

} // namespace keel::containers
