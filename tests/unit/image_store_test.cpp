// The image store (containers.h's image verbs): loading an OCI layout the
// test writes, refusing tampered blobs and malicious layers with the store
// left as it was, sharing layers between images, rm and prune.
#include "base/digest.h"
#include "base/json.h"
#include "base/strings.h"
#include "base/sys.h"
#include "containers/containers.h"
#include "tests/unit/tar_writer.h"
#include "tests/unit/temp_dir.h"
#include "tests/unit/test_util.h"

#include <doctest/doctest.h>

#include <sys/stat.h>

using namespace keel;
using namespace keel::containers;
using keel::testing::error_text;
using keel::testing::TarWriter;
using keel::testing::TempDir;

namespace {

struct Blob {
    std::string digest;
    uint64_t size = 0;
};

// An OCI image layout written by hand: blobs, manifests, index.json.
class Layout {
public:
    explicit Layout(std::string directory) : m_directory(std::move(directory)) {
        REQUIRE(make_directories(m_directory + "/blobs/sha256"));
        REQUIRE(write_new_file(m_directory + "/oci-layout", R"({"imageLayoutVersion":"1.0.0"})"));
    }
    Blob blob(const std::string& data) {
        std::string hex = sha256_hex(data);
        REQUIRE(write_new_file(m_directory + "/blobs/sha256/" + hex, data));
        return {"sha256:" + hex, data.size()};
    }
    // An image of `layers` (uncompressed tars), tagged `name` in index.json.
    void image(const std::vector<std::string>& layers, const std::string& name,
               std::vector<std::string> claimed = {}) {
        if (claimed.empty())
            claimed = layers;
        JsonWriter config;
        config.begin_object()
            .field("architecture", "amd64")
            .field("os", "linux")
            .field("created", "2024-01-01T00:00:00Z");
        config.key("rootfs").begin_object().field("type", "layers").key("diff_ids").begin_array();
        for (const std::string& layer : claimed)
            config.value("sha256:" + sha256_hex(layer));
        config.end_array().end_object().end_object();
        Blob config_blob = blob(config.text());
        JsonWriter manifest;
        manifest.begin_object()
            .field("schemaVersion", 2)
            .field("mediaType", "application/vnd.oci.image.manifest.v1+json");
        manifest.key("config")
            .begin_object()
            .field("mediaType", "application/vnd.oci.image.config.v1+json")
            .field("digest", config_blob.digest)
            .field("size", config_blob.size)
            .end_object();
        manifest.key("layers").begin_array();
        for (const std::string& layer : layers) {
            Blob layer_blob = blob(layer);
            manifest.begin_object()
                .field("mediaType", "application/vnd.oci.image.layer.v1.tar")
                .field("digest", layer_blob.digest)
                .field("size", layer_blob.size)
                .end_object();
        }
        manifest.end_array().end_object();
        Blob manifest_blob = blob(manifest.text());
        m_manifests.push_back({manifest_blob, name});
        JsonWriter index;
        index.begin_object().field("schemaVersion", 2).key("manifests").begin_array();
        for (const auto& [descriptor, ref] : m_manifests) {
            index.begin_object()
                .field("mediaType", "application/vnd.oci.image.manifest.v1+json")
                .field("digest", descriptor.digest)
                .field("size", descriptor.size);
            index.key("annotations")
                .begin_object()
                .field("io.containerd.image.name", ref)
                .end_object();
            index.end_object();
        }
        index.end_array().end_object();
        REQUIRE(write_new_file(m_directory + "/index.json", index.text()));
    }
    const std::string& path() const { return m_directory; }

private:
    std::string m_directory;
    std::vector<std::pair<Blob, std::string>> m_manifests;
};

std::string layer(const std::string& file, const std::string& data) {
    TarWriter tar;
    tar.add({.name = "./", .type = '5', .mode = 0755});
    tar.add({.name = file, .data = data});
    return tar.finish();
}

// Every file and directory under the store but the lock, with sizes: what
// "the store is unchanged" compares.
std::vector<std::string> store_contents(const std::string& root, const std::string& prefix = "") {
    std::vector<std::string> out;
    auto names = list_directory(root + prefix);
    if (!names)
        return out;
    for (const std::string& name : *names) {
        std::string relative = prefix + "/" + name;
        struct stat st {};
        ::lstat((root + relative).c_str(), &st);
        if (S_ISDIR(st.st_mode)) {
            out.push_back(relative + "/");
            for (const std::string& inner : store_contents(root, relative))
                out.push_back(inner);
        } else if (relative != "/lock") {
            out.push_back(cat(relative, " ", uint64_t(st.st_size)));
        }
    }
    return out;
}

} // namespace

TEST_CASE("an OCI layout is loaded: the image is listed by name and its layer unpacked") {
    TempDir dir;
    ImageStoreOptions store{dir / "store"};
    Layout layout(dir / "layout");
    layout.image({layer("hello", "hi\n")}, "example.com/hello:1");
    auto loaded = load_images(store, layout.path());
    REQUIRE_MESSAGE(loaded, error_text(loaded));
    REQUIRE(loaded->size() == 1);
    CHECK((*loaded)[0].names == std::vector<std::string>{"example.com/hello:1"});
    CHECK((*loaded)[0].platform == "linux/amd64");

    auto images = list_images(store);
    REQUIRE(images);
    REQUIRE(images->size() == 1);
    auto details = inspect_image(store, "example.com/hello:1");
    REQUIRE_MESSAGE(details, error_text(details));
    REQUIRE(details->layers.size() == 1);
    std::string unpacked = store.root + "/layers/sha256/" + details->layers[0].diff_id.hex;
    CHECK(read_file(unpacked + "/hello").value() == "hi\n");
    // Short ids and digests find it too.
    CHECK(inspect_image(store, details->summary.config_digest.substr(7, 12)));
    CHECK(inspect_image(store, details->summary.manifest_digest));
    CHECK(!inspect_image(store, "example.com/other:1"));
    // The source layout was copied, not consumed.
    CHECK(path_exists(layout.path() + "/index.json"));
}

TEST_CASE("an image's listed size is its layers unpacked, its compressed size kept beside it") {
    TempDir dir;
    ImageStoreOptions store{dir / "store"};
    Layout layout(dir / "layout");
    std::string big(10000, 'x');
    layout.image({layer("big", big), layer("small", "hi\n")}, "example.com/sized:1");
    REQUIRE(load_images(store, layout.path()));
    auto images = list_images(store);
    REQUIRE(images);
    REQUIRE(images->size() == 1);
    // The two files' bytes, not the tars' (headers, padding).
    CHECK((*images)[0].unpacked_size == 10000 + 3);
    auto details = inspect_image(store, "example.com/sized:1");
    REQUIRE(details);
    uint64_t blobs = details->manifest.config.size;
    for (const ImageLayer& layer : details->layers)
        blobs += layer.blob.size;
    CHECK(details->summary.size == blobs);
    CHECK(details->summary.unpacked_size == 10003);
}

TEST_CASE("a tampered blob is refused and leaves the store unchanged") {
    TempDir dir;
    ImageStoreOptions store{dir / "store"};
    Layout first(dir / "first");
    first.image({layer("a", "a\n")}, "example.com/first:1");
    REQUIRE(load_images(store, first.path()));
    std::vector<std::string> before = store_contents(store.root);

    Layout layout(dir / "layout");
    std::string good = layer("hello", "hi\n");
    layout.image({good}, "example.com/hello:1");
    // Same size, one byte changed.
    std::string bad = good;
    bad[bad.size() - 1100] = 'X';
    REQUIRE(write_new_file(layout.path() + "/blobs/sha256/" + sha256_hex(good), bad));
    auto loaded = load_images(store, layout.path());
    REQUIRE(!loaded);
    CHECK(error_text(loaded).find("digest mismatch") != std::string::npos);
    CHECK(store_contents(store.root) == before);
    CHECK(list_images(store)->size() == 1);
}

TEST_CASE("a layer whose content does not match its diff id is refused") {
    TempDir dir;
    ImageStoreOptions store{dir / "store"};
    Layout layout(dir / "layout");
    // The config claims another layer's diff id.
    layout.image({layer("hello", "hi\n")}, "example.com/liar:1", {layer("hello", "ho\n")});
    auto loaded = load_images(store, layout.path());
    CHECK(error_text(loaded).find("diff id mismatch") != std::string::npos);
    CHECK(list_images(store)->empty());
    CHECK(list_directory(store.root + "/layers/sha256")->empty());
    CHECK(list_directory(store.root + "/blobs/sha256")->empty());
}

TEST_CASE("a layer with a malicious entry is refused, naming it, and nothing is kept") {
    TempDir dir;
    ImageStoreOptions store{dir / "store"};
    REQUIRE(list_images(store));
    std::vector<std::string> before = store_contents(store.root);
    struct Case {
        std::vector<keel::testing::TestEntry> entries;
        std::string_view expected;
    };
    std::vector<Case> cases = {
        {{{.name = "../escape", .data = "x"}}, "`../escape`"},
        {{{.name = "/abs", .data = "x"}}, "`/abs`"},
        {{{.name = "out", .type = '2', .link = "/tmp"}, {.name = "out/x", .data = "x"}}, "`out/x`"},
        {{{.name = "f", .data = "x"}, {.name = "h", .type = '1', .link = "../../etc/passwd"}},
         "`h`"},
        {{{.name = "dev", .type = '3', .major = 1, .minor = 3}}, "`dev`"},
    };
    for (const Case& c : cases) {
        TarWriter tar;
        tar.add({.name = "ok", .data = "fine"});
        for (const auto& entry : c.entries)
            tar.add(entry);
        TempDir source;
        Layout layout(source / "layout");
        layout.image({layer("base", "b"), tar.finish()}, "example.com/evil:1");
        auto loaded = load_images(store, layout.path());
        REQUIRE(!loaded);
        INFO(error_text(loaded));
        CHECK(error_text(loaded).find(c.expected) != std::string::npos);
        CHECK(store_contents(store.root) == before);
    }
}

TEST_CASE("a layer two images share is unpacked once; rm and prune collect what is unused") {
    TempDir dir;
    ImageStoreOptions store{dir / "store"};
    std::string base = layer("base", "shared\n");
    Layout layout(dir / "layout");
    layout.image({base, layer("one", "1\n")}, "example.com/one:1");
    layout.image({base, layer("two", "2\n")}, "example.com/two:1");
    auto loaded = load_images(store, layout.path());
    REQUIRE_MESSAGE(loaded, error_text(loaded));
    CHECK(loaded->size() == 2);
    CHECK(list_directory(store.root + "/layers/sha256")->size() == 3);
    std::string shared = store.root + "/layers/sha256/" + sha256_hex(base);
    REQUIRE(is_directory(shared));

    // A second name for one image: rm by that name only untags.
    Layout again(dir / "again");
    again.image({base, layer("one", "1\n")}, "example.com/one:latest");
    REQUIRE(load_images(store, again.path()));
    CHECK(list_images(store)->size() == 2);
    auto untagged = remove_image(store, "example.com/one:latest");
    REQUIRE_MESSAGE(untagged, error_text(untagged));
    CHECK(untagged->deleted.empty());
    CHECK(untagged->untagged == std::vector<std::string>{"example.com/one:latest"});

    auto removed = remove_image(store, "example.com/one:1");
    REQUIRE_MESSAGE(removed, error_text(removed));
    CHECK(removed->deleted.size() == 1);
    CHECK(removed->layers_removed == 1);
    CHECK(is_directory(shared)); // still image two's
    CHECK(list_images(store)->size() == 1);

    CHECK(remove_image(store, "example.com/two:1"));
    CHECK(list_directory(store.root + "/layers/sha256")->empty());
    CHECK(list_directory(store.root + "/blobs/sha256")->empty());
    CHECK(list_images(store)->empty());
    CHECK(error_text(remove_image(store, "example.com/two:1")).find("no image") !=
          std::string::npos);
    auto pruned = prune_images(store);
    REQUIRE(pruned);
    CHECK(pruned->blobs_removed == 0);
}

TEST_CASE("a rootfs tar is imported as an image of one layer") {
    TempDir dir;
    ImageStoreOptions store{dir / "store"};
    REQUIRE(write_new_file(dir / "rootfs.tar", layer("etc/hostname", "box\n")));
    auto imported = import_rootfs(store, dir / "rootfs.tar", "box");
    REQUIRE_MESSAGE(imported, error_text(imported));
    CHECK(imported->names == std::vector<std::string>{"docker.io/library/box:latest"});
    CHECK(imported->layer_count == 1);
    auto details = inspect_image(store, "box");
    REQUIRE(details);
    CHECK(details->config.diff_ids.at(0).hex == sha256_hex(layer("etc/hostname", "box\n")));
}
