#!/bin/sh
# web's container (tests/qemu/container_units.sh, tools/demo.sh): httpd on
# 8080 after a 3 s delay (so that a health check fails first); exits 3 if
# httpd dies, 0 when the container is told to stop.
up() { cut -d ' ' -f 1 /proc/uptime; }
echo "web: container up at $(up), httpd in 3 s"
sleep 3
httpd -f -vv -p 8080 -h /www &
pid=$!
trap 'kill $pid; wait $pid; echo "web: stopped"; exit 0' TERM INT
echo "web: httpd $pid serving since $(up)"
wait $pid
echo "web: httpd exited; the container exits 3"
exit 3
