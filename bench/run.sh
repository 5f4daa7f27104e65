#!/bin/bash
# run.sh — run every bench/*.sh; each prints its figures and ratio lines.
#
# usage: bench/run.sh BANGER [NAME...]
#
# Benchmarks compare banger with a named alternative measured in the same run
# and print "RATIO: NAME: X.XX× (banger A vs ALTERNATIVE B)", collected at the
# end. Nothing here asserts a time: these are measurements, not tests. Each
# script gets the binary as $1 and in $BANGER.
set -u
BANGER=$(realpath "${1:?usage: bench/run.sh BANGER [NAME...]}")
shift
export BANGER
here=$(cd "$(dirname "$0")" && pwd)
export TOP=${TOP:-$(cd "$here/.." && pwd)}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
rc=0
for b in "$here"/*.sh; do
	name=$(basename "$b" .sh)
	[ "$name" = run ] && continue
	if [ $# -gt 0 ] && ! [[ " $* " == *" $name "* ]]; then continue; fi
	echo "== $name"
	bash "$b" "$BANGER" 2>&1 | tee -a "$log"
	[ "${PIPESTATUS[0]}" -eq 0 ] || { echo "bench $name failed"; rc=1; }
done
echo "== ratios"
grep -i '^RATIO: ' "$log" || echo "(none)"
exit $rc
