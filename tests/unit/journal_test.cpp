// Tests for init/journal.h, init/journal_format.h and init/kmsg.h: service
// output read from real pipes on a real Reactor, the rings, subscribers,
// the on-disk journal and its rotation (and, through a fake storage, a full
// disk, a write cut short, a failed rename and crash points), /dev/kmsg
// records (through a FIFO, and the real /dev/kmsg when the test may use it).
#include "init/journal.h"

#include "base/log.h"
#include "base/strings.h"
#include "base/sys.h"
#include "init/journal_format.h"
#include "init/kmsg.h"
#include "tests/unit/fake_storage.h"
#include "tests/unit/temp_dir.h"
#include "tests/unit/test_util.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fcntl.h>
#include <functional>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace keel;
using namespace std::chrono_literals;
using keel::testing::CutWrite;
using keel::testing::FakeStorage;
using keel::testing::make_reactor;
using keel::testing::run_until;
using keel::testing::StorageCall;
using keel::testing::TempDir;

namespace {

std::unique_ptr<Journal> make_journal(Reactor& reactor, JournalOptions options = {}) {
    auto journal = Journal::create(reactor, std::move(options));
    REQUIRE(journal);
    return std::move(*journal);
}

// Runs whatever is ready now (several passes: a read may enable another).
void drain(Reactor& reactor) {
    for (int i = 0; i < 5; ++i)
        REQUIRE(reactor.run_once(5ms));
}

void write_to(const Fd& fd, std::string_view data) {
    REQUIRE(::write(fd.get(), data.data(), data.size()) == ssize_t(data.size()));
}

// A FIFO standing in for /dev/kmsg; the writer opens once the journal reads.
struct KernelLog {
    TempDir dir;
    std::string path = dir / "kmsg";
    Fd writer;
    KernelLog() { REQUIRE(::mkfifo(path.c_str(), 0600) == 0); }
    Fd& open_writer() {
        auto opened = open_file(path, O_WRONLY);
        REQUIRE(opened);
        writer = std::move(*opened);
        return writer;
    }
};

// A journal following a KernelLog, whose writer is open.
struct KernelJournal {
    KernelLog kernel_log;
    std::unique_ptr<Reactor> reactor = make_reactor();
    std::unique_ptr<Journal> journal = make_journal(*reactor);
    Fd& writer = follow(*this);

    static Fd& follow(KernelJournal& self) {
        REQUIRE(self.journal->follow_kernel(self.kernel_log.path));
        return self.kernel_log.open_writer();
    }
};

std::vector<std::string> messages(const std::vector<LogEntry>& entries) {
    std::vector<std::string> out;
    for (const LogEntry& entry : entries)
        out.push_back(entry.message);
    return out;
}

std::vector<std::string> file_lines(const std::string& path) {
    auto text = read_file(path);
    REQUIRE_MESSAGE(text, path);
    std::vector<std::string> lines;
    for (std::string_view line : split(*text, '\n'))
        if (!line.empty())
            lines.emplace_back(line);
    return lines;
}

// The messages of the entries in a journal file; every line must be one.
std::vector<std::string> journal_messages(const std::string& path) {
    std::vector<std::string> out;
    for (const std::string& line : file_lines(path)) {
        auto entry = parse_journal_line(line);
        REQUIRE_MESSAGE(entry, line);
        out.push_back(entry->message);
    }
    return out;
}

LogEntry entry_for(std::string unit, std::string message) {
    LogEntry entry;
    entry.unit = std::move(unit);
    entry.stream = "keel";
    entry.message = std::move(message);
    return entry;
}

using Strings = std::vector<std::string>;

} // namespace

TEST_CASE("a line written in pieces across reads becomes one entry, with both timestamps") {
    auto reactor = make_reactor();
    auto journal = make_journal(*reactor);
    auto pipe = journal->open_stream("web.service", "stdout");
    REQUIRE(pipe);

    write_to(*pipe, "hel");
    drain(*reactor);
    CHECK(journal->tail("web.service", 10).empty()); // no newline yet
    write_to(*pipe, "lo\nwor");
    drain(*reactor);
    write_to(*pipe, "ld\n\nlast\n");
    run_until(*reactor, [&] { return journal->tail("web.service", 10).size() == 4; });

    std::vector<LogEntry> entries = journal->tail("web.service", 10);
    CHECK(messages(entries) == Strings{"hello", "world", "", "last"});
    for (const LogEntry& entry : entries) {
        CHECK(entry.unit == "web.service");
        CHECK(entry.stream == "stdout");
        CHECK(entry.priority == 6);
        CHECK(entry.realtime_usec > 1'500'000'000'000'000u); // after 2017
        CHECK(entry.boottime_usec > 0);
    }
    CHECK(entries[0].boottime_usec <= entries[3].boottime_usec);
}

TEST_CASE("a line longer than max_line becomes several entries and nothing is lost") {
    auto reactor = make_reactor();
    JournalOptions options;
    options.max_line = 8;
    auto journal = make_journal(*reactor, options);
    auto pipe = journal->open_stream("long.service", "stdout");
    REQUIRE(pipe);

    write_to(*pipe, "abcdefghijkl\n12345678\n123456789");
    write_to(*pipe, "\n");
    run_until(*reactor, [&] { return journal->tail("long.service", 10).size() == 5; });
    CHECK(messages(journal->tail("long.service", 10)) ==
          Strings{"abcdefgh", "ijkl", "12345678", "12345678", "9"});
}

TEST_CASE("a big burst of output is read completely, line by line") {
    auto reactor = make_reactor();
    JournalOptions options;
    options.lines_per_unit = 5000;
    options.bytes_per_unit = 10u << 20;
    auto journal = make_journal(*reactor, options);
    auto pipe = journal->open_stream("burst.service", "stdout");
    REQUIRE(pipe);
    // More than a pipe buffer: write from a child so the parent can read.
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        std::string all;
        for (int i = 0; i < 3000; ++i)
            all += cat("line ", i, " ", std::string(40, 'x'), "\n");
        (void)write_all(pipe->get(), all);
        ::_exit(0);
    }
    pipe->reset(); // the child holds the only write end: EOF when it exits
    run_until(*reactor, [&] { return journal->tail("burst.service", 5000).size() == 3000; });
    ::waitpid(pid, nullptr, 0);
    std::vector<LogEntry> entries = journal->tail("burst.service", 5000);
    CHECK(entries.front().message == cat("line 0 ", std::string(40, 'x')));
    CHECK(entries.back().message == cat("line 2999 ", std::string(40, 'x')));
}

TEST_CASE("a last line without a newline is recorded when the writer closes the pipe") {
    auto reactor = make_reactor();
    auto journal = make_journal(*reactor);
    auto pipe = journal->open_stream("job.service", "stdout");
    REQUIRE(pipe);
    write_to(*pipe, "first\nno newline at the end");
    drain(*reactor);
    CHECK(messages(journal->tail("job.service", 10)) == Strings{"first"});
    pipe->reset();
    run_until(*reactor, [&] { return journal->tail("job.service", 10).size() == 2; });
    CHECK(journal->tail("job.service", 10)[1].message == "no newline at the end");
}

TEST_CASE("a carriage return before the newline is dropped; other bytes, NULs too, are kept") {
    auto reactor = make_reactor();
    auto journal = make_journal(*reactor);
    auto pipe = journal->open_stream("bin.service", "stdout");
    REQUIRE(pipe);
    using namespace std::string_literals;
    write_to(*pipe, "dos line\r\nbin\0ary\x01\xff\nprogress\r50%\n"s);
    run_until(*reactor, [&] { return journal->tail("bin.service", 10).size() == 3; });
    CHECK(messages(journal->tail("bin.service", 10)) ==
          Strings{"dos line", "bin\0ary\x01\xff"s, "progress\r50%"});
}

TEST_CASE("stderr lines are warnings, stdout lines info, and a <N> prefix sets the priority") {
    auto reactor = make_reactor();
    auto journal = make_journal(*reactor);
    auto out = journal->open_stream("app.service", "stdout");
    auto err = journal->open_stream("app.service", "stderr");
    REQUIRE(out);
    REQUIRE(err);
    write_to(*err, "something odd\n");
    run_until(*reactor, [&] { return journal->tail("app.service", 10).size() == 1; });
    write_to(*out, "<3>disk failed\n<9>not a priority\nplain\n");
    run_until(*reactor, [&] { return journal->tail("app.service", 10).size() == 4; });

    std::vector<LogEntry> entries = journal->tail("app.service", 10);
    CHECK(entries[0].stream == "stderr");
    CHECK(entries[0].priority == 4);
    CHECK(entries[1].message == "disk failed");
    CHECK(entries[1].priority == 3);
    CHECK(entries[2].message == "<9>not a priority");
    CHECK(entries[2].priority == 6);
    CHECK(entries[3].priority == 6);
}

TEST_CASE("each unit keeps only its newest lines_per_unit entries") {
    auto reactor = make_reactor();
    JournalOptions options;
    options.lines_per_unit = 3;
    auto journal = make_journal(*reactor, options);
    for (int i = 1; i <= 5; ++i)
        journal->record(entry_for("a.service", cat("a", i)));
    journal->record(entry_for("b.service", "b1"));
    CHECK(messages(journal->tail("a.service", 100)) == Strings{"a3", "a4", "a5"});
    CHECK(messages(journal->tail("b.service", 100)) == Strings{"b1"});
    CHECK(journal->units() == Strings{"a.service", "b.service"});
}

TEST_CASE("bytes_per_unit bounds a unit that prints long lines, keeping at least the newest") {
    auto reactor = make_reactor();
    JournalOptions options;
    options.bytes_per_unit = 10'000;
    options.max_line = 100'000;
    auto journal = make_journal(*reactor, options);
    for (int i = 0; i < 10; ++i)
        journal->record(entry_for("big.service", std::string(3000, char('a' + i))));
    std::vector<LogEntry> kept = journal->tail("big.service", 100);
    CHECK(kept.size() == 3);
    CHECK(kept.back().message[0] == 'j');
    journal->record(entry_for("huge.service", std::string(50'000, 'x')));
    CHECK(journal->tail("huge.service", 10).size() == 1);
}

TEST_CASE("record() fills in missing timestamps, keeps given ones and cuts at max_line") {
    auto reactor = make_reactor();
    JournalOptions options;
    options.max_line = 5;
    auto journal = make_journal(*reactor, options);
    LogEntry given = entry_for("x", "123456789");
    given.realtime_usec = 42;
    given.boottime_usec = 7;
    journal->record(given);
    journal->record(entry_for("x", "abc"));
    std::vector<LogEntry> entries = journal->tail("x", 10);
    CHECK(entries[0].realtime_usec == 42);
    CHECK(entries[0].boottime_usec == 7);
    CHECK(entries[0].message == "12345");
    CHECK(entries[1].realtime_usec > 42);
    CHECK(entries[1].boottime_usec > 0);
}

TEST_CASE("tail of one unit gives its last N entries; of all units, the last N in order") {
    auto reactor = make_reactor();
    auto journal = make_journal(*reactor);
    journal->record(entry_for("a", "1"));
    journal->record(entry_for("b", "2"));
    journal->record(entry_for("a", "3"));
    journal->record(entry_for("c", "4"));
    journal->record(entry_for("b", "5"));
    CHECK(messages(journal->tail("a", 1)) == Strings{"3"});
    CHECK(messages(journal->tail("a", 10)) == Strings{"1", "3"});
    CHECK(messages(journal->tail("", 3)) == Strings{"3", "4", "5"});
    CHECK(messages(journal->tail("", 100)) == Strings{"1", "2", "3", "4", "5"});
    CHECK(journal->tail("", 0).empty());
    CHECK(journal->tail("nobody", 10).empty());
}

TEST_CASE("subscribers get new entries of their unit, or of all units") {
    auto reactor = make_reactor();
    auto journal = make_journal(*reactor);
    Strings web, all;
    journal->subscribe("web.service", [&](const LogEntry& e) { web.push_back(e.message); });
    uint64_t everything =
        journal->subscribe("", [&](const LogEntry& e) { all.push_back(e.message); });
    auto pipe = journal->open_stream("web.service", "stdout");
    REQUIRE(pipe);
    write_to(*pipe, "from the pipe\n");
    run_until(*reactor, [&] { return web.size() == 1; });
    journal->record(entry_for("db.service", "other unit"));
    journal->unsubscribe(everything);
    journal->unsubscribe(everything); // twice is fine
    journal->record(entry_for("web.service", "after"));
    CHECK(web == Strings{"from the pipe", "after"});
    CHECK(all == Strings{"from the pipe", "other unit"});
}

TEST_CASE("a subscriber may unsubscribe itself, or another, from inside its callback") {
    auto reactor = make_reactor();
    auto journal = make_journal(*reactor);
    int first_calls = 0, second_calls = 0, late_calls = 0;
    uint64_t first = 0, second = 0;
    first = journal->subscribe("", [&](const LogEntry&) {
        ++first_calls;
        journal->unsubscribe(first);  // itself
        journal->unsubscribe(second); // the next one, for this very entry
        journal->subscribe("", [&](const LogEntry&) { ++late_calls; });
    });
    second = journal->subscribe("", [&](const LogEntry&) { ++second_calls; });
    journal->record(entry_for("x", "one"));
    journal->record(entry_for("x", "two"));
    CHECK(first_calls == 1);
    CHECK(second_calls == 0);
    CHECK(late_calls == 1); // subscribed during "one": sees "two" only
}

TEST_CASE("set_directory writes what was recorded before, then appends one line per entry") {
    TempDir dir;
    auto reactor = make_reactor();
    auto journal = make_journal(*reactor);
    journal->record(entry_for("early.service", "before the disk"));
    std::string directory = dir / "var/log/keel";
    REQUIRE(journal->set_directory(directory));
    auto pipe = journal->open_stream("web.service", "stderr");
    REQUIRE(pipe);
    write_to(*pipe, "tab\there\n");
    run_until(*reactor, [&] { return journal->tail("web.service", 1).size() == 1; });

    Strings lines = file_lines(directory + "/journal.log");
    REQUIRE(lines.size() == 2);
    auto early = parse_journal_line(lines[0]);
    REQUIRE(early);
    CHECK(early->unit == "early.service");
    CHECK(early->message == "before the disk");
    auto web = parse_journal_line(lines[1]);
    REQUIRE(web);
    CHECK(*web == journal->tail("web.service", 1)[0]);
    CHECK(lines[1].find(" web.service stderr 4 tab\\x09here") != std::string::npos);

    // A second journal on the same directory appends (after a restart).
    auto again = make_journal(*reactor);
    REQUIRE(again->set_directory(directory));
    again->record(entry_for("later", "appended"));
    REQUIRE(reactor->run_once(0ms));
    CHECK(file_lines(directory + "/journal.log").size() == 3);
}

TEST_CASE("close_disk records what is left in the pipes, writes it all and closes the file") {
    TempDir dir;
    auto reactor = make_reactor();
    auto journal = make_journal(*reactor);
    std::string directory = dir / "var/log/keel";
    REQUIRE(journal->set_directory(directory));
    auto pipe = journal->open_stream("last.service", "stdout");
    REQUIRE(pipe);
    // Written, never read by the loop: the writer is gone when the system ends.
    write_to(*pipe, "stopping\nbye without a newline");
    pipe->reset();
    journal->record(entry_for("keel", "closing the journal"));
    journal->close_disk();

    Strings lines = file_lines(directory + "/journal.log");
    REQUIRE(lines.size() == 3);
    CHECK(lines[0].ends_with(" keel keel 6 closing the journal"));
    CHECK(lines[1].ends_with(" last.service stdout 6 stopping"));
    CHECK(lines[2].ends_with(" last.service stdout 6 bye without a newline"));
    // Nothing on /var stays open: later entries are in memory only.
    auto open_files = list_directory("/proc/self/fd");
    REQUIRE(open_files);
    for (const std::string& fd : *open_files) {
        char target[4096] = {};
        (void)::readlink(cat("/proc/self/fd/", fd).c_str(), target, sizeof target - 1);
        CHECK_MESSAGE(!std::string_view(target).starts_with(dir.path()), "fd ", fd, " is ", target);
    }
    journal->record(entry_for("keel", "after the end"));
    REQUIRE(reactor->run_once(0ms));
    CHECK(file_lines(directory + "/journal.log").size() == 3);
    CHECK(journal->tail("keel", 1)[0].message == "after the end");
}

TEST_CASE("a directory given in the options starts the disk journal at once") {
    TempDir dir;
    auto reactor = make_reactor();
    JournalOptions options;
    options.directory = dir / "journal";
    auto journal = make_journal(*reactor, options);
    journal->record(entry_for("x", "hello"));
    // Records reach the disk before the loop next waits, in one write.
    CHECK(file_lines(dir / "journal/journal.log").empty());
    REQUIRE(reactor->run_once(0ms));
    CHECK(file_lines(dir / "journal/journal.log").size() == 1);
    // flush() writes without the loop (the end of the system).
    journal->record(entry_for("x", "goodbye"));
    journal->flush();
    CHECK(file_lines(dir / "journal/journal.log").size() == 2);
}

TEST_CASE("journal files rotate by size, newest in journal.log, at most max_files kept") {
    TempDir dir;
    auto reactor = make_reactor();
    JournalOptions options;
    options.max_file_bytes = 400;
    options.max_files = 3;
    auto journal = make_journal(*reactor, options);
    REQUIRE(journal->set_directory(dir.path()));
    for (int i = 0; i < 40; ++i)
        journal->record(entry_for("rot.service", cat("entry ", i)));
    REQUIRE(reactor->run_once(0ms));

    CHECK(path_exists(dir / "journal.log"));
    CHECK(path_exists(dir / "journal.log.1"));
    CHECK(path_exists(dir / "journal.log.2"));
    CHECK_FALSE(path_exists(dir / "journal.log.3"));
    Strings newest = file_lines(dir / "journal.log");
    Strings older = file_lines(dir / "journal.log.1");
    Strings oldest = file_lines(dir / "journal.log.2");
    for (std::string name : {"journal.log", "journal.log.1", "journal.log.2"}) {
        struct stat st {};
        REQUIRE(::stat((dir / name).c_str(), &st) == 0);
        CHECK(st.st_size <= 400);
    }
    REQUIRE_FALSE(newest.empty());
    CHECK(parse_journal_line(newest.back())->message == "entry 39");
    // The files are consecutive: .1 ends just before journal.log begins.
    auto number = [](const std::string& line) {
        std::string message = parse_journal_line(line)->message;
        return std::stoi(message.substr(6));
    };
    CHECK(number(older.back()) + 1 == number(newest.front()));
    CHECK(number(oldest.back()) + 1 == number(older.front()));
}

TEST_CASE("with max_files 1 the journal starts over instead of keeping old files") {
    TempDir dir;
    auto reactor = make_reactor();
    JournalOptions options;
    options.max_file_bytes = 300;
    options.max_files = 1;
    auto journal = make_journal(*reactor, options);
    REQUIRE(journal->set_directory(dir.path()));
    for (int i = 0; i < 20; ++i)
        journal->record(entry_for("x", cat("entry ", i)));
    REQUIRE(reactor->run_once(0ms));
    CHECK_FALSE(path_exists(dir / "journal.log.1"));
    CHECK(parse_journal_line(file_lines(dir / "journal.log").back())->message == "entry 19");
}

TEST_CASE("a journal directory that cannot be created is an error naming it") {
    TempDir dir;
    REQUIRE(write_new_file(dir / "file", "x"));
    auto reactor = make_reactor();
    auto journal = make_journal(*reactor);
    auto set = journal->set_directory(dir / "file/journal");
    REQUIRE_FALSE(set);
    CHECK(set.error().to_string().find("journal directory") != std::string::npos);
    journal->record(entry_for("x", "memory still works"));
    CHECK(journal->tail("x", 1).size() == 1);
}

TEST_CASE("a full disk while appending is reported once, and the journal goes on in memory") {
    TempDir dir;
    FakeStorage storage;
    auto reactor = make_reactor();
    JournalOptions options;
    options.directory = dir.path();
    options.storage = &storage;
    auto journal = make_journal(*reactor, options);
    journal->capture_log(); // the warning is recorded under "keel" as well
    journal->record(entry_for("web.service", "on disk"));
    journal->flush();
    storage.fail_next(StorageCall::Write, ENOSPC);
    journal->record(entry_for("web.service", "when the disk filled up"));
    journal->flush();
    int writes = storage.calls(StorageCall::Write);
    for (int i = 0; i < 3; ++i) {
        journal->record(entry_for("web.service", cat("in memory ", i)));
        REQUIRE(reactor->run_once(0ms));
    }

    CHECK(messages(journal->tail("keel", 10)) ==
          Strings{cat("journal: write ", keel::quoted(dir / "journal.log"), ": ",
                      std::strerror(ENOSPC),
                      "; journal entries are kept in memory only from now on")});
    CHECK(storage.calls(StorageCall::Write) == writes); // the disk is left alone
    CHECK(
        messages(journal->tail("web.service", 10)) ==
        Strings{"on disk", "when the disk filled up", "in memory 0", "in memory 1", "in memory 2"});
    CHECK(journal_messages(dir / "journal.log") == Strings{"on disk"});
}

TEST_CASE("a half line left by a write cut short is ended before the next entry is appended") {
    TempDir dir;
    FakeStorage storage;
    auto reactor = make_reactor();
    JournalOptions options;
    options.directory = dir.path();
    options.storage = &storage;
    auto journal = make_journal(*reactor, options);
    journal->record(entry_for("x", "first"));
    journal->flush();
    // The disk fills up in the middle of the next line: write(2) takes half
    // of it, the retry of the rest fails.
    journal->record(entry_for("x", "second, cut short by the full disk"));
    std::string second = format_journal_line(journal->tail("x", 1)[0]);
    std::string half = second.substr(0, second.size() / 2);
    int next = storage.calls(StorageCall::Write) + 1;
    storage.cut_write(StorageCall::Write, next, half.size(), CutWrite::ReturnShort);
    storage.fail(StorageCall::Write, next + 1, ENOSPC);
    journal->flush();
    REQUIRE(read_file(dir / "journal.log")->ends_with(half));
    journal->record(entry_for("x", "while the disk was full"));

    SUBCASE("by this journal, once there is room again") {
        REQUIRE(journal->set_directory(dir.path()));
        journal->record(entry_for("x", "after"));
        journal->flush();
        Strings lines = file_lines(dir / "journal.log");
        REQUIRE(lines.size() == 4);
        CHECK(parse_journal_line(lines[0])->message == "first");
        CHECK(lines[1] == half); // a line of its own
        CHECK(parse_journal_line(lines[2])->message == "while the disk was full");
        CHECK(parse_journal_line(lines[3])->message == "after");
    }
    SUBCASE("by the next boot's journal") {
        journal.reset();
        JournalOptions next_boot;
        next_boot.directory = dir.path();
        auto again = make_journal(*reactor, next_boot);
        again->record(entry_for("x", "next boot"));
        again->flush();
        Strings lines = file_lines(dir / "journal.log");
        REQUIRE(lines.size() == 3);
        CHECK(parse_journal_line(lines[0])->message == "first");
        CHECK(lines[1] == half);
        CHECK(parse_journal_line(lines[2])->message == "next boot");
    }
}

TEST_CASE("a rename that fails during rotation is reported, and the journal goes on in memory") {
    for (int code : {EXDEV, EACCES}) {
        CAPTURE(code);
        TempDir dir;
        FakeStorage storage;
        auto reactor = make_reactor();
        JournalOptions options;
        options.directory = dir.path();
        options.storage = &storage;
        options.max_file_bytes = 400;
        options.max_files = 2; // one rename per rotation: journal.log to journal.log.1
        auto journal = make_journal(*reactor, options);
        journal->capture_log();
        storage.fail(StorageCall::Rename, 1, code);
        for (int i = 0; i < 20; ++i) {
            journal->record(entry_for("rot.service", cat("entry ", i)));
            REQUIRE(reactor->run_once(0ms));
        }

        CHECK(messages(journal->tail("keel", 10)) ==
              Strings{cat("journal: rename ", keel::quoted(dir / "journal.log"), " to ",
                          keel::quoted(dir / "journal.log.1"), ": ", std::strerror(code),
                          "; journal entries are kept in memory only from now on")});
        CHECK(storage.calls(StorageCall::Rename) == 1);
        CHECK(journal->tail("rot.service", 100).size() == 20);
        // journal.log holds what came before the rotation, whole.
        Strings on_disk = journal_messages(dir / "journal.log");
        REQUIRE_FALSE(on_disk.empty());
        CHECK(on_disk.size() < 20);
        for (size_t i = 0; i < on_disk.size(); ++i)
            CHECK(on_disk[i] == cat("entry ", i));
        CHECK_FALSE(path_exists(dir / "journal.log.1"));
    }
}

TEST_CASE("wherever the machine stops, the journal files hold whole entries in order, and the "
          "next boot appends after them") {
    static constexpr int kEntries = 24;
    // Records entries, writing every third, through rotations (about five
    // lines fit a file), and closes the disk as at the end of the system.
    auto run = [](FakeStorage& storage, const std::string& directory) {
        auto reactor = make_reactor();
        JournalOptions options;
        options.storage = &storage;
        options.max_file_bytes = 300;
        options.max_files = 3;
        auto journal = make_journal(*reactor, options);
        if (auto set = journal->set_directory(directory); !set)
            CHECK_MESSAGE(storage.crashed(), set.error().to_string());
        for (int i = 0; i < kEntries; ++i) {
            journal->record(entry_for("x", cat("entry ", i)));
            if (i % 3 == 2)
                journal->flush();
        }
        journal->close_disk();
        CHECK(journal->tail("x", 100).size() == kEntries); // memory has them all
    };
    // The entry numbers in the files, oldest file first; a line that is not
    // a whole entry is -1.
    auto numbers_on_disk = [](const TempDir& dir) {
        std::vector<int> numbers;
        for (std::string name : {"journal.log.2", "journal.log.1", "journal.log"}) {
            if (!path_exists(dir / name))
                continue;
            for (const std::string& line : file_lines(dir / name)) {
                auto entry = parse_journal_line(line);
                numbers.push_back(entry && entry->message.starts_with("entry ")
                                      ? std::stoi(entry->message.substr(6))
                                      : -1);
            }
        }
        return numbers;
    };
    auto consecutive = [](const std::vector<int>& numbers) {
        for (size_t i = 1; i < numbers.size(); ++i)
            if (numbers[i] != numbers[i - 1] + 1)
                return false;
        return true;
    };
    // After the crash, the next boot: its first entry is whole.
    auto check_next_boot = [](const TempDir& dir) {
        auto reactor = make_reactor();
        JournalOptions options;
        options.directory = dir.path();
        auto journal = make_journal(*reactor, options);
        journal->record(entry_for("x", "next boot"));
        journal->flush();
        auto last = parse_journal_line(file_lines(dir / "journal.log").back());
        REQUIRE(last);
        CHECK(last->message == "next boot");
    };

    int calls = 0, writes = 0;
    {
        TempDir dir;
        FakeStorage storage;
        run(storage, dir.path());
        calls = storage.total_calls();
        writes = storage.calls(StorageCall::Write);
        CHECK_FALSE(storage.crashed());
        std::vector<int> numbers = numbers_on_disk(dir);
        CHECK(consecutive(numbers));
        CHECK(numbers.back() == kEntries - 1);
        CHECK(path_exists(dir / "journal.log.2")); // it did rotate
    }
    REQUIRE(writes > 3);

    for (int crash = 1; crash <= calls; ++crash) {
        CAPTURE(crash);
        TempDir dir;
        FakeStorage storage;
        storage.crash_at_call(crash);
        run(storage, dir.path());
        CHECK(storage.crashed());
        std::vector<int> numbers = numbers_on_disk(dir);
        CHECK(consecutive(numbers));
        CHECK(std::count(numbers.begin(), numbers.end(), -1) == 0);
        check_next_boot(dir);
    }
    // The machine stops in the middle of a write: part of it is on disk.
    for (int write = 1; write <= writes; ++write) {
        CAPTURE(write);
        TempDir dir;
        FakeStorage storage;
        storage.cut_write(StorageCall::Write, write, 25, CutWrite::Fail, EIO);
        storage.crash_at(StorageCall::Write, write + 1);
        run(storage, dir.path());
        std::vector<int> numbers = numbers_on_disk(dir);
        REQUIRE_FALSE(numbers.empty());
        CHECK(numbers.back() == -1); // the half line, last
        numbers.pop_back();
        CHECK(consecutive(numbers));
        check_next_boot(dir);
    }
}

TEST_CASE("kernel records are followed, keel's own lines get unit keel, losses are counted") {
    KernelJournal following;
    auto& [kernel_log, reactor, journal, writer] = following;
    // /dev/kmsg returns one record per read: hand them over one at a time.
    auto send = [&](std::string_view record, std::string_view unit, size_t count) {
        write_to(writer, record);
        run_until(*reactor, [&] { return journal->tail(unit, 100).size() == count; });
    };
    send("6,10,1500000,-;virtio_blk virtio1: [vda] 41943040 512-byte logical blocks\n", "kernel",
         1);
    send("14,11,1600000,-,caller=T1;keel: ready in 1.60 s since kernel start\n", "keel", 1);
    send("12,12,1700000,-;keel[42]: role kv: started\n", "keel", 2);
    send("3,15,1800000,-;after a gap\n SUBSYSTEM=block\n", "kernel", 3);
    send("this is not a record", "kernel", 4);

    std::vector<LogEntry> kernel = journal->tail("kernel", 100);
    CHECK(kernel[0].message == "virtio_blk virtio1: [vda] 41943040 512-byte logical blocks");
    CHECK(kernel[0].priority == 6);
    CHECK(kernel[0].boottime_usec == 1500000);
    CHECK(kernel[0].stream == "kernel");
    CHECK(kernel[1].message ==
          "keel: 2 kernel log records were lost (the kernel's buffer overran)");
    CHECK(kernel[2].message == "after a gap");
    CHECK(kernel[2].priority == 3);
    CHECK(kernel[3].message ==
          "keel: skipped a record of /dev/kmsg: kmsg record: no `;` after the header");
    std::vector<LogEntry> keel = journal->tail("keel", 100);
    CHECK(keel[0].message == "ready in 1.60 s since kernel start");
    CHECK(keel[0].stream == "keel");
    CHECK(keel[0].priority == 6);
    CHECK(keel[1].message == "role kv: started");
    CHECK(keel[1].priority == 4);

    writer.reset(); // the end of the "kernel log": reported, not fatal
    run_until(*reactor, [&] { return journal->tail("keel", 100).size() == 3; });
    CHECK(journal->tail("keel", 1)[0].message ==
          "journal: stopped following kernel messages: read /dev/kmsg: unexpected end of file");
}

TEST_CASE("captured, keel's own lines come from the logger and not back from the kernel log") {
    KernelJournal following;
    auto& [kernel_log, reactor, journal, writer] = following;
    // Written before the capture: recorded from the kernel log, which is
    // read on the loop, not in capture_log().
    write_to(writer, "14,1,1000000,-;keel: mounted the root\n");
    journal->capture_log();
    CHECK(journal->tail("keel", 10).empty());
    // Until the kernel log is read up, keel's lines go there only.
    log_notice("journal capture test: before the kernel log was read");
    CHECK(journal->tail("keel", 10).empty());
    CHECK_FALSE(journal->capture_began_usec());
    journal->record(entry_for("web.service", "Started web.service."));
    uint64_t before = keel::boottime_usec();
    drain(*reactor);
    CHECK(messages(journal->tail("keel", 10)) == Strings{"mounted the root"});
    // Lines about units recorded from now on are not in the kernel log's copy.
    REQUIRE(journal->capture_began_usec());
    CHECK(*journal->capture_began_usec() >= before);
    CHECK(*journal->capture_began_usec() > journal->tail("web.service", 1)[0].boottime_usec);

    log_notice("journal capture test: straight from the logger");
    std::vector<LogEntry> keel = journal->tail("keel", 10);
    REQUIRE(keel.size() == 2);
    CHECK(keel[1].message == "journal capture test: straight from the logger");
    CHECK(keel[1].priority == 5);
    // The same line coming back from the kernel log is not recorded twice;
    // a line of one of keel's children and the kernel's own are.
    auto send = [&](std::string_view record) {
        write_to(writer, record);
        drain(*reactor);
    };
    send("13,2,2000000,-;keel: journal capture test: straight from the logger\n");
    send("12,3,2100000,-;keel[42]: role kv: started\n");
    send("6,4,2200000,-;virtio_net virtio0 ens3: renamed from eth0\n");
    CHECK(messages(journal->tail("keel", 10)) ==
          Strings{"mounted the root", "journal capture test: straight from the logger",
                  "role kv: started"});
    CHECK(messages(journal->tail("kernel", 10)) ==
          Strings{"virtio_net virtio0 ens3: renamed from eth0"});

    journal.reset(); // the logger lets go of the journal
    log_notice("journal capture test: after the journal");
}

TEST_CASE("a long kernel log is read up before keel's lines are captured, none of them lost") {
    KernelJournal following;
    auto& [kernel_log, reactor, journal, writer] = following;
    // Packet mode keeps each write one read, as /dev/kmsg does; room for
    // more records than the journal reads in one wakeup.
    REQUIRE(::fcntl(writer.get(), F_SETPIPE_SZ, 1 << 20) >= 0);
    REQUIRE(::fcntl(writer.get(), F_SETFL, O_DIRECT) == 0);
    constexpr int kRecords = 150;
    for (int i = 1; i <= kRecords; ++i)
        write_to(writer, i == 5 || i == 140
                             ? cat("14,", i, ",", i * 1000, ",-;keel: line ", i, "\n")
                             : cat("6,", i, ",", i * 1000, ",-;kernel line ", i, "\n"));
    journal->capture_log();
    run_until(*reactor, [&] { return journal->tail("kernel", 1000).size() == kRecords - 2; });
    // The 140th record came after the first wakeup's reads and before the
    // capture began: it is keel's only copy of that line.
    CHECK(messages(journal->tail("keel", 10)) == Strings{"line 5", "line 140"});
    log_notice("journal backlog test: captured");
    CHECK(journal->tail("keel", 1)[0].message == "journal backlog test: captured");
    write_to(writer, "13,151,200000,-;keel: journal backlog test: captured\n");
    write_to(writer, "6,152,200100,-;kernel line 152\n");
    run_until(*reactor, [&] { return journal->tail("kernel", 1)[0].message == "kernel line 152"; });
    CHECK(journal->tail("keel", 10).size() == 3);
}

TEST_CASE("a journal that goes before its deferred disk write still writes what it recorded") {
    TempDir dir;
    auto reactor = make_reactor();
    JournalOptions options;
    options.directory = dir.path();
    auto journal = make_journal(*reactor, options);
    journal->record(entry_for("x", "last words"));
    journal.reset();
    REQUIRE(reactor->run_once(0ms)); // the deferred write finds no journal
    Strings lines = file_lines(dir / "journal.log");
    REQUIRE(lines.size() == 1);
    CHECK(parse_journal_line(lines[0])->message == "last words");
}

TEST_CASE("the real /dev/kmsg is followed from boot on (when this test may read and write it)") {
    auto writer = open_file("/dev/kmsg", O_WRONLY);
    auto reader = open_file("/dev/kmsg", O_RDONLY | O_NONBLOCK);
    if (!writer || !reader) {
        MESSAGE("skipped: /dev/kmsg is not readable and writable here");
        return;
    }
    auto reactor = make_reactor();
    JournalOptions options;
    options.lines_per_unit = 100000;
    options.bytes_per_unit = 64u << 20;
    auto journal = make_journal(*reactor, options);
    REQUIRE(journal->follow_kernel());
    std::string marker = cat("journal test marker ", ::getpid(), " ", monotonic_usec());
    write_to(*writer, cat("<5>keel: ", marker, "\n"));
    auto seen = [&] {
        for (const LogEntry& entry : journal->tail("keel", 100000))
            if (entry.message == marker)
                return entry.priority == 5;
        return false;
    };
    run_until(*reactor, seen);
    CHECK_FALSE(journal->tail("kernel", 1).empty());
}

TEST_CASE("journal lines: the documented format, escapes, and back") {
    LogEntry entry;
    entry.realtime_usec = 1714566896123456; // 2024-05-01T12:34:56.123456Z
    entry.boottime_usec = 12345678;
    entry.unit = "web.service";
    entry.stream = "stdout";
    entry.priority = 6;
    entry.message = "Listening on :80";
    CHECK(format_journal_line(entry) ==
          "2024-05-01T12:34:56.123456Z 12.345678 web.service stdout 6 Listening on :80\n");
    CHECK(parse_journal_line(format_journal_line(entry)) == entry);

    entry.unit = "";
    entry.stream = "-";
    entry.message = std::string("a\\b\tc\x7f\n\0 end ", 13);
    std::string line = format_journal_line(entry);
    CHECK(line == "2024-05-01T12:34:56.123456Z 12.345678 - \\x2d 6 "
                  "a\\\\b\\x09c\\x7f\\x0a\\x00 end \n");
    CHECK(parse_journal_line(line) == entry);

    entry.unit = "odd unit";
    entry.realtime_usec = 0;
    entry.boottime_usec = 0;
    CHECK(format_journal_line(entry).starts_with(
        "1970-01-01T00:00:00.000000Z 0.000000 odd\\x20unit "));
    CHECK(parse_journal_line(format_journal_line(entry)) == entry);
    CHECK(format_utc_timestamp(951782400000000) == "2000-02-29T00:00:00.000000Z");
}

TEST_CASE("journal lines that keel did not write are errors that say what is wrong") {
    auto problem = [](std::string_view line) {
        auto parsed = parse_journal_line(line);
        REQUIRE_FALSE(parsed);
        return parsed.error().to_string();
    };
    const std::string time = "2024-05-01T12:34:56.123456Z ";
    CHECK(problem("") == "journal line: has 1 fields, expected 6");
    CHECK(problem(time + "1.000000 u s 6") == "journal line: has 5 fields, expected 6");
    CHECK(problem("2023-02-29T00:00:00.000000Z 1.000000 u s 6 m") ==
          "journal line: time `2023-02-29T00:00:00.000000Z` is not like "
          "2024-05-01T12:34:56.123456Z");
    CHECK(problem("2024-05-01 1.000000 u s 6 m") ==
          "journal line: time `2024-05-01` is not like 2024-05-01T12:34:56.123456Z");
    CHECK(problem(time + "1.5 u s 6 m") == "journal line: boot time `1.5` is not like 12.345678");
    CHECK(problem(time + "1.000000 u s 8 m") ==
          "journal line: priority `8` is not a digit from 0 to 7");
    CHECK(problem(time + "1.000000 u s 6 tab\there") ==
          "journal line: message has an unescaped control character");
    CHECK(problem(time + "1.000000 u s 6 bad \\q escape") ==
          "journal line: message has an escape that is not `\\\\` or `\\xNN` (lowercase)");
    CHECK(problem(time + "1.000000 u s 6 cut \\x4") ==
          "journal line: message ends inside an escape");
    CHECK(problem(time + "1.000000 u s 6 \\x41") ==
          "journal line: not in the journal's canonical form");
    CHECK(problem(time + "1.000000 web\\x2eservice s 6 m") ==
          "journal line: not in the journal's canonical form");
}

TEST_CASE("kmsg records: fields, device properties and keel's tag") {
    auto record = parse_kmsg_record(
        "7,160,424069,-,caller=T1;pci_root PNP0A03:00: host bridge\n SUBSYSTEM=acpi\n");
    REQUIRE(record);
    CHECK(record->level == 7);
    CHECK(record->facility == 0);
    CHECK(record->sequence == 160);
    CHECK(record->timestamp_usec == 424069);
    CHECK(record->message == "pci_root PNP0A03:00: host bridge");
    CHECK(format_kmsg_record(*record) == "7,160,424069,-;pci_root PNP0A03:00: host bridge\n");

    std::string_view message;
    CHECK_FALSE(strip_keel_tag(*record, message));
    auto keel = parse_kmsg_record("14,1,2,-;keel: ready\n");
    REQUIRE(keel);
    CHECK(keel->facility == 1);
    CHECK(keel->level == 6);
    CHECK(strip_keel_tag(*keel, message));
    CHECK(message == "ready");
    auto child = parse_kmsg_record("14,1,2,-;keel[12]: up\n");
    CHECK(strip_keel_tag(*child, message));
    CHECK(message == "up");
    // The kernel itself saying "keel: ..." (facility 0) is still the kernel.
    auto kernel = parse_kmsg_record("6,1,2,-;keel: spoofed\n");
    CHECK_FALSE(strip_keel_tag(*kernel, message));
    for (std::string_view other : {"14,1,2,-;keelhaul: x\n", "14,1,2,-;keel[]: x\n",
                                   "14,1,2,-;keel[1a]: x\n", "14,1,2,-;keel:x\n"}) {
        auto parsed = parse_kmsg_record(other);
        REQUIRE(parsed);
        CHECK_FALSE(strip_keel_tag(*parsed, message));
    }
}

TEST_CASE("malformed kmsg records are errors that say what is wrong") {
    auto problem = [](std::string_view record) {
        auto parsed = parse_kmsg_record(record);
        REQUIRE_FALSE(parsed);
        return parsed.error().to_string();
    };
    CHECK(problem("") == "kmsg record: no `;` after the header");
    CHECK(problem("6,1,2;m\n") == "kmsg record: header has 3 fields, expected at least 4");
    CHECK(problem("x,1,2,-;m\n") == "kmsg record: priority is not a number from 0 to 2047");
    CHECK(problem("2048,1,2,-;m\n") == "kmsg record: priority is not a number from 0 to 2047");
    CHECK(problem("-1,1,2,-;m\n") == "kmsg record: priority is not a number from 0 to 2047");
    CHECK(problem("6,,2,-;m\n") == "kmsg record: sequence number is not a number");
    CHECK(problem("6,1,99999999999999999999,-;m\n") == "kmsg record: timestamp is not a number");
    CHECK(problem("6,1,2,x;m\n") == "kmsg record: flags are not made of `-`, `c` and `+`");
    CHECK(problem("6,1,2,-,;m\n") ==
          "kmsg record: an extra header field is empty or not printable");
    CHECK(problem("6,1,2,-;m") == "kmsg record: no newline after the message");
    CHECK(problem("6,1,2,-;tab\there\n") == "kmsg record: control character in the message");
    CHECK(problem("6,1,2,-;m\nSUBSYSTEM=x\n") ==
          "kmsg record: a line after the message is not an indented property");
    CHECK(problem("6,1,2,-;m\n SUBSYSTEM=x") ==
          "kmsg record: a line after the message is not an indented property");
}
