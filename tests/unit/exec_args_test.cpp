// Tests for cli/exec_commands.h: `keel exec`'s docker-style command line
// read into a ContainerExec: combined flags, where the options end, -e and
// --env-file in order, and errors that name the flag.
#include "cli/exec_commands.h"

#include "base/sys.h"
#include "tests/unit/temp_dir.h"

#include <doctest/doctest.h>

#include <cstdlib>
#include <initializer_list>
#include <string>
#include <vector>

using namespace keel;
using namespace keel::containers;
using keel::testing::TempDir;

namespace {

ContainerExec parsed_exec(std::initializer_list<std::string_view> args) {
    std::vector<std::string_view> list(args);
    Result<ContainerExec> request = cli::parse_exec_args(list);
    REQUIRE_MESSAGE(request, (request ? std::string() : request.error().to_string()));
    return std::move(*request);
}

std::string exec_args_error(std::initializer_list<std::string_view> args) {
    std::vector<std::string_view> list(args);
    Result<ContainerExec> request = cli::parse_exec_args(list);
    REQUIRE_FALSE(request);
    return request.error().to_string();
}

} // namespace

TEST_CASE("without flags the command runs in the foreground with no terminal and no stdin") {
    ContainerExec request = parsed_exec({"web", "ls", "-l"});
    CHECK(request.mode == RunMode::Foreground);
    CHECK(request.terminal == Terminal::None);
    CHECK(request.input == Stdin::Closed);
    CHECK(request.command == std::vector<std::string>{"ls", "-l"});
    CHECK(request.user.empty());
    CHECK(request.workdir.empty());
}

TEST_CASE("-it gives the command a terminal and keel's stdin, -d detaches it") {
    ContainerExec request = parsed_exec({"-it", "web", "sh"});
    CHECK(request.terminal == Terminal::Allocate);
    CHECK(request.input == Stdin::Open);
    CHECK(request.mode == RunMode::Foreground);
    CHECK(parsed_exec({"-dt", "web", "sh"}).mode == RunMode::Detach);
    CHECK(parsed_exec({"--detach", "--tty", "web", "sh"}).terminal == Terminal::Allocate);
}

TEST_CASE("the container ends the options: what follows is the command, dashes and all") {
    ContainerExec request = parsed_exec({"-e", "A=1", "web", "sh", "-c", "echo -e -t"});
    CHECK(request.command == std::vector<std::string>{"sh", "-c", "echo -e -t"});
    CHECK(request.env == std::vector<std::string>{"A=1"});
}

TEST_CASE("-u and -w are taken as given, attached or not") {
    ContainerExec request = parsed_exec({"-uapp:audio", "-w", "/tmp", "web", "id"});
    CHECK(request.user == "app:audio");
    CHECK(request.workdir == "/tmp");
    CHECK(parsed_exec({"--user=1000", "--workdir=/", "web", "id"}).user == "1000");
}

TEST_CASE("-e and --env-file are kept in the order given, and -e KEY takes keel's value") {
    TempDir dir;
    std::string file = dir.path() + "/env";
    REQUIRE(write_new_file(file, "# a comment\nB=from-file\n\nC=3\n"));
    ::setenv("KEEL_EXEC_TEST_VALUE", "outside", 1);
    std::string env_file = "--env-file=" + file;
    ContainerExec request = parsed_exec(
        {"-e", "A=1", env_file, "-eKEEL_EXEC_TEST_VALUE", "-e", "KEEL_EXEC_UNSET_X", "web", "env"});
    CHECK(request.env ==
          std::vector<std::string>{"A=1", "B=from-file", "C=3", "KEEL_EXEC_TEST_VALUE=outside"});
    ::unsetenv("KEEL_EXEC_TEST_VALUE");
}

TEST_CASE("bad values are errors that name the flag") {
    CHECK(exec_args_error({"-w", "tmp", "web", "ls"}).find("--workdir") != std::string::npos);
    CHECK(exec_args_error({"-e", "=x", "web", "ls"}).find("--env") != std::string::npos);
    CHECK(
        exec_args_error({"--env-file", "/nonexistent/keel-env", "web", "ls"}).find("--env-file") !=
        std::string::npos);
    CHECK(exec_args_error({"-u", "", "web", "ls"}).find("--user") != std::string::npos);
}

TEST_CASE("a container with no command, or no container at all, is a usage error") {
    CHECK(exec_args_error({"web"}).find("command") != std::string::npos);
    CHECK(exec_args_error({}).find("container") != std::string::npos);
    CHECK(exec_args_error({"-x", "web", "ls"}).find("-x") != std::string::npos);
}
