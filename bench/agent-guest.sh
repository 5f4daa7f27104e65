#!/bin/bash
# agent-guest.sh — the agent in a real guest (QEMU TCG, -M microvm, Debian's
# cloud kernel, banger's initramfs, a busybox root with first-boot as the
# minimal init): agent and PID 1 RSS after ready, and `exec true` round
# trip over the virtio-serial channel against `ssh true` into the same guest
# (the host's sshd binary and its libraries copied into the root, started by
# the agent; user networking with a hostfwd on 127.0.0.1). TCG is slow:
# the absolute figures are not the point, the ratio is.
set -u
TOP=${TOP:-$(cd "$(dirname "$0")/.." && pwd)}
BANGER=${BANGER:-$TOP/build/banger}
N=${N:-20}
N_SSH=${N_SSH:-5}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/banger-bench-XXXXXX")
# shellcheck source=tests/fixtures.sh
. "$TOP/tests/fixtures.sh"
# shellcheck source=tests/guest.sh
. "$TOP/tests/guest.sh"
guest_init "$TMP"

if ! command -v qemu-system-x86_64 >/dev/null || ! [ -x /bin/busybox ]; then
	echo "skipped: needs qemu-system-x86_64 and busybox-static"
	exit 0
fi
fixture_debian_kernel >/dev/null || {
	echo "skipped: no Debian cloud kernel fixture"
	exit 0
}
"$BANGER" initramfs --modules "$KROOT/lib/modules/$KVER" -o "$TMP/initrd.img" 2>/dev/null || exit 1
guest_rootfs "$TMP/tree"

# sshd from the host, under /opt so first-boot does not start it on its own.
have_sshd=
if [ -x /usr/sbin/sshd ] && command -v ssh >/dev/null; then
	have_sshd=1
	mkdir -p "$TMP/tree/opt/ssh" "$TMP/tree/run/sshd" "$TMP/tree/root/.ssh" "$TMP/tree/var/empty"
	cp /usr/sbin/sshd "$TMP/tree/opt/ssh/sshd"
	for lib in $(ldd /usr/sbin/sshd | awk '/=>/ { print $3 } /ld-linux/ { print $1 }'); do
		cp --parents -L "$lib" "$TMP/tree/"
	done
	printf 'root:x:0:0:root:/root:/bin/sh\nsshd:x:100:65534::/run/sshd:/bin/false\n' >"$TMP/tree/etc/passwd"
	printf 'root:x:0:\nnogroup:x:65534:\n' >"$TMP/tree/etc/group"
	ssh-keygen -q -t ed25519 -N '' -f "$TMP/tree/opt/ssh/hostkey"
	ssh-keygen -q -t ed25519 -N '' -f "$TMP/userkey"
	cp "$TMP/userkey.pub" "$TMP/tree/root/.ssh/authorized_keys"
	printf '%s\n' "Port 22" "HostKey /opt/ssh/hostkey" "PasswordAuthentication no" \
		"KbdInteractiveAuthentication no" "UsePAM no" "StrictModes no" "PermitRootLogin yes" \
		"PidFile /run/sshd.pid" >"$TMP/tree/opt/ssh/sshd_config"
fi
guest_image "$TMP/tree" "$TMP/root.ext4" 128

port=$((20000 + RANDOM % 20000))
S=$TMP/agent.sock
guest_boot "$TMP/boot.log" 600 -kernel "$KROOT/boot/vmlinuz-$KVER" -initrd "$TMP/initrd.img" \
	-append "$GUEST_APPEND root=/dev/vda rw banger.hostname=bench-vm" \
	-drive "file=$TMP/root.ext4,format=raw,if=none,id=d0" -device virtio-blk-device,drive=d0 \
	-chardev "socket,id=ag,path=$S,server=on,wait=off" -device virtio-serial-device \
	-device virtserialport,chardev=ag,name=org.banger.agent \
	-netdev "user,id=n0,hostfwd=tcp:127.0.0.1:$port-:22" -device virtio-net-device,netdev=n0 &
boot=$!

A=("$BANGER" agent --unix "$S" --timeout 120)
"${A[@]}" --wait 300 ping >/dev/null || {
	echo "guest agent did not come up"
	exit 1
}
agent_pid=$(sed -n 's/.*minimal init, agent pid \([0-9]*\).*/\1/p' "$TMP/boot.log" | head -1)
# shellcheck disable=SC2016 # awk's own $2
rss() { "${A[@]}" exec -- awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }
echo "guest agent RSS after ready: $(rss "${agent_pid:-0}") KiB (goal <= 1024 KiB)"
echo "guest PID 1 (first-boot) RSS: $(rss 1) KiB"
echo "guest ready: $(guest_marker "$TMP/boot.log" "minimal init, agent pid") s after QEMU started"

now() { date +%s%N; }
per_call_ms() { # per_call_ms RUNS CMD...
	local runs=$1 t0 i
	shift
	t0=$(now)
	for ((i = 0; i < runs; i++)); do "$@" >/dev/null 2>&1 || return 1; done
	echo $((($(now) - t0) / runs / 1000000))
}
agent_ms=$(per_call_ms "$N" "${A[@]}" exec -- true)
echo "agent exec true over virtio-serial: $agent_ms ms per round trip (mean of $N)"

if [ -n "$have_sshd" ]; then
	"${A[@]}" exec -- sh -c 'ip link set eth0 up && ip addr add 10.0.2.15/24 dev eth0 &&
		mkdir -p /run/sshd && /opt/ssh/sshd -f /opt/ssh/sshd_config' >"$TMP/sshd.out" 2>&1 ||
		cat "$TMP/sshd.out"
	SSH=(ssh -i "$TMP/userkey" -p "$port" -o BatchMode=yes -o StrictHostKeyChecking=no
		-o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o ConnectTimeout=60 root@127.0.0.1)
	for _ in $(seq 30); do "${SSH[@]}" true 2>/dev/null && break; sleep 1; done
	if ssh_ms=$(per_call_ms "$N_SSH" "${SSH[@]}" true); then
		echo "ssh true into the same guest: $ssh_ms ms per run (mean of $N_SSH)"
		awk -v a="$agent_ms" -v s="$ssh_ms" 'BEGIN {
			printf "ratio: agent-guest-exec: %.1f× (banger agent exec true %d ms vs ssh true %d ms, same TCG guest; goal >= 5×)\n",
				s / a, a, s }'
	else
		echo "ssh into the guest failed; no ratio"
	fi
else
	echo "no sshd on this host: no ssh ratio"
fi

"${A[@]}" shutdown >/dev/null
wait "$boot"
