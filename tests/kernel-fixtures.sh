# kernel-fixtures.sh — helpers for the kernel-*.test files (sourced).
#
# kernel_dir DIR VERSION: a small kernel directory to pack. Its vmlinux is a
#   real x86-64 ELF executable (a copy of the banger binary under test, about
#   1 MB, so packing at zstd level 19 stays quick), with a modules tree.
# crafted_bundle OUT ENTRY...: a tar.zst made by Python's tarfile, for
#   archives banger must refuse. ENTRY is "file:NAME", "dir:NAME",
#   "symlink:NAME:TARGET" or "hardlink:NAME:TARGET".
# sha_size FILE: prints "SHA256 SIZE".
# catalog_entry NAME URL SHA SIZE: one bundle entry as JSON.
# shellcheck shell=bash

kernel_dir() {
	local d=$1 ver=$2
	mkdir -p "$d/modules/lib/modules/$ver/kernel/fs"
	cp "$BANGER" "$d/vmlinux"
	echo "fake module for $ver" >"$d/modules/lib/modules/$ver/kernel/fs/fake.ko"
	echo "kernel/fs/fake.ko:" >"$d/modules/lib/modules/$ver/modules.dep"
	ln -sf modules.dep "$d/modules/lib/modules/$ver/modules.dep.link"
}

crafted_bundle() {
	local out=$1
	shift
	python3 - "$out.tar" "$@" <<'EOF'
import io, sys, tarfile
with tarfile.open(sys.argv[1], "w", format=tarfile.PAX_FORMAT) as t:
    for spec in sys.argv[2:]:
        kind, rest = spec.split(":", 1)
        name, _, target = rest.partition(":")
        ti = tarfile.TarInfo(name)
        data = b""
        if kind == "file":
            data = b"evil\n"
            ti.size = len(data)
        elif kind == "dir":
            ti.type = tarfile.DIRTYPE
        elif kind == "symlink":
            ti.type, ti.linkname = tarfile.SYMTYPE, target
        elif kind == "hardlink":
            ti.type, ti.linkname = tarfile.LNKTYPE, target
        t.addfile(ti, io.BytesIO(data))
EOF
	zstd -q -f --rm "$out.tar" -o "$out"
}

sha_size() {
	echo "$(sha256sum <"$1" | cut -d' ' -f1) $(stat -c %s "$1")"
}

catalog_entry() {
	printf '{"name": "%s", "kind": "bundle", "arch": "x86_64", "url": "%s", "sha256": "%s", "size": %s}' \
		"$1" "$2" "$3" "$4"
}
