#!/usr/bin/env python3
"""A small OCI distribution registry for keel's host tests (registry.sh).

Serves the manifests and blobs of an OCI image layout directory (tags from
index.json's org.opencontainers.image.ref.name annotations) the way a real
registry does, with what the tests need to check keel's side of the
protocol:

  --token            Bearer token auth: /v2/ answers 401 with a challenge
                     naming /token on this server; /token hands out a token
                     (checking Basic credentials when --user is given) for
                     the scope repository:NAME:pull only.
  --redirect-blobs   blob GETs answer 307 to a second server on another port
                     (another origin), which refuses any request carrying
                     Authorization and records it in --violations FILE.
  --tamper DIGEST    flips a byte of that blob as it is served.
  --cut DIGEST       the first GET of that blob announces all of it but
                     sends only the first half, then closes the connection.
  --slow DIGEST      serves that blob in 16 pieces over about 4 seconds.
  --requests FILE    appends "DIGEST RANGE" (RANGE "-" when none) for each
                     blob GET.
  --cert/--key       serve over HTTPS.

Digests may be sha256 or sha512 (blobs/sha512/HEX); a blob GET with
"Range: bytes=N-" is answered 206 with the rest and a Content-Range.

Writes "PORT" to --port-file once listening; runs until killed.
"""
import argparse
import base64
import hashlib
import http.server
import json
import os
import ssl
import threading
import time
import urllib.parse

TOKEN = "fake-token-7f3a"


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("--layout", required=True)
    p.add_argument("--repository", default="tools/busybox")
    p.add_argument("--port-file", required=True)
    p.add_argument("--token", action="store_true")
    p.add_argument("--user")
    p.add_argument("--password")
    p.add_argument("--redirect-blobs", action="store_true")
    p.add_argument("--violations")
    p.add_argument("--tamper")
    p.add_argument("--cut")
    p.add_argument("--slow")
    p.add_argument("--requests")
    p.add_argument("--cert")
    p.add_argument("--key")
    return p.parse_args()


ARGS = parse_args()
SCHEME = "https" if ARGS.cert else "http"


HEX_LENGTH = {"sha256": 64, "sha512": 128}
CUT_DONE = []


def blob_path(digest):
    algorithm, _, hexdigits = digest.partition(":")
    if len(hexdigits) != HEX_LENGTH.get(algorithm) or not all(c in "0123456789abcdef" for c in hexdigits):
        return None
    path = os.path.join(ARGS.layout, "blobs", algorithm, hexdigits)
    return path if os.path.exists(path) else None


def tags():
    with open(os.path.join(ARGS.layout, "index.json")) as f:
        index = json.load(f)
    out = {}
    for entry in index.get("manifests", []):
        name = entry.get("annotations", {}).get("org.opencontainers.image.ref.name")
        if name:
            out[name] = entry
    return out


def media_type_of(data):
    document = json.loads(data)
    if "mediaType" in document:
        return document["mediaType"]
    if "manifests" in document:
        return "application/vnd.oci.image.index.v1+json"
    return "application/vnd.oci.image.manifest.v1+json"


def blob_bytes(digest):
    with open(blob_path(digest), "rb") as f:
        data = f.read()
    if ARGS.tamper == digest:
        data = bytes([data[0] ^ 1]) + data[1:]
    return data


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def send(self, status, body=b"", headers=None):
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def error(self, status, code, message, headers=None):
        body = json.dumps({"errors": [{"code": code, "message": message}]}).encode()
        self.send(status, body, dict({"Content-Type": "application/json"}, **(headers or {})))

    def authorised(self):
        if not ARGS.token:
            return True
        if self.headers.get("Authorization") == "Bearer " + TOKEN:
            return True
        host = self.headers.get("Host")
        challenge = 'Bearer realm="%s://%s/token",service="fake-registry"' % (SCHEME, host)
        self.error(401, "UNAUTHORIZED", "authentication required", {"WWW-Authenticate": challenge})
        return False

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/token":
            return self.token(urllib.parse.parse_qs(url.query))
        if not self.authorised():
            return
        if url.path == "/v2/":
            return self.send(200, b"{}", {"Content-Type": "application/json"})
        prefix = "/v2/%s/" % ARGS.repository
        if not url.path.startswith(prefix):
            return self.error(404, "NAME_UNKNOWN", "repository name not known to registry")
        kind, _, reference = url.path[len(prefix):].partition("/")
        if kind == "manifests":
            return self.manifest(reference)
        if kind == "blobs":
            return self.blob(reference)
        return self.error(404, "UNSUPPORTED", "not here")

    def token(self, query):
        if query.get("service") != ["fake-registry"] or query.get("scope") != [
                "repository:%s:pull" % ARGS.repository]:
            return self.error(400, "DENIED", "bad service or scope: %r" % query)
        if ARGS.user:
            expected = "Basic " + base64.b64encode(("%s:%s" % (ARGS.user, ARGS.password)).encode()).decode()
            if self.headers.get("Authorization") != expected:
                return self.error(401, "UNAUTHORIZED", "bad credentials")
        self.send(200, json.dumps({"token": TOKEN}).encode(), {"Content-Type": "application/json"})

    def manifest(self, reference):
        if reference.startswith(("sha256:", "sha512:")):
            if not blob_path(reference):
                return self.error(404, "MANIFEST_UNKNOWN", "manifest unknown")
            digest = reference
        else:
            entry = tags().get(reference)
            if not entry:
                return self.error(404, "MANIFEST_UNKNOWN", "manifest unknown")
            digest = entry["digest"]
        data = blob_bytes(digest)
        algorithm = digest.partition(":")[0]
        told = algorithm + ":" + hashlib.new(algorithm, data).hexdigest()
        self.send(200, data, {"Content-Type": media_type_of(data), "Docker-Content-Digest": told})

    def blob(self, digest):
        if not blob_path(digest):
            return self.error(404, "BLOB_UNKNOWN", "blob unknown to registry")
        if ARGS.redirect_blobs:
            hostname = urllib.parse.urlsplit("//" + self.headers.get("Host", "127.0.0.1")).hostname
            location = "%s://%s:%d/storage/%s?signature=abc" % (SCHEME, hostname, STORAGE_PORT, digest)
            return self.send(307, b"", {"Location": location})
        asked = self.headers.get("Range")
        if ARGS.requests:
            with open(ARGS.requests, "a") as f:
                f.write("%s %s\n" % (digest, asked or "-"))
        data = blob_bytes(digest)
        if ARGS.cut == digest and not CUT_DONE:
            CUT_DONE.append(True)
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[:len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        if asked and asked.startswith("bytes=") and asked.endswith("-"):
            start = int(asked[6:-1])
            if start >= len(data):
                return self.send(416, b"", {"Content-Range": "bytes */%d" % len(data)})
            return self.send(206, data[start:], {"Content-Type": "application/octet-stream",
                                                 "Content-Range": "bytes %d-%d/%d" % (
                                                     start, len(data) - 1, len(data))})
        if ARGS.slow == digest:
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            step = len(data) // 16 + 1
            for start in range(0, len(data), step):
                self.wfile.write(data[start:start + step])
                self.wfile.flush()
                time.sleep(0.25)
            return
        self.send(200, data, {"Content-Type": "application/octet-stream"})


class StorageHandler(Handler):
    """Blob storage on another origin: must never see the registry's token."""

    def do_GET(self):
        if self.headers.get("Authorization"):
            with open(ARGS.violations, "a") as f:
                f.write("Authorization sent to storage: %s\n" % self.path)
            return self.error(400, "DENIED", "credentials leaked to storage")
        digest = urllib.parse.urlsplit(self.path).path.rpartition("/")[2]
        if not blob_path(digest):
            return self.error(404, "BLOB_UNKNOWN", "no such blob")
        data = blob_bytes(digest)
        # Chunked, as object stores often answer.
        self.send_response(200)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for start in range(0, len(data), 40000):
            piece = data[start:start + 40000]
            self.wfile.write(b"%x\r\n" % len(piece) + piece + b"\r\n")
        self.wfile.write(b"0\r\n\r\n")


def serve(handler):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    if ARGS.cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(ARGS.cert, ARGS.key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    return server


storage = serve(StorageHandler)
STORAGE_PORT = storage.server_address[1]
threading.Thread(target=storage.serve_forever, daemon=True).start()
registry = serve(Handler)
with open(ARGS.port_file + ".tmp", "w") as f:
    f.write(str(registry.server_address[1]))
os.rename(ARGS.port_file + ".tmp", ARGS.port_file)
registry.serve_forever()
