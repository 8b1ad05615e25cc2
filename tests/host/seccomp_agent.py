#!/usr/bin/env python3
"""A seccomp agent for the SCMP_ACT_NOTIFY tests: listens at SOCKET for the
runtime spec's hand-over (a containerProcessState JSON with the listener as
SCM_RIGHTS), then answers every notification on every listener it was
given: execve and execveat go on as asked (SECCOMP_USER_NOTIF_FLAG_CONTINUE),
every other call fails with -ERRNO without running.

Writes to OUT, a line each, flushed at once:
  state JSON           one per hand-over, as received
  notified NR PID      one per notification (system call number, caller)

Stops once CONNECTIONS hand-overs came and all their listeners hung up
(every process under the filter has exited), or after SECONDS.

usage: seccomp_agent.py SOCKET OUT ERRNO CONNECTIONS SECONDS
"""
import fcntl
import os
import select
import socket
import struct
import sys
import time

# linux/seccomp.h: SECCOMP_IOWR(0, struct seccomp_notif) and
# SECCOMP_IOWR(1, struct seccomp_notif_resp), _IOWR('!', nr, size).
NOTIF_SIZE = 80  # id u64, pid u32, flags u32, seccomp_data (nr, arch, ip, args[6])
RESP_SIZE = 24  # id u64, val s64, error s32, flags u32
IOCTL_NOTIF_RECV = (3 << 30) | (NOTIF_SIZE << 16) | (ord("!") << 8) | 0
IOCTL_NOTIF_SEND = (3 << 30) | (RESP_SIZE << 16) | (ord("!") << 8) | 1
FLAG_CONTINUE = 1
EXEC_CALLS = (59, 322)  # x86-64 execve, execveat


def main():
    path, out_path, answer, wanted, seconds = sys.argv[1:6]
    answer, wanted, deadline = int(answer), int(wanted), time.monotonic() + float(seconds)
    out = open(out_path, "a", buffering=1)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path + ".new")
    server.listen(4)
    os.rename(path + ".new", path)  # the socket appears ready
    poller = select.poll()
    poller.register(server.fileno(), select.POLLIN)
    listeners, handed = set(), 0
    while time.monotonic() < deadline and (handed < wanted or listeners):
        for fd, events in poller.poll(100):
            if fd == server.fileno():
                connection, _ = server.accept()
                message, fds, _, _ = socket.recv_fds(connection, 1 << 17, 4)
                connection.close()
                out.write("state " + message.decode() + "\n")
                handed += 1
                for extra in fds[1:]:
                    os.close(extra)
                if fds:
                    listeners.add(fds[0])
                    poller.register(fds[0], select.POLLIN)
            elif events & select.POLLIN:
                notification = bytearray(NOTIF_SIZE)  # the kernel wants it zeroed
                try:
                    fcntl.ioctl(fd, IOCTL_NOTIF_RECV, notification, True)
                except OSError:
                    continue  # the caller went away before it was read
                ident, pid, _, nr = struct.unpack_from("<QIIi", notification)
                out.write(f"notified {nr} {pid}\n")
                if nr in EXEC_CALLS:
                    response = struct.pack("<QqiI", ident, 0, 0, FLAG_CONTINUE)
                else:
                    response = struct.pack("<QqiI", ident, 0, -answer, 0)
                try:
                    fcntl.ioctl(fd, IOCTL_NOTIF_SEND, response)
                except OSError:
                    pass  # killed meanwhile
            elif events & (select.POLLHUP | select.POLLERR):
                poller.unregister(fd)
                listeners.discard(fd)
                os.close(fd)
    server.close()
    os.unlink(path)


main()
