# vmlib.sh — a VM store for tests of the vm-* applets (sourced after lib.sh).
#
# vm_netns: re-runs the calling test inside a new network namespace (as root),
#   so bridges, taps and NAT rules never touch the host's network; as non-root
#   the test goes on with --net none and says so. Call it first.
# vm_store: BANGER_HOME=$TMP/home (and BANGER_RUN_DIR=$TMP/run) with kernel k1 (an ELF stand-in for vmlinux)
#   and image i1 (a real 64 MiB sparse ext4); BANGER_FIRECRACKER points at the
#   Firecracker stand-in (tests/fake/firecracker: no /dev/kvm here, so no real
#   Firecracker can run), whose API requests are recorded in the VM directory.
# vm_pid NAME: the recorded VMM pid.
# shellcheck shell=bash

vm_netns() {
	if [ "$(id -u)" = 0 ] && [ -z "${BANGER_TEST_NETNS:-}" ]; then
		BANGER_TEST_NETNS=1 exec unshare -n bash "$0"
	fi
	if [ -n "${BANGER_TEST_NETNS:-}" ]; then
		VM_NET=tap
	else
		VM_NET=none
		skip "tap networking" "not root: no network namespace of our own"
	fi
	export VM_NET
}

vm_store() {
	export BANGER_HOME=$TMP/home
	# The host-wide network state too: a namespace's inode comes back after
	# it dies, and with it another test's leftover leases.
	export BANGER_RUN_DIR=$TMP/run
	export BANGER_FIRECRACKER=$TOP/tests/fake/firecracker
	unset BANGER_SUBNET BANGER_BRIDGE BANGER_QEMU BANGER_JAILER
	mkdir -p "$BANGER_HOME/kernels/k1" "$BANGER_HOME/images/i1"
	cp /bin/true "$BANGER_HOME/kernels/k1/vmlinux"
	truncate -s 64M "$BANGER_HOME/images/i1/rootfs.ext4"
	mkfs.ext4 -q -F "$BANGER_HOME/images/i1/rootfs.ext4"
	export VM_OPTS="--kernel k1 --image i1 --vmm firecracker --net $VM_NET"
}

vm_pid() { cut -d' ' -f1 "$BANGER_HOME/vms/$1/pid"; }

# shellcheck disable=SC2317 # called by the trap
# Kill every VMM the test left behind (only those recorded in its own store).
vm_cleanup() {
	local f
	for f in "$BANGER_HOME"/vms/*/pid; do
		[ -f "$f" ] && kill -9 "$(cut -d' ' -f1 "$f")" 2>/dev/null
	done
	rm -rf "$TMP"
}
trap vm_cleanup EXIT
