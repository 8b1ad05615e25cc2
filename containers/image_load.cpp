// load_images(): OCI image layouts (a directory, or a tar of one) and
// `docker save` archives into the store. A tar is first extracted into
// STORE/tmp (names checked, every file hashed as it is written), then read
// as a directory whose blobs are moved, not copied, into the store. Every
// blob is verified against its descriptor, every layer against its diff id,
// and nothing is named until all of it is in.
#include "base/json.h"
#include "base/strings.h"
#include "base/sys.h"
#include "containers/containers.h"
#include "containers/image_ref.h"
#include "containers/image_store.h"

#include <cerrno>
#include <cstdlib>
#include <fcntl.h>
#include <map>
#include <sys/stat.h>
#include <unistd.h>

namespace keel::containers {

using namespace keel::oci;

namespace {

constexpr size_t kCopyBuffer = 1 << 20;
// An index may point at an index; no deeper.
constexpr int kMaxIndexDepth = 2;
constexpr std::string_view kContainerdNameAnnotation = "io.containerd.image.name";

// A directory to load from: an OCI layout or an extracted `docker save`.
struct LoadSource {
    std::string directory;
    Transfer transfer = Transfer::Copy;
    /// Relative path -> sha256 hex, for the files an extraction wrote.
    std::map<std::string, std::string> known_sha256;
};

// ---- Archives

// A source borrowed by decompressed(), which wants one it owns.
class BorrowedSource final : public ByteSource {
public:
    explicit BorrowedSource(ByteSource& source) : m_source(source) {}
    Result<size_t> read(std::span<char> buffer) override { return m_source.read(buffer); }

private:
    ByteSource& m_source;
};

// An archive member's name as components: "./" and empty parts dropped;
// absolute names and ".." refused.
Result<std::string> member_path(const TarEntry& entry, std::string_view name) {
    if (name.starts_with('/'))
        return error(cat(describe_entry(entry), ": absolute names are refused"));
    std::string out;
    for (std::string_view part : split(name, '/')) {
        if (part.empty() || part == ".")
            continue;
        if (part == "..")
            return error(cat(describe_entry(entry), ": names with `..` are refused"));
        out += out.empty() ? std::string(part) : cat("/", part);
    }
    return out;
}

// A symlink's target as a member path: relative to the link's directory,
// ".." taking a component back but never out of the archive.
Result<std::string> link_target_path(const TarEntry& entry, const std::string& path) {
    if (entry.link_target.starts_with('/'))
        return error(cat(describe_entry(entry), ": absolute link targets are refused"));
    std::vector<std::string_view> parts = split(path, '/');
    parts.pop_back();
    for (std::string_view part : split(entry.link_target, '/')) {
        if (part.empty() || part == ".")
            continue;
        if (part == "..") {
            if (parts.empty())
                return error(cat(describe_entry(entry), ": link leaves the archive"));
            parts.pop_back();
            continue;
        }
        parts.push_back(part);
    }
    std::string out;
    for (std::string_view part : parts)
        out += out.empty() ? std::string(part) : cat("/", part);
    return out;
}

std::string parent_of(const std::string& path) {
    size_t slash = path.rfind('/');
    return slash == std::string::npos ? std::string() : path.substr(0, slash);
}

// Extracts the tar `input` (compressed or not) into `directory`: files and
// directories only, links made as hard links to files already inside.
Result<std::map<std::string, std::string>> extract_archive(ByteSource& input,
                                                           const std::string& directory) {
    struct Link {
        std::string path;
        std::string target;
        TarEntry entry;
    };
    std::map<std::string, std::string> hashes;
    std::vector<Link> links;
    auto content = TRY(decompressed(std::make_unique<BorrowedSource>(input)));
    TarReader reader(*content);
    std::unique_ptr<char[]> buffer(new char[kCopyBuffer]);
    while (const TarEntry* entry = TRY(reader.next())) {
        std::string path = TRY(member_path(*entry, entry->path));
        if (path.empty())
            continue;
        std::string full = cat(directory, "/", path);
        switch (entry->type) {
        case TarEntryType::Directory:
            TRY(make_directories(full, 0700));
            break;
        case TarEntryType::Regular: {
            TRY(make_directories(cat(directory, "/", parent_of(path)), 0700));
            Fd file = TRY(open_file(full, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0600));
            Hasher hasher;
            for (;;) {
                size_t n = TRY(reader.read_data(std::span(buffer.get(), kCopyBuffer)));
                if (n == 0)
                    break;
                hasher.update(std::string_view(buffer.get(), n));
                TRY(write_all(file.get(), std::string_view(buffer.get(), n)));
            }
            hashes[path] = hasher.finish_hex();
            break;
        }
        case TarEntryType::Symlink: {
            // `docker save` links a layer it wrote already, relative to the
            // link ("../HEX/layer.tar"): resolved by name, inside the archive.
            std::string target = TRY(link_target_path(*entry, path));
            links.push_back({path, std::move(target), *entry});
            break;
        }
        case TarEntryType::HardLink: {
            std::string target = TRY(member_path(*entry, entry->link_target));
            links.push_back({path, std::move(target), *entry});
            break;
        }
        default:
            return error(cat(describe_entry(*entry), ": a ", kTarEntryTypeNames.name(entry->type),
                             " has no place in an image archive"));
        }
    }
    for (const Link& link : links) {
        auto target = hashes.find(link.target);
        if (target == hashes.end())
            return error(cat(describe_entry(link.entry), ": links to ", quoted(link.target),
                             ", which is no file of the archive"));
        TRY(make_directories(cat(directory, "/", parent_of(link.path)), 0700));
        std::string from = cat(directory, "/", link.target), to = cat(directory, "/", link.path);
        if (::link(from.c_str(), to.c_str()) < 0)
            return errno_error(cat(describe_entry(link.entry), ": link"));
        hashes[link.path] = target->second;
    }
    return hashes;
}

// ---- Names

// Whether `text` names a tag or digest itself ("web:1", "a/b@sha256:…"),
// not only a repository.
bool names_tag(std::string_view text) {
    size_t slash = text.rfind('/');
    std::string_view last = slash == std::string_view::npos ? text : text.substr(slash + 1);
    return last.find_first_of(":@") != std::string_view::npos;
}

// The names of a layout's manifest from its annotations and `--name`.
Result<std::vector<std::string>> layout_names(const Descriptor& descriptor, std::string_view name) {
    std::string full, tag;
    if (auto it = descriptor.annotations.find(std::string(kContainerdNameAnnotation));
        it != descriptor.annotations.end())
        full = it->second;
    if (auto it = descriptor.annotations.find(std::string(oci::kRefNameAnnotation));
        it != descriptor.annotations.end()) {
        // A full reference, or (as the spec has it, and skopeo writes) a tag.
        if (it->second.find_first_of("/:@") != std::string::npos) {
            if (full.empty())
                full = it->second;
        } else {
            tag = it->second;
        }
    }
    if (!name.empty()) {
        if (names_tag(name) || tag.empty())
            return std::vector{TRY(parse_image_reference(name)).str()};
        return std::vector{TRY(parse_image_reference(cat(name, ":", tag))).str()};
    }
    if (!full.empty())
        return std::vector{TRY(parse_image_reference(full)).str()};
    return std::vector<std::string>{};
}

// ---- Loading

class Loader {
public:
    Loader(ImageStore& store, StoreChanges& changes, const LoadSource& source)
        : m_store(store), m_changes(changes), m_source(source) {}

    // A layout's manifest (or index: the host's manifest of it).
    Result<Digest> load_descriptor(const Descriptor& descriptor, int depth);
    // A `docker save` image; returns the manifest keel wrote for it.
    Result<Digest> load_docker_image(const DockerArchiveImage& image);

private:
    Result<std::string> add_layout_blob(const Descriptor& descriptor);
    Result<void> load_layers(const Manifest& manifest, const ImageConfig& config,
                             const std::vector<std::string>& paths);
    std::string known(const std::string& relative) const {
        auto it = m_source.known_sha256.find(relative);
        return it == m_source.known_sha256.end() ? std::string() : it->second;
    }

    ImageStore& m_store;
    StoreChanges& m_changes;
    const LoadSource& m_source;
};

std::string blob_relative_path(const Digest& digest) {
    return cat("blobs/", kDigestAlgorithmNames.name(digest.algorithm), "/", digest.hex);
}

Result<std::string> Loader::add_layout_blob(const Descriptor& descriptor) {
    std::string relative = blob_relative_path(descriptor.digest);
    TRY(m_changes.add_blob_file(cat(m_source.directory, "/", relative), descriptor.digest,
                                descriptor.size, m_source.transfer, known(relative)));
    return relative;
}

Result<Digest> Loader::load_descriptor(const Descriptor& descriptor, int depth) {
    std::string context = cat("manifest ", descriptor.digest.str());
    std::optional<DocumentKind> kind = document_kind(descriptor.media_type);
    if (!kind)
        return error(cat(context, ": unsupported media type ", quoted(descriptor.media_type)));
    TRY_CTX(add_layout_blob(descriptor), context);
    std::string json = TRY_CTX(m_store.read_blob(descriptor.digest), context);
    if (*kind == DocumentKind::Index) {
        if (depth >= kMaxIndexDepth)
            return error(cat(context, ": indexes nested too deep"));
        Index index = TRY_CTX(parse_index(json), context);
        Descriptor chosen = TRY_CTX(select_manifest(index, host_platform()), context);
        return load_descriptor(chosen, depth + 1);
    }
    Manifest manifest = TRY_CTX(parse_manifest(json), context);
    TRY_CTX(add_layout_blob(manifest.config), context);
    std::string config_json = TRY_CTX(m_store.read_blob(manifest.config.digest), context);
    ImageConfig config = TRY_CTX(parse_image_config(config_json),
                                 cat(context, ": config ", manifest.config.digest.str()));
    std::vector<std::string> paths;
    for (const Descriptor& layer : manifest.layers)
        paths.push_back(cat(m_source.directory, "/", blob_relative_path(layer.digest)));
    TRY_CTX(load_layers(manifest, config, paths), context);
    return descriptor.digest;
}

Result<void> Loader::load_layers(const Manifest& manifest, const ImageConfig& config,
                                 const std::vector<std::string>& paths) {
    if (config.diff_ids.size() != manifest.layers.size())
        return error(cat("the config lists ", config.diff_ids.size(), " diff ids for ",
                         manifest.layers.size(), " layers"));
    for (size_t i = 0; i < manifest.layers.size(); ++i) {
        const Descriptor& layer = manifest.layers[i];
        std::string relative = paths[i].substr(m_source.directory.size() + 1);
        TRY(m_changes.add_blob_file(paths[i], layer.digest, layer.size, m_source.transfer,
                                    known(relative)));
        TRY(m_changes.add_layer(layer.digest, config.diff_ids[i]));
    }
    return {};
}

// The media type of a layer file, by its magic number.
Result<std::string_view> layer_media_type(const std::string& path) {
    Fd fd = TRY(open_file(path, O_RDONLY));
    unsigned char magic[4] = {};
    ssize_t n = ::read(fd.get(), magic, sizeof magic);
    if (n >= 2 && magic[0] == 0x1f && magic[1] == 0x8b)
        return kMediaTypeOciLayerGzip;
    if (n == 4 && magic[0] == 0x28 && magic[1] == 0xb5 && magic[2] == 0x2f && magic[3] == 0xfd)
        return kMediaTypeOciLayerZstd;
    return kMediaTypeOciLayer;
}

Result<Digest> Loader::load_docker_image(const DockerArchiveImage& image) {
    std::string context = cat("image ", quoted(image.config));
    std::string config_path = cat(m_source.directory, "/", image.config);
    std::string config_json = TRY_CTX(read_file(config_path), context);
    Digest config_digest = sha256_digest(config_json);
    TRY_CTX(m_changes.add_blob_file(config_path, config_digest, config_json.size(),
                                    m_source.transfer, config_digest.hex),
            context);
    ImageConfig config = TRY_CTX(parse_image_config(config_json), cat(context, ": config"));

    Manifest manifest;
    manifest.media_type = kMediaTypeOciManifest;
    manifest.config = {.media_type = std::string(kMediaTypeDockerConfig),
                       .digest = config_digest,
                       .size = config_json.size()};
    std::vector<std::string> paths;
    for (const std::string& relative : image.layers) {
        std::string path = cat(m_source.directory, "/", relative);
        std::string hex = known(relative);
        if (hex.empty())
            hex = TRY_CTX(sha256_file(path), context);
        struct stat st;
        if (::stat(path.c_str(), &st) < 0)
            return errno_error(cat(context, ": stat ", quoted(relative)));
        manifest.layers.push_back(
            {.media_type = std::string(TRY_CTX(layer_media_type(path), context)),
             .digest = {DigestAlgorithm::Sha256, hex},
             .size = uint64_t(st.st_size)});
        paths.push_back(path);
    }
    TRY_CTX(load_layers(manifest, config, paths), context);

    JsonWriter json;
    auto descriptor = [&](const Descriptor& d) {
        json.begin_object()
            .field("mediaType", d.media_type)
            .field("digest", d.digest.str())
            .field("size", d.size)
            .end_object();
    };
    json.begin_object().field("schemaVersion", 2).field("mediaType", manifest.media_type);
    json.key("config");
    descriptor(manifest.config);
    json.key("layers").begin_array();
    for (const Descriptor& layer : manifest.layers)
        descriptor(layer);
    json.end_array().end_object();
    return TRY_CTX(m_changes.add_blob_bytes(json.text()), context);
}

Result<std::vector<ImageRecord>> load_directory(ImageStore& store, StoreChanges& changes,
                                                const LoadSource& source, std::string_view name) {
    Loader loader(store, changes, source);
    std::vector<ImageRecord> records;
    std::string now = rfc3339_now();
    std::string index_path = source.directory + "/index.json";
    std::string manifest_path = source.directory + "/manifest.json";
    if (path_exists(index_path)) {
        std::string text = TRY(read_file(index_path));
        Index index = TRY_CTX(parse_index(text), "index.json");
        if (index.manifests.empty())
            return error("index.json lists no images");
        if (!name.empty() && index.manifests.size() > 1)
            return error(
                cat("a name was given, but the layout holds ", index.manifests.size(), " images"));
        for (size_t i = 0; i < index.manifests.size(); ++i) {
            const Descriptor& descriptor = index.manifests[i];
            std::string context = cat("index.json: manifests[", i, "]");
            Digest manifest = TRY_CTX(loader.load_descriptor(descriptor, 0), context);
            std::vector<std::string> names = TRY_CTX(layout_names(descriptor, name), context);
            records.push_back({manifest, std::move(names), now});
        }
        return records;
    }
    if (path_exists(manifest_path)) {
        std::string text = TRY(read_file(manifest_path));
        auto images = TRY_CTX(parse_docker_archive_manifest(text), "manifest.json");
        if (images.empty())
            return error("manifest.json lists no images");
        if (!name.empty() && images.size() > 1)
            return error(cat("a name was given, but the archive holds ", images.size(), " images"));
        for (const DockerArchiveImage& image : images) {
            Digest manifest = TRY(loader.load_docker_image(image));
            std::vector<std::string> names;
            if (!name.empty())
                names.push_back(TRY(parse_image_reference(name)).str());
            else
                for (const std::string& tag : image.repo_tags)
                    names.push_back(TRY(parse_image_reference(tag)).str());
            records.push_back({manifest, std::move(names), now});
        }
        return records;
    }
    return error("neither an OCI image layout (index.json) nor a `docker save` archive "
                 "(manifest.json)");
}

// Whether `path` is inside `directory` (both made absolute and resolved).
bool inside(const std::string& path, const std::string& directory) {
    char* resolved_path = ::realpath(path.c_str(), nullptr);
    char* resolved_directory = ::realpath(directory.c_str(), nullptr);
    bool result = resolved_path && resolved_directory &&
                  path_is_under(resolved_path, resolved_directory) &&
                  std::string_view(resolved_path) != resolved_directory;
    std::free(resolved_path);
    std::free(resolved_directory);
    return result;
}

} // namespace

Result<std::vector<ImageSummary>> load_images(const ImageStoreOptions& options,
                                              const std::string& path, std::string_view name) {
    std::string context = cat("load ", path == "-" ? std::string("stdin") : quoted(path));
    ImageStore store = TRY_CTX(ImageStore::open(options.root, StoreAccess::Change), context);
    StoreChanges changes(store);
    std::vector<ImageRecord> records;
    if (path != "-" && is_directory(path)) {
        LoadSource source{path,
                          inside(path, store.tmp_directory()) ? Transfer::Move : Transfer::Copy};
        records = TRY_CTX(load_directory(store, changes, source, name), context);
    } else {
        Fd input;
        if (path != "-")
            input = TRY_CTX(open_file(path, O_RDONLY), context);
        std::string extracted = cat(store.tmp_directory(), "/", temporary_name("load"), "XXXXXX");
        if (!::mkdtemp(extracted.data()))
            return errno_error(cat(context, ": create a temporary directory"));
        auto loaded = [&]() -> Result<std::vector<ImageRecord>> {
            FdSource source(path == "-" ? STDIN_FILENO : input.get());
            // (Not inside the braces: GCC leaks what a TRY in an aggregate
            // initialiser leaves half-built.)
            auto hashes = TRY(extract_archive(source, extracted));
            LoadSource layout{extracted, Transfer::Move, std::move(hashes)};
            return load_directory(store, changes, layout, name);
        }();
        (void)remove_tree(extracted);
        if (!loaded)
            return std::unexpected(std::move(loaded).error().wrap(context));
        records = std::move(*loaded);
    }
    TRY_CTX(record_images(store, records), context);
    changes.commit();
    std::vector<ImageSummary> out;
    for (const ImageRecord& record : records)
        out.push_back(TRY_CTX(summarize_image(store, record), context));
    return out;
}

} // namespace keel::containers
