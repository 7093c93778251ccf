#!/usr/bin/env python3
"""Golden-vector capture: a logging proxy between ovs-ofctl and a real ovs-vswitchd.

Usage: capture.py PROXY_SOCK UPSTREAM_SOCK -- ovs-ofctl -O OpenFlow13 add-flow unix:PROXY_SOCK 'FLOW'
Prints, one per line, the hex of every message the client sends except HELLO, ECHO,
BARRIER and multipart requests (ovs-ofctl's table-features probe). With --replies, also
prints the switch's multipart replies prefixed by "reply ".
"""
import os, socket, subprocess, sys, threading

args = sys.argv[1:]
replies = "--replies" in args
args = [a for a in args if a != "--replies"]
sock_path, upstream = args[0], args[1]
cmd = args[3:]
if os.path.exists(sock_path):
    os.unlink(sock_path)
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(sock_path)
srv.listen(1)
out = []

def pump(a, b, tag):
    buf = b""
    while True:
        try:
            d = a.recv(65536)
        except OSError:
            d = b""
        if not d:
            try:
                b.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            return
        b.sendall(d)
        buf += d
        while len(buf) >= 8:
            ln = int.from_bytes(buf[2:4], "big")
            if len(buf) < ln:
                break
            m, buf = buf[:ln], buf[ln:]
            t = m[1]
            if tag == "c" and t not in (0, 2, 3, 18, 20):
                out.append(m.hex())
            if tag == "s" and replies and t == 19 and m[8:10] != b"\x00\x0c":
                out.append("reply " + m.hex())

def serve():
    # ovs-ofctl may open several connections (a table-features probe first).
    while True:
        c, _ = srv.accept()
        u = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        u.connect(upstream)
        threading.Thread(target=pump, args=(c, u, "c"), daemon=True).start()
        threading.Thread(target=pump, args=(u, c, "s"), daemon=True).start()

th = threading.Thread(target=serve, daemon=True)
th.start()
r = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
import time; time.sleep(0.3)
sys.stderr.write(r.stderr)
for h in out:
    print(h)
