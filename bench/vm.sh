#!/bin/bash
# vm.sh — per-VM disk creation: `banger vm create` with the layered disk
# (a link to the image plus an empty sparse ext4 layer) and with --disk copy
# (reflink where the filesystem shares blocks, else a sparse copy of the
# data extents), each against `cp --reflink=never --sparse=never` (a full
# byte copy) of the same image, median of 7 runs each, warm page cache.
# Images of 1 GiB and 8 GiB holding the same 200 MiB of files show whether
# the cost follows the image's size, its data, or neither. Measured where
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

us() { echo $(($(date +%s%N) / 1000)); }
ms() { awk -v u="$1" 'BEGIN { printf "%.1f", u / 1000 }'; }
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# 200 MiB of files, like a small distro root.
mkdir -p "$work/data"
for i in 1 2 3 4 5 6 7 8; do
	head -c 25M /dev/urandom >"$work/data/f$i"
done

# create LABEL SIZE MODE OUTFILE: seven vm creates of image iSIZE with --disk
# MODE, each followed by a full cp of the image, times into OUTFILE.*
create() {
	local label=$1 size=$2 mode=$3 out=$4 img run t0 t1 t2
	img=$BANGER_HOME/images/i$size/rootfs.ext4
	: >"$out.banger"
	: >"$out.cp"
	: >"$out.du"
	for run in 1 2 3 4 5 6 7; do
		t0=$(us)
		"$BANGER" -q vm create --name "b$size$run" --disk "$mode" --kernel k --image "i$size" --net none --vmm qemu >/dev/null
		t1=$(us)
		echo $((t1 - t0)) >>"$out.banger"
		# What the VM added: its layer, or its copy (base.ext4 is the image's).
		du -k "$BANGER_HOME/vms/b$size$run"/{upper,rootfs}.ext4 2>/dev/null |
			awk '{ k += $1 } END { print k + 0 }' >>"$out.du"
		cp --reflink=never --sparse=never "$img" "$work/full"
		sync -f "$work/full"
		t2=$(us)
		echo $((t2 - t1)) >>"$out.cp"
		rm -f "$work/full"
		"$BANGER" -q vm rm "b$size$run"
	done
}

# measure DIR LABEL: the store under DIR, both image sizes, both disk modes.
measure() {
	local dir=$1 label=$2 size mode b c d flat=
	export BANGER_HOME=$dir/home
	mkdir -p "$BANGER_HOME/kernels/k"
	cp /bin/true "$BANGER_HOME/kernels/k/vmlinux"
	for size in 1G 8G; do
		mkdir -p "$BANGER_HOME/images/i$size"
		truncate -s "$size" "$BANGER_HOME/images/i$size/rootfs.ext4"
		mkfs.ext4 -q -F -d "$work/data" "$BANGER_HOME/images/i$size/rootfs.ext4"
	done
	echo "$label: filesystem $(findmnt -no FSTYPE -T "$BANGER_HOME"), image data $(du -m "$BANGER_HOME/images/i1G/rootfs.ext4" | cut -f1) MiB allocated"
	# The kernel's initramfs is built by the first create: not what is measured.
	"$BANGER" -q vm create --name warm --kernel k --image i1G --net none --vmm qemu >/dev/null
	"$BANGER" -q vm rm warm
	for mode in overlay copy; do
		for size in 1G 8G; do
			create "$label" "$size" "$mode" "$dir/$mode$size"
			b=$(median <"$dir/$mode$size.banger")
			c=$(median <"$dir/$mode$size.cp")
			d=$(median <"$dir/$mode$size.du")
			echo "$label: --disk $mode, image $size: banger vm create $(ms "$b") ms, ${d} KiB allocated for the VM's disk; cp --reflink=never --sparse=never $(ms "$c") ms (median of 7)"
			awk -v b="$b" -v c="$c" -v s="$size" -v l="$label" -v m="$mode" 'BEGIN {
				printf "ratio: vm-create-%s-%s-%s: %.3f× (banger %.1f ms vs cp --reflink=never --sparse=never %.1f ms)\n",
					m, l, s, (b > 0 ? b : 1) / (c > 0 ? c : 1), b / 1000, c / 1000 }'
			[ "$size" = 1G ] && flat=$b
		done
		awk -v a="$flat" -v b="$b" -v l="$label" -v m="$mode" 'BEGIN {
			printf "ratio: vm-create-%s-%s-8G-vs-1G: %.3f× (8 GiB image %.1f ms vs 1 GiB image %.1f ms, same data)\n",
				m, l, (b > 0 ? b : 1) / (a > 0 ? a : 1), b / 1000, a / 1000 }'
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
