// The image store's files: the lock, blobs verified on the way in, layers
// unpacked once and checked against their diff ids, images.json and the
// container roots' records; and StoreChanges, which undoes a failed load.
#include "containers/image_store.h"

#include "base/json.h"
#include "base/strings.h"
#include "base/sys.h"
#include "containers/image_ref.h"
#include "containers/layer.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <ctime>
#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

namespace keel::oci {

namespace {

// Blobs are copied and hashed in large pieces.
constexpr size_t kBlobCopyBuffer = 1 << 20;

Result<void> sync_directory(const std::string& path) {
    Fd directory = TRY(open_file(path, O_RDONLY | O_DIRECTORY));
    if (::fsync(directory.get()) < 0)
        return errno_error(cat("sync ", quoted(path)));
    return {};
}

// A new temporary file in `directory`, its path in `path`.
Result<Fd> make_temporary_file(const std::string& directory, std::string_view what,
                               std::string& path) {
    path = cat(directory, "/", temporary_name(what), "XXXXXX");
    int fd = ::mkostemp(path.data(), O_CLOEXEC);
    if (fd < 0)
        return errno_error(cat("create a temporary file in ", quoted(directory)));
    return Fd(fd);
}

Result<void> remove_tree_at(int parent, const std::string& name) {
    int opened = ::openat(parent, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (opened < 0) {
        if (errno == ENOENT)
            return {};
        if (errno != ENOTDIR && errno != ELOOP)
            return errno_error(cat("open ", quoted(name)));
        if (::unlinkat(parent, name.c_str(), 0) < 0 && errno != ENOENT)
            return errno_error(cat("remove ", quoted(name)));
        return {};
    }
    Fd directory(opened);
    int copy = ::fcntl(directory.get(), F_DUPFD_CLOEXEC, 0);
    if (copy < 0)
        return errno_error("dup");
    DIR* stream = ::fdopendir(copy);
    if (!stream) {
        ::close(copy);
        return errno_error(cat("read ", quoted(name)));
    }
    std::vector<std::string> children;
    while (struct dirent* entry = ::readdir(stream)) {
        std::string_view child = entry->d_name;
        if (child != "." && child != "..")
            children.emplace_back(child);
    }
    ::closedir(stream);
    for (const std::string& child : children) {
        if (::unlinkat(directory.get(), child.c_str(), 0) == 0 || errno == ENOENT)
            continue;
        if (errno != EISDIR && errno != EPERM)
            return errno_error(cat("remove ", quoted(child)));
        TRY_CTX(remove_tree_at(directory.get(), child), name);
    }
    if (::unlinkat(parent, name.c_str(), AT_REMOVEDIR) < 0 && errno != ENOENT)
        return errno_error(cat("remove ", quoted(name)));
    return {};
}

std::string dirname_of(const std::string& path) {
    size_t slash = path.rfind('/');
    return slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
}

std::string basename_of(const std::string& path) {
    size_t slash = path.rfind('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

bool hex_text(std::string_view text) {
    return !text.empty() && std::ranges::all_of(text, [](char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
    });
}

} // namespace

std::string temporary_name(std::string_view what) {
    return cat(".keel-", what, "-");
}

std::string rfc3339_now() {
    time_t now = ::time(nullptr);
    struct tm parts {};
    ::gmtime_r(&now, &parts);
    char text[32];
    std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &parts);
    return text;
}

HashFunction hash_function(DigestAlgorithm algorithm) {
    return algorithm == DigestAlgorithm::Sha256 ? HashFunction::Sha256 : HashFunction::Sha512;
}

Result<void> remove_tree(const std::string& path) {
    Fd parent = TRY(open_file(dirname_of(path), O_PATH | O_DIRECTORY));
    TRY_CTX(remove_tree_at(parent.get(), basename_of(path)), cat("remove ", quoted(path)));
    return {};
}

Result<size_t> HashingSource::read(std::span<char> buffer) {
    size_t n = TRY(m_source.read(buffer));
    m_hasher.update(std::string_view(buffer.data(), n));
    m_bytes += n;
    return n;
}

Result<void> HashingSource::drain() {
    std::string buffer(1 << 16, '\0');
    while (TRY(read(buffer)) > 0) {
    }
    return {};
}

// ---- ImageStore

Result<ImageStore> ImageStore::open(const std::string& root, StoreAccess access) {
    std::string context = cat("image store ", quoted(root));
    if (!path_exists(root)) {
        TRY_CTX(make_directories(root, 0700), context);
    }
    for (const char* sub : {"/blobs/sha256", "/layers/sha256", "/tmp", "/containers"})
        TRY_CTX(make_directories(root + sub, 0700), context);
    Fd lock = TRY_CTX(open_file(root + "/lock", O_RDWR | O_CREAT, 0600), context);
    int rc;
    do {
        rc = ::flock(lock.get(), access == StoreAccess::Change ? LOCK_EX : LOCK_SH);
    } while (rc < 0 && errno == EINTR);
    if (rc < 0)
        return errno_error(cat(context, ": lock"));
    return ImageStore(root, std::move(lock));
}

std::string ImageStore::blob_path(const Digest& digest) const {
    return cat(m_root, "/blobs/", kDigestAlgorithmNames.name(digest.algorithm), "/", digest.hex);
}

std::string ImageStore::layer_path(const Digest& diff_id) const {
    // Layers are named by sha256 diff ids; a sha512 one gets its own folder.
    return cat(m_root, "/layers/", kDigestAlgorithmNames.name(diff_id.algorithm), "/", diff_id.hex);
}

std::string ImageStore::container_directory(std::string_view id) const {
    return cat(m_root, "/containers/", id);
}

bool ImageStore::has_blob(const Digest& digest) const {
    return path_exists(blob_path(digest));
}

bool ImageStore::has_layer(const Digest& diff_id) const {
    return is_directory(layer_path(diff_id));
}

Result<std::string> ImageStore::read_blob(const Digest& digest, uint64_t max) const {
    std::string path = blob_path(digest);
    Fd fd = TRY(open_file(path, O_RDONLY));
    struct stat st;
    if (::fstat(fd.get(), &st) < 0)
        return errno_error(cat("stat ", quoted(path)));
    if (uint64_t(st.st_size) > max)
        return error(cat("blob ", digest.str(), " is larger than ", max, " bytes"));
    return TRY_CTX(read_all(fd.get()), cat("read ", quoted(path)));
}

Result<std::vector<ImageRecord>> ImageStore::images() const {
    std::string path = m_root + "/images.json";
    std::vector<ImageRecord> out;
    if (!path_exists(path))
        return out;
    std::string text = TRY(read_file(path));
    auto parsed = [&]() -> Result<void> {
        JsonValue document = TRY(parse_json(text));
        JsonObjectCursor root = TRY(JsonCursor(document).object());
        for (const JsonCursor& element : TRY(root["images"].array())) {
            JsonObjectCursor object = TRY(element.object());
            ImageRecord record;
            record.manifest = TRY(parse_digest(TRY(object["manifest"].string())));
            for (const JsonCursor& name : TRY(object["names"].array()))
                record.names.push_back(TRY(name.string()));
            record.added = TRY(object["added"].value_or(""));
            out.push_back(std::move(record));
        }
        return {};
    }();
    if (!parsed)
        return std::unexpected(std::move(parsed).error().wrap(path));
    return out;
}

Result<void> ImageStore::write_images(const std::vector<ImageRecord>& images) {
    JsonWriter json;
    json.begin_object().key("images").begin_array();
    for (const ImageRecord& record : images) {
        json.begin_object().field("manifest", record.manifest.str()).key("names").begin_array();
        for (const std::string& name : record.names)
            json.value(name);
        json.end_array().field("added", record.added).end_object();
    }
    json.end_array().end_object();
    return write_document("images.json", json.text() + "\n");
}

Result<void> ImageStore::write_document(const std::string& name, std::string_view text) {
    std::string temporary;
    Fd fd = TRY(make_temporary_file(m_root, name.substr(0, name.find('.')), temporary));
    auto written = [&]() -> Result<void> {
        TRY(write_all(fd.get(), text));
        if (::fchmod(fd.get(), 0600) < 0 || ::fsync(fd.get()) < 0)
            return errno_error(cat("write ", quoted(temporary)));
        if (::rename(temporary.c_str(), cat(m_root, "/", name).c_str()) < 0)
            return errno_error(cat("rename ", quoted(temporary)));
        return sync_directory(m_root);
    }();
    if (!written)
        ::unlink(temporary.c_str());
    return written;
}

Result<containers::StorePolicy> ImageStore::policy() const {
    std::string path = m_root + "/policy.json";
    containers::StorePolicy policy;
    if (!path_exists(path))
        return policy;
    std::string text = TRY(read_file(path));
    auto parsed = [&]() -> Result<void> {
        JsonValue document = TRY(parse_json(text));
        JsonObjectCursor root = TRY(JsonCursor(document).object());
        policy.allow_devices = TRY(root["allow_devices"].value_or(policy.allow_devices));
        policy.keep_setid = TRY(root["keep_setid"].value_or(policy.keep_setid));
        return {};
    }();
    if (!parsed)
        return std::unexpected(std::move(parsed).error().wrap(path));
    return policy;
}

Result<void> ImageStore::write_policy(const containers::StorePolicy& policy) {
    JsonWriter json;
    json.begin_object()
        .field("allow_devices", policy.allow_devices)
        .field("keep_setid", policy.keep_setid)
        .end_object();
    return write_document("policy.json", json.text() + "\n");
}

Result<std::vector<std::pair<std::string, RootRecord>>> ImageStore::roots() const {
    std::vector<std::pair<std::string, RootRecord>> out;
    for (const std::string& id : TRY(list_directory(m_root + "/containers"))) {
        std::string path = cat(m_root, "/containers/", id, "/root.json");
        if (!path_exists(path))
            continue; // being made or removed
        std::string text = TRY(read_file(path));
        auto parsed = [&]() -> Result<RootRecord> {
            JsonValue document = TRY(parse_json(text));
            JsonObjectCursor root = TRY(JsonCursor(document).object());
            RootRecord record;
            record.image = TRY(parse_digest(TRY(root["image"].string())));
            for (const JsonCursor& layer : TRY(root["layers"].array()))
                record.layers.push_back(TRY(parse_digest(TRY(layer.string()))));
            record.mode = TRY(root["mode"].value_or(""));
            return record;
        }();
        if (!parsed)
            return std::unexpected(std::move(parsed).error().wrap(path));
        out.emplace_back(id, std::move(*parsed));
    }
    return out;
}

// ---- StoreChanges

StoreChanges::~StoreChanges() {
    if (m_committed)
        return;
    for (const std::string& path : m_added_blobs)
        ::unlink(path.c_str());
    for (const std::string& path : m_added_layers)
        (void)remove_tree(path);
}

Result<void> StoreChanges::add_blob_file(const std::string& path, const Digest& expected,
                                         std::optional<uint64_t> size, Transfer transfer,
                                         std::string_view known_sha256) {
    std::string target = m_store.blob_path(expected);
    if (path_exists(target))
        return {};
    std::string context = cat("blob ", expected.str());
    Fd source = TRY_CTX(open_file(path, O_RDONLY), context);
    struct stat st;
    if (::fstat(source.get(), &st) < 0)
        return errno_error(cat(context, ": stat ", quoted(path)));
    if (!S_ISREG(st.st_mode))
        return error(cat(context, ": ", quoted(path), " is not a regular file"));
    if (size && uint64_t(st.st_size) != *size)
        return error(cat(context, ": size is ", uint64_t(st.st_size),
                         " bytes, the descriptor says ", *size));
    std::string temporary;
    Fd copy;
    if (transfer == Transfer::Copy)
        copy = TRY_CTX(make_temporary_file(m_store.tmp_directory(), "blob", temporary), context);
    auto added = [&]() -> Result<void> {
        std::string digest_hex;
        if (transfer == Transfer::Move && !known_sha256.empty() &&
            expected.algorithm == DigestAlgorithm::Sha256) {
            digest_hex = std::string(known_sha256);
        } else {
            Hasher hasher(hash_function(expected.algorithm));
            std::unique_ptr<char[]> buffer(new char[kBlobCopyBuffer]);
            for (;;) {
                ssize_t n = ::read(source.get(), buffer.get(), kBlobCopyBuffer);
                if (n < 0 && errno == EINTR)
                    continue;
                if (n < 0)
                    return errno_error(cat("read ", quoted(path)));
                if (n == 0)
                    break;
                hasher.update(std::string_view(buffer.get(), size_t(n)));
                if (copy)
                    TRY(write_all(copy.get(), std::string_view(buffer.get(), size_t(n))));
            }
            digest_hex = hasher.finish_hex();
        }
        if (digest_hex != expected.hex)
            return error(cat("digest mismatch: the content's is ",
                             kDigestAlgorithmNames.name(expected.algorithm), ":", digest_hex));
        int synced = copy ? copy.get() : source.get();
        if (::fchmod(synced, 0600) < 0 || ::fsync(synced) < 0)
            return errno_error("sync");
        std::string from = copy ? temporary : path;
        // blobs/sha256 is made with the store; blobs/sha512 with its first blob.
        TRY(make_directories(dirname_of(target), 0700));
        if (::rename(from.c_str(), target.c_str()) < 0)
            return errno_error(cat("rename ", quoted(from), " to ", quoted(target)));
        m_added_blobs.push_back(target);
        return {};
    }();
    if (!added) {
        if (copy)
            ::unlink(temporary.c_str());
        return std::unexpected(std::move(added).error().wrap(context));
    }
    return {};
}

Result<std::pair<Digest, uint64_t>> StoreChanges::add_blob_stream(ByteSource& source) {
    std::string temporary;
    Fd copy = TRY(make_temporary_file(m_store.tmp_directory(), "blob", temporary));
    auto added = [&]() -> Result<std::pair<Digest, uint64_t>> {
        HashingSource hashing(source, HashFunction::Sha256);
        std::unique_ptr<char[]> buffer(new char[kBlobCopyBuffer]);
        for (;;) {
            size_t n = TRY(hashing.read(std::span(buffer.get(), kBlobCopyBuffer)));
            if (n == 0)
                break;
            TRY(write_all(copy.get(), std::string_view(buffer.get(), n)));
        }
        Digest digest{DigestAlgorithm::Sha256, hashing.finish_hex()};
        std::string target = m_store.blob_path(digest);
        if (::fchmod(copy.get(), 0600) < 0 || ::fsync(copy.get()) < 0)
            return errno_error("sync");
        if (path_exists(target)) {
            ::unlink(temporary.c_str());
        } else {
            if (::rename(temporary.c_str(), target.c_str()) < 0)
                return errno_error(cat("rename ", quoted(temporary), " to ", quoted(target)));
            m_added_blobs.push_back(target);
        }
        return std::pair{digest, hashing.bytes()};
    }();
    if (!added)
        ::unlink(temporary.c_str());
    return added;
}

Result<Digest> StoreChanges::add_blob_bytes(std::string_view data) {
    MemorySource source(data);
    auto [digest, size] = TRY(add_blob_stream(source));
    return digest;
}

Result<Digest> StoreChanges::unpack(const Digest& blob, const std::optional<Digest>& diff_id) {
    std::string blob_path = m_store.blob_path(blob);
    Fd fd = TRY(open_file(blob_path, O_RDONLY));
    auto content = TRY(decompressed(std::make_unique<FdSource>(fd.get())));
    DigestAlgorithm algorithm = diff_id ? diff_id->algorithm : DigestAlgorithm::Sha256;
    HashingSource hashing(*content, hash_function(algorithm));
    // Unpacked beside the store's layers, under a temporary name, and
    // renamed into place only once its diff id is verified.
    std::string name = cat(temporary_name("layer"), blob.hex);
    std::string staging = cat(m_store.tmp_directory(), "/", name);
    TRY(remove_tree(staging));
    containers::StorePolicy policy = TRY(m_store.policy());
    LayerOptions options{.whiteouts = Whiteouts::Overlay,
                         .escaping = EscapingNames::Refuse,
                         .ownership = Ownership::Archive,
                         .allow_devices = policy.allow_devices,
                         .keep_setid = policy.keep_setid};
    auto unpacked = [&]() -> Result<Digest> {
        TRY(unpack_layer(hashing, m_store.tmp_directory(), name, options));
        TRY(hashing.drain());
        Digest computed{algorithm, hashing.finish_hex()};
        if (diff_id && computed != *diff_id)
            return error(cat("diff id mismatch: the config says ", diff_id->str(),
                             ", the uncompressed layer is ", computed.str()));
        std::string target = m_store.layer_path(computed);
        if (is_directory(target)) {
            TRY(remove_tree(staging));
            return computed;
        }
        TRY(make_directories(dirname_of(target), 0700));
        if (::rename(staging.c_str(), target.c_str()) < 0)
            return errno_error(cat("rename ", quoted(staging), " to ", quoted(target)));
        m_added_layers.push_back(target);
        return computed;
    }();
    if (!unpacked) {
        (void)remove_tree(staging);
        return std::unexpected(std::move(unpacked).error().wrap(cat("layer ", blob.str())));
    }
    return unpacked;
}

Result<void> StoreChanges::add_layer(const Digest& blob, const Digest& diff_id) {
    if (m_store.has_layer(diff_id))
        return {};
    TRY(unpack(blob, diff_id));
    return {};
}

Result<Digest> StoreChanges::add_layer_computing_diff_id(const Digest& blob) {
    return unpack(blob, std::nullopt);
}

// ---- Finding images

Result<size_t> find_image(const std::vector<ImageRecord>& images,
                          const std::vector<Digest>& config_digests, std::string_view reference) {
    // A name, normalised as it was stored.
    if (Result<ImageReference> name = parse_image_reference(reference)) {
        std::string wanted = name->str();
        for (size_t i = 0; i < images.size(); ++i)
            if (std::ranges::find(images[i].names, wanted) != images[i].names.end() ||
                (name->digest && images[i].manifest == *name->digest))
                return i;
    }
    // A full digest of a manifest or config.
    if (Result<Digest> digest = parse_digest(reference)) {
        for (size_t i = 0; i < images.size(); ++i)
            if (images[i].manifest == *digest ||
                (i < config_digests.size() && config_digests[i] == *digest))
                return i;
        return errno_error(ENOENT, cat("no image ", quoted(reference)));
    }
    // A hex prefix of either (4 digits or more), as `docker images` shows ids.
    std::string_view prefix = reference;
    if (prefix.starts_with("sha256:"))
        prefix.remove_prefix(7);
    if (prefix.size() >= 4 && hex_text(prefix)) {
        std::optional<size_t> found;
        for (size_t i = 0; i < images.size(); ++i) {
            bool match = images[i].manifest.hex.starts_with(prefix) ||
                         (i < config_digests.size() && config_digests[i].hex.starts_with(prefix));
            if (!match)
                continue;
            if (found && *found != i)
                return error(cat("image id ", quoted(reference), " is ambiguous"));
            found = i;
        }
        if (found)
            return *found;
    }
    return errno_error(ENOENT, cat("no image ", quoted(reference)));
}

} // namespace keel::oci
