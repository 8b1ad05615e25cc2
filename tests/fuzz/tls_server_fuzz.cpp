// Fuzz target for kv/tls_stream.h's server side: bytes from a would-be TLS
// client (a ClientHello and whatever follows) fed to a server session that
// requires client certificates, over a socketpair whose client end has
// written everything and shut down. The session must reach an end (an
// error or the close) within a bounded number of reads, never crash, and
// never hand out plaintext from a client that could not have finished a
// handshake. The certificates are the unit tests' fixtures
// (tests/unit/tls/make_certs.sh), written to a temporary directory once.
#include "base/sys.h"
#include "kv/tls_stream.h"
#include "tests/fuzz/fuzz_check.h"

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/unit/tls/test_certs.inc"

using namespace keel;
using namespace keel::kv;

namespace {

std::shared_ptr<TlsContext> make_context() {
    // TlsContext loads PEM files, as the server's flags name them: the
    // fixtures go to a scratch directory under $TMPDIR for the load only.
    std::string dir = fuzz_scratch_pattern("tls");
    FUZZ_CHECK(::mkdtemp(dir.data()) != nullptr);
    auto write = [&](const char* name, std::string_view pem) {
        FUZZ_CHECK(write_new_file(dir + name, pem).has_value());
    };
    write("/ca.crt", test_certs::ca_crt);
    write("/server.crt", test_certs::server_crt);
    write("/server.key", test_certs::server_key);
    TlsContextOptions options;
    options.role = TlsRole::Server;
    options.verify = PeerVerification::Required;
    options.alpn = {"h2"};
    options.cert_file = dir + "/server.crt";
    options.key_file = dir + "/server.key";
    options.trusted_ca_file = dir + "/ca.crt";
    auto context = TlsContext::create(options);
    FUZZ_CHECK(context.has_value());
    for (const char* name : {"/ca.crt", "/server.crt", "/server.key"})
        ::unlink((dir + name).c_str());
    ::rmdir(dir.c_str());
    return *context;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static std::shared_ptr<TlsContext> context = make_context();
    size = std::min<size_t>(size, 64u << 10); // fits the socket buffer
    int fds[2] = {-1, -1};
    FUZZ_CHECK(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) == 0);
    if (size > 0)
        FUZZ_CHECK(::send(fds[1], data, size, MSG_NOSIGNAL) == ssize_t(size));
    ::shutdown(fds[1], SHUT_WR);
    {
        auto stream = tls_stream(context, fds[0]);
        FUZZ_CHECK(stream.has_value());
        bool ended = false;
        char buffer[4096];
        for (int round = 0; round < 256 && !ended; ++round) {
            auto read = (*stream)->read(buffer, sizeof buffer);
            // No client certificate can be valid here: no plaintext comes.
            FUZZ_CHECK(!read || !*read || **read == 0);
            ended = !read || (*read && **read == 0);
            if (!ended)
                ended = !(*stream)->write("");
        }
        FUZZ_CHECK(ended);
    }
    ::close(fds[0]);
    ::close(fds[1]);
    return 0;
}
