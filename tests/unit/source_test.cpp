// Tests for update/source.h: Content-Range parsing, the source's URLs, the
// [Update] settings, the running version and machine-id, small fetches, and
// the image stream against a server on 127.0.0.1 that honours Range, cuts
// connections short, or ignores Range.
#include "update/source.h"

#include "update/pack.h"

#include "base/fd.h"
#include "base/signature.h"
#include "base/strings.h"
#include "base/sys.h"
#include "temp_dir.h"
#include "test_keys.h"

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <functional>
#include <mutex>
#include <netinet/in.h>
#include <poll.h>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

using namespace keel;
using namespace keel::update;

namespace {

// Answers up to `connections` requests, each with what `respond` makes of
// the request's head (sent as it is: a response cut short is a prefix).
class RangeServer {
public:
    using Respond = std::function<std::string(const std::string& request, int index)>;

    RangeServer(int connections, Respond respond)
        : m_connections(connections), m_respond(std::move(respond)) {
        m_listener.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(::bind(m_listener.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) ==
                0);
        REQUIRE(::listen(m_listener.get(), 8) == 0);
        socklen_t size = sizeof address;
        ::getsockname(m_listener.get(), reinterpret_cast<sockaddr*>(&address), &size);
        m_port = ntohs(address.sin_port);
        m_thread = std::thread([this] { serve(); });
    }
    ~RangeServer() { m_thread.join(); }

    net::Url url(std::string_view target) const {
        return net::parse_url(cat("http://127.0.0.1:", m_port, target)).value();
    }
    std::vector<std::string> requests() {
        std::lock_guard lock(m_mutex);
        return m_requests;
    }

private:
    void serve() {
        for (int index = 0; index < m_connections; ++index) {
            pollfd entry{m_listener.get(), POLLIN, 0};
            if (::poll(&entry, 1, 5000) <= 0)
                return;
            Fd client(::accept4(m_listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
            std::string request;
            char buffer[4096];
            while (request.find("\r\n\r\n") == std::string::npos) {
                ssize_t n = ::recv(client.get(), buffer, sizeof buffer, 0);
                if (n <= 0)
                    break;
                request.append(buffer, size_t(n));
            }
            {
                std::lock_guard lock(m_mutex);
                m_requests.push_back(request);
            }
            std::string response = m_respond(request, index);
            for (size_t sent = 0; sent < response.size();) {
                ssize_t n = ::send(client.get(), response.data() + sent, response.size() - sent,
                                   MSG_NOSIGNAL);
                if (n <= 0)
                    break;
                sent += size_t(n);
            }
        }
    }

    Fd m_listener;
    uint16_t m_port = 0;
    int m_connections;
    Respond m_respond;
    std::mutex m_mutex;
    std::vector<std::string> m_requests;
    std::thread m_thread;
};

std::string image_bytes() {
    std::string image;
    for (int i = 0; i < 300000; ++i)
        image += char('a' + i * 7 % 26);
    return image;
}

// The first byte a request's "Range: bytes=N-" asks for, or 0.
uint64_t range_start(const std::string& request) {
    size_t at = request.find("Range: bytes=");
    if (at == std::string::npos)
        return 0;
    return std::stoull(request.substr(at + 13));
}

// A 206 (or a 200 from byte 0) for `image` from the request's offset, cut
// after `cut` bytes of body when given.
std::string ranged_response(const std::string& image, const std::string& request,
                            std::optional<size_t> cut = std::nullopt) {
    uint64_t start = range_start(request);
    std::string body = image.substr(start);
    std::string head = start == 0
                           ? cat("HTTP/1.1 200 OK\r\nContent-Length: ", body.size(), "\r\n\r\n")
                           : cat("HTTP/1.1 206 Partial Content\r\nContent-Length: ", body.size(),
                                 "\r\nContent-Range: bytes ", start, "-", image.size() - 1, "/",
                                 image.size(), "\r\n\r\n");
    if (cut)
        body.resize(std::min(body.size(), *cut));
    return head + body;
}

DownloadOptions quick_download_options() {
    DownloadOptions options;
    options.client.timeouts.connect = std::chrono::milliseconds(2000);
    options.client.timeouts.idle = std::chrono::milliseconds(2000);
    options.reconnect_delay = std::chrono::milliseconds(10);
    return options;
}

Result<std::string> read_source(update::ImageSource& source) {
    std::string out;
    std::vector<char> buffer(10000);
    for (;;) {
        size_t n = TRY(source.read(buffer));
        if (n == 0)
            return out;
        out.append(buffer.data(), n);
    }
}

void write_text(const std::string& path, std::string_view text) {
    Fd fd = open_file(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC).value();
    REQUIRE(write_all(fd.get(), text));
}

} // namespace

TEST_CASE("Content-Range headers are read, malformed ones refused") {
    std::optional<ContentRange> range = parse_content_range("bytes 100-199/200");
    REQUIRE(range);
    CHECK(range->first == 100u);
    CHECK(range->last == 199u);
    CHECK(range->total == 200u);
    range = parse_content_range("bytes */500");
    REQUIRE(range);
    CHECK_FALSE(range->first);
    CHECK(range->total == 500u);
    range = parse_content_range("bytes 0-9/*");
    REQUIRE(range);
    CHECK_FALSE(range->total);
    for (std::string_view bad :
         {"", "bytes", "bytes 1-2", "items 0-1/2", "bytes 5-4/10", "bytes 0-10/10", "bytes */*",
          "bytes -1/2", "bytes 1-/2", "bytes 0-1/x", "bytes  0-1/2"})
        CHECK_MESSAGE(!parse_content_range(bad), bad);
}

TEST_CASE("the source's URLs are its base with the channel or release path appended") {
    CHECK(channel_url("http://127.0.0.1:8080/updates", "stable")->str() ==
          "http://127.0.0.1:8080/updates/channels/stable.json");
    CHECK(channel_url("https://updates.example/keel/", "beta-2")->str() ==
          "https://updates.example/keel/channels/beta-2.json");
    CHECK(source_url("http://h/base/", "releases/1.0/root.img")->str() ==
          "http://h/base/releases/1.0/root.img");
    CHECK_FALSE(channel_url("http://h/", "../x"));
    CHECK_FALSE(channel_url("http://h/", "a/b"));
    CHECK_FALSE(channel_url("http://h/", ""));
    CHECK_FALSE(channel_url("ftp://h/", "stable"));
    CHECK_FALSE(source_url("http://h/?x=1", "a"));
}

TEST_CASE("the [Update] settings give the source, channel and version policy") {
    Result<SourceConfig> config = parse_source_config(
        "[Update]\nSource=https://updates.example/keel\nChannel=beta\nMinVersion=1.2\n"
        "MaxVersion=2\nCAFile=/etc/keel/update-ca.pem\nHealthCheck=ignored-by-the-source.service\n"
        "[Other]\nVersion=junk\n",
        "update.conf");
    REQUIRE_MESSAGE(config, (config ? "" : config.error().to_string()));
    CHECK(config->base_url == "https://updates.example/keel");
    CHECK(config->channel == "beta");
    CHECK_FALSE(config->policy.pinned);
    CHECK(config->policy.minimum->text == "1.2");
    CHECK(config->policy.maximum->text == "2");
    CHECK(config->ca_file == "/etc/keel/update-ca.pem");

    Result<SourceConfig> defaults = parse_source_config("", "update.conf");
    REQUIRE(defaults);
    CHECK(defaults->base_url.empty());
    CHECK(defaults->channel == "stable");
}

TEST_CASE("bad [Update] settings are refused, naming the file and key") {
    auto refused = [](std::string_view text) {
        Result<SourceConfig> config = parse_source_config(text, "update.conf");
        REQUIRE_FALSE(config);
        return config.error().to_string();
    };
    CHECK(refused("[Update]\nVersion=v2\n").find("update.conf: Version") != std::string::npos);
    CHECK(refused("[Update]\nSource=ftp://x/\n").find("update.conf: Source") != std::string::npos);
    CHECK(refused("[Update]\nChannel=../x\n").find("update.conf: Channel") != std::string::npos);
    CHECK(refused("[Update]\nMinVersion=3\nMaxVersion=2\n").find("MinVersion=3 is above") !=
          std::string::npos);
}

TEST_CASE("the running version is VERSION_ID of os-release, /etc before /usr/lib") {
    keel::testing::TempDir root;
    ::mkdir((root / "etc").c_str(), 0755);
    ::mkdir((root / "usr").c_str(), 0755);
    ::mkdir((root / "usr/lib").c_str(), 0755);
    CHECK_FALSE(read_running_version(root.path()));
    write_text(root / "usr/lib/os-release", "NAME=keel\nVERSION_ID=1.4.2\n");
    CHECK(read_running_version(root.path())->text == "1.4.2");
    write_text(root / "etc/os-release", "NAME=keel\nID=keel\nVERSION_ID=\"2.0.1\"\n");
    CHECK(read_running_version(root.path())->text == "2.0.1");
    write_text(root / "etc/os-release", "NAME=keel\n");
    Result<Version> missing = read_running_version(root.path());
    REQUIRE_FALSE(missing);
    CHECK(missing.error().to_string().find("no VERSION_ID") != std::string::npos);
    write_text(root / "etc/os-release", "VERSION_ID=bookworm\n");
    CHECK_FALSE(read_running_version(root.path()));

    write_text(root / "etc/machine-id", "0123456789abcdef0123456789abcdef\n");
    CHECK(read_machine_id(root.path()) == "0123456789abcdef0123456789abcdef");
    write_text(root / "etc/machine-id", "uninitialized\n");
    CHECK_FALSE(read_machine_id(root.path()));
}

TEST_CASE("a small fetch names the URL and status when the server refuses") {
    RangeServer server(1, [](const std::string&, int) {
        return std::string("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
    });
    net::Url url = server.url("/channels/stable.json");
    Result<std::string> fetched = fetch_small(url, 1000, quick_download_options());
    REQUIRE_FALSE(fetched);
    CHECK(fetched.error().to_string() == cat("GET ", url.str(), ": 404 Not Found"));
}

TEST_CASE("a small fetch larger than its limit is refused") {
    RangeServer server(1, [](const std::string&, int) {
        return std::string("HTTP/1.1 200 OK\r\nContent-Length: 2000\r\n\r\n") +
               std::string(2000, 'x');
    });
    Result<std::string> fetched = fetch_small(server.url("/m"), 1000, quick_download_options());
    REQUIRE_FALSE(fetched);
    CHECK(fetched.error().to_string().find("the most is 1000") != std::string::npos);
}

TEST_CASE("an image opened at an offset asks for a range and delivers the rest") {
    std::string image = image_bytes();
    RangeServer server(
        1, [&](const std::string& request, int) { return ranged_response(image, request); });
    auto source = open_http_source(server.url("/root.img"), 123456, quick_download_options());
    REQUIRE_MESSAGE(source, (source ? "" : source.error().to_string()));
    Result<std::string> rest = read_source(**source);
    REQUIRE(rest);
    CHECK(*rest == image.substr(123456));
    CHECK(server.requests()[0].find("Range: bytes=123456-\r\n") != std::string::npos);
}

TEST_CASE("an image download cut short reconnects from the byte reached") {
    std::string image = image_bytes();
    // Every connection delivers at most 70000 bytes, then closes.
    RangeServer server(
        6, [&](const std::string& request, int) { return ranged_response(image, request, 70000); });
    auto source = open_http_source(server.url("/root.img"), 0, quick_download_options());
    REQUIRE(source);
    Result<std::string> all = read_source(**source);
    REQUIRE_MESSAGE(all, (all ? "" : all.error().to_string()));
    CHECK(*all == image);
    std::vector<std::string> requests = server.requests();
    REQUIRE(requests.size() == 5);
    CHECK(requests[0].find("Range:") == std::string::npos);
    CHECK(requests[1].find("Range: bytes=70000-\r\n") != std::string::npos);
    CHECK(requests[4].find("Range: bytes=280000-\r\n") != std::string::npos);
}

TEST_CASE("a server that ignores Range sends the image again and the offset is skipped") {
    std::string image = image_bytes();
    RangeServer server(1, [&](const std::string&, int) {
        return cat("HTTP/1.1 200 OK\r\nContent-Length: ", image.size(), "\r\n\r\n", image);
    });
    auto source = open_http_source(server.url("/root.img"), 250000, quick_download_options());
    REQUIRE(source);
    Result<std::string> rest = read_source(**source);
    REQUIRE(rest);
    CHECK(*rest == image.substr(250000));
}

TEST_CASE("an image download gives up after its reconnects, naming the URL and byte") {
    std::string image = image_bytes();
    // The first connection delivers 1000 bytes; every later one nothing.
    RangeServer server(10, [&](const std::string& request, int index) {
        return ranged_response(image, request, index == 0 ? 1000 : 0);
    });
    DownloadOptions options = quick_download_options();
    options.max_reconnects = 2;
    net::Url url = server.url("/root.img");
    auto source = open_http_source(url, 0, options);
    REQUIRE(source);
    Result<std::string> all = read_source(**source);
    REQUIRE_FALSE(all);
    CHECK(all.error().to_string().find(
              cat("GET ", url.str(), ": at byte 1000, after 2 reconnects")) != std::string::npos);
    CHECK(server.requests().size() == 3);
}

TEST_CASE("an image whose length changes between requests is refused") {
    std::string image = image_bytes();
    RangeServer server(2, [&](const std::string& request, int index) {
        if (index == 0)
            return ranged_response(image, request, 5000);
        return cat("HTTP/1.1 206 Partial Content\r\nContent-Length: 10\r\nContent-Range: bytes ",
                   range_start(request), "-", range_start(request) + 9, "/999999\r\n\r\n",
                   std::string(10, 'x'));
    });
    auto source = open_http_source(server.url("/root.img"), 0, quick_download_options());
    REQUIRE(source);
    Result<std::string> all = read_source(**source);
    REQUIRE_FALSE(all);
    CHECK(all.error().to_string().find("changed on the server") != std::string::npos);
}

TEST_CASE("a 206 for another offset than the one asked for is refused") {
    std::string image = image_bytes();
    RangeServer server(1, [&](const std::string&, int) {
        return cat(
            "HTTP/1.1 206 Partial Content\r\nContent-Length: 10\r\nContent-Range: bytes 0-9/",
            image.size(), "\r\n\r\n", image.substr(0, 10));
    });
    auto source = open_http_source(server.url("/root.img"), 500, quick_download_options());
    REQUIRE_FALSE(source);
    CHECK(source.error().to_string().find("asked for bytes from 500") != std::string::npos);
}

TEST_CASE("an image opened at its end is empty") {
    std::string image = image_bytes();
    RangeServer server(1, [&](const std::string&, int) {
        return cat("HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */", image.size(),
                   "\r\nContent-Length: 0\r\n\r\n");
    });
    auto source = open_http_source(server.url("/root.img"), image.size(), quick_download_options());
    REQUIRE_MESSAGE(source, (source ? "" : source.error().to_string()));
    CHECK(read_source(**source) == "");
}

TEST_CASE("a reconnect names the image's ETag in If-Range, and a new ETag is refused") {
    std::string image = image_bytes();
    // The first connection is cut after 5000 bytes under ETag "v1"; the
    // second answers with the image whole under "v2", as a server whose
    // image changed answers an If-Range that no longer matches.
    RangeServer server(2, [&](const std::string& request, int index) {
        std::string response = ranged_response(image, request, index == 0 ? 5000 : image.size());
        if (index == 1)
            response = cat("HTTP/1.1 200 OK\r\nContent-Length: ", image.size(), "\r\n",
                           "ETag: \"v2\"\r\n\r\n", image);
        else
            response.insert(response.find("\r\n") + 2, "ETag: \"v1\"\r\n");
        return response;
    });
    auto source = open_http_source(server.url("/root.img"), 0, quick_download_options());
    REQUIRE(source);
    Result<std::string> all = read_source(**source);
    REQUIRE_FALSE(all);
    CHECK(all.error().to_string().find(
              "the image changed on the server (it was \"v1\", it is now \"v2\")") !=
          std::string::npos);
    std::vector<std::string> requests = server.requests();
    REQUIRE(requests.size() == 2);
    CHECK(requests[0].find("If-Range") == std::string::npos);
    CHECK(requests[1].find("If-Range: \"v1\"\r\n") != std::string::npos);
}

TEST_CASE("a weak ETag is no validator: Last-Modified is named instead, and a same-validator 200 "
          "is skipped") {
    std::string image = image_bytes();
    RangeServer server(2, [&](const std::string& request, int index) {
        // Range ignored both times; a weak ETag and a fixed date.
        (void)request;
        std::string head =
            cat("HTTP/1.1 200 OK\r\nContent-Length: ", image.size(),
                "\r\nETag: W/\"weak\"\r\nLast-Modified: Mon, 07 Dec 2026 08:00:00 GMT\r\n\r\n");
        return head + (index == 0 ? image.substr(0, 5000) : image);
    });
    auto source = open_http_source(server.url("/root.img"), 0, quick_download_options());
    REQUIRE(source);
    Result<std::string> all = read_source(**source);
    REQUIRE_MESSAGE(all, (all ? "" : all.error().to_string()));
    CHECK(*all == image);
    std::vector<std::string> requests = server.requests();
    REQUIRE(requests.size() == 2);
    CHECK(requests[1].find("If-Range: Mon, 07 Dec 2026 08:00:00 GMT\r\n") != std::string::npos);
}

namespace {

// The source's answer for a check that offers VERSION in channel stable,
// whose manifest (at /m.json, signed) is `manifest`.
std::string offering(const std::string& request, std::string_view version,
                     const std::string& manifest, const std::string& signature) {
    std::string body;
    if (request.find("GET /channels/stable.json ") != std::string::npos)
        body = cat(R"({"channel":"stable","releases":[{"version":")", version,
                   R"(","manifest":"m.json","signature":"m.json.sig","image":"root.img"}]})");
    else if (request.find("GET /m.json ") != std::string::npos)
        body = manifest;
    else if (request.find("GET /m.json.sig ") != std::string::npos)
        body = signature;
    else
        return std::string("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
    return cat("HTTP/1.1 200 OK\r\nContent-Length: ", body.size(), "\r\n\r\n", body);
}

// What install_offered_update says when the source offers `offered` and
// the signed manifest is VERSION of CHANNEL; the machine runs 2.0.0.
std::string offered_install_refusal(std::string_view offered, const std::string& version,
                                    const std::string& channel) {
    TempDir dir;
    auto key = keel::testing::make_key(MBEDTLS_PK_ECKEY);
    REQUIRE(make_directories(dir / "trusted"));
    write_text(dir / "trusted/publisher.pem", key.public_pem);
    write_text(dir / "publisher.key", key.private_pem);
    write_text(dir / "root.img", std::string(40000, 'r'));
    auto packed = pack_payload(
        {dir / "root.img", version, channel, dir / "publisher.key", dir / "payload", 16384});
    REQUIRE_MESSAGE(packed, (packed ? "" : packed.error().to_string()));
    std::string manifest = read_file(dir / "payload/manifest.json").value();
    std::string signature = read_file(dir / "payload/manifest.json.sig").value();
    REQUIRE(make_directories(dir / "machine/etc"));
    write_text(dir / "machine/etc/os-release", "ID=keel\nVERSION_ID=2.0.0\n");
    write_text(dir / "machine/etc/machine-id", "0123456789abcdef0123456789abcdef\n");

    // Three requests: the channel, the manifest, its signature; never the image.
    RangeServer server(3, [&](const std::string& request, int) {
        return offering(request, offered, manifest, signature);
    });
    SourceConfig config;
    config.base_url = server.url("/").str();
    config.channel = "stable";
    InstallRequest request;
    request.trusted_keys_directory = dir / "trusted";
    request.disk = dir / "no-such-disk.img";
    auto installed = install_offered_update(config, std::move(request), quick_download_options(),
                                            dir / "machine");
    REQUIRE_FALSE(installed);
    return installed.error().to_string();
}

} // namespace

TEST_CASE(
    "a release whose signed manifest is another version or channel is refused before the disk") {
    // An older signed release offered as a newer one: a rollback.
    CHECK(offered_install_refusal("3.0.0", "1.0.0", "stable")
              .find("the signed manifest is version 1.0.0, but channel `stable` offers it as "
                    "3.0.0: refused") != std::string::npos);
    CHECK(offered_install_refusal("3.0.0", "3.0.0", "beta")
              .find("the signed manifest is for channel `beta`, not `stable`: refused") !=
          std::string::npos);
}

namespace {

// check_for_update() against a source whose channel is `channel_json`,
// signed (channels/stable.json.sig) with `signature`, or with none when
// it is empty; the machine trusts one key, with which `sign` signs.
struct SignedChannelSource {
    TempDir dir;
    keel::testing::KeyPair key = keel::testing::make_key(MBEDTLS_PK_ECKEY);

    SignedChannelSource() {
        REQUIRE(make_directories(dir / "trusted"));
        write_text(dir / "trusted/publisher.pem", key.public_pem);
        write_text(dir / "publisher.key", key.private_pem);
    }
    std::string sign(std::string_view text) {
        return sign_detached(text, dir / "publisher.key").value();
    }
    Result<Offer> check(const std::string& channel_json, const std::string& signature, int64_t now,
                        bool signed_channel = true) {
        RangeServer server(signed_channel ? 2 : 1, [&](const std::string& request, int) {
            std::string body;
            if (request.find("GET /channels/stable.json ") != std::string::npos)
                body = channel_json;
            else if (request.find("GET /channels/stable.json.sig ") != std::string::npos &&
                     !signature.empty())
                body = signature;
            else
                return std::string("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
            return cat("HTTP/1.1 200 OK\r\nContent-Length: ", body.size(), "\r\n\r\n", body);
        });
        CheckRequest request;
        request.config.base_url = server.url("/").str();
        request.config.signed_channel = signed_channel;
        request.running = parse_version("1.0.0").value();
        request.machine_id = "0123456789abcdef0123456789abcdef";
        request.now = now;
        request.trusted_keys_directory = dir / "trusted";
        request.download = quick_download_options();
        return check_for_update(request);
    }
};

// 2026-12-07T12:00:00Z
constexpr int64_t kNoon = 1796644800;

std::string channel_expiring(std::string_view expires) {
    return cat(
        R"({"channel":"stable","expires":")", expires,
        R"(","releases":[{"version":"1.0.0","manifest":"m.json","signature":"m.json.sig","image":"root.img"}]})");
}

} // namespace

TEST_CASE("a signed channel is checked against the trusted keys and refused once expired") {
    REQUIRE(format_rfc3339_utc(kNoon) == "2026-12-07T12:00:00Z");
    SignedChannelSource source;
    std::string current = channel_expiring("2026-12-14T12:00:00Z");
    Result<Offer> offer = source.check(current, source.sign(current), kNoon);
    REQUIRE_MESSAGE(offer, (offer ? "" : offer.error().to_string()));
    CHECK(offer->channel_key_id.size() == 16);
    CHECK(offer->channel.expires == kNoon + 7 * 24 * 3600);
    CHECK(offer->decision.verdict == Verdict::UpToDate);

    // A week later the same signed channel is stale: a mirror that stopped
    // being refreshed, or one withholding updates.
    Result<Offer> stale = source.check(current, source.sign(current), kNoon + 7 * 24 * 3600);
    REQUIRE_FALSE(stale);
    CHECK(stale.error().to_string().find(
              "/channels/stable.json: expired at 2026-12-14T12:00:00Z: the source serves a "
              "channel nobody has renewed") != std::string::npos);

    // Signed by another key, altered after signing, or not signed at all.
    auto other = keel::testing::make_key(MBEDTLS_PK_ECKEY);
    write_text(source.dir / "other.key", other.private_pem);
    std::string foreign = sign_detached(current, source.dir / "other.key").value();
    Result<Offer> untrusted = source.check(current, foreign, kNoon);
    REQUIRE_FALSE(untrusted);
    CHECK(untrusted.error().to_string().find("bad signature: `stable.json.sig` verifies against "
                                             "none of the 1 trusted key") != std::string::npos);
    std::string altered = channel_expiring("2027-12-14T12:00:00Z");
    CHECK_FALSE(source.check(altered, source.sign(current), kNoon));
    Result<Offer> unsigned_channel = source.check(current, "", kNoon);
    REQUIRE_FALSE(unsigned_channel);
    CHECK(unsigned_channel.error().to_string().find("channels/stable.json.sig") !=
          std::string::npos);

    // Signed, but saying nothing of how long it is current.
    std::string forever =
        R"({"channel":"stable","releases":[{"version":"1.0.0","manifest":"m.json","signature":"m.json.sig","image":"root.img"}]})";
    Result<Offer> no_expiry = source.check(forever, source.sign(forever), kNoon);
    REQUIRE_FALSE(no_expiry);
    CHECK(no_expiry.error().to_string().find("SignedChannel=yes, but the channel has no "
                                             "\"expires\"") != std::string::npos);
}

TEST_CASE("without SignedChannel= an unsigned channel is taken, its expires still honoured") {
    SignedChannelSource source;
    std::string current = channel_expiring("2026-12-14T12:00:00Z");
    Result<Offer> offer = source.check(current, "", kNoon, false);
    REQUIRE_MESSAGE(offer, (offer ? "" : offer.error().to_string()));
    CHECK(offer->channel_key_id.empty());
    CHECK_FALSE(source.check(current, "", kNoon + 8 * 24 * 3600, false));
}

TEST_CASE("SignedChannel= is a boolean of [Update]") {
    Result<SourceConfig> config = parse_source_config("[Update]\nSignedChannel=yes\n", "u.conf");
    REQUIRE(config);
    CHECK(config->signed_channel);
    CHECK_FALSE(parse_source_config("", "u.conf")->signed_channel);
    Result<SourceConfig> bad = parse_source_config("[Update]\nSignedChannel=maybe\n", "u.conf");
    REQUIRE_FALSE(bad);
    CHECK(bad.error().to_string().find("u.conf: SignedChannel") != std::string::npos);
}
