#!/bin/bash
# vm-run-net.sh — the default network costs no boot time: `vm run --rm --
# true` of a systemd-less Debian image (the cached debootstrap minbase,
# which has apt-get, pulled from a local registry) with the default network
# as root (tap, in a network namespace of its own) against the same run
# with --net none. Median of ROUNDS (3) each, QEMU TCG. Also one run with
# --init systemd, which installs systemd with apt-get (what every default
# boot did before; no mirror is reachable here, so it only costs time).
#
# usage: BANGER=build/banger bash bench/vm-run-net.sh   (or via bench/run.sh)
set -u
TOP=${TOP:-$(cd "$(dirname "$0")/.." && pwd)}
BANGER=$(realpath "${BANGER:-$TOP/build/banger}")
ROUNDS=${ROUNDS:-3}
if [ "$(id -u)" != 0 ]; then
	echo "vm-run-net: skipped (needs root: the default network is tap, in a namespace)"
	exit 0
fi
if [ -z "${BANGER_BENCH_NETNS:-}" ]; then
	BANGER_BENCH_NETNS=1 exec unshare -n bash "$0" "$@"
fi
for c in qemu-system-x86_64 docker-registry skopeo umoci debootstrap ip; do
	command -v "$c" >/dev/null || { echo "vm-run-net: skipped (needs $c)"; exit 0; }
done
TMP=$(mktemp -d "${TMPDIR:-/var/tmp}/banger-bench-XXXXXX")
export BANGER_HOME=$TMP/home BANGER_ACCEL=tcg
# shellcheck source=tests/fixtures.sh
. "$TOP/tests/fixtures.sh"
# shellcheck source=tests/registry.sh
. "$TOP/tests/registry.sh"
trap 'registry_stop_all; rm -rf "$TMP"' EXIT
ip link set lo up
fixture_debian_kernel >/dev/null || exit 1
"$BANGER" -q kernel-import deb --vmlinuz "$KROOT/boot/vmlinuz-$KVER" --modules "$KROOT/lib/modules/$KVER" >/dev/null &&
	"$BANGER" -q initramfs deb -o "$BANGER_HOME/kernels/deb/initrd.img" || exit 1
fixture_debian_ext4 || exit 1

ms() { echo $(($(date +%s%N) / 1000000)); }
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
# once FILE [OPTIONS]: one `vm run --rm -- true`, its wall time appended to FILE.
once() {
	local out=$1 t0 t1
	shift
	t0=$(ms)
	"$BANGER" -q vm run --rm --vmm qemu --kernel deb --image debian-bookworm --memory 256 \
		--timeout 600 "$@" -- true </dev/null || { echo "vm-run-net: vm run $* failed" >&2; exit 1; }
	t1=$(ms)
	echo $((t1 - t0)) >>"$TMP/$out"
}
for _ in $(seq "$ROUNDS"); do
	once tap
	once none --net none
done
once systemd --init systemd
d=$(median <"$TMP/tap")
n=$(median <"$TMP/none")
s=$(cat "$TMP/systemd")
echo "vm-run-net: vm run --rm -- true, systemd-less Debian, median of $ROUNDS (TCG): default network (tap) ${d} ms, --net none ${n} ms; --init systemd (apt-get, no mirror) ${s} ms"
awk -v d="$d" -v n="$n" 'BEGIN {
	printf "RATIO: vm-run-default-net: %.2f× (banger default network %d ms vs --net none %d ms)\n", d / n, d, n }'
