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

#include <optional>
#include <string>

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
// STATE 6178-6241, the backup table after.
constexpr uint64_t kDiskSectors = 6275;
constexpr uint64_t kSlotSectors = 3072;
constexpr uint64_t kAStart = 34, kBStart = kAStart + kSlotSectors;

// A: priority 2, successful (running); B: priority 1, successful (an older root).
std::string make_ab_disk() {
    std::vector<TestPartition> partitions{
        {0, "0fc63daf-8483-4772-8e79-3d69d8477de4", "aaaaaaaa-0000-4000-8000-000000000001", kAStart,
         kBStart - 1, (2ull << 48) | (1ull << 56), u"ROOT-A"},
        {1, "0fc63daf-8483-4772-8e79-3d69d8477de4", "aaaaaaaa-0000-4000-8000-000000000002", kBStart,
         kBStart + kSlotSectors - 1, (1ull << 48) | (1ull << 56), u"ROOT-B"},
        {2, "0fc63daf-8483-4772-8e79-3d69d8477de4", "aaaaaaaa-0000-4000-8000-000000000003",
         kBStart + kSlotSectors, kDiskSectors - 34, 0, u"STATE"}};
    std::string bytes = make_disk(partitions, kDiskSectors).bytes;
    for (uint64_t s = kAStart; s < kBStart; ++s) // the running root's bytes
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

    explicit InstallFixture(size_t root_size = 200 * 1024) {
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
        REQUIRE_MESSAGE(packed, packed.error().to_string());
        image = *keel::read_file(payload + "/root.img");
        before = make_ab_disk();
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
    REQUIRE_MESSAGE(verified, verified.error().to_string());
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
    REQUIRE_MESSAGE(report, report.error().to_string());
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
    REQUIRE_MESSAGE(verity, verity.error().to_string());
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
    REQUIRE_MESSAGE(resumed, resumed.error().to_string());
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
    REQUIRE_MESSAGE(result, result.error().to_string());
    CHECK(opened_at == 0);
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
