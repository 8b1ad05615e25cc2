// Tests for kv/tls_stream.h: a server and a client session over a
// non-blocking socketpair, driven by hand the way the reactor drives them
// (handshake and data both ways, RSA and ECDSA keys, client certificates
// required, refused when missing, expired or from another CA; ALPN), and
// contexts refusing unreadable files. The certificates come from
// tests/unit/tls/make_certs.sh.
#include "kv/tls_stream.h"

#include "base/fd.h"
#include "base/strings.h"
#include "temp_dir.h"

#include <doctest/doctest.h>

#include <fstream>
#include <sys/socket.h>

#include "tls/test_certs.inc"

using namespace keel;
using namespace keel::kv;

namespace {

// The fixture PEMs written to files, which is what contexts load.
class CertFiles {
public:
    CertFiles() {
        for (auto [name, text] : {std::pair{"ca.crt", test_certs::ca_crt},
                                  {"server.crt", test_certs::server_crt},
                                  {"server.key", test_certs::server_key},
                                  {"rsa.crt", test_certs::rsa_crt},
                                  {"rsa.key", test_certs::rsa_key},
                                  {"client.crt", test_certs::client_crt},
                                  {"client.key", test_certs::client_key},
                                  {"expired.crt", test_certs::expired_crt},
                                  {"expired.key", test_certs::expired_key},
                                  {"stranger.crt", test_certs::stranger_crt},
                                  {"stranger.key", test_certs::stranger_key},
                                  {"garbage.pem", "not a certificate\n"}}) {
            std::ofstream(m_dir / name) << text;
        }
    }
    std::string operator/(const std::string& name) const { return m_dir / name; }

private:
    keel::testing::TempDir m_dir;
};

TlsContextOptions server_options(const CertFiles& files, PeerVerification verify,
                                 std::string name = "server") {
    TlsContextOptions options;
    options.role = TlsRole::Server;
    options.verify = verify;
    options.alpn = {"h2"};
    options.cert_file = files / (name + ".crt");
    options.key_file = files / (name + ".key");
    options.trusted_ca_file = files / "ca.crt";
    return options;
}

TlsContextOptions client_options(const CertFiles& files, std::string name = "") {
    TlsContextOptions options;
    options.role = TlsRole::Client;
    options.alpn = {"h2"};
    if (!name.empty()) {
        options.cert_file = files / (name + ".crt");
        options.key_file = files / (name + ".key");
    }
    options.trusted_ca_file = files / "ca.crt";
    return options;
}

std::shared_ptr<TlsContext> tls_context(const TlsContextOptions& options) {
    auto made = TlsContext::create(options);
    REQUIRE_MESSAGE(made, (made ? "" : made.error().to_string()));
    return *made;
}

// Two sessions over a socketpair.
struct Sessions {
    Sessions(std::shared_ptr<TlsContext> server_context,
             std::shared_ptr<TlsContext> client_context) {
        int fds[2] = {-1, -1};
        REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) == 0);
        server_fd = Fd(fds[0]);
        client_fd = Fd(fds[1]);
        auto s = tls_stream(std::move(server_context), server_fd.get());
        auto c = tls_stream(std::move(client_context), client_fd.get());
        REQUIRE(s);
        REQUIRE(c);
        server = std::move(*s);
        client = std::move(*c);
    }
    Fd server_fd;
    Fd client_fd;
    std::unique_ptr<ByteStream> server;
    std::unique_ptr<ByteStream> client;
};

// Drives both ends the way readiness would, until `to` has read all that
// `from` was given to send: what `to` read, or the first error (which side
// it came from first).
Result<std::string> carry(ByteStream& from, ByteStream& to, std::string_view message) {
    ByteQueue out;
    out.append(message);
    std::string received;
    char buffer[4096];
    for (int round = 0; round < 1000 && received.size() < message.size(); ++round) {
        TRY_CTX(send_queued(from, out), "sender");
        auto got = TRY_CTX(to.read(buffer, sizeof buffer), "receiver");
        if (got && *got == 0)
            return error("receiver: the other end closed");
        if (got)
            received.append(buffer, *got);
        TRY_CTX(to.write(""), "receiver");
        auto back = TRY_CTX(from.read(buffer, sizeof buffer), "sender");
        if (back && *back == 0)
            return error("sender: the other end closed");
    }
    return received;
}

std::string failure_text(const Result<std::string>& result) {
    return result ? std::string() : result.error().to_string();
}

} // namespace

TEST_CASE("a TLS client and server shake hands and carry data both ways, ECDSA and RSA") {
    CertFiles files;
    for (std::string name : {"server", "rsa"}) {
        CAPTURE(name);
        Sessions pair(tls_context(server_options(files, PeerVerification::None, name)),
                      tls_context(client_options(files)));
        std::string request(100000, 'q');
        auto there = carry(*pair.client, *pair.server, request);
        REQUIRE_MESSAGE(there, failure_text(there));
        CHECK(*there == request);
        auto back = carry(*pair.server, *pair.client, "answer");
        REQUIRE_MESSAGE(back, failure_text(back));
        CHECK(*back == "answer");
    }
}

TEST_CASE("a server that requires client certificates takes one signed by its CA") {
    CertFiles files;
    Sessions pair(tls_context(server_options(files, PeerVerification::Required)),
                  tls_context(client_options(files, "client")));
    auto there = carry(*pair.client, *pair.server, "hello");
    REQUIRE_MESSAGE(there, failure_text(there));
    CHECK(*there == "hello");
}

TEST_CASE("a client without a certificate, with an expired one or one from another CA is refused") {
    CertFiles files;
    struct Case {
        std::string client;
        std::string reason;
    };
    for (const Case& c : {Case{"", "certificate"}, Case{"expired", "certificate expired"},
                          Case{"stranger", "certificate not trusted"}}) {
        CAPTURE(c.client);
        Sessions pair(tls_context(server_options(files, PeerVerification::Required)),
                      tls_context(client_options(files, c.client)));
        auto there = carry(*pair.client, *pair.server, "hello");
        REQUIRE_FALSE(there);
        std::string text = there.error().to_string();
        CHECK_MESSAGE(text.find("receiver") != std::string::npos, text);
        CHECK_MESSAGE(text.find("TLS handshake") != std::string::npos, text);
        CHECK_MESSAGE(text.find(c.reason) != std::string::npos, text);
    }
}

TEST_CASE("an allowed CommonName or host name admits only certificates that have it") {
    // The client certificate: CN=localhost, subjectAltName localhost and
    // 127.0.0.1.
    CertFiles files;
    struct Case {
        std::string cn;
        std::string host;
        std::string refusal; // empty: admitted
    };
    for (const Case& c :
         {Case{"localhost", "", ""}, Case{"", "LOCALHOST", ""}, Case{"", "127.0.0.1", ""},
          Case{"keel-member", "", "its CommonName `localhost` is not the allowed `keel-member`"},
          Case{"", "127.0.0.2", "it is not for the allowed host `127.0.0.2`"},
          Case{"", "member.localhost", "not for the allowed host"}}) {
        CAPTURE(c.cn);
        CAPTURE(c.host);
        TlsContextOptions server = server_options(files, PeerVerification::Required);
        server.allowed_cn = c.cn;
        server.allowed_hostname = c.host;
        Sessions pair(tls_context(server), tls_context(client_options(files, "client")));
        auto there = carry(*pair.client, *pair.server, "hello");
        if (c.refusal.empty()) {
            REQUIRE_MESSAGE(there, failure_text(there));
            CHECK(*there == "hello");
            continue;
        }
        REQUIRE_FALSE(there);
        std::string text = there.error().to_string();
        CHECK_MESSAGE(text.find("certificate authentication failed") != std::string::npos, text);
        CHECK_MESSAGE(text.find(c.refusal) != std::string::npos, text);
    }
    // The dialing side checks the server's certificate the same way.
    TlsContextOptions client = client_options(files, "client");
    client.allowed_cn = "keel-member";
    Sessions pair(tls_context(server_options(files, PeerVerification::Required)),
                  tls_context(client));
    auto there = carry(*pair.client, *pair.server, "hello");
    REQUIRE_FALSE(there);
    CHECK(there.error().to_string().find("sender") != std::string::npos);
}

TEST_CASE("an allowed name needs verification, and a CommonName and a host name exclude each "
          "other") {
    CertFiles files;
    TlsContextOptions unverified = server_options(files, PeerVerification::None);
    unverified.allowed_cn = "localhost";
    auto refused = TlsContext::create(unverified);
    REQUIRE_FALSE(refused);
    CHECK(refused.error().to_string().find("needs the other end's certificate verified") !=
          std::string::npos);
    TlsContextOptions both = server_options(files, PeerVerification::Required);
    both.allowed_cn = "a";
    both.allowed_hostname = "b";
    refused = TlsContext::create(both);
    REQUIRE_FALSE(refused);
    CHECK(refused.error().to_string().find("mutually exclusive (cn=`a`, hostname=`b`)") !=
          std::string::npos);
}

TEST_CASE("a client refuses a server whose certificate its CA did not sign") {
    CertFiles files;
    TlsContextOptions client = client_options(files);
    client.trusted_ca_file = files / "stranger.crt"; // not the CA of the server
    Sessions pair(tls_context(server_options(files, PeerVerification::None)), tls_context(client));
    auto there = carry(*pair.client, *pair.server, "hello");
    REQUIRE_FALSE(there);
    CHECK_MESSAGE(there.error().to_string().find("TLS handshake") != std::string::npos,
                  there.error().to_string());
}

TEST_CASE("a server offering only h2 refuses a client that speaks only http/1.1") {
    CertFiles files;
    TlsContextOptions client = client_options(files);
    client.alpn = {"http/1.1"};
    Sessions pair(tls_context(server_options(files, PeerVerification::None)), tls_context(client));
    auto there = carry(*pair.client, *pair.server, "hello");
    CHECK_FALSE(there);
}

TEST_CASE("garbage instead of a handshake is a TLS error, not a hang") {
    CertFiles files;
    Sessions pair(tls_context(server_options(files, PeerVerification::None)),
                  tls_context(client_options(files)));
    std::string_view http = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    REQUIRE(::send(pair.client_fd.get(), http.data(), http.size(), 0) == ssize_t(http.size()));
    char buffer[64];
    auto read = pair.server->read(buffer, sizeof buffer);
    REQUIRE_FALSE(read);
    CHECK_MESSAGE(read.error().to_string().find("TLS handshake") != std::string::npos,
                  read.error().to_string());
}

TEST_CASE("a TLS context refuses missing or malformed files, naming them") {
    CertFiles files;
    TlsContextOptions options = server_options(files, PeerVerification::Required);
    options.cert_file = files / "missing.crt";
    auto made = TlsContext::create(options);
    REQUIRE_FALSE(made);
    CHECK(made.error().to_string().find("missing.crt") != std::string::npos);

    options = server_options(files, PeerVerification::Required);
    options.key_file = files / "garbage.pem";
    made = TlsContext::create(options);
    REQUIRE_FALSE(made);
    CHECK(made.error().to_string().find("key file") != std::string::npos);

    options = server_options(files, PeerVerification::Required);
    options.trusted_ca_file = "";
    made = TlsContext::create(options);
    REQUIRE_FALSE(made);
    CHECK(made.error().to_string().find("trusted CA") != std::string::npos);

    options = server_options(files, PeerVerification::None);
    options.cert_file = "";
    CHECK_FALSE(TlsContext::create(options));
}
