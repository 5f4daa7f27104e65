#!/bin/sh
# install-prereqs.sh — make a fresh Debian 12 machine able to build and test banger.
#
# Adds deb-src entries mirroring every enabled deb entry (apt-get source needs them,
# including the security suite so patched sources are used), then installs the build
# and test tools. Idempotent: a second run only re-checks.
set -eu

if [ "$(id -u)" != 0 ]; then
	exec sudo "$0" "$@"
fi
export DEBIAN_FRONTEND=noninteractive

src=/etc/apt/sources.list.d/banger-deb-src.sources
if [ ! -f "$src" ]; then
	tmp=$src.tmp
	: >"$tmp"
	# deb822 files: copy each "Types: deb" stanza as deb-src.
	for f in /etc/apt/sources.list.d/*.sources; do
		if [ ! -f "$f" ] || [ "$f" = "$src" ]; then continue; fi
		awk 'BEGIN { RS = ""; ORS = "\n\n" }
		     /(^|\n)Types:[ \t]*deb[ \t]*(\n|$)/ {
			sub(/Types:[ \t]*deb/, "Types: deb-src"); print }' "$f" >>"$tmp"
	done
	# one-line sources.list
	if [ -f /etc/apt/sources.list ]; then
		sed -n 's/^[ \t]*deb[ \t]\+\(.*\)$/deb-src \1/p' /etc/apt/sources.list >"$src.list.tmp"
		if [ -s "$src.list.tmp" ]; then
			mv "$src.list.tmp" /etc/apt/sources.list.d/banger-deb-src.list
		else
			rm -f "$src.list.tmp"
		fi
	fi
	mv "$tmp" "$src"
	apt-get update -qq
fi

# Build: musl toolchain, deps' build needs. Lint: clang-format cppcheck shellcheck.
# check-asan: Debian's -dev builds of the same libraries (sanitizers need glibc).
# make fuzz: clang with libFuzzer and the sanitizer runtimes (libclang-rt-14-dev),
# llvm for llvm-symbolizer (readable stacks in findings).
# Tests: real registry, image tools, ext4 tools (e2fsck, debugfs: checking the
# images banger writes; banger itself runs neither), QEMU, busybox, HTTPS via
# openssl. lz4: tests make lz4 kernels (banger decodes them with liblz4).
# Tests (vm): netns networking (iproute2, nftables, iptables), the Firecracker API spec check (python3-yaml).
# Bench: XFS with reflink for the per-VM disk benchmark (xfsprogs).
apt-get install -y -qq --no-install-recommends \
	musl-tools musl-dev linux-libc-dev gcc make dpkg-dev patch xz-utils bzip2 \
	pkg-config file binutils ca-certificates \
	clang-format cppcheck shellcheck clang libclang-rt-14-dev llvm \
	libbearssl-dev libcjson-dev libarchive-dev libcurl4-openssl-dev libzstd-dev \
	liblzma-dev zlib1g-dev \
	e2fsprogs zstd lz4 openssl python3 cpio curl \
	docker-registry skopeo umoci apache2-utils \
	qemu-system-x86 busybox-static debootstrap iproute2 nftables iptables python3-yaml xfsprogs kmod \
	>/dev/null

# Bench (bench/agent.sh): a private sshd on loopback, the baseline the agent's
# exec round trip is compared with. Installing it starts no service here.
apt-get install -y -qq --no-install-recommends openssh-server openssh-client >/dev/null
