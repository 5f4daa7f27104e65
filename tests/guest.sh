# guest.sh — boot banger guests under QEMU TCG for tests and benchmarks (sourced).
#
# guest_rootfs DIR: a busybox-static root tree in DIR with banger at
#   /usr/local/libexec/banger and /etc/os-release ID=busybox (no systemd,
#   no package manager: first-boot stays the minimal init).
# guest_image DIR IMG MB: an ext4 image of DIR (mke2fs -d), MB mebibytes.
# guest_boot LOG TIMEOUT QEMU_ARGS...: runs qemu-system-x86_64 -M $GUEST_MACHINE
#   (default microvm; TCG, 256 MiB, 1 CPU, no reboot) with QEMU_ARGS; each console line goes
#   to LOG prefixed with the seconds since QEMU started. Returns QEMU's exit
#   status (124 on timeout). QEMU is killed at exit whatever happens
#   (guest_cleanup, chained into the EXIT trap by guest_init).
# GUEST_APPEND: the kernel command line every boot starts with.
# shellcheck shell=bash

# shellcheck disable=SC2034  # used by the files that source this
GUEST_APPEND="console=ttyS0 panic=-1 quiet tsc_early_khz=2000000"
GUEST_PIDFILE=

guest_cleanup() {
	local pid
	if [ -n "$GUEST_PIDFILE" ] && [ -s "$GUEST_PIDFILE" ]; then
		pid=$(cat "$GUEST_PIDFILE")
		kill -KILL "$pid" 2>/dev/null
	fi
}

# guest_init DIR: state in DIR; chains QEMU's cleanup into the EXIT trap.
guest_init() {
	GUEST_PIDFILE=$1/qemu.pid
	# shellcheck disable=SC2064
	trap "guest_cleanup; rm -rf '$TMP'" EXIT
}

guest_rootfs() {
	local d=$1 a
	mkdir -p "$d"/{bin,sbin,etc,proc,sys,dev,run,tmp,root,usr/local/libexec}
	cp /bin/busybox "$d/bin/busybox"
	for a in $(/bin/busybox --list); do
		[ "$a" = busybox ] || ln -sf busybox "$d/bin/$a"
	done
	cp "$BANGER" "$d/usr/local/libexec/banger"
	printf 'ID=busybox\nNAME="busybox test root"\n' >"$d/etc/os-release"
}

guest_image() {
	rm -f "$2"
	mke2fs -q -t ext4 -L root -E root_owner=0:0 -d "$1" "$2" "$3M" >/dev/null
}

guest_boot() {
	local log=$1 t=$2 t0 line rc
	shift 2
	t0=${EPOCHREALTIME/./}
	: >"$GUEST_PIDFILE"
	timeout -k 5 "$t" nice qemu-system-x86_64 -accel tcg -M "${GUEST_MACHINE:-microvm}" -m 256 -smp 1 \
		-nographic -no-reboot -pidfile "$GUEST_PIDFILE" "$@" </dev/null 2>&1 |
		while IFS= read -r line; do
			line=${line%$'\r'}
			printf '%d.%03d %s\n' $(((${EPOCHREALTIME/./} - t0) / 1000000)) \
				$((((${EPOCHREALTIME/./} - t0) / 1000) % 1000)) "$line"
		done >"$log"
	rc=${PIPESTATUS[0]}
	guest_cleanup
	return "$rc"
}

# guest_wait LOG TEXT SECONDS: waits until TEXT is in LOG (a boot running in
# the background); false on timeout.
guest_wait() {
	local i
	for i in $(seq $(($3 * 10))); do
		grep -qF -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# guest_monitor SOCKET COMMAND: one QEMU human monitor command.
guest_monitor() {
	python3 - "$1" "$2" <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.settimeout(5)
s.recv(4096)
s.sendall(sys.argv[2].encode() + b"\n")
time.sleep(0.3)
PY
}

# guest_marker LOG TEXT: the seconds at which TEXT first appeared, or nothing.
guest_marker() {
	grep -F -m1 -- "$2" "$1" | cut -d' ' -f1
}
