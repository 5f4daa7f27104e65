#!/bin/bash
# image-pull.sh — pull of the debootstrap minbase Debian from a local TLS
# registry into ext4: banger image-pull against skopeo copy + umoci unpack +
# mke2fs -d (the same image, the same registry, the same run), and against
# the mke2fs -d step alone on the already unpacked tree; banger's warm
# re-pulls; ext4 build throughput; the images' used space.
#
# usage: BANGER=build/banger bench/image-pull.sh   (as root; make bench runs it)
set -u
TOP=${TOP:-$(cd "$(dirname "$0")/.." && pwd)}
BANGER=${BANGER:-$TOP/build/banger}
TMP=$(mktemp -d "${TMPDIR:-/var/tmp}/banger-bench-XXXXXX")
# shellcheck source=tests/fixtures.sh
. "$TOP/tests/fixtures.sh"
# shellcheck source=tests/registry.sh
. "$TOP/tests/registry.sh"
trap 'registry_stop_all; rm -rf "$TMP"' EXIT

for c in docker-registry skopeo umoci mke2fs debootstrap; do
	command -v "$c" >/dev/null || { echo "skip: needs $c"; exit 0; }
done
[ "$(id -u)" = 0 ] || { echo "skip: needs root"; exit 0; }

now() { date +%s.%N; }
secs() { echo "$2 - $1" | bc -l | xargs printf '%.2f'; }

registry_init
registry_start plain || exit 1
registry_push_debian "$REG_PORT" || exit 1
ref=localhost:$REG_PORT/library/debian:bookworm
certs=$REG_DIR/certs.d/localhost:$REG_PORT
sync

# Cold runs, alternating, best of two each (the machine may be shared).
best() { if [ -z "$1" ] || [ "$(echo "$2 < $1" | bc)" = 1 ]; then echo "$2"; else echo "$1"; fi; }
banger_cold=''
alt=''
for round in 1 2; do
	# banger, cold: empty store and blob cache.
	export BANGER_HOME=$TMP/home$round
	t0=$(now)
	"$BANGER" -q image-pull "$ref" >/dev/null || { echo "banger image-pull failed"; exit 1; }
	t1=$(now)
	banger_cold=$(best "$banger_cold" "$(secs "$t0" "$t1")")
	size=$(stat -c %s "$BANGER_HOME/images/debian-bookworm/rootfs.ext4")
	[ $round = 1 ] || rm -rf "$TMP/home1"

	# The alternative, same steps: fetch, unpack, make the ext4 (same size).
	rm -rf "$TMP/layout" "$TMP/bundle" "$TMP/alt.ext4"
	t0=$(now)
	if ! { skopeo copy -q --src-cert-dir "$certs" "docker://$ref" "oci:$TMP/layout:bookworm" \
		>/dev/null &&
		umoci unpack --image "$TMP/layout:bookworm" "$TMP/bundle" >/dev/null &&
		truncate -s "$size" "$TMP/alt.ext4" &&
		mke2fs -q -F -t ext4 -b 4096 -d "$TMP/bundle/rootfs" "$TMP/alt.ext4"; }; then
		echo "skopeo+umoci+mke2fs failed"
		exit 1
	fi
	t1=$(now)
	alt=$(best "$alt" "$(secs "$t0" "$t1")")
	sync
	# The ext4 step alone, on the unpacked tree (page cache warm).
	rm -f "$TMP/alt.ext4"
	t0=$(now)
	truncate -s "$size" "$TMP/alt.ext4" &&
		mke2fs -q -F -t ext4 -b 4096 -d "$TMP/bundle/rootfs" "$TMP/alt.ext4" || exit 1
	t1=$(now)
	mkfs=$(best "${mkfs:-}" "$(secs "$t0" "$t1")")
done

# banger, warm: the blobs are cached; --force rebuilds the ext4 from them.
t0=$(now)
"$BANGER" -q image-pull --force "$ref" >/dev/null || exit 1
t1=$(now)
banger_warm=$(secs "$t0" "$t1")
# banger, up to date: only the manifest is fetched.
t0=$(now)
"$BANGER" -q image-pull "$ref" >/dev/null || exit 1
t1=$(now)
banger_noop=$(secs "$t0" "$t1")

content=$(du -sb --apparent-size "$TMP/bundle/rootfs" | cut -f1)
used() { dumpe2fs -h "$1" 2>/dev/null | awk -F: '/^Block count/ {t=$2} /^Free blocks/ {f=$2} END {print (t-f)*4096}'; }
ub=$(used "$BANGER_HOME/images/debian-bookworm/rootfs.ext4")
um=$(used "$TMP/alt.ext4")
mbs() { echo "$content / $1 / 1000000" | bc -l | xargs printf '%.0f'; }
echo "image: $ref ($((content / 1000000)) MB unpacked, ext4 $((size >> 20)) MiB)"
echo "load average: $(cut -d" " -f1-3 /proc/loadavg)"
echo "banger image-pull, cold:              ${banger_cold} s (best of 2)"
echo "skopeo copy + umoci unpack + mke2fs:  ${alt} s (best of 2)"
echo "banger image-pull --force, warm:      ${banger_warm} s (layers cached)"
echo "banger image-pull, up to date:        ${banger_noop} s"
echo "mke2fs -d alone (unpacked tree):      ${mkfs} s (best of 2)"
echo "ext4 build throughput: banger $(mbs "$banger_warm") MB/s (whole warm pull: decompress, replay, write) vs mke2fs -d $(mbs "$mkfs") MB/s (from a tree)"
echo "used in the image: banger $((ub >> 20)) MiB vs mke2fs -d $((um >> 20)) MiB ($(echo "$ub / $um" | bc -l | xargs printf '%.3f')×); apparent size both $((size >> 20)) MiB"
echo "ratio: image-pull: $(echo "$banger_cold / $alt" | bc -l | xargs printf '%.2f')× (banger ${banger_cold} s vs skopeo+umoci+mke2fs ${alt} s)"
echo "ratio: image-pull vs the ext4 step alone: $(echo "$banger_cold / $mkfs" | bc -l | xargs printf '%.2f')× (banger's whole pull ${banger_cold} s vs mke2fs -d ${mkfs} s on the unpacked tree)"
