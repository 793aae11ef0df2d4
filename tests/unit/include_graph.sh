#!/usr/bin/env bash
# Includes point down only (docs/DESIGN.md, "Layout"). For each lower folder, no #include may
# name a header that lives in a folder above it or beside it:
#   common/            nothing of proto/, store/, compare/, hub/, agents/
#   proto/             nothing of store/, compare/, hub/, agents/
#   store/             nothing of proto/, compare/, hub/, agents/: it knows only bytes
#   compare/           nothing of store/, hub/ or agents/
#   agents/client/     common/ and proto/ only: nothing of store/, compare/, hub/ or the programs
#   agents/oversight/  nothing of agents/jcdu/ (the two programs share agents/client/ instead)
#   hub/               <zmq.h>, and the hub headers that include it, only in the daemon's files
#                      that touch sockets (and hub_keys.c, for Z85 key text): hub.h, the
#                      store-side core and the alert lifecycle stay free of ZeroMQ; hub.h
#                      declares no function (each module's are in its own header)
# A header is matched by its file name, so quoted, angle and path includes are all caught; every
# offending line is named. Usage: include_graph.sh SOURCE_DIR
set -euo pipefail
src=${1:?usage: include_graph.sh SOURCE_DIR}
cd "$src"

for d in common proto store compare hub agents agents/client agents/oversight agents/jcdu \
    agents/partnership; do
    [ -d "$d" ] || { echo "include_graph: $src/$d is missing" >&2; exit 2; }
done

# The file names of the headers under the given folders, one a line.
headers_of() { find "$@" -name '*.h' -printf '%f\n' | sort -u; }

# includes PATH...: every #include under PATH (folders walked, files as given), one a line as
# FILE<TAB>LINE<TAB>HEADER, the header by its file name alone.
includes() {
    grep -rnE '^[[:space:]]*#[[:space:]]*include[[:space:]]*["<]' "$@" \
        --include='*.c' --include='*.h' |
        sed -E 's/^([^:]+):([0-9]+):[[:space:]]*#[[:space:]]*include[[:space:]]*["<]([^">]+)[">].*/\1\t\2\t\3/' |
        awk -F'\t' -v OFS='\t' '{ n = split($3, part, "/"); print $1, $2, part[n] }' || true
}

bad=0
# check FOLDER FORBIDDEN...: every #include of FOLDER against the headers of FORBIDDEN.
check() {
    local dir=$1
    shift
    local forbidden
    forbidden=$(headers_of "$@")
    [ -n "$forbidden" ] || { echo "include_graph: no headers under $*" >&2; exit 2; }
    local file line name
    while IFS=$'\t' read -r file line name; do
        if grep -qxF "$name" <<<"$forbidden"; then
            echo "$file:$line: includes $name, a header of $* (above or beside $dir/)" >&2
            bad=1
        fi
    done < <(includes "$dir")
}

check common proto store compare hub agents
check proto store compare hub agents
check store proto compare hub agents
check compare store hub agents
check agents/client store compare hub agents/partnership agents/oversight agents/jcdu
check agents/oversight agents/jcdu

# ZeroMQ in hub/: zmq.h and the hub headers that include it, named only by the files allowed.
zmq_daemon="hub_main.c hub_ingest_net.c hub_query.c hub_auth.c hub_auth.h hub_subs.c hub_keys.c"
zmq_names=$(printf '%s\n' zmq.h $(grep -lE '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]zmq\.h[>"]' \
    hub/*.h | xargs -r -n1 basename))
while IFS=$'\t' read -r file line name; do
    grep -qxF "$name" <<<"$zmq_names" || continue
    case " $zmq_daemon " in *" $(basename "$file") "*) continue ;; esac
    echo "$file:$line: includes $name: ZeroMQ belongs to the daemon's files ($zmq_daemon)" >&2
    bad=1
done < <(includes hub/*.c hub/*.h)

# hub.h is the wiring (hub_t, its configuration and counters): it declares no function. Each
# module's functions are declared in its own header, named as the module.
while IFS= read -r hit; do
    echo "hub/hub.h:${hit%%:*}: declares a function: it belongs in its module's header" >&2
    bad=1
done < <(grep -nE '^[A-Za-z_][A-Za-z0-9_ ]*[ *]+[a-z_][a-z0-9_]*\(' hub/hub.h \
             | grep -vE '^[0-9]+:[[:space:]]*(typedef|#)' || true)

[ "$bad" -eq 0 ] && echo "include_graph: common, proto, store, compare and agents/client include" \
    "only below them (store: common only); agents/oversight nothing of agents/jcdu;" \
    "in hub/ only the daemon's files include ZeroMQ; hub.h declares no function"
exit "$bad"
