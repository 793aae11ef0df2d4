#!/usr/bin/env bash
# Fair service: one agent's ack latency on a quiet hub and beside a query flood and a
# subscription flood from one key each (bench_fair.py), over CURVE as deployed and over plain
# TCP, in the same run. The target is a flooded p99 within 2x the quiet one. Not part of the test
# suite (timing); run on a quiet machine:
#
#   tests/bench/bench_fair.sh [BUILD_DIR [ACKS]]   (defaults: build, 300)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
ACKS=${2:-300}
. "$root/tests/integration/lib.sh"
it_init bench_fair --hub "$build/hub/cdof-hub" --keygen "$build/deploy/cdof-keygen" \
    --refdir "$root/proto/data"
mkdir -p "$IT_DIR/gen"
protoc -I "$root/proto" --python_out="$IT_DIR/gen" "$root/proto/cdof.proto"
for mode in curve plain; do
    it_hub_endpoints
    insecure=0
    [ $mode = curve ] || insecure=1
    it_start "hub-$mode" "$IT_HUB" --data "$IT_DIR/hub-$mode" --ingest "$ingest" \
        --alerts "$alerts" --query "$query" --no-sync \
        $(IT_INSECURE=$insecure it_sec hub hub)
    it_wait "hub listening" 20 it_listening "$p_query"
    IT_INSECURE=$insecure it_sec national bench >/dev/null
    IT_INSECURE=$insecure it_sec jcdu flood >/dev/null
    /usr/bin/python3 "$here/bench_fair.py" "$IT_DIR/gen" "$ingest" "$alerts" "$query" "$mode" \
        "$IT_DIR/keys" "$ACKS" "$root/proto/data/areas.csv"
    it_stop "hub-$mode"
done
it_pass "fair service figures above"
