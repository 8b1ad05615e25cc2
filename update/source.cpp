// update/source: the HTTP(S) update source (update/source.h): URLs of the
// source's directory, small fetches (channel, manifest, signature) into
// memory, the resumable image stream, and the machine's side of a check
// (running version, machine-id, [Update] settings).
#include "update/source.h"

#include "update/update_config.h"

#include "base/signature.h"
#include "base/strings.h"
#include "base/sys.h"
#include "base/unit_file.h"

#include <algorithm>
#include <cerrno>
#include <optional>
#include <thread>
#include <time.h>

namespace keel::update {

namespace {

std::string request_line(const net::Url& url) {
    return cat("GET ", url.str());
}

std::unexpected<Error> status_error(const net::Url& url, const net::Response& response) {
    return error(cat(request_line(url), ": ", response.status(), " ", response.reason()));
}

// KEY= of [Update] into `out` when set and not empty. (Not a
// Result<optional>: libc++ 16's expected would keep its flag in the
// optional's padding; see base/result.h.)
Result<void> read_version_key(const UnitFile& file, std::string_view key,
                              std::optional<Version>& out) {
    std::optional<std::string> value = file.get(kUpdateSection, key);
    if (!value || value->empty())
        return {};
    Result<Version> version = parse_version(*value);
    if (!version)
        return std::unexpected(std::move(version).error().wrap(cat(file.filename(), ": ", key)));
    out = std::move(*version);
    return {};
}

bool is_channel_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
}

Result<void> check_channel_name(std::string_view channel) {
    if (channel.empty() || channel.size() > 64 || channel.front() == '.' ||
        !std::all_of(channel.begin(), channel.end(), is_channel_char))
        return error(cat("channel ", quoted(channel.substr(0, 64)),
                         ": expected 1 to 64 letters, digits, `.`, `_` or `-`, not starting "
                         "with `.`"));
    return {};
}

// The value of KEY= in an os-release file (quotes removed), or nullopt.
std::optional<std::string> os_release_value(std::string_view text, std::string_view key) {
    for (std::string_view line : split(text, '\n')) {
        line = trim(line);
        if (line.size() <= key.size() || !starts_with(line, key) || line[key.size()] != '=')
            continue;
        std::string_view value = line.substr(key.size() + 1);
        if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') &&
            value.back() == value.front())
            value = value.substr(1, value.size() - 2);
        return std::string(value);
    }
    return std::nullopt;
}

// The image's bytes over HTTP from a position on; reconnects at the
// position reached (see open_http_source()).
class HttpImageSource final : public ImageSource {
public:
    HttpImageSource(net::Url url, uint64_t offset, DownloadOptions options)
        : m_url(std::move(url)), m_options(std::move(options)), m_position(offset) {}

    // Opens the first response (errors are not retried here: a source that
    // cannot be opened at all is reported at once).
    Result<void> open() { return connect(); }

    Result<size_t> read(std::span<char> buffer) override {
        for (;;) {
            if (finished())
                return 0;
            if (!m_response) {
                Result<void> connected = connect();
                if (!connected) {
                    if (m_permanent)
                        return std::unexpected(std::move(connected).error());
                    TRY(give_up_or_wait(std::move(connected).error()));
                    continue;
                }
                if (finished())
                    return 0;
            }
            Result<size_t> n = m_response->read(buffer.data(), buffer.size());
            if (n && *n > 0) {
                m_position += *n;
                m_failures = 0;
                return *n;
            }
            m_response.reset();
            if (n) {
                // The body ended: the image's end, unless the server said
                // there is more (a body read until the connection closed).
                if (!m_total)
                    return size_t(0);
                if (m_position > *m_total)
                    return error(cat(request_line(m_url), ": the server sent ", m_position,
                                     " bytes of an image of ", *m_total));
                TRY(give_up_or_wait(Error::from_errno(
                    EPIPE, cat("body ended at byte ", m_position, " of ", *m_total))));
                continue;
            }
            TRY(give_up_or_wait(std::move(n).error()));
        }
    }

    std::string describe() const override { return m_url.str(); }

private:
    bool finished() const { return m_total && m_position >= *m_total && !m_response; }

    // After a failure: an error when too many came in a row, else a pause
    // before the next attempt.
    Result<void> give_up_or_wait(Error failure) {
        ++m_failures;
        if (m_failures > m_options.max_reconnects)
            return std::unexpected(
                std::move(failure).wrap(cat(request_line(m_url), ": at byte ", m_position,
                                            ", after ", m_options.max_reconnects, " reconnects")));
        std::chrono::milliseconds delay =
            m_options.reconnect_delay * (1 << std::min(m_failures - 1, 10));
        std::this_thread::sleep_for(delay);
        return {};
    }

    // Records the image's length from a response; a length that changed
    // between responses is a different image.
    Result<void> learn_total(uint64_t total) {
        if (m_total && *m_total != total) {
            m_permanent = true;
            return error(cat(request_line(m_url), ": the image was ", *m_total,
                             " bytes and is now ", total, ": it changed on the server"));
        }
        m_total = total;
        return {};
    }

    // What identifies this version of the image on the server: its ETag
    // when strong, else its Last-Modified date; empty when it has neither.
    static std::string validator_of(const net::Response& response) {
        if (std::optional<std::string_view> etag = response.headers().get("ETag");
            etag && !starts_with(*etag, "W/"))
            return std::string(*etag);
        return std::string(response.headers().get("Last-Modified").value_or(""));
    }

    // Records the image's validator from a response; another one than the
    // first response's is another image.
    Result<void> learn_validator(const net::Response& response) {
        std::string validator = validator_of(response);
        if (!m_validator.empty() && validator != m_validator) {
            m_permanent = true;
            return error(cat(request_line(m_url), ": the image changed on the server (it was ",
                             m_validator, ", it is now ", validator.empty() ? "unnamed" : validator,
                             "): download it again from the start"));
        }
        m_validator = std::move(validator);
        return {};
    }

    Result<void> connect() {
        net::Request request;
        request.url = m_url;
        if (m_position > 0) {
            request.headers.add("Range", cat("bytes=", m_position, "-"));
            // The rest of this version of the image, or all of the current
            // one (200): never its rest spliced onto this one's start.
            if (!m_validator.empty())
                request.headers.add("If-Range", m_validator);
        }
        m_permanent = false;
        Result<net::Response> fetched = net::fetch(request, m_options.client);
        if (!fetched)
            return std::unexpected(std::move(fetched).error().wrap(request_line(m_url)));
        net::Response response = std::move(*fetched);
        m_permanent = true; // a surprising answer is not cured by asking again
        if (response.status() == 200 || response.status() == 206)
            TRY(learn_validator(response));
        if (response.status() == 206) {
            std::optional<std::string_view> header = response.headers().get("Content-Range");
            if (!header)
                return error(cat(request_line(m_url), ": 206 without Content-Range"));
            std::optional<ContentRange> range = parse_content_range(*header);
            if (!range)
                return error(cat(request_line(m_url), ": malformed Content-Range ",
                                 quoted(header->substr(0, 100))));
            if (!range->first || *range->first != m_position)
                return error(cat(request_line(m_url), ": asked for bytes from ", m_position,
                                 ", got ", *header));
            if (range->total)
                TRY(learn_total(*range->total));
        } else if (response.status() == 200) {
            if (std::optional<uint64_t> length = response.content_length())
                TRY(learn_total(*length));
            // No Range support: the whole image again; skip what was had
            // (a cut while skipping is retried like any other).
            m_permanent = false;
            TRY(skip(response, m_position));
        } else if (response.status() == 416 && m_position > 0) {
            // Nothing from this offset on: the end, if the image ends here.
            std::optional<std::string_view> header = response.headers().get("Content-Range");
            std::optional<ContentRange> range =
                header ? parse_content_range(*header) : std::nullopt;
            if (!range || !range->total || *range->total != m_position)
                return error(
                    cat(request_line(m_url), ": 416 ", response.reason(), " at byte ", m_position));
            TRY(learn_total(*range->total));
            return {};
        } else {
            return status_error(m_url, response);
        }
        m_permanent = false;
        m_response = std::move(response);
        return {};
    }

    Result<void> skip(net::Response& response, uint64_t count) {
        char scratch[64 * 1024];
        while (count > 0) {
            size_t n =
                TRY_CTX(response.read(scratch, size_t(std::min<uint64_t>(count, sizeof scratch))),
                        request_line(m_url));
            if (n == 0)
                return error(
                    cat(request_line(m_url), ": the image ended before byte ", m_position));
            count -= n;
        }
        return {};
    }

    net::Url m_url;
    DownloadOptions m_options;
    uint64_t m_position;
    std::optional<uint64_t> m_total;
    std::optional<net::Response> m_response;
    /// The first response's ETag or Last-Modified (see validator_of()).
    std::string m_validator;
    int m_failures = 0;
    bool m_permanent = false;
};

} // namespace

Result<SourceConfig> parse_source_config(std::string_view text, const std::string& filename) {
    UnitFile file = TRY(UnitFile::parse(text, filename));
    SourceConfig config;
    if (std::optional<std::string> source = file.get(kUpdateSection, "Source");
        source && !source->empty()) {
        TRY_CTX(net::parse_url(*source), cat(filename, ": Source"));
        config.base_url = *source;
    }
    if (std::optional<std::string> channel = file.get(kUpdateSection, "Channel");
        channel && !channel->empty()) {
        TRY_CTX(check_channel_name(*channel), cat(filename, ": Channel"));
        config.channel = *channel;
    }
    TRY(read_version_key(file, "Version", config.policy.pinned));
    TRY(read_version_key(file, "MinVersion", config.policy.minimum));
    TRY(read_version_key(file, "MaxVersion", config.policy.maximum));
    if (config.policy.minimum && config.policy.maximum &&
        *config.policy.minimum > *config.policy.maximum)
        return error(cat(filename, ": MinVersion=", config.policy.minimum->text,
                         " is above MaxVersion=", config.policy.maximum->text));
    config.ca_file = file.get(kUpdateSection, "CAFile").value_or("");
    if (std::optional<std::string> signed_channel = file.get(kUpdateSection, "SignedChannel");
        signed_channel && !signed_channel->empty())
        config.signed_channel =
            TRY_CTX(parse_boolean(*signed_channel), cat(filename, ": SignedChannel"));
    return config;
}

Result<SourceConfig> load_source_config(const std::string& path) {
    Result<std::string> text = read_file(path);
    if (!text) {
        if (text.error().code() == ENOENT)
            return SourceConfig{};
        return std::unexpected(std::move(text).error());
    }
    return parse_source_config(*text, path);
}

Result<Version> read_running_version(const std::string& root) {
    std::string prefix = root == "/" ? "" : root;
    for (std::string_view file : {"/etc/os-release", "/usr/lib/os-release"}) {
        std::string path = cat(prefix, file);
        Result<std::string> text = read_file(path);
        if (!text) {
            if (text.error().code() == ENOENT)
                continue;
            return std::unexpected(std::move(text).error());
        }
        std::optional<std::string> value = os_release_value(*text, "VERSION_ID");
        if (!value)
            return error(cat(path, ": no VERSION_ID"));
        return TRY_CTX(parse_version(*value), cat(path, ": VERSION_ID"));
    }
    return error(cat("no os-release under ", quoted(root), " says which version is running"));
}

Result<std::string> read_machine_id(const std::string& root) {
    std::string path = cat(root == "/" ? "" : root, "/etc/machine-id");
    std::string text = TRY(read_file(path));
    std::string_view id = trim(text);
    if (id.size() != 32 || !std::all_of(id.begin(), id.end(), [](char c) {
            return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
        }))
        return error(cat(path, ": expected 32 lower-case hex digits"));
    return std::string(id);
}

Result<net::Url> source_url(std::string_view base_url, std::string_view path) {
    net::Url base = TRY_CTX(net::parse_url(base_url), cat("update source ", quoted(base_url)));
    if (base.target.find('?') != std::string::npos)
        return error(cat("update source ", quoted(base_url), ": a directory URL has no query"));
    std::string text = base.str();
    if (text.back() != '/')
        text += '/';
    text += path;
    return TRY_CTX(net::parse_url(text), cat("update source ", quoted(base_url)));
}

Result<net::Url> channel_url(std::string_view base_url, std::string_view channel) {
    TRY(check_channel_name(channel));
    return source_url(base_url, cat("channels/", channel, ".json"));
}

Result<std::string> fetch_small(const net::Url& url, size_t limit, const DownloadOptions& options) {
    net::Request request;
    request.url = url;
    net::Response response = TRY_CTX(net::fetch(request, options.client), request_line(url));
    if (response.status() != 200)
        return status_error(url, response);
    if (std::optional<uint64_t> length = response.content_length(); length && *length > limit)
        return error(cat(request_line(url), ": ", *length, " bytes; the most is ", limit));
    return TRY_CTX(response.read_body(limit), request_line(url));
}

Result<std::unique_ptr<ImageSource>> open_http_source(const net::Url& url, uint64_t offset,
                                                      const DownloadOptions& options) {
    auto source = std::make_unique<HttpImageSource>(url, offset, options);
    TRY(source->open());
    return std::unique_ptr<ImageSource>(std::move(source));
}

Result<Offer> check_for_update(const CheckRequest& request) {
    const SourceConfig& config = request.config;
    if (config.base_url.empty())
        return error(
            cat("no update source: give --source or Source= in [Update] of ", kUpdateConfigPath));
    DownloadOptions download = request.download;
    if (!config.ca_file.empty())
        download.client.tls.ca_file = config.ca_file;

    Offer offer;
    net::Url channel_at = TRY(channel_url(config.base_url, config.channel));
    offer.channel_url = channel_at.str();
    std::string text = TRY(fetch_small(channel_at, kMaxChannelBytes, download));
    if (config.signed_channel) {
        std::string name = cat(config.channel, ".json.sig");
        net::Url signature_at = TRY(source_url(config.base_url, cat("channels/", name)));
        std::string signature = TRY(fetch_small(signature_at, kMaxSignatureBytes, download));
        std::vector<std::string> keys = TRY(trusted_key_files(request.trusted_keys_directory));
        SignatureKey key =
            TRY_CTX(verify_detached_signature(text, signature, keys, request.trusted_keys_directory,
                                              quoted(name)),
                    offer.channel_url);
        offer.channel_key_id = key.key_id;
    }
    offer.channel = TRY_CTX(parse_channel(text), offer.channel_url);
    if (offer.channel.name != config.channel)
        return error(cat(offer.channel_url, ": channel: ", quoted(offer.channel.name),
                         ", expected ", quoted(config.channel)));
    // Signed, the channel says how long it is current: a source that
    // keeps serving it past that (a mirror nobody refreshes, or one that
    // withholds updates) is found out, as TUF's timestamp role does.
    if (config.signed_channel && !offer.channel.expires)
        return error(cat(offer.channel_url, ": SignedChannel=yes, but the channel has no "
                                            "\"expires\": a signed channel says until when it is "
                                            "current"));
    if (offer.channel.expires && *offer.channel.expires <= request.now)
        return error(cat(offer.channel_url, ": expired at ",
                         format_rfc3339_utc(*offer.channel.expires),
                         ": the source serves a channel nobody has renewed (a stale mirror, or "
                         "updates withheld); refused"));
    offer.decision = choose_update(offer.channel, request.running, config.policy,
                                   request.machine_id, request.now);
    if (!offer.decision.release)
        return offer;
    const Release& release = *offer.decision.release;
    net::Url manifest = TRY(source_url(config.base_url, release.manifest));
    net::Url signature = TRY(source_url(config.base_url, release.signature));
    net::Url image = TRY(source_url(config.base_url, release.image));
    offer.manifest_url = manifest.str();
    offer.signature_url = signature.str();
    offer.image_url = image.str();
    if (offer.decision.verdict != Verdict::Update)
        return offer;
    offer.manifest = TRY(fetch_small(manifest, kMaxManifestBytes, download));
    offer.signature = TRY(fetch_small(signature, kMaxSignatureBytes, download));
    return offer;
}

Result<OfferedInstall> install_offered_update(const SourceConfig& config, InstallRequest request,
                                              const DownloadOptions& download,
                                              const std::string& root) {
    if (config.base_url.empty())
        return error(
            cat("no update source is configured (Source= in [Update] of ", kUpdateConfigPath, ")"));
    CheckRequest check;
    check.config = config;
    check.running = TRY(read_running_version(root));
    check.machine_id = TRY(read_machine_id(root));
    check.now = ::time(nullptr);
    check.trusted_keys_directory = request.trusted_keys_directory;
    check.download = download;
    if (check.download.client.tls.ca_file.empty())
        check.download.client.tls.ca_file = config.ca_file;
    Offer offer = TRY(check_for_update(check));
    OfferedInstall done;
    const Decision& decision = offer.decision;
    if (decision.verdict != Verdict::Update) {
        std::string reason = decision.reason.empty() ? "" : cat(" (", decision.reason, ")");
        if (decision.verdict == Verdict::UpToDate)
            done.summary = cat("up to date at ", check.running.text, reason);
        else if (decision.verdict == Verdict::Waiting)
            done.summary = cat(decision.release->version.text, " waits for its rollout wave until ",
                               format_rfc3339_utc(decision.eligible_at));
        else
            done.summary = cat("nothing to install", reason);
        return done;
    }
    // The manifest is signed, and the channel only with SignedChannel=yes:
    // the release it names must be what the signed manifest says it is.
    // Else a mirror could offer an older signed release as a newer one (a
    // rollback to a known flaw) or another channel's build.
    const Release& release = *decision.release;
    SignedManifest signed_manifest = TRY_CTX(
        verify_signed_manifest(offer.manifest, offer.signature, request.trusted_keys_directory),
        offer.manifest_url);
    const Manifest& manifest = signed_manifest.manifest;
    if (TRY(compare_versions(manifest.version, release.version.text)) != 0)
        return error(cat(offer.manifest_url, ": the signed manifest is version ", manifest.version,
                         ", but channel ", quoted(config.channel), " offers it as ",
                         release.version.text, ": refused"));
    if (manifest.channel != config.channel)
        return error(cat(offer.manifest_url, ": the signed manifest is for channel ",
                         quoted(manifest.channel), ", not ", quoted(config.channel), ": refused"));
    net::Url image_url = TRY(net::parse_url(offer.image_url));
    request.manifest = std::move(offer.manifest);
    request.signature = std::move(offer.signature);
    DownloadOptions image_download = check.download;
    done.report = TRY(install_update(request, [&](uint64_t offset) {
        return open_http_source(image_url, offset, image_download);
    }));
    done.installed = true;
    done.summary = cat("installed ", done.report.version, " into slot ",
                       kSlotNames.name(done.report.slot), " (", slot_label(done.report.slot),
                       ") of ", request.disk, ", signed by key ", done.report.key_id,
                       "; it boots next: ", done.report.slots[done.report.slot].flags.to_string(),
                       " (from ", offer.image_url, ")");
    return done;
}

} // namespace keel::update
