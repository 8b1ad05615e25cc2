// Installing a payload into a slot (see install.h for the order of steps
// and why). The running slot is never opened for writing: on a block
// device only the target partition's device is opened, and every write
// goes through SlotWriter, which refuses a byte outside the slot's range.
// Chunks go in with O_DIRECT where the slot is aligned for it: no copy
// through the page cache, and a read-back that reads the device, not
// memory; elsewhere each range is written back and dropped from the page
// cache before it is read back.
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
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <optional>
#include <system_error>
#include <thread>
#include <utility>

namespace keel::update {

namespace {

constexpr uint32_t kImageSectorSize = 512; // a disk image file's GPT sectors

// O_DIRECT wants the buffer, the offset and the length aligned to the
// device's logical block (512 or 4096 bytes): 4096 covers both.
constexpr size_t kDirectAlignment = 4096;
// The pipeline's memory: chunks checked and waiting to be written, and the
// most written (and then read back) in one go. Large I/O, and room for the
// reader to run ahead while the writer waits for the disk.
constexpr uint64_t kRingBytes = uint64_t(16) << 20;
constexpr uint64_t kBatchBytes = uint64_t(4) << 20;

bool is_direct_aligned(uint64_t value) {
    return value % kDirectAlignment == 0;
}

// Memory aligned for O_DIRECT, not zeroed (every byte used is read or
// written into first).
class AlignedBuffer {
public:
    explicit AlignedBuffer(size_t size)
        : m_size(size), m_data(static_cast<char*>(std::aligned_alloc(
                            kDirectAlignment, (size + kDirectAlignment - 1) / kDirectAlignment *
                                                  kDirectAlignment))) {}
    AlignedBuffer(const AlignedBuffer&) = delete;
    AlignedBuffer& operator=(const AlignedBuffer&) = delete;
    ~AlignedBuffer() { std::free(m_data); }
    char* data() const { return m_data; }
    size_t size() const { return m_size; }
    explicit operator bool() const { return m_data != nullptr; }

private:
    size_t m_size;
    char* m_data;
};

// The one way bytes reach the slot: positioned writes checked against the
// slot's range. With SlotIo::Direct, aligned pieces go through an O_DIRECT
// descriptor (no copy into the page cache, and a read-back that reads the
// device); the rest (a short last chunk, the footer) through the buffered
// one.
class SlotWriter {
public:
    SlotWriter(Storage& storage, File buffered, File direct, SlotRange range)
        : m_storage(storage), m_buffered(std::move(buffered)), m_direct(std::move(direct)),
          m_range(std::move(range)) {}

    SlotIo io() const { return m_direct ? SlotIo::Direct : SlotIo::Buffered; }

    // Writes `data` at `offset` bytes into the slot.
    Result<void> write(std::string_view data, uint64_t offset) {
        if (offset > m_range.size || data.size() > m_range.size - offset)
            return error(cat("refused: a write of ", data.size(), " bytes at ", offset,
                             " would leave the slot (", m_range.size, " bytes)"));
        return m_storage.pwrite_all(direct_for(data.data(), data.size(), offset), data,
                                    m_range.offset + offset);
    }
    // Fills `buffer` with what the device holds from `offset` bytes into the
    // slot, short only at its end: the bytes read. A buffered piece's range
    // is written back and dropped from the page cache first, so that it too
    // comes from the device and not from memory.
    Result<size_t> read_back(std::span<char> buffer, uint64_t offset) {
        const File& file = direct_for(buffer.data(), buffer.size(), offset);
        if (&file == &m_buffered)
            drop_cached(offset, buffer.size());
        size_t filled = 0;
        while (filled < buffer.size()) {
            size_t got = TRY(
                m_storage.pread(file, buffer.subspan(filled), m_range.offset + offset + filled));
            if (got == 0)
                break;
            filled += got;
        }
        return filled;
    }
    // Everything written is on the disk (one descriptor's fdatasync flushes
    // the device's cache for both; the buffered one's pages go first).
    Result<void> sync() { return m_storage.fdatasync(m_buffered); }
    const SlotRange& range() const { return m_range; }

private:
    const File& direct_for(const char* data, size_t size, uint64_t offset) const {
        if (m_direct && is_direct_aligned(uintptr_t(data)) && is_direct_aligned(size) &&
            is_direct_aligned(m_range.offset + offset))
            return m_direct;
        return m_buffered;
    }
    // Writes back the pages over the range, waits, and drops them. Whole
    // pages: a page only partly in the range would otherwise stay cached.
    void drop_cached(uint64_t offset, uint64_t size) {
        uint64_t first = (m_range.offset + offset) / kDirectAlignment * kDirectAlignment;
        uint64_t end = (m_range.offset + offset + size + kDirectAlignment - 1) / kDirectAlignment *
                       kDirectAlignment;
        ::sync_file_range(m_buffered.fd(), off_t(first), off_t(end - first),
                          SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
                              SYNC_FILE_RANGE_WAIT_AFTER);
        ::posix_fadvise(m_buffered.fd(), off_t(first), off_t(end - first), POSIX_FADV_DONTNEED);
    }

    Storage& m_storage;
    File m_buffered;
    File m_direct; // no file: SlotIo::Buffered
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

// Reads the chunks [first, end) back from the slot and checks each against
// the manifest: those an earlier, interrupted run wrote, which are in no
// memory to compare with. The signed chunk hashes cover every byte, so
// hashing the whole image as well would add another pass and nothing else.
// `buffer` (aligned, any size) is filled again and again.
Result<void> check_written(const Manifest& manifest, SlotWriter& writer, uint64_t first,
                           uint64_t end, const AlignedBuffer& buffer) {
    Sha256 hash;
    uint64_t index = first;
    uint64_t in_chunk = 0; // bytes of chunk `index` hashed so far
    uint64_t offset = manifest.chunk_offset(first);
    uint64_t stop =
        end == first ? offset : manifest.chunk_offset(end - 1) + manifest.chunk_length(end - 1);
    while (offset < stop) {
        size_t want = size_t(std::min<uint64_t>(buffer.size(), stop - offset));
        size_t got = TRY(writer.read_back(std::span<char>(buffer.data(), want), offset));
        if (got != want)
            return error(cat("read back from the slot, ", chunk_name(manifest, index),
                             " is cut short at byte ", offset + got));
        std::string_view piece(buffer.data(), got);
        while (!piece.empty()) {
            size_t take =
                size_t(std::min<uint64_t>(piece.size(), manifest.chunk_length(index) - in_chunk));
            hash.update(piece.substr(0, take));
            piece.remove_prefix(take);
            in_chunk += take;
            if (in_chunk == manifest.chunk_length(index)) {
                Sha256Digest digest = hash.finish();
                if (to_hex(digest.data(), digest.size()) != manifest.image.chunks[index])
                    return error(cat("read back from the slot, ", chunk_name(manifest, index),
                                     " is not what was written"));
                ++index;
                in_chunk = 0;
            }
        }
        offset += got;
    }
    return {};
}

// Why an install stopped.
enum class InstallFailure {
    None,
    Stream,   // the source, or a chunk that did not match: nothing bad was written
    Writing,  // a write, sync or progress save failed
    ReadBack, // the slot does not hold what was written: start over next time
};

// Bytes from the image's start to the end of chunk `end - 1` (`start` when
// no chunk is).
uint64_t end_of_chunks(const Manifest& manifest, uint64_t end, uint64_t start) {
    return end == 0 || manifest.chunk_offset(end - 1) < start
               ? start
               : manifest.chunk_offset(end - 1) + manifest.chunk_length(end - 1);
}

// Reads the chunks [first, end) back from the slot and compares them with
// `written`, the bytes the writer has just put there from the ring, each
// chunk of them checked against the manifest on the way in: equal bytes
// are the signed bytes, so the read-back needs no second SHA-256 pass.
Result<void> compare_written(const Manifest& manifest, SlotWriter& writer, uint64_t first,
                             uint64_t end, const char* written, const AlignedBuffer& buffer) {
    uint64_t start = manifest.chunk_offset(first);
    uint64_t stop = end_of_chunks(manifest, end, start);
    for (uint64_t offset = start; offset < stop;) {
        size_t want = size_t(std::min<uint64_t>(buffer.size(), stop - offset));
        size_t got = TRY(writer.read_back(std::span<char>(buffer.data(), want), offset));
        const char* expected = written + (offset - start);
        if (got == want && std::memcmp(buffer.data(), expected, got) == 0) {
            offset += got;
            continue;
        }
        size_t same =
            std::mismatch(buffer.data(), buffer.data() + got, expected).first - buffer.data();
        uint64_t index = (offset + same) / manifest.image.chunk_size;
        if (same == got)
            return error(cat("read back from the slot, ", chunk_name(manifest, index),
                             " is cut short at byte ", offset + got));
        return error(cat("read back from the slot, ", chunk_name(manifest, index),
                         " is not what was written (byte ", offset + same, ")"));
    }
    return {};
}

// The chunks between four threads: the reader (source, SHA-256 check,
// this thread), the writer, the checker (read back, compare) and the
// progress saver (sync, then the progress file), so that the source, the
// disk's writes, its reads and its flushes all keep going at once. The
// chunks wait in a ring of chunk-sized slots in one aligned buffer; the
// reader fills a slot only with a chunk whose hash matched; the writer
// takes the filled ones in order, several at once when they are adjacent
// in the ring, and the checker the written ones, which free their slots
// once they read back the same.
struct InstallPipeline {
    explicit InstallPipeline(uint64_t chunk_size, uint64_t first_chunk, uint64_t start)
        : slots(size_t(std::max<uint64_t>(2, kRingBytes / chunk_size))),
          batch(size_t(std::max<uint64_t>(1, kBatchBytes / chunk_size))),
          ring(size_t(chunk_size) * slots), readback(size_t(std::max(kBatchBytes, chunk_size))),
          first(first_chunk), filled(first_chunk), written(first_chunk), done(first_chunk),
          save_wanted(start), saved(start) {}

    char* slot_of(uint64_t index, uint64_t chunk_size) const {
        return ring.data() + size_t((index - first) % slots) * size_t(chunk_size);
    }
    // Records the first failure and wakes every thread.
    void fail(InstallFailure why, Error error) {
        std::lock_guard lock(mutex);
        if (!writer_error) {
            failure = why;
            writer_error = std::move(error);
        }
        changed.notify_all();
    }

    const size_t slots; // chunks the ring holds
    const size_t batch; // the most chunks written at once
    AlignedBuffer ring;
    AlignedBuffer readback;
    const uint64_t first; // the chunk in the ring's first slot

    std::mutex mutex;
    std::condition_variable changed;
    uint64_t filled;              // chunks [written, filled) are checked and waiting
    uint64_t written;             // chunks [done, written) are written, to be read back
    uint64_t done;                // chunks before it are written, read back and checked
    bool end_of_stream = false;   // the reader has put in its last chunk (or failed)
    bool writes_finished = false; // the writer has written every chunk it will
    uint64_t save_wanted;         // bytes written and checked that progress should say
    uint64_t saved;               // bytes the progress file says (after a sync)
    bool writer_finished = false;
    InstallFailure failure = InstallFailure::None;
    std::optional<Error> writer_error; // of the writer or the saver
};

// The next run of chunks for the writer or the checker, [from, to): those
// of [from, ready) adjacent in the ring, at most a batch.
std::pair<uint64_t, uint64_t> next_run(const InstallPipeline& pipeline, uint64_t from,
                                       uint64_t ready) {
    uint64_t to_ring_end = pipeline.slots - (from - pipeline.first) % pipeline.slots;
    return {from, from + std::min<uint64_t>({ready - from, pipeline.batch, to_ring_end})};
}

// Waits for the next run of chunks past `from`, those before `ready`
// (members of `pipeline`, read under its lock); none once `finished` has
// left nothing past `from`, or after a failure.
std::optional<std::pair<uint64_t, uint64_t>> wait_for_run(InstallPipeline& pipeline,
                                                          const uint64_t& from,
                                                          const uint64_t& ready,
                                                          const bool& finished) {
    std::unique_lock lock(pipeline.mutex);
    pipeline.changed.wait(lock, [&] { return ready > from || finished || pipeline.writer_error; });
    if (ready == from || pipeline.writer_error)
        return std::nullopt;
    return next_run(pipeline, from, ready);
}

// The writer: chunks out of the ring into the slot, for the checker.
void run_slot_writer(const Manifest& manifest, SlotWriter& writer, InstallPipeline& pipeline) {
    const uint64_t chunk_size = manifest.image.chunk_size;
    while (auto run =
               wait_for_run(pipeline, pipeline.written, pipeline.filled, pipeline.end_of_stream)) {
        auto [from, to] = *run;
        uint64_t offset = manifest.chunk_offset(from);
        uint64_t end = end_of_chunks(manifest, to, 0);
        if (auto written = writer.write(
                std::string_view(pipeline.slot_of(from, chunk_size), size_t(end - offset)), offset);
            !written)
            return pipeline.fail(InstallFailure::Writing, std::move(written).error());
        std::lock_guard lock(pipeline.mutex);
        pipeline.written = to;
        pipeline.changed.notify_all();
    }
}

// The checker: each written run read back from the device and compared
// with the ring (while the writer writes the next); every
// `progress_interval` bytes the saver is asked to make them durable,
// without waiting for it.
void run_slot_checker(const InstallRequest& request, const Manifest& manifest, SlotWriter& writer,
                      InstallPipeline& pipeline) {
    const uint64_t chunk_size = manifest.image.chunk_size;
    uint64_t unsaved = 0;
    while (auto run =
               wait_for_run(pipeline, pipeline.done, pipeline.written, pipeline.writes_finished)) {
        auto [from, to] = *run;
        if (auto checked = compare_written(manifest, writer, from, to,
                                           pipeline.slot_of(from, chunk_size), pipeline.readback);
            !checked)
            return pipeline.fail(InstallFailure::ReadBack, std::move(checked).error());
        uint64_t end = end_of_chunks(manifest, to, 0);
        unsaved += end - manifest.chunk_offset(from);
        std::lock_guard lock(pipeline.mutex);
        pipeline.done = to;
        if (unsaved >= request.progress_interval) {
            pipeline.save_wanted = end;
            unsaved = 0;
        }
        pipeline.changed.notify_all();
    }
}

// The progress saver: syncs the slot, then writes the progress file with
// what was checked before the sync began. Asks that came while it synced
// are taken together.
void run_progress_saver(const InstallRequest& request, const Progress& identity, SlotWriter& writer,
                        Storage& storage, InstallPipeline& pipeline) {
    while (true) {
        Progress progress = identity;
        {
            std::unique_lock lock(pipeline.mutex);
            pipeline.changed.wait(lock, [&] {
                return pipeline.save_wanted > pipeline.saved || pipeline.writer_finished ||
                       pipeline.writer_error;
            });
            if (pipeline.save_wanted == pipeline.saved || pipeline.writer_error)
                return;
            progress.verified = pipeline.save_wanted;
        }
        auto saved = writer.sync();
        if (saved)
            saved = write_progress(storage, request.progress_path, progress);
        if (!saved)
            return pipeline.fail(InstallFailure::Writing, std::move(saved).error());
        std::lock_guard lock(pipeline.mutex);
        pipeline.saved = progress.verified;
    }
}

// A second SHA-256 engine on a thread of its own: the reader hands it
// every other chunk, so that the install's one CPU-bound step (each chunk
// hashed before it goes to the ring) runs on two CPUs. One chunk at a time.
class ChunkHasher {
public:
    // Starts the thread; false (and no thread) when it cannot, or when
    // there is one CPU and nothing to gain.
    bool start() {
        if (std::thread::hardware_concurrency() < 2)
            return false;
        try {
            m_thread = std::thread([this] { run(); });
        } catch (const std::system_error&) {
            return false;
        }
        return true;
    }
    ~ChunkHasher() {
        if (!m_thread.joinable())
            return;
        {
            std::lock_guard lock(m_mutex);
            m_stopping = true;
        }
        m_changed.notify_all();
        m_thread.join();
    }
    // Starts hashing `bytes`, which must stay as they are until wait().
    void hash(std::string_view bytes) {
        {
            std::lock_guard lock(m_mutex);
            m_bytes = bytes;
            m_busy = true;
        }
        m_changed.notify_all();
    }
    // The hex SHA-256 of what hash() was given.
    std::string wait() {
        std::unique_lock lock(m_mutex);
        m_changed.wait(lock, [&] { return !m_busy; });
        return std::move(m_digest);
    }

private:
    void run() {
        std::unique_lock lock(m_mutex);
        while (true) {
            m_changed.wait(lock, [&] { return m_busy || m_stopping; });
            if (m_stopping)
                return;
            std::string_view bytes = m_bytes;
            lock.unlock();
            std::string digest = sha256_hex(bytes);
            lock.lock();
            m_digest = std::move(digest);
            m_busy = false;
            m_changed.notify_all();
        }
    }

    std::thread m_thread;
    std::mutex m_mutex;
    std::condition_variable m_changed;
    std::string_view m_bytes;
    std::string m_digest;
    bool m_busy = false;
    bool m_stopping = false;
};

// Reads the chunks from `first` on from the source, checks each against
// the manifest and hands it to the writer; then checks that the stream
// ends there. Two chunks at a time where a second CPU hashes one of them
// (ChunkHasher); they reach the writer in order, and a failure in the
// second still hands on the first. Stops early when the writer or saver
// failed.
Result<void> read_chunks(const InstallRequest& request, const Manifest& manifest, uint64_t start,
                         ImageSource& source, InstallPipeline& pipeline) {
    const uint64_t chunk_size = manifest.image.chunk_size;
    const uint64_t chunks = manifest.image.chunks.size();
    ChunkHasher second_hasher;
    const uint64_t at_once = pipeline.slots >= 2 && second_hasher.start() ? 2 : 1;
    uint64_t reported = start;
    // Reads chunk `index` into its ring slot, whole or the error.
    auto read_chunk = [&](uint64_t index) -> Result<std::string_view> {
        uint64_t length = manifest.chunk_length(index);
        char* slot = pipeline.slot_of(index, chunk_size);
        size_t got = TRY_CTX(read_exactly(source, std::span<char>(slot, size_t(length))),
                             chunk_name(manifest, index));
        if (got != length)
            return error(cat("truncated: the image ends at byte ",
                             manifest.chunk_offset(index) + got, ", in ",
                             chunk_name(manifest, index), "; the manifest says ",
                             manifest.image.size, " bytes"));
        return std::string_view(slot, got);
    };
    // Hands chunk `index` to the writer once its digest is the manifest's.
    auto check = [&](uint64_t index, const std::string& digest) -> Result<void> {
        if (digest != manifest.image.chunks[index])
            return error(cat(chunk_name(manifest, index), ": SHA-256 ", digest,
                             " is not the manifest's ", manifest.image.chunks[index],
                             ": not written"));
        std::lock_guard lock(pipeline.mutex);
        pipeline.filled = index + 1;
        pipeline.changed.notify_all();
        return {};
    };
    for (uint64_t index = pipeline.first; index < chunks;) {
        uint64_t count = std::min(at_once, chunks - index);
        uint64_t done = 0;
        {
            std::unique_lock lock(pipeline.mutex);
            pipeline.changed.wait(lock, [&] {
                return pipeline.writer_error || index + count - 1 - pipeline.done < pipeline.slots;
            });
            if (pipeline.writer_error)
                return {}; // the writer's error is the one to report
            done = pipeline.done;
        }
        if (uint64_t bytes = end_of_chunks(manifest, done, start);
            request.report && bytes != reported)
            request.report({reported = bytes, manifest.image.size});
        std::string_view first = TRY(read_chunk(index));
        Result<std::string_view> second = count == 2 ? read_chunk(index + 1) : std::string_view();
        if (count == 2 && second)
            second_hasher.hash(*second);
        std::string first_digest = sha256_hex(first);
        std::string second_digest = count == 2 && second ? second_hasher.wait() : std::string();
        TRY(check(index, first_digest));
        if (!second)
            return std::unexpected(std::move(second).error());
        if (count == 2)
            TRY(check(index + 1, second_digest));
        index += count;
    }
    char extra = 0;
    if (TRY(source.read(std::span<char>(&extra, 1))) != 0)
        return error(cat("the image is longer than the manifest's ", manifest.image.size,
                         " bytes: wrong size"));
    return {};
}

// Streams chunks from `start` on into the slot (InstallPipeline's four
// threads) and syncs it. After a failed source, the chunks checked before
// are still written and their progress saved, so that an install run again
// repeats as little as it can. Returns the bytes written.
Result<uint64_t> write_chunks(const InstallRequest& request, const SignedManifest& signed_manifest,
                              const Progress& identity, uint64_t start,
                              const SourceOpener& open_source, SlotWriter& writer, Storage& storage,
                              InstallFailure& failure) {
    const Manifest& manifest = signed_manifest.manifest;
    const uint64_t chunk_size = manifest.image.chunk_size;
    std::unique_ptr<ImageSource> source = TRY(open_source(start));
    if (!source)
        return error("no image source");
    InstallPipeline pipeline(chunk_size, start / chunk_size, start);
    if (!pipeline.ring || !pipeline.readback)
        return error(cat("no memory for ", pipeline.slots, " chunks of ", chunk_size, " bytes"));
    std::thread writer_thread, checker_thread, saver_thread;
    try {
        writer_thread = std::thread([&] { run_slot_writer(manifest, writer, pipeline); });
        checker_thread =
            std::thread([&] { run_slot_checker(request, manifest, writer, pipeline); });
        saver_thread =
            std::thread([&] { run_progress_saver(request, identity, writer, storage, pipeline); });
    } catch (const std::system_error& e) {
        pipeline.fail(InstallFailure::Writing, Error::message(cat("start a thread: ", e.what())));
        for (std::thread* thread : {&writer_thread, &checker_thread})
            if (thread->joinable())
                thread->join();
        return std::unexpected(std::move(*pipeline.writer_error));
    }

    Result<void> read = read_chunks(request, manifest, start, *source, pipeline);
    // The writer drains the ring, the checker what it wrote, then the
    // saver finishes its last save; all are waited for before the ring
    // goes away.
    {
        std::lock_guard lock(pipeline.mutex);
        pipeline.end_of_stream = true;
        pipeline.changed.notify_all();
    }
    writer_thread.join();
    {
        std::lock_guard lock(pipeline.mutex);
        pipeline.writes_finished = true;
        pipeline.changed.notify_all();
    }
    checker_thread.join();
    {
        std::lock_guard lock(pipeline.mutex);
        pipeline.writer_finished = true;
        pipeline.changed.notify_all();
    }
    saver_thread.join();

    if (pipeline.writer_error) {
        failure = pipeline.failure;
        return std::unexpected(std::move(*pipeline.writer_error));
    }
    if (!read) {
        failure = InstallFailure::Stream;
        if (uint64_t done = end_of_chunks(manifest, pipeline.done, start); done > pipeline.saved) {
            Progress progress = identity;
            progress.verified = done;
            TRY(writer.sync());
            TRY(write_progress(storage, request.progress_path, progress));
        }
        return std::unexpected(std::move(read).error().wrap(source->describe()));
    }
    if (request.report && start != manifest.image.size)
        request.report({manifest.image.size, manifest.image.size});
    TRY(writer.sync());
    return manifest.image.size - start;
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
    Storage& storage = request.storage ? *request.storage : system_storage();
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
    // O_DIRECT where the slot starts on an aligned offset and the kernel
    // takes it (a file system without it refuses the open): else buffered.
    File direct;
    if (is_direct_aligned(range.offset))
        if (auto opened = storage.open(range.path, O_RDWR | O_DIRECT, 0))
            direct = std::move(*opened);
    SlotWriter writer(storage, std::move(file), std::move(direct), range);
    uint64_t footer_at = range.size - kSlotFooterSize;
    TRY(writer.write(empty_slot_footer_header(), footer_at));

    InstallReport report;
    report.slot = slot;
    report.io = writer.io();
    report.resumed_from = start;
    InstallFailure failure = InstallFailure::None;
    auto written = write_chunks(request, signed_manifest, identity, start, open_source, writer,
                                storage, failure);
    // What an earlier install wrote is read back and checked too.
    if (written && start != 0) {
        AlignedBuffer buffer(size_t(std::max(kBatchBytes, manifest.image.chunk_size)));
        if (!buffer)
            return error(cat("no memory to read ", slot_text, " back"));
        if (auto checked =
                check_written(manifest, writer, 0, start / manifest.image.chunk_size, buffer);
            !checked) {
            failure = InstallFailure::ReadBack;
            written = std::unexpected(std::move(checked).error());
        }
    }
    if (!written) {
        if (failure == InstallFailure::ReadBack)
            remove_progress(storage, request.progress_path); // start over next time
        return std::unexpected(std::move(written).error().wrap(
            cat("install ", manifest.version, " into ", slot_text)));
    }
    report.written = *written;
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
