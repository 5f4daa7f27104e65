#!/bin/bash
# vm-commit.sh — reading a VM's layer: `banger vm diff` (metadata only) and
# `banger vm commit` (the image's tree with the layer applied, through the
# native writer) of a Debian minbase root (the OCI fixture's layer when
# build/cache has it, else 8000 made-up files) with a layer that rewrote
# every tenth file, deleted a hundred and added a directory of a thousand,
# against what one would do by hand with the overlay mounted: `mke2fs -d` of
# the merged tree, and then `banger image import` of it (a copy and its
# sha256, as vm commit hashes its result), median of 3 runs each, warm page
# cache. The layer is made with mke2fs -d as overlayfs leaves one
# (whiteouts need root).
#
# usage: BANGER=build/banger bash bench/vm-commit.sh   (or via bench/run.sh)
set -eu
BANGER=${BANGER:-build/banger}
TOP=${TOP:-$(cd "$(dirname "$0")/.." && pwd)}
work=$(mktemp -d "${TMPDIR:-/var/tmp}/banger-bench-XXXXXX")
trap '[ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
export BANGER_HOME=$work/home BANGER_RUN_DIR=$work/run BANGER_FIRECRACKER=$TOP/tests/fake/firecracker

ms() { echo $(($(date +%s%N) / 1000000)); }
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

base=$work/base
mkdir -p "$base"
layout=$TOP/build/cache/debian-bookworm-minbase-oci/layout
if [ -d "$layout/blobs/sha256" ]; then
	blob=$(find "$layout/blobs/sha256" -type f -printf "%s %p\n" | sort -rn | head -1 | cut -d" " -f2)
	tar -xf "$blob" -C "$base" --numeric-owner 2>/dev/null || tar -xzf "$blob" -C "$base" --numeric-owner
	what="Debian bookworm minbase"
else
	for d in $(seq 400); do
		mkdir -p "$base/usr/d$d"
		for f in $(seq 20); do head -c $(((d * 37 + f * 101) % 65536)) /dev/urandom >"$base/usr/d$d/f$f"; done
	done
	what="8000 made-up files"
fi
files=$(find "$base" -type f | wc -l)
echo "base: $what, $files files, $(du -sm "$base" | cut -f1) MiB"

up=$work/up
mkdir -p "$up/upper" "$up/work/work"
merged=$work/merged
cp -a "$base" "$merged"
n=0 w=0
while read -r f; do
	n=$((n + 1))
	rel=${f#"$base"/}
	if [ $((n % 10)) = 0 ]; then
		mkdir -p "$up/upper/$(dirname "$rel")"
		cp -a "$f" "$up/upper/$rel"
		echo changed >>"$up/upper/$rel"
		echo changed >>"$merged/$rel"
	elif [ $((n % 97)) = 0 ] && [ "$(id -u)" = 0 ] && [ $w -lt 100 ]; then
		mkdir -p "$up/upper/$(dirname "$rel")"
		mknod "$up/upper/$rel" c 0 0
		rm "$merged/$rel"
		w=$((w + 1))
	fi
done < <(find "$base" -type f | sort)
mkdir -p "$up/upper/srv/new" "$merged/srv/new"
for i in $(seq 1000); do echo "$i" >"$up/upper/srv/new/f$i"; done
cp -a "$up/upper/srv/new/." "$merged/srv/new/"
echo "layer: $((n / 10)) files rewritten, $w whiteouts, 1000 new"

mke2fs -q -F -t ext4 -E root_owner=0:0 -d "$base" "$work/base.ext4" 1G >/dev/null
mke2fs -q -F -t ext4 -E root_owner=0:0 -d "$up" "$work/upper.ext4" 1G >/dev/null
mkdir -p "$BANGER_HOME/kernels/k"
cp /bin/true "$BANGER_HOME/kernels/k/vmlinux"
"$BANGER" -q image import base "$work/base.ext4" >/dev/null
"$BANGER" -q vm create --name v --kernel k --image base --vmm firecracker --net none >/dev/null
cp "$work/upper.ext4" "$BANGER_HOME/vms/v/upper.ext4"

for _ in 1 2 3; do
	t0=$(ms)
	"$BANGER" vm diff v >"$work/diff"
	t1=$(ms)
	"$BANGER" -q vm commit -f v committed >/dev/null
	t2=$(ms)
	rm -f "$work/m.ext4"
	mke2fs -q -F -t ext4 -E root_owner=0:0 -d "$merged" "$work/m.ext4" 1G >/dev/null
	t3=$(ms)
	"$BANGER" -q image import -f byhand "$work/m.ext4" >/dev/null
	t4=$(ms)
	echo "$((t1 - t0))" >>"$work/d"
	echo "$((t2 - t1))" >>"$work/c"
	echo "$((t3 - t2))" >>"$work/k"
	echo "$((t4 - t2))" >>"$work/i"
done
d=$(median <"$work/d")
c=$(median <"$work/c")
k=$(median <"$work/k")
i=$(median <"$work/i")
img=$BANGER_HOME/images/committed/rootfs.ext4
echo "vm diff: $d ms ($(wc -l <"$work/diff") lines); vm commit: $c ms ($(($(stat -c %s "$img") >> 20)) MiB image, $(du -m "$img" | cut -f1) MiB allocated, hashed whole for its manifest)"
echo "by hand: mke2fs -d of the merged tree $k ms; with image import of it (copy, sha256) $i ms"
awk -v c="$c" -v i="$i" 'BEGIN { printf "RATIO: vm-commit: %.2f× (banger vm commit %d ms vs mke2fs -d of the merged tree and image import %d ms)\n", c / i, c, i }'
awk -v c="$c" -v k="$k" 'BEGIN { printf "RATIO: vm-commit-mke2fs: %.2f× (banger vm commit %d ms vs mke2fs -d alone %d ms)\n", c / k, c, k }'
