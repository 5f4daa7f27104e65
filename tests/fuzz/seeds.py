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


# ext4: a header, then operations, as tests/fuzz/fuzz-ext4.c decodes them.
# Nodes are numbered as the target's model numbers them: 0 the root,
# 1 lost+found, then each inode in the order it is made.
def le(v, n):
    return (v & ((1 << (8 * n)) - 1)).to_bytes(n, "little")


def x_head(time=1700000000, size_mib=None, label=None):
    b = bytes([(1 if size_mib else 0) | (2 if label is not None else 0)])
    if size_mib:
        k = size_mib - 8 if size_mib <= 32 else 200 + (size_mib - 128) // 40 \
            if size_mib < 4096 else 240 + size_mib // 1024 - 4
        b += bytes([k, 0])
    b += le(time, 4)
    if label is not None:
        b += label.encode() + (b"\0" if len(label) < 20 else b"")
    return b


X_ODD = [b"", b".", b"..", b"a/b", b"/", "\u00e9t\u00e9".encode(), b"\xff\xfe", b"sp ace",
         b"new\nline", b"-", b"...", b".hidden", b"lost+found"]  # the target's odd_names


def x_name(n):
    """n: a str/bytes name the decoder can spell, or ("long", len, ch)."""
    if isinstance(n, tuple):
        _, ln, ch = n
        ch = ord(ch) - ord("a")
        return bytes([6, ln - 200, ch]) if ln < 255 else bytes([7, ln - 255, ch])
    n = n.encode() if isinstance(n, str) else n
    if n == b"lost+found":
        return b"\x05"
    if n == b"a\0b":
        return b"\x09"
    if n in X_ODD:
        return bytes([8, X_ODD.index(n)])
    if n[:1] == b"n" and n[1:].isdigit() and int(n[1:]) < 40:
        return bytes([0, int(n[1:])])
    return bytes([10, len(n) - 1]) + n  # raw


def x_time(t):
    if 1700000000 <= t < 1700000256:
        return bytes([0, t - 1700000000])
    return b"\x03" + le(t, 8)


def x_attr(mode=0o644, uid=0, gid=0, mtime=1700000000, atime=None, ctime=None, ns=None):
    c = (1 if uid else 0) | (4 if gid else 0) | (16 if atime is not None else 0) | \
        (32 if ctime is not None else 0) | (64 if ns is not None else 0)
    b = bytes([c]) + le(mode, 2)
    b += le(uid, 4) if uid else b""
    b += le(gid, 4) if gid else b""
    b += x_time(mtime)
    b += x_time(atime) if atime is not None else b""
    b += x_time(ctime) if ctime is not None else b""
    b += le(ns, 4) if ns is not None else b""
    return b


def x_at(parent, any_node=False):  # the parent: a directory unless any_node
    return bytes([0 if any_node else 1]) + le(parent, 2)


def x_mkdir(parent, name, **attr):
    return b"\x00" + x_at(parent) + x_name(name) + x_attr(mode=attr.pop("mode", 0o755), **attr)


def x_write(kind, seed, length, off=None):
    """kind 0: where the last write ended; 1: after a gap (off = gap in
    blocks); 2: the file's tail; 3/5: at off. length: 0, 1..256,
    "big" (u16 % 20000 = off for kind 3...), "block", "3block"."""
    lc = {0: 0, "block": 3, "3block": 4}.get(length, 1 if isinstance(length, int) and length <= 256 else 2)
    b = bytes([kind, seed, lc])
    if lc == 1:
        b += bytes([length - 1])
    elif lc == 2:
        b += le(length, 2)
    if kind == 1:
        b += b"\x01" + le(off, 2)
    elif kind in (3, 5):
        b += le(off, 8)
    return b


def x_size(s):
    table = {0: b"\x00", 4096: b"\x03", 5 << 30: b"\x06", 0xffffffff * 4096: b"\x07",
             1 << 44: b"\x09", (1 << 44) + 1: b"\x0a"}
    if s in table:
        return table[s]
    if s < 256:
        return bytes([1, s])
    if s < 65536:
        return b"\x02" + le(s, 2)
    if s % 4096 == 0 and s // 4096 < 65536:
        return b"\x0b" + le(s // 4096, 2)
    return b"\x05" + le(s, 4)


def x_file(parent, name, size, writes=(), any_node=False, **attr):
    return (b"\x01" + x_at(parent, any_node) + x_name(name) + x_attr(**attr) + x_size(size)
            + bytes([len(writes)]) + b"".join(writes))


def x_symlink(parent, name, kind, extra=b""):
    """kind 1: short (extra: length - 1), 2: 59 bytes, 3: 60, 4: long
    (extra: u16 length - 61), 5: 4095, 6: 4096, 0: empty, 7: raw."""
    return b"\x02" + x_at(parent) + x_name(name) + bytes([kind]) + x_attr(mode=0o777) + extra


def x_special(parent, name, kind, major=0, minor=0):
    """kind: 0 chr, 1 blk, 2 fifo, 3 socket, 4..6 not a file type; major
    and minor index tables in the target."""
    return b"\x03" + x_at(parent) + x_name(name) + bytes([kind]) + x_attr(mode=0o600) + \
        bytes([major, minor])


def x_link(parent, name, node, any_node=False):
    return b"\x04" + x_at(parent, any_node) + x_name(name) + le(node, 2)


def x_rewrite(node, writes):
    return b"\x05" + le(node, 2) + bytes([len(writes) - 1]) + b"".join(writes)


def x_stride(node, count, seed=1):  # every other block, count writes
    return b"\x05" + le(node, 2) + b"\x80" + le(count - 1, 2) + bytes([seed])


def x_xattr(node, ns, c, extra=b""):
    """ns: 0 user 1 trusted 2 security 3 system 4 ACL access 5 ACL default
    6 bogus 7 none; c picks suffix and value shapes, extra the bytes they read."""
    return b"\x06" + le(node, 2) + bytes([ns, c]) + extra


def x_remove(dent):
    return b"\x07\x01" + le(dent, 2)


def x_remove_name(parent, name):
    return b"\x07\x00" + le(parent, 2) + x_name(name)


def x_bulk(parent, count, style, links_to=None, pad="a"):
    count = count - 1 if count <= 300 else 36000 + count - 1  # bit 15: up to 9000
    return (b"\x0a" + x_at(parent) + le(count, 2) + bytes([style]) + le(links_to or 0, 2)
            + bytes([ord(pad) - ord("a"), 1 if links_to is not None else 0]))


def x_deep(parent, depth, long_names):
    return b"\x0b" + le(parent, 2) + bytes([depth - 1, long_names])


def x_setattr(node, **attr):
    return b"\x09" + le(node, 2) + x_attr(**attr) + le(0, 8)


ACL5 = bytes([5, 3]) + bytes([0, 6, 0, 0, 1, 6, 0xe8, 3, 2, 4, 0, 0, 4, 6, 0, 0, 5, 4, 0, 0])
put("ext4", "ordinary", x_head(label="banger-root")
    + x_mkdir(0, "n1")                                                    # 2
    + x_file(2, "n2", 5, [x_write(0, 1, 5)], mode=0o4755, uid=1000, gid=1000)  # 3
    + x_symlink(2, "n3", 1, bytes([9]))                                   # 4: 10 bytes
    + x_symlink(2, "n4", 4, le(200, 2))                                   # 5: 261 bytes
    + x_special(2, "n5", 0, 1, 1)                                         # 6: c 1:3
    + x_special(2, "n6", 1, 3, 4)                                         # 7: b 256:70000
    + x_special(2, "n7", 2) + x_special(2, "n8", 3)                       # 8, 9
    + x_link(0, "n9", 3)
    + x_xattr(3, 2, 2, bytes([4, 1, 20]))                                 # security.?
    + x_xattr(2, 4, 2, b"\0" + ACL5)                                      # ACL
    + x_xattr(2, 5, 2, b"\0" + ACL5)
    + x_xattr(3, 1, 2, bytes([3, 2]) + le(3000, 2)))                      # to a block
put("ext4", "sparse", x_head()
    + x_file(0, "n1", 5 << 30, [x_write(2, 1, 5)])                          # tail of 5 GiB
    + x_file(0, "n2", 0xffffffff * 4096, [x_write(2, 2, 100)])              # the largest file
    + x_file(0, "n3", 64 * 4096, [x_write(0, 3, "block"), x_write(1, 4, "block", 3),
                                  x_write(3, 5, 100, 10), x_write(3, 6, 10, 4096 * 2)])
    + x_rewrite(4, [x_write(5, 7, 10, 1 << 40), x_write(0, 8, "3block"),
                    x_write(1, 9, 1000, 40)])
    + x_file(0, "n4", 1 << 44)                                            # refused
    + x_file(0, "n5", 1 << 30) + x_stride(5, 450))                         # a tree, 2 leaves
put("ext4", "htree", x_head(time=0x1_2345_6789)
    + x_mkdir(0, "n1") + x_mkdir(0, "n2")                                 # 2, 3
    + x_bulk(2, 8000, 2)                                                  # two levels
    + x_file(3, "n3", 3, [x_write(0, 1, 3)])
    + x_bulk(3, 1500, 3) + x_bulk(3, 600, 1, links_to=8004, pad="q"))
put("ext4", "names", x_head()
    + b"".join(x_file(0, n, 0) for n in [".", "..", "a/b", "/", "a\0b", "", ("long", 256, "y"),
                                         b"\xe2\x82\xac/x", b"nul\0"])
    + b"".join(x_file(0, n, 1, [x_write(0, 1, 1)]) for n in
               [b"\xff\xfe", "new\nline", "sp ace", "-", "...", ".hidden", ("long", 255, "z"),
                ("long", 201, "x"), "\u00e9t\u00e9", b"\x01\x7f\x80"])
    + x_mkdir(0, "lost+found")                                            # exists
    + x_file(3, "n1", 0, any_node=True)                                   # under a file
    + x_link(0, "n2", 0) + x_link(0, "n3", 2)                             # a dir; a file
    + x_link(0, "n3", 2)                                                  # exists
    + x_remove(0)                                                         # lost+found
    + x_file(0, "lost+found", 3)                                          # refused
    + x_symlink(0, "lost+found", 1, bytes([3]))                           # refused
    + x_mkdir(0, "lost+found", mode=0o755)                                # the tree's own
    + x_file(12, "n2", 1, [x_write(0, 3, 1)]))                          # in it
put("ext4", "xattrs", x_head()
    + x_file(0, "n1", 0)                                                  # 2
    + b"".join(x_xattr(2, ns, c, extra) for ns, c, extra in [
        (0, 2, bytes([0, 1, 7])), (0, 2, bytes([0, 1, 9])),             # replaced
        (0, 0, bytes([1, 1])), (0, 1, bytes([7, 1, 1])),                # empty, 257
        (6, 2, bytes([0, 1, 1])), (7, 2, bytes([0, 1, 1])),             # no namespace
        (1, 2, bytes([1, 4])), (1, 2, bytes([2, 5])),                   # MAX_XVAL, +1
        (4, 3, bytes([0, 1, 8])), (4, 2, bytes([0, 0, 9])),             # system.; damaged
        (4, 2, bytes([0, 0, 10])), (4, 2, bytes([0, 0, 16])),           # damaged ACLs
        (3, 2, bytes([5, 1, 0]))])
    + x_file(0, "n2", 0)                                                  # 3: too many
    + b"".join(x_xattr(3, 0, 2, bytes([i, 2]) + le(1000, 2)) for i in range(6)))
put("ext4", "removals", x_head()
    + x_mkdir(0, "n1")                                                    # 2
    + x_file(2, "n2", 40000, [x_write(0, 1, 40000)])                      # 3
    + x_file(0, "n3", 9000, [x_write(0, 2, 9000)])                        # 4
    + x_link(0, "n4", 3) + x_symlink(2, "n5", 5)
    + x_remove_name(0, "n1")                                              # n2 stays as n4
    + x_file(0, "n5", 20000, [x_write(0, 3, 20000)])                      # reuses blocks
    + x_remove_name(0, "n3") + x_remove_name(0, "n9")                     # absent
    + x_rewrite(3, [x_write(3, 4, 100, 5)])
    + b"".join(x_file(0, "n1%d" % i, 4096, [x_write(0, i, "block")]) for i in range(7))  # 7..13
    + x_file(0, "n20", 1) + x_remove_name(0, "n13") + x_remove_name(0, "n12")  # joins the next
    + x_remove_name(0, "n14") + x_remove_name(0, "n10") + x_remove_name(0, "n11")  # both sides
    + x_file(0, "n21", 5 * 4096, [x_write(0, 9, 5 * 4096)])                # into the hole
    + x_deep(0, 120, 1) + x_deep(0, 60, 0)                                # nodes 16..195
    + x_file(135, "n1", 4096, [x_write(0, 2, "block")])                   # at the bottom
    + x_remove(16))                                                       # the long chain
put("ext4", "small-image", x_head(size_mib=8)
    + b"".join(x_file(0, "n%d" % i, 1 << 20, [x_write(0, i, 20000)] * 4) for i in range(16))
    + x_bulk(0, 9000, 0))                                                 # too many inodes
put("ext4", "small-full", x_head(size_mib=8)
    + b"".join(x_file(0, "n%d" % i, 1 << 30) + x_stride(i + 2, 450) for i in range(5)))
put("ext4", "groups", x_head(size_mib=8192)                              # 64 groups
    + x_mkdir(0, "n1") + x_bulk(2, 9000, 0)                                # inodes in 2 groups
    + x_file(0, "n2", 3 << 20, [x_write(0, 1, "3block"), x_write(1, 2, 20000, 300)])
    + x_xattr(9004, 0, 2, bytes([0, 2]) + le(2000, 2)) + x_remove(5))
put("ext4", "specials", x_head(time=0xfffffff0)
    + x_special(0, "n1", 0, 4, 5) + x_special(0, "n2", 1, 5, 0)           # 4095:0xfffff; 4096
    + x_special(0, "n3", 0, 0, 6) + x_special(0, "n4", 4) + x_special(0, "n5", 6)
    + x_file(0, "n6", 0, uid=0xfffffffe, gid=70000, mtime=-1, atime=1 << 33,
             ctime=-(1 << 31), ns=1999999999)
    + x_file(0, "n7", 0, mtime=1 << 40, atime=-(1 << 40))                 # out of range
    + x_setattr(0, mode=0o1777, uid=5, mtime=0x1_0000_0000))


# ext4read: an image described sparsely (u32 size in KiB, then records of
# u32 offset, u16 length, bytes: the non-zero runs of an image), made with
# mke2fs and debugfs (no root needed: debugfs makes devices and xattrs)
def sparse_image(path):
    with open(path, "rb") as f:
        img = f.read()
    out = bytearray(struct.pack("<I", len(img) // 1024))
    g, i = 64, 0
    while i < len(img):
        if not any(img[i:i + g]):
            i += g
            continue
        j = i
        while j < len(img) and j - i < 65535 - g and any(img[j:j + g]):
            j += g
        out += struct.pack("<IH", i, j - i) + img[i:j]
        i = j
    return bytes(out)


def ext4_seed(name, mkfs, debugfs_cmds, size="256K"):
    with tempfile.TemporaryDirectory() as d:
        tree, img = os.path.join(d, "tree"), os.path.join(d, "img")
        os.makedirs(os.path.join(tree, "etc/many"))
        os.makedirs(os.path.join(tree, "deep/a/b/c"))
        with open(os.path.join(tree, "etc/passwd"), "w") as f:
            f.write("root:x:0:0::/root:/bin/sh\n")
        for k in range(60):
            open(os.path.join(tree, "etc/many/file-%02d-with-a-name" % k), "w").write("%d\n" % k)
        with open(os.path.join(tree, "sparse"), "wb") as f:
            f.seek(40000)
            f.write(b"end")
        with open(os.path.join(tree, "frag"), "wb") as f:
            for k in range(0, 24, 2):
                f.seek(k * 1024)
                f.write(bytes([k + 1]) * 1024)
        os.symlink("passwd", os.path.join(tree, "etc/fast"))
        os.symlink("/" + "x" * 100, os.path.join(tree, "etc/slow"))
        os.link(os.path.join(tree, "etc/passwd"), os.path.join(tree, "etc/hard"))
        subprocess.check_call(["mke2fs", "-q", "-F", "-N", "128", "-E", "root_owner=0:0"] + mkfs +
                              ["-d", tree, img, size], stdout=subprocess.DEVNULL)
        with open(os.path.join(d, "block"), "wb") as f:
            f.write(b"J" * 1024)
        cmds = [c.replace("BLOCK", os.path.join(d, "block")) for c in debugfs_cmds]
        subprocess.run(["debugfs", "-w", "-f", "-", img], input="\n".join(cmds).encode(),
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        put("ext4read", name, sparse_image(img))


specials = ["cd /etc", "mknod null c 1 3", "mknod wh c 0 0", "mknod blk b 259 70000",
            "mknod fifo p", "cd /", "ea_set /etc/passwd user.small 1",
            "ea_set /etc/passwd trusted.overlay.origin xx", "ea_set /deep trusted.overlay.opaque y",
            "ea_set /etc/passwd security.big " + "v" * 300]
ext4_seed("ext4-1k", ["-t", "ext4", "-b", "1024", "-O", "^has_journal"], specials)
ext4_seed("ext4-1k-nocsum", ["-t", "ext4", "-b", "1024", "-O", "^has_journal,^metadata_csum,^64bit"],
          specials)
ext4_seed("ext2", ["-t", "ext2", "-b", "1024"], specials)
ext4_seed("ext4-128", ["-t", "ext4", "-b", "1024", "-I", "128", "-O", "^has_journal"], specials)
# a journal that needs recovery: /etc/passwd's block logged anew, one revoke
ext4_seed("journal", ["-t", "ext4", "-b", "1024"],
          specials + ["jo", "jw -b 300 BLOCK", "jc", "jo", "jw -r 301", "jc"], "4M")
