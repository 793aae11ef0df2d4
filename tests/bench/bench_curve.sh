#!/usr/bin/env bash
# What CURVE costs end to end: one agent delivers the same drop to a fresh hub over plain TCP
# (--insecure, the baseline) and over CURVE, alternately, ROUNDS times each; prints the median
# time from drop to empty outbox of each and their ratio. The hub runs --no-sync so that the
# disk does not hide the transport. Not part of the test suite; run it on a quiet machine:
#
#   tests/bench/bench_curve.sh [BUILD_DIR [ROWS [ROUNDS]]]   (defaults: build, 6000, 3)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
ROWS=${2:-6000}
ROUNDS=${3:-3}
. "$root/tests/integration/lib.sh"
it_init bench_curve --hub "$build/hub/cdof-hub" --agent "$build/agents/partnership/cdof-agent" \
    --keygen "$build/deploy/cdof-keygen" --refdir "$root/proto/data"

# ROWS rows of continuity_of_care: areas x months from 2000-01, each pair once.
NAREAS=150 # x months from 2000-01: up to 45,000 rows stay in the past
mapfile -t AREAS < <(awk -F, 'NR > 1 && NR <= 1 + n { print $1 }' n=$NAREAS "$IT_REFDIR/areas.csv")
AREA_LIST=$(
    IFS=,
    echo "${AREAS[*]}"
)
drop="$IT_DIR/drop.csv"
awk -v rows="$ROWS" -v areas="$AREA_LIST" 'BEGIN {
    n = split(areas, a, ",")
    print "metric_id,area_code,period,numerator,denominator,value,note"
    for (i = 0; i < rows; i++) {
        m = int(i / n)
        printf "continuity_of_care,%s,%04d-%02d,%d,%d,,\n", a[i % n + 1], 2000 + int(m / 12),
            m % 12 + 1, 20 + i % 70, 100 + i % 50
    }
}' >"$drop"

now_ms() { date +%s%3N; }

# run MODE N: one delivery; prints its milliseconds.
run() {
    local mode=$1 n=$2 d="$IT_DIR/$1-$2" p start
    read -r -a p < <(it_free_ports 3)
    mkdir -p "$d/spool/in"
    local ingest="tcp://127.0.0.1:${p[0]}"
    it_start "hub-$mode-$n" "$IT_HUB" --data "$d/hub" --ingest "$ingest" \
        --alerts "tcp://127.0.0.1:${p[1]}" --query "tcp://127.0.0.1:${p[2]}" --no-sync \
        $(IT_INSECURE=$mode it_sec hub hub)
    it_wait "hub listening" 20 it_listening "${p[0]}"
    it_start "agent-$mode-$n" "$IT_AGENT" --id "bench" --hub "$ingest" --spool "$d/spool" \
        --data "$d/data" --areas "$AREA_LIST" --log-level warn \
        $(IT_INSECURE=$mode it_sec partnership bench "$AREA_LIST")
    drained() {
        [ -e "$d/spool/done/drop.csv" ] &&
            "$IT_AGENT" status --data "$d/data" --format json 2>/dev/null |
            grep -Eq '"outbox_depth": *0([^0-9]|$)'
    }
    start=$(now_ms)
    it_drop "$d/spool" "$drop"
    it_wait "the agent to drain" 300 drained
    echo $(($(now_ms) - start))
    it_stop "agent-$mode-$n"
    it_stop "hub-$mode-$n"
}

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

: >"$IT_DIR/plain" && : >"$IT_DIR/curve"
for n in $(seq 1 "$ROUNDS"); do
    run 1 "$n" >>"$IT_DIR/plain"
    run 0 "$n" >>"$IT_DIR/curve"
done
plain=$(median <"$IT_DIR/plain")
curve=$(median <"$IT_DIR/curve")
echo "rows $ROWS, rounds $ROUNDS: plain TCP median ${plain} ms (baseline), CURVE median ${curve} ms"
awk -v p="$plain" -v c="$curve" 'BEGIN { printf "CURVE / plain TCP: %.2f\n", c / p }'
