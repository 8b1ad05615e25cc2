#!/bin/sh
# The demo container's health check (HealthCmd=/health.sh): GET / on port
# 8080 answers 200. nc rather than wget: busybox 1.35's wget crashes on a
# refused connection.
printf 'GET / HTTP/1.0\r\n\r\n' | nc -w 2 127.0.0.1 8080 | grep -q '^HTTP/1\.[01] 200'
