#!/usr/bin/env bash
# Each program's option table (one table drives parsing, INI keys and --help) is kept sorted by
# name, so that --help reads alphabetically and a new option has one obvious place. Checks the
# options --help lists before the built-in --config, --help and --version.
#
#   help_sorted.sh PROGRAM...
set -euo pipefail
[ $# -gt 0 ] || { echo "usage: help_sorted.sh PROGRAM..." >&2; exit 2; }
for prog in "$@"; do
    names=$("$prog" --help | sed -n '/^  --config /q; s/^  --\([a-z0-9-]*\).*/\1/p')
    [ -n "$names" ] || { echo "FAIL: $(basename "$prog") --help lists no options" >&2; exit 1; }
    if ! out=$(LC_ALL=C sort -c <<<"$names" 2>&1); then
        echo "FAIL: $(basename "$prog")'s option table is not sorted: $out" >&2
        exit 1
    fi
done
echo "PASS: option tables sorted in $# programs"
