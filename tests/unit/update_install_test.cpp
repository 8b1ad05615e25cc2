// update/install.cpp, pack.cpp, slot_verity.cpp and file_source.cpp: a
// payload packed and signed, then installed from a source into a disk
// image made here (ROOT-A, ROOT-B, STATE), with sources that lie, stop or
// run long. After every refusal the running slot A is byte for byte as it
// was and B cannot boot.
#include "update/install.h"

#include "base/signature.h"
#include "base/sys.h"
#include "rootfs/rootfs.h"
#include "tests/unit/gpt_test_disk.h"
#include "tests/unit/temp_dir.h"
#include "tests/unit/test_keys.h"
#include "update/pack.h"
#include "update/slot_verity.h"

#include <doctest/doctest.h>

#include <fcntl.h>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace up = keel::update;
using keel::testing::TempDir;
using namespace keel::testing::gpt;

namespace {

using keel::testing::KeyPair;
using keel::testing::make_key;

const KeyPair& publisher_key() {
    static const KeyPair key = make_key(MBEDTLS_PK_ECKEY);
    return key;
}

const KeyPair& stranger_key() {
    static const KeyPair key = make_key(MBEDTLS_PK_ECKEY);
    return key;
}

// The disk: ROOT-A sectors 34-3105, ROOT-B 3106-6177 (1.5 MiB each),
// STATE 6178-6241, the backup table after. A disk made with another start
// for ROOT-A (40: both slots 4096-aligned) has the rest moved alike.
constexpr uint64_t kDiskSectors = 6275;
constexpr uint64_t kSlotSectors = 3072;
constexpr uint64_t kAStart = 34, kBStart = kAStart + kSlotSectors;
constexpr uint64_t kAlignedAStart = 40; // 20480 bytes: O_DIRECT can write the slots

// A: priority 2, successful (running); B: priority 1, successful (an older root).
std::string make_ab_disk(uint64_t a_start = kAStart) {
    uint64_t b_start = a_start + kSlotSectors, disk_sectors = kDiskSectors + a_start - kAStart;
    std::vector<TestPartition> partitions{
        {0, "0fc63daf-8483-4772-8e79-3d69d8477de4", "aaaaaaaa-0000-4000-8000-000000000001", a_start,
         b_start - 1, (2ull << 48) | (1ull << 56), u"ROOT-A"},
        {1, "0fc63daf-8483-4772-8e79-3d69d8477de4", "aaaaaaaa-0000-4000-8000-000000000002", b_start,
         b_start + kSlotSectors - 1, (1ull << 48) | (1ull << 56), u"ROOT-B"},
        {2, "0fc63daf-8483-4772-8e79-3d69d8477de4", "aaaaaaaa-0000-4000-8000-000000000003",
         b_start + kSlotSectors, disk_sectors - 34, 0, u"STATE"}};
    std::string bytes = make_disk(partitions, disk_sectors).bytes;
    for (uint64_t s = a_start; s < b_start; ++s) // the running root's bytes
        bytes.replace(size_t(s * kSector), 8, "ROOT-A!!");
    return bytes;
}

std::string slot_bytes(const std::string& disk, uint64_t start) {
    return disk.substr(size_t(start * kSector), size_t(kSlotSectors * kSector));
}

// A source over bytes that can be made to lie: a byte changed, cut short,
// too long, or failing at an offset.
struct FakeSource final : up::ImageSource {
    std::string bytes;
    uint64_t position = 0;
    std::optional<uint64_t> fail_at;
    keel::Result<size_t> read(std::span<char> buffer) override {
        size_t n = size_t(std::min<uint64_t>(buffer.size(), bytes.size() - position));
        if (fail_at && position + n > *fail_at) {
            if (position >= *fail_at)
                return keel::error("connection reset");
            n = size_t(*fail_at - position);
        }
        bytes.copy(buffer.data(), n, size_t(position));
        position += n;
        return n;
    }
    std::string describe() const override { return "fake source"; }
};

// A payload packed from a made-up root, a disk, trusted keys.
struct InstallFixture {
    TempDir dir;
    std::string disk = dir / "disk.img";
    std::string trusted = dir / "trusted.d";
    std::string payload = dir / "payload";
    std::string image;  // root.img's bytes
    std::string before; // the disk before the install
    up::InstallRequest request;

    explicit InstallFixture(size_t root_size = 200 * 1024, uint64_t a_start = kAStart) {
        REQUIRE(keel::make_directories(trusted));
        REQUIRE(keel::write_new_file(trusted + "/publisher.pem", publisher_key().public_pem));
        REQUIRE(keel::write_new_file(dir / "publisher.key", publisher_key().private_pem));
        REQUIRE(keel::write_new_file(dir / "stranger.key", stranger_key().private_pem));
        std::string root;
        for (size_t i = 0; i < root_size; ++i)
            root.push_back(char((i * 7919) >> 3));
        REQUIRE(keel::write_new_file(dir / "root.erofs", root));
        up::PackRequest pack{dir / "root.erofs",    "2.0.1", "stable",
                             dir / "publisher.key", payload, 16384};
        auto packed = up::pack_payload(pack);
        REQUIRE_MESSAGE(packed, (packed ? std::string() : packed.error().to_string()));
        image = *keel::read_file(payload + "/root.img");
        before = make_ab_disk(a_start);
        REQUIRE(keel::write_new_file(disk, before));
        request.manifest = *keel::read_file(payload + "/manifest.json");
        request.signature = *keel::read_file(payload + "/manifest.json.sig");
        request.trusted_keys_directory = trusted;
        request.disk = disk;
        request.booted = up::SlotName::A;
        request.progress_path = dir / "state/progress";
    }

    // Installs from a FakeSource made by `make`, opened at the asked offset.
    template <typename Make> keel::Result<up::InstallReport> install(Make make) {
        return up::install_update(request, [&](uint64_t offset) {
            auto source = std::make_unique<FakeSource>();
            source->bytes = image;
            make(*source);
            source->position = offset;
            return keel::Result<std::unique_ptr<up::ImageSource>>(std::move(source));
        });
    }
    keel::Result<up::InstallReport> install() {
        return install([](FakeSource&) {});
    }

    std::string now() const { return *keel::read_file(disk); }
    up::SlotFlags flags(up::SlotName slot) const { return (*up::read_slots(disk))[slot].flags; }

    // A refused install: A unchanged, B cannot boot, the message says `why`.
    void check_refused(const keel::Result<up::InstallReport>& result, const std::string& why) {
        REQUIRE_FALSE(result);
        INFO(result.error().to_string());
        CHECK(result.error().to_string().find(why) != std::string::npos);
        std::string after = now();
        CHECK(slot_bytes(after, kAStart) == slot_bytes(before, kAStart));
        CHECK(flags(up::SlotName::A) == up::SlotFlags{2, 0, true});
        CHECK_FALSE(flags(up::SlotName::B).bootable());
    }
};

} // namespace

TEST_CASE("a packed payload verifies against the trusted keys, and a changed byte does not") {
    InstallFixture fixture;
    auto verified = up::verify_payload(fixture.payload, fixture.trusted);
    REQUIRE_MESSAGE(verified, (verified ? std::string() : verified.error().to_string()));
    CHECK(verified->manifest.version == "2.0.1");
    CHECK(verified->manifest.image.size == fixture.image.size());
    CHECK(verified->manifest.verity.hash_offset == 200 * 1024);

    std::string image = fixture.image;
    image[1000] ^= 1;
    REQUIRE(keel::write_existing_file(fixture.payload + "/root.img", image));
    auto bad = up::verify_payload(fixture.payload, fixture.trusted);
    REQUIRE_FALSE(bad);
    CHECK(bad.error().to_string().find("chunk 1 of") != std::string::npos);
}

TEST_CASE("an install writes the inactive slot, its footer, and makes it boot next once") {
    InstallFixture fixture;
    auto report = fixture.install();
    REQUIRE_MESSAGE(report, (report ? std::string() : report.error().to_string()));
    CHECK(report->slot == up::SlotName::B);
    CHECK(report->resumed_from == 0);
    CHECK(report->written == fixture.image.size());
    CHECK(report->version == "2.0.1");
    CHECK(fixture.flags(up::SlotName::B) == up::SlotFlags{3, 1, false});
    CHECK(fixture.flags(up::SlotName::A) == up::SlotFlags{2, 0, true});

    std::string after = fixture.now();
    std::string b = slot_bytes(after, kBStart);
    CHECK(b.substr(0, fixture.image.size()) == fixture.image);
    CHECK(slot_bytes(after, kAStart) == slot_bytes(fixture.before, kAStart));
    CHECK_FALSE(keel::path_exists(fixture.request.progress_path));

    // The footer, read from the partition alone, gives the signed verity parameters.
    std::string partition = fixture.dir / "root-b.part";
    REQUIRE(keel::write_new_file(partition, b));
    auto verity = up::slot_verity(partition, fixture.trusted);
    REQUIRE_MESSAGE(verity, (verity ? std::string() : verity.error().to_string()));
    REQUIRE(verity->params);
    auto manifest = up::parse_manifest(fixture.request.manifest);
    CHECK(verity->params->root_hash == manifest->verity.root_hash);
    CHECK(verity->params->hash_offset == manifest->verity.hash_offset);

    // A footer whose signature is by no trusted key is refused at boot.
    auto strange = keel::sign_detached(fixture.request.manifest, fixture.dir / "stranger.key");
    REQUIRE(strange);
    std::string forged = b;
    std::string footer = *up::encode_slot_footer({fixture.request.manifest, *strange});
    forged.replace(forged.size() - up::kSlotFooterSize, footer.size(), footer);
    REQUIRE(keel::write_existing_file(partition, forged));
    auto refused = up::slot_verity(partition, fixture.trusted);
    REQUIRE_FALSE(refused);
    CHECK(refused.error().to_string().find("bad signature") != std::string::npos);

    // The running slot has no footer: with trusted keys it is not booted
    // unverified; with none, it is mounted without dm-verity.
    std::string a_partition = fixture.dir / "root-a.part";
    REQUIRE(keel::write_new_file(a_partition, slot_bytes(after, kAStart)));
    auto unsigned_slot = up::slot_verity(a_partition, fixture.trusted);
    REQUIRE(unsigned_slot);
    CHECK_FALSE(unsigned_slot->params);
    CHECK(unsigned_slot->unverified == keel::UnverifiedRoot::Refused);
    auto none = up::slot_verity(a_partition, fixture.dir / "no-keys");
    REQUIRE(none);
    CHECK_FALSE(none->params);
    CHECK(none->unverified == keel::UnverifiedRoot::Allowed);
}

TEST_CASE("a manifest signed by an untrusted key is refused before anything is written") {
    InstallFixture fixture;
    auto strange = keel::sign_detached(fixture.request.manifest, fixture.dir / "stranger.key");
    REQUIRE(strange);
    fixture.request.signature = *strange;
    auto result = fixture.install();
    REQUIRE_FALSE(result);
    CHECK(result.error().to_string().find("bad signature") != std::string::npos);
    CHECK(fixture.now() == fixture.before); // B's flags too
}

TEST_CASE("with no trusted key no update is installed") {
    InstallFixture fixture;
    fixture.request.trusted_keys_directory = fixture.dir / "empty.d";
    auto result = fixture.install();
    REQUIRE_FALSE(result);
    CHECK(result.error().to_string().find("must be signed") != std::string::npos);
    CHECK(fixture.now() == fixture.before);
}

TEST_CASE("a changed byte in the first, a middle or the last chunk is refused, naming the chunk") {
    for (auto [offset, chunk] : {std::pair<size_t, std::string>{10, "chunk 1 of 13"},
                                 {7 * 16384 + 5, "chunk 8 of 13"},
                                 {size_t(-1), "chunk 13 of 13"}}) {
        InstallFixture fixture;
        size_t at = offset == size_t(-1) ? fixture.image.size() - 1 : offset;
        auto result = fixture.install([&](FakeSource& source) { source.bytes[at] ^= 0x20; });
        fixture.check_refused(result, chunk);
        // Nothing of the bad chunk was written.
        std::string b = slot_bytes(fixture.now(), kBStart);
        CHECK(b[at] == fixture.before[size_t(kBStart * kSector) + at]);
    }
}

TEST_CASE("a stream cut short or longer than the manifest says is refused") {
    {
        InstallFixture fixture;
        auto result = fixture.install([](FakeSource& source) { source.bytes.resize(100000); });
        fixture.check_refused(result, "truncated: the image ends at byte 100000");
    }
    {
        InstallFixture fixture;
        auto result = fixture.install([](FakeSource& source) { source.bytes += "more"; });
        fixture.check_refused(result, "wrong size");
    }
}

TEST_CASE("an image that does not fit the slot with its footer is refused before writing") {
    InstallFixture fixture(600 * 1024); // 600 KiB + tree + 1 MiB footer > 1.5 MiB
    auto result = fixture.install();
    REQUIRE_FALSE(result);
    CHECK(result.error().to_string().find("do not fit slot B") != std::string::npos);
    CHECK(fixture.now() == fixture.before);
}

TEST_CASE("the running slot is never the target") {
    InstallFixture fixture;
    fixture.request.slot = up::SlotName::A;
    auto result = fixture.install();
    REQUIRE_FALSE(result);
    CHECK(result.error().to_string().find("is the one running") != std::string::npos);
    CHECK(fixture.now() == fixture.before);
    // On a disk not booted from, the target is the slot that would not boot.
    fixture.request.booted.reset();
    fixture.request.slot.reset();
    auto slots = up::read_slots(fixture.disk);
    CHECK(*up::install_target(*slots, std::nullopt, std::nullopt) == up::SlotName::B);
}

TEST_CASE("an interrupted install continues from the first chunk not yet written") {
    InstallFixture fixture;
    fixture.request.progress_interval = 16384; // progress after every chunk
    auto cut = fixture.install([](FakeSource& source) { source.fail_at = 5 * 16384 + 100; });
    fixture.check_refused(cut, "connection reset");
    CHECK(keel::path_exists(fixture.request.progress_path));

    std::optional<uint64_t> opened_at;
    auto resumed = up::install_update(fixture.request, [&](uint64_t offset) {
        opened_at = offset;
        return up::open_file_source(fixture.payload + "/root.img", offset);
    });
    REQUIRE_MESSAGE(resumed, (resumed ? std::string() : resumed.error().to_string()));
    CHECK(opened_at == 5 * 16384);
    CHECK(resumed->resumed_from == 5 * 16384);
    CHECK(resumed->written == fixture.image.size() - 5 * 16384);
    CHECK(slot_bytes(fixture.now(), kBStart).substr(0, fixture.image.size()) == fixture.image);
    CHECK(fixture.flags(up::SlotName::B) == up::SlotFlags{3, 1, false});
}

TEST_CASE("progress of another payload is not resumed from") {
    InstallFixture fixture;
    fixture.request.progress_interval = 16384;
    auto cut = fixture.install([](FakeSource& source) { source.fail_at = 3 * 16384; });
    REQUIRE_FALSE(cut);
    // The same image under a different manifest (another version): from the start.
    up::PackRequest pack{
        fixture.dir / "root.erofs", "2.0.2", "stable", fixture.dir / "publisher.key",
        fixture.dir / "other",      16384};
    REQUIRE(up::pack_payload(pack));
    fixture.request.manifest = *keel::read_file(fixture.dir / "other/manifest.json");
    fixture.request.signature = *keel::read_file(fixture.dir / "other/manifest.json.sig");
    std::optional<uint64_t> opened_at;
    auto result = up::install_update(fixture.request, [&](uint64_t offset) {
        opened_at = offset;
        return up::open_file_source(fixture.dir / "other/root.img", offset);
    });
    REQUIRE_MESSAGE(result, (result ? std::string() : result.error().to_string()));
    CHECK(opened_at == 0);
}

namespace {

// The kernel's Storage, recording in order each write, read and sync of
// one disk image (from any thread), with whether ROOT-B could boot right
// after each write outside the slots (the GPT's) and right before the
// first write into B, and the descriptor each went through.
struct RecordingStorage final : keel::Storage {
    enum class Op { Write, Read, Sync };
    struct Event {
        Op op = Op::Write;
        uint64_t offset = 0, size = 0;
        bool b_bootable = false;
        int fd = -1; // which open file: the slot's writer or the GPT's
    };
    std::string disk;
    uint64_t a_first = 0, b_first = 0, b_end = 0; // bytes: A is [a_first, b_first)
    std::mutex mutex;
    std::vector<Event> events;
    bool wrote_b = false;
    keel::Storage& real = keel::system_storage();

    bool in_slots(uint64_t offset) const { return offset >= a_first && offset < b_end; }
    bool b_bootable() const { return (*up::read_slots(disk))[up::SlotName::B].flags.bootable(); }

    keel::Result<keel::File> open(const std::string& path, int flags, mode_t mode) override {
        return real.open(path, flags, mode);
    }
    // A byte of the disk that reads back changed (once), as a bad disk
    // would give it.
    std::optional<uint64_t> flip_on_read;

    keel::Result<size_t> pread(const keel::File& file, std::span<char> buffer,
                               uint64_t offset) override {
        std::lock_guard lock(mutex);
        auto got = real.pread(file, buffer, offset);
        if (got && file.path() == disk && flip_on_read && *flip_on_read >= offset &&
            *flip_on_read < offset + *got) {
            buffer[*flip_on_read - offset] ^= 0x20;
            flip_on_read.reset();
        }
        if (got && file.path() == disk)
            events.push_back({Op::Read, offset, *got, false, file.fd()});
        return got;
    }
    keel::Result<size_t> write(const keel::File& file, std::string_view data) override {
        return real.write(file, data);
    }
    keel::Result<size_t> pwrite(const keel::File& file, std::string_view data,
                                uint64_t offset) override {
        std::lock_guard lock(mutex);
        if (file.path() != disk)
            return real.pwrite(file, data, offset);
        Event event{Op::Write, offset, 0, false, file.fd()};
        if (offset >= b_first && offset < b_end && !wrote_b) {
            event.b_bootable = b_bootable();
            wrote_b = true;
        }
        auto put = real.pwrite(file, data, offset);
        if (put) {
            event.size = *put;
            if (!in_slots(offset))
                event.b_bootable = b_bootable();
            events.push_back(event);
        }
        return put;
    }
    keel::Result<void> fsync(const keel::File& file) override { return sync(file, false); }
    keel::Result<void> fdatasync(const keel::File& file) override { return sync(file, true); }
    keel::Result<void> sync(const keel::File& file, bool data_only) {
        std::lock_guard lock(mutex);
        auto synced = data_only ? real.fdatasync(file) : real.fsync(file);
        if (synced && file.path() == disk)
            events.push_back({Op::Sync, 0, 0, false, file.fd()});
        return synced;
    }
    keel::Result<void> fallocate(const keel::File& file, uint64_t offset,
                                 uint64_t length) override {
        return real.fallocate(file, offset, length);
    }
    keel::Result<void> ftruncate(const keel::File& file, uint64_t size) override {
        return real.ftruncate(file, size);
    }
    keel::Result<uint64_t> file_size(const keel::File& file) override {
        return real.file_size(file);
    }
    keel::Result<void> rename(const std::string& from, const std::string& to) override {
        return real.rename(from, to);
    }
    keel::Result<void> unlink(const std::string& path) override { return real.unlink(path); }
    keel::Result<void> mkdir(const std::string& path, mode_t mode) override {
        return real.mkdir(path, mode);
    }
    keel::Result<std::vector<std::string>> list_directory(const std::string& path) override {
        return real.list_directory(path);
    }
};

// Whether the file system under TMPDIR takes O_DIRECT (tmpfs before Linux
// 6.6 does not).
bool temp_dir_takes_direct_io(const TempDir& dir) {
    keel::Fd fd(
        ::open((dir / "direct-probe").c_str(), O_RDWR | O_CREAT | O_DIRECT | O_CLOEXEC, 0600));
    return fd.valid();
}

} // namespace

TEST_CASE("an install makes B unbootable before its first byte, reads every chunk back after "
          "writing it, and flags B only after the footer is synced") {
    for (uint64_t a_start : {kAStart, kAlignedAStart}) {
        CAPTURE(a_start);
        InstallFixture fixture(200 * 1024, a_start);
        fixture.request.progress_interval = 16384; // a progress save after every chunk
        RecordingStorage storage;
        storage.disk = fixture.disk;
        storage.a_first = a_start * kSector;
        storage.b_first = (a_start + kSlotSectors) * kSector;
        storage.b_end = storage.b_first + kSlotSectors * kSector;
        fixture.request.storage = &storage;
        auto report = fixture.install();
        REQUIRE_MESSAGE(report, (report ? std::string() : report.error().to_string()));
        CHECK(fixture.flags(up::SlotName::B) == up::SlotFlags{3, 1, false});
        CHECK(slot_bytes(fixture.now(), a_start + kSlotSectors).substr(0, fixture.image.size()) ==
              fixture.image);
        if (a_start == kAStart)
            CHECK(report->io == up::SlotIo::Buffered); // not 4096-aligned
        else if (temp_dir_takes_direct_io(fixture.dir))
            CHECK(report->io == up::SlotIo::Direct);
        else
            MESSAGE("SKIP the O_DIRECT path: the file system under TMPDIR refuses O_DIRECT");

        using Op = RecordingStorage::Op;
        const std::vector<RecordingStorage::Event>& events = storage.events;
        auto in_b = [&](const RecordingStorage::Event& e) {
            return e.offset >= storage.b_first && e.offset < storage.b_end;
        };
        auto is_gpt_write = [&](const RecordingStorage::Event& e) {
            return e.op == Op::Write && !storage.in_slots(e.offset);
        };
        size_t first_b_write = events.size();
        for (size_t i = 0; i < events.size() && first_b_write == events.size(); ++i)
            if (events[i].op == Op::Write && in_b(events[i]))
                first_b_write = i;
        REQUIRE(first_b_write < events.size());
        CHECK_FALSE(events[first_b_write].b_bootable);
        bool unbootable_before = false;
        for (size_t i = 0; i < first_b_write; ++i)
            unbootable_before |= is_gpt_write(events[i]) && !events[i].b_bootable;
        CHECK(unbootable_before);
        for (const auto& e : events) // nothing of A written
            CHECK_FALSE(
                (e.op == Op::Write && e.offset >= storage.a_first && e.offset < storage.b_first));

        // Each chunk: its last write, then a read covering it.
        auto manifest = up::parse_manifest(fixture.request.manifest);
        REQUIRE(manifest);
        size_t last_read_of_b = 0;
        for (uint64_t index = 0; index < manifest->image.chunks.size(); ++index) {
            CAPTURE(index);
            uint64_t low = storage.b_first + manifest->chunk_offset(index);
            uint64_t high = low + manifest->chunk_length(index);
            auto covers = [&](const RecordingStorage::Event& e) {
                return e.offset <= low && e.offset + e.size >= high;
            };
            std::optional<size_t> written, read;
            for (size_t i = 0; i < events.size(); ++i) {
                if (events[i].op == Op::Write && covers(events[i]))
                    written = i;
                if (events[i].op == Op::Read && written && i > *written && covers(events[i]) &&
                    !read)
                    read = i;
            }
            REQUIRE(written);
            REQUIRE(read);
            last_read_of_b = std::max(last_read_of_b, *read);
        }

        // B bootable again (it was before the install) only after the last
        // read-back, the footer's write and a sync after it.
        size_t bootable = events.size();
        for (size_t i = first_b_write; i < events.size() && bootable == events.size(); ++i)
            if (is_gpt_write(events[i]) && events[i].b_bootable)
                bootable = i;
        REQUIRE(bootable < events.size());
        size_t footer = events.size();
        for (size_t i = 0; i < events.size(); ++i)
            if (events[i].op == Op::Write &&
                events[i].offset == storage.b_end - up::kSlotFooterSize &&
                events[i].size > 64) // the whole footer, not the erased header
                footer = i;
        REQUIRE(footer < bootable);
        CHECK(last_read_of_b < footer);
        bool synced = false; // through the slot's own file: another's sync may leave it cached
        for (size_t i = footer + 1; i < bootable; ++i)
            synced |= events[i].op == Op::Sync && events[i].fd == events[footer].fd;
        CHECK(synced);
        for (size_t i = footer + 1; i < events.size(); ++i) // nothing into B after the footer
            CHECK_FALSE((events[i].op == Op::Write && in_b(events[i])));
    }
}

TEST_CASE("a chunk that reads back other than it was written fails the install, naming it") {
    InstallFixture fixture(200 * 1024, kAlignedAStart);
    RecordingStorage storage;
    storage.disk = fixture.disk;
    storage.b_first = (kAlignedAStart + kSlotSectors) * kSector;
    storage.b_end = storage.b_first + kSlotSectors * kSector;
    // In the fourth 16 KiB chunk.
    storage.flip_on_read = storage.b_first + 3 * 16384 + 100;
    fixture.request.storage = &storage;
    auto result = fixture.install();
    fixture.check_refused(result, "read back from the slot, chunk 4 of 13 (bytes 49152-65535) is "
                                  "not what was written (byte 49252)");
}

TEST_CASE("a file source reads from the offset it was opened at") {
    TempDir dir;
    REQUIRE(keel::write_new_file(dir / "f", "0123456789"));
    auto source = up::open_file_source(dir / "f", 4);
    REQUIRE(source);
    std::string buffer(20, '\0');
    auto got = (*source)->read(buffer);
    REQUIRE(got);
    CHECK(buffer.substr(0, *got) == "456789");
    CHECK((*source)->describe() == dir / "f");
    CHECK_FALSE(up::open_file_source(dir / "missing"));
}
