// Boot configuration read from files (the boot steps themselves run in
// QEMU), and the dm-verity lookup of a disk boot wired as the binary's main
// wires it (update/'s slot_verity as the hook) over slot partition files.
#include "init/boot.h"

#include "base/strings.h"
#include "base/sys.h"
#include "tests/unit/temp_dir.h"
#include "tests/unit/test_keys.h"
#include "update/slot_footer.h"
#include "update/slot_verity.h"
#include "update/verity_tree.h"

#include <doctest/doctest.h>

namespace {

namespace up = keel::update;

// A slot partition of 64 data blocks with no footer (the last MiB zero);
// with `tree`, the dm-verity tree after the data, its parameters returned.
enum class Tree { None, Appended };
std::optional<keel::VerityParams> write_footerless_slot(const std::string& path, Tree tree) {
    std::string data(64 * up::kVerityBlockSize, 'r');
    std::optional<keel::VerityParams> params;
    std::string bytes = data;
    if (tree == Tree::Appended) {
        auto options = up::random_verity_options();
        REQUIRE(options);
        auto built = up::build_verity_tree(data, *options);
        REQUIRE(built);
        params = built->params;
        bytes += built->bytes;
    }
    bytes += std::string(up::kSlotFooterSize, '\0');
    REQUIRE(keel::write_new_file(path, bytes));
    return params;
}

// A trusted-keys directory holding one public key, or none.
enum class Keys { None, One };
std::string trusted_directory(const keel::testing::TempDir& dir, Keys keys) {
    std::string trusted = dir / "trusted.d";
    REQUIRE(keel::make_directories(trusted));
    if (keys == Keys::One) {
        static const keel::testing::KeyPair key = keel::testing::make_key(MBEDTLS_PK_ECKEY);
        REQUIRE(keel::write_new_file(trusted + "/update.pem", key.public_pem));
    }
    return trusted;
}

// The lookup boot_from_disk uses for the command line `line`.
keel::VerityLookup boot_lookup(std::string_view line, const std::string& trusted) {
    auto cmdline = keel::KernelCommandLine::parse(line);
    REQUIRE(cmdline);
    return keel::disk_verity_lookup(*cmdline, [trusted](const std::string& partition) {
        return up::slot_verity(partition, trusted);
    });
}

} // namespace

TEST_CASE("modules-load.d lists modules one per line, comments skipped, later directories win") {
    keel::testing::TempDir base;
    std::string lib = base / "lib", etc = base / "etc";
    REQUIRE(keel::make_directories(lib));
    REQUIRE(keel::make_directories(etc));
    REQUIRE(keel::write_new_file(lib + "/a.conf", "overlay\n"));
    REQUIRE(keel::write_new_file(
        etc + "/a.conf", "# replaces lib/a.conf\nbr_netfilter\n\n; also a comment\n  veth  \n"));
    REQUIRE(keel::write_new_file(etc + "/b.conf", "ext4\n"));
    REQUIRE(keel::write_new_file(etc + "/README", "not a conf file\n"));
    auto modules = keel::configured_modules({lib, etc, base / "missing"});
    CHECK(modules == std::vector<std::string>{"br_netfilter", "veth", "ext4"});
}

TEST_CASE("a slot without a signed manifest is refused at boot when the machine trusts update "
          "keys, and says why") {
    keel::testing::TempDir dir;
    std::string slot = dir / "root-b.part";
    write_footerless_slot(slot, Tree::None);
    auto choice = boot_lookup("quiet", trusted_directory(dir, Keys::One))(slot);
    REQUIRE_MESSAGE(choice, (choice ? std::string() : choice.error().to_string()));
    CHECK_FALSE(choice->params);
    CHECK(choice->unverified == keel::UnverifiedRoot::Refused);
    CHECK(choice->source.find("has no signed manifest (no slot footer)") != std::string::npos);
    CHECK(choice->source.find("1 trusted update key(s)") != std::string::npos);
}

TEST_CASE("keel.root= boots a slot without a signed manifest unverified even with trusted keys") {
    keel::testing::TempDir dir;
    std::string slot = dir / "root-b.part";
    write_footerless_slot(slot, Tree::None);
    auto choice =
        boot_lookup("keel.root=PARTLABEL=ROOT-B", trusted_directory(dir, Keys::One))(slot);
    REQUIRE_MESSAGE(choice, (choice ? std::string() : choice.error().to_string()));
    CHECK_FALSE(choice->params);
    CHECK(choice->unverified == keel::UnverifiedRoot::Allowed);
}

TEST_CASE("a slot without a footer still boots through dm-verity with keel.verity.root_hash= "
          "when the machine trusts update keys") {
    keel::testing::TempDir dir;
    std::string slot = dir / "root-b.part";
    std::optional<keel::VerityParams> tree = write_footerless_slot(slot, Tree::Appended);
    REQUIRE(tree);
    std::string line = keel::cat("keel.verity.root_hash=", tree->root_hash,
                                 " keel.verity.hash_offset=", tree->hash_offset);
    auto choice = boot_lookup(line, trusted_directory(dir, Keys::One))(slot);
    REQUIRE_MESSAGE(choice, (choice ? std::string() : choice.error().to_string()));
    REQUIRE(choice->params);
    CHECK(choice->params->root_hash == tree->root_hash);
    CHECK(choice->params->hash_offset == tree->hash_offset);
    CHECK(choice->source == "keel.verity.root_hash= on the command line");
}

TEST_CASE("without trusted keys a slot without a footer boots unverified, as before") {
    keel::testing::TempDir dir;
    std::string slot = dir / "root-a.part";
    write_footerless_slot(slot, Tree::None);
    for (std::string trusted : {trusted_directory(dir, Keys::None), dir / "missing"}) {
        CAPTURE(trusted);
        auto choice = boot_lookup("quiet", trusted)(slot);
        REQUIRE_MESSAGE(choice, (choice ? std::string() : choice.error().to_string()));
        CHECK_FALSE(choice->params);
        CHECK(choice->unverified == keel::UnverifiedRoot::Allowed);
    }
}
