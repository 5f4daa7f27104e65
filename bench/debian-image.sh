#!/bin/bash
# debian-image.sh — Debian 12 minbase built from the archive into ext4:
# banger image-pull debian-bookworm against debootstrap --variant=minbase +
# mke2fs -d, the same package set from the same local signed archive
# (file://, tests/debmirror.sh), in the same run; and banger's rebuild with
# the .deb cache warm; then the same build with its second stage in a VM
# (image-pull --in-vm: what an ordinary user gets) against the same.
#
# usage: BANGER=build/banger bench/debian-image.sh   (as root; make bench runs it)
set -u
TOP=${TOP:-$(cd "$(dirname "$0")/.." && pwd)}
BANGER=${BANGER:-$TOP/build/banger}
TMP=$(mktemp -d "${TMPDIR:-/var/tmp}/banger-bench-XXXXXX")
CACHE=${CACHE:-$TOP/build/cache}
# shellcheck source=tests/debmirror.sh
. "$TOP/tests/debmirror.sh"
trap 'rm -rf "$TMP"' EXIT

for c in debootstrap mke2fs gpg dpkg-scanpackages apt-get bc; do
	command -v "$c" >/dev/null || { echo "skip: needs $c"; exit 0; }
done
[ "$(id -u)" = 0 ] || { echo "skip: needs root"; exit 0; }

now() { date +%s.%N; }
secs() { echo "$2 - $1" | bc -l | xargs printf '%.2f'; }
best() { if [ -z "$1" ] || [ "$(echo "$2 < $1" | bc)" = 1 ]; then echo "$2"; else echo "$1"; fi; }

# shellcheck disable=SC2046,SC2119 # one name a word; no extra packages
debmirror_fetch "$CACHE/debian-debs" $(debmirror_closure) || { echo "skip: apt-get download failed"; exit 0; }
debmirror_key "$TMP" >/dev/null || exit 1
debmirror_make "$TMP/archive" bookworm "$CACHE/debian-debs"/*.deb
export BANGER_DEB_KEYRING=$TMP/keyring.gpg
mirror=file://$TMP/archive
sync

banger_cold='' alt=''
rounds=${ROUNDS:-2}
for round in $(seq "$rounds"); do
	export BANGER_HOME=$TMP/home$round
	t0=$(now)
	nice "$BANGER" -q image-pull --mirror "$mirror" debian-bookworm >/dev/null ||
		{ echo "banger image-pull failed"; exit 1; }
	t1=$(now)
	banger_cold=$(best "$banger_cold" "$(secs "$t0" "$t1")")
	echo "round $round: banger $(secs "$t0" "$t1") s"
	img=$BANGER_HOME/images/debian-bookworm
	size=$(stat -c %s "$img/rootfs.ext4")
	n=$(wc -l <"$img/packages.txt")
	[ "$round" = 1 ] || rm -rf "$TMP/home1"

	rm -rf "$TMP/root" "$TMP/alt.ext4"
	t0=$(now)
	if ! { nice debootstrap --variant=minbase --keyring="$TMP/keyring.gpg" bookworm \
		"$TMP/root" "$mirror" >"$TMP/debootstrap.log" 2>&1 &&
		truncate -s "$size" "$TMP/alt.ext4" &&
		nice mke2fs -q -F -t ext4 -b 4096 -d "$TMP/root" "$TMP/alt.ext4"; }; then
		echo "debootstrap + mke2fs failed: $(tail -1 "$TMP/debootstrap.log")"
		exit 1
	fi
	t1=$(now)
	alt=$(best "$alt" "$(secs "$t0" "$t1")")
	echo "round $round: debootstrap + mke2fs $(secs "$t0" "$t1") s"
	alt_n=$(chroot "$TMP/root" dpkg-query -W | wc -l)
	sync
done

t0=$(now)
nice "$BANGER" -q image-pull --force --mirror "$mirror" debian-bookworm >/dev/null || exit 1
t1=$(now)
banger_warm=$(secs "$t0" "$t1")

echo "set: banger $n packages, debootstrap $alt_n packages; ext4 $((size >> 20)) MiB"
echo "load average: $(cut -d" " -f1-3 /proc/loadavg)"
echo "banger image-pull debian-bookworm, cold:  ${banger_cold} s (best of $rounds)"
echo "debootstrap --variant=minbase + mke2fs:   ${alt} s (best of $rounds)"
echo "banger image-pull --force, .debs cached:  ${banger_warm} s"
echo "ratio: debian-image: $(echo "$banger_cold / $alt" | bc -l | xargs printf '%.2f')× (banger ${banger_cold} s vs debootstrap+mke2fs ${alt} s)"

# The second stage in a VM (what an ordinary user gets): one round, the
# .debs cached, Debian's cloud kernel, QEMU as banger picks it (TCG here).
# shellcheck source=tests/fixtures.sh
. "$TOP/tests/fixtures.sh"
if command -v qemu-system-x86_64 >/dev/null && fixture_debian_kernel >/dev/null 2>&1; then
	export BANGER_HOME=$TMP/home-vm
	mkdir -p "$BANGER_HOME/deb" && cp -a "$TMP/home$rounds/deb/debs" "$BANGER_HOME/deb/"
	"$BANGER" -q kernel-import deb --vmlinuz "$KROOT/boot/vmlinuz-$KVER" \
		--modules "$KROOT/lib/modules/$KVER" >/dev/null || exit 1
	t0=$(now)
	nice "$BANGER" -q image-pull --in-vm --kernel deb --mirror "$mirror" debian-bookworm \
		>/dev/null || { echo "banger image-pull --in-vm failed"; exit 1; }
	t1=$(now)
	vm=$(secs "$t0" "$t1")
	echo "banger image-pull --in-vm, .debs cached: ${vm} s"
	echo "ratio: debian-image-vm: $(echo "$vm / $alt" | bc -l | xargs printf '%.2f')× (banger in a VM ${vm} s vs debootstrap+mke2fs in a chroot ${alt} s)"
else
	echo "skip: debian-image-vm (needs qemu-system-x86_64 and Debian's cloud kernel)"
fi
