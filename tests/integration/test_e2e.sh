#!/usr/bin/env bash
# End to end: a CSV drop at an agent becomes stored values at the hub, a "worse than England"
# alert at a watcher for the one underperforming area (and none for a good one), and a quarantined
# bad row at the agent.
#
#   test_e2e.sh --hub P --agent P --watch P --query P [--refdir DIR]
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_init e2e "$@"
for v in IT_HUB IT_AGENT IT_WATCH IT_QUERY; do
    lower=${v#IT_}
    [ -n "${!v}" ] || it_fail "missing --${lower,,} argument"
done

read -r p_ingest p_alerts p_query < <(it_free_ports 3) || true
[ -n "${p_query:-}" ] || it_fail "could not pick free ports"
ingest="tcp://127.0.0.1:$p_ingest"
alerts="tcp://127.0.0.1:$p_alerts"
query="tcp://127.0.0.1:$p_query"

# Five North West areas in one partnership. Blackpool at 10% is far below the aggregate (about
# 39%) even at 99.8%; Bolton at 44% is well inside its 95% interval of England's value.
bad=E06000009  # Blackpool
good=E08000001 # Bolton
areas="E06000008,$bad,$good,E08000002,E08000003"
spool="$IT_DIR/agent/spool"
drop="$IT_DIR/continuity.csv"
{
    echo "metric_id,area_code,period,numerator,denominator,value,note"
    for m in 04 05 06; do
        echo "continuity_of_care,E06000008,2024-$m,45,100,,"
        echo "continuity_of_care,$bad,2024-$m,10,100,,"
        echo "continuity_of_care,$good,2024-$m,44,100,,"
        echo "continuity_of_care,E08000002,2024-$m,48,100,,"
        echo "continuity_of_care,E08000003,2024-$m,46,100,,"
    done
    echo "continuity_of_care,$good,2024-03,120,100,,numerator above denominator"
} >"$drop"
bad_line=$(grep -c . "$drop") # the bad row is the last line

# A period is judged once complete. These five areas are all that report here, so the hub is
# told that 3% of the 153 expected areas (5) complete a period once its deadline has passed
# (--periods; the default is 90% by 30 days after the period).
printf 'metric_id,threshold_percent,deadline_days\n*,3,0\n' >"$IT_DIR/periods.csv"
it_start hub "$IT_HUB" --data "$IT_DIR/hub" --ingest "$ingest" --alerts "$alerts" \
    --query "$query" --periods "$IT_DIR/periods.csv" $(it_sec hub hub)
it_wait_hub

it_start watch "$IT_WATCH" --hub-alerts "$alerts" --hub-query "$query" --topic alert/ \
    --format json --state "$IT_DIR/watch.state" $(it_sec oversight watch)
mkdir -p "$IT_DIR/agent" # the agent creates data/ but not its parent
it_start agent "$IT_AGENT" --id nw-test --hub "$ingest" --spool "$spool" \
    --data "$IT_DIR/agent/data" --areas "$areas" $(it_sec partnership nw-test "$areas")

it_drop "$spool" "$drop"

# 1. The drop is processed: the file leaves in/, the bad row is quarantined, the outbox drains.
it_wait "continuity.csv to move to $spool/done/" 30 test -e "$spool/done/continuity.csv"
# docs/DESIGN.md "Delivery": NAME.errors.csv, NAME being the whole file name (continuity.csv.errors.csv).
errors_file() {
    local f
    for f in "$spool/rejected/continuity.csv.errors.csv" "$spool/rejected/continuity.errors.csv"; do
        [ -s "$f" ] && { echo "$f"; return 0; }
    done
    return 1
}
it_wait "continuity[.csv].errors.csv in $spool/rejected/" 10 errors_file
errors=$(errors_file)

status() {
    "$IT_AGENT" status --data "$IT_DIR/agent/data" --format json >"$IT_DIR/status.json" \
        2>>"$IT_DIR/logs/status.log"
}
outbox_empty() { status && grep -Eq '"outbox_depth": *0([^0-9]|$)' "$IT_DIR/status.json"; }
it_wait "agent outbox depth 0 (cdof-agent status --format json)" 30 outbox_empty

# 2. The hub stores the values.
area_has() { # CODE NUM DEN
    it_query "$IT_DIR/area-$1.csv" --hub "$query" $(it_sec jcdu query) area "$1" --format csv &&
        it_csv_has "$IT_DIR/area-$1.csv" \
            'f["metric_id"] == "continuity_of_care" && f["numerator"] + 0 == '"$2"' && f["denominator"] + 0 == '"$3"
}
it_wait "cdof-query area $bad to show 10/100" 20 area_has "$bad" 10 100
it_wait "cdof-query area $good to show 44/100" 20 area_has "$good" 44 100

# 3. The watcher has the alert for the bad area...
alert_for() { grep worse_than_england "$IT_DIR/logs/watch.out" | grep -q "$1"; }
it_wait "watcher to print a worse_than_england alert for $bad" 30 alert_for "$bad"
# ...and none for the good one (all of the same drop has been compared by now: the bad area's
# alert came from the same metric and period).
if alert_for "$good"; then
    it_fail "watcher printed a worse_than_england alert for the good area $good"
fi

# 4. The rejected row is named with its line and a reason.
awk -F, -v line="$bad_line" '{ for (i = 1; i <= NF; i++) if ($i == line) found = 1 }
    END { exit found ? 0 : 1 }' "$errors" ||
    it_fail "$errors does not name line $bad_line: $(cat "$errors")"
grep -qi numerator "$errors" ||
    it_fail "$errors gives no reason naming the numerator: $(cat "$errors")"
grep -q "$good,2024-03,120,100" "$errors" ||
    it_fail "$errors does not carry the original row: $(cat "$errors")"

# 4b. The hub's health counters (cdof-query health): the 15 good rows, the agent connected.
health_ok() {
    it_query "$IT_DIR/health.csv" --hub "$query" $(it_sec jcdu query) health --format csv &&
        it_csv_has "$IT_DIR/health.csv" 'f["ingested"] == 15 && f["rejected"] == 0 &&
            f["duplicates"] == 0 && f["commits"] >= 1 && f["batch_max"] >= 1 &&
            f["alerts"] >= 1 && f["connected_agents"] == 1 && f["known_agents"] == 1'
}
it_wait "cdof-query health: 15 ingested, 1 agent connected, alerts counted" 10 health_ok
it_query "$IT_DIR/health.txt" --hub "$query" $(it_sec jcdu query) health ||
    it_fail "cdof-query health (table) failed"
grep -Eq '^ingested +15$' "$IT_DIR/health.txt" ||
    it_fail "cdof-query health table lacks 'ingested 15': $(cat "$IT_DIR/health.txt")"

# 5. Final state: nothing left in the outbox, a clean shutdown of every process.
outbox_empty || it_fail "agent outbox not empty at the end: $(cat "$IT_DIR/status.json")"
it_stop agent
it_stop watch
it_stop hub
it_pass "drop -> store -> alert for $bad only -> quarantined line $bad_line"
