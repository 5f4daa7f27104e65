#!/bin/sh
# size.sh — stripped size of banger and what each library contributes.
#
# usage: scripts/size.sh BINARY LINKMAP
#
# Sums the sizes of the input sections the linker kept (from -Wl,-Map), by
# the archive they came from: our objects, each dependency, and musl.
set -eu
bin=$1 map=$2
if [ ! -f "$bin" ] || [ ! -f "$map" ]; then
	echo "size: build first (make)" >&2
	exit 1
fi

printf 'build/banger stripped: %d bytes (%d KiB; budget 1280 KiB)\n' \
	"$(stat -c %s "$bin")" $(( $(stat -c %s "$bin") / 1024 ))
# Kept sections start at "Linker script and memory map"; a long section name
# puts address, size and file on the next line.
awk '
function hex(h,   i, v, c) {
	v = 0
	h = tolower(substr(h, 3))
	for (i = 1; i <= length(h); i++)
		v = v * 16 + index("0123456789abcdef", substr(h, i, 1)) - 1
	return v
}
/^Linker script and memory map/ { on = 1; next }
!on { next }
/^\/DISCARD\// { exit }
/^ \.[a-zA-Z_.]/ && NF == 1 { pending = 1; sec = $1; next }
{
	if (!pending) sec = $1
	if (pending) { addr = $1; size = $2; file = $3; pending = 0 }
	else if ($1 ~ /^\./ && NF >= 4 && $2 ~ /^0x/) { addr = $2; size = $3; file = $4 }
	else next
	if (file == "" || size !~ /^0x/) next
	if (sec ~ /^\.t?bss/ || sec ~ /^COMMON/) next # not in the file
	s = hex(size)
	if (s == 0) next
	n = split(file, parts, "/")
	name = parts[n]
	if (name ~ /\.a\(/) { sub(/\(.*/, "", name) }
	else if (file ~ /musl/) name = "musl (crt)"
	else name = "banger objects"
	if (file ~ /musl/ && name ~ /libc\.a/) name = "musl libc.a"
	if (name == "libbanger.a") name = "banger lib/"
	tot[name] += s
	all += s
}
END {
	for (k in tot) printf "  %8d bytes %5.1f%%  %s\n", tot[k], 100 * tot[k] / all, k
}' "$map" | sort -n -r
