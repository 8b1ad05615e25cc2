// Live patches (livepatch/livepatch.h): the module file parser on crafted
// and malformed ELF images, the checks load makes, signatures with keys made
// at test time, and the operations against a fake kernel that behaves like
// klp's sysfs interface (transitions, reversal, force, freeing a disabled
// patch). Real modules and the real kernel are exercised in the QEMU tests.
#include "livepatch/livepatch.h"

#include "base/cmdline.h"
#include "base/strings.h"
#include "base/sys.h"
#include "tests/unit/temp_dir.h"
#include "tests/unit/test_keys.h"

#include <doctest/doctest.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/rsa.h>
#include <zlib.h>

#include <cstring>
#include <ftw.h>
#include <map>
#include <set>
#include <sys/stat.h>
#include <unistd.h>

namespace lp = keel::livepatch;
using keel::cat;
using keel::testing::TempDir;

namespace {

constexpr std::string_view kRelease = "6.1.0-56-amd64";
constexpr std::string_view kVermagic = "6.1.0-56-amd64 SMP preempt mod_unload modversions ";

void put_bytes(std::string& out, size_t offset, uint64_t value, size_t width) {
    if (out.size() < offset + width)
        out.resize(offset + width, '\0');
    for (size_t i = 0; i < width; ++i)
        out[offset + i] = char((value >> (8 * i)) & 0xff);
}

// A minimal relocatable ELF64 kernel module: null section, .modinfo,
// .gnu.linkonce.this_module, .shstrtab; section headers at the end.
struct ElfModule {
    std::string modinfo;
    bool with_modinfo = true;
    bool with_this_module = true;
    std::string this_module_name; // written into struct module's name field
    uint16_t machine = 62;

    static ElfModule livepatch(std::string_view name = "klp_test",
                               std::string_view vermagic = kVermagic) {
        ElfModule module;
        module.modinfo = cat("livepatch=Y", std::string(1, '\0'), "license=GPL",
                             std::string(1, '\0'), "depends=", std::string(1, '\0'), "name=", name,
                             std::string(1, '\0'), "vermagic=", vermagic, std::string(1, '\0'));
        return module;
    }

    std::string build() const {
        std::string names = std::string(1, '\0');
        auto name_of = [&](std::string_view name) {
            size_t at = names.size();
            names += name;
            names += '\0';
            return at;
        };
        struct Section {
            size_t name;
            uint32_t type;
            std::string data;
        };
        std::vector<Section> sections;
        if (with_modinfo)
            sections.push_back({name_of(".modinfo"), 1, modinfo});
        if (with_this_module) {
            std::string data(0x380, '\0');
            std::memcpy(data.data() + 24, this_module_name.data(),
                        std::min<size_t>(this_module_name.size(), 55));
            sections.push_back({name_of(".gnu.linkonce.this_module"), 1, data});
        }
        size_t shstrtab_name = name_of(".shstrtab");
        sections.push_back({shstrtab_name, 3, names});

        std::string out(64, '\0');
        out[0] = 0x7f;
        out[1] = 'E';
        out[2] = 'L';
        out[3] = 'F';
        out[4] = 2; // 64-bit
        out[5] = 1; // little-endian
        out[6] = 1;
        put_bytes(out, 16, 1, 2); // ET_REL
        put_bytes(out, 18, machine, 2);
        put_bytes(out, 20, 1, 4);
        std::vector<size_t> offsets;
        for (const Section& section : sections) {
            offsets.push_back(out.size());
            out += section.data;
        }
        while (out.size() % 8)
            out += '\0';
        size_t table = out.size();
        out.append(64, '\0'); // section 0
        for (size_t i = 0; i < sections.size(); ++i) {
            std::string header(64, '\0');
            put_bytes(header, 0, sections[i].name, 4);
            put_bytes(header, 4, sections[i].type, 4);
            put_bytes(header, 24, offsets[i], 8);
            put_bytes(header, 32, sections[i].data.size(), 8);
            out += header;
        }
        put_bytes(out, 40, table, 8);
        put_bytes(out, 52, 64, 2);
        put_bytes(out, 58, 64, 2);
        put_bytes(out, 60, sections.size() + 1, 2);
        put_bytes(out, 62, sections.size(), 2); // .shstrtab is last
        return out;
    }
};

// Offset of section header `index` in an image from ElfModule::build().
size_t section_header(const std::string& image, size_t index) {
    uint64_t table = 0;
    for (size_t i = 0; i < 8; ++i)
        table |= uint64_t(static_cast<unsigned char>(image[40 + i])) << (8 * i);
    return table + index * 64;
}

std::string with_kernel_signature(std::string image, uint32_t claimed, size_t actual) {
    image += std::string(actual, 'S');
    std::string info(12, '\0');
    info[2] = 2; // PKCS#7
    info[8] = char(claimed >> 24);
    info[9] = char(claimed >> 16);
    info[10] = char(claimed >> 8);
    info[11] = char(claimed);
    return image + info + "~Module signature appended~\n";
}

std::string gzip(std::string_view data) {
    z_stream stream{};
    REQUIRE(deflateInit2(&stream, 9, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) == Z_OK);
    std::string out(deflateBound(&stream, data.size()) + 32, '\0');
    stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
    stream.avail_in = uInt(data.size());
    stream.next_out = reinterpret_cast<Bytef*>(out.data());
    stream.avail_out = uInt(out.size());
    REQUIRE(deflate(&stream, Z_FINISH) == Z_STREAM_END);
    out.resize(stream.total_out);
    deflateEnd(&stream);
    return out;
}

void remove_tree(const std::string& path) {
    ::nftw(
        path.c_str(),
        [](const char* entry, const struct stat*, int, struct FTW*) { return ::remove(entry); }, 16,
        FTW_DEPTH | FTW_PHYS);
}

void write_fake_file(const std::string& path, std::string_view data) {
    REQUIRE_MESSAGE(keel::write_new_file(path, data), path);
}

using keel::testing::KeyPair;
using keel::testing::make_key;

const KeyPair& ec_key() {
    static const KeyPair key = make_key(MBEDTLS_PK_ECKEY);
    return key;
}
const KeyPair& other_ec_key() {
    static const KeyPair key = make_key(MBEDTLS_PK_ECKEY);
    return key;
}

// Plays the kernel's klp interface in a directory tree: sysfs entries for
// loaded patches, the transition (instant, timed, or stuck), reversal on a
// write to `enabled` mid-transition, `force`, and the freeing of a patch
// (its sysfs entry disappears, the module reference is dropped) once it is
// disabled.
class FakeKernel {
public:
    struct Patch {
        bool enabled = true;
        bool transition = false;
        bool stuck = false;
        bool forced = false;
        bool freed = false; // sysfs entry gone (disabled)
        uint64_t started = 0;
    };

    FakeKernel() {
        kernel.livepatch_directory = dir / "sys/kernel/livepatch";
        kernel.module_directory = dir / "sys/module";
        kernel.proc_directory = dir / "proc";
        kernel.release = std::string(kRelease);
        REQUIRE(keel::make_directories(kernel.livepatch_directory));
        REQUIRE(keel::make_directories(kernel.module_directory));
        REQUIRE(keel::make_directories(dir / "proc/sys/kernel"));
        write_fake_file(dir / "proc/sys/kernel/tainted", "0\n");
        kernel.insert = [this](int fd, const std::string& parameters,
                               const std::string&) -> keel::Result<void> {
            // finit_module reads the file from its start, wherever the offset is.
            REQUIRE(::lseek(fd, 0, SEEK_SET) == 0);
            auto bytes = keel::read_all(fd);
            REQUIRE(bytes);
            auto image = lp::parse_module_image(*bytes);
            REQUIRE(image);
            if (keel::path_exists(kernel.module_directory + "/" + image->name))
                return keel::errno_error(EEXIST, "init_module");
            inserted.push_back(image->name);
            last_parameters = parameters;
            REQUIRE(keel::make_directories(kernel.module_directory + "/" + image->name));
            write_fake_file(cat(kernel.module_directory, "/", image->name, "/initstate"), "live\n");
            write_fake_file(cat(kernel.module_directory, "/", image->name, "/taint"),
                            image->is_livepatch() ? "OEK\n" : "OE\n");
            if (!image->is_livepatch())
                return {};
            taint |= lp::kTaintLivepatch;
            write_fake_file(dir / "proc/sys/kernel/tainted", cat(taint, "\n"));
            Patch& patch = patches[image->name];
            patch = Patch{};
            start_transition(patch, stuck_patching);
            sync(image->name);
            return {};
        };
        kernel.remove = [this](const std::string& name) -> keel::Result<void> {
            if (!keel::path_exists(kernel.module_directory + "/" + name))
                return keel::errno_error(ENOENT, "delete_module");
            auto found = patches.find(name);
            if (found != patches.end() && (!found->second.freed || found->second.forced))
                return keel::errno_error(EWOULDBLOCK, "delete_module");
            patches.erase(name);
            removed.push_back(name);
            remove_tree(kernel.module_directory + "/" + name);
            return {};
        };
        kernel.write = [this](const std::string& path,
                              std::string_view value) -> keel::Result<void> {
            std::string prefix = kernel.livepatch_directory + "/";
            REQUIRE(path.starts_with(prefix));
            std::string rest = path.substr(prefix.size());
            std::string name = rest.substr(0, rest.find('/'));
            std::string knob = rest.substr(rest.find('/') + 1);
            auto found = patches.find(name);
            if (found == patches.end() || found->second.freed)
                return keel::errno_error(ENOENT, "open " + path);
            Patch& patch = found->second;
            writes.push_back(cat(name, "/", knob, "=", value));
            if (knob == "force") {
                patch.forced = true;
                finish(name);
            } else if (knob == "enabled") {
                bool enable = value == "1";
                if (enable == patch.enabled)
                    return keel::errno_error(EINVAL, "write " + path);
                if (patch.transition) { // klp_reverse_transition
                    patch.enabled = enable;
                    start_transition(patch, enable ? stuck_patching : stuck_unpatching);
                } else if (!enable) {
                    patch.enabled = false;
                    start_transition(patch, stuck_unpatching);
                } else {
                    return keel::errno_error(EINVAL, "write " + path);
                }
                sync(name);
            }
            return {};
        };
        kernel.sleep = [this](std::chrono::milliseconds duration) {
            ++sleeps;
            clock += uint64_t(duration.count()) * 1000;
            for (auto& [name, patch] : patches)
                if (patch.transition && !patch.stuck && clock - patch.started >= transition_usec)
                    finish(name);
        };
        kernel.now_usec = [this] { return clock; };
    }

    void start_transition(Patch& patch, bool stuck) {
        patch.transition = true;
        patch.stuck = stuck;
        patch.started = clock;
        if (!stuck && transition_usec == 0)
            patch.transition = false, patch.freed = !patch.enabled;
    }

    void finish(const std::string& name) {
        Patch& patch = patches[name];
        patch.transition = false;
        patch.freed = !patch.enabled;
        sync(name);
    }

    // Mirrors the state into the sysfs tree.
    void sync(const std::string& name) {
        const Patch& patch = patches[name];
        std::string entry = kernel.livepatch_directory + "/" + name;
        if (patch.freed) {
            remove_tree(entry);
            return;
        }
        REQUIRE(keel::make_directories(entry + "/vmlinux"));
        write_fake_file(entry + "/enabled", patch.enabled ? "1\n" : "0\n");
        write_fake_file(entry + "/transition", patch.transition ? "1\n" : "0\n");
        write_fake_file(entry + "/vmlinux/patched",
                        patch.enabled || patch.transition ? "1\n" : "0\n");
    }

    // A task under /proc in the given patch state.
    void add_task(int pid, int state, std::string_view comm) {
        std::string base = cat(kernel.proc_directory, "/", pid, "/task/", pid);
        REQUIRE(keel::make_directories(base));
        write_fake_file(base + "/patch_state", cat(state, "\n"));
        write_fake_file(base + "/comm", cat(comm, "\n"));
    }

    lp::Options options() {
        lp::Options options;
        options.kernel = kernel;
        options.signing.trusted_keys_directory = dir / "trusted.d";
        options.install_root = dir / "var/lib/keel/patches";
        options.run_directory = dir / "run/keel/patches";
        options.timeout = std::chrono::milliseconds(5000);
        options.report = [this](std::string_view line) { reports.emplace_back(line); };
        return options;
    }

    bool reported(std::string_view text) const {
        for (const std::string& line : reports)
            if (line.find(text) != std::string::npos)
                return true;
        return false;
    }

    TempDir dir;
    lp::Kernel kernel;
    std::map<std::string, Patch> patches;
    std::vector<std::string> inserted, removed, writes, reports;
    std::string last_parameters;
    uint64_t clock = 1'000'000;
    uint64_t transition_usec = 0;
    uint64_t taint = 0;
    size_t sleeps = 0;
    bool stuck_patching = false;
    bool stuck_unpatching = false;
};

} // namespace

// ---------------------------------------------------------------------------
// The module file parser
// ---------------------------------------------------------------------------

TEST_CASE("a live patch module's modinfo gives its name, vermagic, livepatch=Y and depends") {
    ElfModule module = ElfModule::livepatch("klp_fix");
    module.modinfo.replace(module.modinfo.find("depends="), 8, "depends=ext4,jbd2");
    auto parsed = lp::parse_module_image(module.build());
    REQUIRE_MESSAGE(parsed, (parsed ? std::string() : parsed.error().to_string()));
    CHECK(parsed->name == "klp_fix");
    CHECK(parsed->vermagic == kVermagic);
    CHECK(parsed->is_livepatch());
    CHECK(parsed->depends == std::vector<std::string>{"ext4", "jbd2"});
    CHECK(parsed->machine == 62);
    CHECK(parsed->modinfo_value("license") == "GPL");
    CHECK_FALSE(parsed->kernel_signature);
}

TEST_CASE("a module without name= in modinfo is named from .gnu.linkonce.this_module") {
    ElfModule module;
    module.modinfo = cat("vermagic=", kVermagic, std::string(1, '\0'));
    module.this_module_name = "old_style";
    auto parsed = lp::parse_module_image(module.build());
    REQUIRE_MESSAGE(parsed, (parsed ? std::string() : parsed.error().to_string()));
    CHECK(parsed->name == "old_style");
    CHECK_FALSE(parsed->livepatch);
    CHECK_FALSE(parsed->is_livepatch());
}

TEST_CASE("a truncated module is refused at every length, never read past its end") {
    std::string image = ElfModule::livepatch().build();
    REQUIRE(lp::parse_module_image(image));
    for (size_t length = 0; length < image.size(); ++length) {
        // A copy of exactly `length` bytes, so ASan sees any read past it.
        std::string cut = image.substr(0, length);
        auto parsed = lp::parse_module_image(cut);
        CHECK_MESSAGE(!parsed, "length ", length);
    }
    auto empty = lp::parse_module_image("");
    REQUIRE_FALSE(empty);
    CHECK(empty.error().to_string().find("shorter than an ELF header") != std::string::npos);
}

TEST_CASE("a section whose offset runs past the end of the file is refused, naming it") {
    std::string image = ElfModule::livepatch().build();
    put_bytes(image, section_header(image, 1) + 24, image.size() - 4, 8); // .modinfo offset
    auto parsed = lp::parse_module_image(image);
    REQUIRE_FALSE(parsed);
    CHECK(parsed.error().to_string().find(".modinfo") != std::string::npos);
    CHECK(parsed.error().to_string().find("past the end") != std::string::npos);

    std::string huge = ElfModule::livepatch().build();
    put_bytes(huge, section_header(huge, 1) + 32, ~uint64_t(0) - 8, 8); // size that overflows
    CHECK_FALSE(lp::parse_module_image(huge));
}

TEST_CASE("a section table outside the file, or a bad name table index, is refused") {
    std::string image = ElfModule::livepatch().build();
    put_bytes(image, 40, image.size(), 8);
    auto parsed = lp::parse_module_image(image);
    REQUIRE_FALSE(parsed);
    CHECK(parsed.error().to_string().find("section table") != std::string::npos);

    image = ElfModule::livepatch().build();
    put_bytes(image, 62, 200, 2);
    CHECK_FALSE(lp::parse_module_image(image));

    image = ElfModule::livepatch().build();
    put_bytes(image, 58, 40, 2); // wrong entry size
    CHECK_FALSE(lp::parse_module_image(image));

    image = ElfModule::livepatch().build();
    put_bytes(image, section_header(image, 1), 100000, 4); // section name outside the table
    CHECK_FALSE(lp::parse_module_image(image));
}

TEST_CASE("files that are not kernel modules are refused with the reason") {
    auto text = lp::parse_module_image(std::string(100, 'x'));
    REQUIRE_FALSE(text);
    CHECK(text.error().to_string().find("no ELF magic") != std::string::npos);

    ElfModule no_modinfo = ElfModule::livepatch();
    no_modinfo.with_modinfo = false;
    auto parsed = lp::parse_module_image(no_modinfo.build());
    REQUIRE_FALSE(parsed);
    CHECK(parsed.error().to_string().find("no .modinfo") != std::string::npos);

    ElfModule no_module = ElfModule::livepatch();
    no_module.with_this_module = false;
    CHECK_FALSE(lp::parse_module_image(no_module.build()));

    std::string executable = ElfModule::livepatch().build();
    put_bytes(executable, 16, 2, 2); // ET_EXEC
    auto exec = lp::parse_module_image(executable);
    REQUIRE_FALSE(exec);
    CHECK(exec.error().to_string().find("relocatable") != std::string::npos);

    std::string thirty_two = ElfModule::livepatch().build();
    thirty_two[4] = 1;
    CHECK_FALSE(lp::parse_module_image(thirty_two));
}

TEST_CASE("malformed .modinfo entries are refused") {
    ElfModule unterminated = ElfModule::livepatch();
    unterminated.modinfo += "license=GPL"; // no NUL at the end
    auto parsed = lp::parse_module_image(unterminated.build());
    REQUIRE_FALSE(parsed);
    CHECK(parsed.error().to_string().find("NUL-terminated") != std::string::npos);

    ElfModule no_equals = ElfModule::livepatch();
    no_equals.modinfo += cat("garbage", std::string(1, '\0'));
    CHECK_FALSE(lp::parse_module_image(no_equals.build()));

    ElfModule two_vermagics = ElfModule::livepatch();
    two_vermagics.modinfo += cat("vermagic=5.10.0 SMP", std::string(1, '\0'));
    auto twice = lp::parse_module_image(two_vermagics.build());
    REQUIRE_FALSE(twice);
    CHECK(twice.error().to_string().find("vermagic") != std::string::npos);
}

TEST_CASE("a module name that could escape a directory is refused") {
    for (std::string_view name : {"../../etc/x", "a/b", "", "bad name"}) {
        auto parsed = lp::parse_module_image(ElfModule::livepatch(name).build());
        CHECK_MESSAGE(!parsed, name);
    }
    CHECK_FALSE(lp::parse_module_image(ElfModule::livepatch(std::string(56, 'a')).build()));
    CHECK(lp::parse_module_image(ElfModule::livepatch(std::string(55, 'a')).build()));
}

TEST_CASE("the kernel's appended signature is recognised and not parsed as ELF") {
    std::string image = ElfModule::livepatch().build();
    auto parsed = lp::parse_module_image(with_kernel_signature(image, 300, 300));
    REQUIRE_MESSAGE(parsed, (parsed ? std::string() : parsed.error().to_string()));
    REQUIRE(parsed->kernel_signature);
    CHECK(parsed->kernel_signature->signature_size == 300);
    CHECK(parsed->kernel_signature->id_type == 2);
    CHECK(parsed->elf_size == image.size());

    auto lying = lp::parse_module_image(with_kernel_signature(image, 1u << 30, 10));
    REQUIRE_FALSE(lying);
    CHECK(lying.error().to_string().find("kernel signature") != std::string::npos);
    CHECK_FALSE(lp::parse_module_image("~Module signature appended~\n"));
}

TEST_CASE("vermagic names the kernel release in its first word; taint flags read as letters") {
    CHECK(lp::vermagic_release(kVermagic) == kRelease);
    CHECK(lp::vermagic_release("6.1.0") == "6.1.0");
    CHECK(lp::taint_letters(0) == "");
    CHECK(lp::taint_letters((1 << 12) | (1 << 13) | (1 << 15)) == "OEK");
}

// ---------------------------------------------------------------------------
// The checks before loading
// ---------------------------------------------------------------------------

TEST_CASE("a live patch built for the running kernel passes every check when signing is off") {
    FakeKernel fake;
    write_fake_file(fake.dir / "klp.ko", ElfModule::livepatch().build());
    lp::Inspection inspection = lp::inspect_module(fake.dir / "klp.ko", fake.options());
    CHECK(inspection.first_failure() == nullptr);
    REQUIRE(inspection.image);
    CHECK(inspection.image->name == "klp_test");
    std::vector<std::string> names;
    for (const lp::Check& check : inspection.checks)
        names.push_back(check.name);
    CHECK(names == std::vector<std::string>{"file", "signature", "module", "livepatch",
                                            "architecture", "vermagic"});
    CHECK(inspection.checks[1].detail.find("not checked") != std::string::npos);
}

TEST_CASE("a compressed live patch is checked after decompression") {
    FakeKernel fake;
    write_fake_file(fake.dir / "klp.ko.gz", gzip(ElfModule::livepatch().build()));
    lp::Inspection inspection = lp::inspect_module(fake.dir / "klp.ko.gz", fake.options());
    CHECK(inspection.first_failure() == nullptr);
    CHECK(inspection.compressed);
}

TEST_CASE("each bad module is refused by the check that names its problem") {
    FakeKernel fake;
    lp::Options options = fake.options();
    auto failed = [&](const std::string& file) {
        lp::Inspection inspection = lp::inspect_module(fake.dir / file, options);
        const lp::Check* failure = inspection.first_failure();
        REQUIRE_MESSAGE(failure, file);
        return *failure;
    };
    ElfModule plain;
    plain.modinfo =
        cat("name=plain", std::string(1, '\0'), "vermagic=", kVermagic, std::string(1, '\0'));
    write_fake_file(fake.dir / "plain.ko", plain.build());
    CHECK(failed("plain.ko").name == "livepatch");
    CHECK(failed("plain.ko").detail.find("not a live patch") != std::string::npos);

    write_fake_file(
        fake.dir / "other.ko",
        ElfModule::livepatch("klp_test", "6.1.0-99-amd64 SMP preempt mod_unload ").build());
    lp::Check vermagic = failed("other.ko");
    CHECK(vermagic.name == "vermagic");
    CHECK(vermagic.detail.find("6.1.0-99-amd64") != std::string::npos);
    CHECK(vermagic.detail.find(kRelease) != std::string::npos);

    std::string good = ElfModule::livepatch().build();
    write_fake_file(fake.dir / "short.ko", good.substr(0, good.size() / 2));
    CHECK(failed("short.ko").name == "module");

    write_fake_file(fake.dir / "empty.ko", "");
    CHECK(failed("empty.ko").name == "file");
    CHECK(failed("missing.ko").name == "file");

    ElfModule arm = ElfModule::livepatch();
    arm.machine = 183;
    write_fake_file(fake.dir / "arm.ko", arm.build());
    CHECK(failed("arm.ko").name == "architecture");
}

TEST_CASE("install takes a module built for another kernel and files it under that release") {
    FakeKernel fake;
    lp::Options options = fake.options();
    write_fake_file(fake.dir / "next.ko",
                    ElfModule::livepatch("klp_next", "6.1.0-57-amd64 SMP preempt ").build());
    auto installed = lp::install_patch(fake.dir / "next.ko", options);
    REQUIRE_MESSAGE(installed, (installed ? std::string() : installed.error().to_string()));
    CHECK(*installed == options.install_root + "/6.1.0-57-amd64/klp_next.ko");
    CHECK(keel::path_exists(*installed));
    auto listed = lp::installed_patches(options, "6.1.0-57-amd64");
    REQUIRE(listed);
    REQUIRE(listed->size() == 1);
    CHECK((*listed)[0].name == "klp_next");
    CHECK(lp::installed_patches(options)->empty()); // not the running kernel's

    CHECK(lp::uninstall_patch("klp_next", "6.1.0-57-amd64", options));
    CHECK_FALSE(keel::path_exists(*installed));
    auto again = lp::uninstall_patch("klp_next", "6.1.0-57-amd64", options);
    REQUIRE_FALSE(again);
    CHECK(again.error().to_string().find("not installed") != std::string::npos);
}

// ---------------------------------------------------------------------------
// Signatures
// ---------------------------------------------------------------------------

TEST_CASE("a module signed by a trusted key passes; one signed by another key does not") {
    FakeKernel fake;
    lp::Options options = fake.options();
    REQUIRE(keel::make_directories(options.signing.trusted_keys_directory));
    write_fake_file(options.signing.trusted_keys_directory + "/publisher.pem", ec_key().public_pem);
    write_fake_file(fake.dir / "signer.key", ec_key().private_pem);
    write_fake_file(fake.dir / "stranger.key", other_ec_key().private_pem);
    std::string module = ElfModule::livepatch().build();
    write_fake_file(fake.dir / "klp.ko", module);

    // Signing is configured now: no .sig, no load.
    lp::Inspection unsigned_ = lp::inspect_module(fake.dir / "klp.ko", options);
    REQUIRE(unsigned_.first_failure());
    CHECK(unsigned_.first_failure()->name == "signature");
    CHECK(unsigned_.first_failure()->detail.find("no signature") != std::string::npos);

    auto signature = lp::sign_module(module, fake.dir / "signer.key");
    REQUIRE_MESSAGE(signature, (signature ? std::string() : signature.error().to_string()));
    write_fake_file(fake.dir / "klp.ko.sig", *signature);
    lp::Inspection good = lp::inspect_module(fake.dir / "klp.ko", options);
    CHECK(good.first_failure() == nullptr);
    auto id = lp::key_id_of(options.signing.trusted_keys_directory + "/publisher.pem");
    REQUIRE(id);
    CHECK(id->size() == 16);
    CHECK(good.checks[1].detail.find(*id) != std::string::npos);
    CHECK(lp::key_id_of(fake.dir / "signer.key") == *id);

    auto forged = lp::sign_module(module, fake.dir / "stranger.key");
    REQUIRE(forged);
    write_fake_file(fake.dir / "klp.ko.sig", *forged);
    lp::Inspection bad = lp::inspect_module(fake.dir / "klp.ko", options);
    REQUIRE(bad.first_failure());
    CHECK(bad.first_failure()->name == "signature");
    CHECK(bad.first_failure()->detail.find("bad signature") != std::string::npos);
}

TEST_CASE("a module changed after it was signed fails the signature check") {
    FakeKernel fake;
    lp::Options options = fake.options();
    REQUIRE(keel::make_directories(options.signing.trusted_keys_directory));
    write_fake_file(options.signing.trusted_keys_directory + "/publisher.pem", ec_key().public_pem);
    write_fake_file(fake.dir / "signer.key", ec_key().private_pem);
    std::string module = ElfModule::livepatch().build();
    auto signature = lp::sign_module(module, fake.dir / "signer.key");
    REQUIRE(signature);
    module[module.size() / 2] ^= 1;
    write_fake_file(fake.dir / "klp.ko.sig", *signature);
    auto changed = lp::check_signature(module, fake.dir / "klp.ko.sig", options.signing);
    REQUIRE_FALSE(changed);
    CHECK(changed.error().to_string().find("bad signature") != std::string::npos);
}

TEST_CASE("RSA keys sign and verify; keys under 2048 bits are refused") {
    TempDir dir;
    KeyPair rsa = make_key(MBEDTLS_PK_RSA, 2048);
    write_fake_file(dir / "rsa.key", rsa.private_pem);
    REQUIRE(keel::make_directories(dir / "trusted"));
    write_fake_file(dir / "trusted/rsa.pem", rsa.public_pem);
    lp::SigningPolicy policy{dir / "trusted", false};
    std::string module = ElfModule::livepatch().build();
    auto signature = lp::sign_module(module, dir / "rsa.key");
    REQUIRE_MESSAGE(signature, (signature ? std::string() : signature.error().to_string()));
    CHECK(signature->size() == 256);
    write_fake_file(dir / "klp.ko.sig", *signature);
    auto verified = lp::check_signature(module, dir / "klp.ko.sig", policy);
    REQUIRE_MESSAGE(verified, (verified ? std::string() : verified.error().to_string()));
    CHECK(verified->configured);
    CHECK(verified->key == dir / "trusted/rsa.pem");

    KeyPair weak = make_key(MBEDTLS_PK_RSA, 1024);
    write_fake_file(dir / "weak.key", weak.private_pem);
    auto refused = lp::sign_module(module, dir / "weak.key");
    REQUIRE_FALSE(refused);
    CHECK(refused.error().to_string().find("too weak") != std::string::npos);
}

TEST_CASE("Ed25519 keys sign and verify modules beside an EC key") {
    TempDir dir;
    KeyPair ed25519 = keel::testing::make_ed25519_key();
    write_fake_file(dir / "ed25519.key", ed25519.private_pem);
    REQUIRE(keel::make_directories(dir / "trusted"));
    write_fake_file(dir / "trusted/ec.pem", ec_key().public_pem);
    write_fake_file(dir / "trusted/ed25519.pem", ed25519.public_pem);
    lp::SigningPolicy policy{dir / "trusted", false};
    std::string module = ElfModule::livepatch().build();
    auto signature = lp::sign_module(module, dir / "ed25519.key");
    REQUIRE_MESSAGE(signature, (signature ? std::string() : signature.error().to_string()));
    CHECK(signature->size() == 64);
    write_fake_file(dir / "klp.ko.sig", *signature);
    auto verified = lp::check_signature(module, dir / "klp.ko.sig", policy);
    REQUIRE_MESSAGE(verified, (verified ? std::string() : verified.error().to_string()));
    CHECK(verified->key == dir / "trusted/ed25519.pem");
    CHECK(verified->key_id == lp::key_id_of(dir / "ed25519.key"));

    module[module.size() / 2] ^= 1;
    auto changed = lp::check_signature(module, dir / "klp.ko.sig", policy);
    REQUIRE_FALSE(changed);
    CHECK(changed.error().to_string().find("bad signature") != std::string::npos);
}

TEST_CASE("signing stays configured when a trusted key file is broken, and says so") {
    TempDir dir;
    REQUIRE(keel::make_directories(dir / "trusted"));
    write_fake_file(dir / "trusted/broken.pem", "-----BEGIN PUBLIC KEY-----\nnot base64\n");
    write_fake_file(dir / "klp.ko.sig", std::string(70, 'x'));
    auto checked =
        lp::check_signature("module", dir / "klp.ko.sig", lp::SigningPolicy{dir / "trusted"});
    REQUIRE_FALSE(checked);
    CHECK(checked.error().to_string().find("unusable key") != std::string::npos);
}

TEST_CASE("keel.patch_signing=required without trusted keys refuses every module") {
    TempDir dir;
    lp::SigningPolicy policy{dir / "none", true};
    auto checked = lp::check_signature("module", dir / "klp.ko.sig", policy);
    REQUIRE_FALSE(checked);
    CHECK(checked.error().to_string().find("keel.patch_signing=required") != std::string::npos);
    auto off = lp::check_signature("module", dir / "klp.ko.sig", lp::SigningPolicy{dir / "none"});
    REQUIRE(off);
    CHECK_FALSE(off->configured);
}

// ---------------------------------------------------------------------------
// Operations against the fake kernel
// ---------------------------------------------------------------------------

TEST_CASE("load follows the transition until it completes and keeps a copy for enable") {
    FakeKernel fake;
    fake.transition_usec = 300'000;
    write_fake_file(fake.dir / "klp.ko", ElfModule::livepatch().build());
    lp::Options options = fake.options();
    auto loaded = lp::load_patch({fake.dir / "klp.ko", "debug=1", false}, options);
    REQUIRE_MESSAGE(loaded, (loaded ? std::string() : loaded.error().to_string()));
    CHECK(loaded->name == "klp_test");
    CHECK(loaded->transition_usec >= 300'000);
    CHECK(loaded->transition_usec < 400'000);
    CHECK(fake.last_parameters == "debug=1");
    CHECK(keel::path_exists(options.run_directory + "/klp_test.ko"));

    auto status = lp::patch_status(options.kernel, "klp_test");
    REQUIRE(status);
    REQUIRE(*status);
    CHECK((*status)->state == lp::PatchState::Enabled);
    CHECK((*status)->taint == "OEK");
    REQUIRE((*status)->objects.size() == 1);
    CHECK((*status)->objects[0].name == "vmlinux");
    CHECK((*status)->objects[0].patched);
}

TEST_CASE("a refused module never reaches the kernel") {
    FakeKernel fake;
    ElfModule plain;
    plain.modinfo =
        cat("name=plain", std::string(1, '\0'), "vermagic=", kVermagic, std::string(1, '\0'));
    write_fake_file(fake.dir / "plain.ko", plain.build());
    auto loaded = lp::load_patch({fake.dir / "plain.ko", "", false}, fake.options());
    REQUIRE_FALSE(loaded);
    CHECK(loaded.error().to_string().find("livepatch check failed") != std::string::npos);
    CHECK(loaded.error().to_string().find("the kernel was not touched") != std::string::npos);
    CHECK(fake.inserted.empty());
}

TEST_CASE("a transition that does not complete in time is reversed and the module unloaded") {
    FakeKernel fake;
    fake.stuck_patching = true;
    fake.add_task(1, 1, "keel");
    fake.add_task(42, 0, "stuck-task");
    write_fake_file(fake.dir / "klp.ko", ElfModule::livepatch().build());
    lp::Options options = fake.options();
    options.timeout = std::chrono::milliseconds(10'000);
    auto loaded = lp::load_patch({fake.dir / "klp.ko", "", false}, options);
    REQUIRE_FALSE(loaded);
    std::string message = loaded.error().to_string();
    CHECK(message.find("did not complete within 10.00 s") != std::string::npos);
    CHECK(message.find("42 (stuck-task)") != std::string::npos);
    CHECK(message.find("reversed and the module unloaded") != std::string::npos);
    CHECK(fake.writes == std::vector<std::string>{"klp_test/enabled=0"});
    CHECK(fake.removed == std::vector<std::string>{"klp_test"});
    // While it waited, people heard which task blocked it.
    CHECK(fake.reported("1 of 2 tasks still to switch: 42 (stuck-task)"));
    CHECK_FALSE(keel::path_exists(options.run_directory + "/klp_test.ko"));
    // Polling stays cheap: no more than one sysfs read every 20 ms after the start.
    CHECK(fake.sleeps < 10'000 / 20 + 20);
}

TEST_CASE("--force forces a stuck transition with a warning, and the module stays for good") {
    FakeKernel fake;
    fake.stuck_patching = true;
    write_fake_file(fake.dir / "klp.ko", ElfModule::livepatch().build());
    lp::Options options = fake.options();
    options.force = true;
    auto loaded = lp::load_patch({fake.dir / "klp.ko", "", false}, options);
    REQUIRE_MESSAGE(loaded, (loaded ? std::string() : loaded.error().to_string()));
    CHECK(loaded->forced);
    CHECK(fake.writes == std::vector<std::string>{"klp_test/force=1"});
    CHECK(fake.reported("can never be removed"));

    options.force = false;
    fake.stuck_patching = false;
    auto unloaded = lp::unload_patch("klp_test", options);
    REQUIRE_FALSE(unloaded);
    CHECK(unloaded.error().to_string().find("still in use") != std::string::npos);
}

TEST_CASE("disable follows the transition back; enable then reloads the kept copy") {
    FakeKernel fake;
    fake.transition_usec = 100'000;
    write_fake_file(fake.dir / "klp.ko", ElfModule::livepatch().build());
    lp::Options options = fake.options();
    REQUIRE(lp::load_patch({fake.dir / "klp.ko", "mode=2", false}, options));
    ::unlink((fake.dir / "klp.ko").c_str()); // the original may be gone by now

    auto disabled = lp::disable_patch("klp_test", options);
    REQUIRE_MESSAGE(disabled, (disabled ? std::string() : disabled.error().to_string()));
    auto status = lp::patch_status(options.kernel, "klp_test");
    REQUIRE(*status);
    CHECK((*status)->state == lp::PatchState::Disabled); // module loaded, sysfs entry gone
    CHECK_FALSE(keel::path_exists(options.kernel.patch_path("klp_test")));

    auto enabled = lp::enable_patch("klp_test", options);
    REQUIRE_MESSAGE(enabled, (enabled ? std::string() : enabled.error().to_string()));
    CHECK(fake.removed == std::vector<std::string>{"klp_test"});
    CHECK(fake.inserted == std::vector<std::string>{"klp_test", "klp_test"});
    CHECK(fake.last_parameters == "mode=2");
    CHECK((*lp::patch_status(options.kernel, "klp_test"))->state == lp::PatchState::Enabled);

    auto again = lp::enable_patch("klp_test", options);
    REQUIRE(again);
    CHECK(fake.reported("already enabled"));
}

TEST_CASE("enable of a disabled patch without a copy uses the installed one, or explains") {
    FakeKernel fake;
    write_fake_file(fake.dir / "klp.ko", ElfModule::livepatch().build());
    lp::Options options = fake.options();
    REQUIRE(lp::load_patch({fake.dir / "klp.ko", "", false}, options));
    REQUIRE(lp::disable_patch("klp_test", options));
    for (std::string_view suffix : {".ko", ".ko.sig", ".params"})
        ::unlink((options.run_directory + "/klp_test" + std::string(suffix)).c_str());

    auto none = lp::enable_patch("klp_test", options);
    REQUIRE_FALSE(none);
    CHECK(none.error().to_string().find("cannot re-enable a disabled patch") != std::string::npos);
    CHECK(fake.removed.empty()); // the disabled one is not taken out for nothing

    REQUIRE(lp::install_patch(fake.dir / "klp.ko", options));
    auto enabled = lp::enable_patch("klp_test", options);
    REQUIRE_MESSAGE(enabled, (enabled ? std::string() : enabled.error().to_string()));
    CHECK(fake.inserted.size() == 2);
}

TEST_CASE("a disable that does not complete in time is reversed: the patch stays enabled") {
    FakeKernel fake;
    write_fake_file(fake.dir / "klp.ko", ElfModule::livepatch().build());
    lp::Options options = fake.options();
    options.timeout = std::chrono::milliseconds(1000);
    REQUIRE(lp::load_patch({fake.dir / "klp.ko", "", false}, options));
    fake.stuck_unpatching = true;
    auto disabled = lp::disable_patch("klp_test", options);
    REQUIRE_FALSE(disabled);
    CHECK(disabled.error().to_string().find("stays enabled") != std::string::npos);
    CHECK(fake.writes == std::vector<std::string>{"klp_test/enabled=0", "klp_test/enabled=1"});
    CHECK((*lp::patch_status(options.kernel, "klp_test"))->state == lp::PatchState::Enabled);

    auto unloaded = lp::unload_patch("klp_test", options);
    REQUIRE_FALSE(unloaded);
    CHECK(fake.removed.empty());
}

TEST_CASE("unload disables the patch first, then removes the module and its copy") {
    FakeKernel fake;
    fake.transition_usec = 50'000;
    write_fake_file(fake.dir / "klp.ko", ElfModule::livepatch().build());
    lp::Options options = fake.options();
    REQUIRE(lp::load_patch({fake.dir / "klp.ko", "", false}, options));
    auto unloaded = lp::unload_patch("klp_test", options);
    REQUIRE_MESSAGE(unloaded, (unloaded ? std::string() : unloaded.error().to_string()));
    CHECK(fake.writes == std::vector<std::string>{"klp_test/enabled=0"});
    CHECK(fake.removed == std::vector<std::string>{"klp_test"});
    CHECK_FALSE(keel::path_exists(options.run_directory + "/klp_test.ko"));
    CHECK_FALSE(*lp::patch_status(options.kernel, "klp_test"));

    auto missing = lp::unload_patch("klp_test", options);
    REQUIRE_FALSE(missing);
    CHECK(missing.error().to_string().find("no live patch") != std::string::npos);
}

TEST_CASE("a second patch of the same name is refused while the first is loaded") {
    FakeKernel fake;
    write_fake_file(fake.dir / "klp.ko", ElfModule::livepatch().build());
    lp::Options options = fake.options();
    REQUIRE(lp::load_patch({fake.dir / "klp.ko", "", false}, options));
    auto again = lp::load_patch({fake.dir / "klp.ko", "", false}, options);
    REQUIRE_FALSE(again);
    CHECK(again.error().to_string().find("already loaded") != std::string::npos);
    CHECK(fake.inserted.size() == 1);
}

TEST_CASE("--replace disables and unloads every other live patch after the transition") {
    FakeKernel fake;
    lp::Options options = fake.options();
    write_fake_file(fake.dir / "a.ko", ElfModule::livepatch("klp_a").build());
    write_fake_file(fake.dir / "b.ko", ElfModule::livepatch("klp_b").build());
    write_fake_file(fake.dir / "c.ko", ElfModule::livepatch("klp_c").build());
    REQUIRE(lp::load_patch({fake.dir / "a.ko", "", false}, options));
    REQUIRE(lp::load_patch({fake.dir / "b.ko", "", false}, options));
    REQUIRE(lp::disable_patch("klp_b", options)); // disabled, still loaded
    auto loaded = lp::load_patch({fake.dir / "c.ko", "", true}, options);
    REQUIRE_MESSAGE(loaded, (loaded ? std::string() : loaded.error().to_string()));
    CHECK(loaded->replaced == std::vector<std::string>{"klp_a", "klp_b"});
    auto left = lp::loaded_patches(options.kernel);
    REQUIRE(left);
    REQUIRE(left->size() == 1);
    CHECK((*left)[0].name == "klp_c");
}

TEST_CASE("list shows transition progress as tasks switched out of tasks seen") {
    FakeKernel fake;
    fake.stuck_patching = true;
    fake.add_task(1, 1, "keel");
    fake.add_task(2, 1, "kthreadd");
    fake.add_task(42, 0, "stuck-task");
    write_fake_file(fake.dir / "klp.ko", ElfModule::livepatch().build());
    lp::Options options = fake.options();
    // Insert without waiting, as boot does, to look at a transition in flight.
    REQUIRE(lp::install_patch(fake.dir / "klp.ko", options));
    std::vector<lp::BootLoad> loads = lp::load_installed(options);
    REQUIRE(loads.size() == 1);
    auto patches = lp::loaded_patches(options.kernel);
    REQUIRE(patches);
    REQUIRE(patches->size() == 1);
    CHECK((*patches)[0].state == lp::PatchState::Patching);
    CHECK((*patches)[0].tasks_total == 3);
    CHECK((*patches)[0].tasks_transitioned == 2);
}

TEST_CASE("boot loads the installed set without waiting for transitions and records results") {
    FakeKernel fake;
    fake.transition_usec = 5'000'000; // slow: boot must not wait for it
    lp::Options options = fake.options();
    write_fake_file(fake.dir / "good.ko", ElfModule::livepatch("klp_good").build());
    REQUIRE(lp::install_patch(fake.dir / "good.ko", options));
    // A module installed for this kernel whose vermagic was changed since.
    std::string dir = options.install_root + "/" + std::string(kRelease);
    write_fake_file(dir + "/klp_stale.ko",
                    ElfModule::livepatch("klp_stale", "6.1.0-1-amd64 SMP ").build());

    std::vector<lp::BootLoad> loads = lp::load_installed(options);
    REQUIRE(loads.size() == 2);
    CHECK(loads[0].name == "klp_good");
    CHECK(loads[0].result);
    CHECK_FALSE(loads[0].transition_complete);
    CHECK(loads[1].name == "klp_stale");
    REQUIRE_FALSE(loads[1].result);
    CHECK(loads[1].result.error().to_string().find("vermagic check failed") != std::string::npos);
    CHECK(fake.sleeps == 0);
    CHECK(fake.inserted == std::vector<std::string>{"klp_good"});

    auto installed = lp::installed_patches(options);
    REQUIRE(installed);
    REQUIRE(installed->size() == 2);
    CHECK((*installed)[0].boot_result == "loaded at boot");
    REQUIRE((*installed)[1].boot_result);
    CHECK((*installed)[1].boot_result->find("not loaded at boot: refused") != std::string::npos);
}

TEST_CASE("keel.patches=0 leaves the installed set alone") {
    // The real boot step reads the real paths; with keel.patches=0 it must
    // return before touching any of them.
    auto cmdline = keel::KernelCommandLine::parse("quiet keel.patches=0");
    REQUIRE(cmdline);
    lp::load_installed_patches(*cmdline);
}
