// Tests for containers/registry.h's credential lookup (the protocol itself
// is exercised against real and fake registries in tests/host/registry.sh).
#include "containers/registry.h"

#include "base/sys.h"
#include "tests/unit/temp_dir.h"

#include <doctest/doctest.h>

#include <cstdlib>

using namespace keel;
using namespace keel::containers;

namespace {

// Sets an environment variable for one test, restoring it afterwards.
class ScopedEnv {
public:
    ScopedEnv(const char* name, const char* value) : m_name(name) {
        if (const char* old = std::getenv(name))
            m_old = old;
        if (value)
            ::setenv(name, value, 1);
        else
            ::unsetenv(name);
    }
    ~ScopedEnv() {
        if (m_old)
            ::setenv(m_name, m_old->c_str(), 1);
        else
            ::unsetenv(m_name);
    }

private:
    const char* m_name;
    std::optional<std::string> m_old;
};

} // namespace

TEST_CASE("credentials are user:password, the password may hold colons") {
    RegistryCredentials credentials = parse_credentials("alice:s3:cret").value();
    CHECK(credentials.username == "alice");
    CHECK(credentials.password == "s3:cret");
    CHECK(!parse_credentials("alice"));
    CHECK(!parse_credentials(":password"));
}

TEST_CASE("credentials come from KEEL_REGISTRY_AUTH, else docker's config.json auths") {
    keel::testing::TempDir dir;
    REQUIRE(write_new_file(dir / "config.json",
                           R"({"auths":{"127.0.0.1:5000":{"auth":"Ym9iOmh1bnRlcjI="},)"
                           R"("https://index.docker.io/v1/":{"auth":"aHViOnB3"},)"
                           R"("bad.example":{"auth":"!!"}}})"));
    ScopedEnv config("DOCKER_CONFIG", dir.path().c_str());
    {
        ScopedEnv auth("KEEL_REGISTRY_AUTH", "alice:pw");
        CHECK(find_credentials("127.0.0.1:5000").value().credentials->username == "alice");
    }
    ScopedEnv no_auth("KEEL_REGISTRY_AUTH", nullptr);
    auto local = find_credentials("127.0.0.1:5000").value().credentials;
    REQUIRE(local);
    CHECK(local->username == "bob");
    CHECK(local->password == "hunter2");
    CHECK(find_credentials("docker.io").value().credentials->username == "hub");
    CHECK(!find_credentials("other.example").value().credentials);
    CHECK(!find_credentials("bad.example"));
}
