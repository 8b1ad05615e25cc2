// cli/docker_commands.h: `docker VERB ...` reaching keel's container
// commands, and failing with status 125 for verbs keel does not have.
#include "cli/docker_commands.h"

#include <doctest/doctest.h>
#include <string>
#include <vector>

namespace {

using keel::cli::Command;
using keel::cli::CommandResult;
using keel::cli::Count;
using keel::cli::OptionsEnd;
using keel::cli::ParsedArgs;

// What the last fake command was run with: its words, then its arguments.
std::vector<std::string> g_docker_ran;

CommandResult record_docker_command(const ParsedArgs& args) {
    g_docker_ran = {args.command()};
    if (args.flag("--rm"))
        g_docker_ran.push_back("--rm");
    for (std::string_view word : args.positionals("ARGS"))
        g_docker_ran.emplace_back(word);
    return 7;
}

Command leaf(std::string_view name) {
    return Command{.names = {name},
                   .summary = "fake",
                   .options = {{.name = "--rm", .help = "fake"}},
                   .positionals = {{.name = "ARGS", .count = Count::Any}},
                   .options_end = OptionsEnd::AtLastPositional,
                   .run = record_docker_command};
}

// A keel with `run`, `ps`, `image ls`, `container stop`, and the service
// manager's `stop`.
const Command kDockerRun = leaf("run");
const Command kPs = leaf("ps");
const Command kImageLs = leaf("ls");
const Command kImage{.names = {"image"}, .summary = "fake", .subcommands = {&kImageLs}};
const Command kContainerStop = leaf("stop");
const Command kContainer{
    .names = {"container"}, .summary = "fake", .subcommands = {&kContainerStop}};
const Command kUnitStop = leaf("stop");
const Command kDockerKeel{.names = {"keel"},
                          .summary = "fake",
                          .subcommands = {&kDockerRun, &kPs, &kImage, &kContainer, &kUnitStop}};
const Command* const kRefused[] = {&kUnitStop};

CommandResult docker(std::vector<std::string_view> args) {
    g_docker_ran.clear();
    return keel::cli::run_docker(args, kDockerKeel, kRefused);
}

} // namespace

TEST_CASE("docker run and docker images run keel's run and image ls with the same arguments") {
    auto result = docker({"run", "--rm", "alpine", "echo", "hi"});
    REQUIRE(result);
    CHECK(*result == 7);
    CHECK(g_docker_ran == std::vector<std::string>{"run", "--rm", "alpine", "echo", "hi"});

    result = docker({"images", "busybox"});
    REQUIRE(result);
    CHECK(g_docker_ran == std::vector<std::string>{"image ls", "busybox"});
}

TEST_CASE("a Docker verb keel has no command for fails with status 125 and says so") {
    for (std::vector<std::string_view> args :
         {std::vector<std::string_view>{"build", "."}, {"pull", "alpine"}, {"kill", "web"}}) {
        CAPTURE(args[0]);
        auto result = docker(args);
        REQUIRE_FALSE(result);
        CHECK(result.error().status == 125);
        CHECK(result.error().error.to_string() ==
              "docker " + std::string(args[0]) + ": not supported by keel yet");
        CHECK(g_docker_ran.empty());
    }
    auto global = docker({"-H", "tcp://x", "ps"});
    REQUIRE_FALSE(global);
    CHECK(global.error().status == 125);
    auto none = docker({});
    REQUIRE_FALSE(none);
    CHECK(none.error().status == 125);
}

TEST_CASE("docker stop stops the container, never a service of the same name") {
    auto result = docker({"stop", "web"});
    REQUIRE(result);
    CHECK(g_docker_ran == std::vector<std::string>{"container stop", "web"});
}

TEST_CASE("a Docker verb that would reach a service manager verb is refused with 125") {
    const Command* const refused[] = {&kContainerStop};
    g_docker_ran.clear();
    auto result =
        keel::cli::run_docker(std::vector<std::string_view>{"stop", "web"}, kDockerKeel, refused);
    REQUIRE_FALSE(result);
    CHECK(result.error().status == 125);
    CHECK(result.error().error.to_string() == "docker stop: not supported by keel yet");
    CHECK(g_docker_ran.empty());
}

TEST_CASE("every Docker verb in the table maps to keel words and keeps its arguments") {
    for (const keel::cli::DockerVerb& verb : keel::cli::kDockerVerbs) {
        CAPTURE(verb.docker);
        std::vector<std::string_view> args = {verb.docker, "-x", "arg"};
        auto line = keel::cli::docker_command_line(args);
        REQUIRE(line);
        REQUIRE(line->size() == verb.keel.size() + 2);
        CHECK(std::vector<std::string_view>(line->begin(), line->end() - 2) == verb.keel);
        CHECK(line->back() == "arg");
    }
    auto images = keel::cli::docker_command_line(std::vector<std::string_view>{"rmi", "alpine"});
    REQUIRE(images);
    CHECK(*images == std::vector<std::string_view>{"image", "rm", "alpine"});
}
