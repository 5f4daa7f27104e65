#!/bin/sh
# fuzz-run.sh — fuzz each target for a while (make fuzz-run SECONDS=N).
#
# usage: scripts/fuzz-run.sh FUZZ_DIR SECONDS NAME...
#
# Each target starts from its seeds (tests/fuzz/NAME/, read only) and keeps
# what it learns in FUZZ_DIR/corpus/NAME/; a finding is written to
# FUZZ_DIR/crash/NAME/. One line a target; exit 1 if any target found
# something. Inputs are capped per target (tar layers and kernels need room).
set -u
dir=$1
secs=$2
shift 2
top=$(cd "$(dirname "$0")/.." && pwd)
failed=0
sym=$(command -v llvm-symbolizer || true)
for name in "$@"; do
	case $name in
	layer | vmlinux | kmod | pgp) max=65536 ;;
	catalog | oci | deb) max=16384 ;;
	*) max=8192 ;;
	esac
	mkdir -p "$dir/corpus/$name" "$dir/crash/$name"
	log=$dir/crash/$name.log
	# Scratch files of targets (layer roots, module trees) go to /tmp;
	# external decompressors are not run (no PATH): they are not banger's.
	ASAN_SYMBOLIZER_PATH=$sym PATH='' "$dir/fuzz-$name" -max_total_time="$secs" -max_len="$max" -timeout=20 \
		-rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$dir/crash/$name/" \
		"$dir/corpus/$name" "$top/tests/fuzz/$name" >"$log" 2>&1
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	if [ $rc -eq 0 ]; then
		echo "fuzz $name: ${runs:-?} runs in ${secs}s, no finding"
	else
		failed=1
		echo "fuzz $name: FINDING (exit $rc) — $(find "$dir/crash/$name" -type f | head -1), see $log"
	fi
done
exit $failed
