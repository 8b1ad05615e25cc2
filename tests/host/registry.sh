#!/usr/bin/env bash
# Host integration tests of `keel image pull` against registries on
# 127.0.0.1: Debian's real registry (docker-registry, fed by skopeo from an
# OCI image umoci built of a busybox root, one platform and a multi-platform
# index), and fake_registry.py for what the real one cannot be made to do
# here: token auth with credentials, blobs redirected to another origin
# (which must not see the token), a tampered blob, HTTPS with a
# self-signed CA, sha512 digests, a connection cut mid-blob, and a slowly
# served layer that two pulls at once both want.
# usage: registry.sh KEEL_BINARY CASE
set -euo pipefail

keel=$(realpath "$1")
case_name=$2
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
work=$(mktemp -d /tmp/keel-registry.XXXXXX)
store=$work/store
servers=()
cleanup() {
  for pid in "${servers[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

fail() { echo "FAIL: $case_name: $*" >&2; exit 1; }
pass() { echo "PASS: $case_name"; }
image() { local verb=$1; shift; "$keel" image "$verb" --store "$store" "$@"; }

if [ "$(id -u)" -ne 0 ]; then
  echo "SKIP: loading pulled images unpacks layers with their owners, which needs root"
  exit 77
fi
for tool in umoci skopeo python3 openssl docker-registry; do
  command -v "$tool" >/dev/null || { echo "SKIP: no $tool (tools/setup.sh all installs it)"; exit 77; }
done
# shellcheck source-path=SCRIPTDIR source=busybox_image.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/busybox_image.sh"
require_static_busybox

# An OCI layout $work/oci: tag `1`, a busybox root made by umoci for this
# host's platform; tag `multi`, an index of it and an arm64 twin (the same
# layer, another config), whose manifest digests land in
# $work/{host,arm64}.digest.
make_oci_image() {
  umoci_busybox_image "$work/oci" "$work/bundle"
  python3 - "$work/oci" "$work" <<'PY'
import hashlib, json, os, sys
layout, work = sys.argv[1], sys.argv[2]
def put(document):
    data = json.dumps(document).encode()
    digest = hashlib.sha256(data).hexdigest()
    with open(os.path.join(layout, "blobs", "sha256", digest), "wb") as f:
        f.write(data)
    return "sha256:" + digest, len(data)
def get(digest):
    with open(os.path.join(layout, "blobs", "sha256", digest.split(":")[1])) as f:
        return json.load(f)
index_path = os.path.join(layout, "index.json")
index = json.load(open(index_path))
host = next(m for m in index["manifests"]
            if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == "1")
manifest = get(host["digest"])
config = get(manifest["config"]["digest"])
host_architecture = config["architecture"]
config["architecture"], config["variant"] = "arm64", "v8"
digest, size = put(config)
manifest["config"] = dict(manifest["config"], digest=digest, size=size)
arm64_digest, arm64_size = put(manifest)
oci_manifest = "application/vnd.oci.image.manifest.v1+json"
listing = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [
    {"mediaType": oci_manifest, "digest": arm64_digest, "size": arm64_size,
     "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}},
    {"mediaType": oci_manifest, "digest": host["digest"], "size": host["size"],
     "platform": {"os": "linux", "architecture": host_architecture}},
]}
digest, size = put(listing)
index["manifests"].append({"mediaType": listing["mediaType"], "digest": digest, "size": size,
                           "annotations": {"org.opencontainers.image.ref.name": "multi"}})
json.dump(index, open(index_path, "w"))
open(os.path.join(work, "host.digest"), "w").write(host["digest"])
open(os.path.join(work, "arm64.digest"), "w").write(arm64_digest)
PY
}

# Adds to $work/oci the tag `512`: tag 1's image with every digest sha512
# (its blobs under blobs/sha512, its config's diff ids too), and the tag
# `md5`: a manifest whose layer is named by an md5 digest. (skopeo 1.9
# writes sha256 only.) The sha512 manifest's digest lands in
# $work/512.digest, its layer's in $work/512.layer.
make_sha512_image() {
  python3 - "$work/oci" "$work" <<'PY'
import gzip, hashlib, json, os, sys
layout, work = sys.argv[1], sys.argv[2]
os.makedirs(os.path.join(layout, "blobs", "sha512"), exist_ok=True)
def read(digest):
    algorithm, hexdigits = digest.split(":")
    with open(os.path.join(layout, "blobs", algorithm, hexdigits), "rb") as f:
        return f.read()
def put512(data):
    digest = hashlib.sha512(data).hexdigest()
    with open(os.path.join(layout, "blobs", "sha512", digest), "wb") as f:
        f.write(data)
    return "sha512:" + digest, len(data)
index_path = os.path.join(layout, "index.json")
index = json.load(open(index_path))
host = next(m for m in index["manifests"]
            if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == "1")
manifest = json.loads(read(host["digest"]))
config = json.loads(read(manifest["config"]["digest"]))
layers = []
diff_ids = []
for layer in manifest["layers"]:
    data = read(layer["digest"])
    digest, size = put512(data)
    layers.append(dict(layer, digest=digest, size=size))
    diff_ids.append("sha512:" + hashlib.sha512(gzip.decompress(data)).hexdigest())
config["rootfs"]["diff_ids"] = diff_ids
digest, size = put512(json.dumps(config).encode())
manifest512 = dict(manifest, config=dict(manifest["config"], digest=digest, size=size), layers=layers)
digest, size = put512(json.dumps(manifest512).encode())
index["manifests"].append({"mediaType": host["mediaType"], "digest": digest, "size": size,
                           "annotations": {"org.opencontainers.image.ref.name": "512"}})
open(os.path.join(work, "512.digest"), "w").write(digest)
open(os.path.join(work, "512.layer"), "w").write(layers[0]["digest"])
md5 = dict(manifest, layers=[dict(manifest["layers"][0],
                                  digest="md5:" + hashlib.md5(read(manifest["layers"][0]["digest"])).hexdigest())])
data = json.dumps(md5).encode()
with open(os.path.join(layout, "blobs", "sha256", hashlib.sha256(data).hexdigest()), "wb") as f:
    f.write(data)
open(os.path.join(work, "md5.layer"), "w").write(md5["layers"][0]["digest"])
index["manifests"].append({"mediaType": host["mediaType"], "digest": "sha256:" + hashlib.sha256(data).hexdigest(),
                           "size": len(data), "annotations": {"org.opencontainers.image.ref.name": "md5"}})
json.dump(index, open(index_path, "w"))
PY
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Waits until $1 (a URL) answers at all.
wait_for_url() {
  python3 - "$1" "${2:-}" <<'PY' || fail "nothing answers at $1"
import ssl, sys, time, urllib.request, urllib.error
context = ssl.create_default_context(cafile=sys.argv[2]) if sys.argv[2] else None
for _ in range(100):
    try:
        urllib.request.urlopen(sys.argv[1], timeout=1, context=context)
        sys.exit(0)
    except urllib.error.HTTPError:
        sys.exit(0)
    except Exception:
        time.sleep(0.1)
sys.exit(1)
PY
}

# Starts fake_registry.py serving $work/oci with the given options; sets $port.
start_fake() {
  rm -f "$work/port"
  python3 "$here/fake_registry.py" --layout "$work/oci" --port-file "$work/port" \
    --violations "$work/violations" "$@" 2>"$work/fake.log" &
  servers+=($!)
  for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.1; done
  [ -s "$work/port" ] || fail "fake registry did not start: $(cat "$work/fake.log")"
  port=$(cat "$work/port")
}

# The manifest digest the store has for $1.
stored_digest() {
  image inspect "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["digest"])'
}

# The image $1 is in the store with manifest $2, its layers are the
# manifest's, and no download is left in STORE/tmp.
check_pulled() {
  local ref=$1 digest=$2
  image ls >"$work/ls" || fail "ls"
  grep -q "${ref%:*} " "$work/ls" || fail "$ref not listed: $(cat "$work/ls")"
  [ "$(stored_digest "$ref")" = "$digest" ] || fail "$ref: digest $(stored_digest "$ref"), not $digest"
  image inspect "$ref" | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert [l["digest"] for l in d["layers"]] == [l["digest"] for l in d["manifest"]["layers"]], d
assert len(d["layers"]) >= 1' || fail "$ref: layers"
  [ -z "$(ls -A "$store/tmp" 2>/dev/null | grep -v '^\.keel-' || true)" ] ||
    fail "download left in $store/tmp: $(ls -A "$store/tmp")"
}

# The digest of the first layer of tag "1" in the OCI layout $1.
first_layer_digest() {
  python3 -c '
import json, sys
layout = sys.argv[1]
index = json.load(open(layout + "/index.json"))
entry = [m for m in index["manifests"] if m["annotations"]["org.opencontainers.image.ref.name"] == "1"][0]
print(json.load(open(layout + "/blobs/sha256/" + entry["digest"][7:]))["layers"][0]["digest"])' "$1"
}

# Debian's docker-registry on 127.0.0.1:$rport (set here), storing under
# $work/registry, plain HTTP.
start_docker_registry() {
  rport=$(free_port)
  cat >"$work/registry.yml" <<EOF2
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $work/registry
http:
  addr: 127.0.0.1:$rport
EOF2
  docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
  servers+=($!)
  wait_for_url "http://127.0.0.1:$rport/v2/"
}

case "$case_name" in
real_registry)
  make_oci_image
  start_docker_registry
  ref=127.0.0.1:$rport/tools/busybox
  skopeo copy -q --dest-tls-verify=false "oci:$work/oci:1" "docker://$ref:1" ||
    fail "skopeo push"
  skopeo copy -q --all --dest-tls-verify=false "oci:$work/oci:multi" "docker://$ref:multi" ||
    fail "skopeo push --all"
  want=$(skopeo inspect --raw --tls-verify=false "docker://$ref:1" | sha256sum | cut -d' ' -f1)

  # Without --insecure-registry keel speaks TLS, which this registry does not.
  if image pull -q "$ref:1" >"$work/out" 2>&1; then fail "pulled over https from a plain-http registry"; fi
  image pull --insecure-registry "127.0.0.1:$rport" "$ref:1" >"$work/out" 2>&1 ||
    fail "pull: $(cat "$work/out")"
  check_pulled "$ref:1" "sha256:$want"
  # Again: the store already has it; the same digest comes back.
  image pull -q --insecure-registry "127.0.0.1:$rport" "$ref:1" >/dev/null || fail "second pull"
  # By digest.
  image pull -q --insecure-registry "127.0.0.1:$rport" "$ref@sha256:$want" >"$work/out" 2>&1 ||
    fail "pull by digest: $(cat "$work/out")"

  # The index: this host's manifest by default, arm64 when asked.
  image pull -q --insecure-registry "127.0.0.1:$rport" "$ref:multi" >/dev/null || fail "pull multi"
  check_pulled "$ref:multi" "$(cat "$work/host.digest")"
  image pull -q --platform linux/arm64 --insecure-registry "127.0.0.1:$rport" "$ref:multi" \
    >/dev/null || fail "pull multi arm64"
  check_pulled "$ref:multi" "$(cat "$work/arm64.digest")"
  if image pull -q --platform linux/s390x --insecure-registry "127.0.0.1:$rport" "$ref:multi" \
    >"$work/out" 2>&1; then fail "pulled a platform the index does not have"; fi
  grep -q "arm64" "$work/out" || fail "the platform error does not list the index's: $(cat "$work/out")"
  if image pull -q --insecure-registry "127.0.0.1:$rport" "$ref:missing" >"$work/out" 2>&1; then
    fail "pulled a tag that does not exist"
  fi
  grep -q "MANIFEST_UNKNOWN" "$work/out" || fail "missing tag: $(cat "$work/out")"
  pass
  ;;
token_redirect)
  make_oci_image
  start_fake --token --user alice --password 's3cret:x' --redirect-blobs
  ref=127.0.0.1:$port/tools/busybox:1
  if image pull -q --insecure-registry "127.0.0.1:$port" "$ref" >"$work/out" 2>&1; then
    fail "pulled without credentials"
  fi
  grep -q "bad credentials" "$work/out" || fail "no credentials: $(cat "$work/out")"
  KEEL_REGISTRY_AUTH='alice:s3cret:x' image pull --insecure-registry "127.0.0.1:$port" "$ref" \
    >"$work/out" 2>&1 || fail "pull: $(cat "$work/out")"
  [ ! -e "$work/violations" ] || fail "$(cat "$work/violations")"
  check_pulled "$ref" "$(python3 -c 'import json,sys; print([m["digest"] for m in json.load(open(sys.argv[1]))["manifests"] if m.get("annotations",{}).get("org.opencontainers.image.ref.name")=="1"][0])' "$work/oci/index.json")"
  # Credentials from a docker config.json's auths entry.
  image rm "$ref" >/dev/null
  mkdir -p "$work/docker"
  printf '{"auths":{"127.0.0.1:%s":{"auth":"%s"}}}' "$port" "$(printf 'alice:s3cret:x' | base64)" \
    >"$work/docker/config.json"
  DOCKER_CONFIG=$work/docker image pull -q --insecure-registry "127.0.0.1:$port" "$ref" \
    >"$work/out" 2>&1 || fail "pull with config.json: $(cat "$work/out")"
  [ ! -e "$work/violations" ] || fail "$(cat "$work/violations")"
  pass
  ;;
tampered_blob)
  make_oci_image
  layer=$(first_layer_digest "$work/oci")
  start_fake --tamper "$layer"
  ref=127.0.0.1:$port/tools/busybox:1
  if image pull -q --insecure-registry "127.0.0.1:$port" "$ref" >"$work/out" 2>&1; then
    fail "pulled a tampered layer"
  fi
  grep -q "digest mismatch" "$work/out" || fail "tampered: $(cat "$work/out")"
  image ls >"$work/ls"
  if grep -q busybox "$work/ls"; then fail "tampered image listed: $(cat "$work/ls")"; fi
  [ -z "$(ls -A "$store/tmp" 2>/dev/null || true)" ] || fail "left in tmp: $(ls -A "$store/tmp")"
  [ -z "$(ls -A "$store/blobs/sha256" 2>/dev/null || true)" ] ||
    fail "blobs left: $(ls -A "$store/blobs/sha256")"
  pass
  ;;
https)
  make_oci_image
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
    -addext subjectAltName=DNS:localhost -keyout "$work/key.pem" -out "$work/cert.pem" \
    2>/dev/null || fail "openssl"
  start_fake --token --cert "$work/cert.pem" --key "$work/key.pem" --redirect-blobs
  ref=localhost:$port/tools/busybox:1
  if image pull -q "$ref" >"$work/out" 2>&1; then fail "trusted a self-signed certificate"; fi
  grep -q "TLS handshake with localhost: certificate not trusted" "$work/out" ||
    fail "untrusted: $(cat "$work/out")"
  image pull --ca-file "$work/cert.pem" "$ref" >"$work/out" 2>&1 || fail "pull: $(cat "$work/out")"
  [ ! -e "$work/violations" ] || fail "$(cat "$work/violations")"
  grep -q "localhost:$port/tools/busybox" < <(image ls) || fail "not listed"
  pass
  ;;
sha512_digests)
  # An image whose manifest, config and layer are named by sha512 digests
  # pulls (by tag and by digest) and loads, each digest checked; a layer
  # named by an md5 digest is refused, the digest named.
  make_oci_image
  make_sha512_image
  start_fake
  ref=127.0.0.1:$port/tools/busybox
  image pull --insecure-registry "127.0.0.1:$port" "$ref:512" >"$work/out" 2>&1 ||
    fail "pull: $(cat "$work/out")"
  check_pulled "$ref:512" "$(cat "$work/512.digest")"
  grep -q "layer $(cat "$work/512.layer")" "$work/out" || fail "progress: $(cat "$work/out")"
  [ -s "$store/blobs/sha512/$(cut -d: -f2 <"$work/512.layer")" ] ||
    fail "no sha512 blob in the store: $(ls -R "$store/blobs")"
  image rm "$ref:512" >/dev/null || fail "rm"
  image pull -q --insecure-registry "127.0.0.1:$port" "$ref@$(cat "$work/512.digest")" \
    >"$work/out" 2>&1 || fail "pull by sha512 digest: $(cat "$work/out")"
  # A tampered sha512 layer is refused as a sha256 one is.
  start_fake --tamper "$(cat "$work/512.layer")"
  ref=127.0.0.1:$port/tools/busybox
  if image pull -q --store "$work/store2" --insecure-registry "127.0.0.1:$port" "$ref:512" \
    >"$work/out" 2>&1; then
    fail "pulled a tampered sha512 layer"
  fi
  grep -q "digest mismatch: the bytes are sha512:" "$work/out" || fail "tampered: $(cat "$work/out")"
  if image pull -q --insecure-registry "127.0.0.1:$port" "$ref:md5" >"$work/out" 2>&1; then
    fail "pulled a layer with an md5 digest"
  fi
  grep -q "digest \`$(cat "$work/md5.layer")\`: unknown algorithm \`md5\`" "$work/out" ||
    fail "md5: $(cat "$work/out")"
  # The layout itself loads, the sha512 image with it (the md5 one refused).
  python3 - "$work/oci/index.json" <<'PY'
import json, sys
index = json.load(open(sys.argv[1]))
index["manifests"] = [m for m in index["manifests"]
                      if m.get("annotations", {}).get("org.opencontainers.image.ref.name") != "md5"]
json.dump(index, open(sys.argv[1], "w"))
PY
  "$keel" image load --store "$work/store3" -i "$work/oci" >"$work/out" 2>&1 ||
    fail "load: $(cat "$work/out")"
  "$keel" image inspect --store "$work/store3" "$(cat "$work/512.digest")" >"$work/out" 2>&1 ||
    fail "the loaded sha512 image: $(cat "$work/out")"
  pass
  ;;
resume_after_cut)
  # The registry cuts the connection halfway through the layer: the pull
  # fails saying so and keeps what came in STORE/tmp; the next pull asks
  # for the rest only (Range: bytes=N-), checks the whole digest and
  # leaves nothing behind.
  make_oci_image
  layer=$(first_layer_digest "$work/oci")
  size=$(stat -c %s "$work/oci/blobs/sha256/${layer#sha256:}")
  start_fake --cut "$layer" --requests "$work/requests"
  ref=127.0.0.1:$port/tools/busybox:1
  if image pull -q --insecure-registry "127.0.0.1:$port" "$ref" >"$work/out" 2>&1; then
    fail "the cut pull succeeded"
  fi
  grep -q "blob $layer: cut after $((size / 2)) of $size bytes (the next pull resumes there)" \
    "$work/out" || fail "cut: $(cat "$work/out")"
  partial=$store/tmp/.keel-partial-sha256-${layer#sha256:}
  [ "$(stat -c %s "$partial")" = $((size / 2)) ] || fail "partial file: $(ls -la "$store/tmp")"
  grep -q busybox < <(image ls) && fail "a cut image is listed"
  image pull --insecure-registry "127.0.0.1:$port" "$ref" >"$work/out" 2>&1 ||
    fail "resumed pull: $(cat "$work/out")"
  grep -q "resumed at byte $((size / 2))" "$work/out" || fail "not resumed: $(cat "$work/out")"
  [ "$(grep -c "^$layer " "$work/requests")" = 2 ] || fail "requests: $(cat "$work/requests")"
  grep -q "^$layer bytes=$((size / 2))-$" "$work/requests" || fail "no Range: $(cat "$work/requests")"
  check_pulled "$ref" "$(python3 -c 'import json,sys; print([m["digest"] for m in json.load(open(sys.argv[1]))["manifests"] if m.get("annotations",{}).get("org.opencontainers.image.ref.name")=="1"][0])' "$work/oci/index.json")"
  [ ! -e "$partial" ] || fail "the partial file stayed"
  # A partial file whose bytes are wrong is found out by the whole digest,
  # removed, and the pull after that starts over.
  image rm "$ref" >/dev/null
  head -c $((size / 2)) /dev/zero >"$partial"
  if image pull -q --insecure-registry "127.0.0.1:$port" "$ref" >"$work/out" 2>&1; then
    fail "a wrong partial file made a good pull"
  fi
  grep -q "digest mismatch" "$work/out" || fail "wrong partial: $(cat "$work/out")"
  [ ! -e "$partial" ] || fail "the wrong partial file stayed"
  image pull -q --insecure-registry "127.0.0.1:$port" "$ref" >"$work/out" 2>&1 ||
    fail "pull after a wrong partial: $(cat "$work/out")"
  pass
  ;;
run_pulls)
  # keel run pulls an image the store lacks (docker run's --pull missing),
  # from a real docker-registry on 127.0.0.1 named insecure by
  # $KEEL_INSECURE_REGISTRIES; runs it without pulling once it is there;
  # --pull never refuses a missing image without asking the registry, and
  # --pull always asks again.
  make_oci_image
  start_docker_registry
  ref=127.0.0.1:$rport/tools/busybox:1
  skopeo copy -q --dest-tls-verify=false "oci:$work/oci:1" "docker://$ref" || fail "skopeo push"
  state=$work/state
  krun() { "$keel" run --root "$state" --store "$store" --rm --network none "$@"; }
  if krun --pull never "$ref" echo hello >"$work/out" 2>&1; then fail "--pull never ran a missing image"; fi
  grep -q "no image \`$ref\`" "$work/out" || fail "--pull never: $(cat "$work/out")"
  grep -q 'Unable to find image' "$work/out" && fail "--pull never pulled: $(cat "$work/out")"
  if krun "$ref" echo hello >"$work/out" 2>"$work/err"; then fail "pulled over https from a plain-http registry"; fi
  KEEL_INSECURE_REGISTRIES="example.invalid:5000, 127.0.0.1:$rport" krun "$ref" echo hello \
    >"$work/out" 2>"$work/err" || fail "run of a missing image: $(cat "$work/out" "$work/err")"
  [ "$(cat "$work/out")" = hello ] || fail "the container's output: $(cat "$work/out")"
  grep -q "Unable to find image '$ref' locally" "$work/err" || fail "no notice of the pull: $(cat "$work/err")"
  grep -q "^Pulled image: $ref " "$work/err" || fail "no pull: $(cat "$work/err")"
  grep -q "tools/busybox" < <(image ls) || fail "the pulled image is not in the store: $(image ls)"
  # There now: no registry needed.
  krun --pull missing "$ref" echo again >"$work/out" 2>"$work/err" || fail "second run: $(cat "$work/err")"
  [ "$(cat "$work/out")" = again ] || fail "second run's output: $(cat "$work/out")"
  grep -q 'Unable to find\|Pulled image' "$work/err" && fail "the second run pulled: $(cat "$work/err")"
  KEEL_INSECURE_REGISTRIES=127.0.0.1:$rport krun --pull always "$ref" true 2>"$work/err" ||
    fail "--pull always: $(cat "$work/err")"
  grep -q "^Pulled image: $ref " "$work/err" || fail "--pull always did not pull: $(cat "$work/err")"
  if krun --pull later "$ref" true 2>"$work/err"; then fail "--pull later was taken"; fi
  grep -q -- "--pull: expected missing, always, never or newer, got \`later\`" "$work/err" || fail "--pull later: $(cat "$work/err")"
  pass
  ;;
shared_blobs)
  # Two pulls of one image at once both succeed: the second waits for the
  # first's download of the (slowly served) layer instead of failing, and
  # does not download it again. Then
  # a blob the store has is not downloaded again: the index's manifest for
  # this host shares tag 1's layer (Docker's "Already exists").
  make_oci_image
  layer=$(first_layer_digest "$work/oci")
  start_fake --slow "$layer" --requests "$work/requests"
  ref=127.0.0.1:$port/tools/busybox
  image pull --insecure-registry "127.0.0.1:$port" "$ref:1" >"$work/out1" 2>&1 &
  first=$!
  image pull --insecure-registry "127.0.0.1:$port" "$ref:1" >"$work/out2" 2>&1 &
  second=$!
  wait "$first" || fail "the first of two pulls at once: $(cat "$work/out1")"
  wait "$second" || fail "the second of two pulls at once: $(cat "$work/out2")"
  grep -q "another pull is downloading it; waiting" < <(cat "$work/out1" "$work/out2") ||
    fail "neither pull waited for the other: $(cat "$work/out1" "$work/out2")"
  # The one that waited took the other's download.
  [ "$(grep -c "^$layer " "$work/requests")" = 1 ] ||
    fail "the layer was downloaded twice: $(cat "$work/requests" "$work/out1" "$work/out2")"
  grep -q "layer $layer: already present" < <(cat "$work/out1" "$work/out2") ||
    fail "neither pull took the other's layer: $(cat "$work/out1" "$work/out2")"
  digest=$(python3 -c 'import json,sys; print([m["digest"] for m in json.load(open(sys.argv[1]))["manifests"] if m.get("annotations",{}).get("org.opencontainers.image.ref.name")=="1"][0])' "$work/oci/index.json")
  check_pulled "$ref:1" "$digest"
  fetched=$(grep -c "^$layer " "$work/requests")
  image pull --insecure-registry "127.0.0.1:$port" "$ref:multi" >"$work/out" 2>&1 ||
    fail "pull multi: $(cat "$work/out")"
  grep -q "layer $layer: already present" "$work/out" || fail "the layer was not found in the store: $(cat "$work/out")"
  [ "$(grep -c "^$layer " "$work/requests")" = "$fetched" ] ||
    fail "the store's layer was downloaded again: $(cat "$work/requests")"
  check_pulled "$ref:multi" "$(cat "$work/host.digest")"
  pass
  ;;
*)
  echo "unknown case $case_name" >&2
  exit 2
  ;;
esac
