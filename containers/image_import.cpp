// import_rootfs(): `docker import` — a root filesystem tar (compressed or
// not) becomes an image of one layer with a minimal config for the host
// platform. The tar is copied in as a blob (hashed as it is read), then
// unpacked like any layer, which gives its diff id.
#include "base/json.h"
#include "base/strings.h"
#include "base/sys.h"
#include "containers/containers.h"
#include "containers/image_ref.h"
#include "containers/image_store.h"

#include <fcntl.h>
#include <unistd.h>

namespace keel::containers {

using namespace keel::oci;

namespace {

Result<std::string_view> layer_media_type(const ImageStore& store, const Digest& blob) {
    Fd fd = TRY(open_file(store.blob_path(blob), O_RDONLY));
    unsigned char magic[4] = {};
    ssize_t n = ::read(fd.get(), magic, sizeof magic);
    if (n >= 2 && magic[0] == 0x1f && magic[1] == 0x8b)
        return kMediaTypeOciLayerGzip;
    if (n == 4 && magic[0] == 0x28 && magic[1] == 0xb5 && magic[2] == 0x2f && magic[3] == 0xfd)
        return kMediaTypeOciLayerZstd;
    return kMediaTypeOciLayer;
}

void descriptor_json(JsonWriter& json, std::string_view media_type, const Digest& digest,
                     uint64_t size) {
    json.begin_object()
        .field("mediaType", media_type)
        .field("digest", digest.str())
        .field("size", size)
        .end_object();
}

} // namespace

Result<ImageSummary> import_rootfs(const ImageStoreOptions& options, const std::string& path,
                                   std::string_view name) {
    std::string context = cat("import ", path == "-" ? std::string("stdin") : quoted(path));
    ImageReference reference = TRY_CTX(parse_image_reference(name), context);
    ImageStore store = TRY_CTX(ImageStore::open(options.root, StoreAccess::Change), context);
    StoreChanges changes(store);
    Fd input;
    if (path != "-")
        input = TRY_CTX(open_file(path, O_RDONLY), context);
    FdSource source(path == "-" ? STDIN_FILENO : input.get());
    auto [blob, blob_size] = TRY_CTX(changes.add_blob_stream(source), context);
    Digest diff_id = TRY_CTX(changes.add_layer_computing_diff_id(blob), context);
    std::string_view media_type = TRY_CTX(layer_media_type(store, blob), context);

    std::string now = rfc3339_now();
    Platform platform = host_platform();
    JsonWriter config;
    config.begin_object()
        .field("created", now)
        .field("architecture", platform.architecture)
        .field("os", platform.os);
    if (!platform.variant.empty())
        config.field("variant", platform.variant);
    config.key("config").begin_object().end_object();
    config.key("rootfs").begin_object().field("type", "layers").key("diff_ids").begin_array();
    config.value(diff_id.str()).end_array().end_object();
    config.key("history")
        .begin_array()
        .begin_object()
        .field("created", now)
        .field("created_by", "keel image import");
    config.end_object().end_array().end_object();
    Digest config_digest = TRY_CTX(changes.add_blob_bytes(config.text()), context);

    JsonWriter manifest;
    manifest.begin_object().field("schemaVersion", 2).field("mediaType", kMediaTypeOciManifest);
    manifest.key("config");
    descriptor_json(manifest, kMediaTypeOciConfig, config_digest, config.text().size());
    manifest.key("layers").begin_array();
    descriptor_json(manifest, media_type, blob, blob_size);
    manifest.end_array().end_object();
    Digest manifest_digest = TRY_CTX(changes.add_blob_bytes(manifest.text()), context);

    ImageRecord record{manifest_digest, {reference.str()}, now};
    TRY_CTX(record_images(store, {record}), context);
    changes.commit();
    return TRY_CTX(summarize_image(store, record), context);
}

} // namespace keel::containers
