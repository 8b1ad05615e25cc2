// A container's root from an image: STORE/containers/ID/merged, an overlay
// of the image's unpacked layers (top layer first) under a fresh upper and
// work directory. The record root.json names the image and its layers, so
// that neither is collected while the root exists.
//
// overlayfs takes its options in one page; the lower directories are given
// relative to STORE/layers/sha256 (the mount is made with the working
// directory there), 65 bytes a layer, so some sixty layers fit.
//
// With a user namespace (--userns), the layers are owned by the host's
// root, which the container's namespace does not map: each layer is first
// an idmapped mount (open_tree, mount_setattr MOUNT_ATTR_IDMAP, read-only)
// attached at STORE/containers/ID/lower/N, and overlayfs (5.19+) takes
// those; once the overlay holds its own private clones of them, they are
// unmounted again. A kernel or filesystem that refuses idmapped mounts is
// refused with the reason, rather than a chowned copy of every layer per
// range (slow, and as large again as the image).
#include "base/json.h"
#include "base/strings.h"
#include "base/sys.h"
#include "containers/containers.h"
#include "containers/image_store.h"

#include <cerrno>
#include <fcntl.h>
#include <optional>
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

// The idmapped layers attached under DIRECTORY/lower: unmounted when it
// goes (the overlay keeps clones of its own), before anything could
// remove files through them.
struct IdmappedLayers {
    std::vector<std::string> mount_points;
    ~IdmappedLayers() { unmount(); }
    void unmount() {
        for (const std::string& point : mount_points)
            (void)::umount2(point.c_str(), MNT_DETACH);
        mount_points.clear();
    }
};

// Unmounts whatever is still mounted under DIRECTORY/lower (a run that
// died between attaching and detaching): removing the directory must not
// reach into an image layer.
Result<void> unmount_lower_layers(const std::string& directory) {
    std::string lower = directory + "/lower";
    if (!is_directory(lower))
        return {};
    for (const std::string& name : TRY(list_directory(lower))) {
        std::string point = cat(lower, "/", name);
        while (::umount2(point.c_str(), MNT_DETACH) == 0) {
        }
        if (errno != EINVAL && errno != ENOENT)
            return errno_error(cat("unmount ", quoted(point)));
    }
    return {};
}

// Layer `diff_id` idmapped through `user_namespace` and read-only, at
// `point`.
Result<void> attach_idmapped_layer(const ImageStore& store, const Digest& diff_id,
                                   int user_namespace, const std::string& point) {
    Fd layer = TRY(open_file(store.layer_path(diff_id), O_PATH | O_DIRECTORY | O_CLOEXEC));
    Fd tree = TRY(clone_mount(layer.get(), Submounts::Excluded));
    MountAttributes attributes{.set = kMountAttrIdmap | kMountAttrReadOnly | kMountAttrNoDev,
                               .user_namespace = user_namespace};
    if (Result<void> set = set_mount_attributes(tree.get(), attributes, Submounts::Excluded);
        !set) {
        return std::unexpected(
            std::move(set).error().wrap(cat("--userns: idmapped mount of layer ", diff_id.str(),
                                            " (the kernel, 5.12 or "
                                            "later, or the filesystem of ",
                                            quoted(store.root()), " refuses idmapped mounts)")));
    }
    TRY(make_directories(point, 0700));
    Fd target = TRY(open_file(point, O_PATH | O_DIRECTORY | O_CLOEXEC));
    return move_mount(tree.get(), target.get());
}

Result<void> mount_overlay(const ImageStore& store, const std::vector<Digest>& layers,
                           const std::string& directory, RootMode mode, int user_namespace) {
    std::string merged = directory + "/merged";
    // Lower directories are named relative to `base`, where the mount is made.
    std::string base = store.layer_directory();
    std::string lower;
    IdmappedLayers idmapped;
    for (auto it = layers.rbegin(); it != layers.rend(); ++it) {
        if (it->algorithm != DigestAlgorithm::Sha256)
            return error("overlay roots take sha256 layers only");
        std::string name = it->hex;
        if (user_namespace >= 0) {
            name = cat("lower/", idmapped.mount_points.size());
            std::string point = cat(directory, "/", name);
            idmapped.mount_points.push_back(point);
            TRY(attach_idmapped_layer(store, *it, user_namespace, point));
        }
        lower += lower.empty() ? name : ":" + name;
    }
    if (user_namespace >= 0)
        base = directory;
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
        return in_directory(base, [&]() -> Result<void> {
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
    Result<void> mounted = in_directory(
        base, [&] { return mount_filesystem("overlay", merged, "overlay", flags, data); });
    if (!mounted && user_namespace >= 0)
        return std::unexpected(std::move(mounted).error().wrap(
            "--userns: overlayfs refused the idmapped layers (it takes them from Linux 5.19)"));
    return mounted;
}

// The upper and work directories (and an empty root's stand-in) belong to
// the container's root; the directories above the root become searchable.
Result<void> prepare_for_user_namespace(const ImageStore& store, const std::string& directory,
                                        const std::vector<Digest>& layers, const IdMaps& maps) {
    uint32_t uid = host_id_of(maps.uids, 0).value_or(0);
    uint32_t gid = host_id_of(maps.gids, 0).value_or(0);
    for (const char* sub : {"/upper", "/work"})
        if (::chown((directory + sub).c_str(), uid, gid) < 0)
            return errno_error(cat("chown ", quoted(directory + sub)));
    if (layers.empty()) {
        TRY(make_directories(directory + "/empty", 0755));
        if (::chown((directory + "/empty").c_str(), uid, gid) < 0)
            return errno_error(cat("chown ", quoted(directory + "/empty")));
    }
    std::string directories[] = {directory};
    return admit_mapped_root(store.root(), directories, maps);
}

} // namespace

Result<ContainerRoot> mount_container_root(const ImageStoreOptions& options,
                                           std::string_view reference, std::string_view id,
                                           RootMode mode, const IdMaps& maps) {
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
        Fd user_namespace;
        if (!maps.empty()) {
            TRY(prepare_for_user_namespace(store, directory, details.config.diff_ids, maps));
            user_namespace = TRY_CTX(make_user_namespace(maps), "--userns");
        }
        TRY(mount_overlay(store, details.config.diff_ids, directory, mode,
                          user_namespace ? user_namespace.get() : -1));
        return ContainerRoot{directory + "/merged", details.summary.manifest_digest,
                             std::move(details.config), directory};
    }();
    if (!made) {
        if (unmount_lower_layers(directory))
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
    TRY_CTX(unmount_lower_layers(directory), context);
    TRY_CTX(remove_tree(directory), context);
    return {};
}

Result<std::string> remount_container_root(const ImageStoreOptions& options, std::string_view id,
                                           const IdMaps& maps) {
    std::string context = cat("container root ", quoted(id));
    TRY_CTX(check_id(id), context);
    ImageStore store = TRY_CTX(ImageStore::open(options.root, StoreAccess::Change), context);
    std::string directory = store.container_directory(id);
    std::string merged = directory + "/merged";
    // Mounted still (no reboot since it last ran): another device than
    // its directory's.
    struct stat above {};
    struct stat root {};
    if (::stat(directory.c_str(), &above) < 0)
        return errno_error(cat(context, ": ", quoted(directory)));
    if (::stat(merged.c_str(), &root) == 0 && root.st_dev != above.st_dev)
        return merged;
    std::optional<RootRecord> record;
    for (auto& [root_id, each] : TRY_CTX(store.roots(), context))
        if (root_id == id)
            record = std::move(each);
    if (!record)
        return errno_error(ENOENT, cat(context, ": ", quoted(directory), " has no root.json"));
    RootMode mode = RootMode::Writable;
    if (!record->mode.empty())
        mode =
            TRY_CTX(parse_choice(kRootModeNames, record->mode), cat(context, ": root.json: mode"));
    for (const Digest& diff_id : record->layers)
        if (!store.has_layer(diff_id))
            return error(cat(context, ": layer ", diff_id.str(), " is not unpacked"));
    TRY_CTX(make_directories(merged, 0755), context);
    TRY_CTX(unmount_lower_layers(directory), context);
    Fd user_namespace;
    if (!maps.empty())
        user_namespace = TRY_CTX(make_user_namespace(maps), "--userns");
    TRY_CTX(mount_overlay(store, record->layers, directory, mode,
                          user_namespace ? user_namespace.get() : -1),
            context);
    return merged;
}

} // namespace keel::containers
