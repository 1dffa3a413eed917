#!/usr/bin/env python3
"""Raw client for trellisd's socket, for bad-input tests (097-bad-input.bats).

  rawclient.py SOCKET send [--no-newline] [--half-close] [--fds N] [--wait S] TEXT|@FILE|-
      Connect, send TEXT (or FILE's bytes, or stdin; a newline is added unless
      --no-newline), optionally with N file descriptors (of /dev/null) attached,
      optionally shut down the write side, then print every reply line until
      the daemon closes the connection or S seconds (default 10) pass.
      Exit 0 if the daemon closed the connection, 3 on the timeout.
  rawclient.py SOCKET big N
      Send one line of N bytes (no newline at first, in a thread) and print the
      reply; the daemon must answer before the whole line is sent.
  rawclient.py SOCKET leave AFTER_EVENTS TEXT
      Send TEXT, read AFTER_EVENTS reply lines (0: none), then close: a client
      that disconnects in the middle of an operation.
  rawclient.py SOCKET noread SECONDS TEXT|@FILE
      Send TEXT, then read nothing for SECONDS and close.
"""
import os
import socket
import sys
import threading
import time


def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    return s


def payload(arg, newline=True):
    if arg == "-":
        data = sys.stdin.buffer.read()
    elif arg.startswith("@"):
        with open(arg[1:], "rb") as f:
            data = f.read()
    else:
        data = arg.encode("utf-8", "surrogateescape")
    if newline and not data.endswith(b"\n"):
        data += b"\n"
    return data


def read_replies(s, timeout):
    s.settimeout(timeout)
    buf = b""
    deadline = time.time() + timeout
    try:
        while time.time() < deadline:
            d = s.recv(65536)
            if not d:
                break
            buf += d
        else:
            raise socket.timeout
    except socket.timeout:
        sys.stdout.write(buf.decode("utf-8", "replace"))
        return 3
    except (ConnectionResetError, BrokenPipeError):
        pass
    sys.stdout.write(buf.decode("utf-8", "replace"))
    return 0


def main():
    path, mode, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    if mode == "send":
        newline, half, nfds, wait = True, False, 0, 10.0
        while args and args[0].startswith("--"):
            a = args.pop(0)
            if a == "--no-newline":
                newline = False
            elif a == "--half-close":
                half = True
            elif a == "--fds":
                nfds = int(args.pop(0))
            elif a == "--wait":
                wait = float(args.pop(0))
        data = payload(args[0], newline)
        s = connect(path)
        fds = [os.open("/dev/null", os.O_RDONLY) for _ in range(nfds)]
        try:
            if fds:
                n = socket.send_fds(s, [data[:1]], fds)
                s.sendall(data[n:])
            else:
                s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        for fd in fds:
            os.close(fd)
        if half:
            s.shutdown(socket.SHUT_WR)
        return read_replies(s, wait)
    if mode == "big":
        n = int(args[0])
        s = connect(path)

        def writer():
            chunk = b"x" * 65536
            sent = 0
            try:
                while sent < n:
                    sent += s.send(chunk[: min(65536, n - sent)])
                s.send(b"\n")
            except OSError:
                pass

        t = threading.Thread(target=writer, daemon=True)
        t.start()
        return read_replies(s, 60)
    if mode == "leave":
        events, data = int(args[0]), payload(args[1])
        s = connect(path)
        s.sendall(data)
        f = s.makefile("rb")
        for _ in range(events):
            line = f.readline()
            if not line:
                break
            sys.stdout.write(line.decode("utf-8", "replace"))
        f.close()
        s.close()
        return 0
    if mode == "noread":
        secs, data = float(args[0]), payload(args[1])
        s = connect(path)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.sendall(data)
        time.sleep(secs)
        s.close()
        return 0
    sys.stderr.write("rawclient.py: unknown mode '%s'\n" % mode)
    return 2


if __name__ == "__main__":
    sys.exit(main())
