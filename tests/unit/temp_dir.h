// TempDir: a scratch directory for one test, removed with everything in it
// when the test ends.
#pragma once

#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <ftw.h>
#include <string>
#include <unistd.h>

namespace keel::testing {

class TempDir {
public:
    TempDir() {
        const char* base = std::getenv("TMPDIR");
        std::string pattern = std::string(base && *base ? base : "/tmp") + "/keel-test-XXXXXX";
        REQUIRE_MESSAGE(::mkdtemp(pattern.data()) != nullptr, "mkdtemp ", pattern);
        m_path = pattern;
    }
    ~TempDir() { ::nftw(m_path.c_str(), remove_entry, 16, FTW_DEPTH | FTW_PHYS); }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    const std::string& path() const { return m_path; }
    /// The path of `name` inside the directory.
    std::string operator/(const std::string& name) const { return m_path + "/" + name; }

private:
    static int remove_entry(const char* path, const struct stat*, int, struct FTW*) {
        ::remove(path);
        return 0;
    }

    std::string m_path;
};

} // namespace keel::testing
