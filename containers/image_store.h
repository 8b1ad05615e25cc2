// containers/image_store: the image store's files and the changes to them,
// inside containers/ only (the public verbs are in containers.h).
//
//   STORE/lock                    flock: exclusive for changes, shared for reads
//   STORE/blobs/sha256/HEX        content-addressed blobs, verified on the way in
//   STORE/layers/sha256/HEX/      a layer unpacked (overlay whiteouts), by diff id
//   STORE/images.json             the images (manifest digests) and their names
//   STORE/containers/ID/          a container root: root.json, upper, work, merged
//   STORE/tmp/                    temporary files; a registry client's downloads
//
// Every blob and layer enters through a StoreChanges, which removes what it
// added unless committed: a load that fails half-way leaves the store as it
// was.
#pragma once

#include "base/digest.h"
#include "base/fd.h"
#include "base/result.h"
#include "containers/containers.h"
#include "containers/image_manifest.h"
#include "containers/tar.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace keel::oci {

/// An image the store holds: its manifest and the names that point at it.
struct ImageRecord {
    Digest manifest;
    /// Normalised references ("docker.io/library/busybox:latest").
    std::vector<std::string> names;
    /// When it was added (RFC 3339, UTC). (Last, a string.)
    std::string added;
};

/// A container root's record (STORE/containers/ID/root.json): what keeps
/// its image's layers from being collected.
struct RootRecord {
    Digest image;
    std::vector<Digest> layers;
    /// (Last, a string.)
    std::string mode;
};

/// Whether the store is opened to change it.
enum class StoreAccess { Read, Change };

/// An open store, locked while it lives.
class ImageStore {
public:
    /// Opens (making it, mode 0700, when missing) the store at `root` and
    /// takes its lock: shared for Read, exclusive for Change.
    static Result<ImageStore> open(const std::string& root, StoreAccess access);

    const std::string& root() const { return m_root; }
    std::string blob_path(const Digest& digest) const;
    std::string layer_directory() const { return m_root + "/layers/sha256"; }
    std::string layer_path(const Digest& diff_id) const;
    std::string tmp_directory() const { return m_root + "/tmp"; }
    std::string container_directory(std::string_view id) const;

    bool has_blob(const Digest& digest) const;
    bool has_layer(const Digest& diff_id) const;
    /// A blob's bytes, refused when larger than `max` (documents are small).
    Result<std::string> read_blob(const Digest& digest, uint64_t max = 16 << 20) const;

    Result<std::vector<ImageRecord>> images() const;
    /// Replaces images.json (written to a temporary file, synced, renamed).
    Result<void> write_images(const std::vector<ImageRecord>& images);
    /// The container roots, by id.
    Result<std::vector<std::pair<std::string, RootRecord>>> roots() const;

    /// policy.json, or the defaults.
    Result<containers::StorePolicy> policy() const;
    /// Replaces policy.json.
    Result<void> write_policy(const containers::StorePolicy& policy);

private:
    ImageStore(std::string root, Fd lock) : m_lock(std::move(lock)), m_root(std::move(root)) {}
    // Writes ROOT/`name` whole: a synced temporary file renamed over it.
    Result<void> write_document(const std::string& name, std::string_view text);

    Fd m_lock;
    std::string m_root;
};

/// Whether a blob's source file may be moved into the store.
enum class Transfer {
    Copy, ///< the source stays as it was
    Move, ///< the source is renamed in (same filesystem, a file the store owns)
};

/// Blobs and layers added to a store, removed again unless commit() is
/// called: a load's all-or-nothing.
class StoreChanges {
public:
    explicit StoreChanges(ImageStore& store) : m_store(store) {}
    ~StoreChanges();
    StoreChanges(const StoreChanges&) = delete;
    StoreChanges& operator=(const StoreChanges&) = delete;

    /// Adds the file at `path` as the blob `expected` (digest and, unless
    /// `size` is nullopt, size verified while it is read). A blob the store
    /// already has is not read again. `known_sha256`, when not empty, is the
    /// file's sha256 already computed (by whoever wrote it into STORE/tmp).
    Result<void> add_blob_file(const std::string& path, const Digest& expected,
                               std::optional<uint64_t> size, Transfer transfer,
                               std::string_view known_sha256 = {});
    /// Adds a blob from a stream whose digest is not known in advance;
    /// returns its sha256 digest and size.
    Result<std::pair<Digest, uint64_t>> add_blob_stream(ByteSource& source);
    /// Adds `data` as a blob; returns its digest.
    Result<Digest> add_blob_bytes(std::string_view data);
    /// Unpacks the layer blob `blob` as the layer `diff_id` (nothing to do
    /// when it is there), verifying the uncompressed stream's digest.
    Result<void> add_layer(const Digest& blob, const Digest& diff_id);
    /// Unpacks the layer blob `blob`, its diff id not known in advance;
    /// returns the diff id.
    Result<Digest> add_layer_computing_diff_id(const Digest& blob);

    /// Keeps everything added.
    void commit() { m_committed = true; }

private:
    Result<Digest> unpack(const Digest& blob, const std::optional<Digest>& diff_id);

    ImageStore& m_store;
    std::vector<std::string> m_added_blobs;
    std::vector<std::string> m_added_layers;
    bool m_committed = false;
};

/// A ByteSource that hashes (and counts) what passes through it.
class HashingSource final : public ByteSource {
public:
    HashingSource(ByteSource& source, HashFunction function)
        : m_source(source), m_hasher(function) {}
    Result<size_t> read(std::span<char> buffer) override;
    /// Reads what is left to the end (a tar's padding after its end marker).
    Result<void> drain();
    /// The lower-case hex digest of everything read.
    std::string finish_hex() { return m_hasher.finish_hex(); }
    uint64_t bytes() const { return m_bytes; }

private:
    ByteSource& m_source;
    Hasher m_hasher;
    uint64_t m_bytes = 0;
};

/// Removes a directory tree, not following symlinks; a missing one is fine.
Result<void> remove_tree(const std::string& path);

/// A name for a new temporary file or directory in STORE/tmp: keel's own
/// temporary names start with ".keel-" (prune removes leftovers of those
/// only, never a registry client's downloads).
std::string temporary_name(std::string_view what);

/// The time now as RFC 3339, UTC, seconds.
std::string rfc3339_now();

/// The HashFunction of a digest's algorithm.
HashFunction hash_function(DigestAlgorithm algorithm);

/// An image's summary, from its manifest and config blobs.
Result<containers::ImageSummary> summarize_image(const ImageStore& store,
                                                 const ImageRecord& record);

/// Records `added` in images.json: each one's names are taken off any
/// other image first; an image already there gains the names.
Result<void> record_images(ImageStore& store, const std::vector<ImageRecord>& added);

/// The image a reference names among `images`: a name, a digest of its
/// manifest, or a hex prefix (4 digits or more) of its manifest or
/// `config_digests[i]`. ENOENT when none, an error when the prefix is
/// ambiguous.
Result<size_t> find_image(const std::vector<ImageRecord>& images,
                          const std::vector<Digest>& config_digests, std::string_view reference);

} // namespace keel::oci
