// Installing a payload into a slot (see install.h for the order of steps
// and why). The running slot is never opened for writing: on a block
// device only the target partition's device is opened, and every write
// goes through SlotWriter, which refuses a byte outside the slot's range.
#include "update/install.h"

#include "base/digest.h"
#include "base/json.h"
#include "base/strings.h"
#include "base/sys.h"
#include "update/slot_footer.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

namespace keel::update {

namespace {

constexpr uint32_t kImageSectorSize = 512; // a disk image file's GPT sectors

// The one way bytes reach the slot: positioned writes checked against the
// slot's range.
class SlotWriter {
public:
    SlotWriter(Storage& storage, File file, SlotRange range)
        : m_storage(storage), m_file(std::move(file)), m_range(std::move(range)) {}

    // Writes `data` at `offset` bytes into the slot.
    Result<void> write(std::string_view data, uint64_t offset) {
        if (offset > m_range.size || data.size() > m_range.size - offset)
            return error(cat("refused: a write of ", data.size(), " bytes at ", offset,
                             " would leave the slot (", m_range.size, " bytes)"));
        return m_storage.pwrite_all(m_file, data, m_range.offset + offset);
    }
    // Fills `buffer` from `offset` bytes into the slot, short only at the
    // device's end: the bytes read.
    Result<size_t> read(std::span<char> buffer, uint64_t offset) {
        size_t filled = 0;
        while (filled < buffer.size()) {
            size_t got = TRY(
                m_storage.pread(m_file, buffer.subspan(filled), m_range.offset + offset + filled));
            if (got == 0)
                break;
            filled += got;
        }
        return filled;
    }
    Result<void> sync() { return m_storage.fsync(m_file); }
    // Drops the slot's cached pages, so that a read-back reads the disk.
    void drop_cache() {
        ::posix_fadvise(m_file.fd(), off_t(m_range.offset), off_t(m_range.size),
                        POSIX_FADV_DONTNEED);
    }
    const SlotRange& range() const { return m_range; }

private:
    Storage& m_storage;
    File m_file;
    SlotRange m_range;
};

// What the state file says.
struct Progress {
    uint64_t verified = 0;
    std::string manifest_sha256;
    std::string disk;
    std::string slot;
};

Result<Progress> read_progress(const std::string& path) {
    JsonValue document = TRY(parse_json(TRY(read_file(path))));
    JsonObjectCursor object = TRY(JsonCursor(document).object());
    Progress progress;
    progress.manifest_sha256 = TRY(object["manifest_sha256"].string());
    progress.disk = TRY(object["disk"].string());
    progress.slot = TRY(object["slot"].string());
    progress.verified = TRY(object["verified_bytes"].integer<uint64_t>());
    return progress;
}

// Written to a temporary file, synced, renamed over the old one and the
// directory synced: a power cut leaves the old progress or the new.
Result<void> write_progress(Storage& storage, const std::string& path, const Progress& progress) {
    JsonWriter json;
    json.begin_object()
        .field("manifest_sha256", progress.manifest_sha256)
        .field("disk", progress.disk)
        .field("slot", progress.slot)
        .field("verified_bytes", progress.verified)
        .end_object();
    std::string directory =
        path.substr(0, path.rfind('/') == std::string::npos ? 0 : path.rfind('/'));
    if (!directory.empty())
        TRY(storage.make_directories(directory, 0700));
    std::string temporary = cat(path, ".new");
    {
        File file = TRY(storage.open(temporary, O_WRONLY | O_CREAT | O_TRUNC, 0600));
        TRY(storage.write_all(file, cat(json.text(), "\n")));
        TRY(storage.fsync(file));
    }
    TRY(storage.rename(temporary, path));
    // The rename itself durable: a power cut soon after must not take the
    // progress back to where the slot was synced long before.
    TRY(storage.sync_directory(directory.empty() ? std::string(".") : directory));
    return {};
}

void remove_progress(Storage& storage, const std::string& path) {
    if (path_exists(path))
        (void)storage.unlink(path);
}

// Where the install starts: the verified bytes of an earlier install of the
// same manifest into the same slot, at a chunk boundary; else 0.
uint64_t resume_offset(const std::string& path, const SignedManifest& signed_manifest,
                       const std::string& disk, SlotName slot) {
    if (!path_exists(path))
        return 0;
    auto progress = read_progress(path);
    if (!progress || progress->manifest_sha256 != signed_manifest.manifest_sha256 ||
        progress->disk != disk || progress->slot != kSlotNames.name(slot))
        return 0;
    const ManifestImage& image = signed_manifest.manifest.image;
    if (progress->verified >= image.size || progress->verified % image.chunk_size != 0)
        return 0;
    return progress->verified;
}

std::string chunk_name(const Manifest& manifest, uint64_t index) {
    uint64_t offset = manifest.chunk_offset(index);
    return cat("chunk ", index + 1, " of ", manifest.image.chunks.size(), " (bytes ", offset, "-",
               offset + manifest.chunk_length(index) - 1, ")");
}

// Fills `buffer` from the stream unless it ends first: the bytes read.
Result<size_t> read_exactly(ImageSource& source, std::span<char> buffer) {
    size_t filled = 0;
    while (filled < buffer.size()) {
        size_t got = TRY(source.read(buffer.subspan(filled)));
        if (got == 0)
            break;
        filled += got;
    }
    return filled;
}

// Streams chunks from `start` on into the slot, each checked before it is
// written; progress saved now and then. Returns the bytes written.
Result<uint64_t> write_chunks(const InstallRequest& request, const SignedManifest& signed_manifest,
                              const Progress& identity, uint64_t start,
                              const SourceOpener& open_source, SlotWriter& writer,
                              Storage& storage) {
    const Manifest& manifest = signed_manifest.manifest;
    std::unique_ptr<ImageSource> source = TRY(open_source(start));
    if (!source)
        return error("no image source");
    auto in_source = [&](Error error) {
        return std::unexpected(std::move(error).wrap(source->describe()));
    };
    uint64_t written = 0, unsynced = 0;
    // One buffer for every chunk: a new one each time was zero-filled
    // for nothing.
    std::string buffer(size_t(manifest.image.chunk_size), '\0');
    for (uint64_t index = start / manifest.image.chunk_size; index < manifest.image.chunks.size();
         ++index) {
        uint64_t length = manifest.chunk_length(index);
        auto got = read_exactly(*source, std::span<char>(buffer.data(), size_t(length)));
        if (!got)
            return in_source(std::move(got).error().wrap(chunk_name(manifest, index)));
        std::string_view chunk(buffer.data(), *got);
        if (chunk.size() != length)
            return in_source(Error::message(cat(
                "truncated: the image ends at byte ", manifest.chunk_offset(index) + chunk.size(),
                ", in ", chunk_name(manifest, index), "; the manifest says ", manifest.image.size,
                " bytes")));
        if (std::string digest = sha256_hex(chunk); digest != manifest.image.chunks[index])
            return in_source(Error::message(cat(chunk_name(manifest, index), ": SHA-256 ", digest,
                                                " is not the manifest's ",
                                                manifest.image.chunks[index], ": not written")));
        TRY(writer.write(chunk, manifest.chunk_offset(index)));
        written += length;
        unsynced += length;
        if (unsynced >= request.progress_interval) {
            TRY(writer.sync());
            Progress progress = identity;
            progress.verified = manifest.chunk_offset(index) + length;
            TRY(write_progress(storage, request.progress_path, progress));
            unsynced = 0;
        }
        if (request.report)
            request.report({manifest.chunk_offset(index) + length, manifest.image.size});
    }
    char extra = 0;
    size_t more = TRY(source->read(std::span<char>(&extra, 1)));
    if (more != 0)
        return in_source(Error::message(cat("the image is longer than the manifest's ",
                                            manifest.image.size, " bytes: wrong size")));
    TRY(writer.sync());
    return written;
}

// Reads the written image back from the disk and checks every chunk. The
// signed chunk hashes cover every byte, so hashing the whole image as well
// would add a third SHA-256 pass and nothing else.
Result<void> check_written(const Manifest& manifest, SlotWriter& writer) {
    writer.drop_cache();
    std::string buffer(size_t(manifest.image.chunk_size), '\0');
    for (uint64_t index = 0; index < manifest.image.chunks.size(); ++index) {
        size_t length = size_t(manifest.chunk_length(index));
        size_t got =
            TRY(writer.read(std::span<char>(buffer.data(), length), manifest.chunk_offset(index)));
        if (got != length ||
            sha256_hex(std::string_view(buffer.data(), length)) != manifest.image.chunks[index])
            return error(cat("read back from the slot, ", chunk_name(manifest, index),
                             " is not what was written"));
    }
    return {};
}

// The partition's device under /sys/class/block/DISK/: the entry whose
// `partition` file holds `number`.
Result<std::string> partition_device(const std::string& disk, uint32_t number,
                                     const std::string& sys_class_block) {
    char* resolved = ::realpath(disk.c_str(), nullptr);
    if (!resolved)
        return errno_error(cat("resolve ", quoted(disk)));
    std::string path(resolved);
    std::free(resolved);
    std::string name = path.substr(path.rfind('/') + 1);
    std::string directory = cat(sys_class_block, "/", name);
    for (const std::string& entry : TRY(list_directory(directory))) {
        std::string partition_file = cat(directory, "/", entry, "/partition");
        if (!path_exists(partition_file))
            continue;
        std::string text = TRY(read_file(partition_file));
        if (parse_u64(trim(text)) == number)
            return cat("/dev/", entry);
    }
    return error(cat(quoted(disk), ": no partition ", number, " in ", quoted(directory)));
}

} // namespace

Result<SignedManifest> verify_signed_manifest(std::string_view manifest, std::string_view signature,
                                              const std::string& trusted_keys_directory) {
    std::vector<std::string> keys = TRY(trusted_key_files(trusted_keys_directory));
    if (keys.empty())
        return error(cat("no trusted keys (*.pem) in ", quoted(trusted_keys_directory),
                         ": an update must be signed by one"));
    SignedManifest result;
    result.key = TRY(verify_detached_signature(manifest, signature, keys, trusted_keys_directory,
                                               "the manifest's signature"));
    result.manifest = TRY(parse_manifest(manifest));
    result.manifest_sha256 = sha256_hex(manifest);
    return result;
}

Result<SlotName> install_target(const Slots& slots, std::optional<SlotName> booted,
                                std::optional<SlotName> slot) {
    if (slot) {
        if (slot == booted)
            return error(cat("slot ", kSlotNames.name(*slot), " (", slot_label(*slot),
                             ") is the one running: an update goes into the other slot"));
        return *slot;
    }
    if (booted)
        return other_slot(*booted);
    std::optional<SlotName> next = choose_boot_slot(slots);
    return next ? other_slot(*next) : SlotName::A;
}

Result<SlotRange> slot_range(const std::string& disk, const Slots& slots, SlotName slot,
                             const std::string& sys_class_block) {
    GptTable table = TRY(read_gpt(disk));
    const GptPartition* partition = nullptr;
    for (const GptPartition& entry : table.partitions)
        if (entry.number == slots[slot].partition)
            partition = &entry;
    if (!partition)
        return error(cat(quoted(disk), ": partition ", slots[slot].partition, " is gone"));
    struct stat st {};
    if (::stat(disk.c_str(), &st) < 0)
        return errno_error(cat("stat ", quoted(disk)));
    SlotRange range;
    if (S_ISBLK(st.st_mode)) {
        range.path = TRY(partition_device(disk, partition->number, sys_class_block));
        Fd fd = TRY(open_file(range.path, O_RDONLY));
        if (::ioctl(fd.get(), BLKGETSIZE64, &range.size) < 0)
            return errno_error(cat("size of ", quoted(range.path)));
        return range;
    }
    range.path = disk;
    range.offset = partition->first_lba * kImageSectorSize;
    range.size = (partition->last_lba - partition->first_lba + 1) * kImageSectorSize;
    if (range.offset + range.size > uint64_t(st.st_size))
        return error(cat(quoted(disk), ": ", slot_label(slot), " ends past the end of the file"));
    return range;
}

Result<InstallReport> install_update(const InstallRequest& request,
                                     const SourceOpener& open_source) {
    Storage& storage = system_storage();
    SignedManifest signed_manifest = TRY(verify_signed_manifest(request.manifest, request.signature,
                                                                request.trusted_keys_directory));
    const Manifest& manifest = signed_manifest.manifest;
    Slots slots = TRY(read_slots(request.disk));
    SlotName slot = TRY(install_target(slots, request.booted, request.slot));
    std::string slot_text = cat("slot ", kSlotNames.name(slot), " (", slot_label(slot), ")");
    SlotRange range = TRY(slot_range(request.disk, slots, slot));
    if (range.size < kSlotFooterSize || manifest.image.size > range.size - kSlotFooterSize)
        return error(cat("the image (", manifest.image.size, " bytes) and its footer (",
                         kSlotFooterSize, ") do not fit ", slot_text, " (", range.size, " bytes)"));

    Progress identity{0, signed_manifest.manifest_sha256, request.disk,
                      std::string(kSlotNames.name(slot))};
    uint64_t start = resume_offset(request.progress_path, signed_manifest, request.disk, slot);

    // Unbootable before the first byte: a power cut from here on boots the
    // running slot.
    TRY_CTX(write_slots(storage, prepare_install(slots, slot)),
            cat("make ", slot_text, " unbootable"));
    File file = TRY(storage.open(range.path, O_RDWR, 0));
    SlotWriter writer(storage, std::move(file), range);
    uint64_t footer_at = range.size - kSlotFooterSize;
    TRY(writer.write(empty_slot_footer_header(), footer_at));

    InstallReport report;
    report.slot = slot;
    report.resumed_from = start;
    report.written = TRY_CTX(
        write_chunks(request, signed_manifest, identity, start, open_source, writer, storage),
        cat("install ", manifest.version, " into ", slot_text));
    if (auto checked = check_written(manifest, writer); !checked) {
        remove_progress(storage, request.progress_path); // start over next time
        return std::unexpected(std::move(checked).error().wrap(cat("install into ", slot_text)));
    }
    std::string footer = TRY(encode_slot_footer({request.manifest, request.signature}));
    TRY(writer.write(footer, footer_at));
    TRY(writer.sync());

    // Read again: the attribute words may have changed since (another
    // command); only the flags are ours.
    Slots now = TRY(read_slots(request.disk));
    report.slots = finish_install(now, slot);
    TRY_CTX(write_slots(storage, report.slots), cat("make ", slot_text, " boot next"));
    remove_progress(storage, request.progress_path);
    report.version = manifest.version;
    report.key_id = signed_manifest.key.key_id;
    return report;
}

} // namespace keel::update
