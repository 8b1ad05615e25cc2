#!/bin/sh
# after-web.service (guest side of tests/qemu/container_units.sh): records
# when it started and whether its first request to web was answered.
mkdir -p /run/cu
cut -d ' ' -f 1 /proc/uptime >/run/cu/after-web.started
if printf 'GET / HTTP/1.0\r\n\r\n' | nc -w 5 127.0.0.1 8080 >/run/cu/after-web.reply 2>&1 &&
  grep -q '^HTTP/1\.[01] 200' /run/cu/after-web.reply; then
  echo ok >/run/cu/after-web.first
else
  echo "failed: $(head -n 1 /run/cu/after-web.reply)" >/run/cu/after-web.first
fi
cat /run/cu/after-web.first
