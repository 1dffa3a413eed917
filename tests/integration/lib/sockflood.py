#!/usr/bin/env python3
"""A local user flooding trellisd's control socket (083-local-socket.bats).

  sockflood.py SOCKET [--idle N] [--drip M] [--interval S] [--duration D]
               [--reconnect] [--ready FILE]

Opens M slow-drip connections (each sends one byte of a request every S
seconds, never the end of it) and then N idle ones (which send nothing), and
keeps them for D seconds (or until SIGTERM); with --reconnect a connection the daemon closes is
opened again at once, as an attacker would.  Touches FILE once every
connection was tried.  Prints a JSON summary at the end:
  connects, refused (closed with "too many connections"), refusal_sample,
  timed_out_idle / timed_out_drip (closed with "timed out ..."),
  drip_life / idle_life ([min, max] seconds from connect to close, of those
  the deadline closed), other (closed otherwise) with other_sample,
  open_at_end, max_open, connect_blocked (connect attempts refused by a full
  backlog).
"""
import argparse
import json
import os
import resource
import selectors
import signal
import socket
import time

DRIP = b'{"op":"slice.list"' + b" " * 4096


class Conn:
    def __init__(self, kind, sock):
        self.kind = kind
        self.sock = sock
        self.start = time.monotonic()
        self.data = b""
        self.sent = 0
        self.next_drip = self.start


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("socket")
    ap.add_argument("--idle", type=int, default=0)
    ap.add_argument("--drip", type=int, default=0)
    ap.add_argument("--interval", type=float, default=2.0)
    ap.add_argument("--duration", type=float, default=20.0)
    ap.add_argument("--reconnect", action="store_true")
    ap.add_argument("--ready")
    a = ap.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    sel = selectors.DefaultSelector()
    todo = ["drip"] * a.drip + ["idle"] * a.idle
    live = {}
    st = {"connects": 0, "refused": 0, "refusal_sample": "", "timed_out_idle": 0, "timed_out_drip": 0,
          "drip_life": [], "idle_life": [], "other": 0, "other_sample": "", "open_at_end": 0, "max_open": 0,
          "connect_blocked": 0}
    end = time.monotonic() + a.duration

    def stop(signum, frame):
        nonlocal end
        end = time.monotonic()

    signal.signal(signal.SIGTERM, stop)
    ready_done = False

    def close(c):
        life = time.monotonic() - c.start
        sel.unregister(c.sock)
        c.sock.close()
        del live[id(c)]
        text = c.data.decode("utf-8", "replace")
        msg = ""
        for line in text.splitlines():
            try:
                j = json.loads(line)
                msg = j.get("error", {}).get("message", "") or msg
            except ValueError:
                pass
        if "too many connections" in msg:
            st["refused"] += 1
            st["refusal_sample"] = st["refusal_sample"] or msg
        elif msg.startswith("timed out"):
            st["timed_out_" + c.kind] += 1
            st[c.kind + "_life"].append(life)
        else:
            st["other"] += 1
            st["other_sample"] = st["other_sample"] or (msg or text[:200] or "closed without a reply")
        if a.reconnect and time.monotonic() < end:
            todo.append(c.kind)

    while time.monotonic() < end:
        # Open what is due; a full backlog refuses with EAGAIN: try again later.
        tries = len(todo)
        for _ in range(tries):
            kind = todo.pop(0)
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.setblocking(False)
            try:
                s.connect(a.socket)
            except (BlockingIOError, InterruptedError):
                s.close()
                st["connect_blocked"] += 1
                todo.append(kind)
                break
            except OSError as e:
                s.close()
                st["other"] += 1
                st["other_sample"] = st["other_sample"] or ("connect: " + str(e))
                todo.append(kind)
                break
            c = Conn(kind, s)
            live[id(c)] = c
            sel.register(s, selectors.EVENT_READ, c)
            st["connects"] += 1
        st["max_open"] = max(st["max_open"], len(live))
        if not todo and not ready_done and a.ready:
            open(a.ready, "w").close()
            ready_done = True
        now = time.monotonic()
        for c in list(live.values()):
            if c.kind == "drip" and now >= c.next_drip and c.sent < len(DRIP):
                try:
                    c.sock.send(DRIP[c.sent:c.sent + 1])
                    c.sent += 1
                except OSError:
                    pass  # closed: the read side reports it
                c.next_drip = now + a.interval
        for key, _ in sel.select(timeout=0.05 if todo else 0.2):
            c = key.data
            try:
                chunk = c.sock.recv(65536)
            except BlockingIOError:
                continue
            except OSError:
                chunk = b""
            if chunk:
                c.data += chunk
            else:
                close(c)
    st["open_at_end"] = len(live)
    for k in ("drip_life", "idle_life"):
        v = st[k]
        st[k] = [round(min(v), 2), round(max(v), 2)] if v else []
    print(json.dumps(st))


if __name__ == "__main__":
    main()
