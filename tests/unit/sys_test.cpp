// Tests for base/sys.h: files, directories and AF_UNIX sockets in a scratch
// directory. Mounting and module loading need a VM and live in tests/qemu.
#include "base/sys.h"

#include "base/strings.h"
#include "tests/unit/temp_dir.h"

#include <doctest/doctest.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace keel;
using keel::testing::TempDir;

TEST_CASE("a file written with write_new_file reads back unchanged") {
    TempDir dir;
    std::string path = dir / "hostname";
    std::string data("node-1\n\0binary", 14);
    REQUIRE(write_new_file(path, data));
    Result<std::string> read = read_file(path);
    REQUIRE(read);
    CHECK(*read == data);
}

TEST_CASE("write_new_file truncates an existing file") {
    TempDir dir;
    std::string path = dir / "config";
    REQUIRE(write_new_file(path, "a much longer first version"));
    REQUIRE(write_new_file(path, "short"));
    CHECK(*read_file(path) == "short");
}

TEST_CASE("write_new_file creates a file with the requested mode") {
    TempDir dir;
    std::string path = dir / "secret";
    REQUIRE(write_new_file(path, "key", 0600));
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
}

TEST_CASE("a large file is read completely") {
    TempDir dir;
    std::string path = dir / "big";
    std::string data(200000, 'x');
    for (size_t i = 0; i < data.size(); i += 997)
        data[i] = char('a' + i % 26);
    REQUIRE(write_new_file(path, data));
    CHECK(*read_file(path) == data);
}

// What start_of_last_lines leaves of `data` for `lines` lines.
std::string last_lines_of(const std::string& data, uint32_t lines) {
    TempDir dir;
    std::string path = dir / "log";
    REQUIRE(write_new_file(path, data));
    Result<Fd> file = open_file(path, O_RDONLY);
    REQUIRE(file);
    Result<off_t> start = start_of_last_lines(file->get(), off_t(data.size()), lines);
    REQUIRE(start);
    return data.substr(size_t(*start));
}

TEST_CASE("start_of_last_lines finds a log's last lines, with or without a final newline") {
    CHECK(last_lines_of("a\nb\nc\n", 2) == "b\nc\n");
    CHECK(last_lines_of("a\nb\nc", 2) == "b\nc");
    CHECK(last_lines_of("a\nb\nc", 1) == "c");
    CHECK(last_lines_of("a\nb\nc\n", 1) == "c\n");
    // Fewer lines than asked, an empty file, empty lines, 0 taken as 1.
    CHECK(last_lines_of("a\nb\n", 50) == "a\nb\n");
    CHECK(last_lines_of("", 5).empty());
    CHECK(last_lines_of("\n\n\n", 2) == "\n\n");
    CHECK(last_lines_of("a\nb\n", 0) == "b\n");
}

TEST_CASE("start_of_last_lines reads back across its 64 KiB blocks") {
    // 3000 numbered lines of 50 bytes: 150,000 bytes, three blocks.
    std::string data;
    for (int i = 0; i < 3000; ++i) {
        std::string line = cat("line ", i, " ");
        line.resize(49, '.');
        data += line + "\n";
    }
    CHECK(last_lines_of(data, 1) == data.substr(data.size() - 50));
    CHECK(last_lines_of(data, 2000) == data.substr(1000 * 50));
    CHECK(last_lines_of(data, 3000) == data);
    // A newline exactly at a block's first byte (offset size - 64 KiB).
    std::string edge(200000 - 65536, 'x');
    edge += "\n";
    edge += std::string(65535, 'y');
    CHECK(last_lines_of(edge, 1) == std::string(65535, 'y'));
    CHECK(last_lines_of(edge, 2) == edge);
}

TEST_CASE("start_of_last_lines says so when the file is shorter than it was told") {
    TempDir dir;
    std::string path = dir / "log";
    REQUIRE(write_new_file(path, "a\nb\n"));
    Result<Fd> file = open_file(path, O_RDONLY);
    REQUIRE(file);
    Result<off_t> start = start_of_last_lines(file->get(), 100, 1);
    REQUIRE(!start);
    CHECK(start.error().to_string() == "read the file's end: it ends at 4, not 100");
}

TEST_CASE("reading a missing file names the path and carries ENOENT") {
    TempDir dir;
    std::string path = dir / "missing";
    Result<std::string> read = read_file(path);
    REQUIRE(!read);
    CHECK(read.error().code() == ENOENT);
    CHECK(read.error().to_string() == "open `" + path + "`: " + std::strerror(ENOENT));
}

TEST_CASE("write_existing_file refuses to create a file") {
    TempDir dir;
    std::string path = dir / "knob";
    Result<void> written = write_existing_file(path, "1");
    REQUIRE(!written);
    CHECK(written.error().code() == ENOENT);
    CHECK(!path_exists(path));

    REQUIRE(write_new_file(path, "0"));
    REQUIRE(write_existing_file(path, "1"));
    CHECK(*read_file(path) == "1");
}

TEST_CASE("make_directories creates every missing level and accepts existing ones") {
    TempDir dir;
    std::string deep = dir / "a/b//c/";
    REQUIRE(make_directories(deep));
    struct stat st {};
    REQUIRE(::stat((dir / "a/b/c").c_str(), &st) == 0);
    CHECK(S_ISDIR(st.st_mode));
    CHECK(make_directories(deep));
}

TEST_CASE("make_directories fails when a path component is a file") {
    TempDir dir;
    REQUIRE(write_new_file(dir / "file", ""));
    Result<void> made = make_directories(dir / "file/sub");
    REQUIRE(!made);
    CHECK(made.error().code() == ENOTDIR);
    CHECK(made.error().root() == "create directory `" + (dir / "file/sub") + "`");
}

TEST_CASE("path_exists sees files, directories and dangling symlinks") {
    TempDir dir;
    CHECK(path_exists(dir.path()));
    CHECK(!path_exists(dir / "nothing"));
    REQUIRE(::symlink("nowhere", (dir / "link").c_str()) == 0);
    CHECK(path_exists(dir / "link"));
}

TEST_CASE("list_directory returns sorted names without dot entries") {
    TempDir dir;
    for (const char* name : {"zeta", "alpha", "mid"})
        REQUIRE(write_new_file(dir / name, ""));
    REQUIRE(make_directories(dir / "beta"));
    Result<std::vector<std::string>> names = list_directory(dir.path());
    REQUIRE(names);
    CHECK(*names == std::vector<std::string>{"alpha", "beta", "mid", "zeta"});

    Result<std::vector<std::string>> missing = list_directory(dir / "none");
    REQUIRE(!missing);
    CHECK(missing.error().code() == ENOENT);
}

TEST_CASE("list_subdirectories names only directories, not links to them, sorted") {
    TempDir dir;
    REQUIRE(write_new_file(dir / "file", ""));
    for (const char* name : {"zeta", "alpha"})
        REQUIRE(make_directories(dir / name));
    REQUIRE(::symlink("alpha", (dir / "link").c_str()) == 0);
    Result<std::vector<std::string>> names = list_subdirectories(dir.path());
    REQUIRE(names);
    CHECK(*names == std::vector<std::string>{"alpha", "zeta"});

    Result<std::vector<std::string>> missing = list_subdirectories(dir / "none");
    REQUIRE(!missing);
    CHECK(missing.error().code() == ENOENT);
}

TEST_CASE("write_all and read_all move data through a pipe") {
    int fds[2];
    REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
    Fd read_end(fds[0]);
    Fd write_end(fds[1]);
    REQUIRE(write_all(write_end.get(), "hello "));
    REQUIRE(write_all(write_end.get(), "world"));
    write_end.reset();
    Result<std::string> all = read_all(read_end.get());
    REQUIRE(all);
    CHECK(*all == "hello world");
}

TEST_CASE("a unix socket client connects and the server sees its credentials") {
    TempDir dir;
    std::string path = dir / "control.sock";
    Result<Fd> listener = unix_listen(path, SOCK_STREAM, 0660);
    REQUIRE(listener);
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    CHECK(S_ISSOCK(st.st_mode));
    CHECK((st.st_mode & 0777) == 0660);

    Result<Fd> client = unix_connect(path, SOCK_STREAM);
    REQUIRE(client);
    Fd server(::accept4(listener->get(), nullptr, nullptr, SOCK_CLOEXEC));
    REQUIRE(server.valid());

    Result<struct ucred> credentials = peer_credentials(server.get());
    REQUIRE(credentials);
    CHECK(credentials->pid == ::getpid());
    CHECK(credentials->uid == ::getuid());
    CHECK(credentials->gid == ::getgid());

    REQUIRE(write_all(client->get(), "ping"));
    char buffer[4];
    REQUIRE(::read(server.get(), buffer, 4) == 4);
    CHECK(std::string(buffer, 4) == "ping");
}

TEST_CASE("unix_listen replaces a stale socket file left by a previous run") {
    TempDir dir;
    std::string path = dir / "stale.sock";
    {
        Result<Fd> first = unix_listen(path, SOCK_SEQPACKET);
        REQUIRE(first);
    }
    CHECK(path_exists(path));
    Result<Fd> second = unix_listen(path, SOCK_SEQPACKET);
    REQUIRE(second);
    CHECK(unix_connect(path, SOCK_SEQPACKET));
}

TEST_CASE("connecting to a path nobody listens on names the path") {
    TempDir dir;
    std::string path = dir / "absent.sock";
    Result<Fd> client = unix_connect(path, SOCK_STREAM);
    REQUIRE(!client);
    CHECK(client.error().code() == ENOENT);
    CHECK(client.error().root() == "connect to `" + path + "`");
}

TEST_CASE("a socket path longer than sun_path is refused with a message") {
    std::string path = "/tmp/" + std::string(200, 'x');
    Result<Fd> listener = unix_listen(path, SOCK_STREAM);
    REQUIRE(!listener);
    CHECK(listener.error().to_string() == "socket path `" + path + "` is too long");
    CHECK(!unix_connect(path, SOCK_STREAM));
}

TEST_CASE("a message goes with a descriptor, or without one, and a longer datagram says so") {
    int pair[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) == 0);
    Fd one(pair[0]), other(pair[1]);
    int pipe_ends[2];
    REQUIRE(::pipe2(pipe_ends, O_CLOEXEC) == 0);
    Fd read_end(pipe_ends[0]), write_end(pipe_ends[1]);

    REQUIRE(send_with_fd(one.get(), "with", write_end.get()));
    Result<MessageWithFd> got = receive_with_fd(other.get(), 16);
    REQUIRE(got);
    CHECK(got->data == "with");
    CHECK(got->size == 4);
    REQUIRE(got->fd);
    CHECK(got->fd.get() != write_end.get());
    CHECK((::fcntl(got->fd.get(), F_GETFD) & FD_CLOEXEC));
    REQUIRE(write_all(got->fd.get(), "through"));
    char buffer[16] = {};
    CHECK(::read(read_end.get(), buffer, sizeof buffer) == 7);
    CHECK(std::string_view(buffer) == "through");

    REQUIRE(send_with_fd(one.get(), "without and longer"));
    got = receive_with_fd(other.get(), 7);
    REQUIRE(got);
    CHECK(got->data == "without");
    CHECK(got->size == 18);
    CHECK_FALSE(got->fd);

    one.reset();
    got = receive_with_fd(other.get(), 16);
    REQUIRE(got);
    CHECK(got->size == 0);
    CHECK(receive_with_fd(other.get(), 16, MSG_DONTWAIT)->size == 0);
}

TEST_CASE("the clocks move forward") {
    uint64_t mono = monotonic_usec();
    uint64_t boot = boottime_usec();
    ::usleep(2000);
    CHECK(monotonic_usec() >= mono + 2000);
    CHECK(boottime_usec() >= boot + 2000);
    // Boot time includes suspend, so it is never behind monotonic time read
    // before it (read the other way round, the later monotonic read can be a
    // microsecond ahead).
    uint64_t mono_first = monotonic_usec();
    CHECK(boottime_usec() >= mono_first);
}

TEST_CASE("AllSignalsBlocked blocks every signal for its scope and restores the mask after") {
    sigset_t original, before, during, after;
    // A known mask to start from: SIGUSR1 blocked, the rest open.
    sigemptyset(&before);
    sigaddset(&before, SIGUSR1);
    REQUIRE(pthread_sigmask(SIG_SETMASK, &before, &original) == 0);
    {
        keel::AllSignalsBlocked blocked;
        REQUIRE(pthread_sigmask(SIG_SETMASK, nullptr, &during) == 0);
        CHECK(sigismember(&during, SIGUSR2) == 1);
        CHECK(sigismember(&during, SIGTERM) == 1);
        CHECK(sigismember(&during, SIGCHLD) == 1);
    }
    REQUIRE(pthread_sigmask(SIG_SETMASK, nullptr, &after) == 0);
    for (int signo = 1; signo < NSIG; ++signo)
        CHECK(sigismember(&after, signo) == sigismember(&before, signo));
    REQUIRE(pthread_sigmask(SIG_SETMASK, &original, nullptr) == 0);
}

TEST_CASE("a real-time policy set with SCHED_RESET_ON_FORK reads back and is not inherited") {
    auto before = thread_scheduling();
    REQUIRE(before);
    if (auto raised = set_thread_scheduling({SCHED_FIFO | SCHED_RESET_ON_FORK, 1}); !raised) {
        // Needs CAP_SYS_NICE and a real-time budget in this process's cgroup.
        MESSAGE("skipped: ", raised.error().to_string());
        CHECK(raised.error().to_string().find("set scheduling policy") != std::string::npos);
        return;
    }
    struct Restore { // whatever fails below, the rest of the tests run as before
        ThreadScheduling previous;
        ~Restore() { (void)set_thread_scheduling(previous); }
    } restore{*before};
    auto during = thread_scheduling();
    REQUIRE(during);
    CHECK(during->policy == (SCHED_FIFO | SCHED_RESET_ON_FORK));
    CHECK(during->priority == 1);
    pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        auto own = thread_scheduling();
        ::_exit(own && own->policy == SCHED_OTHER && own->priority == 0 ? 0 : 1);
    }
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 0));
    auto gone = thread_scheduling(child); // reaped: no such thread
    REQUIRE_FALSE(gone);
    CHECK(gone.error().code() == ESRCH);
    CHECK(gone.error().to_string().find(cat("thread ", child)) != std::string::npos);
    REQUIRE(set_thread_scheduling(*before));
    auto after = thread_scheduling();
    REQUIRE(after);
    CHECK(after->policy == before->policy);
    CHECK(after->priority == before->priority);
}

TEST_CASE("open_resolved in a root keeps .. and absolute symlinks inside that root") {
    TempDir dir;
    std::string root = dir / "root";
    REQUIRE(make_directories(root + "/etc"));
    REQUIRE(write_new_file(root + "/etc/hostname", "inside"));
    REQUIRE(::symlink("/etc", (root + "/abs").c_str()) == 0);
    REQUIRE(::symlink("../../../../..", (root + "/etc/up").c_str()) == 0);
    auto root_fd = open_file(root, O_PATH | O_DIRECTORY);
    REQUIRE(root_fd);
    auto read_in_root = [&](const std::string& path, uint64_t resolve) {
        auto fd = open_resolved(root_fd->get(), path, O_RDONLY, resolve);
        if (!fd)
            return std::string(std::strerror(fd.error().code()));
        auto text = read_all(fd->get());
        return text ? *text : std::string("unreadable");
    };
    CHECK(read_in_root("abs/hostname", kResolveInRoot) == "inside");
    CHECK(read_in_root("etc/up/etc/hostname", kResolveInRoot) == "inside");
    CHECK(read_in_root("../../../../etc/hostname", kResolveInRoot) == "inside");
    CHECK(read_in_root("/etc/hostname", kResolveInRoot) == "inside");
    // Without a root, the same names leave the directory or are refused.
    CHECK(read_in_root("abs/hostname", kResolveBeneath) == std::strerror(EXDEV));
    CHECK(read_in_root("abs/hostname", kResolveInRoot | kResolveNoSymlinks) ==
          std::strerror(ELOOP));
    auto missing = open_resolved(root_fd->get(), "nothing", O_RDONLY, kResolveInRoot);
    REQUIRE_FALSE(missing);
    CHECK(missing.error().code() == ENOENT);
    CHECK(missing.error().to_string() == cat("open `nothing`: ", std::strerror(ENOENT)));
}
