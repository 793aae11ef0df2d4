#!/usr/bin/env bash
# Fair service: one agent's ack latency on a quiet hub and beside a query flood and a
# subscription flood from one key each (bench_fair.py), over CURVE as deployed and over plain
# TCP, in the same run. The target is a flooded p99 within 2x the quiet one. With BASE_BUILD (an
# older build), its hub runs the same bench after this one's, for a before and after. Not part of
# the test suite (timing); run on a quiet machine:
#
#   tests/bench/bench_fair.sh [BUILD_DIR [ACKS [BASE]]]   (defaults: build, 1000)
#
# BASE: an older build directory, or its cdof-hub binary (run.sh's --hub-before).
#
# Environment: FAIR_ROUNDS (default 5) interleaved rounds per condition; FAIR_NICE (default
# "19,0") the flooding clients' niceness, each in turn: at 19 their own CPU stands in for the
# attacker's own machine, at 0 they compete with hub and victim for this one's cores.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
ACKS=${2:-1000}
ROUNDS=${FAIR_ROUNDS:-5}
NICE=${FAIR_NICE:-19,0}
BASE_HUB=""
if [ -n "${3:-}" ]; then
    if [ -f "$3" ] && [ -x "$3" ]; then
        BASE_HUB=$(cd "$(dirname "$3")" && pwd)/$(basename "$3")
    else
        BASE_HUB=$(cd "$3" && pwd)/hub/cdof-hub
    fi
fi
. "$root/tests/integration/lib.sh"
it_init bench_fair --hub "$build/hub/cdof-hub" --keygen "$build/deploy/cdof-keygen" \
    --refdir "$root/proto/data"
mkdir -p "$IT_DIR/gen"
protoc -I "$root/proto" --python_out="$IT_DIR/gen" "$root/proto/cdof.proto"
run() { # LABEL HUB_BINARY MODE
    local label=$1 hub=$2 mode=$3 insecure=0
    [ "$mode" = curve ] || insecure=1
    it_hub_endpoints
    it_start "hub-$label-$mode" "$hub" --data "$IT_DIR/hub-$label-$mode" --ingest "$ingest" \
        --alerts "$alerts" --query "$query" --no-sync $(IT_INSECURE=$insecure it_sec hub hub)
    it_wait "hub listening" 20 it_listening "$p_query"
    IT_INSECURE=$insecure it_sec national bench >/dev/null
    IT_INSECURE=$insecure it_sec jcdu flood >/dev/null
    echo "== $label hub, $mode"
    /usr/bin/python3 "$here/bench_fair.py" "$IT_DIR/gen" "$ingest" "$alerts" "$query" "$mode" \
        "$IT_DIR/keys" "$ACKS" "$root/proto/data/areas.csv" "$(it_pid "hub-$label-$mode")" \
        "$ROUNDS" "$NICE"
    it_stop "hub-$label-$mode"
}
for mode in curve plain; do
    run this "$IT_HUB" $mode
    [ -z "$BASE_HUB" ] || run base "$BASE_HUB" $mode
done
it_pass "fair service figures above"
