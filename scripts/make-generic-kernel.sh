#!/bin/sh
# make-generic-kernel.sh — build banger's Firecracker-ready guest kernel from
# Debian's linux-source package and pack it as a kernel bundle.
#
# usage: scripts/make-generic-kernel.sh [-o OUTDIR] [-n NAME] [-j JOBS]
#                                       [--catalog FILE]
#
# Steps: `apt-get download linux-source-6.1` (no root needed, nothing
# installed), unpack, `make allnoconfig` with the project's fragment
# config/kernel/firecracker-x86_64.config (KCONFIG_ALLCONFIG), check that
# every option of the fragment survived, `make vmlinux`, then
# `banger kernel-pack` → OUTDIR/NAME-x86_64.tar.zst (and its catalog entry
# with --catalog). Prints the time of each step and the sizes.
# Defaults: OUTDIR build/kernel, NAME generic-6.1, JOBS $(nproc).
# Needs: gcc make bc bison flex libelf-dev xz-utils, and a built banger
# (make). Environment: LINUX_SOURCE (package, default linux-source-6.1),
# BANGER (binary, default build/banger). Not part of `make test` (it takes
# tens of minutes on two cores).
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
out=$top/build/kernel
name=generic-6.1
jobs=$(nproc)
catalog=
banger=${BANGER:-$top/build/banger}
pkg=${LINUX_SOURCE:-linux-source-6.1}
frag=$top/config/kernel/firecracker-x86_64.config
work=$top/build/kernel-work

while [ $# -gt 0 ]; do
	case $1 in
	-o) out=$2; shift 2 ;;
	-n) name=$2; shift 2 ;;
	-j) jobs=$2; shift 2 ;;
	--catalog) catalog=$2; shift 2 ;;
	*) echo "usage: $0 [-o OUTDIR] [-n NAME] [-j JOBS] [--catalog FILE]" >&2; exit 2 ;;
	esac
done
mkdir -p "$out"
out=$(cd "$out" && pwd)
[ -z "$catalog" ] || catalog=$(cd "$(dirname "$catalog")" && pwd)/$(basename "$catalog")
for t in gcc make bc bison flex xz apt-get dpkg-deb; do
	command -v "$t" >/dev/null || { echo "make-generic-kernel: needs $t" >&2; exit 1; }
done
[ -x "$banger" ] || { echo "make-generic-kernel: no $banger — run make first" >&2; exit 1; }
[ -f /usr/include/libelf.h ] || { echo "make-generic-kernel: needs libelf-dev (objtool)" >&2; exit 1; }

now() { date +%s; }
step() { echo "make-generic-kernel: $1 ($(($(now) - t0)) s)"; }
t0=$(now)
mkdir -p "$work" "$out"
cd "$work"
if ! ls "$pkg"_*.deb >/dev/null 2>&1; then
	apt-get download -q "$pkg" >/dev/null
fi
deb=$(ls "$pkg"_*.deb)
step "source: $deb ($(du -h "$deb" | cut -f1))"
if [ ! -d src ]; then
	rm -rf root src.tmp
	dpkg-deb -x "$deb" root
	mkdir src.tmp
	tar -xf root/usr/src/linux-source-*.tar.xz -C src.tmp --strip-components=1
	mv src.tmp src
	rm -rf root
fi
step "unpacked"
cd src
make -s allnoconfig KCONFIG_ALLCONFIG="$frag" >/dev/null
# Kconfig drops options whose dependencies are unmet, silently: catch it.
missing=$(grep -E '^CONFIG_[A-Z0-9_]+=' "$frag" | while IFS= read -r line; do
	case $line in
	*=n) opt=${line%=n}; grep -q "^$opt=" .config && echo "$line" ;;
	*) grep -qxF "$line" .config || echo "$line" ;;
	esac
done)
if [ -n "$missing" ]; then
	echo "make-generic-kernel: the fragment's options did not all survive Kconfig:" >&2
	echo "$missing" >&2
	exit 1
fi
step "configured ($(grep -c '=y$' .config) options built in)"
# Reproducible: the build's date, user and host come from the source
# package, not from this machine (with kernel-pack's determinism, the same
# inputs give the same bundle digest).
KBUILD_BUILD_TIMESTAMP=$(date -u -d "@$(stat -c %Y Makefile)" '+%Y-%m-%d')
export KBUILD_BUILD_TIMESTAMP KBUILD_BUILD_USER=banger KBUILD_BUILD_HOST=banger
nice make -s -j"$jobs" vmlinux
ver=$(make -s kernelrelease)
step "built vmlinux $ver ($(du -h vmlinux | cut -f1))"

kdir=$work/pack
rm -rf "$kdir"
mkdir -p "$kdir"
cp vmlinux "$kdir/vmlinux"
printf '{"kernel_version": "%s", "distro": "generic", "arch": "x86_64"}\n' "$ver" >"$kdir/manifest.json"
set -- -o "$out"
[ -n "$catalog" ] && set -- "$@" --catalog "$catalog"
"$banger" kernel-pack "$@" "$kdir" "$name"
step "packed $out/$name-x86_64.tar.zst ($(du -h "$out/$name-x86_64.tar.zst" | cut -f1))"
