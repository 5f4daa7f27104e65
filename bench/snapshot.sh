#!/bin/bash
# snapshot.sh — under QEMU TCG: `vm start --from SNAP` to the agent
# answering, against a cold `vm start` of the same VM (same kernel, image,
# 512 MiB), median of ROUNDS each; and what `vm snapshot` costs: the save's
# time, how long the guest stood still, the snapshot's size on disk. Then
# vm run's boot cache: `vm run --rm --net none -- true` served from the
# cache against the same with --no-snapshot (a cold boot), median of ROUNDS,
# and what filling the entry cost the first run.
# Debian's cloud kernel (cached by tests/fixtures.sh), banger's initramfs, a
# plain busybox image (no banger in it: the initramfs brings it).
#
# usage: BANGER=build/banger bash bench/snapshot.sh   (or via bench/run.sh)
set -eu
BANGER=$(realpath "${BANGER:-build/banger}")
TOP=${TOP:-$(cd "$(dirname "$0")/.." && pwd)}
ROUNDS=${ROUNDS:-3}
MEM=${MEM:-512}
command -v qemu-system-x86_64 >/dev/null || { echo "snapshot: skipped (needs qemu)"; exit 0; }
[ -x /bin/busybox ] || { echo "snapshot: skipped (needs busybox-static)"; exit 0; }
work=$(mktemp -d "${TMPDIR:-/var/tmp}/banger-bench-XXXXXX")
trap 'BANGER_HOME=$work/home "$BANGER" -q vm rm -f sb >/dev/null 2>&1; rm -rf "$work"' EXIT
export BANGER_HOME=$work/home BANGER_ACCEL=tcg
# shellcheck source=tests/fixtures.sh
. "$TOP/tests/fixtures.sh"
fixture_debian_kernel >/dev/null

"$BANGER" -q kernel-import deb --vmlinuz "$KROOT/boot/vmlinuz-$KVER" --modules "$KROOT/lib/modules/$KVER" >/dev/null
tree=$work/tree
mkdir -p "$tree"/{bin,etc,proc,sys,dev,run,tmp,root}
cp /bin/busybox "$tree/bin/busybox"
for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -sf busybox "$tree/bin/$a"; done
mke2fs -q -t ext4 -E root_owner=0:0 -d "$tree" "$work/plain.ext4" 64M >/dev/null
"$BANGER" -q image import plain "$work/plain.ext4" >/dev/null
"$BANGER" -q vm create --name sb --vmm qemu --kernel deb --image plain --net none --memory "$MEM" >/dev/null

ms() { date +%s%N | cut -c1-13; }
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
# A start to the agent answering, then the first exec; the VMM is killed
# after (the stop is not what is measured).
run() { # ARGS...: vm start's options
	local t0 t1
	t0=$(ms)
	"$BANGER" -q vm start "$@" sb >/dev/null
	"$BANGER" vm exec sb -- true
	t1=$(ms)
	"$BANGER" -q vm kill sb >/dev/null
	echo $((t1 - t0))
}

run >/dev/null # builds the initramfs, warms the caches
"$BANGER" -q vm start sb >/dev/null
"$BANGER" vm snapshot sb ready 2>"$work/snap.err" >/dev/null
"$BANGER" -q vm kill sb >/dev/null
for _ in $(seq "$ROUNDS"); do run; done | median >"$work/cold"
for _ in $(seq "$ROUNDS"); do run --from ready; done | median >"$work/warm"
cold=$(cat "$work/cold") warm=$(cat "$work/warm")
m=$BANGER_HOME/snapshots/ready/manifest.json
save=$(sed -n 's/.*"save_ms":[[:space:]]*\([0-9]*\).*/\1/p' "$m")
down=$(sed -n 's/.*"downtime_ms":[[:space:]]*\([0-9]*\).*/\1/p' "$m")
state=$(stat -c %s "$BANGER_HOME/snapshots/ready/state.mig")
own=$(du -k "$BANGER_HOME/snapshots/ready/state.mig" "$BANGER_HOME/snapshots/ready/upper.ext4" | awk '{ s += $1 } END { print s }')
echo "snapshot: ${MEM} MiB guest: state.mig ${state} bytes, $((own / 1024)) MiB on disk with the layer's copy; save ${save} ms, guest stood still ${down} ms"
echo "snapshot: to the first exec, median of $ROUNDS: vm start --from ${warm} ms, cold vm start ${cold} ms"
awk -v w="$warm" -v c="$cold" 'BEGIN { printf "RATIO: snapshot-start: %.2f× (banger vm start --from %d ms vs cold vm start %d ms, QEMU TCG)\n", w / c, w, c }'

# vm run's boot cache: the whole command, create to removal.
vmrun() { # ARGS...: vm run's extra options
	local t0 t1
	t0=$(ms)
	"$BANGER" -q vm run --rm --vmm qemu --kernel deb --image plain --net none --memory "$MEM" "$@" -- true
	t1=$(ms)
	echo $((t1 - t0))
}
vmrun >"$work/fill" # the first: cold, and saves the entry
entry=$("$BANGER" snapshot list -q | grep '^cache-')
for _ in $(seq "$ROUNDS"); do vmrun --no-snapshot; done | median >"$work/rcold"
for _ in $(seq "$ROUNDS"); do vmrun; done | median >"$work/rwarm"
fill=$(cat "$work/fill") rcold=$(cat "$work/rcold") rwarm=$(cat "$work/rwarm")
m=$BANGER_HOME/snapshots/$entry/manifest.json
save=$(sed -n 's/.*"save_ms":[[:space:]]*\([0-9]*\).*/\1/p' "$m")
own=$(du -k "$BANGER_HOME/snapshots/$entry/state.mig" "$BANGER_HOME/snapshots/$entry/upper.ext4" | awk '{ s += $1 } END { print s }')
echo "boot cache: entry $entry: $((own / 1024)) MiB on disk, saved in ${save} ms; the first run (cold + save) ${fill} ms"
echo "boot cache: vm run --rm --net none -- true, median of $ROUNDS: from the cache ${rwarm} ms, cold (--no-snapshot) ${rcold} ms"
awk -v w="$rwarm" -v c="$rcold" 'BEGIN { printf "RATIO: vm-run-cache: %.2f× (banger vm run from the boot cache %d ms vs cold vm run %d ms, QEMU TCG)\n", w / c, w, c }'
