#!/usr/bin/env python3
"""seeds.py — writes the starting corpora in tests/fuzz/NAME/ (seed-*).

Run from anywhere: python3 tests/fuzz/seeds.py. Findings that were fixed are
kept beside the seeds as crash-* / regress-* files and are not written here.
Needs gcc, objcopy, gzip, xz and zstd for the module and kernel seeds.
"""
import io
import json
import os
import struct
import subprocess
import tarfile
import tempfile

TOP = os.path.dirname(os.path.abspath(__file__))


def put(target, name, data):
    d = os.path.join(TOP, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


D64 = "sha256:" + "0123456789abcdef" * 4

# ref
for i, r in enumerate([
        "debian", "debian:bookworm", "library/debian", "localhost:5000/x/y:t",
        "127.0.0.1:5443/test/img:1", "[::1]:5000/x", "quay.io/coreos/etcd@" + D64,
        "debian:12@" + D64, "Example/x", "a__b/c---d", "x:_Weird",
        "a" * 60 + "." + "a" * 60 + "." + "a" * 60 + "." + "a" * 60 + "." + "a" * 20 + "/x",
        "ho\x1bst.io/x\x07:t"]):
    put("ref", "%02d" % i, r)

# cmdline
put("cmdline", "typical",
    'console=ttyS0 reboot=k panic=1 root=/dev/vda rw banger.hostname=vm1 '
    'banger.dns=10.0.0.1,fd00::1 ip=10.0.2.15::10.0.2.2:255.255.255.0:vm1:eth0:off '
    'dyndbg="file x.c +p" virtio_net.napi_tx=1 -- init args\n')
put("cmdline", "full-4096", "x" * 4096)
put("cmdline", "full-words", ("y" * 99 + " ") * 40 + "z" * 96)
put("cmdline", "quotes", 'a="b c" "" d=" e"f banger.ssh_key=c3NoLWVkMjU1MTkgQUFBQQ')


# agentproto: mode byte, split seed, then frames
def frame(t, ch, payload=b""):
    return bytes([0xBA, 0x9E, 1, t]) + struct.pack(">II", ch, len(payload)) + payload


hello = frame(1, 7, b'{"version":1}')
exe = frame(3, 1, b'{"argv":["/bin/sh","-c","echo hi"],"env":["A=1"],"cwd":"/"}')
put("agentproto", "session", b"\x00\x05" + hello + exe + frame(4, 1, b"input") + frame(4, 1)
    + frame(16, 1, b"\x00\x00\x10\x00") + frame(17, 1))
put("agentproto", "hunt", b"\x01\x09" + b"garbage\xba\x9e\x01" + hello + exe)
put("agentproto", "bad-magic", b"\x00\x00" + b"\xba\x9f\x01\x01" + b"\x00" * 8)
put("agentproto", "too-long", b"\x00\x00" + bytes([0xBA, 0x9E, 1, 16]) + struct.pack(">II", 1, 5))

# oci: selector byte (0 manifest, 1 index, 2 config, 3 creds; >>2 picks platform/host)
layer = {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": D64, "size": 123}
manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": D64, "size": 7}, "layers": [layer, layer]}
put("oci", "manifest", b"\x00" + json.dumps(manifest).encode())
index = {"schemaVersion": 2, "manifests": [
    {"digest": D64, "size": 500, "mediaType": "application/vnd.oci.image.manifest.v1+json",
     "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}},
    {"digest": D64, "size": 501, "platform": {"os": "unknown", "architecture": "unknown"}},
    {"digest": D64, "size": 502, "platform": {"os": "linux", "architecture": "amd64"}}]}
put("oci", "index-amd64", b"\x01" + json.dumps(index).encode())
put("oci", "index-arm64", b"\x05" + json.dumps(index).encode())
put("oci", "config", b"\x02" + json.dumps({"os": "linux", "architecture": "amd64",
                                          "config": {"Env": ["PATH=/bin"]}}).encode())
put("oci", "config-other", b"\x06" + json.dumps({"os": "linux", "architecture": "arm",
                                                "variant": "v7"}).encode())
put("oci", "creds", b"\x03" + json.dumps({"auths": {
    "https://index.docker.io/v1/": {"auth": "dXNlcjpwYXNz"},
    "localhost:5000": {"username": "u", "password": "p"}}}).encode())
put("oci", "creds-local", b"\x07" + json.dumps({"auths": {
    "localhost:5000": {"auth": "bm9jb2xvbg=="}}}).encode())

# catalog: the built-in ones and a relative bundle
for name in ("kernels.json", "images.json"):
    with open(os.path.join(TOP, "../../config", name), "rb") as f:
        put("catalog", name, f.read())
put("catalog", "relative", json.dumps({"version": 1, "entries": [
    {"name": "k1", "kind": "bundle", "url": "../b/k1-x86_64.tar.zst",
     "sha256": "ab" * 32, "size": 10, "distro": "d", "description": "\x1b[31mred"},
    {"name": "i1", "kind": "oci", "ref": "debian:bookworm"}]}))

# deb: even byte: versions; odd: a Packages index
for i, v in enumerate(["1.0\n1.0-1\n1:0.9", "1.0~rc1\n1.0\n1.0+b1", "2:1-1\n10-2\n1.0.0~~a",
                       "6.1.0-57\n6.1.0-9\n6.1.0-57~bpo"]):
    put("deb", "versions-%d" % i, b"\x00" + v.encode())
stanza = ("Package: linux-image-6.1.0-%d-cloud-amd64\nSource: linux-signed-amd64\n"
          "Version: 6.1.%d-1\nArchitecture: amd64\nDescription: Linux\n long text\n .\n"
          "Filename: pool/main/l/linux/linux-image-%d.deb\nSize: %d\nSHA256: %s\n\n")
put("deb", "packages", b"\x01\x11" + "".join(stanza % (n, n, n, 1000 + n, "%064x" % n)
                                            for n in (9, 57, 12)).encode())

# http-header: one response's header lines
put("http-header", "registry",
    "HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nContent-Length: 145\r\n"
    'WWW-Authenticate: Bearer realm="https://auth.example.test/token",'
    'service="registry.example.test",scope="repository:x:pull"\r\n'
    "Docker-Content-Digest: " + D64 + "\r\nRetry-After: 3\r\n\r\n")
put("http-header", "basic", 'HTTP/1.1 401 x\r\nWWW-Authenticate: Basic realm="r\\"q"\r\n')
put("http-header", "empty-length", "HTTP/1.1 200 OK\r\nContent-Length:")
put("http-header", "negative-length", "HTTP/1.1 200 OK\r\nContent-Length: -5\r\n")
put("http-header", "huge-length", "Content-Length: 18446744073709551616\r\n")

# kmod: an ELF object with a .modinfo section, and module trees
with tempfile.TemporaryDirectory() as t:
    src = os.path.join(t, "m.c")
    with open(src, "w") as f:
        f.write('__attribute__((section(".modinfo"), used)) static const char mi[] = '
                '"license=GPL\\0depends=virtio,virtio_ring\\0vermagic=6.1.0 SMP\\0name=m";\n')
    obj = os.path.join(t, "m.o")
    subprocess.check_call(["gcc", "-c", "-Os", "-o", obj, src])
    subprocess.check_call(["strip", "--strip-debug", obj])
    with open(obj, "rb") as f:
        put("kmod", "module", b"\x00" + f.read())
put("kmod", "dep", b"\x01" + b"kernel/a/virtio_net.ko: kernel/v/virtio_ring.ko kernel/v/virtio.ko\n"
    b"kernel/v/virtio_ring.ko: kernel/v/virtio.ko\nkernel/v/virtio.ko:\n"
    b"kernel/f/ext4.ko.xz: kernel/f/jbd2.ko.xz kernel/l/crc16.ko\nkernel/f/jbd2.ko.xz:\n"
    b"\xffkernel/l/crc16.ko\n")
put("kmod", "cycle", b"\x01a.ko: b.ko\nb.ko: a.ko\nc.ko: c.ko\n")

# vmlinux: a tiny x86-64 executable, bare and compressed as kernels are
with tempfile.TemporaryDirectory() as t:
    src = os.path.join(t, "k.c")
    with open(src, "w") as f:
        f.write("void _start(void) { for (;;) ; }\n")
    elf = os.path.join(t, "k")
    subprocess.check_call(["gcc", "-static", "-nostdlib", "-Os", "-o", elf, src])
    subprocess.check_call(["strip", elf])
    with open(elf, "rb") as f:
        raw = f.read()
    put("vmlinux", "elf", raw)
    for prog, ext in (("gzip", "gz"), ("xz", "xz"), ("zstd", "zst")):
        c = subprocess.run([prog, "-c"], input=raw, stdout=subprocess.PIPE, check=True).stdout
        # what a bzImage holds: setup bytes, then the payload and its size
        put("vmlinux", "scan-" + ext, b"\0" * 64 + c + struct.pack("<I", len(raw)))


# layer: first byte sets the read size, then a tar
def tar(entries, mode="w"):
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode=mode, format=tarfile.PAX_FORMAT) as t:
        for e in entries:
            kind, name = e[0], e[1]
            ti = tarfile.TarInfo(name)
            data = b""
            if kind == "f":
                data = e[2]
                ti.size = len(data)
                ti.mode = 0o4755 if len(e) > 3 else 0o644
            elif kind == "d":
                ti.type = tarfile.DIRTYPE
                ti.mode = 0o755
            elif kind == "l":
                ti.type = tarfile.SYMTYPE
                ti.linkname = e[2]
            elif kind == "h":
                ti.type = tarfile.LNKTYPE
                ti.linkname = e[2]
            elif kind == "c":
                ti.type = tarfile.CHRTYPE
                ti.devmajor, ti.devminor = 1, 3
            elif kind == "p":
                ti.type = tarfile.FIFOTYPE
            t.addfile(ti, io.BytesIO(data) if data else None)
    return b.getvalue()


put("layer", "ordinary", b"\x07" + tar([("d", "etc"), ("f", "etc/hostname", b"vm\n"),
                                        ("f", "bin/su", b"\x7fELF", 1), ("l", "bin/sh", "busybox"),
                                        ("h", "etc/hn", "etc/hostname"), ("c", "dev/null"),
                                        ("p", "run/fifo"), ("f", "./a//b", b"x")]))
put("layer", "whiteouts", b"\x01" + tar([("d", "etc"), ("f", "etc/.wh.hostname", b""),
                                         ("f", "usr/.wh..wh..opq", b""), ("f", ".wh.escape", b"")]))
put("layer", "escapes", b"\x03" + tar([("f", "escape/x", b"no"), ("f", "abs/x", b"no"),
                                       ("f", "dot/outside/keep", b"no"), ("f", "../x", b"no"),
                                       ("f", "/etc/x", b"no")]))
put("layer", "escape-links", b"\x02" + tar([("h", "k", "../outside/keep"),
                                            ("h", "k2", "escape/keep"),
                                            ("l", "s", "/tmp"), ("f", "s/x", b"no")]))
put("layer", "gzip", b"\x05" + tar([("f", "a", b"gz" * 100)], "w:gz"))
zs = subprocess.run(["zstd", "-c"], input=tar([("f", "z", b"zstd")]), stdout=subprocess.PIPE,
                    check=True).stdout
put("layer", "zstd", b"\x09" + zs)
