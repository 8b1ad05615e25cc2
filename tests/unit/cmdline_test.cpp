// Kernel command line parsing.
#include "base/cmdline.h"

#include <doctest/doctest.h>

using keel::KernelCommandLine;

TEST_CASE("bare words and key=value words are both parameters") {
    auto cmdline = KernelCommandLine::parse("console=ttyS0 quiet panic=-1\n");
    REQUIRE(cmdline);
    CHECK(cmdline->parameters().size() == 3);
    CHECK(cmdline->get("console") == "ttyS0");
    CHECK(cmdline->has("quiet"));
    CHECK(cmdline->get("quiet") == "");
    CHECK_FALSE(cmdline->has("splash"));
    CHECK_FALSE(cmdline->get("splash"));
}

TEST_CASE("double quotes group spaces and are removed, wherever they open") {
    auto cmdline = KernelCommandLine::parse(R"(keel.run="/bin/sh /test.sh" "keel.hostname=a b")");
    REQUIRE(cmdline);
    CHECK(cmdline->get("keel.run") == "/bin/sh /test.sh");
    CHECK(cmdline->get("keel.hostname") == "a b");
}

TEST_CASE("repeated parameters keep every value and the last one wins for get") {
    auto cmdline = KernelCommandLine::parse("keel.run=a keel.run=b keel.modules=x,y");
    REQUIRE(cmdline);
    CHECK(cmdline->get_all("keel.run") == std::vector<std::string>{"a", "b"});
    CHECK(cmdline->get("keel.run") == "b");
}

TEST_CASE("words after -- belong to init's argv, not to parameters") {
    auto cmdline = KernelCommandLine::parse("a=1 -- b=2");
    REQUIRE(cmdline);
    CHECK(cmdline->has("a"));
    CHECK_FALSE(cmdline->has("b"));
}

TEST_CASE("an unterminated quote is an error that says where") {
    auto cmdline = KernelCommandLine::parse(R"(quiet keel.run="/bin/sh)");
    REQUIRE_FALSE(cmdline);
    CHECK(cmdline.error().to_string() ==
          "kernel command line: unterminated quote in word starting at offset 6");
}

TEST_CASE("module parameters are collected with dashes and underscores alike") {
    auto cmdline = KernelCommandLine::parse(
        R"(virtio_blk.queue_depth=64 virtio-blk.poll_queues=2 ext4.x other.y=1 loop.name="a b")");
    REQUIRE(cmdline);
    CHECK(cmdline->module_parameters("virtio-blk") == "queue_depth=64 poll_queues=2");
    CHECK(cmdline->module_parameters("ext4") == "x");
    CHECK(cmdline->module_parameters("loop") == R"(name="a b")");
    CHECK(cmdline->module_parameters("overlay") == "");
}

TEST_CASE("an empty command line has no parameters") {
    auto cmdline = KernelCommandLine::parse("  \n");
    REQUIRE(cmdline);
    CHECK(cmdline->parameters().empty());
}
