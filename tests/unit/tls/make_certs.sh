#!/bin/sh
# Makes tests/unit/tls/test_certs.inc: the PEM certificates and keys the TLS
# stream's unit tests load (tests/unit/tls_stream_test.cpp). Run it from
# anywhere with openssl 3 on the PATH; commit the header it writes.
#
#   ca        ECDSA P-256 CA, 100 years
#   server    ECDSA P-256, signed by ca, CN=localhost, SAN localhost and
#             127.0.0.1, 100 years
#   rsa       RSA 2048 server certificate signed by ca, same names
#   client    ECDSA client certificate signed by ca, 100 years
#   expired   client certificate signed by ca whose notAfter is a day
#             before it was made (openssl x509 -days -1)
#   other_ca  another CA, and stranger, a client certificate signed by it
set -eu
out="$(cd "$(dirname "$0")" && pwd)/test_certs.inc"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cd "$dir"
san="subjectAltName=DNS:localhost,IP:127.0.0.1"

ca() { # NAME
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1.key" \
    -out "$1.crt" -subj "/CN=keel test $1" -days 36500 2>/dev/null
}
leaf() { # NAME CA DAYS KEYSPEC...
  name=$1 signer=$2 days=$3; shift 3
  openssl req -newkey "$@" -nodes -keyout "$name.key" -out "$name.csr" -subj "/CN=localhost" \
    2>/dev/null
  printf '%s\n' "$san" > ext
  openssl x509 -req -in "$name.csr" -CA "$signer.crt" -CAkey "$signer.key" -CAcreateserial \
    -days "$days" -extfile ext -out "$name.crt" 2>/dev/null
}
ca ca
ca other_ca
leaf server ca 36500 ec -pkeyopt ec_paramgen_curve:P-256
leaf rsa ca 36500 rsa:2048
leaf client ca 36500 ec -pkeyopt ec_paramgen_curve:P-256
leaf expired ca -1 ec -pkeyopt ec_paramgen_curve:P-256
leaf stranger other_ca 36500 ec -pkeyopt ec_paramgen_curve:P-256

{
  echo "// Made by tests/unit/tls/make_certs.sh (see there); do not edit."
  echo "#pragma once"
  echo "namespace keel::test_certs {"
  for name in ca server rsa client expired stranger; do
    for kind in crt key; do
      [ "$name" = ca ] && [ "$kind" = key ] && continue
      printf 'inline constexpr const char* %s_%s = R"(' "$name" "$kind"
      cat "$name.$kind"
      printf ')";\n'
    done
  done
  echo "} // namespace keel::test_certs"
} > "$out"
echo "wrote $out"
