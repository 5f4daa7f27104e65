#!/usr/bin/env python3
"""Stand-ins for what sits between the host and a guest agent, for tests.

  agent_standin.py serial AGENT_SOCK HOST_SOCK
      A virtio-serial port: the agent (vsock-agent --serial AGENT_SOCK)
      connects once and keeps one byte stream for its whole life; hosts
      connect to HOST_SOCK one at a time, like QEMU's chardev socket server.
      Bytes pass through unchanged; agent output that arrives while no host
      is connected is kept for the next host (as the guest's queue would),
      and a host's half-sent frame stays in the stream when it goes away.

  agent_standin.py firecracker UDS TARGET_SOCK PORT
      Firecracker's hybrid vsock: a host connects to UDS and writes
      "CONNECT <port>\\n"; for PORT the answer is "OK <hostport>\\n" and the
      connection is spliced to TARGET_SOCK, for any other port it is closed.

  agent_standin.py send SOCK CHUNK [CHUNK...]
      Connects, sends the chunks (hex, or @FILE for a file's bytes; 0.1 s
      apart), then prints "closed" if the peer closes within $STANDIN_WAIT
      seconds (default 5), else "open".

  agent_standin.py hold SOCK SECONDS CHUNK...
      Like send, but then never reads: holds the connection SECONDS.

  agent_standin.py flood SOCK PROCS CONNS SECONDS
      A flood of idle and half-open connections: PROCS processes each keep
      CONNS connections open for SECONDS — a third send nothing, a third
      half a header, a third only HELLO — and open a new one (non-blocking,
      every 10 ms) whenever the agent closes one. Prints, per process, how
      many connections it opened.

  agent_standin.py resize SOCK
      A second, independent client written from docs/agent-protocol.md:
      HELLO, an EXEC on a 10x20 pty, RESIZE to 33x77, then "go\n" on stdin;
      the command reads a line and runs `stty size`. Prints the output
      (without CRs) and the EXIT payload.
"""
import json
import os
import select
import socket
import struct
import sys
import time


def listen(path):
    if os.path.exists(path):
        os.unlink(path)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.listen(8)
    return s


def serial(agent_path, host_path):
    la, lh = listen(agent_path), listen(host_path)
    agent, host = None, None
    pending = bytearray()  # agent output waiting for a host
    while True:
        rs = [la] if agent is None else [agent]
        if agent is not None and host is None:
            rs.append(lh)
        if host is not None:
            rs.append(host)
        r, _, _ = select.select(rs, [], [])
        for s in r:
            if s is la:
                agent, _ = la.accept()
            elif s is lh:
                if host is None and agent is not None:
                    host, _ = lh.accept()
                    if pending:
                        host.sendall(pending)
                        pending = bytearray()
            elif s is agent:
                data = agent.recv(65536)
                if not data:
                    agent.close()
                    agent = None  # the agent restarted; it connects again
                    continue
                if host is not None:
                    try:
                        host.sendall(data)
                        continue
                    except OSError:
                        host.close()
                        host = None
                pending += data
                if len(pending) > 16 << 20:
                    del pending[: len(pending) - (8 << 20)]
            elif s is host:
                try:
                    data = host.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    host.close()
                    host = None
                    continue
                if agent is not None:
                    agent.sendall(data)


def firecracker(uds, target, port):
    lst = listen(uds)
    while True:
        c, _ = lst.accept()
        if os.fork() == 0:
            lst.close()
            line = b""
            while not line.endswith(b"\n") and len(line) < 64:
                b = c.recv(1)
                if not b:
                    os._exit(0)
                line += b
            if line != b"CONNECT %d\n" % port:
                os._exit(0)
            t = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            t.connect(target)
            c.sendall(b"OK 1073741824\n")
            socks = {c: t, t: c}
            while True:
                r, _, _ = select.select(list(socks), [], [])
                for s in r:
                    data = s.recv(65536)
                    if not data:
                        os._exit(0)
                    socks[s].sendall(data)
        c.close()


def hold(path, seconds, chunks):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    for h in chunks:
        s.sendall(bytes.fromhex(h))
    time.sleep(seconds)


def send(path, chunks):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    for i, h in enumerate(chunks):
        if i:
            time.sleep(0.1)
        try:
            if h.startswith("@"):
                with open(h[1:], "rb") as f:
                    s.sendall(f.read())
            else:
                s.sendall(bytes.fromhex(h))
        except OSError:
            break
    deadline = time.time() + float(os.environ.get("STANDIN_WAIT", "5"))
    while time.time() < deadline:
        r, _, _ = select.select([s], [], [], deadline - time.time())
        if not r:
            break
        try:
            if not s.recv(65536):
                print("closed")
                return
        except OSError:
            print("closed")
            return
    print("open")


def flood(path, procs, conns, seconds):
    hello = frame(1, 1, b'{"version":1}')
    kinds = [b"", hello[:7], hello]  # nothing, half a header, only HELLO
    pids = []
    for _ in range(procs):
        pid = os.fork()
        if pid:
            pids.append(pid)
            continue
        socks, opened = [None] * conns, 0
        end = time.time() + seconds
        while time.time() < end:
            for i in range(conns):
                s = socks[i]
                if s is not None and select.select([s], [], [], 0)[0]:
                    try:
                        gone = not s.recv(65536)  # READY keeps it; EOF ends it
                    except OSError:
                        gone = True
                    if gone:
                        s.close()
                        socks[i] = None
                if socks[i] is None:
                    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                    s.setblocking(False)
                    try:
                        s.connect(path)
                        if kinds[i % 3]:
                            s.send(kinds[i % 3])
                    except OSError:
                        s.close()  # the queue is full: again on the next round
                        continue
                    opened += 1
                    socks[i] = s
            time.sleep(0.01)
        print(opened, flush=True)
        os._exit(0)
    for pid in pids:
        os.waitpid(pid, 0)


def frame(t, ch, payload=b""):
    return struct.pack(">BBBBII", 0xBA, 0x9E, 1, t, ch, len(payload)) + payload


def read_frame(s):
    def exactly(n):
        b = b""
        while len(b) < n:
            c = s.recv(n - len(b))
            if not c:
                raise EOFError
            b += c
        return b

    m0, m1, v, t, ch, n = struct.unpack(">BBBBII", exactly(12))
    if (m0, m1, v) != (0xBA, 0x9E, 1):
        raise ValueError("bad header")
    return t, ch, exactly(n)


def resize(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    s.sendall(frame(1, 7, b'{"version":1}'))
    t, ch, p = read_frame(s)
    assert t == 2 and ch == 7 and json.loads(p)["version"] == 1
    req = {"argv": ["sh", "-c", "read x; stty size"], "pty": {"rows": 10, "cols": 20}}
    s.sendall(frame(3, 1, json.dumps(req).encode()))
    s.sendall(frame(7, 1, b'{"rows":33,"cols":77}'))
    s.sendall(frame(4, 1, b"go\n"))
    out = b""
    while True:
        t, ch, p = read_frame(s)
        if t == 5:
            out += p
        elif t == 9:
            print(out.decode().replace("\r", "").strip())
            print(p.decode())
            return


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "serial":
        serial(sys.argv[2], sys.argv[3])
    elif mode == "firecracker":
        firecracker(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    elif mode == "hold":
        hold(sys.argv[2], float(sys.argv[3]), sys.argv[4:])
    elif mode == "resize":
        resize(sys.argv[2])
    elif mode == "flood":
        flood(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]))
    elif mode == "send":
        send(sys.argv[2], sys.argv[3:])
    else:
        sys.exit("usage: see the docstring")
