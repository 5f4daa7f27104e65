#!/bin/bash
# check-layers.sh — the layering rules of docs/architecture.md, checked.
#
# usage: scripts/check-layers.sh [ROOT]   (ROOT: the tree; default this one)
#
#  lib-applet  lib/ includes no header of applets/ (applet.h, applets.h,
#              xfuncs.h): lib knows no applet and has no die-on-failure path.
#  lib-exit    lib/ never exits and never prints: no exit, abort, printf
#              family, perror or puts (messages go through lib/log, the bar
#              through lib/progress; _exit is a forked child's, see proc).
#  guest-x     guest code uses no x-helper (nor includes xfuncs.h): PID 1
#              and the agent must survive every error.
#  proc        on the host side only lib/proc.c starts processes: no fork,
#              vfork, clone, exec*, posix_spawn*, system or popen elsewhere.
#              Guest code is exempt: PID 1 and the agent own their children
#              in their signalfd loops (spawn without waiting, reap any pid,
#              restart services, ptys, setuid) and the /init execs the real
#              init in place of itself; a run-and-wait helper fits none of it.
#
# Guest code: applets/first-boot.c, applets/vsock-agent.c, lib/guest/,
# lib/agent/server*, and initramfs/ (its /init, initramfs/init.c).
#
# Comments and string literals are not code: they are blanked before the
# patterns are applied. Exit 1 and one line per violation when a rule fails.
set -u
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$root" || exit 2

# Exceptions: "RULE PATH — why". Only for code that another change removes;
# an exception that no longer matches anything is reported (not fatal) so
# it is deleted.
exceptions=(
)

failed=0
used=" "

# True (and the exception marked as needed) when RULE PATH is excepted.
excepted() {
	local x
	for x in "${exceptions[@]}"; do
		case $x in "$1 $2 "*)
			used="$used$1:$2 "
			return 0
			;;
		esac
	done
	return 1
}

# "FILE:N:code" for every line of the files, with char and string literals
# and comments blanked (a block comment's inner lines start with '*').
code() {
	grep -Hn '' "$@" | sed -E \
		-e "s/'([^'\\\\]|\\\\.)'/''/g" \
		-e 's/"([^"\\]|\\.)*"/""/g' \
		-e 's:/\*.*\*/::g' -e 's://.*$::' -e 's:/\*.*$::' \
		-e 's/^([^:]+:[0-9]+:)[[:space:]]*\*.*$/\1/'
}

# guest FILE: true for code that runs in the guest.
guest() {
	case $1 in
	applets/first-boot.c | applets/vsock-agent.c | lib/guest/* | lib/agent/server* | initramfs/*)
		return 0
		;;
	*) return 1 ;;
	esac
}

# rule RULE WHY WHERE: each "FILE:N:…" line on stdin is a violation of RULE
# when WHERE (guest, host or lib) holds for it and FILE is not excepted.
rule() {
	local name=$1 why=$2 where=$3 f n rest
	while IFS=: read -r f n rest; do
		case $where in
		guest) guest "$f" || continue ;;
		host) guest "$f" && continue ;;
		esac
		[ "$name" = proc ] && [ "$f" = lib/proc.c ] && continue
		excepted "$name" "$f" && continue
		echo "check-layers: $name: $f:$n: $(sed -n "${n}p" "$f" | sed 's/^[[:space:]]*//') — $why" >&2
		failed=1
	done
}

shopt -s nullglob lastpipe
lib_files=(lib/*.[ch] lib/*/*.[ch])
all_files=("${lib_files[@]}" applets/*.[ch] initramfs/*.[ch])
applet_headers=$(cd applets && printf '%s\n' *.h | sed 's/\./\\./g' | paste -sd'|')
xnames=$(grep -oE '\b(x[a-z_]+|die[a-z_]*)\(' applets/xfuncs.h 2>/dev/null | tr -d '(' | sort -u |
	paste -sd'|')
inc='^[^:]+:[0-9]+:[[:space:]]*#[[:space:]]*include[[:space:]]*"'
spawn='\b(fork|vfork|clone|clone3|execl|execlp|execle|execv|execve|execvp|execvpe|fexecve|posix_spawn|posix_spawnp|system|popen)[[:space:]]*\('
prints='\b(exit|abort|printf|fprintf|vprintf|vfprintf|dprintf|perror|puts|fputs|putchar)[[:space:]]*\('

code "${all_files[@]}" >"${TMPDIR:-/tmp}/check-layers.$$"
trap 'rm -f "${TMPDIR:-/tmp}/check-layers.$$"' EXIT
all=${TMPDIR:-/tmp}/check-layers.$$

[ -n "$applet_headers" ] && grep -Hn '' "${lib_files[@]}" | grep -E "$inc($applet_headers)\"" |
	rule lib-applet "lib/ knows no applet: return a struct err instead" any
grep -E '^lib/[^:]*:[0-9]+:.*'"$prints" "$all" |
	rule lib-exit "lib/ never exits or prints: fill the caller's struct err" any
grep -Hn '' "${all_files[@]}" | grep -E "${inc}xfuncs\\.h\"" |
	rule guest-x "guest code must survive every error" guest
[ -n "$xnames" ] && grep -E "^[^:]+:[0-9]+:.*\\b($xnames)[[:space:]]*\\(" "$all" |
	rule guest-x "an x-helper exits; guest code must log and go on" guest
grep -E "^[^:]+:[0-9]+:.*$spawn" "$all" |
	rule proc "start processes through lib/proc (proc_run, proc_exec)" host

for x in "${exceptions[@]}"; do
	read -r name path _ <<<"$x"
	[[ "$used" == *" $name:$path "* ]] ||
		echo "check-layers: note: the exception '$name $path' is no longer needed — remove it" >&2
done
exit $failed
