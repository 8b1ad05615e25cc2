// Module index parsing and dependency order (the loading itself runs in the
// QEMU tests against Debian's kernel).
#include "kmod/kmod.h"

#include <doctest/doctest.h>

using keel::ModuleIndex;

namespace {
constexpr std::string_view kDep =
    R"(kernel/fs/ext4/ext4.ko: kernel/lib/crc16.ko kernel/fs/mbcache.ko kernel/fs/jbd2/jbd2.ko
kernel/lib/crc16.ko:
kernel/fs/mbcache.ko:
kernel/fs/jbd2/jbd2.ko:
kernel/fs/overlayfs/overlay.ko.xz:
kernel/drivers/block/virtio_blk.ko: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
kernel/drivers/virtio/virtio.ko: kernel/drivers/virtio/virtio_ring.ko
kernel/drivers/virtio/virtio_ring.ko:
kernel/sound/snd-hda-codec.ko:
)";

std::vector<std::string> module_names(const std::vector<const keel::ModuleEntry*>& entries) {
    std::vector<std::string> out;
    for (const auto* entry : entries)
        out.push_back(entry->name);
    return out;
}
} // namespace

TEST_CASE("module names come from paths, without .ko and its compression suffix") {
    CHECK(keel::module_name_from_path("kernel/fs/ext4/ext4.ko") == "ext4");
    CHECK(keel::module_name_from_path("kernel/fs/overlayfs/overlay.ko.xz") == "overlay");
    CHECK(keel::module_name_from_path("kernel/sound/snd-hda-codec.ko.zst") == "snd_hda_codec");
}

TEST_CASE("dependencies load before the module that needs them") {
    auto index = ModuleIndex::parse(kDep, "", "/lib/modules/test");
    REQUIRE(index);
    auto order = index->load_order("ext4");
    REQUIRE(order);
    CHECK(module_names(*order) == std::vector<std::string>{"crc16", "mbcache", "jbd2", "ext4"});
    auto virtio = index->load_order("virtio_blk");
    REQUIRE(virtio);
    CHECK(module_names(*virtio) == std::vector<std::string>{"virtio_ring", "virtio", "virtio_blk"});
}

TEST_CASE("a module is found by its name with dashes or underscores") {
    auto index = ModuleIndex::parse(kDep, "", "/lib/modules/test");
    REQUIRE(index);
    CHECK(index->find("snd-hda-codec"));
    CHECK(index->find("snd_hda_codec"));
    CHECK(index->find("overlay")->path == "kernel/fs/overlayfs/overlay.ko.xz");
}

TEST_CASE("built-in modules need no loading and are skipped as dependencies") {
    auto index = ModuleIndex::parse(kDep, "kernel/lib/crc16.ko\n", "/lib/modules/test");
    REQUIRE(index);
    CHECK(index->is_builtin("crc16"));
    auto order = index->load_order("ext4");
    REQUIRE(order);
    CHECK(module_names(*order) == std::vector<std::string>{"mbcache", "jbd2", "ext4"});
}

TEST_CASE("an unknown module or missing dependency is named in the error") {
    auto index = ModuleIndex::parse("kernel/a.ko: kernel/b.ko\n", "", "/m");
    REQUIRE(index);
    auto missing = index->load_order("nope");
    REQUIRE_FALSE(missing);
    CHECK(missing.error().to_string() == "module `nope` not found in modules.dep");
    auto dependency = index->load_order("a");
    REQUIRE_FALSE(dependency);
    CHECK(dependency.error().to_string() == "module `b` (needed by `a`) not found in modules.dep");
}

TEST_CASE("a dependency cycle is an error, not endless recursion") {
    auto index =
        ModuleIndex::parse("kernel/a.ko: kernel/b.ko\nkernel/b.ko: kernel/a.ko\n", "", "/m");
    REQUIRE(index);
    auto order = index->load_order("a");
    REQUIRE_FALSE(order);
    CHECK(order.error().to_string() == "dependency cycle through module `a`");
}

TEST_CASE("malformed modules.dep lines are rejected with their line number") {
    auto no_colon = ModuleIndex::parse("kernel/a.ko\n", "", "/m");
    REQUIRE_FALSE(no_colon);
    CHECK(no_colon.error().to_string() == "modules.dep:1: expected `path: dependencies`");
    auto escape = ModuleIndex::parse("kernel/a.ko:\n../../etc/passwd.ko:\n", "", "/m");
    REQUIRE_FALSE(escape);
    CHECK(escape.error().to_string() == "modules.dep:2: bad module path `../../etc/passwd.ko`");
    auto absolute = ModuleIndex::parse("kernel/a.ko: /abs/b.ko\n", "", "/m");
    REQUIRE_FALSE(absolute);
    CHECK(absolute.error().to_string() == "modules.dep:1: bad dependency path `/abs/b.ko`");
}
