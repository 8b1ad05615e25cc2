// Questions one member asks another over the peer protocol outside Raft: a
// blocking exchange of one Hello (whose purpose says what is asked) for one
// answer frame, plaintext or TLS like the peer connections. A joining
// member asks for the members (kv/member_join.h), the corruption check for
// a HashKV (kv/corruption_check.h). Private to kv/.
#pragma once

#include "base/result.h"
#include "kv/raft_codec.h"
#include "kv/server_config.h"

#include <chrono>
#include <memory>
#include <string>

namespace keel::kv {

class TlsContext;

/// The TLS context this member dials its peers with (its --peer-cert-file
/// and --peer-key-file, the server's chain checked against
/// --peer-trusted-ca-file); null when the peer URLs are http://. One
/// context serves one thread.
Result<std::shared_ptr<TlsContext>> peer_client_tls(const ServerConfig& config);

/// Connects to the member at `peer` (TLS when `tls` is set), sends `hello`
/// and returns the one frame it answers with. Blocks for at most about
/// `timeout` in all. Errors say what failed: the connection, TLS, a
/// member that closed without answering, the time running out.
Result<std::string> ask_peer(const ServerUrl& peer, const PeerHello& hello,
                             std::chrono::milliseconds timeout,
                             const std::shared_ptr<TlsContext>& tls);

} // namespace keel::kv
