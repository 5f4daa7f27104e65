#!/bin/bash
# kernel-pull.sh — kernel-pull of a ~30 MB bundle from a local HTTPS server,
# against `curl | zstd -d | tar -x` plus `sha256sum` of the same file, in
# the same run (alternating, median of 5). Goal: ratio ≤ 1.1 (one pass).
#
# The bundle: the real Debian cloud vmlinux (cut from its vmlinuz) and 20 MB
# of random bytes as initrd.img (an initramfs is already compressed), packed
# by kernel-pack once and cached in build/cache/bench-kernel-bundle.
#
# usage: bench/kernel-pull.sh BANGER
set -eu
BANGER=$(realpath "$1")
TOP=$(cd "$(dirname "$0")/.." && pwd)
export TOP BANGER
# shellcheck source=tests/fixtures.sh
. "$TOP/tests/fixtures.sh"
TMP=$(mktemp -d)
trap 'fixture_stop; rm -rf "$TMP"' EXIT

cache=$CACHE/bench-kernel-bundle
if [ ! -f "$cache/ready" ]; then
	fixture_debian_kernel
	rm -rf "$cache"
	mkdir -p "$cache/kdir" "$cache/www"
	BANGER_HOME=$TMP/h "$BANGER" kernel-import bench --vmlinuz "$KROOT/boot/vmlinuz-$KVER" >/dev/null
	cp "$TMP/h/kernels/bench/vmlinux" "$cache/kdir/vmlinux"
	head -c $((20 << 20)) /dev/urandom >"$cache/kdir/initrd.img"
	(cd "$cache/www" && "$BANGER" kernel-pack --catalog catalog.json "$cache/kdir" bench >/dev/null)
	rm -rf "$cache/kdir"
	touch "$cache/ready"
fi
bundle=$cache/www/bench-x86_64.tar.zst
echo "bundle: $(stat -c %s "$bundle") bytes, $(zstd -dc "$bundle" | wc -c) unpacked (tar)"

fixture_ca "$TMP/ca"
fixture_https "$TMP/ca" "$cache/www"
export SSL_CERT_FILE=$TMP/ca/ca.pem
url=https://localhost:$HTTPS_PORT

ms() { echo $(($(date +%s%N) / 1000000)); }
run_banger() {
	local t
	rm -rf "${TMP:?}/home"
	t=$(ms)
	BANGER_HOME=$TMP/home "$BANGER" -q kernel-pull --catalog "$url/catalog.json" bench >/dev/null
	echo $(($(ms) - t))
}
run_alt() {
	local t
	rm -rf "$TMP/alt"
	mkdir -p "$TMP/alt/x"
	t=$(ms)
	curl -fsS --cacert "$TMP/ca/ca.pem" "$url/bench-x86_64.tar.zst" | tee "$TMP/alt/b.tar.zst" |
		zstd -dq | tar -x -C "$TMP/alt/x"
	sha256sum "$TMP/alt/b.tar.zst" >/dev/null
	echo $(($(ms) - t))
}
median() { sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }

run_banger >/dev/null # warm the page cache and the server
run_alt >/dev/null
: >"$TMP/a"
: >"$TMP/b"
for _ in 1 2 3 4 5; do
	run_banger >>"$TMP/a"
	run_alt >>"$TMP/b"
done
a=$(median <"$TMP/a")
b=$(median <"$TMP/b")
echo "banger kernel-pull:                 $(tr '\n' ' ' <"$TMP/a")ms (median $a ms)"
echo "curl | zstd -d | tar -x; sha256sum: $(tr '\n' ' ' <"$TMP/b")ms (median $b ms)"
echo "RATIO: kernel-pull: $(awk -v a="$a" -v b="$b" 'BEGIN {printf "%.2f", a / b}')× (banger $a ms vs curl | zstd -d | tar -x + sha256sum $b ms; goal ≤ 1.1)"
