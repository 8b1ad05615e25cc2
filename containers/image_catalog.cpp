// The store's images as the verbs see them: summaries, names recorded in
// images.json, inspect, rm (untag, or delete and collect) and prune. What
// no image and no container root refers to is collected: blobs, unpacked
// layers, keel's own leftover temporary files.
#include "base/strings.h"
#include "base/sys.h"
#include "containers/containers.h"
#include "containers/image_ref.h"
#include "containers/image_store.h"

#include <algorithm>
#include <cerrno>
#include <set>
#include <sys/stat.h>
#include <unistd.h>

namespace keel::containers {

using namespace keel::oci;

namespace {

struct Loaded {
    Manifest manifest;
    ImageConfig config;
    std::string manifest_json;
    std::string config_json;
};

Result<Loaded> load_documents(const ImageStore& store, const Digest& manifest_digest) {
    Loaded out;
    out.manifest_json = TRY(store.read_blob(manifest_digest));
    out.manifest = TRY(parse_manifest(out.manifest_json));
    out.config_json = TRY(store.read_blob(out.manifest.config.digest));
    out.config = TRY(parse_image_config(out.config_json));
    return out;
}

// The config digests of `images`, for finding one by id (a record whose
// manifest is unreadable gets an empty digest: never matched by id).
std::vector<Digest> config_digests(const ImageStore& store,
                                   const std::vector<ImageRecord>& images) {
    std::vector<Digest> out;
    for (const ImageRecord& record : images) {
        Digest digest{DigestAlgorithm::Sha256, ""};
        if (auto json = store.read_blob(record.manifest))
            if (auto manifest = parse_manifest(*json))
                digest = manifest->config.digest;
        out.push_back(digest);
    }
    return out;
}

// What the images and the container roots still refer to.
struct References {
    std::set<std::string> blobs;  // blob paths
    std::set<std::string> layers; // layer paths
};

Result<References> references(const ImageStore& store, const std::vector<ImageRecord>& images) {
    References out;
    for (const ImageRecord& record : images) {
        out.blobs.insert(store.blob_path(record.manifest));
        auto documents = load_documents(store, record.manifest);
        if (!documents)
            continue; // a broken image keeps only its manifest
        out.blobs.insert(store.blob_path(documents->manifest.config.digest));
        for (const Descriptor& layer : documents->manifest.layers)
            out.blobs.insert(store.blob_path(layer.digest));
        for (const Digest& diff_id : documents->config.diff_ids)
            out.layers.insert(store.layer_path(diff_id));
    }
    for (const auto& [id, root] : TRY(store.roots()))
        for (const Digest& diff_id : root.layers)
            out.layers.insert(store.layer_path(diff_id));
    return out;
}

// Removes the blobs and layers nothing refers to, and keel's leftover
// temporary files.
Result<void> collect(ImageStore& store, const std::vector<ImageRecord>& images,
                     RemovalSummary& summary) {
    References kept = TRY(references(store, images));
    for (std::string_view algorithm : {"sha256", "sha512"}) {
        std::string blobs = cat(store.root(), "/blobs/", algorithm);
        if (is_directory(blobs))
            for (const std::string& name : TRY(list_directory(blobs))) {
                std::string path = cat(blobs, "/", name);
                if (kept.blobs.contains(path))
                    continue;
                if (::unlink(path.c_str()) < 0 && errno != ENOENT)
                    return errno_error(cat("remove ", quoted(path)));
                ++summary.blobs_removed;
            }
        std::string layers = cat(store.root(), "/layers/", algorithm);
        if (is_directory(layers))
            for (const std::string& name : TRY(list_directory(layers))) {
                std::string path = cat(layers, "/", name);
                if (kept.layers.contains(path))
                    continue;
                TRY(remove_tree(path));
                ++summary.layers_removed;
            }
    }
    return {};
}

// Bytes of the regular files under `directory` (a hard link counted once,
// symlinks and whiteouts as nothing): a layer's size as Docker counts it.
// A directory that cannot be read counts as empty.
uint64_t files_size(const std::string& directory) {
    uint64_t total = 0;
    std::set<std::pair<dev_t, ino_t>> linked;
    std::vector<std::string> pending = {directory};
    while (!pending.empty()) {
        std::string current = std::move(pending.back());
        pending.pop_back();
        Result<std::vector<std::string>> names = list_directory(current);
        if (!names)
            continue;
        for (const std::string& name : *names) {
            std::string path = cat(current, "/", name);
            struct stat status {};
            if (::lstat(path.c_str(), &status) != 0)
                continue;
            if (S_ISDIR(status.st_mode))
                pending.push_back(std::move(path));
            else if (S_ISREG(status.st_mode) &&
                     (status.st_nlink == 1 || linked.insert({status.st_dev, status.st_ino}).second))
                total += uint64_t(status.st_size);
        }
    }
    return total;
}

std::set<std::string> images_in_use(const ImageStore& store) {
    std::set<std::string> out;
    if (auto roots = store.roots())
        for (const auto& [id, root] : *roots)
            out.insert(root.image.str());
    return out;
}

} // namespace

} // namespace keel::containers

namespace keel::oci {

Result<containers::ImageSummary> summarize_image(const ImageStore& store,
                                                 const ImageRecord& record) {
    std::string context = cat("image ", record.manifest.str());
    containers::ImageSummary summary;
    summary.names = record.names;
    summary.reference = record.names.empty() ? std::string() : record.names.front();
    summary.manifest_digest = record.manifest.str();
    std::string manifest_json = TRY_CTX(store.read_blob(record.manifest), context);
    Manifest manifest = TRY_CTX(parse_manifest(manifest_json), context);
    std::string config_json = TRY_CTX(store.read_blob(manifest.config.digest), context);
    ImageConfig config = TRY_CTX(parse_image_config(config_json), context);
    summary.config_digest = manifest.config.digest.str();
    summary.created = config.created;
    summary.platform = Platform{config.os, config.architecture, config.variant}.str();
    summary.size = manifest.config.size;
    for (const Descriptor& layer : manifest.layers)
        summary.size += layer.size;
    summary.layer_count = manifest.layers.size();
    for (const Digest& diff_id : config.diff_ids)
        if (store.has_layer(diff_id))
            summary.unpacked_size += containers::files_size(store.layer_path(diff_id));
    return summary;
}

Result<void> record_images(ImageStore& store, const std::vector<ImageRecord>& added) {
    std::vector<ImageRecord> images = TRY(store.images());
    for (const ImageRecord& record : added) {
        for (ImageRecord& other : images)
            std::erase_if(other.names, [&](const std::string& name) {
                return std::ranges::find(record.names, name) != record.names.end();
            });
        auto same = std::ranges::find_if(
            images, [&](const ImageRecord& other) { return other.manifest == record.manifest; });
        if (same == images.end()) {
            images.push_back(record);
            continue;
        }
        for (const std::string& name : record.names)
            same->names.push_back(name);
    }
    return store.write_images(images);
}

} // namespace keel::oci

namespace keel::containers {

Result<StorePolicy> store_policy(const ImageStoreOptions& options) {
    ImageStore store = TRY(ImageStore::open(options.root, StoreAccess::Read));
    return store.policy();
}

Result<void> set_store_policy(const ImageStoreOptions& options, const StorePolicy& policy) {
    ImageStore store = TRY(ImageStore::open(options.root, StoreAccess::Change));
    return store.write_policy(policy);
}

Result<std::vector<ImageSummary>> list_images(const ImageStoreOptions& options) {
    ImageStore store = TRY(ImageStore::open(options.root, StoreAccess::Read));
    std::vector<ImageSummary> out;
    for (const ImageRecord& record : TRY(store.images()))
        out.push_back(TRY(summarize_image(store, record)));
    std::ranges::stable_sort(out, [](const ImageSummary& a, const ImageSummary& b) {
        if (a.names.empty() != b.names.empty())
            return b.names.empty();
        return a.reference < b.reference;
    });
    return out;
}

Result<ImageDetails> inspect_image(const ImageStoreOptions& options, std::string_view reference) {
    ImageStore store = TRY(ImageStore::open(options.root, StoreAccess::Read));
    std::vector<ImageRecord> images = TRY(store.images());
    size_t index = TRY(find_image(images, config_digests(store, images), reference));
    ImageDetails details;
    details.summary = TRY(summarize_image(store, images[index]));
    Loaded documents = TRY(load_documents(store, images[index].manifest));
    for (size_t i = 0; i < documents.manifest.layers.size(); ++i)
        details.layers.push_back({documents.manifest.layers[i], i < documents.config.diff_ids.size()
                                                                    ? documents.config.diff_ids[i]
                                                                    : Digest{}});
    details.manifest = std::move(documents.manifest);
    details.config = std::move(documents.config);
    details.manifest_json = std::move(documents.manifest_json);
    details.config_json = std::move(documents.config_json);
    return details;
}

Result<RemovalSummary> remove_image(const ImageStoreOptions& options, std::string_view reference,
                                    ImageRemoval mode) {
    std::string context = cat("remove image ", quoted(reference));
    ImageStore store = TRY_CTX(ImageStore::open(options.root, StoreAccess::Change), context);
    std::vector<ImageRecord> images = TRY_CTX(store.images(), context);
    size_t index = TRY_CTX(find_image(images, config_digests(store, images), reference), context);
    RemovalSummary summary;
    ImageRecord& record = images[index];
    // By one of several names: only that name goes.
    if (Result<ImageReference> name = parse_image_reference(reference); name && !name->digest) {
        auto it = std::ranges::find(record.names, name->str());
        if (it != record.names.end() && record.names.size() > 1) {
            summary.untagged.push_back(*it);
            record.names.erase(it);
            TRY_CTX(store.write_images(images), context);
            return summary;
        }
    }
    if (mode == ImageRemoval::Unused && images_in_use(store).contains(record.manifest.str()))
        return errno_error(EBUSY, cat(context, ": a container root uses it (force removes it "
                                               "anyway)"));
    summary.untagged = record.names;
    summary.deleted.push_back(record.manifest.str());
    images.erase(images.begin() + ptrdiff_t(index));
    TRY_CTX(store.write_images(images), context);
    TRY_CTX(collect(store, images, summary), context);
    return summary;
}

Result<RemovalSummary> prune_images(const ImageStoreOptions& options) {
    ImageStore store = TRY_CTX(ImageStore::open(options.root, StoreAccess::Change), "prune images");
    std::vector<ImageRecord> images = TRY(store.images());
    std::set<std::string> in_use = images_in_use(store);
    RemovalSummary summary;
    std::erase_if(images, [&](const ImageRecord& record) {
        if (!record.names.empty() || in_use.contains(record.manifest.str()))
            return false;
        summary.deleted.push_back(record.manifest.str());
        return true;
    });
    if (!summary.deleted.empty())
        TRY_CTX(store.write_images(images), "prune images");
    TRY_CTX(collect(store, images, summary), "prune images");
    for (const std::string& name : TRY(list_directory(store.tmp_directory())))
        // ".keel-…", and unpack_layer's "..keel-…-XXXXXX" staging directories.
        if (name.find(".keel-") <= 1)
            TRY(remove_tree(cat(store.tmp_directory(), "/", name)));
    return summary;
}

} // namespace keel::containers
