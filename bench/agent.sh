#!/bin/bash
# agent.sh — the guest agent's footprint and round trip, measured on the host
# (vsock off, a Unix socket instead: the same loop and code paths as the
# virtio-serial channel, minus the hypervisor).
#
#   - agent RSS after ready (goal ≤ 1 MiB), and after some work
#   - `exec true` round trip through `banger agent exec` (a new client
#     process, connect, HELLO/READY, EXEC, EXIT — what a host script pays),
#     against `ssh true` into a private sshd on 127.0.0.1 (the issue's
#     yardstick: SSH into the guest), else against `sh -c true` (a local
#     fork+exec, the floor) when no sshd is installed.
set -u
BANGER=${BANGER:-$(cd "$(dirname "$0")/.." && pwd)/build/banger}
N=${N:-200}
N_SSH=${N_SSH:-20} # ssh is slow: fewer runs
tmp=$(mktemp -d "${TMPDIR:-/tmp}/banger-bench-XXXXXX")
agent_pid=
trap '[ -n "$agent_pid" ] && kill "$agent_pid" 2>/dev/null; rm -rf "$tmp"' EXIT

sock=$tmp/agent.sock
"$BANGER" vsock-agent --no-vsock --no-serial --listen-unix "$sock" 2>"$tmp/agent.log" &
agent_pid=$!
"$BANGER" agent ping --unix "$sock" --wait 10 >/dev/null || {
	echo "agent did not come up"
	exit 1
}

rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
ready_rss=$(rss "$agent_pid")
echo "agent RSS after ready: $ready_rss KiB (goal <= 1024 KiB)"

now() { date +%s%N; }
# per_call_us RUNS CMD...: mean wall time of RUNS runs, in microseconds.
per_call_us() {
	local runs=$1 t0 t1 i
	shift
	t0=$(now)
	for ((i = 0; i < runs; i++)); do "$@" >/dev/null 2>&1 || return 1; done
	t1=$(now)
	echo $(((t1 - t0) / runs / 1000))
}

agent_us=$(per_call_us "$N" "$BANGER" agent exec --unix "$sock" -- true)
head -c 100000000 /dev/urandom >"$tmp/blob"
put_us=$(per_call_us 1 "$BANGER" agent put --unix "$sock" "$tmp/blob" "$tmp/blob.in")
get_us=$(per_call_us 1 "$BANGER" agent get --unix "$sock" "$tmp/blob.in" "$tmp/blob.out")
busy_rss=$(rss "$agent_pid")
echo "agent RSS after $N execs, a 100 MB put and get: $busy_rss KiB"
echo "agent exec true: $agent_us us per round trip (mean of $N)"

# The baseline: a private sshd on 127.0.0.1 (its own host key, config and
# authorized key; nothing of the system's sshd is used or changed).
sshd_up() {
	local sshd port i
	sshd=$(command -v sshd || echo /usr/sbin/sshd)
	[ -x "$sshd" ] && command -v ssh-keygen >/dev/null && command -v ssh >/dev/null || return 1
	port=$((20000 + RANDOM % 20000))
	ssh-keygen -q -t ed25519 -N '' -f "$tmp/hostkey" || return 1
	ssh-keygen -q -t ed25519 -N '' -f "$tmp/userkey" || return 1
	cp "$tmp/userkey.pub" "$tmp/authorized_keys"
	cat >"$tmp/sshd_config" <<-EOF
		Port $port
		ListenAddress 127.0.0.1
		HostKey $tmp/hostkey
		AuthorizedKeysFile $tmp/authorized_keys
		PidFile $tmp/sshd.pid
		PasswordAuthentication no
		KbdInteractiveAuthentication no
		UsePAM no
		StrictModes no
		PermitRootLogin yes
	EOF
	mkdir -p /run/sshd 2>/dev/null
	"$sshd" -D -f "$tmp/sshd_config" -E "$tmp/sshd.log" &
	sshd_pid=$!
	SSH=(ssh -i "$tmp/userkey" -p "$port" -o BatchMode=yes -o StrictHostKeyChecking=no
		-o UserKnownHostsFile=/dev/null -o LogLevel=ERROR "$(id -un)@127.0.0.1")
	for i in $(seq 50); do
		"${SSH[@]}" true 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}
sshd_pid=
trap '[ -n "$agent_pid" ] && kill "$agent_pid" 2>/dev/null; [ -n "$sshd_pid" ] && kill "$sshd_pid" 2>/dev/null; rm -rf "$tmp"' EXIT
floor_us=$(per_call_us "$N" sh -c true)
echo "sh -c true (local fork+exec, the floor): $floor_us us per run (mean of $N)"
if sshd_up; then
	alt="ssh true (private sshd on 127.0.0.1, ed25519 key)"
	alt_us=$(per_call_us "$N_SSH" "${SSH[@]}" true)
else
	alt="sh -c true (local fork+exec; no sshd available)"
	alt_us=$floor_us
fi
echo "$alt: $alt_us us per run"
# Copying in: agent put (temp + fsync + rename) against the same bytes
# through the baseline (ssh 'cat > file', or cp + sync without sshd).
if [ -n "$sshd_pid" ]; then
	copy_alt="ssh 'cat > file && sync'"
	# shellcheck disable=SC2016 # expanded by the inner sh
	copy_us=$(per_call_us 1 sh -c '"$@" "cat > $0.ssh && sync $0.ssh" <"$0"' "$tmp/blob" "${SSH[@]}")
else
	copy_alt="cp + sync"
	# shellcheck disable=SC2016 # expanded by the inner sh
	copy_us=$(per_call_us 1 sh -c 'cp "$0" "$0.cp" && sync "$0.cp"' "$tmp/blob")
fi
awk -v p="$put_us" -v g="$get_us" -v c="$copy_us" -v alt="$copy_alt" 'BEGIN {
	printf "agent put 100 MB: %.0f MB/s, get: %.0f MB/s; %s: %.0f MB/s\n",
		100e6 / p, 100e6 / g, alt, 100e6 / c
	printf "ratio: agent-put: %.2f× (banger agent put %.0f ms vs %s %.0f ms)\n",
		c / p, p / 1000, alt, c / 1000 }'
awk -v a="$agent_us" -v b="$alt_us" -v alt="$alt" 'BEGIN {
	printf "ratio: agent-exec: %.2f× (banger agent exec true %d us vs %s %d us)\n",
		b / a, a, alt, b }'
awk -v r="$ready_rss" 'BEGIN {
	printf "ratio: agent-rss: %.2f× (1 MiB goal vs banger agent RSS %d KiB)\n", 1024 / r, r }'
