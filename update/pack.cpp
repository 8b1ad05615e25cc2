// Packing a payload for publishers, and checking one (see pack.h).
#include "update/pack.h"

#include "base/digest.h"
#include "base/signature.h"
#include "base/storage.h"
#include "base/strings.h"
#include "base/sys.h"
#include "update/verity_tree.h"

#include <fcntl.h>

namespace keel::update {

namespace {

constexpr size_t kCopySize = 1 << 20;

Result<void> copy_file(Storage& storage, const std::string& from, const std::string& to) {
    File in = TRY(storage.open(from, O_RDONLY, 0));
    File out = TRY(storage.open(to, O_WRONLY | O_CREAT | O_TRUNC, 0644));
    for (uint64_t offset = 0;; offset += kCopySize) {
        std::string piece = TRY(storage.pread_all(in, kCopySize, offset));
        if (piece.empty())
            break;
        TRY(storage.pwrite_all(out, piece, offset));
    }
    TRY(storage.fsync(out));
    return {};
}

// Written beside and renamed into place, so a reader never sees half a file.
Result<void> replace_file(Storage& storage, const std::string& path, std::string_view data) {
    std::string temporary = cat(path, ".new");
    {
        File file = TRY(storage.open(temporary, O_WRONLY | O_CREAT | O_TRUNC, 0644));
        TRY(storage.write_all(file, data));
        TRY(storage.fsync(file));
    }
    TRY(storage.rename(temporary, path));
    return {};
}

} // namespace

Result<ManifestImage> hash_image(const std::string& path, uint64_t chunk_size) {
    Storage& storage = system_storage();
    File file = TRY(storage.open(path, O_RDONLY, 0));
    ManifestImage image;
    image.chunk_size = chunk_size;
    Hasher whole;
    for (uint64_t offset = 0;; offset += chunk_size) {
        std::string chunk = TRY(storage.pread_all(file, size_t(chunk_size), offset));
        if (chunk.empty())
            break;
        image.chunks.push_back(sha256_hex(chunk));
        whole.update(chunk);
        image.size += chunk.size();
        if (chunk.size() < chunk_size)
            break;
    }
    image.sha256 = whole.finish_hex();
    return image;
}

Result<Manifest> pack_payload(const PackRequest& request) {
    Storage& storage = system_storage();
    Manifest manifest;
    manifest.version = request.version;
    manifest.channel = request.channel;
    TRY_CTX(check_version(manifest.version), "--version");
    TRY(storage.make_directories(request.output, 0755));
    std::string image = cat(request.output, "/", kPayloadImageName);
    TRY(copy_file(storage, request.image, image));
    manifest.verity = TRY_CTX(append_verity_tree(image, TRY(random_verity_options())),
                              cat("dm-verity tree of ", quoted(image)));
    manifest.image = TRY(hash_image(image, request.chunk_size));
    std::string text = encode_manifest(manifest);
    TRY_CTX(parse_manifest(text), "the manifest made"); // the same checks an installer makes
    std::string signature = TRY(sign_detached(text, request.private_key));
    std::string manifest_path = cat(request.output, "/", kPayloadManifestName);
    TRY(replace_file(storage, manifest_path, text));
    TRY(replace_file(storage, cat(request.output, "/", kPayloadSignatureName), signature));
    TRY(storage.sync_directory(request.output));
    return manifest;
}

Result<SignedManifest> verify_payload(const std::string& directory,
                                      const std::string& trusted_keys_directory) {
    std::string manifest_path = cat(directory, "/", kPayloadManifestName);
    std::string manifest = TRY(read_file(manifest_path));
    std::string signature = TRY(read_file(cat(directory, "/", kPayloadSignatureName)));
    SignedManifest signed_manifest = TRY_CTX(
        verify_signed_manifest(manifest, signature, trusted_keys_directory), quoted(manifest_path));
    const ManifestImage& expected = signed_manifest.manifest.image;
    std::string image_path = cat(directory, "/", kPayloadImageName);
    ManifestImage image = TRY(hash_image(image_path, expected.chunk_size));
    if (image.size != expected.size)
        return error(cat(quoted(image_path), " has ", image.size, " bytes; the manifest says ",
                         expected.size));
    for (size_t i = 0; i < image.chunks.size(); ++i)
        if (image.chunks[i] != expected.chunks[i])
            return error(cat(quoted(image_path), ": chunk ", i + 1, " of ", image.chunks.size(),
                             " does not match the manifest"));
    if (image.sha256 != expected.sha256)
        return error(cat(quoted(image_path), ": SHA-256 does not match the manifest"));
    TRY(check_verity_tree(image_path, signed_manifest.manifest.verity));
    return signed_manifest;
}

} // namespace keel::update
