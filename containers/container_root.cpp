// A container's root from an image: STORE/containers/ID/merged, an overlay
// of the image's unpacked layers (top layer first) under a fresh upper and
// work directory. The record root.json names the image and its layers, so
// that neither is collected while the root exists.
//
// overlayfs takes its options in one page; the lower directories are given
// relative to STORE/layers/sha256 (the mount is made with the working
// directory there), 65 bytes a layer, so some sixty layers fit.
#include "base/json.h"
#include "base/strings.h"
#include "base/sys.h"
#include "containers/containers.h"
#include "containers/image_store.h"

#include <cerrno>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

namespace keel::containers {

using namespace keel::oci;

namespace {

// mount(2)'s data is one page.
constexpr size_t kMountDataLimit = 4095;

// Runs `action` with the working directory at `directory`, then goes back.
template <typename Action> Result<void> in_directory(const std::string& directory, Action action) {
    Fd previous = TRY(open_file(".", O_PATH | O_DIRECTORY));
    Fd target = TRY(open_file(directory, O_PATH | O_DIRECTORY));
    if (::fchdir(target.get()) < 0)
        return errno_error(cat("chdir ", quoted(directory)));
    Result<void> result = action();
    if (::fchdir(previous.get()) < 0 && result)
        return errno_error("chdir back");
    return result;
}

Result<void> mount_overlay(const ImageStore& store, const std::vector<Digest>& layers,
                           const std::string& directory, RootMode mode) {
    std::string merged = directory + "/merged";
    std::string lower;
    for (auto it = layers.rbegin(); it != layers.rend(); ++it) {
        if (it->algorithm != DigestAlgorithm::Sha256)
            return error("overlay roots take sha256 layers only");
        lower += lower.empty() ? it->hex : ":" + it->hex;
    }
    if (layers.empty()) {
        // An image of no layers: an empty directory stands for the root.
        TRY(make_directories(directory + "/empty", 0755));
        lower = directory + "/empty";
    }
    unsigned long flags = MS_NODEV;
    std::string data;
    if (mode == RootMode::Writable) {
        data =
            cat("lowerdir=", lower, ",upperdir=", directory, "/upper,workdir=", directory, "/work");
    } else if (layers.size() == 1) {
        // overlayfs wants two lower layers without an upper one.
        return in_directory(store.layer_directory(), [&]() -> Result<void> {
            TRY(mount_filesystem(lower, merged, "", MS_BIND));
            return mount_filesystem("", merged, "", MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NODEV);
        });
    } else {
        data = cat("lowerdir=", lower);
        flags |= MS_RDONLY;
    }
    if (data.size() > kMountDataLimit)
        return error(cat("the image has ", layers.size(),
                         " layers: more than an overlay mount's options (one page) can name"));
    return in_directory(store.layer_directory(), [&] {
        return mount_filesystem("overlay", merged, "overlay", flags, data);
    });
}

} // namespace

Result<ContainerRoot> mount_container_root(const ImageStoreOptions& options,
                                           std::string_view reference, std::string_view id,
                                           RootMode mode) {
    std::string context = cat("container root ", quoted(id));
    TRY_CTX(check_id(id), context);
    ImageStore store = TRY_CTX(ImageStore::open(options.root, StoreAccess::Change), context);
    ImageDetails details;
    {
        std::vector<ImageRecord> images = TRY_CTX(store.images(), context);
        // inspect_image would take the lock again; find the image here.
        std::vector<Digest> configs;
        for (const ImageRecord& record : images) {
            auto summary = summarize_image(store, record);
            configs.push_back(summary ? parse_digest(summary->config_digest).value_or(Digest{})
                                      : Digest{});
        }
        size_t index = TRY_CTX(find_image(images, configs, reference), context);
        details.summary.manifest_digest = images[index].manifest.str();
        std::string manifest_json = TRY_CTX(store.read_blob(images[index].manifest), context);
        details.manifest = TRY_CTX(parse_manifest(manifest_json), context);
        std::string config_json = TRY_CTX(store.read_blob(details.manifest.config.digest), context);
        details.config = TRY_CTX(parse_image_config(config_json), context);
    }
    for (const Digest& diff_id : details.config.diff_ids)
        if (!store.has_layer(diff_id))
            return error(cat(context, ": layer ", diff_id.str(), " is not unpacked"));

    std::string directory = store.container_directory(id);
    if (::mkdir(directory.c_str(), 0700) < 0)
        return errno_error(cat(context, ": create ", quoted(directory)));
    auto made = [&]() -> Result<ContainerRoot> {
        for (const char* sub : {"/upper", "/work", "/merged"})
            TRY(make_directories(directory + sub, 0755));
        JsonWriter json;
        json.begin_object()
            .field("image", details.summary.manifest_digest)
            .key("layers")
            .begin_array();
        for (const Digest& diff_id : details.config.diff_ids)
            json.value(diff_id.str());
        json.end_array().field("mode", kRootModeNames.name(mode)).end_object();
        TRY(write_new_file(directory + "/root.json", json.text() + "\n", 0600));
        TRY(mount_overlay(store, details.config.diff_ids, directory, mode));
        return ContainerRoot{directory + "/merged", details.summary.manifest_digest,
                             std::move(details.config), directory};
    }();
    if (!made) {
        (void)remove_tree(directory);
        return std::unexpected(std::move(made).error().wrap(context));
    }
    return made;
}

Result<void> remove_container_root(const ImageStoreOptions& options, std::string_view id) {
    std::string context = cat("remove container root ", quoted(id));
    TRY_CTX(check_id(id), context);
    ImageStore store = TRY_CTX(ImageStore::open(options.root, StoreAccess::Change), context);
    std::string directory = store.container_directory(id);
    if (!is_directory(directory))
        return errno_error(ENOENT, context);
    std::string merged = directory + "/merged";
    if (::umount2(merged.c_str(), MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
        return errno_error(cat(context, ": unmount ", quoted(merged)));
    TRY_CTX(remove_tree(directory), context);
    return {};
}

} // namespace keel::containers
