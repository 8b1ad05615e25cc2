// Tests for containers/terminal.h: the pty a container's process makes
// for itself, as keel's side receives it over a console socket.
#include "containers/terminal.h"

#include <doctest/doctest.h>

#include <cerrno>
#include <string>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace keel;
using namespace keel::containers;

TEST_CASE("a process's pty arrives over the console socket, sized as asked, with its output") {
    Result<ConsoleChannel> channel = console_channel();
    REQUIRE(channel);
    pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        channel->receiver.reset();
        Result<std::string> slave =
            make_console(channel->sender.get(), oci::ConsoleSize{.height = 33, .width = 101});
        if (!slave || !slave->starts_with("/dev/pts/") || !::isatty(STDOUT_FILENO))
            ::_exit(1);
        (void)!::write(STDOUT_FILENO, "hi\n", 3);
        ::_exit(0);
    }
    channel->sender.reset();
    Result<Fd> master = receive_console(channel->receiver.get());
    REQUIRE_MESSAGE(master, (master ? std::string() : master.error().to_string()));
    winsize size{};
    REQUIRE(::ioctl(master->get(), TIOCGWINSZ, &size) == 0);
    CHECK(size.ws_row == 33);
    CHECK(size.ws_col == 101);
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
    // The pty turns "\n" into "\r\n" on its way out; then the slave is
    // closed and the master reads EIO.
    std::string output;
    char buffer[64];
    ssize_t got;
    while ((got = ::read(master->get(), buffer, sizeof buffer)) > 0)
        output.append(buffer, size_t(got));
    CHECK(output == "hi\r\n");
    CHECK(got < 0);
    CHECK(errno == EIO);
}

TEST_CASE("a console socket that sends no pty is an error") {
    Result<ConsoleChannel> channel = console_channel();
    REQUIRE(channel);
    REQUIRE(::write(channel->sender.get(), "x", 1) == 1);
    Result<Fd> master = receive_console(channel->receiver.get());
    REQUIRE_FALSE(master);
    CHECK(master.error().to_string().find("no pty") != std::string::npos);
}
