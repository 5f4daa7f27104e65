#!/bin/sh
# check-banned.sh — fail on functions the house style bans (docs/architecture.md).
set -eu
pat='\<(sprintf|vsprintf|strcpy|strcat|strtok|atoi|atol|gets|system|popen|alloca)[[:space:]]*\('
if grep -nE "$pat" "$@" | grep -v '^\S*:[0-9]*:\s*/\?\*'; then
	echo "check-banned: banned function above (use snprintf, parse_u64, proc_run…)" >&2
	exit 1
fi
