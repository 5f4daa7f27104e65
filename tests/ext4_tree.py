#!/usr/bin/env python3
"""ext4_tree.py — list a tree for comparisons, from a directory or from an
ext4 image without mounting it (debugfs).

usage: ext4_tree.py dir ROOT
       ext4_tree.py ext4 IMAGE

One line an entry, sorted: PATH TYPE MODE UID:GID SIZE NLINK TARGET XATTRS,
where SIZE is for regular files only, TARGET for symlinks and devices, and
XATTRS lists NAME:LENGTH of each extended attribute.
"""
import os
import stat
import subprocess
import sys


def kind(mode):
    for test, name in ((stat.S_ISREG, "file"), (stat.S_ISDIR, "dir"), (stat.S_ISLNK, "link"),
                       (stat.S_ISCHR, "chr"), (stat.S_ISBLK, "blk"), (stat.S_ISFIFO, "fifo"),
                       (stat.S_ISSOCK, "sock")):
        if test(mode):
            return name
    return "?"


def line(path, mode, uid, gid, size, nlink, target, xattrs):
    k = kind(mode)
    return "%s %s %04o %d:%d %s %s %s %s" % (path, k, stat.S_IMODE(mode), uid, gid,
                                             size if k == "file" else "-",
                                             nlink if k == "file" else "-", target,
                                             ",".join(sorted(xattrs)) or "-")


def from_dir(root):
    out = []
    for d, dirs, files in os.walk(root):
        for n in dirs + files:
            p = os.path.join(d, n)
            st = os.lstat(p)
            target = "-"
            if stat.S_ISLNK(st.st_mode):
                target = os.readlink(p)
            elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
                target = "%d,%d" % (os.major(st.st_rdev), os.minor(st.st_rdev))
            xattrs = ["%s:%d" % (x, len(os.getxattr(p, x, follow_symlinks=False)))
                      for x in os.listxattr(p, follow_symlinks=False)]
            out.append(line(os.path.relpath(p, root), st.st_mode, st.st_uid, st.st_gid,
                            st.st_size, st.st_nlink, target, xattrs))
    return out


def debugfs(img, cmds):
    r = subprocess.run(["debugfs", "-f", "-", img], input="\n".join(cmds) + "\n",
                       capture_output=True, text=True, check=True)
    return r.stdout


def from_ext4(img):
    entries = {}  # path -> (ino, mode, uid, gid, size)
    todo = [""]
    while todo:
        out = debugfs(img, ["ls -p /" + d for d in todo])
        nxt = []
        cur = None
        for ln in out.splitlines():
            if ln.startswith("debugfs: ls -p /"):
                cur = ln[len("debugfs: ls -p /"):]
                continue
            f = ln.split("/")
            if len(f) < 7 or cur is None:
                continue
            ino, mode, uid, gid, name, size = int(f[1]), int(f[2], 8), f[3], f[4], "/".join(f[5:-2]), f[-2]
            if name in (".", "..") or ino == 0:
                continue
            p = (cur + "/" + name) if cur else name
            entries[p] = [ino, mode, int(uid), int(gid), size, "-", 1, []]
            if stat.S_ISDIR(mode) and p != "lost+found":
                nxt.append(p)
        todo = nxt
    # Link targets, device numbers, link counts and xattrs from `stat`.
    need = list(entries)
    for i in range(0, len(need), 500):
        out = debugfs(img, ['stat "/%s"' % p for p in need[i:i + 500]])
        cur = None
        in_xattrs = False
        for ln in out.splitlines():
            if ln.startswith("debugfs: stat "):
                cur = ln[len('debugfs: stat "/'):-1]
                in_xattrs = False
            elif cur in entries:
                e = entries[cur]
                if ln.startswith("Extended attributes:"):
                    in_xattrs = True
                    continue
                if in_xattrs and ln.startswith("  ") and " (" in ln:
                    name, rest = ln.strip().split(" (", 1)
                    e[7].append("%s:%s" % (name, rest.split(")")[0]))
                    continue
                in_xattrs = False
                if "Links: " in ln:
                    e[6] = int(ln.split("Links: ")[1].split()[0])
                if ln.startswith("Fast link dest: "):
                    e[5] = ln[len('Fast link dest: "'):-1]
                if "Device major/minor number:" in ln:
                    mm = ln.split("number: ")[1].split()[0].split(":")
                    e[5] = "%d,%d" % (int(mm[0]), int(mm[1]))
    slow = [p for p, e in entries.items() if stat.S_ISLNK(e[1]) and e[5] == "-"]
    for p in slow:
        entries[p][5] = debugfs(img, ['cat "/%s"' % p]).split("\n", 1)[1].rstrip("\n")
    return [line(p, e[1], e[2], e[3], e[4], e[6], e[5], e[7]) for p, e in entries.items()]


if __name__ == "__main__":
    rows = from_dir(sys.argv[2]) if sys.argv[1] == "dir" else from_ext4(sys.argv[2])
    print("\n".join(sorted(rows)))
