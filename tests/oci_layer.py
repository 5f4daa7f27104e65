#!/usr/bin/env python3
"""oci_layer.py — write a hand-crafted layer tar for tests.

usage: oci_layer.py OUT.tar SPEC...

SPEC is TYPE:NAME[:ARG]: f:NAME:CONTENT (file, 0644), d:NAME (dir 0755),
l:NAME:TARGET (symlink), h:NAME:TARGET (hard link), w:NAME (empty file,
for whiteouts such as dir/.wh.x or dir/.wh..wh..opq). Names are written
exactly as given — "../x" and "/x" included — which is the point.
"""
import io
import sys
import tarfile

with tarfile.open(sys.argv[1], "w", format=tarfile.PAX_FORMAT) as t:
    for spec in sys.argv[2:]:
        kind, name, arg = (spec.split(":", 2) + [""])[:3]
        ti = tarfile.TarInfo(name)
        ti.mtime = 1700000000
        ti.mode = 0o644
        data = None
        if kind == "f":
            data = arg.encode()
            ti.size = len(data)
        elif kind == "d":
            ti.type, ti.mode = tarfile.DIRTYPE, 0o755
        elif kind == "l":
            ti.type, ti.linkname, ti.mode = tarfile.SYMTYPE, arg, 0o777
        elif kind == "h":
            ti.type, ti.linkname = tarfile.LNKTYPE, arg
        elif kind != "w":
            sys.exit("bad spec " + spec)
        t.addfile(ti, io.BytesIO(data) if data is not None else None)
