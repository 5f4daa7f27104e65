#!/bin/bash
# vm.sh — per-VM disk creation: `banger vm create` (reflink where the
# filesystem shares blocks, else a sparse copy of the data extents) against
# `cp --reflink=never --sparse=never` (a full byte copy) of the same image,
# median of 5 runs each, warm page cache. Images of 1 GiB and 4 GiB holding the same 200 MiB of files show
# whether the cost follows the image's size or its data. Measured where
# BANGER_HOME would be (ext4 here: sparse copy) and, as root with
# xfsprogs, on a loop-mounted XFS with reflink (the FICLONE path).
#
# usage: BANGER=build/banger bash bench/vm.sh   (or via bench/run.sh)
set -eu
BANGER=${BANGER:-build/banger}
work=$(mktemp -d "${TMPDIR:-/var/tmp}/banger-bench-XXXXXX")
mnt=
cleanup() {
	if [ -n "$mnt" ]; then umount "$mnt" 2>/dev/null || true; fi
	rm -rf "$work"
}
trap cleanup EXIT

ms() { echo $(($(date +%s%N) / 1000000)); }
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# 200 MiB of files, like a small distro root.
mkdir -p "$work/data"
for i in 1 2 3 4 5 6 7 8; do
	head -c 25M /dev/urandom >"$work/data/f$i"
done

# measure DIR LABEL: the store under DIR, both image sizes.
measure() {
	local dir=$1 label=$2 size img run t0 t1 t2 b c
	export BANGER_HOME=$dir/home
	mkdir -p "$BANGER_HOME/kernels/k"
	cp /bin/true "$BANGER_HOME/kernels/k/vmlinux"
	for size in 1G 4G; do
		mkdir -p "$BANGER_HOME/images/i$size"
		img=$BANGER_HOME/images/i$size/rootfs.ext4
		truncate -s "$size" "$img"
		mkfs.ext4 -q -F -d "$work/data" "$img"
	done
	echo "$label: filesystem $(findmnt -no FSTYPE -T "$BANGER_HOME"), image data $(du -m "$BANGER_HOME/images/i1G/rootfs.ext4" | cut -f1) MiB allocated"
	for size in 1G 4G; do
		img=$BANGER_HOME/images/i$size/rootfs.ext4
		: >"$dir/banger$size"
		: >"$dir/cp$size"
		for run in 1 2 3 4 5; do
			t0=$(ms)
			"$BANGER" -q vm create --name "b$size$run" --kernel k --image "i$size" --net none --vmm qemu >/dev/null
			t1=$(ms)
			echo $((t1 - t0)) >>"$dir/banger$size"
			cp --reflink=never --sparse=never "$img" "$dir/full"
			sync -f "$dir/full"
			t2=$(ms)
			echo $((t2 - t1)) >>"$dir/cp$size"
			rm -f "$dir/full"
			"$BANGER" -q vm rm "b$size$run"
		done
		b=$(median <"$dir/banger$size")
		c=$(median <"$dir/cp$size")
		echo "$label: disk $size: banger vm create ${b} ms, cp --reflink=never --sparse=never ${c} ms (median of 5)"
		awk -v b="$b" -v c="$c" -v s="$size" -v l="$label" 'BEGIN {
			printf "ratio: vm-create-disk-%s-%s: %.3f× (banger %d ms vs cp --reflink=never --sparse=never %d ms)\n",
				l, s, (b > 0 ? b : 1) / (c > 0 ? c : 1), b, c }'
	done
}

measure "$work" "$(findmnt -no FSTYPE -T "$work")"

if [ "$(id -u)" = 0 ] && command -v mkfs.xfs >/dev/null; then
	truncate -s 12G "$work/xfs.img"
	mkfs.xfs -q -m reflink=1 "$work/xfs.img"
	mkdir -p "$work/xfs"
	if mount -o loop "$work/xfs.img" "$work/xfs"; then
		mnt=$work/xfs
		measure "$mnt" xfs-reflink
	else
		echo "xfs-reflink: skipped (cannot loop-mount)"
	fi
else
	echo "xfs-reflink: skipped (needs root and mkfs.xfs from xfsprogs)"
fi
