#!/usr/bin/env bash
# The update source (`keel update check`, `keel update download`) against a
# static directory served on 127.0.0.1: channel decisions (up to date, the
# newer release, pinned, waiting for the rollout wave), images downloaded
# byte for byte, a download cut mid-way that resumes from the byte reached
# (naming the image's ETag in If-Range), one whose image changed during the
# cut refused, an explicit resume offset, a 404 named in the error, a
# channel signed by `keel update sign` (refused unsigned, without
# "expires", altered or expired), and one https source with its own CA
# (openssl).
#
# The server is a few lines of python3 written below: Python's http.server
# has no Range support (SimpleHTTPRequestHandler always answers 200 with the
# whole file), and resuming is the point. It serves files with Range (206,
# Content-Range, 416 past the end), an ETag and If-Range (a Range whose
# If-Range is not the file's ETag gets the whole file), and with --cut N
# closes the first connection to each .img after N bytes of body
# (--replace-on-cut FILE then gives the image FILE's bytes).
# usage: update_source.sh KEEL_BINARY CASE
#   cases: up_to_date offers pinned waiting download resume_after_cut changed_after_cut
#          resume_at_offset not_found signed_channel https
set -euo pipefail

keel=$(realpath "$1")
case_name=$2
work=$(mktemp -d /tmp/keel-update-source.XXXXXX)
server_pid=
cleanup() {
  [ -z "$server_pid" ] || kill "$server_pid" 2>/dev/null || true
  rm -rf -- "$work"
}
trap cleanup EXIT

fail() { echo "FAIL: $case_name: $*" >&2; exit 1; }
pass() { echo "PASS: $case_name"; }

command -v python3 >/dev/null || { echo "SKIP: python3 is not installed (apt-get install python3)"; exit 77; }

cat >"$work/server.py" <<'EOF'
import hashlib, http.server, os, re, ssl, sys, threading

root, port_file = sys.argv[1], sys.argv[2]
args = sys.argv[3:]
cut = int(args[args.index("--cut") + 1]) if "--cut" in args else None
# --replace-on-cut FILE: once the cut is made, the image takes FILE's bytes.
replace = args[args.index("--replace-on-cut") + 1] if "--replace-on-cut" in args else None
tls = (args[args.index("--tls") + 1], args[args.index("--tls") + 2]) if "--tls" in args else None
cut_done = set()
lock = threading.Lock()

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *a):
        sys.stderr.write("server: %s\n" % (format % a))

    def do_GET(self):
        path = os.path.join(root, self.path.lstrip("/").split("?")[0])
        if not os.path.isfile(path):
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        data = open(path, "rb").read()
        etag = '"%s"' % hashlib.sha256(data).hexdigest()[:16]
        start, status = 0, 200
        ranged = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range", ""))
        if_range = self.headers.get("If-Range")
        if if_range is not None:
            sys.stderr.write("server: If-Range %s (ETag %s)\n" % (if_range, etag))
            if if_range != etag:
                ranged = None  # RFC 9110: another version is sent whole
        if ranged:
            start = int(ranged.group(1))
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", "bytes */%d" % len(data))
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            status = 206
        body = data[start:]
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("ETag", etag)
        if status == 206:
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, len(data) - 1, len(data)))
        self.end_headers()
        with lock:
            cut_now = cut is not None and path.endswith(".img") and path not in cut_done
            if cut_now:
                cut_done.add(path)
        if cut_now:
            self.wfile.write(body[:cut])
            self.wfile.flush()
            self.close_connection = True
            if replace:
                os.replace(replace, path)
            return
        self.wfile.write(body)

server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
if tls:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tls[0], tls[1])
    server.socket = context.wrap_socket(server.socket, server_side=True)
with open(port_file + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
os.rename(port_file + ".tmp", port_file)
server.serve_forever()
EOF

# start_server [ARGS...]: serves $work/www; sets $port.
start_server() {
  python3 "$work/server.py" "$work/www" "$work/port" "$@" 2>"$work/server.log" &
  server_pid=$!
  for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.05; done
  [ -s "$work/port" ] || fail "the test server did not start: $(cat "$work/server.log")"
  port=$(cat "$work/port")
}

# A published directory: releases 1.0.0, 1.1.0 and 1.2.0 (1.2.0 in a rollout
# wave given as WAVE, a JSON object, or none), each with a manifest, a
# signature and an image of random bytes. (The manifest's format and its
# signature are the installer's; here they are opaque bytes.)
publish() {
  local wave=${1:-}
  mkdir -p "$work/www/channels"
  local releases=""
  for v in 1.0.0 1.1.0 1.2.0; do
    mkdir -p "$work/www/releases/$v"
    head -c 64 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$work/www/releases/$v/manifest.json"
    head -c 72 /dev/urandom >"$work/www/releases/$v/manifest.json.sig"
    head -c $((3 * 1024 * 1024 + 123)) /dev/urandom >"$work/www/releases/$v/root.img"
    local rollout=""
    [ "$v" = 1.2.0 ] && [ -n "$wave" ] && rollout=",\"rollout\":$wave"
    releases="$releases${releases:+,}{\"version\":\"$v\",\"manifest\":\"releases/$v/manifest.json\",\"signature\":\"releases/$v/manifest.json.sig\",\"image\":\"releases/$v/root.img\"$rollout}"
  done
  echo "{\"channel\":\"stable\",\"releases\":[$releases]}" >"$work/www/channels/stable.json"
}

# A root running VERSION with a machine-id.
make_root() {
  mkdir -p "$work/root/etc"
  printf 'NAME=keel\nID=keel\nVERSION_ID=%s\n' "$1" >"$work/root/etc/os-release"
  echo 0123456789abcdef0123456789abcdef >"$work/root/etc/machine-id"
}

check() {
  "$keel" update check --config "$work/none.conf" --root "$work/root" \
    --source "http://127.0.0.1:$port/" "$@"
}
json_field() { python3 -c "import json,sys; d=json.load(sys.stdin); print(d[\"$1\"])"; }

case $case_name in
up_to_date)
  publish; start_server; make_root 1.2.0
  out=$(check) || fail "check: $out"
  grep -q '^decision: up to date$' <<<"$out" || fail "expected up to date: $out"
  grep -q '^running:  1.2.0$' <<<"$out" || fail "running: $out"
  grep -q 'offers 1.0.0 1.1.0 1.2.0$' <<<"$out" || fail "offers: $out"
  ;;
offers)
  publish; start_server; make_root 1.0.0
  out=$(check) || fail "check: $out"
  grep -q '^decision: update to 1.2.0$' <<<"$out" || fail "expected 1.2.0: $out"
  grep -qx "image:    http://127.0.0.1:$port/releases/1.2.0/root.img" <<<"$out" || fail "image URL: $out"
  json=$(check --json) || fail "check --json: $json"
  [ "$(json_field decision <<<"$json")" = update ] || fail "json: $json"
  [ "$(json_field manifest_bytes <<<"$json")" = "$(stat -c %s "$work/www/releases/1.2.0/manifest.json")" ] \
    || fail "manifest bytes: $json"
  [ "$(json_field signature_bytes <<<"$json")" = 72 ] || fail "signature bytes: $json"
  out=$(check --max-version 1.1) || fail "check --max-version: $out"
  grep -q '^decision: update to 1.1.0$' <<<"$out" || fail "MaxVersion: $out"
  ;;
pinned)
  publish; start_server; make_root 1.2.0
  out=$(check --version 1.1.0) || fail "check: $out"
  grep -q '^decision: update to 1.1.0 (pinned to 1.1.0)$' <<<"$out" || fail "pinned down: $out"
  printf '[Update]\nVersion=1.2\n' >"$work/pin.conf"
  out=$("$keel" update check --config "$work/pin.conf" --root "$work/root" --source "http://127.0.0.1:$port") \
    || fail "check with Version= in the config: $out"
  grep -q '^decision: up to date (pinned to 1.2, which is running)$' <<<"$out" || fail "pinned running: $out"
  out=$(check --version 9.9) || fail "check: $out"
  grep -q "^decision: pinned to 9.9, which channel \`stable\` does not offer$" <<<"$out" || fail "not offered: $out"
  ;;
waiting)
  # A wave that starts in a year: every machine waits, until start + its delay.
  start=$(date -u -d '+365 days' +%Y-%m-%dT%H:%M:%SZ)
  publish "{\"start\":\"$start\",\"window\":\"2h\"}"; start_server; make_root 1.0.0
  out=$(check) || fail "check: $out"
  grep -q '^decision: update to 1.2.0 waiting until .* for the rollout wave$' <<<"$out" || fail "waiting: $out"
  json=$(check --json) || fail "check --json: $json"
  [ "$(json_field decision <<<"$json")" = waiting ] || fail "json: $json"
  eligible=$(date -u -d "$(json_field eligible_at <<<"$json")" +%s)
  start_s=$(date -u -d "$start" +%s)
  if [ "$eligible" -lt "$start_s" ] || [ "$eligible" -ge $((start_s + 7200)) ]; then
    fail "eligible_at outside the wave: $json"
  fi
  # The same machine gets the same turn on every check.
  [ "$(check --json | json_field eligible_at)" = "$(json_field eligible_at <<<"$json")" ] || fail "turn not stable"
  ;;
download)
  publish; start_server
  image=$work/www/releases/1.1.0/root.img
  out=$("$keel" update download "http://127.0.0.1:$port/releases/1.1.0/root.img" -o "$work/got.img" 2>&1) \
    || fail "download: $out"
  cmp "$image" "$work/got.img" || fail "the download differs from the image"
  ;;
resume_after_cut)
  # The first connection stops after 1 MiB + 5 bytes; keel reconnects with
  # Range from there.
  publish; start_server --cut $((1024 * 1024 + 5))
  image=$work/www/releases/1.2.0/root.img
  out=$("$keel" update download "http://127.0.0.1:$port/releases/1.2.0/root.img" -o "$work/got.img" 2>&1) \
    || fail "download: $out"
  cmp "$image" "$work/got.img" || fail "the resumed download differs from the image"
  grep -q '"GET /releases/1.2.0/root.img HTTP/1.1" 206' "$work/server.log" \
    || fail "no ranged request after the cut: $(cat "$work/server.log")"
  grep -q '^server: If-Range "' "$work/server.log" \
    || fail "the ranged request did not name the image's ETag: $(cat "$work/server.log")"
  ;;
changed_after_cut)
  # The image is replaced (same size, other bytes) while the download is
  # cut: the reconnect's If-Range no longer matches, the server sends the
  # new image whole, and keel stops rather than splice the two.
  publish
  image=$work/www/releases/1.2.0/root.img
  head -c "$(stat -c %s "$image")" /dev/urandom >"$work/other.img"
  start_server --cut $((1024 * 1024 + 5)) --replace-on-cut "$work/other.img"
  if out=$("$keel" update download "http://127.0.0.1:$port/releases/1.2.0/root.img" -o "$work/got.img" 2>&1); then
    fail "a download whose image changed mid-way succeeded: $out"
  fi
  grep -q 'the image changed on the server' <<<"$out" || fail "error does not say the image changed: $out"
  ;;
resume_at_offset)
  # Half the image is already there (a download interrupted earlier); the
  # rest comes from the offset.
  publish; start_server
  image=$work/www/releases/1.0.0/root.img
  half=$((1536 * 1024 + 7))
  head -c "$half" "$image" >"$work/got.img"
  out=$("$keel" update download "http://127.0.0.1:$port/releases/1.0.0/root.img" -o "$work/got.img" --offset "$half" 2>&1) \
    || fail "download: $out"
  cmp "$image" "$work/got.img" || fail "the resumed download differs from the image"
  grep -q "from byte $half" <<<"$out" || fail "output: $out"
  ;;
not_found)
  publish; start_server; make_root 1.0.0
  url=http://127.0.0.1:$port/releases/9.9/root.img
  if out=$("$keel" update download "$url" -o "$work/got.img" 2>&1); then fail "a 404 downloaded: $out"; fi
  grep -qF "GET $url: 404" <<<"$out" || fail "error does not name the URL and status: $out"
  if out=$(check --channel beta 2>&1); then fail "a missing channel checked: $out"; fi
  grep -qF "GET http://127.0.0.1:$port/channels/beta.json: 404" <<<"$out" || fail "channel error: $out"
  ;;
signed_channel)
  # The publisher signs the channel with `keel update sign`; the machine
  # trusts its key and asks for a signed channel that is still current.
  command -v openssl >/dev/null || { echo "SKIP: openssl is not installed"; exit 77; }
  publish; start_server; make_root 1.0.0
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$work/publisher.key" 2>/dev/null
  mkdir -p "$work/trusted"
  openssl pkey -in "$work/publisher.key" -pubout -out "$work/trusted/publisher.pem" 2>/dev/null
  signed() { check --signed-channel --trusted "$work/trusted" "$@"; }
  # Not signed: refused, naming the signature it looked for.
  out=$(signed 2>&1) && fail "an unsigned channel was taken: $out"
  grep -q "channels/stable.json.sig" <<<"$out" || fail "unsigned: $out"
  # Signed but without "expires": refused.
  "$keel" update sign --key "$work/publisher.key" "$work/www/channels/stable.json" >/dev/null ||
    fail "update sign"
  out=$(signed 2>&1) && fail "a channel without expires was taken: $out"
  grep -q 'has no "expires"' <<<"$out" || fail "no expires: $out"
  # Current for a week: offered, the key named.
  expires=$(date -u -d '+7 days' +%Y-%m-%dT%H:%M:%SZ)
  sed -i "s/^{\"channel\":\"stable\",/{\"channel\":\"stable\",\"expires\":\"$expires\",/" \
    "$work/www/channels/stable.json"
  "$keel" update sign --key "$work/publisher.key" "$work/www/channels/stable.json" >/dev/null
  out=$(signed) || fail "signed channel: $out"
  grep -q '^decision: update to 1.2.0$' <<<"$out" || fail "signed channel: $out"
  grep -q "^signed:   by key [0-9a-f]\{16\}, current until $expires\$" <<<"$out" || fail "signed line: $out"
  [ "$(signed --json | json_field expires)" = "$expires" ] || fail "json expires: $(signed --json)"
  # Changed after signing (a mirror offering something else): refused.
  cp "$work/www/channels/stable.json" "$work/signed.json"
  sed -i 's/"1.2.0"/"1.9.0"/' "$work/www/channels/stable.json"
  out=$(signed 2>&1) && fail "an altered channel was taken: $out"
  grep -q "bad signature" <<<"$out" || fail "altered: $out"
  # Expired (signed a week before its end, served since): refused.
  cp "$work/signed.json" "$work/www/channels/stable.json"
  past=$(date -u -d '-1 hour' +%Y-%m-%dT%H:%M:%SZ)
  sed -i "s/$expires/$past/" "$work/www/channels/stable.json"
  "$keel" update sign --key "$work/publisher.key" "$work/www/channels/stable.json" >/dev/null
  out=$(signed 2>&1) && fail "an expired channel was taken: $out"
  grep -q "expired at $past: the source serves a channel nobody has renewed" <<<"$out" || fail "expired: $out"
  # SignedChannel= in the config does the same as the flag.
  printf '[Update]\nSignedChannel=yes\n' >"$work/signed.conf"
  out=$("$keel" update check --config "$work/signed.conf" --trusted "$work/trusted" --root "$work/root" \
    --source "http://127.0.0.1:$port/" 2>&1) && fail "SignedChannel=yes took an expired channel: $out"
  grep -q "expired at" <<<"$out" || fail "SignedChannel=yes: $out"
  ;;
https)
  command -v openssl >/dev/null || { echo "SKIP: openssl is not installed"; exit 77; }
  publish
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=keel-test-ca \
    -keyout "$work/ca.key" -out "$work/ca.pem" 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost \
    -keyout "$work/server.key" -out "$work/server.csr" 2>/dev/null
  printf 'subjectAltName=DNS:localhost\n' >"$work/san.ext"
  openssl x509 -req -in "$work/server.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" -CAcreateserial \
    -days 2 -extfile "$work/san.ext" -out "$work/server.pem" 2>/dev/null
  start_server --tls "$work/server.pem" "$work/server.key"
  make_root 1.0.0
  url=https://localhost:$port/releases/1.2.0/root.img
  # Without the CA the certificate is not trusted.
  if out=$("$keel" update download "$url" -o "$work/got.img" 2>&1); then fail "an untrusted server was used: $out"; fi
  out=$("$keel" update download "$url" -o "$work/got.img" --ca-file "$work/ca.pem" 2>&1) || fail "download: $out"
  cmp "$work/www/releases/1.2.0/root.img" "$work/got.img" || fail "the https download differs"
  out=$("$keel" update check --config "$work/none.conf" --root "$work/root" --source "https://localhost:$port" \
    --ca-file "$work/ca.pem") || fail "check: $out"
  grep -q '^decision: update to 1.2.0$' <<<"$out" || fail "https check: $out"
  ;;
*)
  echo "unknown case $case_name" >&2
  exit 2
  ;;
esac
pass
