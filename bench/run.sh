#!/bin/bash
# run.sh — run every bench/*.sh with the banger binary under test; each
# prints its measurements and one "RATIO: name: …" line, collected at the end.
#
# usage: bench/run.sh BANGER
set -u
banger=$(realpath "${1:?usage: bench/run.sh BANGER}")
here=$(cd "$(dirname "$0")" && pwd)
log=$(mktemp)
trap 'rm -f "$log"' EXIT
rc=0
for b in "$here"/*.sh; do
	[ "$(basename "$b")" = run.sh ] && continue
	echo "== $(basename "$b" .sh)"
	bash "$b" "$banger" 2>&1 | tee -a "$log" || rc=1
done
echo "== ratios"
grep '^RATIO: ' "$log" || echo "(none)"
exit $rc
