#!/bin/bash
# vm-boot.sh — under QEMU TCG: time from `banger vm run -d` to the guest
# agent answering (`banger agent ping`), against the same kernel booting a
# trivial static /init that prints a marker (QEMU started by hand with the
# same machine, from exec to the marker on the console). Median of 3 each.
# Debian's cloud kernel (cached by tests/fixtures.sh), banger's initramfs,
# a busybox root with banger in it. Needs the agent and initramfs applets.
#
# usage: BANGER=build/banger bash bench/vm-boot.sh   (or via bench/run.sh)
set -eu
BANGER=$(realpath "${BANGER:-build/banger}")
TOP=${TOP:-$(cd "$(dirname "$0")/.." && pwd)}
for a in agent initramfs kernel-import; do
	if ! "$BANGER" --list | grep -q "^$a "; then
		echo "vm-boot: skipped (this build has no $a applet)"
		exit 0
	fi
done
command -v qemu-system-x86_64 musl-gcc >/dev/null || { echo "vm-boot: skipped (needs qemu, musl-gcc)"; exit 0; }
work=$(mktemp -d "${TMPDIR:-/var/tmp}/banger-bench-XXXXXX")
trap 'BANGER_HOME=$work/home "$BANGER" -q vm rm -f b1 b2 b3 >/dev/null 2>&1; rm -rf "$work"' EXIT
export BANGER_HOME=$work/home BANGER_ACCEL=tcg
# shellcheck source=tests/fixtures.sh
. "$TOP/tests/fixtures.sh"
fixture_debian_kernel >/dev/null

"$BANGER" -q kernel-import deb --vmlinuz "$KROOT/boot/vmlinuz-$KVER" --modules "$KROOT/lib/modules/$KVER" >/dev/null
"$BANGER" -q initramfs deb -o "$BANGER_HOME/kernels/deb/initrd.img"
tree=$work/tree
mkdir -p "$tree"/{bin,sbin,etc,proc,sys,dev,run,tmp,root,usr/local/libexec}
cp /bin/busybox "$tree/bin/busybox"
for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -sf busybox "$tree/bin/$a"; done
cp "$BANGER" "$tree/usr/local/libexec/banger"
ln -s banger "$tree/usr/local/libexec/banger-first-boot"
ln -s banger "$tree/usr/local/libexec/banger-vsock-agent"
mkdir -p "$BANGER_HOME/images/bb"
mke2fs -q -t ext4 -E root_owner=0:0 -d "$tree" "$BANGER_HOME/images/bb/rootfs.ext4" 64M >/dev/null

# The baseline: a static /init that prints a marker and powers off.
cat >"$work/init.c" <<'C'
#include <sys/reboot.h>
#include <unistd.h>
int main(void)
{
	write(1, "BENCH-MARKER\n", 13);
	reboot(RB_POWER_OFF);
	return 0;
}
C
musl-gcc -static -Os -o "$work/init" "$work/init.c"
(cd "$work" && mkdir -p rd && cp init rd/init && cd rd && find . | cpio -o -H newc 2>/dev/null | gzip >"$work/marker.img")

ms() { echo $(($(date +%s%N) / 1000000)); }
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

for run in 1 2 3; do
	t0=$(ms)
	"$BANGER" -q vm run -d --name "b$run" --vmm qemu --kernel deb --image bb --net none --memory 256 >/dev/null
	"$BANGER" agent ping --unix "$BANGER_HOME/vms/b$run/agent.sock" --timeout 120 >/dev/null
	t1=$(ms)
	echo $((t1 - t0)) >>"$work/banger"
	"$BANGER" -q vm rm "b$run"

	t0=$(ms)
	qemu-system-x86_64 -M microvm,x-option-roms=off,rtc=on,acpi=on,pcie=off -accel tcg -smp 1 -m 256 \
		-nodefaults -no-user-config -display none -serial stdio -no-reboot \
		-kernel "$BANGER_HOME/kernels/deb/vmlinux" -initrd "$work/marker.img" \
		-append "console=ttyS0 reboot=k panic=1 tsc_early_khz=2000000" </dev/null 2>&1 |
		grep -q -m1 BENCH-MARKER
	t1=$(ms)
	echo $((t1 - t0)) >>"$work/marker"
	sleep 1
done
b=$(median <"$work/banger")
m=$(median <"$work/marker")
echo "vm-boot: banger vm run -d to agent ready ${b} ms; same kernel to a marker from a static /init ${m} ms (median of 3, TCG)"
awk -v b="$b" -v m="$m" 'BEGIN {
	printf "ratio: vm-boot-to-agent-ready: %.2f× (banger %d ms vs static /init marker %d ms)\n", b / m, b, m }'
