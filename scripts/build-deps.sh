#!/bin/bash
# build-deps.sh — banger's dependencies as static musl libraries, from Debian sources.
#
# Usage: scripts/build-deps.sh [PREFIX]        (default build/deps)
#
# Fetches the Debian source packages of BearSSL, zlib, zstd, xz (liblzma),
# lz4, libarchive, curl and cJSON with `apt-get source` and builds each with
# musl-gcc, keeping only what banger uses. (lz4: Debian's kernels are
# lz4-compressed; with liblz4 linked into libarchive, kernel import needs
# no lz4 program. Only its decoder ends up in banger: --gc-sections drops
# the rest.) The prefix is stamped with the source versions
# and this script's own hash: when both match, nothing is rebuilt.
# Needs deb-src entries (scripts/install-prereqs.sh adds them).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
prefix=$(realpath -m "${1:-build/deps}")
pkgs="bearssl zlib libzstd xz-utils lz4 libarchive curl cjson"
jobs=$(nproc)

die() { echo "build-deps: $*" >&2; exit 1; }
command -v musl-gcc >/dev/null || die "musl-gcc missing — run scripts/install-prereqs.sh"

# The cache key: exact source versions apt would fetch, plus how we build them.
key() {
	local p v
	for p in $pkgs; do
		v=$(apt-cache showsrc --only-source "$p" 2>/dev/null |
			awk '/^Version:/ { print $2 }' | sort -V | tail -1)
		[ -n "$v" ] || die "no source package '$p' — run scripts/install-prereqs.sh (deb-src)"
		echo "$p=$v"
	done
	cat "$here/build-deps.sh" "$here/curl-bearssl-ip-san.patch" | sha256sum | cut -d' ' -f1
}
# One build at a time per prefix; a second make waits, then finds it current.
mkdir -p "$(dirname "$prefix")"
exec 9>"$prefix.lock"
flock 9
want=$(key)
if [ -f "$prefix/.stamp" ] && [ "$(cat "$prefix/.stamp")" = "$want" ]; then
	touch "$prefix/.stamp" # newer than this script: make stops asking
	echo "build-deps: $prefix is current"
	exit 0
fi

# Build in a scratch prefix, then rename: an interrupted build never looks current.
work=$prefix.work
rm -rf "$work"
P=$work/prefix S=$work/src
mkdir -p "$P/include" "$P/lib/pkgconfig" "$P/kinc" "$S"

# musl-gcc searches only musl's headers; the kernel's come last via -idirafter.
for d in linux asm-generic mtd; do ln -sfn "/usr/include/$d" "$P/kinc/$d"; done
ln -sfn /usr/include/x86_64-linux-gnu/asm "$P/kinc/asm"

export CC=musl-gcc AR=ar RANLIB=ranlib
export CFLAGS="-Os -ffunction-sections -fdata-sections"
export CPPFLAGS="-I$P/include -idirafter $P/kinc"
export LDFLAGS="-L$P/lib"
export PKG_CONFIG_LIBDIR=$P/lib/pkgconfig
unset PKG_CONFIG_PATH

log=$work/log
mkdir -p "$log"
run() { # run NAME FUNC: quiet unless it fails
	local t0=$SECONDS
	# In the background, not under `if`: bash ignores `set -e` in conditions.
	(set -e; "$2") >"$log/$1.log" 2>&1 &
	if ! wait $!; then
		tail -30 "$log/$1.log" >&2
		die "$1 failed (full log: $log/$1.log)"
	fi
	printf 'build-deps: %-11s %3ds\n' "$1" $((SECONDS - t0))
}
srcdir() { find "$S" -maxdepth 1 -type d -name "$1-[0-9]*" | head -1; }

fetch() {
	cd "$S"
	local p v ok
	for p in $pkgs; do
		# Newest first; a mirror may list a security version it does not carry.
		ok=
		for v in $(apt-cache showsrc --only-source "$p" |
			awk '/^Version:/ { print $2 }' | sort -rV); do
			if apt-get source -q "$p=$v"; then
				ok=1
				echo "$p=$v" >>"$S/fetched"
				break
			fi
		done
		[ -n "$ok" ] || { echo "cannot fetch source of $p" >&2; return 1; }
	done
}

build_bearssl() {
	cd "$(srcdir bearssl)"
	make -j"$jobs" CONF=Unix CC="$CC" AR="$AR" CFLAGS="$CFLAGS" lib
	install -m644 build/libbearssl.a "$P/lib/"
	install -m644 inc/*.h "$P/include/"
}

build_zlib() {
	cd "$(srcdir zlib)"
	./configure --prefix="$P" --static
	make -j"$jobs" libz.a
	make install
}

build_zstd() {
	cd "$(srcdir libzstd)/lib"
	local v=(PREFIX="$P" ZSTD_LEGACY_SUPPORT=0 ZSTD_LIB_DEPRECATED=0
		ZSTD_LIB_DICTBUILDER=0) o
	# The encoder (packing only) is built without zstd's forced inlining,
	# which halves it; the decoder — the hot path of every pull — keeps it:
	# its objects come from a normal build (same ABI, only inlining differs).
	make -j"$jobs" "${v[@]}" libzstd.a
	mkdir -p inlined
	(cd inlined && ar x ../libzstd.a)
	make "${v[@]}" clean
	v+=(ZSTD_NO_INLINE=1)
	make -j"$jobs" "${v[@]}" libzstd.a libzstd.pc
	for o in huf_decompress zstd_ddict zstd_decompress zstd_decompress_block \
		fse_decompress entropy_common xxhash; do
		ar r libzstd.a "inlined/$o.o"
	done
	make "${v[@]}" install-static install-includes install-pc
}

build_xz() {
	cd "$(srcdir xz-utils)"
	./configure --prefix="$P" --disable-shared --disable-dependency-tracking \
		--disable-xz --disable-xzdec --disable-lzmadec --disable-lzmainfo \
		--disable-lzma-links --disable-scripts --disable-doc --disable-nls \
		--disable-threads
	make -j"$jobs" -C src/liblzma
	make -C src/liblzma install
}

build_lz4() {
	cd "$(srcdir lz4)/lib"
	make -j"$jobs" CC="$CC" AR="$AR" CFLAGS="$CFLAGS" liblz4.a
	install -m644 liblz4.a "$P/lib/"
	install -m644 lz4.h lz4hc.h lz4frame.h "$P/include/"
}

build_libarchive() {
	cd "$(srcdir libarchive)"
	# Debian's patches touch configure.ac: without --disable-maintainer-mode
	# automake reruns. zlib/zstd/lzma are probed via CPPFLAGS/LDFLAGS and are
	# silently dropped if those are wrong — hence the check below.
	./configure --prefix="$P" --disable-shared --disable-maintainer-mode \
		--disable-dependency-tracking --disable-bsdtar --disable-bsdcat \
		--disable-bsdcpio --disable-bsdunzip \
		--with-zlib --with-zstd --with-lzma --with-lz4 --without-bz2lib \
		--without-libb2 --without-iconv --without-lzo2 --without-cng \
		--without-mbedtls --without-nettle --without-openssl --without-xml2 \
		--without-expat --disable-acl
	for h in HAVE_ZLIB_H HAVE_ZSTD_H HAVE_LZMA_H HAVE_LZ4_H HAVE_LIBLZ4; do
		grep -q "^#define $h 1" config.h || die "libarchive: $h not detected"
	done
	make -j"$jobs"
	make install-libLTLIBRARIES install-includeHEADERS install-pkgconfigDATA
}

build_curl() {
	cd "$(srcdir curl)"
	# Debian applies the gnutls/nss library renames to the tree; undo them.
	patch -R -p1 <debian/patches/99_nss.patch
	patch -R -p1 <debian/patches/90_gnutls.patch
	# curl 7.88's BearSSL backend refuses to verify a host given as an IP
	# address; this teaches it to match the address against the
	# certificate's iPAddress subjectAltName (registries on 127.0.0.1 or
	# a LAN address). The chain is still verified by BearSSL as before.
	patch -p1 <"$here/curl-bearssl-ip-san.patch"
	./configure --prefix="$P" --disable-shared --disable-dependency-tracking \
		--with-bearssl="$P" --without-ca-bundle --without-ca-path \
		--without-ca-fallback --enable-http --enable-file --enable-unix-sockets \
		--disable-ftp --disable-ldap --disable-ldaps --disable-rtsp \
		--disable-dict --disable-telnet --disable-tftp --disable-pop3 \
		--disable-imap --disable-smtp --disable-gopher --disable-mqtt \
		--disable-smb --disable-manual --disable-ntlm --disable-ntlm-wb \
		--disable-tls-srp --disable-websockets --disable-cookies \
		--disable-mime --disable-doh --disable-netrc --disable-alt-svc \
		--disable-hsts --disable-dnsshuffle --disable-libcurl-option \
		--disable-get-easy-options --disable-progress-meter \
		--disable-kerberos-auth --disable-negotiate-auth --disable-aws \
		--without-libpsl --without-libidn2 --without-nghttp2 \
		--without-nghttp3 --without-ngtcp2 --without-brotli --without-zstd \
		--without-zlib --without-libssh2 --without-libssh --without-librtmp \
		--without-zsh-functions-dir --without-fish-functions-dir \
		--disable-versioned-symbols
	grep -q '^#define USE_BEARSSL 1' lib/curl_config.h || die "curl: no BearSSL"
	make -j"$jobs" -C lib
	make -C lib install
	make -C include install
	make install-pkgconfigDATA
}

build_cjson() {
	cd "$(srcdir cjson)"
	# shellcheck disable=SC2086 # flag lists split on purpose
	$CC $CPPFLAGS $CFLAGS -std=c89 -c cJSON.c -o cJSON.o
	$AR rcs libcjson.a cJSON.o
	install -d "$P/include/cjson"
	install -m644 cJSON.h "$P/include/cjson/"
	install -m644 libcjson.a "$P/lib/"
}

t0=$SECONDS
run sources fetch
for step in bearssl zlib zstd xz lz4 libarchive curl cjson; do run "$step" "build_$step"; done
rm -f "$P"/lib/*.la
for l in bearssl z zstd lzma lz4 archive curl cjson; do
	[ -s "$P/lib/lib$l.a" ] || die "lib$l.a missing"
done
echo "$want" >"$P/.stamp"
cp "$S/fetched" "$P/.sources"

# The kinc symlinks point at absolute host paths; the prefix path moves with
# the rename, so rewrite the .pc files to the final location.
sed -i "s#$P#$prefix#g" "$P"/lib/pkgconfig/*.pc
rm -rf "$prefix"
mv "$P" "$prefix"
rm -rf "$work"
echo "build-deps: done in $((SECONDS - t0))s → $prefix"
