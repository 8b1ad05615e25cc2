// containers/tar.cpp: archives written by GNU tar at test time (plain,
// gzip, zstd; GNU and pax formats) read back entry by entry, and archives
// built byte by byte (tests/unit/tar_writer.h) for pax, GNU long names,
// base-256 numbers and every kind of malformed header.
#include "containers/tar.h"

#include "base/strings.h"
#include "base/sys.h"
#include "tests/unit/tar_writer.h"
#include "tests/unit/temp_dir.h"
#include "tests/unit/test_util.h"

#include <doctest/doctest.h>

#include <cstdlib>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

using namespace keel;
using namespace keel::oci;
using keel::testing::run_shell;
using keel::testing::TarWriter;
using keel::testing::TempDir;
using keel::testing::TestEntry;

namespace {

struct ReadEntry {
    TarEntry entry;
    std::string data;
};

// Every entry of `source` with its data, or the reader's error.
Result<std::vector<ReadEntry>> read_all_entries(ByteSource& source) {
    TarReader reader(source);
    std::vector<ReadEntry> out;
    while (auto entry = TRY(reader.next())) {
        std::string data;
        char buffer[1000]; // not a block multiple: data comes in odd pieces
        while (size_t n = TRY(reader.read_data({buffer, sizeof buffer})))
            data.append(buffer, n);
        out.push_back({std::move(*entry), std::move(data)});
    }
    return out;
}

Result<std::vector<ReadEntry>> read_bytes(const std::string& bytes) {
    MemorySource source(bytes);
    return read_all_entries(source);
}

std::string tar_error(const std::string& bytes) {
    auto read = read_bytes(bytes);
    REQUIRE_FALSE(read.has_value());
    return read.error().to_string();
}

// A small tree for GNU tar: a file, a directory, a symlink, a hard link, a
// fifo and a name too long for the ustar name field.
std::string make_tree(const TempDir& dir) {
    std::string tree = dir / "tree";
    std::string long_dir = std::string(120, 'd');
    REQUIRE(make_directories(tree + "/sub/" + long_dir).has_value());
    REQUIRE(write_new_file(tree + "/hello.txt", "hello, layer\n").has_value());
    REQUIRE(write_new_file(tree + "/sub/" + long_dir + "/" + std::string(150, 'f'), "deep")
                .has_value());
    std::string big;
    for (int i = 0; i < 5000; ++i)
        big += cat("line ", i, "\n");
    REQUIRE(write_new_file(tree + "/sub/big", big, 0600).has_value());
    REQUIRE(::symlink("hello.txt", (tree + "/link").c_str()) == 0);
    REQUIRE(::link((tree + "/hello.txt").c_str(), (tree + "/hard").c_str()) == 0);
    REQUIRE(::mkfifo((tree + "/pipe").c_str(), 0640) == 0);
    return tree;
}

const ReadEntry* find(const std::vector<ReadEntry>& entries, std::string_view path) {
    for (const auto& e : entries)
        if (e.entry.path == path || e.entry.path == cat("./", path) ||
            e.entry.path == cat("./", path, "/") || e.entry.path == cat(path, "/"))
            return &e;
    return nullptr;
}

void check_tree_entries(const std::vector<ReadEntry>& entries) {
    const ReadEntry* hello = find(entries, "hello.txt");
    const ReadEntry* hard = find(entries, "hard");
    const ReadEntry* link = find(entries, "link");
    const ReadEntry* pipe = find(entries, "pipe");
    const ReadEntry* sub = find(entries, "sub");
    const ReadEntry* big = find(entries, "sub/big");
    REQUIRE(hello);
    REQUIRE(hard);
    REQUIRE(link);
    REQUIRE(pipe);
    REQUIRE(sub);
    REQUIRE(big);
    // GNU tar stores whichever of the two names it meets first as the file.
    const ReadEntry* file = hello->entry.type == TarEntryType::Regular ? hello : hard;
    const ReadEntry* other = file == hello ? hard : hello;
    CHECK(file->data == "hello, layer\n");
    CHECK(other->entry.type == TarEntryType::HardLink);
    CHECK(other->entry.link_target.ends_with(file == hello ? "hello.txt" : "hard"));
    CHECK(link->entry.type == TarEntryType::Symlink);
    CHECK(link->entry.link_target == "hello.txt");
    CHECK(pipe->entry.type == TarEntryType::Fifo);
    CHECK(pipe->entry.mode == 0640);
    CHECK(sub->entry.type == TarEntryType::Directory);
    CHECK(big->entry.mode == 0600);
    CHECK(big->data.size() == big->entry.size);
    CHECK(big->data.starts_with("line 0\nline 1\n"));
    CHECK(big->data.ends_with("line 4999\n"));
    std::string deep = cat("sub/", std::string(120, 'd'), "/", std::string(150, 'f'));
    const ReadEntry* deep_entry = find(entries, deep);
    REQUIRE(deep_entry);
    CHECK(deep_entry->data == "deep");
    for (const auto& e : entries)
        CHECK(e.entry.mtime > 1000000000);
}

std::string archive_with(const TempDir& dir, const std::string& options, const std::string& name) {
    std::string tree = make_tree(dir);
    std::string archive = dir / name;
    run_shell(cat("tar -C ", tree, " ", options, " -cf ", archive, " ."));
    return archive;
}

std::vector<ReadEntry> read_file_entries(const std::string& path) {
    Fd fd = open_file(path, O_RDONLY).value();
    auto source = decompressed(std::make_unique<FdSource>(fd.get()));
    REQUIRE(source.has_value());
    auto entries = read_all_entries(**source);
    INFO((entries ? std::string() : entries.error().to_string()));
    REQUIRE(entries.has_value());
    return *entries;
}

} // namespace

TEST_CASE("an archive GNU tar wrote in its own format reads back entry by entry") {
    TempDir dir;
    check_tree_entries(read_file_entries(archive_with(dir, "--format=gnu", "layer.tar")));
}

TEST_CASE("an archive GNU tar wrote in pax format reads back entry by entry") {
    TempDir dir;
    check_tree_entries(read_file_entries(archive_with(dir, "--format=pax", "layer.tar")));
}

TEST_CASE("gzip and zstd archives are found by magic number and read through") {
    TempDir dir;
    std::string archive = archive_with(dir, "--format=pax", "layer.tar");
    run_shell(cat("gzip -k -c ", archive, " > ", archive, ".gz"));
    run_shell(cat("zstd -q -c ", archive, " > ", archive, ".zst"));
    // Two gzip members, as pigz or cat write them, are one stream.
    run_shell(cat("head -c 3000 ", archive, " | gzip -c > ", archive, ".2.gz && tail -c +3001 ",
                  archive, " | gzip -c >> ", archive, ".2.gz"));
    check_tree_entries(read_file_entries(archive + ".gz"));
    check_tree_entries(read_file_entries(archive + ".zst"));
    check_tree_entries(read_file_entries(archive + ".2.gz"));
}

TEST_CASE("truncated or corrupt compressed data is an error, not a short archive") {
    TempDir dir;
    std::string archive = archive_with(dir, "--format=gnu", "layer.tar");
    run_shell(cat("gzip -c ", archive, " | head -c 2000 > ", archive, ".gz"));
    run_shell(cat("zstd -q -c ", archive, " | head -c 2000 > ", archive, ".zst"));
    for (std::string suffix : {".gz", ".zst"}) {
        CAPTURE(suffix);
        Fd fd = open_file(archive + suffix, O_RDONLY).value();
        auto source = decompressed(std::make_unique<FdSource>(fd.get()));
        REQUIRE(source.has_value());
        auto entries = read_all_entries(**source);
        REQUIRE_FALSE(entries.has_value());
        CHECK(entries.error().to_string().find("truncated") != std::string::npos);
    }
    std::string corrupt = std::string("\x1f\x8b\x08\x00", 4) + std::string(40, 'x');
    auto source = decompressed(std::make_unique<MemorySource>(corrupt));
    REQUIRE(source.has_value());
    char buffer[64];
    CHECK_FALSE((*source)->read({buffer, sizeof buffer}).has_value());
}

TEST_CASE("pax records override the header's path, link, size, owner and mtime") {
    TarWriter tar;
    tar.pax({{"path", "a/very/" + std::string(200, 'p')},
             {"uid", "4000000000"},
             {"gid", "77"},
             {"mtime", "1600000000.123456789"},
             {"SCHILY.xattr.user.note", "kept"},
             {"atime", "1.5"},
             {"comment", "ignored"}});
    tar.add({.name = "short", .data = "pax data"});
    tar.pax({{"linkpath", std::string(300, 'l')}});
    tar.add({.name = "sym", .type = '2', .link = "ignored"});
    tar.pax({{"mtime", "-1.25"}});
    tar.add({.name = "old", .data = ""});
    // A global header is checked, then ignored.
    tar.pax({{"comment", "global"}}, 'g');
    tar.add({.name = "after-global", .data = "x"});
    auto entries = read_bytes(tar.finish());
    REQUIRE(entries.has_value());
    REQUIRE(entries->size() == 4);
    const TarEntry& first = (*entries)[0].entry;
    CHECK(first.path == "a/very/" + std::string(200, 'p'));
    CHECK(first.uid == 4000000000u);
    CHECK(first.gid == 77);
    CHECK(first.mtime == 1600000000);
    CHECK(first.mtime_nsec == 123456789);
    CHECK(first.xattrs.at("user.note") == "kept");
    CHECK(first.index == 1);
    CHECK(first.offset == 0);
    CHECK((*entries)[0].data == "pax data");
    CHECK((*entries)[1].entry.link_target == std::string(300, 'l'));
    CHECK((*entries)[1].entry.index == 2);
    CHECK((*entries)[2].entry.mtime == -2);
    CHECK((*entries)[2].entry.mtime_nsec == 750000000);
    CHECK((*entries)[3].entry.path == "after-global");
}

TEST_CASE("a pax size record says how much data follows") {
    TarWriter tar;
    tar.pax({{"size", "10"}});
    tar.add({.name = "sized", .data = "0123456789", .size_field = 3});
    tar.add({.name = "next", .data = "n"});
    auto entries = read_bytes(tar.finish());
    REQUIRE(entries.has_value());
    REQUIRE(entries->size() == 2);
    CHECK((*entries)[0].data == "0123456789");
    CHECK((*entries)[1].data == "n");
}

TEST_CASE("GNU long names and long links apply to the entry that follows") {
    std::string name = std::string(300, 'n') + "/file";
    std::string link = "/" + std::string(500, 't');
    TarWriter tar;
    tar.gnu_long('L', name).gnu_long('K', link);
    tar.add({.name = "cut", .type = '2', .link = "cut", .gnu = true});
    tar.add({.name = "plain", .gnu = true});
    auto entries = read_bytes(tar.finish());
    REQUIRE(entries.has_value());
    REQUIRE(entries->size() == 2);
    CHECK((*entries)[0].entry.path == name);
    CHECK((*entries)[0].entry.link_target == link);
    CHECK((*entries)[0].entry.type == TarEntryType::Symlink);
    CHECK((*entries)[1].entry.path == "plain");
    CHECK((*entries)[1].entry.index == 2);
}

TEST_CASE("numbers too big for octal are read in base-256, negative ones too") {
    TarWriter tar;
    tar.add({.name = "big-ids", .uid = 3000000000u, .gid = 2097152, .mtime = -100000});
    tar.add({.name = "dir/", .type = '0'}); // old tars: a trailing slash makes a directory
    auto entries = read_bytes(tar.finish());
    REQUIRE(entries.has_value());
    CHECK((*entries)[0].entry.uid == 3000000000u);
    CHECK((*entries)[0].entry.gid == 2097152);
    CHECK((*entries)[0].entry.mtime == -100000);
    CHECK((*entries)[1].entry.type == TarEntryType::Directory);
}

TEST_CASE("device numbers, modes and a ustar prefix are read from the header") {
    TarWriter tar;
    std::string name = std::string(120, 'p') + "/" + std::string(90, 'n');
    tar.add({.name = name, .mode = 04755});
    tar.add({.name = "null", .type = '3', .mode = 0666, .major = 1, .minor = 3});
    tar.add({.name = "disk", .type = '4', .major = 8, .minor = 1});
    auto entries = read_bytes(tar.finish());
    REQUIRE(entries.has_value());
    CHECK((*entries)[0].entry.path == name);
    CHECK((*entries)[0].entry.mode == 04755);
    CHECK((*entries)[1].entry.type == TarEntryType::CharDevice);
    CHECK((*entries)[1].entry.device_major == 1);
    CHECK((*entries)[1].entry.device_minor == 3);
    CHECK((*entries)[2].entry.type == TarEntryType::BlockDevice);
}

TEST_CASE("a header whose checksum is wrong is refused, naming the entry and offset") {
    TarWriter tar;
    tar.add({.name = "first", .data = std::string(600, 'a')}); // two blocks of data
    std::string bad = TarWriter::header({.name = "etc/passwd"});
    bad[0] = 'E'; // changed after the checksum was computed
    tar.raw(bad);
    CHECK(tar_error(tar.finish()) ==
          "entry 2 (`Etc/passwd`) at byte 1536: header checksum mismatch");
}

TEST_CASE("an archive cut short is an error wherever it is cut") {
    TarWriter tar;
    tar.add({.name = "a", .data = std::string(2000, 'a')});
    tar.add({.name = "b", .data = "b"});
    std::string whole = tar.finish();
    REQUIRE(read_bytes(whole).has_value());
    // Cut in the data, in a header, and where the end marker should be.
    CHECK(
        tar_error(whole.substr(0, 1000)).starts_with("entry 1 (`a`) at byte 0: archive truncated"));
    CHECK(tar_error(whole.substr(0, 2560 + 100)).find("truncated in a header") !=
          std::string::npos);
    CHECK(tar_error(tar.bytes()).find("without its end marker") != std::string::npos);
    CHECK(tar_error("").find("without its end marker") != std::string::npos);
}

TEST_CASE("a huge size field is refused or found truncated, never trusted") {
    TarWriter tar;
    tar.add({.name = "huge", .size_field = int64_t(1) << 62});
    CHECK(tar_error(tar.finish()) == "entry 1 (`huge`) at byte 0: size field out of range");
    TarWriter octal;
    octal.add({.name = "big", .size_field = 077777777777}); // 8 GiB, in octal
    CHECK(tar_error(octal.finish()).find("archive truncated in data") != std::string::npos);
}

TEST_CASE("names longer than 4096 bytes and oversized pax headers are refused") {
    TarWriter gnu;
    gnu.gnu_long('L', std::string(5000, 'x'));
    gnu.add({.name = "x"});
    CHECK(tar_error(gnu.finish()).find("GNU long name of 5001 bytes exceeds 4097") !=
          std::string::npos);
    TarWriter pax;
    pax.pax({{"path", std::string(4097, 'p')}});
    pax.add({.name = "x"});
    CHECK(tar_error(pax.finish()).find("pax path: longer than 4096 bytes") != std::string::npos);
    TarWriter big;
    big.raw_extension('x', std::string((1 << 20) + 1, ' '));
    big.add({.name = "x"});
    CHECK(tar_error(big.finish()).find("pax header of 1048577 bytes exceeds") != std::string::npos);
}

TEST_CASE("malformed pax records are refused") {
    for (std::string records :
         {std::string("5 a=b\n"), std::string("100 path=x\n"), std::string("x path=y\n"),
          std::string("9 path=x"), TarWriter::pax_record("uid", "12x"),
          TarWriter::pax_record("mtime", "1."),
          TarWriter::pax_record("path", std::string("a\0b", 3)),
          TarWriter::pax_record("GNU.sparse.map", "0,1")}) {
        CAPTURE(records);
        TarWriter tar;
        tar.raw_extension('x', records);
        tar.add({.name = "x"});
        CHECK(tar_error(tar.finish()).starts_with("entry 1"));
    }
}

TEST_CASE("sparse files, volume labels and unknown types are refused by name") {
    struct Case {
        char type;
        std::string_view message;
    };
    for (Case c :
         {Case{'S', "GNU sparse file is not supported"}, Case{'V', "volume label is not supported"},
          Case{'M', "GNU multi-volume continuation is not supported"},
          Case{'Z', "entry type 'Z' is not supported"}}) {
        TarWriter tar;
        tar.add({.name = "ok"});
        tar.add({.name = "odd", .type = c.type, .gnu = true});
        CHECK(tar_error(tar.finish()) == cat("entry 2 (`odd`) at byte 512: ", c.message));
    }
}

TEST_CASE("links without a target and empty names are refused") {
    TarWriter link;
    link.add({.name = "l", .type = '2'});
    CHECK(tar_error(link.finish()).find("symlink without a target") != std::string::npos);
    TarWriter empty;
    empty.add({.name = ""});
    CHECK(tar_error(empty.finish()).find("empty name") != std::string::npos);
}

TEST_CASE("data left unread is skipped on the way to the next entry") {
    TarWriter tar;
    tar.add({.name = "a", .data = std::string(70000, 'a')});
    tar.add({.name = "b", .data = "bee"});
    std::string bytes = tar.finish();
    MemorySource source(bytes);
    TarReader reader(source);
    REQUIRE(reader.next().value()->path == "a");
    auto b = reader.next();
    REQUIRE(b.has_value());
    REQUIRE(*b != nullptr);
    CHECK((*b)->path == "b");
    CHECK((*b)->offset == 512 + 70144);
    char buffer[10];
    CHECK(reader.read_data({buffer, sizeof buffer}).value() == 3);
    CHECK(reader.next().value() == nullptr);
    CHECK(reader.next().value() == nullptr);
}
