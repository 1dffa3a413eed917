import json, socket, sys, time
# A follower that stops reading: connect, ask to follow, read nothing for
# argv[2] seconds, then drain what the daemon left and report.
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
s.sendall(b'{"op":"events","follow":true}\n')
time.sleep(float(sys.argv[2]))
s.settimeout(10)
buf = b""
eof = 0
try:
    while True:
        b = s.recv(1 << 16)
        if not b:
            eof = 1
            break
        buf += b
except socket.timeout:
    pass
lines = buf.split(b"\n")
last = lines[-2] if len(lines) > 1 else b""
print("lines %d eof %d last %s" % (len(lines) - 1, eof, last.decode(errors="replace")))
