// Tests for kv/role_config.h: PID 1's kv role takes keel.kv.FLAG=VALUE
// words from the kernel command line as etcd's flags, lets them win over
// /etc/keel/kv.conf's ETCD_* variables, and keeps its data on STATE.
#include "kv/role_config.h"
#include "kv/server_config.h"
#include "tests/unit/test_util.h"

#include <doctest/doctest.h>

using namespace keel;
using namespace keel::kv;
using keel::testing::cmdline;

namespace {

using EnvironmentMap = std::map<std::string, std::string>;

std::vector<std::string> arguments(std::string_view text, const EnvironmentMap& environment = {}) {
    auto args = role_arguments(cmdline(text), environment);
    if (!args)
        FAIL(args.error().to_string());
    return *args;
}

ServerConfig role_config(std::string_view text, const EnvironmentMap& environment = {}) {
    auto args = arguments(text, environment);
    auto config = parse_server_config(args, environment);
    if (!config)
        FAIL(config.error().to_string());
    return *config;
}

} // namespace

TEST_CASE("keel.kv words on the kernel command line become etcd's flags, others are left alone") {
    CHECK(arguments("console=ttyS0 keel.kv.name=m1 quiet keel.kv.initial-cluster=m1=http://"
                    "127.0.0.1:2380 keel.kvx=1 keel.kv.force-new-cluster") ==
          std::vector<std::string>{"--name=m1", "--initial-cluster=m1=http://127.0.0.1:2380",
                                   "--force-new-cluster=true", "--data-dir=/var/lib/keel/kv"});
}

TEST_CASE("a bare keel.kv word never takes the next flag as its value") {
    // Found by role_config_fuzz: `--key-file` alone took the role's
    // --data-dir=... as its value, and the data went elsewhere.
    CHECK(arguments("keel.kv.name=m1 keel.kv.key-file") ==
          std::vector<std::string>{"--name=m1", "--key-file=true", "--data-dir=/var/lib/keel/kv"});
    CHECK(role_config("keel.kv.key-file keel.kv.name=m1").name == "m1");
    CHECK(role_config("keel.kv.name=m1 keel.kv.key-file").data_dir == "/var/lib/keel/kv");
}

TEST_CASE("the role keeps its data on STATE unless the command line or kv.conf names a data dir") {
    CHECK(role_config("keel.kv.name=m1").data_dir == "/var/lib/keel/kv");
    CHECK(role_config("keel.kv.name=m1 keel.kv.data-dir=/srv/kv").data_dir == "/srv/kv");
    CHECK(role_config("", {{"ETCD_DATA_DIR", "/var/kv"}}).data_dir == "/var/kv");
}

TEST_CASE("the kernel command line wins over kv.conf's ETCD_ variables") {
    EnvironmentMap conf = {{"ETCD_NAME", "from-file"},
                           {"ETCD_HEARTBEAT_INTERVAL", "50"},
                           {"ETCD_INITIAL_CLUSTER", "m1=http://127.0.0.1:2380"}};
    ServerConfig config = role_config("keel.kv.name=m1", conf);
    CHECK(config.name == "m1");
    CHECK(config.heartbeat_interval_ms == 50);
    CHECK(role_config("", {{"ETCD_NAME", "from-file"}}).name == "from-file");
}

TEST_CASE("a keel.kv word that is not an etcd flag's name is refused, naming the word") {
    for (std::string_view text : {"keel.kv.=1", "keel.kv.Name=m1", "keel.kv.--name=m1",
                                  "keel.kv.na_me=m1", "keel.kv.name/x=1"}) {
        auto args = role_arguments(cmdline(text), {});
        REQUIRE_FALSE(args);
        std::string word(text.substr(0, text.find('=')));
        CHECK(args.error().to_string().find("`" + word + "`") != std::string::npos);
    }
}

TEST_CASE("a bad keel.kv setting is refused by etcd's checks, naming the flag") {
    auto args = arguments("keel.kv.heartbeat-interval=soon");
    auto config = parse_server_config(args, {});
    REQUIRE_FALSE(config);
    CHECK(config.error().to_string().find("--heartbeat-interval") != std::string::npos);
    auto unknown = parse_server_config(arguments("keel.kv.colour=blue"), {});
    REQUIRE_FALSE(unknown);
    CHECK(unknown.error().to_string().find("--colour") != std::string::npos);
}
