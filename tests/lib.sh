# lib.sh — helpers for tests/*.test (sourced). Modelled on toybox's testing().
#
# BANGER is the binary under test (default build/banger); each test file is
# runnable alone: `bash tests/banger.test`.
# shellcheck shell=bash

TOP=${TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
BANGER=${BANGER:-$TOP/build/banger}
SUITE=$(basename "$0" .test)
_failed=0

# A scratch dir, removed at exit.
TMP=$(mktemp -d "${TMPDIR:-/tmp}/banger-test-XXXXXX")
# Never the real store: a test that forgets to pick one writes here.
export BANGER_HOME=$TMP/home
trap 'rm -rf "$TMP"' EXIT

pass() { echo "PASS: $SUITE: $1"; }
fail() {
	echo "FAIL: $SUITE: $1"
	shift
	[ $# -gt 0 ] && printf '  %s\n' "$@"
	_failed=1
}
skip() { echo "SKIP: $SUITE: $1 ($2)"; }

# testing NAME COMMAND EXPECTED_OUTPUT [EXPECTED_RC]
# Runs COMMAND with bash -c; compares stdout (and the exit code, default 0).
testing() {
	local name=$1 cmd=$2 want=$3 want_rc=${4:-0} got rc
	got=$(bash -c "$cmd" 2>"$TMP/stderr")
	rc=$?
	if [ "$got" == "$want" ] && [ "$rc" == "$want_rc" ]; then
		pass "$name"
	else
		fail "$name" "command: $cmd" "want rc $want_rc: $(printf %q "$want")" \
			"got  rc $rc: $(printf %q "$got")" "stderr: $(head -c 500 "$TMP/stderr")"
	fi
}

# testing_err NAME COMMAND STDERR_REGEX EXPECTED_RC: for failures, checks the
# one-line message on stderr and the exit code.
testing_err() {
	local name=$1 cmd=$2 re=$3 want_rc=$4 err rc
	bash -c "$cmd" >/dev/null 2>"$TMP/stderr"
	rc=$?
	err=$(cat "$TMP/stderr")
	if [ "$rc" == "$want_rc" ] && [[ "$err" =~ $re ]]; then
		pass "$name"
	else
		fail "$name" "command: $cmd" "want rc $want_rc, stderr =~ $re" \
			"got  rc $rc, stderr: $(printf %q "$err")"
	fi
}

# need CMD...: true when every command exists; else prints a skip line.
need() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || { skip "$SUITE" "needs $c"; return 1; }
	done
}

done_testing() { exit "$_failed"; }

# need_user: true when a non-root user (TEST_USER, default tester) can run
# tests, with a home of its own at $UHOME (inside $TMP); else a skip line.
# as_user CMD...: runs CMD as that user, in that home, with no BANGER_HOME.
need_user() {
	TEST_USER=${TEST_USER:-tester}
	if [ "$(id -u)" != 0 ] || ! id -u "$TEST_USER" >/dev/null 2>&1; then
		skip "$SUITE" "needs root and a user '$TEST_USER' (useradd -m $TEST_USER)"
		return 1
	fi
	UHOME=$TMP/user
	mkdir -p "$UHOME"
	chmod 711 "$TMP"
	chown "$TEST_USER:" "$UHOME"
	export TEST_USER UHOME
	export -f as_user
}
# shellcheck disable=SC2317 # called from testing's bash -c too
as_user() {
	runuser -u "$TEST_USER" -- env -u BANGER_HOME -u XDG_DATA_HOME HOME="$UHOME" "$@"
}
