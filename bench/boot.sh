#!/bin/bash
# boot.sh — time from QEMU start to first-boot's "ready" line, booting
# Debian's cloud kernel (TCG, -M microvm) with banger's initramfs and a
# busybox ext4 root, against the same kernel booting a trivial static /init
# that prints a marker and powers off (the floor: kernel boot alone). Also
# the guest's own clock at ready (CLOCK_BOOTTIME) and PID 1's RSS.
#
# usage: bench/boot.sh   (BANGER, TOP from bench/run.sh; ROUNDS=3)
set -u
TOP=${TOP:-$(cd "$(dirname "$0")/.." && pwd)}
BANGER=${BANGER:-$TOP/build/banger}
ROUNDS=${ROUNDS:-3}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/banger-bench-XXXXXX")
trap 'guest_cleanup; rm -rf "$TMP"' EXIT
# shellcheck source=tests/fixtures.sh
. "$TOP/tests/fixtures.sh"
# shellcheck source=tests/guest.sh
. "$TOP/tests/guest.sh"
GUEST_PIDFILE=$TMP/qemu.pid

fixture_debian_kernel || exit 1
VMLINUZ=$KROOT/boot/vmlinuz-$KVER

"$BANGER" initramfs --modules "$KROOT/lib/modules/$KVER" -o "$TMP/initrd.img" 2>/dev/null || exit 1
guest_rootfs "$TMP/tree"
cat >"$TMP/tree/bench-agent" <<'A'
#!/bin/sh
echo "B: pid1rss=$(awk '/^VmRSS/ { print $2 }' /proc/1/status)"
kill -TERM 1
A
chmod 755 "$TMP/tree/bench-agent"
guest_image "$TMP/tree" "$TMP/root.ext4" 32
# The layered disk as vm create makes it: the image shared read-only, an
# empty ext4 of banger's writer for the VM's writes.
export BANGER_HOME=$TMP/home
mkdir -p "$BANGER_HOME/kernels/k" "$BANGER_HOME/images/i"
cp /bin/true "$BANGER_HOME/kernels/k/vmlinux"
cp "$TMP/root.ext4" "$BANGER_HOME/images/i/rootfs.ext4"
"$BANGER" -q vm create --name o --kernel k --image i --net none --vmm qemu --disk-size 1G >/dev/null || exit 1
UPPER=$BANGER_HOME/vms/o/upper.ext4

# The alternative: a trivial static /init, same kernel, same archive format.
mkdir -p "$TMP/tiny/dev"
cat >"$TMP/tiny.c" <<'C'
#include <stdio.h>
#include <sys/reboot.h>
#include <time.h>
#include <unistd.h>
int main(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_BOOTTIME, &ts);
	printf("tiny-init: ready (%ld ms since boot)\n", ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
	fflush(stdout);
	reboot(RB_POWER_OFF);
	for (;;)
		pause();
}
C
musl-gcc -static -Os -o "$TMP/tiny/init" "$TMP/tiny.c" || exit 1
# dev/console as in banger's archive (mknod needs root; without it the
# kernel warns and the tiny init has no stdout, so the bench fails loudly).
mknod -m 600 "$TMP/tiny/dev/console" c 5 1 || exit 1
(cd "$TMP/tiny" && printf 'dev\ndev/console\ninit\n' | cpio -o -H newc --quiet | zstd -q -19 >"$TMP/tiny.img")

median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

for i in $(seq "$ROUNDS"); do
	cp "$TMP/root.ext4" "$TMP/run.ext4"
	guest_boot "$TMP/b$i.log" 120 -kernel "$VMLINUZ" -initrd "$TMP/initrd.img" \
		-append "$GUEST_APPEND root=/dev/vda rw BANGER_AGENT=/bench-agent" \
		-drive file="$TMP/run.ext4",format=raw,if=none,id=d0 -device virtio-blk-device,drive=d0
	guest_marker "$TMP/b$i.log" "first-boot: ready" >>"$TMP/banger.t"
	cp --sparse=always "$UPPER" "$TMP/upper.ext4"
	guest_boot "$TMP/o$i.log" 120 -kernel "$VMLINUZ" -initrd "$TMP/initrd.img" \
		-append "$GUEST_APPEND root=/dev/vda ro banger.upper=/dev/vdb BANGER_AGENT=/bench-agent" \
		-drive file="$TMP/root.ext4",format=raw,if=none,id=d0,readonly=on -device virtio-blk-device,drive=d0 \
		-drive file="$TMP/upper.ext4",format=raw,if=none,id=d1 -device virtio-blk-device,drive=d1
	guest_marker "$TMP/o$i.log" "first-boot: ready" >>"$TMP/overlay.t"
	sed -n 's/.*first-boot: ready.* \([0-9]*\) ms since boot.*/\1/p' "$TMP/o$i.log" >>"$TMP/overlay.g"
	sed -n 's/.*first-boot: ready.* \([0-9]*\) ms since boot.*/\1/p' "$TMP/b$i.log" >>"$TMP/banger.g"
	sed -n 's/.*B: pid1rss=\([0-9]*\).*/\1/p' "$TMP/b$i.log" >>"$TMP/rss"
	guest_boot "$TMP/t$i.log" 120 -kernel "$VMLINUZ" -initrd "$TMP/tiny.img" -append "$GUEST_APPEND"
	guest_marker "$TMP/t$i.log" "tiny-init: ready" >>"$TMP/tiny.t"
	sed -n 's/.*tiny-init: ready (\([0-9]*\) ms since boot).*/\1/p' "$TMP/t$i.log" >>"$TMP/tiny.g"
done

for f in banger.t overlay.t tiny.t banger.g overlay.g tiny.g rss; do
	[ "$(grep -c . "$TMP/$f")" = "$ROUNDS" ] || { echo "boot: missing marker in $f (see logs)"; tail -5 "$TMP"/b1.log; exit 1; }
done
bt=$(median <"$TMP/banger.t") tt=$(median <"$TMP/tiny.t") ot=$(median <"$TMP/overlay.t")
bg=$(median <"$TMP/banger.g") tg=$(median <"$TMP/tiny.g") og=$(median <"$TMP/overlay.g")
rss=$(median <"$TMP/rss")
echo "boot: QEMU start to ready, median of $ROUNDS: banger initramfs + first-boot ${bt} s (flat root), ${ot} s (overlay root), trivial /init ${tt} s"
echo "boot: guest clock at ready (CLOCK_BOOTTIME): banger ${bg} ms (flat), ${og} ms (overlay), trivial /init ${tg} ms"
echo "boot: PID 1 (first-boot, minimal init) RSS: ${rss} kB"
awk -v a="$bt" -v b="$tt" 'BEGIN { printf "ratio: boot to ready, flat root: %.2f× (banger %s s vs trivial static /init %s s)\n", a / b, a, b }'
awk -v a="$ot" -v b="$tt" 'BEGIN { printf "ratio: boot to ready, overlay root: %.2f× (banger %s s vs trivial static /init %s s)\n", a / b, a, b }'
awk -v a="$og" -v b="$tg" 'BEGIN { printf "ratio: guest clock at ready, overlay root: %.2f× (banger %s ms vs trivial static /init %s ms)\n", a / b, a, b }'
