# layerlib.sh — a VM whose overlay layer is made by hand, for vm-diff.test and
# vm-commit.test (sourced after lib.sh and vmlib.sh, as root).
#
# layer_vm NAME: image "lbase" (mke2fs -d of $TMP/lbase, imported, its
#   manifest given a run config) and VM NAME made of it (the Firecracker
#   stand-in: created, never booted), whose upper.ext4 is then replaced by
#   mke2fs -d of $TMP/lupper: upper/ and work/ as overlayfs (index, metacopy
#   and redirect_dir off) leaves them — whiteouts are character devices 0:0,
#   opaque directories carry trusted.overlay.opaque=y, and some entries the
#   overlay's own xattrs (origin, impure), which a commit drops. What the
#   layer holds against the image:
#     /etc/passwd      rewritten (and a user.mine xattr)     C
#     /etc/new.conf    new                                   A
#     /etc/gone        whiteout                              D
#     /etc/never       whiteout of what the image lacks      (nothing)
#     /opt             opaque: a, b, sub/ hidden; new-file    C, D D D, A
#     /opt2            opaque: a again, b hidden              C, C, D
#     /var/lib/old     whiteout of a directory (with files)  D (one line)
#     /newdir          new: hard links h1 h2, symlink, char device, FIFO,
#                      a 10 MiB sparse file                  A each
#     /file-to-dir     a file in the image, a directory here  C, A child
#     /dir-to-file     a directory in the image, a file here C
#     /hl/two          one name of a 3-link inode, copied up C (/hl/one and
#                      /hl/three stay linked to each other)
# need_layer: true as root (mknod, trusted.* xattrs); else a skip line.
# shellcheck shell=bash

need_layer() {
	if [ "$(id -u)" != 0 ]; then
		skip "$SUITE" "needs root to make whiteouts and trusted.* xattrs"
		return 1
	fi
	need mke2fs python3
}

# setx PATH NAME VALUE: an xattr (python: setfattr is not always there).
setx() {
	python3 -c 'import os, sys; os.setxattr(sys.argv[1], sys.argv[2], sys.argv[3].encode())' "$@"
}

layer_vm() {
	local vm=$1 b=$TMP/lbase u=$TMP/lupper
	rm -rf "$b" "$u"
	mkdir -p "$b"/etc "$b"/opt/sub "$b"/opt2 "$b"/var/lib/old/deep "$b"/dir-to-file/x "$b"/hl
	echo root >"$b/etc/passwd"
	echo keep >"$b/etc/keep"
	echo gone >"$b/etc/gone"
	echo a >"$b/opt/a"
	echo b >"$b/opt/b"
	echo x >"$b/opt/sub/x"
	echo a >"$b/opt2/a"
	echo b >"$b/opt2/b"
	echo old >"$b/var/lib/old/deep/f"
	echo stay >"$b/var/lib/stay"
	echo f >"$b/file-to-dir"
	echo y >"$b/dir-to-file/x/y"
	echo h >"$b/hl/one"
	ln "$b/hl/one" "$b/hl/two"
	ln "$b/hl/one" "$b/hl/three"
	setx "$b/etc/keep" user.base kept

	mkdir -p "$u"/upper/etc "$u"/upper/opt "$u"/upper/opt2 "$u"/upper/newdir "$u"/upper/var/lib \
		"$u"/upper/file-to-dir "$u"/upper/hl "$u"/work/work
	echo ROOT >"$u/upper/etc/passwd"
	echo new >"$u/upper/etc/new.conf"
	mknod "$u/upper/etc/gone" c 0 0
	mknod "$u/upper/etc/never" c 0 0
	echo n >"$u/upper/opt/new-file"
	echo A >"$u/upper/opt2/a"
	echo f >"$u/upper/newdir/h1"
	ln "$u/upper/newdir/h1" "$u/upper/newdir/h2"
	ln -s /etc/keep "$u/upper/newdir/sym"
	mknod "$u/upper/newdir/null" c 1 3
	mkfifo "$u/upper/newdir/fifo"
	truncate -s 10M "$u/upper/newdir/sparse"
	echo end >>"$u/upper/newdir/sparse"
	mknod "$u/upper/var/lib/old" c 0 0
	echo c >"$u/upper/file-to-dir/child"
	echo now-a-file >"$u/upper/dir-to-file"
	echo H >"$u/upper/hl/two"
	setx "$u/upper/opt" trusted.overlay.opaque y
	setx "$u/upper/opt2" trusted.overlay.opaque y
	setx "$u/upper/etc/passwd" trusted.overlay.origin origin
	setx "$u/upper/etc" trusted.overlay.impure y
	setx "$u/upper/etc/passwd" user.mine 1

	mke2fs -q -F -t ext4 -E root_owner=0:0 -d "$b" "$TMP/lbase.ext4" 32M >/dev/null 2>&1 &&
		mke2fs -q -F -t ext4 -E root_owner=0:0 -d "$u" "$TMP/lupper.ext4" 32M >/dev/null 2>&1 ||
		return 1
	if [ ! -d "$BANGER_HOME/images/lbase" ]; then
		"$BANGER" -q image import lbase "$TMP/lbase.ext4" >/dev/null || return 1
		python3 - "$BANGER_HOME/images/lbase/manifest.json" <<-'EOF' || return 1
			import json, sys
			m = json.load(open(sys.argv[1]))
			m["config"] = {"Env": ["PATH=/bin", "MODE=layer"], "Cmd": ["/bin/sh", "-c", "cat /etc/passwd"],
			               "WorkingDir": "/opt"}
			json.dump(m, open(sys.argv[1], "w"))
		EOF
	fi
	"$BANGER" -q vm create --name "$vm" --kernel k1 --image lbase --vmm firecracker --net none \
		>/dev/null || return 1
	cp "$TMP/lupper.ext4" "$BANGER_HOME/vms/$vm/upper.ext4"
}

# The diff layer_vm's layer gives.
# shellcheck disable=SC2034 # used by the files that source this
LAYER_DIFF='C /dir-to-file
C /etc
D /etc/gone
A /etc/new.conf
C /etc/passwd
C /file-to-dir
A /file-to-dir/child
C /hl
C /hl/two
A /newdir
A /newdir/fifo
A /newdir/h1
A /newdir/h2
A /newdir/null
A /newdir/sparse
A /newdir/sym
C /opt
D /opt/a
D /opt/b
A /opt/new-file
D /opt/sub
C /opt2
C /opt2/a
D /opt2/b
C /var
C /var/lib
D /var/lib/old'
