// Tests for cli/container_units.h: the transient unit `keel run -d` writes
// under init — the command it runs (the user's options kept, -d and the
// options it sets itself left out) and the unit's settings.
#include "cli/container_units.h"

#include "base/strings.h"
#include "base/unit_file.h"
#include "cli/run_commands.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>
#include <initializer_list>
#include <string>
#include <vector>

using namespace keel;
using namespace keel::cli;

namespace {

std::vector<std::string> words_for(std::initializer_list<std::string_view> args) {
    std::vector<std::string_view> list(args);
    Result<ParsedArgs> parsed = parse(kRunCommand, "run", list);
    REQUIRE_MESSAGE(parsed, (parsed ? std::string() : parsed.error().to_string()));
    return supervised_run_words("/usr/bin/keel", "web", *parsed);
}

// The words ExecStart= gives back once the unit file is read.
std::vector<std::string> exec_start_of(const std::string& text) {
    for (std::string_view line : split(text, '\n'))
        if (line.starts_with("ExecStart=")) {
            Result<std::vector<std::string>> words = split_words(line.substr(10));
            REQUIRE(words);
            return *words;
        }
    FAIL("no ExecStart= in " << text);
    return {};
}

} // namespace

TEST_CASE("a detached container's unit runs keel run in the foreground with the user's options") {
    ::unsetenv("KEEL_IMAGE_STORE");
    std::vector<std::string> words =
        words_for({"-d", "--name", "web", "-e", "A=1", "--pull", "always", "-p", "8080:80",
                   "--rootfs", "/srv/root", "sh", "-c", "echo hi; sleep 60"});
    // The keel run that made the unit pulled the image: the unit's does not.
    std::vector<std::string> expected = {
        "/usr/bin/keel",     "run",          "--replace", "--name=web",
        "--sdnotify=conmon", "--pull=never", "--env=A=1", "--publish=8080:80",
        "--rootfs",          "/srv/root",    "sh",        "-c",
        "echo hi; sleep 60"};
    CHECK(words == expected);
}

TEST_CASE("with any --restart keel run counts the restarts and the container stays once exited") {
    ::unsetenv("KEEL_IMAGE_STORE");
    for (std::string_view policy : {"on-failure:3", "on-failure", "always", "unless-stopped"}) {
        std::vector<std::string> words =
            words_for({"-d", "--restart", policy, "--rootfs", "/srv/root", "false"});
        std::vector<std::string> expected = {"/usr/bin/keel",
                                             "run",
                                             "--replace",
                                             "--name=web",
                                             "--sdnotify=conmon",
                                             "--pull=never",
                                             cat("--restart=", policy),
                                             "--rootfs",
                                             "/srv/root",
                                             "false"};
        CHECK(words == expected);
    }
    std::vector<std::string> never = words_for({"-d", "--restart", "no", "--rootfs", "/r", "true"});
    CHECK(std::ranges::find(never, "--rm") == never.end());
    CHECK(std::ranges::find(never, "--restart=no") == never.end());
}

TEST_CASE("a detached container's unit removes it when it ends only if --rm was given") {
    ::unsetenv("KEEL_IMAGE_STORE");
    std::vector<std::string> kept = words_for({"-d", "--rootfs", "/r", "true"});
    CHECK(std::ranges::find(kept, "--rm") == kept.end());
    std::vector<std::string> removed = words_for({"-d", "--rm", "--rootfs", "/r", "true"});
    CHECK(std::ranges::count(removed, "--rm") == 1);
}

TEST_CASE("a container started again under init runs keel container start in the foreground") {
    CHECK(supervised_start_words("/usr/bin/keel", "", "0123abcd") ==
          std::vector<std::string>{"/usr/bin/keel", "container", "start", "--attach", "0123abcd"});
    CHECK(supervised_start_words("/usr/bin/keel", "/srv/state", "0123abcd") ==
          std::vector<std::string>{"/usr/bin/keel", "container", "start", "--attach",
                                   "--root=/srv/state", "0123abcd"});
}

TEST_CASE("combined short flags with -d lose only the detach") {
    ::unsetenv("KEEL_IMAGE_STORE");
    std::vector<std::string> words = words_for({"-di", "--rm", "busybox"});
    CHECK(std::vector<std::string>(words.begin() + 7, words.end()) ==
          std::vector<std::string>{"--interactive", "busybox"});
}

TEST_CASE("-e KEY takes its value from the caller, not from init") {
    ::unsetenv("KEEL_IMAGE_STORE");
    ::setenv("KEEL_TEST_GREETING", "hello there", 1);
    ::unsetenv("KEEL_TEST_UNSET");
    std::vector<std::string> words =
        words_for({"-e", "KEEL_TEST_GREETING", "-e", "KEEL_TEST_UNSET", "busybox"});
    CHECK(std::vector<std::string>(words.begin() + 6, words.end()) ==
          std::vector<std::string>{"--env=KEEL_TEST_GREETING=hello there", "busybox"});
}

TEST_CASE("the caller's image store goes along unless --store names one") {
    ::setenv("KEEL_IMAGE_STORE", "/var/tmp/store", 1);
    std::vector<std::string> words = words_for({"busybox"});
    CHECK(words.at(6) == "--store=/var/tmp/store");
    words = words_for({"--store", "/other", "busybox"});
    CHECK(std::ranges::count(words, "--store=/var/tmp/store") == 0);
    CHECK(std::ranges::count(words, "--store=/other") == 1);
    ::unsetenv("KEEL_IMAGE_STORE");
}

TEST_CASE("the unit's ExecStart gives back every word, quotes, % and $ included") {
    std::vector<std::string> command = {
        "/usr/bin/keel", "run", "--name=web", "busybox", "sh", "-c", "echo \"100%\" $HOME 'x'\\"};
    std::string text = transient_unit_text(
        {.restart = containers::RestartPolicy::No, .container_name = "web", .exec_start = command});
    std::string exec_line;
    for (std::string_view line : split(text, '\n'))
        if (line.starts_with("ExecStart="))
            exec_line = std::string(line);
    CHECK(exec_line.find("%%") != std::string::npos);
    CHECK(exec_line.find("$$HOME") != std::string::npos);
    // split_words() gives the words back; %% and $$ are undone by the unit
    // parser's specifiers and the executor.
    std::vector<std::string> words = exec_start_of(text);
    REQUIRE(words.size() == command.size());
    CHECK(words.back() == "echo \"100%%\" $$HOME 'x'\\");
}

TEST_CASE("the unit is a notify service whose Restart= follows --restart") {
    auto text_for = [](containers::RestartPolicy policy) {
        return transient_unit_text({.restart = policy,
                                    .working_directory = "/home/me",
                                    .container_name = "web",
                                    .exec_start = {"/usr/bin/keel", "run", "busybox"},
                                    .stop_timeout_seconds = 30});
    };
    std::string text = text_for(containers::RestartPolicy::OnFailure);
    for (std::string_view setting :
         {"Type=notify\n", "NotifyAccess=all\n", "KillMode=mixed\n", "WorkingDirectory=/home/me\n",
          "Restart=on-failure\n", "TimeoutStopSec=90\n"})
        CHECK_MESSAGE(text.find(setting) != std::string::npos, setting);
    CHECK(text_for(containers::RestartPolicy::No).find("Restart=no\n") != std::string::npos);
    CHECK(text_for(containers::RestartPolicy::Always).find("Restart=always\n") !=
          std::string::npos);
    CHECK(text_for(containers::RestartPolicy::UnlessStopped).find("Restart=always\n") !=
          std::string::npos);
}

TEST_CASE("a detached container's unit is named after the container") {
    CHECK(transient_unit_name("web") == "container-web.service");
}

TEST_CASE("a unit written by keel container start says so in its description") {
    std::string text =
        transient_unit_text({.container_name = "web",
                             .exec_start = supervised_start_words("/usr/bin/keel", "", "0123abcd"),
                             .written_by = "keel container start"});
    CHECK(text.find("Description=container web (keel container start)\n") != std::string::npos);
    CHECK(exec_start_of(text) ==
          std::vector<std::string>{"/usr/bin/keel", "container", "start", "--attach", "0123abcd"});
}
