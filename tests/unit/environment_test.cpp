// The environment of a service's commands: environment files and $NAME
// expansion.
#include "init/unit_model.h"

#include <doctest/doctest.h>
#include <map>
#include <string>
#include <vector>

TEST_CASE("environment files: comments, quotes, continuations; errors name file:line") {
    auto env = keel::parse_environment_file("# comment\n; also\nA=1\n  B = spaced value  \n"
                                            "C=\"quoted \\\"x\\\" $HOME\"\nD='single # not a "
                                            "comment'\nE=one\\\ntwo\nF=\n",
                                            "/etc/web.env");
    REQUIRE(env);
    CHECK(*env == keel::Environment{{"A", "1"},
                                    {"B", "spaced value"},
                                    {"C", "quoted \"x\" $HOME"},
                                    {"D", "single # not a comment"},
                                    {"E", "onetwo"},
                                    {"F", ""}});
    CHECK(keel::parse_environment_file("A=1\nNOEQUALS\n", "/e").error().to_string() ==
          "/e:2: expected KEY=value, got `NOEQUALS`");
    CHECK(keel::parse_environment_file("\n\n1A=x\n", "/e").error().to_string() ==
          "/e:3: `1A` is not a valid variable name");
    CHECK(keel::parse_environment_file("A=\"open\n", "/e").error().to_string() ==
          "/e:1: unterminated double quote in the value of `A`");
}

TEST_CASE("$NAME in a command becomes words and ${NAME} is replaced inline") {
    std::map<std::string, std::string> env = {{"MAINPID", "42"}, {"OPTS", "-a  -b"}, {"E", ""}};
    CHECK(keel::expand_command_variables({"/bin/kill", "-HUP", "$MAINPID"}, env) ==
          std::vector<std::string>{"/bin/kill", "-HUP", "42"});
    CHECK(keel::expand_command_variables(
              {"/bin/web", "$OPTS", "$E", "--pid=${MAINPID}", "$$5", "${NOPE}x", "$1"}, env) ==
          std::vector<std::string>{"/bin/web", "-a", "-b", "--pid=42", "$5", "x", "$1"});
}
