"""Opens N connections to HOST:PORT, sends a partial request head on each, reports when all are
open, and holds them SECONDS (a client that never finishes its request)."""
import socket
import sys
import time

host, port, n, seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
held = []
for _ in range(n):
    s = socket.create_connection((host, port))
    s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\n")
    held.append(s)
print("open", flush=True)
time.sleep(seconds)
closed = 0
for s in held:
    s.setblocking(False)
    try:
        if s.recv(1) == b"":
            closed += 1
    except BlockingIOError:
        pass
    except OSError:
        closed += 1
print(f"closed-by-server {closed}", flush=True)
