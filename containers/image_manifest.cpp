// The OCI image format's documents (and Docker's schema 2 equivalents) read
// into typed values: digests checked for form, media types checked against
// the document's kind, and a document that carries the other kind's members
// refused (CVE-2021-41190: an index that is also a manifest could be read
// as one by one client and as the other by another). Platforms: the host's,
// `--platform`'s, and choosing an index's manifest for one.
#include "containers/image_manifest.h"

#include "base/digest.h"
#include "base/json.h"
#include "base/strings.h"

#include <algorithm>
#include <sys/utsname.h>

namespace keel::oci {

namespace {

size_t hex_length(DigestAlgorithm algorithm) {
    return algorithm == DigestAlgorithm::Sha256 ? 64 : 128;
}

Result<Digest> read_digest(const JsonCursor& at) {
    std::string text = TRY(at.string());
    Result<Digest> digest = parse_digest(text);
    if (!digest)
        return at.fail(digest.error().root());
    return digest;
}

Result<std::vector<std::string>> read_strings(const JsonCursor& at) {
    std::vector<std::string> out;
    for (const JsonCursor& element : TRY(at.array()))
        out.push_back(TRY(element.string()));
    return out;
}

// An object used as a set ("ExposedPorts": {"80/tcp": {}}): its keys.
Result<std::vector<std::string>> read_key_set(const JsonCursor& at) {
    std::vector<std::string> out;
    if (!at.present())
        return out;
    JsonObjectCursor object = TRY(at.object());
    for (const auto& [key, value] : object.members())
        out.push_back(key);
    return out;
}

Result<void> check_schema_version(const JsonObjectCursor& root) {
    JsonCursor version = root["schemaVersion"];
    int64_t number = TRY(version.integer<int64_t>());
    if (number != 2)
        return version.fail(cat("unsupported schema version ", number, " (expected 2)"));
    return {};
}

// A mediaType member, when present, must name this kind of document.
Result<std::string> read_document_media_type(const JsonObjectCursor& root, DocumentKind kind) {
    JsonCursor at = root["mediaType"];
    if (!at.present())
        return std::string();
    std::string media_type = TRY(at.string());
    if (document_kind(media_type) != kind)
        return at.fail(cat(quoted(media_type), " is not an image ", kDocumentKindNames.name(kind),
                           " media type"));
    return media_type;
}

// CVE-2021-41190: members of the other kind make the document ambiguous.
Result<void> refuse_members(const JsonObjectCursor& root, DocumentKind kind,
                            std::initializer_list<std::string_view> names) {
    for (std::string_view name : names)
        if (root.has(name))
            return root[name].fail(cat("not allowed in an image ", kDocumentKindNames.name(kind),
                                       " (ambiguous document)"));
    return {};
}

Result<Platform> read_platform(const JsonCursor& at) {
    JsonObjectCursor object = TRY(at.object());
    Platform platform;
    platform.architecture = TRY(object["architecture"].string());
    platform.os = TRY(object["os"].string());
    platform.variant = TRY(object["variant"].value_or(""));
    return platform;
}

Result<Descriptor> read_descriptor(const JsonCursor& at) {
    JsonObjectCursor object = TRY(at.object());
    Descriptor descriptor;
    descriptor.media_type = TRY(object["mediaType"].string());
    descriptor.digest = TRY(read_digest(object["digest"]));
    descriptor.size = TRY(object["size"].integer<uint64_t>(0, uint64_t(INT64_MAX)));
    if (JsonCursor platform = object["platform"]; platform.present())
        descriptor.platform = TRY(read_platform(platform));
    descriptor.urls = TRY(read_strings(object["urls"]));
    descriptor.annotations = TRY(object["annotations"].map<std::string>());
    return descriptor;
}

bool supported_layer_type(std::string_view media_type) {
    for (std::string_view known : {kMediaTypeOciLayer, kMediaTypeOciLayerGzip,
                                   kMediaTypeOciLayerZstd, kMediaTypeDockerLayerGzip})
        if (media_type == known)
            return true;
    return false;
}

// arm64 without a variant is v8 (as containerd normalises it).
std::string normalised_variant(const Platform& platform) {
    if (platform.architecture == "arm64" && platform.variant.empty())
        return "v8";
    return platform.variant;
}

std::string normalised_architecture(std::string_view machine) {
    if (machine == "x86_64" || machine == "x86-64")
        return "amd64";
    if (machine == "aarch64")
        return "arm64";
    if (machine == "i386" || machine == "i486" || machine == "i586" || machine == "i686")
        return "386";
    return std::string(machine);
}

bool platform_word(std::string_view word) {
    return !word.empty() && std::ranges::all_of(word, [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
    });
}

// A path inside an archive: relative, no ".." component, no NUL.
Result<std::string> read_archive_path(const JsonCursor& at) {
    std::string path = TRY(at.string());
    if (path.empty() || path.starts_with('/') || path.find('\0') != std::string::npos)
        return at.fail(cat("not a relative path inside the archive: ", quoted(path)));
    for (std::string_view part : split(path, '/'))
        if (part == "..")
            return at.fail(cat("path leaves the archive: ", quoted(path)));
    return path;
}

} // namespace

std::string Digest::str() const {
    return cat(kDigestAlgorithmNames.name(algorithm), ":", hex);
}

Result<Digest> parse_digest(std::string_view text) {
    size_t colon = text.find(':');
    std::optional<DigestAlgorithm> algorithm =
        colon == std::string_view::npos ? std::nullopt
                                        : kDigestAlgorithmNames.parse(text.substr(0, colon));
    if (colon == std::string_view::npos)
        return error(
            cat(quoted(text.substr(0, 80)), " is not a digest (sha256:HEX or sha512:HEX)"));
    if (!algorithm)
        return error(cat("digest ", quoted(text.substr(0, 150)), ": unknown algorithm ",
                         quoted(text.substr(0, std::min<size_t>(colon, 32))),
                         " (sha256 and sha512 are known)"));
    std::string_view hex = text.substr(colon + 1);
    if (hex.size() != hex_length(*algorithm) || !std::ranges::all_of(hex, [](char c) {
            return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
        }))
        return error(cat("not a ", kDigestAlgorithmNames.name(*algorithm), " digest (",
                         hex_length(*algorithm), " lower-case hex digits)"));
    return Digest{*algorithm, std::string(hex)};
}

Digest sha256_digest(std::string_view data) {
    return Digest{DigestAlgorithm::Sha256, sha256_hex(data)};
}

std::string Platform::str() const {
    return variant.empty() ? cat(os, "/", architecture) : cat(os, "/", architecture, "/", variant);
}

Platform host_platform() {
    Platform platform;
    struct utsname names {};
    if (::uname(&names) != 0)
        return platform;
    std::string_view machine = names.machine;
    platform.architecture = normalised_architecture(machine);
    if (platform.architecture == "arm64")
        platform.variant = "v8";
    else if (machine.starts_with("armv7"))
        platform = Platform{"linux", "arm", "v7"};
    else if (machine.starts_with("armv6"))
        platform = Platform{"linux", "arm", "v6"};
    else if (machine == "ppc64le" || machine == "s390x" || machine == "riscv64")
        platform.architecture = std::string(machine);
    return platform;
}

Result<Platform> parse_platform(std::string_view text) {
    std::vector<std::string_view> parts = split(text, '/');
    if (parts.size() < 2 || parts.size() > 3 || !std::ranges::all_of(parts, platform_word))
        return error(cat("platform ", quoted(text), ": expected OS/ARCHITECTURE[/VARIANT]"));
    Platform platform{std::string(parts[0]), normalised_architecture(parts[1]),
                      parts.size() == 3 ? std::string(parts[2]) : std::string()};
    return platform;
}

std::optional<DocumentKind> document_kind(std::string_view media_type) {
    if (media_type == kMediaTypeOciIndex || media_type == kMediaTypeDockerManifestList)
        return DocumentKind::Index;
    if (media_type == kMediaTypeOciManifest || media_type == kMediaTypeDockerManifest)
        return DocumentKind::Manifest;
    return std::nullopt;
}

Result<Index> parse_index(std::string_view json) {
    JsonValue document = TRY(parse_json(json));
    JsonObjectCursor root = TRY(JsonCursor(document).object());
    TRY(check_schema_version(root));
    Index index;
    index.media_type = TRY(read_document_media_type(root, DocumentKind::Index));
    TRY(refuse_members(root, DocumentKind::Index, {"config", "layers"}));
    JsonCursor manifests = root["manifests"];
    if (manifests.missing())
        return manifests.fail("missing");
    for (const JsonCursor& element : TRY(manifests.array()))
        index.manifests.push_back(TRY(read_descriptor(element)));
    index.annotations = TRY(root["annotations"].map<std::string>());
    return index;
}

Result<Manifest> parse_manifest(std::string_view json) {
    JsonValue document = TRY(parse_json(json));
    JsonObjectCursor root = TRY(JsonCursor(document).object());
    TRY(check_schema_version(root));
    Manifest manifest;
    manifest.media_type = TRY(read_document_media_type(root, DocumentKind::Manifest));
    TRY(refuse_members(root, DocumentKind::Manifest, {"manifests"}));
    manifest.config = TRY(read_descriptor(root["config"]));
    JsonCursor layers = root["layers"];
    if (layers.missing())
        return layers.fail("missing");
    for (const JsonCursor& element : TRY(layers.array())) {
        Descriptor layer = TRY(read_descriptor(element));
        if (!supported_layer_type(layer.media_type))
            return element.fail(cat("unsupported layer media type ", quoted(layer.media_type)));
        manifest.layers.push_back(std::move(layer));
    }
    manifest.annotations = TRY(root["annotations"].map<std::string>());
    return manifest;
}

Result<ImageConfig> parse_image_config(std::string_view json) {
    JsonValue document = TRY(parse_json(json));
    JsonObjectCursor root = TRY(JsonCursor(document).object());
    ImageConfig config;
    config.architecture = TRY(root["architecture"].string());
    config.os = TRY(root["os"].string());
    config.variant = TRY(root["variant"].value_or(""));
    config.created = TRY(root["created"].value_or(""));
    config.author = TRY(root["author"].value_or(""));
    if (JsonCursor process = root["config"]; process.present()) {
        JsonObjectCursor object = TRY(process.object());
        config.user = TRY(object["User"].value_or(""));
        config.env = TRY(read_strings(object["Env"]));
        config.entrypoint = TRY(read_strings(object["Entrypoint"]));
        config.cmd = TRY(read_strings(object["Cmd"]));
        config.working_dir = TRY(object["WorkingDir"].value_or(""));
        config.exposed_ports = TRY(read_key_set(object["ExposedPorts"]));
        config.volumes = TRY(read_key_set(object["Volumes"]));
        config.stop_signal = TRY(object["StopSignal"].value_or(""));
        config.labels = TRY(object["Labels"].map<std::string>());
    }
    JsonObjectCursor rootfs = TRY(root["rootfs"].object());
    JsonCursor type = rootfs["type"];
    if (std::string kind = TRY(type.string()); kind != "layers")
        return type.fail(cat("unsupported rootfs type ", quoted(kind), " (expected `layers`)"));
    JsonCursor diff_ids = rootfs["diff_ids"];
    if (diff_ids.missing())
        return diff_ids.fail("missing");
    for (const JsonCursor& element : TRY(diff_ids.array()))
        config.diff_ids.push_back(TRY(read_digest(element)));
    return config;
}

Result<std::vector<DockerArchiveImage>> parse_docker_archive_manifest(std::string_view json) {
    JsonValue document = TRY(parse_json(json));
    JsonCursor root(document);
    if (root.get()->kind() != JsonValue::Kind::Array)
        return error("expected an array of images");
    std::vector<DockerArchiveImage> images;
    for (const JsonCursor& element : TRY(root.array())) {
        JsonObjectCursor object = TRY(element.object());
        DockerArchiveImage image;
        image.config = TRY(read_archive_path(object["Config"]));
        image.repo_tags = TRY(read_strings(object["RepoTags"]));
        for (const JsonCursor& layer : TRY(object["Layers"].array()))
            image.layers.push_back(TRY(read_archive_path(layer)));
        images.push_back(std::move(image));
    }
    return images;
}

Result<Descriptor> select_manifest(const Index& index, const Platform& platform) {
    std::string wanted_variant = normalised_variant(platform);
    std::vector<std::string> offered;
    for (const Descriptor& descriptor : index.manifests) {
        if (!descriptor.platform || document_kind(descriptor.media_type) != DocumentKind::Manifest)
            continue;
        const Platform& candidate = *descriptor.platform;
        offered.push_back(candidate.str());
        if (candidate.os != platform.os || candidate.architecture != platform.architecture)
            continue;
        if (!platform.variant.empty() && normalised_variant(candidate) != wanted_variant)
            continue;
        return descriptor;
    }
    // An index of one manifest that names no platform (what `skopeo copy`
    // and `umoci` write) is that manifest, whatever it runs on: the config
    // says, and is checked later.
    if (index.manifests.size() == 1 && !index.manifests[0].platform &&
        document_kind(index.manifests[0].media_type) == DocumentKind::Manifest)
        return index.manifests[0];
    if (offered.empty())
        return error(cat("no manifest for ", platform.str(), " (the index names no platforms)"));
    std::string list;
    for (const std::string& name : offered)
        list += list.empty() ? name : ", " + name;
    return error(cat("no manifest for ", platform.str(), " (the index offers ", list, ")"));
}

} // namespace keel::oci
