// Fuzz target for containers/image_manifest.h: the same bytes read as an
// index, a manifest, an image config and a `docker save` manifest.json.
//
// Besides "does not crash", it checks what the image store relies on when a
// document is accepted: every digest prints back as one that parses to the
// same value, a document is never both an index and a manifest that says so,
// and every layer has a media type the store can unpack.
#include "containers/image_manifest.h"

#include "tests/fuzz/fuzz_check.h"

#include <cstdint>
#include <string_view>

using namespace keel;
using namespace keel::oci;

namespace {

void check_digest(const Digest& digest) {
    Result<Digest> again = parse_digest(digest.str());
    FUZZ_CHECK(again && *again == digest);
}

void check_descriptor(const Descriptor& descriptor) {
    check_digest(descriptor.digest);
    FUZZ_CHECK(descriptor.size <= uint64_t(INT64_MAX));
}

// Relative, with no ".." component.
bool inside_archive(const std::string& path) {
    if (path.empty() || path[0] == '/')
        return false;
    std::string wrapped = "/" + path + "/";
    return wrapped.find("/../") == std::string::npos;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view input(reinterpret_cast<const char*>(data), size);
    Result<Index> index = parse_index(input);
    if (index) {
        FUZZ_CHECK(index->media_type.empty() ||
                   document_kind(index->media_type) == DocumentKind::Index);
        for (const Descriptor& descriptor : index->manifests)
            check_descriptor(descriptor);
        Result<Descriptor> chosen = select_manifest(*index, host_platform());
        if (!chosen)
            FUZZ_CHECK(!chosen.error().to_string().empty());
    } else {
        FUZZ_CHECK(!index.error().to_string().empty());
    }

    Result<Manifest> manifest = parse_manifest(input);
    if (manifest) {
        FUZZ_CHECK(manifest->media_type.empty() ||
                   document_kind(manifest->media_type) == DocumentKind::Manifest);
        // An accepted manifest is never also an accepted index (CVE-2021-41190).
        FUZZ_CHECK(!index);
        check_descriptor(manifest->config);
        for (const Descriptor& layer : manifest->layers) {
            check_descriptor(layer);
            FUZZ_CHECK(layer.media_type.find("layer") != std::string::npos ||
                       layer.media_type.find("rootfs.diff") != std::string::npos);
        }
    } else {
        FUZZ_CHECK(!manifest.error().to_string().empty());
    }

    Result<ImageConfig> config = parse_image_config(input);
    if (config) {
        for (const Digest& digest : config->diff_ids)
            check_digest(digest);
    } else {
        FUZZ_CHECK(!config.error().to_string().empty());
    }

    Result<std::vector<DockerArchiveImage>> archive = parse_docker_archive_manifest(input);
    if (archive) {
        for (const DockerArchiveImage& image : *archive) {
            FUZZ_CHECK(inside_archive(image.config));
            for (const std::string& layer : image.layers)
                FUZZ_CHECK(inside_archive(layer));
        }
    }
    return 0;
}
