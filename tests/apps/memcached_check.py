"""Deterministic checks against a memcached on 127.0.0.1 (tests/apps/memcached.sh).

8 client threads, each on its own connection: set KEYS (argument 2, default 400) keys
of its own with values derived from the key, read them back (get and a multi-get), and
bump one shared counter KEYS + 100 times with incr. Printed: the number of values read
back wrong (0) and the counter (8 * (KEYS + 100)). The server's worker threads serve these connections at once, so its locking
is what keeps the counter exact.
"""
import socket
import sys
import threading

PORT = int(sys.argv[1])
KEYS = int(sys.argv[2]) if len(sys.argv) > 2 else 400
THREADS, INCRS = 8, KEYS + 100


class Conn:
    def __init__(self):
        self.s = socket.create_connection(("127.0.0.1", PORT), 10)
        self.f = self.s.makefile("rb")

    def cmd(self, line, data=None):
        out = line.encode() + b"\r\n"
        if data is not None:
            out += data + b"\r\n"
        self.s.sendall(out)

    def line(self):
        return self.f.readline().rstrip(b"\r\n")

    def get(self, keys):
        self.cmd("get " + " ".join(keys))
        got = {}
        while True:
            l = self.line()
            if l == b"END":
                return got
            _, key, _, n = l.split()
            got[key.decode()] = self.f.read(int(n) + 2)[:-2]


def value(key):
    return (key * 7).encode()


wrong = [0] * THREADS


def client(t):
    c = Conn()
    keys = ["k%d_%d" % (t, i) for i in range(KEYS)]
    for k in keys:
        c.cmd("set %s 0 0 %d" % (k, len(value(k))), value(k))
        if c.line() != b"STORED":
            wrong[t] += 1
    for k in keys:
        if c.get([k]).get(k) != value(k):
            wrong[t] += 1
    for i in range(0, KEYS, 50):
        got = c.get(keys[i:i + 50])
        wrong[t] += sum(got.get(k) != value(k) for k in keys[i:i + 50])
    for _ in range(INCRS):
        c.cmd("incr counter 1")
        c.line()


c = Conn()
c.cmd("set counter 0 0 1", b"0")
assert c.line() == b"STORED"
threads = [threading.Thread(target=client, args=(t,)) for t in range(THREADS)]
for th in threads:
    th.start()
for th in threads:
    th.join()
print("values read back wrong:", sum(wrong))
print("counter:", int(c.get(["counter"])["counter"]))
