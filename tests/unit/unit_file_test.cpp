// Tests for base/unit_file.h: the INI dialect, word splitting, booleans and
// time spans, with the exact messages users see for bad input.
#include "base/unit_file.h"

#include "base/sys.h"
#include "tests/unit/temp_dir.h"

#include <doctest/doctest.h>

#include <cerrno>
#include <cstdint>
#include <limits>

using namespace keel;
using keel::testing::TempDir;

namespace {

UnitFile parse_ok(std::string_view text) {
    Result<UnitFile> file = UnitFile::parse(text, "test.service");
    REQUIRE_MESSAGE(file, (file ? "" : file.error().to_string()));
    return std::move(*file);
}

std::string unit_file_error(std::string_view text) {
    Result<UnitFile> file = UnitFile::parse(text, "web.service");
    REQUIRE_MESSAGE(!file, "expected a parse error");
    return file.error().to_string();
}

std::vector<std::string> words(std::string_view value) {
    Result<std::vector<std::string>> split = split_words(value);
    REQUIRE_MESSAGE(split, (split ? "" : split.error().to_string()));
    return *split;
}

std::string words_error(std::string_view value) {
    Result<std::vector<std::string>> split = split_words(value);
    REQUIRE_MESSAGE(!split, "expected a split error");
    return split.error().to_string();
}

uint64_t usec(std::string_view value) {
    Result<uint64_t> span = parse_timespan_usec(value);
    REQUIRE_MESSAGE(span, (span ? "" : span.error().to_string()));
    return *span;
}

std::string usec_error(std::string_view value) {
    Result<uint64_t> span = parse_timespan_usec(value);
    REQUIRE_MESSAGE(!span, "expected a time span error");
    return span.error().to_string();
}

constexpr uint64_t kSecond = 1'000'000;

} // namespace

TEST_CASE("a unit file yields its sections and assignments in file order") {
    UnitFile file = parse_ok("[Unit]\n"
                             "Description=Web server\n"
                             "After=network.target\n"
                             "\n"
                             "[Service]\n"
                             "ExecStart=/usr/bin/web --port 80\n"
                             "Restart=on-failure\n");
    CHECK(file.filename() == "test.service");
    REQUIRE(file.sections().size() == 2);
    const UnitSection& unit = file.sections()[0];
    CHECK(unit.name == "Unit");
    CHECK(unit.line == 1);
    REQUIRE(unit.entries.size() == 2);
    CHECK(unit.entries[0].key == "Description");
    CHECK(unit.entries[0].value == "Web server");
    CHECK(unit.entries[0].line == 2);
    CHECK(unit.entries[1].line == 3);
    CHECK(file.sections()[1].name == "Service");
    CHECK(file.sections()[1].line == 5);
    CHECK(file.get("Service", "ExecStart") == "/usr/bin/web --port 80");
    CHECK(file.section("Install") == nullptr);
    CHECK(!file.get("Install", "WantedBy"));
    CHECK(!file.get("Unit", "Wants"));
}

TEST_CASE("whitespace around keys, values and the whole line is trimmed") {
    UnitFile file = parse_ok("  [Unit]  \n"
                             "\tDescription \t=  spaced out\t \n");
    CHECK(file.get("Unit", "Description") == "spaced out");
}

TEST_CASE("a value may contain `=` and may be empty") {
    UnitFile file = parse_ok("[Service]\nEnvironment=A=1 B==2\nUser=\n");
    CHECK(file.get("Service", "Environment") == "A=1 B==2");
    CHECK(file.get("Service", "User") == "");
}

TEST_CASE("comment lines starting with a hash or a semicolon are ignored, even indented") {
    UnitFile file = parse_ok("# top comment\n"
                             "; another\n"
                             "[Unit]\n"
                             "   # indented comment\n"
                             "Description=text # not a comment\n");
    REQUIRE(file.sections().size() == 1);
    REQUIRE(file.sections()[0].entries.size() == 1);
    CHECK(file.get("Unit", "Description") == "text # not a comment");
}

TEST_CASE("later assignments override earlier ones for get") {
    UnitFile file = parse_ok("[Service]\nUser=a\nUser=b\n");
    CHECK(file.get("Service", "User") == "b");
}

TEST_CASE("get_all returns repeated keys in order and an empty assignment clears them") {
    UnitFile file = parse_ok("[Unit]\n"
                             "After=a.service\n"
                             "After=b.service\n"
                             "After=\n"
                             "After=c.service\n"
                             "After=d.service\n");
    CHECK(file.get_all("Unit", "After") == std::vector<std::string>{"c.service", "d.service"});
    CHECK(file.get_all("Unit", "Before").empty());
    CHECK(file.get_all("Nope", "After").empty());
}

TEST_CASE("a repeated section header continues the first section of that name") {
    UnitFile file = parse_ok("[Unit]\nAfter=a\n[Service]\nUser=x\n[Unit]\nAfter=b\n");
    REQUIRE(file.sections().size() == 2);
    CHECK(file.sections()[0].line == 1);
    CHECK(file.get_all("Unit", "After") == std::vector<std::string>{"a", "b"});
}

TEST_CASE("a trailing backslash continues the value on the next line, joined by a space") {
    UnitFile file = parse_ok("[Service]\n"
                             "ExecStart=/bin/web \\\n"
                             "    --port 80\\\n"
                             "--verbose\n"
                             "User=web\n");
    const UnitSection* service = file.section("Service");
    REQUIRE(service);
    REQUIRE(service->entries.size() == 2);
    CHECK(service->entries[0].value == "/bin/web      --port 80 --verbose");
    CHECK(service->entries[0].line == 2);
    CHECK(service->entries[1].line == 5);
    REQUIRE(split_words(service->entries[0].value));
    CHECK(words(service->entries[0].value) ==
          std::vector<std::string>{"/bin/web", "--port", "80", "--verbose"});
}

TEST_CASE("comment lines inside a continuation are skipped") {
    UnitFile file = parse_ok("[Service]\n"
                             "ExecStart=/bin/web \\\n"
                             "# --disabled-flag \\\n"
                             "  ; another\n"
                             "  --enabled\n");
    CHECK(file.get("Service", "ExecStart") == "/bin/web    --enabled");
}

TEST_CASE("an empty line ends a continuation") {
    UnitFile file = parse_ok("[Service]\nExecStart=/bin/a \\\n\nUser=x\n");
    CHECK(file.get("Service", "ExecStart") == "/bin/a");
    CHECK(file.get("Service", "User") == "x");
}

TEST_CASE("an escaped backslash at the end of a line is not a continuation") {
    UnitFile file = parse_ok("[Service]\nPath=C:\\\\\nUser=x\n");
    CHECK(file.get("Service", "Path") == "C:\\\\");
    CHECK(file.get("Service", "User") == "x");
}

TEST_CASE("a continuation that runs into the end of the file is accepted") {
    UnitFile file = parse_ok("[Service]\nExecStart=/bin/web \\");
    CHECK(file.get("Service", "ExecStart") == "/bin/web");
}

TEST_CASE("a continued section header is joined like any other line") {
    UnitFile file = parse_ok("[Ser\\\nvice]\nUser=x\n");
    // The backslash became a space, which is not allowed around a name but
    // is inside it; systemd would look this section up as "Ser vice".
    CHECK(file.get("Ser vice", "User") == "x");
}

TEST_CASE("CRLF line endings, a missing final newline and a UTF-8 BOM are accepted") {
    UnitFile file = parse_ok("\xEF\xBB\xBF[Unit]\r\nDescription=dos \\\r\n  file\r\nAfter=x");
    CHECK(file.get("Unit", "Description") == "dos    file");
    CHECK(file.get("Unit", "After") == "x");
}

TEST_CASE("an empty or comment-only file has no sections") {
    CHECK(parse_ok("").sections().empty());
    CHECK(parse_ok("\n\n# nothing\n").sections().empty());
}

TEST_CASE("section names may contain spaces, dashes and non-ASCII text") {
    UnitFile file = parse_ok("[X-Fleet]\nGlobal=true\n[Über Section]\nK=v\n");
    CHECK(file.get("X-Fleet", "Global") == "true");
    CHECK(file.get("Über Section", "K") == "v");
}

TEST_CASE("an assignment before any section header names the file, line and key") {
    CHECK(unit_file_error("\n# c\nDescription=x\n[Unit]\n") ==
          "web.service:3: assignment to `Description` before any [Section] header");
}

TEST_CASE("a line without `=` is rejected with what was found") {
    CHECK(unit_file_error("[Unit]\nDescription=ok\nthis is not an assignment\n") ==
          "web.service:3: expected Key=Value, got `this is not an assignment`");
    CHECK(unit_file_error("[Unit]\nfoo") == "web.service:2: expected Key=Value, got `foo`");
}

TEST_CASE("an empty key is rejected") {
    CHECK(unit_file_error("[Unit]\n=value\n") ==
          "web.service:2: missing key before `=` in `=value`");
    CHECK(unit_file_error("[Unit]\n   = value\n") ==
          "web.service:2: missing key before `=` in `= value`");
}

TEST_CASE("a key with inner whitespace is rejected") {
    CHECK(unit_file_error("[Service]\nExec Start=/bin/true\n") ==
          "web.service:2: invalid key `Exec Start`: keys contain no whitespace or control "
          "characters");
}

TEST_CASE("malformed section headers say what is wrong with them") {
    CHECK(unit_file_error("[Unit\n") ==
          "web.service:1: invalid section header `[Unit`: missing `]`");
    CHECK(unit_file_error("[Unit] # comment\n") ==
          "web.service:1: invalid section header `[Unit] # comment`: text after `]`");
    CHECK(unit_file_error("[]\n") == "web.service:1: invalid section header `[]`: empty name");
    CHECK(unit_file_error("[Un]it]\n") ==
          "web.service:1: invalid section header `[Un]it]`: `[` or `]` inside the name");
    CHECK(unit_file_error("[[Unit]]\n") ==
          "web.service:1: invalid section header `[[Unit]]`: `[` or `]` inside the name");
    CHECK(unit_file_error("[ Unit ]\n") ==
          "web.service:1: invalid section header `[ Unit ]`: whitespace around the name");
    CHECK(unit_file_error("[Un\x01it]\n") ==
          "web.service:1: invalid section header `[Un\\x01it]`: control character in the name");
}

TEST_CASE("a NUL byte anywhere is rejected with its line, even in a comment") {
    using namespace std::string_literals;
    CHECK(unit_file_error("[Unit]\nDescription=a\0b\n"s) == "web.service:2: contains a NUL byte");
    CHECK(unit_file_error("[Unit]\n\n# comment \0\n"s) == "web.service:3: contains a NUL byte");
}

TEST_CASE("an error in a continued line names the line where it started") {
    CHECK(unit_file_error("[Unit]\nno equals \\\nsign here\n") ==
          "web.service:2: expected Key=Value, got `no equals  sign here`");
}

TEST_CASE("long or binary text in an error message is shortened and made visible") {
    std::string line(100, 'x');
    CHECK(unit_file_error("[Unit]\n" + line + "\n") ==
          "web.service:2: expected Key=Value, got `" + std::string(60, 'x') + "...`");
    CHECK(unit_file_error("[Unit]\n\x1b[31mred\n") ==
          "web.service:2: expected Key=Value, got `\\x1b[31mred`");
}

TEST_CASE("merge appends a drop-in's entries to same-named sections and adds new ones") {
    UnitFile base = parse_ok("[Unit]\nAfter=a\n[Service]\nUser=x\n");
    UnitFile dropin = parse_ok("[Service]\nUser=y\n[Install]\nWantedBy=multi-user.target\n");
    base.merge(dropin);
    REQUIRE(base.sections().size() == 3);
    CHECK(base.get("Service", "User") == "y");
    CHECK(base.get_all("Service", "User") == std::vector<std::string>{"x", "y"});
    CHECK(base.get("Install", "WantedBy") == "multi-user.target");
}

TEST_CASE("load reads a file and errors name its path") {
    TempDir dir;
    std::string path = dir / "web.service";
    REQUIRE(write_new_file(path, "[Service]\nExecStart=/bin/true\nbroken\n"));
    Result<UnitFile> loaded = UnitFile::load(path);
    REQUIRE(!loaded);
    CHECK(loaded.error().to_string() == path + ":3: expected Key=Value, got `broken`");

    REQUIRE(write_new_file(path, "[Service]\nExecStart=/bin/true\n"));
    loaded = UnitFile::load(path);
    REQUIRE(loaded);
    CHECK(loaded->filename() == path);
    CHECK(loaded->get("Service", "ExecStart") == "/bin/true");

    Result<UnitFile> missing = UnitFile::load(dir / "missing.service");
    REQUIRE(!missing);
    CHECK(missing.error().code() == ENOENT);
}

// split_words

TEST_CASE("split_words separates on any run of whitespace") {
    CHECK(words("  /bin/echo\ta \n b  ") == std::vector<std::string>{"/bin/echo", "a", "b"});
    CHECK(words("").empty());
    CHECK(words("   ").empty());
}

TEST_CASE("quotes group words and may be empty or adjacent to text") {
    CHECK(words(R"(echo "hello world" 'single  quoted')") ==
          std::vector<std::string>{"echo", "hello world", "single  quoted"});
    CHECK(words(R"(a "" '' b)") == std::vector<std::string>{"a", "", "", "b"});
    CHECK(words(R"(--opt="a b"c 'x'"y")") == std::vector<std::string>{"--opt=a bc", "xy"});
    CHECK(words(R"("it's" 'say "hi"')") == std::vector<std::string>{"it's", "say \"hi\""});
}

TEST_CASE("backslash escapes work outside and inside quotes") {
    CHECK(words(R"(a\nb "t\tab" 'q\'s' \\ \" \x41\x7a)") ==
          std::vector<std::string>{"a\nb", "t\tab", "q's", "\\", "\"", "Az"});
    CHECK(words(R"(one\ word \s)") == std::vector<std::string>{"one word", " "});
    CHECK(words(R"(\a\b\f\r\v)") == std::vector<std::string>{"\a\b\f\r\v"});
    CHECK(words(R"(\xff\xC3\xA9)") == std::vector<std::string>{"\xff\xc3\xa9"});
}

TEST_CASE("unterminated quotes are errors naming the quote and the value") {
    CHECK(words_error(R"(echo "hello)") == "unterminated double quote in `echo \"hello`");
    CHECK(words_error(R"(echo 'hello)") == "unterminated single quote in `echo 'hello`");
    CHECK(words_error(R"(echo "it's)") == "unterminated double quote in `echo \"it's`");
}

TEST_CASE("a trailing backslash is an error") {
    CHECK(words_error(R"(echo \)") == "trailing backslash in `echo \\`");
    CHECK(words_error(R"("abc\)") == "trailing backslash in `\"abc\\`");
}

TEST_CASE("bad escapes are errors naming the escape") {
    CHECK(words_error(R"(a\qb)") == "unknown escape `\\q` in `a\\qb`");
    CHECK(words_error(R"(\xZ1)") ==
          "invalid escape `\\xZ1` in `\\xZ1`: expected two hex digits after `\\x`");
    CHECK(words_error(R"(\x4)") ==
          "invalid escape `\\x4` in `\\x4`: expected two hex digits after `\\x`");
    CHECK(words_error(R"(\x)") ==
          "invalid escape `\\x` in `\\x`: expected two hex digits after `\\x`");
    CHECK(words_error(R"(a\x00b)") == "escape `\\x00` in `a\\x00b` would make a NUL byte");
}

// parse_boolean

TEST_CASE("parse_boolean accepts systemd's spellings in any case") {
    for (const char* yes : {"1", "yes", "y", "true", "t", "on", "YES", "True", "On"})
        CHECK(parse_boolean(yes) == true);
    for (const char* no : {"0", "no", "n", "false", "f", "off", "NO", "False", "OFF"})
        CHECK(parse_boolean(no) == false);
}

TEST_CASE("parse_boolean rejects anything else and names it") {
    Result<bool> maybe = parse_boolean("maybe");
    REQUIRE(!maybe);
    CHECK(maybe.error().to_string() ==
          "invalid boolean `maybe` (expected yes/no, true/false, on/off or 1/0)");
    CHECK(!parse_boolean(""));
    CHECK(!parse_boolean(" yes"));
    CHECK(!parse_boolean("2"));
    CHECK(!parse_boolean("yess"));
}

// parse_timespan_usec

TEST_CASE("a plain number is seconds") {
    CHECK(usec("90") == 90 * kSecond);
    CHECK(usec("0") == 0);
    CHECK(usec(" 5 ") == 5 * kSecond);
}

TEST_CASE("every unit systemd knows converts to microseconds") {
    CHECK(usec("7us") == 7);
    CHECK(usec("7usec") == 7);
    CHECK(usec("7\xCE\xBCs") == 7);
    CHECK(usec("100ms") == 100'000);
    CHECK(usec("100msec") == 100'000);
    CHECK(usec("3s") == 3 * kSecond);
    CHECK(usec("3sec") == 3 * kSecond);
    CHECK(usec("1second") == kSecond);
    CHECK(usec("3seconds") == 3 * kSecond);
    CHECK(usec("2m") == 120 * kSecond);
    CHECK(usec("2min") == 120 * kSecond);
    CHECK(usec("1minute") == 60 * kSecond);
    CHECK(usec("2minutes") == 120 * kSecond);
    CHECK(usec("1h") == 3600 * kSecond);
    CHECK(usec("1hr") == 3600 * kSecond);
    CHECK(usec("2hours") == 7200 * kSecond);
    CHECK(usec("1d") == 86400 * kSecond);
    CHECK(usec("2days") == 2 * 86400 * kSecond);
    CHECK(usec("1w") == 7 * 86400 * kSecond);
    CHECK(usec("1M") == 2'629'800 * kSecond);
    CHECK(usec("1y") == 31'557'600 * kSecond);
}

TEST_CASE("combined spans add up, with or without spaces") {
    CHECK(usec("1min 30s") == 90 * kSecond);
    CHECK(usec("1min30s") == 90 * kSecond);
    CHECK(usec("1h 1min 1s 1ms 1us") == 3661 * kSecond + 1001);
    CHECK(usec("5 s") == 5 * kSecond);
    CHECK(usec("2 min 3") == 123 * kSecond);
}

TEST_CASE("fractions scale with their unit") {
    CHECK(usec("1.5s") == 1'500'000);
    CHECK(usec("0.5min") == 30 * kSecond);
    CHECK(usec(".25s") == 250'000);
    CHECK(usec("1.5") == 1'500'000);
    CHECK(usec("1.0005ms") == 1000); // below a microsecond is dropped
}

TEST_CASE("infinity is the largest value") {
    CHECK(usec("infinity") == std::numeric_limits<uint64_t>::max());
    CHECK(usec("  infinity ") == std::numeric_limits<uint64_t>::max());
}

TEST_CASE("malformed time spans are errors naming the bad text") {
    CHECK(usec_error("") == "invalid time span ``: empty");
    CHECK(usec_error("   ") == "invalid time span `   `: empty");
    CHECK(usec_error("abc") == "invalid time span `abc`: expected a number at `abc`");
    CHECK(usec_error("-5s") == "invalid time span `-5s`: expected a number at `-5s`");
    CHECK(usec_error("5x") == "invalid time span `5x`: unknown unit `x`");
    CHECK(usec_error("5mins") == "invalid time span `5mins`: unknown unit `mins`");
    CHECK(usec_error("1min 30q") == "invalid time span `1min 30q`: unknown unit `q`");
    CHECK(usec_error("5s,") == "invalid time span `5s,`: expected a number at `,`");
    CHECK(usec_error("1.s") == "invalid time span `1.s`: expected digits after `.` in `1.`");
    CHECK(usec_error("s") == "invalid time span `s`: expected a number at `s`");
    CHECK(usec_error("Infinity") == "invalid time span `Infinity`: expected a number at "
                                    "`Infinity`");
    CHECK(usec_error("infinity 5s") ==
          "invalid time span `infinity 5s`: expected a number at `infinity 5s`");
}

TEST_CASE("time spans that overflow 64 bits are refused") {
    CHECK(usec_error("99999999999999999999") ==
          "invalid time span `99999999999999999999`: too large");
    CHECK(usec_error("600000y") == "invalid time span `600000y`: too large");
    CHECK(usec_error("18446744073709551615us") ==
          "invalid time span `18446744073709551615us`: too large");
    CHECK(usec("18446744073709551614us") == std::numeric_limits<uint64_t>::max() - 1);
    CHECK(usec_error("18446744073709551614us 1us") ==
          "invalid time span `18446744073709551614us 1us`: too large");
}
