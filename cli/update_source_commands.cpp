// `keel update check` and `keel update download` (update/source.h). check
// reads the machine's side (running version, machine-id, [Update]
// settings, each overridable on the command line), asks the source, and
// prints the decision; download streams one image URL into a file, from an
// offset when resuming.
#include "cli/update_source_commands.h"

#include "base/json.h"
#include "base/strings.h"
#include "base/sys.h"
#include "cli/update_payload_commands.h"
#include "update/source.h"

#include <fcntl.h>
#include <string>
#include <time.h>
#include <unistd.h>
#include <vector>

namespace keel::cli {

namespace {

namespace up = update;

const Option kCaFileOption{.name = "--ca-file",
                           .value_name = "FILE",
                           .type = ValueType::Text,
                           .help = "a PEM file of CAs to trust besides the system's (an https "
                                   "source with its own CA)"};

// The version option `name` into `out` when given.
Result<void> read_version_option(const ParsedArgs& args, std::string_view name,
                                 std::optional<up::Version>& out) {
    if (std::optional<std::string_view> value = args.value(name))
        out = TRY_CTX(up::parse_version(*value), std::string(name));
    return {};
}

// The [Update] settings with the command line's overrides.
Result<up::SourceConfig> source_config_of(const ParsedArgs& args) {
    std::string path(args.value("--config").value_or(up::kUpdateConfigPath));
    up::SourceConfig config = TRY(up::load_source_config(path));
    if (auto source = args.value("--source"))
        config.base_url = std::string(*source);
    if (auto channel = args.value("--channel"))
        config.channel = std::string(*channel);
    TRY(read_version_option(args, "--version", config.policy.pinned));
    TRY(read_version_option(args, "--min-version", config.policy.minimum));
    TRY(read_version_option(args, "--max-version", config.policy.maximum));
    if (auto ca_file = args.value("--ca-file"))
        config.ca_file = std::string(*ca_file);
    if (args.flag("--signed-channel"))
        config.signed_channel = true;
    return config;
}

std::string decision_text(const up::Offer& offer) {
    const up::Decision& decision = offer.decision;
    std::string text;
    switch (decision.verdict) {
    case up::Verdict::UpToDate:
        text = "up to date";
        break;
    case up::Verdict::Update:
        text = cat("update to ", decision.release->version.text);
        break;
    case up::Verdict::Waiting:
        text = cat("update to ", decision.release->version.text, " waiting until ",
                   up::format_rfc3339_utc(decision.eligible_at), " for the rollout wave");
        break;
    case up::Verdict::PinnedNotOffered:
        break;
    }
    if (decision.reason.empty())
        return text;
    return text.empty() ? decision.reason : cat(text, " (", decision.reason, ")");
}

void print_json(const up::Offer& offer, const up::Version& running, const std::string& machine_id) {
    const up::Decision& decision = offer.decision;
    JsonWriter json;
    json.begin_object()
        .field("running", running.text)
        .field("machine_id", machine_id)
        .field("channel", offer.channel.name)
        .field("channel_url", offer.channel_url);
    json.key("channel_key_id");
    offer.channel_key_id.empty() ? json.null() : json.value(offer.channel_key_id);
    json.key("expires");
    offer.channel.expires ? json.value(up::format_rfc3339_utc(*offer.channel.expires))
                          : json.null();
    json.key("offered").begin_array();
    for (const up::Release& release : offer.channel.releases)
        json.value(release.version.text);
    json.end_array();
    json.field("decision", up::kVerdictNames.name(decision.verdict))
        .field("reason", decision.reason);
    json.key("version");
    decision.release ? json.value(decision.release->version.text) : json.null();
    json.key("eligible_at");
    decision.verdict == up::Verdict::Waiting
        ? json.value(up::format_rfc3339_utc(decision.eligible_at))
        : json.null();
    if (decision.release)
        json.field("manifest_url", offer.manifest_url)
            .field("signature_url", offer.signature_url)
            .field("image_url", offer.image_url);
    if (decision.verdict == up::Verdict::Update)
        json.field("manifest_bytes", offer.manifest.size())
            .field("signature_bytes", offer.signature.size());
    json.end_object();
    print(cat(json.text(), "\n"));
}

CommandResult update_check(const ParsedArgs& args) {
    std::string root(args.value("--root").value_or("/"));
    up::CheckRequest request;
    request.config = TRY(source_config_of(args));
    request.running = TRY(up::read_running_version(root));
    request.machine_id = TRY(up::read_machine_id(root));
    request.now = ::time(nullptr);
    request.trusted_keys_directory = trusted_directory(args);
    up::Offer offer = TRY(up::check_for_update(request));

    if (args.flag("--json")) {
        print_json(offer, request.running, request.machine_id);
        return kExitSuccess;
    }
    std::string offered;
    for (const up::Release& release : offer.channel.releases)
        offered += cat(offered.empty() ? "" : " ", release.version.text);
    print(cat("running:  ", request.running.text, "\n"));
    print(cat("channel:  ", offer.channel.name, " (", offer.channel_url, ") offers ",
              offered.empty() ? "nothing" : offered, "\n"));
    if (!offer.channel_key_id.empty())
        print(cat("signed:   by key ", offer.channel_key_id, ", current until ",
                  up::format_rfc3339_utc(*offer.channel.expires), "\n"));
    print(cat("decision: ", decision_text(offer), "\n"));
    if (offer.decision.release) {
        print(cat("manifest: ", offer.manifest_url, "\n"));
        print(cat("image:    ", offer.image_url, "\n"));
    }
    return kExitSuccess;
}

CommandResult update_download(const ParsedArgs& args) {
    std::string output(*args.value("--output"));
    uint64_t offset = args.number("--offset").value_or(0);
    net::Url url = TRY(net::parse_url(*args.positional("URL")));
    up::DownloadOptions options;
    if (auto ca_file = args.value("--ca-file"))
        options.client.tls.ca_file = std::string(*ca_file);

    std::unique_ptr<up::ImageSource> source = TRY(up::open_http_source(url, offset, options));
    int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (offset == 0 ? O_TRUNC : 0);
    Fd file = TRY(open_file(output, flags));
    if (::lseek(file.get(), off_t(offset), SEEK_SET) < 0)
        return std::unexpected(Failure(Error::from_errno(errno, cat("seek in ", quoted(output)))));
    std::vector<char> buffer(256 * 1024);
    uint64_t written = 0;
    for (;;) {
        size_t n = TRY(source->read(buffer));
        if (n == 0)
            break;
        TRY_CTX(write_all(file.get(), std::string_view(buffer.data(), n)),
                cat("write ", quoted(output)));
        written += n;
    }
    if (::ftruncate(file.get(), off_t(offset + written)) < 0)
        return std::unexpected(Failure(Error::from_errno(errno, cat("truncate ", quoted(output)))));
    print(
        cat(source->describe(), ": ", written, " bytes from byte ", offset, " to ", output, "\n"));
    return kExitSuccess;
}

} // namespace

const Command kUpdateCheckCommand{
    .names = {"check"},
    .summary = "ask the update source what to install: up to date, an update, or when this "
               "machine's rollout wave comes",
    .options = {{.name = "--source",
                 .value_name = "URL",
                 .type = ValueType::Text,
                 .help = "the source's base URL (default: Source= in [Update] of the config)"},
                {.name = "--channel",
                 .value_name = "CHANNEL",
                 .type = ValueType::Text,
                 .help = "the channel (default: Channel=, else stable)"},
                {.name = "--version",
                 .value_name = "V",
                 .type = ValueType::Text,
                 .help = "pin: exactly this version (default: Version=)"},
                {.name = "--min-version",
                 .value_name = "V",
                 .type = ValueType::Text,
                 .help = "nothing older (default: MinVersion=)"},
                {.name = "--max-version",
                 .value_name = "V",
                 .type = ValueType::Text,
                 .help = "nothing newer (default: MaxVersion=)"},
                kCaFileOption,
                {.name = "--signed-channel",
                 .help = "the channel must be signed by a trusted key and not expired "
                         "(default: SignedChannel=)"},
                kTrustedOption,
                {.name = "--config",
                 .value_name = "FILE",
                 .type = ValueType::Text,
                 .help = "the settings file (default: /etc/keel/update.conf)"},
                {.name = "--root",
                 .value_name = "DIR",
                 .type = ValueType::Text,
                 .help = "the root whose os-release and machine-id count (default: /)"},
                kJsonOption},
    .notes = R"(The running version is VERSION_ID of /etc/os-release (else
/usr/lib/os-release). The source is a static directory: BASE/channels/CHANNEL.json
lists releases (see docs/update.md, "Update source"). Nothing is installed.)",
    .run = update_check,
};

const Command kUpdateDownloadCommand{
    .names = {"download"},
    .summary = "download an image URL into a file, from an offset when resuming (Range requests, "
               "reconnecting after a cut)",
    .options = {{.name = "--output",
                 .short_name = 'o',
                 .value_name = "FILE",
                 .type = ValueType::Text,
                 .presence = Presence::Required,
                 .help = "the file written; from --offset on, what is before it is kept"},
                {.name = "--offset",
                 .value_name = "BYTES",
                 .type = ValueType::Number,
                 .expected = "a byte offset",
                 .help = "start at this byte of the image (default 0)"},
                kCaFileOption},
    .positionals = {{.name = "URL", .noun = "URL"}},
    .run = update_download,
};

} // namespace keel::cli
