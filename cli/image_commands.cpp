// `keel image pull|load|import|ls|inspect|rm|prune` (see image_commands.h), on
// containers/containers.h's image verbs.
#include "cli/image_commands.h"

#include "base/json.h"
#include "base/strings.h"
#include "base/unit_file.h"
#include "containers/containers.h"
#include "containers/image_ref.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <ctime>
#include <string>

namespace keel::cli {

namespace {

namespace ct = containers;

// `ls`'s columns (each followed by a space).
constexpr size_t kRepositoryWidth = 40;
constexpr size_t kTagWidth = 12;
constexpr size_t kImageIdWidth = 14;
constexpr size_t kImageCreatedWidth = 18;
// Docker's image ids: the config digest's first 12 hex digits.
constexpr size_t kShortId = 12;

const Option kStoreOption{
    .name = "--store",
    .value_name = "DIR",
    .type = ValueType::Text,
    .shown = Shown::InOptionList,
    .help = "the image store (default $KEEL_IMAGE_STORE or /var/lib/keel)",
};

std::string short_id(const std::string& digest) {
    size_t colon = digest.find(':');
    return digest.substr(colon + 1, kShortId);
}

// "3 days ago" from an RFC 3339 time; the text as it is when unparsable.
std::string created_ago(const std::string& created) {
    if (created.empty())
        return "N/A";
    struct tm parts {};
    const char* end = ::strptime(created.c_str(), "%Y-%m-%dT%H:%M:%S", &parts);
    if (!end)
        return created;
    time_t then = ::timegm(&parts);
    uint64_t now = realtime_usec();
    uint64_t then_usec = then > 0 ? uint64_t(then) * 1000000 : 0;
    if (then_usec > now)
        return "just now";
    return time_span(now - then_usec) + " ago";
}

// REPOSITORY and TAG as `docker images` shows them.
std::pair<std::string, std::string> repository_and_tag(const std::string& name) {
    auto reference = oci::parse_image_reference(name);
    if (!reference)
        return {name, "<none>"};
    std::string tag = reference->tag.empty() ? "<none>" : reference->tag;
    oci::ImageReference bare = *reference;
    bare.tag.clear();
    bare.digest.reset();
    return {bare.familiar(), tag};
}

void write_summary(JsonWriter& json, const ct::ImageSummary& image) {
    json.begin_object().field("id", image.config_digest).field("digest", image.manifest_digest);
    json.key("names").begin_array();
    for (const std::string& name : image.names)
        json.value(name);
    json.end_array()
        .field("created", image.created)
        .field("platform", image.platform)
        .field("size", image.size)
        .field("unpacked_size", image.unpacked_size)
        .field("layers", image.layer_count)
        .end_object();
}

void print_loaded(const std::vector<ct::ImageSummary>& images) {
    for (const ct::ImageSummary& image : images) {
        if (image.names.empty())
            print(cat("Loaded image ID: ", image.config_digest, " (untagged)\n"));
        for (const std::string& name : image.names)
            print(cat("Loaded image: ", name, "\n"));
    }
}

CommandResult command_image_load(const ParsedArgs& args) {
    std::string input(args.value("--input").value_or("-"));
    std::string name(args.value("--name").value_or(""));
    print_loaded(TRY(ct::load_images(store_of(args), input, name)));
    return kExitSuccess;
}

// $KEEL_INSECURE_REGISTRIES: HOST[:PORT] words, separated by commas or
// spaces.
std::vector<std::string> insecure_registries_from_environment() {
    std::vector<std::string> registries;
    const char* text = std::getenv("KEEL_INSECURE_REGISTRIES");
    if (!text)
        return registries;
    std::string words(text);
    std::replace(words.begin(), words.end(), ',', ' ');
    for (std::string_view word : split(words, ' '))
        if (!word.empty())
            registries.emplace_back(word);
    return registries;
}

CommandResult command_pull(const ParsedArgs& args) {
    ct::PullOptions options;
    options.insecure_registries = insecure_registries_from_environment();
    if (auto platform = args.value("--platform"))
        options.platform = TRY_CTX(oci::parse_platform(*platform), "--platform");
    for (std::string_view registry : args.values("--insecure-registry"))
        options.insecure_registries.emplace_back(registry);
    if (auto ca_file = args.value("--ca-file"))
        options.ca_file = std::string(*ca_file);
    if (auto credentials = args.value("--creds")) {
        size_t colon = credentials->find(':');
        if (colon == std::string_view::npos || colon == 0)
            return error("--creds: expected USER:PASSWORD");
        options.credentials = ct::RegistryCredentials{std::string(credentials->substr(0, colon)),
                                                      std::string(credentials->substr(colon + 1))};
    }
    if (!args.flag("--quiet"))
        options.progress = [](std::string_view line) { print_error(cat(line, "\n")); };
    std::string_view reference = *args.positional("REF");
    ct::ImageSummary image = TRY(ct::pull_image(store_of(args), reference, options));
    print(cat("Pulled image: ", image.reference.empty() ? std::string(reference) : image.reference,
              " (", image.manifest_digest, ")\n"));
    return kExitSuccess;
}

CommandResult command_policy(const ParsedArgs& args) {
    ct::ImageStoreOptions store = store_of(args);
    ct::StorePolicy policy = TRY(ct::store_policy(store));
    std::optional<std::string_view> devices = args.value("--allow-devices");
    std::optional<std::string_view> setid = args.value("--keep-setid");
    if (devices)
        policy.allow_devices = TRY_CTX(parse_boolean(*devices), "--allow-devices");
    if (setid)
        policy.keep_setid = TRY_CTX(parse_boolean(*setid), "--keep-setid");
    if (devices || setid)
        TRY(ct::set_store_policy(store, policy));
    print(cat("allow-devices: ", policy.allow_devices ? "yes" : "no",
              "\nkeep-setid: ", policy.keep_setid ? "yes" : "no", "\n"));
    return kExitSuccess;
}

CommandResult command_import(const ParsedArgs& args) {
    ct::ImageSummary image = TRY(ct::import_rootfs(
        store_of(args), std::string(*args.positional("FILE")), *args.positional("NAME")));
    print(cat(image.config_digest, "\n"));
    return kExitSuccess;
}

CommandResult command_image_list(const ParsedArgs& args) {
    std::vector<ct::ImageSummary> images = TRY(ct::list_images(store_of(args)));
    if (args.flag("--json")) {
        JsonWriter json;
        json.begin_array();
        for (const ct::ImageSummary& image : images)
            write_summary(json, image);
        json.end_array();
        print(json.text() + "\n");
        return kExitSuccess;
    }
    std::string out =
        cat(cell("REPOSITORY", kRepositoryWidth), cell("TAG", kTagWidth),
            cell("IMAGE ID", kImageIdWidth), cell("CREATED", kImageCreatedWidth), "SIZE\n");
    for (const ct::ImageSummary& image : images) {
        std::vector<std::string> names = image.names;
        if (names.empty())
            names.push_back("");
        for (const std::string& name : names) {
            auto [repository, tag] = name.empty()
                                         ? std::pair<std::string, std::string>{"<none>", "<none>"}
                                         : repository_and_tag(name);
            out += cat(cell(repository, kRepositoryWidth), cell(tag, kTagWidth),
                       cell(short_id(image.config_digest), kImageIdWidth),
                       cell(created_ago(image.created), kImageCreatedWidth),
                       human_size(image.unpacked_size, SizeUnits::Decimal), "\n");
        }
    }
    print(out);
    return kExitSuccess;
}

CommandResult command_image_inspect(const ParsedArgs& args) {
    ct::ImageDetails details = TRY(ct::inspect_image(store_of(args), *args.positional("REF")));
    JsonWriter json;
    json.begin_object()
        .field("id", details.summary.config_digest)
        .field("digest", details.summary.manifest_digest);
    json.key("names").begin_array();
    for (const std::string& name : details.summary.names)
        json.value(name);
    json.end_array()
        .field("created", details.summary.created)
        .field("platform", details.summary.platform)
        .field("size", details.summary.size)
        .field("unpacked_size", details.summary.unpacked_size);
    json.key("layers").begin_array();
    for (const ct::ImageLayer& layer : details.layers)
        json.begin_object()
            .field("digest", layer.blob.digest.str())
            .field("mediaType", layer.blob.media_type)
            .field("size", layer.blob.size)
            .field("diffId", layer.diff_id.str())
            .end_object();
    json.end_array();
    if (auto manifest = parse_json(details.manifest_json))
        json.key("manifest").value(*manifest);
    if (auto config = parse_json(details.config_json))
        json.key("config").value(*config);
    json.end_object();
    print(json.text() + "\n");
    return kExitSuccess;
}

CommandResult command_image_remove(const ParsedArgs& args) {
    ct::ImageRemoval mode =
        args.flag("--force") ? ct::ImageRemoval::Force : ct::ImageRemoval::Unused;
    int status = kExitSuccess;
    for (std::string_view reference : args.positionals("REF")) {
        auto removed = ct::remove_image(store_of(args), reference, mode);
        if (!removed) {
            report(removed.error());
            status = kExitFailure;
            continue;
        }
        for (const std::string& name : removed->untagged)
            print(cat("Untagged: ", name, "\n"));
        for (const std::string& digest : removed->deleted)
            print(cat("Deleted: ", digest, "\n"));
    }
    return status;
}

CommandResult command_prune(const ParsedArgs& args) {
    ct::RemovalSummary summary = TRY(ct::prune_images(store_of(args)));
    for (const std::string& digest : summary.deleted)
        print(cat("Deleted: ", digest, "\n"));
    print(cat("Removed ", summary.blobs_removed, " blobs and ", summary.layers_removed,
              " unpacked layers\n"));
    return kExitSuccess;
}

CommandResult command_mount(const ParsedArgs& args) {
    ct::RootMode mode = args.flag("--read-only") ? ct::RootMode::ReadOnly : ct::RootMode::Writable;
    ct::ContainerRoot root = TRY(ct::mount_container_root(store_of(args), *args.positional("REF"),
                                                          *args.positional("ID"), mode));
    print(root.rootfs + "\n");
    return kExitSuccess;
}

CommandResult command_unmount(const ParsedArgs& args) {
    TRY(ct::remove_container_root(store_of(args), *args.positional("ID")));
    return kExitSuccess;
}

const Command kMount{
    .names = {"mount"},
    .summary = "mount a container root from an image (prints its path)",
    .options = {{.name = "--read-only", .help = "the layers alone, no upper directory"},
                kStoreOption},
    .positionals = {{.name = "REF", .noun = "image name or id"},
                    {.name = "ID", .noun = "container id"}},
    .run = command_mount,
};

const Command kUnmount{
    .names = {"umount", "unmount"},
    .summary = "unmount a container root and delete what it wrote",
    .options = {kStoreOption},
    .positionals = {{.name = "ID", .noun = "container id"}},
    .run = command_unmount,
};

const Command kImageLoad{
    .names = {"load"},
    .summary = "load images from an OCI layout (directory or tar) or a `docker save` tar",
    .options = {{.name = "--input",
                 .short_name = 'i',
                 .value_name = "FILE",
                 .type = ValueType::Text,
                 .help = "the directory or tar to load (default: a tar on stdin)"},
                {.name = "--name",
                 .value_name = "NAME",
                 .type = ValueType::Text,
                 .help = "name the (only) image NAME instead of what the archive says"},
                kStoreOption},
    .notes = "Every blob's digest and size and every layer's diff id are verified; layers "
             "with absolute names, `..`, writes through symlinks or device nodes are refused. "
             "A failed load leaves the store as it was.\n",
    .run = command_image_load,
};

const Command kPull{
    .names = {"pull"},
    .summary = "pull an image from a registry into the store",
    .options = {{.name = "--platform",
                 .value_name = "OS/ARCH[/VARIANT]",
                 .type = ValueType::Text,
                 .help = "the platform to take from a multi-platform image (default: this host's)"},
                {.name = "--insecure-registry",
                 .value_name = "HOST[:PORT]",
                 .type = ValueType::Text,
                 .repeat = Repeat::Collect,
                 .help = "speak plain HTTP to this registry (repeatable)"},
                {.name = "--ca-file",
                 .value_name = "FILE",
                 .type = ValueType::Text,
                 .help = "trust the CA certificates in FILE (PEM) besides the system's"},
                {.name = "--creds",
                 .value_name = "USER:PASSWORD",
                 .type = ValueType::Text,
                 .help = "credentials (default $KEEL_REGISTRY_AUTH, or ~/.docker/config.json)"},
                {.name = "--quiet", .short_name = 'q', .help = "no progress lines on stderr"},
                kStoreOption},
    .positionals = {{.name = "REF", .noun = "image reference"}},
    .notes = "Every manifest and blob is checked against its digest and size; the image is "
             "loaded only when all of it arrived intact.\n",
    .run = command_pull,
};

const Command kImport{
    .names = {"import"},
    .summary = "make an image of one layer from a root filesystem tar",
    .options = {kStoreOption},
    .positionals = {{.name = "FILE", .noun = "tar file (or - for stdin)"},
                    {.name = "NAME", .noun = "image name"}},
    .run = command_import,
};

const Command kPolicy{
    .names = {"policy"},
    .summary = "what layers may hold: device nodes, setuid and setgid bits",
    .options = {{.name = "--allow-devices",
                 .value_name = "yes|no",
                 .type = ValueType::Text,
                 .help =
                     "unpack character and block devices (default no: such a layer is refused)"},
                {.name = "--keep-setid",
                 .value_name = "yes|no",
                 .type = ValueType::Text,
                 .help = "keep setuid and setgid bits and file capabilities (default yes)"},
                kStoreOption},
    .notes = "Prints the store's policy, after changing what is given. It applies to layers "
             "unpacked from then on; those in the store stay as they were unpacked.\n",
    .run = command_policy,
};

const Command kImageList{
    .names = {"ls", "list"},
    .summary = "list the images: REPOSITORY TAG IMAGE ID CREATED SIZE",
    .options = {kJsonOption, kStoreOption},
    .run = command_image_list,
};

const Command kImageInspect{
    .names = {"inspect"},
    .summary = "an image's manifest, config and layers as JSON",
    .options = {kStoreOption},
    .positionals = {{.name = "REF", .noun = "image name or id"}},
    .run = command_image_inspect,
};

const Command kImageRemove{
    .names = {"rm", "rmi"},
    .summary = "untag or remove images (and the blobs and layers only they used)",
    .options = {{.name = "--force",
                 .short_name = 'f',
                 .help = "remove an image even while a container root uses it"},
                kStoreOption},
    .positionals = {{.name = "REF", .count = Count::OneOrMore, .noun = "image name or id"}},
    .run = command_image_remove,
};

const Command kPrune{
    .names = {"prune"},
    .summary = "remove untagged images and every blob and layer no image uses",
    .options = {kStoreOption},
    .run = command_prune,
};

} // namespace

const Command kImageCommand{
    .names = {"image"},
    .summary = "the image store: pull, load, import, ls, inspect, rm, prune, policy (see `keel "
               "image help`)",
    .notes = "Every command takes --store DIR (default $KEEL_IMAGE_STORE or /var/lib/keel).\n",
    .subcommands = {&kPull, &kImageLoad, &kImport, &kImageList, &kImageInspect, &kImageRemove,
                    &kPrune, &kMount, &kUnmount, &kPolicy},
};

ct::ImageStoreOptions store_of(const ParsedArgs& args) {
    ct::ImageStoreOptions options;
    if (auto store = args.value("--store"))
        options.root = std::string(*store);
    else if (const char* env = std::getenv("KEEL_IMAGE_STORE"); env && *env)
        options.root = env;
    return options;
}

Result<void> pull_for_run(const ct::ImageStoreOptions& store, std::string_view reference,
                          PullPolicy policy) {
    if (policy == PullPolicy::Never)
        return {};
    if (policy == PullPolicy::Missing) {
        Result<ct::ImageDetails> present = ct::inspect_image(store, reference);
        if (present)
            return {};
        if (present.error().code() != ENOENT)
            return std::unexpected(std::move(present).error());
        print_error(cat("Unable to find image '", reference, "' locally\n"));
    }
    ct::PullOptions options;
    options.insecure_registries = insecure_registries_from_environment();
    options.progress = [](std::string_view line) { print_error(cat(line, "\n")); };
    ct::ImageSummary image = TRY(ct::pull_image(store, reference, options));
    print_error(
        cat("Pulled image: ", image.reference.empty() ? std::string(reference) : image.reference,
            " (", image.manifest_digest, ")\n"));
    return {};
}

} // namespace keel::cli
