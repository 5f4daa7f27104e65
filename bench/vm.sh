#!/bin/bash
# vm.sh — per-VM disk creation: `banger vm create` (reflink where the
# filesystem shares blocks, else a sparse copy of the data extents) against
# `cp --sparse=never` of the same 1 GiB image, median of 5 runs each, warm
# page cache. A 4 GiB image with the same data shows whether the cost follows
# the image's size or its data.
#
# usage: BANGER=build/banger bash bench/vm.sh   (or via bench/run.sh)
set -eu
BANGER=${BANGER:-build/banger}
work=$(mktemp -d "${TMPDIR:-/var/tmp}/banger-bench-XXXXXX")
trap 'rm -rf "$work"' EXIT
export BANGER_HOME=$work/home
mkdir -p "$BANGER_HOME/kernels/k" "$work/data"
cp /bin/true "$BANGER_HOME/kernels/k/vmlinux"

ms() { echo $(($(date +%s%N) / 1000000)); }
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# 200 MiB of files in an ext4 image, like a small distro root.
for i in 1 2 3 4 5 6 7 8; do
	head -c 25M /dev/urandom >"$work/data/f$i"
done
for size in 1G 4G; do
	mkdir -p "$BANGER_HOME/images/i$size"
	img=$BANGER_HOME/images/i$size/rootfs.ext4
	truncate -s "$size" "$img"
	mkfs.ext4 -q -F -d "$work/data" "$img"
done
fs=$(stat -f -c %T "$BANGER_HOME")
echo "filesystem of BANGER_HOME: $fs; image data: $(du -m "$BANGER_HOME/images/i1G/rootfs.ext4" | cut -f1) MiB allocated"

for size in 1G 4G; do
	img=$BANGER_HOME/images/i$size/rootfs.ext4
	for run in 1 2 3 4 5; do
		t0=$(ms)
		"$BANGER" -q vm create --name "b$size$run" --kernel k --image "i$size" --net none --vmm qemu >/dev/null
		t1=$(ms)
		echo $((t1 - t0)) >>"$work/banger$size"
		cp --sparse=never "$img" "$work/full$run"
		sync -f "$work/full$run"
		t2=$(ms)
		echo $((t2 - t1)) >>"$work/cp$size"
		rm -f "$work/full$run"
		"$BANGER" -q vm rm "b$size$run"
	done
	b=$(median <"$work/banger$size")
	c=$(median <"$work/cp$size")
	echo "disk $size: banger vm create ${b} ms, cp --sparse=never ${c} ms (median of 5)"
	awk -v b="$b" -v c="$c" -v s="$size" 'BEGIN {
		printf "ratio: vm-create-disk-%s: %.3f× (banger %d ms vs cp --sparse=never %d ms)\n",
			s, (b > 0 ? b : 1) / (c > 0 ? c : 1), b, c }'
done
