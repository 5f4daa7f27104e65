#!/bin/bash
# run.sh — run unit test binaries and tests/*.test files; print the totals.
#
# usage: tests/run.sh [--unit-only] BUILD_DIR UNIT_BIN...
#
# Every test prints lines "PASS: name", "FAIL: name" or "SKIP: name (why)".
# The last line is "N passed, N failed, N skipped"; exit 1 if anything failed.
# TESTS="a b" limits the shell tests to tests/a.test tests/b.test.
set -u
unit_only=
if [ "${1:-}" = --unit-only ]; then unit_only=1; shift; fi
build=$(cd "$1" && pwd)
shift
top=$(cd "$(dirname "$0")/.." && pwd)
log=$build/test-logs
rm -rf "$log"
mkdir -p "$log"

results=$log/results
: >"$results"

# run_one NAME CMD...: output to a log, result lines echoed and collected.
run_one() {
	local name=$1 rc
	shift
	"$@" >"$log/$name.log" 2>&1
	rc=$?
	grep -E '^(PASS|FAIL|SKIP): ' "$log/$name.log" | tee -a "$results"
	# A test that died without reporting is a failure too.
	if [ $rc -ne 0 ] && ! grep -q '^FAIL: ' "$log/$name.log"; then
		echo "FAIL: $name (exit $rc, see $log/$name.log)" | tee -a "$results"
	fi
	if grep -q '^FAIL: ' "$log/$name.log"; then
		sed -n '/^FAIL\|^  /p' "$log/$name.log" | head -20 | sed 's/^/    /'
	fi
}

for bin in "$@"; do
	run_one "unit-$(basename "$bin")" "$bin"
done

if [ -z "$unit_only" ]; then
	export BANGER="$build/banger" TOP="$top"
	for t in "$top"/tests/*.test; do
		name=$(basename "$t" .test)
		if [ -n "${TESTS:-}" ] && ! [[ " $TESTS " == *" $name "* ]]; then
			continue
		fi
		run_one "$name" bash "$t"
	done
fi

p=$(grep -c '^PASS: ' "$results")
f=$(grep -c '^FAIL: ' "$results")
s=$(grep -c '^SKIP: ' "$results")
echo "$p passed, $f failed, $s skipped"
[ "$f" -eq 0 ]
