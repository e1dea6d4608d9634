#!/usr/bin/env python3
"""A stranger on the rendezvous port: connects to 127.0.0.1:PORT over and over for SECONDS and,
per MODE, sends random bytes ("garbage"), a huge length prefix ("bigframe"), or nothing while
holding the connection open ("silent"). Prints the running count of accepted connections, one
line per connection (the last line is the total).

Usage: stranger.py PORT SECONDS MODE
"""
import os, socket, struct, sys, time

port, seconds, mode = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
deadline = time.time() + seconds
accepted = 0
held = []
while time.time() < deadline:
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=0.5)
    except OSError:
        time.sleep(0.002)
        continue
    accepted += 1
    print(accepted, flush=True)
    try:
        if mode == "garbage":
            s.sendall(os.urandom(4096))
        elif mode == "bigframe":
            s.sendall(struct.pack("<Q", 0xFFFFFFFFFFFF) * 64 + os.urandom(512))
        if mode == "silent":
            held.append(s)
            if len(held) > 32:
                held.pop(0).close()
        else:
            s.settimeout(0.05)
            try:
                s.recv(4096)
            except OSError:
                pass
            s.close()
    except OSError:
        pass
    time.sleep(0.005)
for s in held:
    s.close()
