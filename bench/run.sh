#!/bin/bash
# run.sh — run every bench/*.sh; each prints its figures and ratio lines.
#
# usage: bench/run.sh BANGER [NAME...]
#
# Benchmarks compare banger with a named alternative measured in the same run
# and print "ratio: NAME: X.XX× (banger A vs ALTERNATIVE B)". Nothing here
# asserts a time: these are measurements, not tests.
set -u
BANGER=$(realpath "$1")
shift
export BANGER
here=$(cd "$(dirname "$0")" && pwd)
export TOP=${TOP:-$(cd "$here/.." && pwd)}
rc=0
for b in "$here"/*.sh; do
	name=$(basename "$b" .sh)
	[ "$name" = run ] && continue
	if [ $# -gt 0 ] && ! [[ " $* " == *" $name "* ]]; then continue; fi
	echo "== $name"
	bash "$b" || { echo "bench $name failed (exit $?)"; rc=1; }
done
exit $rc
