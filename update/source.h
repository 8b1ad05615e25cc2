// update/source: where updates come from. An update source is a static
// HTTP(S) directory any web server can serve (docs/update.md "Update
// source"): BASE/channels/CHANNEL.json names each release's signed
// manifest, signature and root image by paths relative to BASE. This file
// fetches the channel and decides (update/channel.h), fetches the chosen
// release's manifest and signature into memory, and streams the image
// through an ImageSource that starts at any offset with a Range request and
// reconnects from the byte it reached when a connection is cut. It also
// reads what the machine needs for the decision: the running version
// (VERSION_ID of os-release), the machine-id, and the [Update] settings.
#pragma once

#include "base/result.h"
#include "net/http_client.h"
#include "update/channel.h"
#include "update/image_source.h"
#include "update/install.h"

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace keel::update {

/// The default channel when none is configured.
inline constexpr std::string_view kDefaultChannel = "stable";
/// The update role's settings file: its [Update] section.
inline constexpr std::string_view kUpdateConfigPath = "/etc/keel/update.conf";
/// The most bytes of a signed manifest or its signature fetched into memory.
inline constexpr size_t kMaxManifestBytes = 16 * 1024 * 1024;
inline constexpr size_t kMaxSignatureBytes = 64 * 1024;

/// How downloads behave.
struct DownloadOptions {
    /// Connect and idle timeouts, redirects, TLS trust (TlsOptions::ca_file
    /// for a source with its own CA).
    net::ClientOptions client;
    /// How often an image download reconnects after its connection failed
    /// without delivering a byte since the last reconnect.
    int max_reconnects = 4;
    /// The wait before the first reconnect; doubled for each next one.
    std::chrono::milliseconds reconnect_delay{500};
};

/// Where to look and what to accept ([Update] Source=, Channel=, Version=,
/// MinVersion=, MaxVersion=, CAFile=).
struct SourceConfig {
    /// BASE: an http:// or https:// URL of the directory; empty when none
    /// is configured.
    std::string base_url;
    std::string channel = std::string(kDefaultChannel);
    VersionPolicy policy;
    /// SignedChannel=yes: the channel must carry a signature by a trusted
    /// key (BASE/channels/CHANNEL.json.sig) and an "expires" still ahead.
    bool signed_channel = false;
    /// A PEM file of CAs trusted besides the system's, for an https source.
    /// (Last: a Result's value must not end in padding; see base/result.h.)
    std::string ca_file;
};

/// Reads the [Update] section of `path` (other sections and keys are left
/// to their owners). A missing file is the defaults; a bad value is an
/// error naming the file, line and key.
Result<SourceConfig> load_source_config(const std::string& path = std::string(kUpdateConfigPath));
/// The same, from text already read (`filename` names it in errors).
Result<SourceConfig> parse_source_config(std::string_view text, const std::string& filename);

/// The running root's version: VERSION_ID of `root`/etc/os-release, or of
/// `root`/usr/lib/os-release when /etc has none (os-release(5)'s order).
/// tools/mkimage writes it.
Result<Version> read_running_version(const std::string& root = "/");
/// The machine-id of `root`/etc/machine-id: 32 lower-case hex digits.
Result<std::string> read_machine_id(const std::string& root = "/");

/// A URL of the source: BASE with `path` appended (BASE is a directory, a
/// "/" between them is added when BASE lacks one).
Result<net::Url> source_url(std::string_view base_url, std::string_view path);
/// BASE/channels/CHANNEL.json. CHANNEL is letters, digits, . _ -.
Result<net::Url> channel_url(std::string_view base_url, std::string_view channel);

/// GETs `url` whole into memory; more than `limit` bytes, a status other
/// than 200, or a cut is an error naming the URL (and the status: "GET
/// http://host/x: 404 Not Found").
Result<std::string> fetch_small(const net::Url& url, size_t limit, const DownloadOptions& options);

/// Content-Range (net/http_message.h), by its old name here.
using net::ContentRange;
using net::parse_content_range;

/// The image at `url` as an ImageSource, from byte `offset` on. A request
/// at an offset asks for "Range: bytes=OFFSET-" and expects 206 with a
/// Content-Range starting there; a server that answers 200 instead (one
/// without Range support) sends the whole image again, and the source
/// skips its first OFFSET bytes, so the bytes delivered are the same. A
/// connection cut or timed out mid-body is reopened at the byte reached,
/// up to options.max_reconnects times in a row without progress, with
/// "If-Range" naming the image's first ETag (strong) or Last-Modified, so
/// a server whose image changed meanwhile answers with all of the new one
/// rather than its rest. A body that ends before the length the server
/// announced is an error, as is an image whose length or validator changes
/// between requests ("the image changed on the server").
Result<std::unique_ptr<ImageSource>> open_http_source(const net::Url& url, uint64_t offset,
                                                      const DownloadOptions& options);

/// What a check is about: this machine and its settings.
struct CheckRequest {
    SourceConfig config;
    Version running;
    std::string machine_id;
    /// Seconds since the epoch.
    int64_t now = 0;
    /// The keys a signed channel must verify against.
    std::string trusted_keys_directory = std::string(kTrustedKeysDirectory);
    /// (Last: a Result's value must not end in padding; see base/result.h.)
    DownloadOptions download;
};

/// check_for_update()'s answer: the channel, the decision, and for a
/// release to install now, its URLs and its manifest and signature bytes
/// (not yet verified: the installer checks the signature).
struct Offer {
    Decision decision;
    Channel channel;
    std::string channel_url;
    /// SignedChannel=yes: the trusted key the channel's signature verified
    /// against (its key id).
    std::string channel_key_id;
    /// Update and Waiting: the release's URLs.
    std::string manifest_url;
    std::string signature_url;
    std::string image_url;
    /// Update only: the bytes fetched from manifest_url and signature_url.
    std::string manifest;
    std::string signature;
};

/// Fetches the channel (with SignedChannel=yes also its signature, checked
/// against the trusted keys), refuses it past its "expires", decides, and
/// for an update fetches its manifest and signature. Errors name the URL.
Result<Offer> check_for_update(const CheckRequest& request);

/// What install_offered_update() did.
struct OfferedInstall {
    bool installed = false;
    InstallReport report; ///< when installed
    /// What happened, for a log or a terminal: "installed 2.0.0 into slot
    /// B ...", "up to date at 1.0.0", "2.0.0 waits for the rollout wave
    /// until ...". (Last: a Result's value must not end in padding.)
    std::string summary;
};

/// Asks the source `config` what this machine (running version and
/// machine-id read under `root`) should install now, and when it is an
/// update, installs it through install_update() with the image streamed
/// from its URL. `request` says where (the disk, the booted slot, trusted
/// keys, the progress file); the offer gives its manifest and signature.
/// Errors: no source configured, the check or the install failed.
Result<OfferedInstall> install_offered_update(const SourceConfig& config, InstallRequest request,
                                              const DownloadOptions& download = {},
                                              const std::string& root = "/");

} // namespace keel::update
