#!/usr/bin/env bash
# The lower floors stay below: nothing in common/, proto/, store/ or compare/ includes a header
# that lives in hub/ or agents/. A header is matched by its file name against every header under
# those two folders, so a quoted include, a path include and an angle include are all caught.
# Usage: include_graph.sh SOURCE_DIR
set -euo pipefail
src=${1:?usage: include_graph.sh SOURCE_DIR}
cd "$src"

for d in common proto store compare hub agents; do
    [ -d "$d" ] || { echo "include_graph: $src/$d is missing" >&2; exit 2; }
done
upper=$(find hub agents -name '*.h' -printf '%f\n' | sort -u)
[ -n "$upper" ] || { echo "include_graph: no headers found under hub/ or agents/" >&2; exit 2; }

bad=0
while IFS= read -r hit; do
    file=${hit%%:*}
    rest=${hit#*:}
    line=${rest%%:*}
    name=$(sed -E 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*["<]([^">]+)[">].*/\1/' <<<"${rest#*:}")
    if grep -qxF "$(basename "$name")" <<<"$upper"; then
        echo "$file:$line: includes $name, a header of hub/ or agents/" >&2
        bad=1
    fi
done < <(grep -rnE '^[[:space:]]*#[[:space:]]*include[[:space:]]*["<]' common proto store compare \
             --include='*.c' --include='*.h' || true)

[ "$bad" -eq 0 ] && echo "include_graph: common, proto, store and compare include nothing of hub/ or agents/"
exit "$bad"
