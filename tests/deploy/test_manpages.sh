#!/usr/bin/env bash
# Man pages and bash completion say what --help says: for every installed program, the options
# listed by --help, by its generated man page and by its generated completion are the same set;
# the built files are what the program prints now (nothing stale); the man page renders without
# a groff warning; and the completion, sourced into bash, completes a flag prefix and the
# argument of a FILE flag.
#
#   test_manpages.sh --gen DIR PROGRAM...     (DIR: the build's man/ and completions/ parent)
set -euo pipefail
gen=""
[ "${1:-}" = --gen ] && { gen=$2; shift 2; }
[ -n "$gen" ] && [ $# -gt 0 ] || { echo "usage: test_manpages.sh --gen DIR PROGRAM..." >&2; exit 2; }
fail() { echo "FAIL [deploy_manpages]: $*" >&2; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cdof-man.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
export ASAN_OPTIONS=detect_leaks=0

for prog in "$@"; do
    name=$(basename "$prog")
    help=$("$prog" --help | sed -n 's/^  --\([a-z0-9-]*\).*/\1/p' | LC_ALL=C sort)
    [ -n "$help" ] || fail "$name --help lists no options"
    "$prog" --help=man >"$tmp/$name.1"
    "$prog" --help=bash >"$tmp/$name.bash"
    cmp -s "$tmp/$name.1" "$gen/man/$name.1" || fail "$gen/man/$name.1 is stale: rebuild"
    cmp -s "$tmp/$name.bash" "$gen/completions/$name" || fail "$gen/completions/$name is stale"

    man=$(sed -n 's/^\.B \\-\\-\([a-z0-9\\-]*\).*/\1/p' "$tmp/$name.1" | sed 's/\\-/-/g' |
        LC_ALL=C sort)
    [ "$man" = "$help" ] || fail "$name: man page options differ from --help:
$(diff <(echo "$help") <(echo "$man"))"
    comp=$(grep -o 'compgen -W "--[^"]*"' "$tmp/$name.bash" | sed 's/compgen -W "//; s/"$//' |
        tr ' ' '\n' | sed 's/^--//' | LC_ALL=C sort)
    [ "$comp" = "$help" ] || fail "$name: completion options differ from --help:
$(diff <(echo "$help") <(echo "$comp"))"
    grep -q "^\.TH ${name^^} 1 " "$tmp/$name.1" || fail "$name.1 has no .TH line"

    # Rendered as man(1) would, with every groff warning on: none may appear.
    if command -v groff >/dev/null; then
        warn=$(LC_ALL=C.UTF-8 MANWIDTH=80 groff -man -Tutf8 -ww -z "$tmp/$name.1" 2>&1 || true)
        [ -z "$warn" ] || fail "$name.1: groff warns: $warn"
    fi

    # The completion in a real bash: "--c" completes to --config (and anything else starting so),
    # and after --config a file in the current directory is offered.
    bash -n "$tmp/$name.bash" || fail "$name completion is not valid bash"
    out=$(cd "$tmp" && touch "$name.conf" && bash -c '
        . "$1"
        fn=$(complete -p "$2" | sed -n "s/.* -F \([^ ]*\) .*/\1/p")
        COMP_WORDS=("$2" --c); COMP_CWORD=1; "$fn"; echo "flags: ${COMPREPLY[*]}"
        COMP_WORDS=("$2" --config "$2."); COMP_CWORD=2; "$fn"; echo "files: ${COMPREPLY[*]}"
    ' sh "$tmp/$name.bash" "$name")
    grep -q '^flags: .*--config' <<<"$out" || fail "$name: '--c' does not complete to --config: $out"
    grep -q "^files: .*$name.conf" <<<"$out" || fail "$name: --config does not complete a file: $out"
done
echo "PASS [deploy_manpages]: $# programs: man page, completion and --help list the same options"
