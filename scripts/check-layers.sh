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

# Numbered lines of a file with char and string literals and comments
# blanked (a block comment's inner lines start with '*').
code() {
	grep -n '' "$1" | sed -E \
		-e "s/'([^'\\\\]|\\\\.)'/''/g" \
		-e 's/"([^"\\]|\\.)*"/""/g' \
		-e 's:/\*.*\*/::g' -e 's://.*$::' -e 's:/\*.*$::' \
		-e 's/^([0-9]+:)[[:space:]]*\*.*$/\1/'
}

is_guest() {
	case $1 in
	applets/first-boot.c | applets/vsock-agent.c | lib/guest/* | lib/agent/server* | initramfs/*)
		return 0
		;;
	esac
	return 1
}

# report RULE FILE WHY: each "N:…" line on stdin is a violation of RULE
# in FILE, unless FILE is excepted from RULE.
report() {
	local rule=$1 f=$2 why=$3 hits n
	hits=$(cat)
	[ -n "$hits" ] || return 0
	excepted "$rule" "$f" && return 0
	while IFS= read -r n; do
		n=${n%%:*}
		echo "check-layers: $rule: $f:$n: $(sed -n "${n}p" "$f" | sed 's/^[[:space:]]*//') — $why" >&2
	done <<<"$hits"
	failed=1
}

# check RULE FILE REGEX WHY [only|skip "N N…"]: code lines matching REGEX
# (within, or outside, the lines given) are violations.
check() {
	local rule=$1 f=$2 re=$3 why=$4 mode=${5:-} lines=" ${6:-} "
	code "$f" | grep -E "^[0-9]+:.*$re" | while IFS= read -r hit; do
		case $mode in
		only) [[ "$lines" == *" ${hit%%:*} "* ]] || continue ;;
		skip) [[ "$lines" == *" ${hit%%:*} "* ]] && continue ;;
		esac
		echo "$hit"
	done | report "$rule" "$f" "$why"
}

shopt -s nullglob lastpipe
lib_files=(lib/*.[ch] lib/*/*.[ch])
all_files=("${lib_files[@]}" applets/*.[ch] initramfs/*.[ch])
applet_headers=()
for h in applets/*.h; do applet_headers+=("${h#applets/}"); done
xnames=$(grep -oE '\b(x[a-z_]+|die[a-z_]*)\(' applets/xfuncs.h 2>/dev/null | tr -d '(' | sort -u |
	paste -sd'|')
spawn='\b(fork|vfork|clone|clone3|execl|execlp|execle|execv|execve|execvp|execvpe|fexecve|posix_spawn|posix_spawnp|system|popen)[[:space:]]*\('

inc='^[0-9]+:[[:space:]]*#[[:space:]]*include[[:space:]]*"'
for f in "${lib_files[@]}"; do
	for h in "${applet_headers[@]}"; do
		grep -n '' "$f" | grep -E "$inc${h//./\\.}\"" |
			report lib-applet "$f" "lib/ knows no applet: return a struct err instead"
	done
	check lib-exit "$f" '\b(exit|abort|printf|fprintf|vprintf|vfprintf|dprintf|perror|puts|fputs|putchar)[[:space:]]*\(' \
		"lib/ never exits or prints: fill the caller's struct err"
done

for f in "${all_files[@]}"; do
	if is_guest "$f"; then
		grep -n '' "$f" | grep -E "${inc}xfuncs\\.h\"" |
			report guest-x "$f" "guest code must survive every error"
		[ -n "$xnames" ] && check guest-x "$f" "\\b($xnames)[[:space:]]*\\(" \
			"an x-helper exits; guest code must log and go on"
		continue
	fi
	[ "$f" = lib/proc.c ] && continue
	check proc "$f" "$spawn" "start processes through lib/proc (proc_run, proc_exec)"
done

for x in "${exceptions[@]}"; do
	read -r rule path _ <<<"$x"
	[[ "$used" == *" $rule:$path "* ]] ||
		echo "check-layers: note: the exception '$rule $path' is no longer needed — remove it" >&2
done
exit $failed
