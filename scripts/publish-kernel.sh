#!/bin/sh
# publish-kernel.sh — pack an installed kernel and upload it with its catalog.
#
# usage: scripts/publish-kernel.sh NAME [KERNEL_DIR]
#
# Packs KERNEL_DIR (default: BANGER_HOME/kernels/NAME, e.g. after
# kernel-import or make-generic-kernel.sh) with `banger kernel-pack`, adds
# the entry to the published catalog, and uploads with rclone (or any tool
# with rclone's `copyto SRC DST` form): the bundle first, the catalog last,
# so the published catalog never names a bundle that is not there yet.
#
# Environment:
#   PUBLISH_REMOTE  where to upload, in rclone syntax (e.g. r2:banger/kernels)
#   PUBLISH_URL     the public HTTPS URL of that place (catalog: $PUBLISH_URL/kernels.json)
#   RCLONE          the uploader (default: rclone)
#   BANGER          the banger binary (default: build/banger)
# Users then pull with BANGER_KERNEL_CATALOG=$PUBLISH_URL/kernels.json.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
banger=${BANGER:-$top/build/banger}
rclone=${RCLONE:-rclone}
[ $# -ge 1 ] || { echo "usage: $0 NAME [KERNEL_DIR]" >&2; exit 2; }
name=$1
: "${PUBLISH_REMOTE:?set PUBLISH_REMOTE to an rclone destination (remote:path)}"
: "${PUBLISH_URL:?set PUBLISH_URL to the public https:// URL of PUBLISH_REMOTE}"
case $PUBLISH_URL in
https://*) ;;
*) echo "publish-kernel: PUBLISH_URL must be https://" >&2; exit 2 ;;
esac
if [ $# -ge 2 ]; then
	dir=$2
else
	home=${BANGER_HOME:-}
	if [ -z "$home" ]; then
		if [ "$(id -u)" = 0 ]; then home=/var/lib/banger
		else home=${XDG_DATA_HOME:-$HOME/.local/share}/banger; fi
	fi
	dir=$home/kernels/$name
fi
[ -f "$dir/vmlinux" ] || { echo "publish-kernel: $dir has no vmlinux" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# The current catalog, if one is published (a first publish starts empty).
if ! curl -fsS -o "$tmp/kernels.json" "$PUBLISH_URL/kernels.json" 2>/dev/null; then
	rm -f "$tmp/kernels.json"
fi
(cd "$tmp" && "$banger" kernel-pack --catalog kernels.json "$dir" "$name") >"$tmp/out"
read -r sha size path <"$tmp/out"
file=$(basename "$path")
"$rclone" copyto "$tmp/$file" "$PUBLISH_REMOTE/$file"
"$rclone" copyto "$tmp/kernels.json" "$PUBLISH_REMOTE/kernels.json"
echo "published $name: $PUBLISH_URL/$file sha256 $sha size $size"
