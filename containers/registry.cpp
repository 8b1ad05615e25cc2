// Pulling from an OCI distribution registry: the session (authentication,
// requests), documents fetched and checked by digest, blobs streamed to
// disk and checked, and the layout written last.
#include "containers/registry.h"

#include "base/digest.h"
#include "base/json.h"
#include "base/strings.h"
#include "base/sys.h"
#include "containers/image_store.h"
#include "net/http_auth.h"
#include "net/http_client.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

namespace keel::containers {

namespace {

constexpr size_t kMaxDocumentBytes = 4 * 1024 * 1024;
constexpr size_t kMaxTokenResponseBytes = 1024 * 1024;

std::string manifest_accept() {
    return cat(oci::kMediaTypeOciIndex, ", ", oci::kMediaTypeOciManifest, ", ",
               oci::kMediaTypeDockerManifestList, ", ", oci::kMediaTypeDockerManifest);
}

// "application/json; charset=utf-8" -> "application/json".
std::string media_type_of(std::optional<std::string_view> content_type) {
    if (!content_type)
        return {};
    return std::string(trim(content_type->substr(0, content_type->find(';'))));
}

// The first message of a registry's error body ({"errors":[{"code",
// "message"}]}), or the status line.
std::string describe_failure(net::Response& response) {
    std::string what = cat("HTTP ", response.status(), " ", response.reason());
    Result<std::string> body = response.read_body(64 * 1024);
    if (!body)
        return what;
    Result<JsonValue> json = parse_json(*body);
    if (!json)
        return what;
    const JsonValue* errors =
        json->kind() == JsonValue::Kind::Object ? json->find("errors") : nullptr;
    if (!errors || errors->kind() != JsonValue::Kind::Array || errors->array().empty())
        return what;
    const JsonValue& first = errors->array().front();
    if (first.kind() != JsonValue::Kind::Object)
        return what;
    const JsonValue* code = first.find("code");
    const JsonValue* message = first.find("message");
    if (code && code->kind() == JsonValue::Kind::String)
        what += cat(": ", code->string());
    if (message && message->kind() == JsonValue::Kind::String)
        what += cat(": ", message->string());
    return what;
}

// Removes a file when it goes out of scope, unless kept.
class RemoveUnlessKept {
public:
    explicit RemoveUnlessKept(std::string path) : m_path(std::move(path)) {}
    ~RemoveUnlessKept() {
        if (!m_kept)
            ::unlink(m_path.c_str());
    }
    RemoveUnlessKept(const RemoveUnlessKept&) = delete;
    RemoveUnlessKept& operator=(const RemoveUnlessKept&) = delete;
    void keep() { m_kept = true; }

private:
    std::string m_path;
    bool m_kept = false;
};

// Writes `data` to `path` through a temporary file and a rename, so a
// reader never sees half of it.
Result<void> write_file_atomically(const std::string& path, std::string_view data) {
    std::string temporary = path + ".tmp";
    RemoveUnlessKept cleanup(temporary);
    TRY(write_new_file(temporary, data));
    if (::rename(temporary.c_str(), path.c_str()) < 0)
        return errno_error(cat("rename ", quoted(temporary), " to ", quoted(path)));
    cleanup.keep();
    return {};
}

// The digest of `bytes` by `algorithm` (a manifest named by a sha512
// digest is checked by sha512).
oci::Digest digest_of(std::string_view bytes, oci::DigestAlgorithm algorithm) {
    return oci::Digest{algorithm, algorithm == oci::DigestAlgorithm::Sha256 ? sha256_hex(bytes)
                                                                            : sha512_hex(bytes)};
}

// Feeds the file at `fd` (from its start) to `hasher`; returns its length.
Result<uint64_t> hash_file(int fd, Hasher& hasher, const std::string& path) {
    std::string buffer(256 * 1024, '\0');
    uint64_t total = 0;
    for (;;) {
        ssize_t n = ::pread(fd, buffer.data(), buffer.size(), off_t(total));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return errno_error(cat("read ", quoted(path)));
        if (n == 0)
            return total;
        hasher.update(std::string_view(buffer.data(), size_t(n)));
        total += uint64_t(n);
    }
}

// One registry, one repository: where requests go and what authorises them.
class RegistrySession {
public:
    RegistrySession(const oci::ImageReference& reference, const PullOptions& options,
                    std::optional<RegistryCredentials> credentials)
        : m_repository(reference.repository), m_credentials(std::move(credentials)) {
        bool insecure =
            std::find(options.insecure_registries.begin(), options.insecure_registries.end(),
                      reference.registry) != options.insecure_registries.end();
        std::string host = reference.registry == oci::kDefaultRegistry
                               ? std::string(kDockerHubApiHost)
                               : reference.registry;
        m_base_text = cat(insecure ? "http" : "https", "://", host);
        m_client.tls.ca_file = options.ca_file;
    }

    // GET /v2/: learns whether and how to authenticate, and does.
    Result<void> authenticate() {
        net::Url url = TRY(net::parse_url(m_base_text + "/v2/"));
        net::Request request;
        request.url = url;
        net::Response response = TRY_CTX(net::fetch(request, m_client), cat("GET ", url.str()));
        if (response.status() == 200)
            return {};
        if (response.status() != 401)
            return error(cat("GET ", url.str(), ": ", describe_failure(response)));
        std::optional<std::string_view> header = response.headers().get("WWW-Authenticate");
        if (!header)
            return error(cat("GET ", url.str(), ": 401 without a WWW-Authenticate challenge"));
        std::vector<net::Challenge> challenges =
            TRY_CTX(net::parse_www_authenticate(*header), cat("GET ", url.str()));
        if (const net::Challenge* bearer = net::find_challenge(challenges, "bearer"))
            return fetch_token(*bearer);
        if (net::find_challenge(challenges, "basic")) {
            if (!m_credentials)
                return error(cat(url.host, " asks for a user name and password (none given)"));
            m_authorization =
                net::basic_authorization(m_credentials->username, m_credentials->password);
            return {};
        }
        return error(cat(
            url.host, " asks for an authentication scheme keel does not know: ", quoted(*header)));
    }

    // GET of `target` (below the registry's origin), with Authorization;
    // redirects followed.
    Result<net::Response> get(std::string_view target, std::string_view accept,
                              uint64_t from_byte = 0) {
        net::Request request;
        request.url = TRY(net::parse_url(cat(m_base_text, target)));
        if (!accept.empty())
            request.headers.add("Accept", std::string(accept));
        if (from_byte > 0)
            request.headers.add("Range", cat("bytes=", from_byte, "-"));
        if (!m_authorization.empty())
            request.headers.add("Authorization", m_authorization);
        return TRY_CTX(net::fetch(std::move(request), m_client), cat("GET ", m_base_text, target));
    }

    const std::string& repository() const { return m_repository; }
    const std::string& base() const { return m_base_text; }

private:
    // The Bearer token flow: GET realm?service=...&scope=repository:NAME:pull,
    // with Basic credentials when there are some.
    Result<void> fetch_token(const net::Challenge& challenge) {
        auto realm = challenge.params.find("realm");
        if (realm == challenge.params.end())
            return error("Bearer challenge without a realm");
        net::Url url = TRY_CTX(net::parse_url(realm->second), "Bearer challenge's realm");
        std::string query;
        if (auto service = challenge.params.find("service"); service != challenge.params.end())
            query += cat("service=", net::percent_encode(service->second));
        query += cat(query.empty() ? "" : "&",
                     "scope=", net::percent_encode(cat("repository:", m_repository, ":pull")));
        url.target += cat(url.target.find('?') == std::string::npos ? "?" : "&", query);

        net::Request request;
        request.url = url;
        if (m_credentials)
            request.headers.add("Authorization", net::basic_authorization(m_credentials->username,
                                                                          m_credentials->password));
        std::string context = cat("get a token from ", url.str());
        net::Response response = TRY_CTX(net::fetch(request, m_client), context);
        if (response.status() != 200)
            return error(cat(context, ": ", describe_failure(response)));
        std::string body = TRY_CTX(response.read_body(kMaxTokenResponseBytes), context);
        JsonValue json = TRY_CTX(parse_json(body), context);
        if (json.kind() != JsonValue::Kind::Object)
            return error(cat(context, ": the answer is not a JSON object"));
        for (std::string_view key : {"token", "access_token"}) {
            const JsonValue* token = json.find(key);
            if (token && token->kind() == JsonValue::Kind::String && !token->string().empty()) {
                if (token->string().find_first_of("\r\n") != std::string::npos)
                    return error(cat(context, ": token holds a line break"));
                m_authorization = cat("Bearer ", token->string());
                return {};
            }
        }
        return error(cat(context, ": the answer has no token"));
    }

    std::string m_repository;
    std::optional<RegistryCredentials> m_credentials;
    std::string m_base_text; // "https://host[:port]"
    std::string m_authorization;
    net::ClientOptions m_client;
};

// A manifest or index as fetched: its exact bytes, their digest and type.
struct Document {
    oci::Digest digest;
    oci::DocumentKind kind = oci::DocumentKind::Manifest;
    std::string media_type;
    std::string bytes;
};

// The kind of a document whose Content-Type did not say (a registry that
// answers application/json): by its mediaType field, else by its members.
Result<oci::DocumentKind> kind_from_content(std::string_view bytes) {
    JsonValue json = TRY(parse_json(bytes));
    if (json.kind() != JsonValue::Kind::Object)
        return error("not a JSON object");
    if (const JsonValue* type = json.find("mediaType");
        type && type->kind() == JsonValue::Kind::String)
        if (std::optional<oci::DocumentKind> kind = oci::document_kind(type->string()))
            return *kind;
    if (json.find("manifests"))
        return oci::DocumentKind::Index;
    if (json.find("layers"))
        return oci::DocumentKind::Manifest;
    return error("neither an image index nor a manifest");
}

// GET /v2/NAME/manifests/REF; checked against `expected` (a digest
// reference, or an index's descriptor), else against the registry's
// Docker-Content-Digest when it sends one.
Result<Document> fetch_document(RegistrySession& session, const std::string& reference,
                                const std::optional<oci::Digest>& expected,
                                std::optional<uint64_t> expected_size) {
    std::string target = cat("/v2/", session.repository(), "/manifests/", reference);
    std::string context = cat("manifest ", session.repository(), ":", reference);
    net::Response response = TRY(session.get(target, manifest_accept()));
    if (response.status() == 404)
        return error(
            cat(context, ": not found in ", session.base(), " (", describe_failure(response), ")"));
    if (response.status() != 200)
        return error(cat(context, ": ", describe_failure(response)));
    Document document;
    document.media_type = media_type_of(response.headers().get("Content-Type"));
    document.bytes = TRY_CTX(response.read_body(kMaxDocumentBytes), context);
    document.digest = oci::sha256_digest(document.bytes);
    if (expected) {
        document.digest = digest_of(document.bytes, expected->algorithm);
        if (document.digest != *expected)
            return error(cat(context, ": digest mismatch: asked for ", expected->str(), ", got ",
                             document.digest.str()));
    } else if (std::optional<std::string_view> header =
                   response.headers().get("Docker-Content-Digest")) {
        oci::Digest told =
            TRY_CTX(oci::parse_digest(*header), cat(context, ": Docker-Content-Digest"));
        // A tag whose manifest the registry names by sha512 is kept by it.
        document.digest = digest_of(document.bytes, told.algorithm);
        if (told != document.digest)
            return error(cat(context, ": digest mismatch: the registry says ", told.str(),
                             ", the bytes are ", document.digest.str()));
    }
    if (expected_size && *expected_size != document.bytes.size())
        return error(
            cat(context, ": ", document.bytes.size(), " bytes, the index says ", *expected_size));
    if (std::optional<oci::DocumentKind> kind = oci::document_kind(document.media_type))
        document.kind = *kind;
    else
        document.kind = TRY_CTX(kind_from_content(document.bytes), context);
    return document;
}

// LAYOUT/blobs/ALGORITHM, made when missing.
Result<std::string> blobs_directory(const std::string& layout, oci::DigestAlgorithm algorithm) {
    std::string directory = cat(layout, "/blobs/", oci::kDigestAlgorithmNames.name(algorithm));
    TRY(make_directories(directory));
    return directory;
}

// Whether `path` holds the blob: its bytes make the digest.
bool blob_present(const std::string& path, const oci::Descriptor& descriptor) {
    if (!path_exists(path))
        return false;
    Hasher present(oci::hash_function(descriptor.digest.algorithm));
    Result<Fd> file = open_file(path, O_RDONLY | O_CLOEXEC);
    return file && hash_file(file->get(), present, path) &&
           present.finish_hex() == descriptor.digest.hex;
}

// Whether the store at `root` (options.present_blobs) has the blob; its
// bytes were checked on the way in.
bool blob_in_store(const std::string& root, const oci::Descriptor& descriptor) {
    return !root.empty() &&
           path_exists(cat(root, "/blobs/",
                           oci::kDigestAlgorithmNames.name(descriptor.digest.algorithm), "/",
                           descriptor.digest.hex));
}

// Opens and locks a blob's partial file. A pull downloading the same blob
// holds the lock: this one waits for it. If that pull finished the blob
// (it renamed the file away), returns an invalid Fd; if it gave up, its
// bytes are this pull's to go on from.
Result<Fd> lock_partial(const std::string& partial, const std::string& context,
                        const PullOptions& options) {
    Fd file = TRY(open_file(partial, O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    if (::flock(file.get(), LOCK_EX | LOCK_NB) < 0) {
        if (errno != EWOULDBLOCK)
            return errno_error(cat(context, ": lock ", quoted(partial)));
        if (options.progress)
            options.progress(
                cat(context.substr(0, 24), "…: another pull is downloading it; waiting"));
        int rc;
        do
            rc = ::flock(file.get(), LOCK_EX);
        while (rc < 0 && errno == EINTR);
        if (rc < 0)
            return errno_error(cat(context, ": lock ", quoted(partial)));
    }
    // Locked, but perhaps after another pull finished and renamed the file
    // away (or removed it, its bytes not making the digest): the name must
    // still be this file.
    struct stat opened {};
    struct stat named {};
    if (::fstat(file.get(), &opened) < 0 || ::stat(partial.c_str(), &named) < 0 ||
        opened.st_ino != named.st_ino || opened.st_dev != named.st_dev)
        return Fd();
    return file;
}

// Links the blob into `path` from another pull's layout in `directory`
// (pull_image's STORE/tmp/pull-*, beside the partial files), once its
// bytes make the digest; false when no layout there has it (any more: a
// load moves its blobs into the store).
Result<bool> link_from_other_layout(const std::string& directory, const oci::Descriptor& descriptor,
                                    const std::string& path) {
    std::string blob = cat("/blobs/", oci::kDigestAlgorithmNames.name(descriptor.digest.algorithm),
                           "/", descriptor.digest.hex);
    for (const std::string& entry : TRY(list_directory(directory))) {
        std::string candidate = cat(directory, "/", entry, blob);
        if (candidate == path || !blob_present(candidate, descriptor))
            continue;
        if (::link(candidate.c_str(), path.c_str()) == 0)
            return true;
        if (errno != ENOENT)
            return errno_error(cat("link ", quoted(candidate), " to ", quoted(path)));
    }
    return false;
}

// Streams a blob to LAYOUT/blobs/ALGORITHM/HEX, checking size and digest
// as it goes; returns the bytes downloaded (0 when the blob was there
// already, in the layout or in options.present_blobs). The bytes go first
// to a partial file in options.partial_directory, kept when the connection
// is cut: the next pull hashes what it holds and asks for the rest with a
// Range request (a registry that answers 200 sends it all again). A
// partial file whose bytes then do not make the digest is removed. Two
// pulls of one blob at once: the second waits for the first (see
// lock_partial), then takes the blob from the first's layout or, once
// loaded, from the store.
Result<uint64_t> fetch_blob(RegistrySession& session, const oci::Descriptor& descriptor,
                            const std::string& layout, const PullOptions& options) {
    std::string context = cat("blob ", descriptor.digest.str());
    HashFunction function = oci::hash_function(descriptor.digest.algorithm);
    std::string path =
        cat(TRY(blobs_directory(layout, descriptor.digest.algorithm)), "/", descriptor.digest.hex);
    if (blob_in_store(options.present_blobs, descriptor) || blob_present(path, descriptor))
        return uint64_t(0);

    std::string directory = options.partial_directory.empty() ? layout : options.partial_directory;
    TRY(make_directories(directory, 0700));
    std::string partial = cat(directory, "/", oci::temporary_name("partial"),
                              oci::kDigestAlgorithmNames.name(descriptor.digest.algorithm), "-",
                              descriptor.digest.hex);
    Fd file;
    // A pull that waited and found the blob finished by the other pull
    // takes it from that pull's layout, or from the store once that pull
    // loaded it there (in this order: a load moves it from one to the
    // other). Only if that pull failed since is it downloaded again: a
    // third pull at once can take the name in between, hence the bound.
    for (int tries = 0; !file; ++tries) {
        if (tries == 3)
            return error(cat(context, ": other pulls keep downloading it; pull again"));
        file = TRY(lock_partial(partial, context, options));
        if (!file && (TRY(link_from_other_layout(directory, descriptor, path)) ||
                      blob_in_store(options.present_blobs, descriptor)))
            return uint64_t(0);
    }
    RemoveUnlessKept cleanup(partial);
    Hasher hasher(function);
    uint64_t total = TRY(hash_file(file.get(), hasher, partial));
    if (total >= descriptor.size) {
        // Not a prefix of this blob: start over.
        total = 0;
        hasher = Hasher(function);
    }
    uint64_t resumed_at = total;
    auto start_over = [&]() -> Result<void> {
        total = 0;
        hasher = Hasher(function);
        if (::ftruncate(file.get(), 0) < 0)
            return errno_error(cat("truncate ", quoted(partial)));
        return {};
    };
    if (total == 0)
        TRY(start_over());

    net::Response response = TRY(session.get(
        cat("/v2/", session.repository(), "/blobs/", descriptor.digest.str()), "", total));
    if (total > 0 && response.status() == 206) {
        std::optional<std::string_view> header = response.headers().get("Content-Range");
        std::optional<net::ContentRange> range =
            header ? net::parse_content_range(*header) : std::nullopt;
        if (!range || !range->first || *range->first != total ||
            (range->total && *range->total != descriptor.size))
            return error(cat(context, ": asked for bytes from ", total, ", the registry sent ",
                             header ? quoted(header->substr(0, 100)) : "no Content-Range"));
        if (options.progress)
            options.progress(cat(context.substr(0, 24), "…: resumed at byte ", total));
    } else if (response.status() == 200) {
        // The whole blob (no Range asked, or the registry ignores it).
        resumed_at = 0;
        TRY(start_over());
        if (std::optional<uint64_t> length = response.content_length();
            length && *length != descriptor.size)
            return error(cat(context, ": the registry sends ", *length,
                             " bytes, the manifest says ", descriptor.size));
    } else {
        return error(cat(context, ": ", describe_failure(response)));
    }
    if (::lseek(file.get(), off_t(total), SEEK_SET) < 0)
        return errno_error(cat("seek ", quoted(partial)));

    uint64_t next_report = 16 * 1024 * 1024;
    std::string buffer(256 * 1024, '\0');
    for (;;) {
        Result<size_t> read = response.read(buffer.data(), buffer.size());
        if (!read) {
            // Cut mid-blob: what came is kept for the next pull.
            cleanup.keep();
            return std::unexpected(std::move(read).error().wrap(
                cat(context, ": cut after ", total, " of ", descriptor.size,
                    " bytes (the next pull resumes there)")));
        }
        size_t n = *read;
        if (n == 0)
            break;
        if (total + n > descriptor.size)
            return error(
                cat(context, ": more than the ", descriptor.size, " bytes the manifest says"));
        total += n;
        std::string_view piece(buffer.data(), n);
        hasher.update(piece);
        TRY_CTX(write_all(file.get(), piece), cat("write ", quoted(partial)));
        if (options.progress && total >= next_report) {
            options.progress(cat(context.substr(0, 24), "…: ", total >> 20, " of ",
                                 descriptor.size >> 20, " MiB"));
            next_report += 16 * 1024 * 1024;
        }
    }
    if (total != descriptor.size) {
        cleanup.keep();
        return error(cat(context, ": ", total, " bytes, the manifest says ", descriptor.size,
                         " (the next pull resumes there)"));
    }
    std::string got = hasher.finish_hex();
    if (got != descriptor.digest.hex)
        return error(cat(context, ": digest mismatch: the bytes are ",
                         oci::kDigestAlgorithmNames.name(descriptor.digest.algorithm), ":", got));
    if (::fsync(file.get()) < 0)
        return errno_error(cat("fsync ", quoted(partial)));
    // Renamed while still locked (see the check after flock above).
    if (::rename(partial.c_str(), path.c_str()) < 0)
        return errno_error(cat("rename ", quoted(partial), " to ", quoted(path)));
    cleanup.keep();
    return total - resumed_at;
}

std::string layout_index(const oci::Descriptor& manifest, const std::string& reference) {
    JsonWriter writer;
    writer.begin_object();
    writer.field("schemaVersion", 2);
    writer.field("mediaType", oci::kMediaTypeOciIndex);
    writer.key("manifests").begin_array().begin_object();
    writer.field("mediaType", manifest.media_type);
    writer.field("digest", manifest.digest.str());
    writer.field("size", manifest.size);
    writer.key("annotations").begin_object();
    writer.field(oci::kRefNameAnnotation, reference);
    writer.end_object();
    writer.end_object().end_array();
    writer.end_object();
    return writer.text() + "\n";
}

} // namespace

Result<RegistryCredentials> parse_credentials(std::string_view text) {
    size_t colon = text.find(':');
    if (colon == std::string_view::npos || colon == 0)
        return error("credentials are not user:password");
    return RegistryCredentials{std::string(text.substr(0, colon)),
                               std::string(text.substr(colon + 1))};
}

Result<FoundCredentials> find_credentials(std::string_view registry) {
    if (const char* auth = std::getenv("KEEL_REGISTRY_AUTH"); auth && *auth)
        return FoundCredentials{TRY_CTX(parse_credentials(auth), "$KEEL_REGISTRY_AUTH"),
                                "$KEEL_REGISTRY_AUTH"};

    std::string path;
    if (const char* directory = std::getenv("DOCKER_CONFIG"); directory && *directory)
        path = cat(directory, "/config.json");
    else if (const char* home = std::getenv("HOME"); home && *home)
        path = cat(home, "/.docker/config.json");
    if (path.empty() || !path_exists(path))
        return FoundCredentials{};
    std::string text = TRY(read_file(path));
    JsonValue json = TRY_CTX(parse_json(text), quoted(path));
    const JsonValue* auths = json.kind() == JsonValue::Kind::Object ? json.find("auths") : nullptr;
    if (!auths || auths->kind() != JsonValue::Kind::Object)
        return FoundCredentials{};
    std::vector<std::string> keys{std::string(registry), cat("https://", registry),
                                  cat("http://", registry), cat("https://", registry, "/v1/")};
    if (registry == oci::kDefaultRegistry)
        keys = {"https://index.docker.io/v1/", "index.docker.io", "docker.io",
                "registry-1.docker.io"};
    for (const std::string& key : keys) {
        const JsonValue* entry = auths->find(key);
        if (!entry || entry->kind() != JsonValue::Kind::Object)
            continue;
        const JsonValue* auth = entry->find("auth");
        if (!auth || auth->kind() != JsonValue::Kind::String || auth->string().empty())
            continue;
        std::optional<std::string> decoded = net::base64_decode(auth->string());
        if (!decoded)
            return error(cat(quoted(path), ": auths.", key, ".auth is not base64"));
        return FoundCredentials{
            TRY_CTX(parse_credentials(*decoded), cat(quoted(path), ": auths.", key, ".auth")),
            path};
    }
    return FoundCredentials{};
}

Result<PulledImage> pull_to_layout(const oci::ImageReference& reference, const PullOptions& options,
                                   const std::string& layout_directory) {
    std::string name = reference.str();
    auto progress = [&](std::string_view line) {
        if (options.progress)
            options.progress(line);
    };
    std::optional<RegistryCredentials> credentials = options.credentials;
    if (!credentials)
        credentials = TRY_CTX(find_credentials(reference.registry), cat("pull ", name)).credentials;

    RegistrySession session(reference, options, std::move(credentials));
    TRY_CTX(session.authenticate(), cat("pull ", name));

    std::string first = reference.digest ? reference.digest->str() : reference.tag;
    Document document =
        TRY_CTX(fetch_document(session, first, reference.digest, std::nullopt), cat("pull ", name));
    progress(cat("manifest ", document.digest.str(), " (",
                 oci::kDocumentKindNames.name(document.kind), ")"));
    if (document.kind == oci::DocumentKind::Index) {
        oci::Index index = TRY_CTX(oci::parse_index(document.bytes), cat("pull ", name, ": index"));
        oci::Platform platform = options.platform.value_or(oci::host_platform());
        oci::Descriptor chosen = TRY_CTX(oci::select_manifest(index, platform), cat("pull ", name));
        progress(cat("platform ", platform.str(), ": manifest ", chosen.digest.str()));
        document = TRY_CTX(fetch_document(session, chosen.digest.str(), chosen.digest, chosen.size),
                           cat("pull ", name));
        if (document.kind != oci::DocumentKind::Manifest)
            return error(cat("pull ", name, ": the index's entry for ", platform.str(),
                             " is not a manifest"));
    }
    oci::Manifest manifest =
        TRY_CTX(oci::parse_manifest(document.bytes), cat("pull ", name, ": manifest"));

    PulledImage pulled;
    std::vector<const oci::Descriptor*> wanted{&manifest.config};
    for (const oci::Descriptor& layer : manifest.layers)
        wanted.push_back(&layer);
    for (const oci::Descriptor* blob : wanted) {
        uint64_t bytes =
            TRY_CTX(fetch_blob(session, *blob, layout_directory, options), cat("pull ", name));
        pulled.downloaded += bytes;
        progress(cat(blob == &manifest.config ? "config " : "layer ", blob->digest.str(), ": ",
                     bytes == 0 ? "already present" : cat(bytes, " bytes")));
    }

    TRY(write_file_atomically(cat(TRY(blobs_directory(layout_directory, document.digest.algorithm)),
                                  "/", document.digest.hex),
                              document.bytes));
    oci::Descriptor descriptor;
    descriptor.media_type =
        document.media_type.empty() || !oci::document_kind(document.media_type)
            ? (manifest.media_type.empty() ? std::string(oci::kMediaTypeOciManifest)
                                           : manifest.media_type)
            : document.media_type;
    descriptor.digest = document.digest;
    descriptor.size = document.bytes.size();
    TRY(write_file_atomically(cat(layout_directory, "/oci-layout"),
                              "{\"imageLayoutVersion\":\"1.0.0\"}\n"));
    TRY(write_file_atomically(cat(layout_directory, "/index.json"),
                              layout_index(descriptor, name)));
    pulled.manifest_digest = document.digest;
    pulled.reference = name;
    return pulled;
}

} // namespace keel::containers

namespace keel::containers {

Result<ImageSummary> pull_image(const ImageStoreOptions& store, std::string_view reference,
                                const PullOptions& options) {
    oci::ImageReference parsed = TRY(oci::parse_image_reference(reference));
    std::string tmp = cat(store.root, "/tmp");
    TRY(make_directories(tmp, 0700));
    std::string directory = cat(tmp, "/pull-XXXXXX");
    if (!::mkdtemp(directory.data()))
        return errno_error(cat("create a directory in ", quoted(tmp)));
    // The download goes either way: loaded (its blobs moved into the
    // store) or refused.
    struct RemoveDirectory {
        std::string path;
        ~RemoveDirectory() { (void)oci::remove_tree(path); }
    } cleanup{directory};
    // A blob cut short is kept beside the pull's directory, for the next
    // pull to resume (STORE/tmp/.keel-partial-ALGORITHM-HEX).
    PullOptions resuming = options;
    if (resuming.partial_directory.empty())
        resuming.partial_directory = tmp;
    // Blobs the store has (layers shared with other images, a pull again)
    // are not downloaded: the load finds them there.
    if (resuming.present_blobs.empty())
        resuming.present_blobs = store.root;
    TRY(pull_to_layout(parsed, resuming, directory));
    std::vector<ImageSummary> loaded =
        TRY_CTX(load_images(store, directory), cat("pull ", parsed.str()));
    if (loaded.size() != 1)
        return error(cat("pull ", parsed.str(), ": loaded ", loaded.size(), " images, not one"));
    return loaded.front();
}

} // namespace keel::containers
