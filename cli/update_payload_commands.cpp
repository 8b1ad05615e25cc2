// `keel update sign|pack|verify|install`: update payloads. Each command is
// a thin layer over update/pack.h and update/install.h; the disk and the
// running slot default to the ones the system booted from, as for the
// other `keel update` commands.
#include "cli/update_payload_commands.h"

#include "base/signature.h"
#include "base/strings.h"
#include "base/sys.h"
#include "update/install.h"
#include "update/pack.h"
#include "update/source.h"
#include "update/update.h"

#include <fcntl.h>

#include <optional>
#include <string>
#include <time.h>

namespace keel::cli {

namespace {

namespace up = update;

const Option kKeyOption{
    .name = "--key",
    .value_name = "KEY.pem",
    .type = ValueType::Text,
    .presence = Presence::Required,
    .help = "the PEM private key to sign with (Ed25519, EC P-256 or RSA, unencrypted)"};
CommandResult update_sign(const ParsedArgs& args) {
    std::string file(*args.positional("FILE"));
    std::string signature =
        TRY(sign_detached(TRY(read_file(file)), std::string(*args.value("--key"))));
    std::string out = cat(file, kSignatureSuffix);
    {
        Storage& storage = system_storage();
        File sig = TRY(storage.open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644));
        TRY(storage.write_all(sig, signature));
        TRY(storage.fsync(sig));
    }
    print(cat("signed ", file, ": ", out, " (key ",
              TRY(signing_key_id(std::string(*args.value("--key")))), ")\n"));
    return kExitSuccess;
}

CommandResult update_pack(const ParsedArgs& args) {
    up::PackRequest request;
    request.image = std::string(*args.value("--image"));
    request.version = std::string(*args.value("--version"));
    request.channel = std::string(*args.value("--channel"));
    request.private_key = std::string(*args.value("--key"));
    request.output = std::string(*args.value("--output"));
    if (auto chunk = args.number("--chunk-size"))
        request.chunk_size = *chunk;
    up::Manifest manifest = TRY(up::pack_payload(request));
    print(cat("packed ", manifest.version, " (", manifest.channel, ") into ", request.output, ": ",
              manifest.image.size, " bytes in ", manifest.image.chunks.size(),
              " chunks, dm-verity root hash ", manifest.verity.root_hash, " (hash offset ",
              manifest.verity.hash_offset, ")\n"));
    return kExitSuccess;
}

CommandResult update_verify(const ParsedArgs& args) {
    std::string directory(*args.positional("DIR"));
    up::SignedManifest verified = TRY(up::verify_payload(directory, trusted_directory(args)));
    print(cat(directory, ": version ", verified.manifest.version, " (", verified.manifest.channel,
              "), signed by ", verified.key.path, " (key ", verified.key.key_id,
              "); image, chunks and dm-verity tree match\n"));
    return kExitSuccess;
}

// DIR, or DIR/manifest.json: the payload's three files.
struct PayloadFiles {
    std::string manifest;
    std::string signature;
    std::string image;
};

PayloadFiles payload_files(std::string_view given) {
    std::string path(given);
    if (is_directory(path))
        return {cat(path, "/", up::kPayloadManifestName), cat(path, "/", up::kPayloadSignatureName),
                cat(path, "/", up::kPayloadImageName)};
    size_t slash = path.rfind('/');
    std::string directory = slash == std::string::npos ? "." : path.substr(0, slash);
    return {path, cat(path, kSignatureSuffix), cat(directory, "/", up::kPayloadImageName)};
}

bool is_url(std::string_view payload) {
    return payload.starts_with("http://") || payload.starts_with("https://");
}

// Where the image comes from, and the manifest and signature in hand.
struct PayloadSource {
    std::string manifest;
    std::string signature;
    up::SourceOpener open;
};

// A payload directory served over HTTP(S): BASE/manifest.json, its .sig
// and BASE/root.img, the image streamed (resumable with a Range request).
Result<PayloadSource> remote_payload(std::string_view base, const up::DownloadOptions& download) {
    net::Url manifest_url = TRY(up::source_url(base, up::kPayloadManifestName));
    net::Url signature_url = TRY(up::source_url(base, up::kPayloadSignatureName));
    net::Url image_url = TRY(up::source_url(base, up::kPayloadImageName));
    PayloadSource source;
    source.manifest = TRY(up::fetch_small(manifest_url, up::kMaxManifestBytes, download));
    source.signature = TRY_CTX(up::fetch_small(signature_url, up::kMaxSignatureBytes, download),
                               "the manifest's signature");
    source.open = [image_url, download](uint64_t offset) {
        return up::open_http_source(image_url, offset, download);
    };
    return source;
}

CommandResult update_install(const ParsedArgs& args) {
    up::InstallRequest request;
    request.trusted_keys_directory = trusted_directory(args);
    if (auto progress = args.value("--progress-file"))
        request.progress_path = std::string(*progress);
    if (auto slot = args.value("--slot")) {
        auto parsed = up::kSlotNames.parse(*slot);
        if (!parsed)
            return usage_error(args, cat("--slot: expected A or B, got ", quoted(*slot)));
        request.slot = *parsed;
    }
    auto booted = up::booted_slot();
    if (booted)
        request.disk = booted->disk;
    if (auto disk = args.value("--disk"); disk && *disk != request.disk)
        request.disk = std::string(*disk); // not the disk booted from: no slot runs there
    else if (booted)
        request.booted = booted->slot;
    if (request.disk.empty())
        return std::unexpected(
            Failure(Error::message(cat("which disk? give --disk (the booted one is not known: ",
                                       booted.error().to_string(), ")"))));

    up::DownloadOptions download;
    if (auto ca_file = args.value("--ca-file"))
        download.client.tls.ca_file = std::string(*ca_file);
    std::optional<std::string_view> payload = args.positional("PAYLOAD");
    if (!payload) {
        // What the configured update source offers this machine now.
        up::SourceConfig config = TRY(up::load_source_config());
        up::OfferedInstall done =
            TRY(up::install_offered_update(config, std::move(request), download));
        print(cat(done.summary, "\n"));
        return kExitSuccess;
    }
    PayloadSource source;
    if (is_url(*payload)) {
        source = TRY(remote_payload(*payload, download));
    } else {
        PayloadFiles files = payload_files(*payload);
        source.manifest = TRY(read_file(files.manifest));
        source.signature = TRY_CTX(read_file(files.signature), "the manifest's signature");
        source.open = [image = files.image](uint64_t offset) {
            return up::open_file_source(image, offset);
        };
    }
    request.manifest = std::move(source.manifest);
    request.signature = std::move(source.signature);
    up::InstallReport report = TRY(up::install_update(request, source.open));
    if (report.resumed_from != 0)
        print(cat("resumed at byte ", report.resumed_from, "\n"));
    print(cat("installed ", report.version, " into slot ", up::kSlotNames.name(report.slot), " (",
              up::slot_label(report.slot), ") of ", request.disk, ", signed by key ", report.key_id,
              "; it boots next: ", report.slots[report.slot].flags.to_string(), "\n"));
    return kExitSuccess;
}

} // namespace

const Option kTrustedOption{
    .name = "--trusted",
    .value_name = "DIR",
    .type = ValueType::Text,
    .help = "the directory of trusted public keys (*.pem; default /etc/keel/trusted.d)"};

std::string trusted_directory(const ParsedArgs& args) {
    if (auto trusted = args.value("--trusted"))
        return std::string(*trusted);
    return std::string(kTrustedKeysDirectory);
}

const Command kUpdateSignCommand{
    .names = {"sign"},
    .summary = "sign FILE (a manifest) with a private key: writes FILE.sig",
    .options = {kKeyOption},
    .positionals = {{.name = "FILE", .noun = "file"}},
    .run = update_sign,
};

const Command kUpdatePackCommand{
    .names = {"pack"},
    .summary = "make a signed payload from a root image: DIR/root.img (with its dm-verity tree), "
               "DIR/manifest.json, DIR/manifest.json.sig",
    .options = {{.name = "--image",
                 .value_name = "ROOT.img",
                 .type = ValueType::Text,
                 .presence = Presence::Required,
                 .help = "the root filesystem image"},
                {.name = "--version",
                 .value_name = "V",
                 .type = ValueType::Text,
                 .presence = Presence::Required,
                 .help = "the version: dotted numbers, like 1.4.12"},
                {.name = "--channel",
                 .value_name = "C",
                 .type = ValueType::Text,
                 .presence = Presence::Required,
                 .help = "the channel: stable, beta, ..."},
                kKeyOption,
                {.name = "--output",
                 .value_name = "DIR",
                 .type = ValueType::Text,
                 .presence = Presence::Required,
                 .help = "the payload directory to write"},
                {.name = "--chunk-size",
                 .value_name = "BYTES",
                 .type = ValueType::Number,
                 .max = up::kMaxChunkSize,
                 .expected = "a power of two from 4096 to 64 MiB",
                 .help = "bytes per checked chunk (default 1 MiB)"}},
    .run = update_pack,
};

const Command kUpdateVerifyCommand{
    .names = {"verify"},
    .summary = "check a payload directory: the manifest's signature against trusted keys, the "
               "image's chunks, its SHA-256 and its dm-verity tree",
    .options = {kTrustedOption},
    .positionals = {{.name = "DIR", .noun = "payload directory"}},
    .run = update_verify,
};

const Command kUpdateInstallCommand{
    .names = {"install"},
    .summary = "install a payload (a directory or its manifest.json, an http(s):// URL of one, "
               "or without PAYLOAD what the configured source offers) into the slot not "
               "running; it boots next, once",
    .options = {{.name = "--disk",
                 .value_name = "DISK",
                 .type = ValueType::Text,
                 .help = "the disk or disk image holding ROOT-A and ROOT-B (default: the disk "
                         "the system booted from)"},
                {.name = "--slot",
                 .value_name = "SLOT",
                 .type = ValueType::Text,
                 .help = "the slot to write, A or B (default: the one not running, or on a "
                         "disk image the one that would not boot)"},
                kTrustedOption,
                {.name = "--ca-file",
                 .value_name = "FILE",
                 .type = ValueType::Text,
                 .help = "a PEM file of CAs to trust besides the system's (an https payload)"},
                {.name = "--progress-file",
                 .value_name = "FILE",
                 .type = ValueType::Text,
                 .help = "where progress is kept for a resumed install (default "
                         "/var/lib/keel/update/progress)"}},
    .positionals = {{.name = "PAYLOAD", .count = Count::Optional, .noun = "payload"}},
    .notes = R"(The manifest's signature must verify against a trusted key: an update is
never installed unsigned. The slot is made unbootable before its first byte is
written; every chunk is checked against the manifest before it is written; the
slot is read back and checked once more, then gets the signed manifest in its
footer and a priority above the running slot with one try. An interrupted
install of the same payload continues from the first chunk not yet written.)",
    .run = update_install,
};

} // namespace keel::cli
