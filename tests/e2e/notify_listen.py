#!/usr/bin/env python3
"""Listens on a Unix datagram socket the way systemd's NOTIFY_SOCKET does
and appends each sd_notify message to a file as one line (the message's
newlines become spaces), until killed or for at most SECONDS.

Usage: notify_listen.py SOCKET OUT [SECONDS]"""
import os
import socket
import sys
import time

path, out = sys.argv[1], sys.argv[2]
limit = float(sys.argv[3]) if len(sys.argv) > 3 else 300.0
sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sock.bind(path)
os.chmod(path, 0o666)  # the package test's server runs as another user
sock.settimeout(0.2)
end = time.monotonic() + limit
with open(out, "a", encoding="utf-8") as f:
    while time.monotonic() < end:
        try:
            data = sock.recv(65536)
        except socket.timeout:
            continue
        f.write(data.decode("utf-8", "replace").replace("\n", " ") + "\n")
        f.flush()
