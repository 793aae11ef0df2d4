#!/usr/bin/env bash
# The --metrics endpoints, scraped with curl as Prometheus would: the hub's health counters, an
# agent's outbox depth and age, and a watcher's delivery counters (an --exec that fails once, so
# one failed attempt then one delivery), in valid text exposition format (prom_check.awk), with
# the figures the hub, agent and watcher report themselves (cdof-query health, `cdof-watch
# status`); 404 and 405 off /metrics; a malformed endpoint refused at start naming --metrics.
#
#   test_metrics.sh --hub P --agent P --watch P --query P --keygen P [--refdir DIR]
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_init metrics "$@"
it_require hub agent watch query keygen
command -v curl >/dev/null || it_fail "curl is needed to scrape the endpoints"
check="$(dirname "${BASH_SOURCE[0]}")/prom_check.awk"

# A malformed endpoint: exit 2, the flag named.
rc=0
"$IT_HUB" --data "$IT_DIR/bad" --insecure --metrics "no-port" >"$IT_DIR/logs/bad.log" 2>&1 || rc=$?
[ "$rc" -eq 2 ] || it_fail "--metrics no-port: exit $rc, want 2: $(cat "$IT_DIR/logs/bad.log")"
grep -q -- "--metrics 'no-port'" "$IT_DIR/logs/bad.log" ||
    it_fail "the error does not name --metrics: $(cat "$IT_DIR/logs/bad.log")"
rc=0
"$IT_WATCH" --hub-alerts tcp://127.0.0.1:1 --hub-query tcp://127.0.0.1:2 --insecure \
    --metrics "127.0.0.1" >"$IT_DIR/logs/bad_watch.log" 2>&1 || rc=$?
if [ "$rc" -ne 2 ] || ! grep -q -- "--metrics '127.0.0.1'" "$IT_DIR/logs/bad_watch.log"; then
    it_fail "cdof-watch --metrics 127.0.0.1: exit $rc, want 2 naming --metrics:" \
        "$(cat "$IT_DIR/logs/bad_watch.log")"
fi

# Data two years old: data_overdue fires for the area, an alert for the watcher to deliver.
printf '[data_overdue]\nmetrics = continuity_of_care\ndays = 30\n' >"$IT_DIR/rules.ini"

it_hub_endpoints
read -r p_hm p_am p_wm < <(it_free_ports 3) || true
[ -n "${p_wm:-}" ] || it_fail "could not pick free ports"
area=E06000009
it_start hub "$IT_HUB" --data "$IT_DIR/hub" --ingest "$ingest" --alerts "$alerts" \
    --query "$query" --rules "$IT_DIR/rules.ini" --metrics "127.0.0.1:$p_hm" $(it_sec hub hub)
it_wait "hub metrics listening" 20 it_listening "$p_hm"
mkdir -p "$IT_DIR/agent"
agent_args=(--id "$area" --hub "$ingest" --spool "$IT_DIR/agent/spool" --data "$IT_DIR/agent/data"
    --areas "$area" --metrics "127.0.0.1:$p_am" $(it_sec partnership "$area" "$area"))
it_start agent "$IT_AGENT" "${agent_args[@]}"
it_wait "agent metrics listening" 20 it_listening "$p_am"

scrape() { # PORT NAME: the exposition into $IT_DIR/NAME.prom, headers into NAME.headers
    curl -sS --max-time 5 -D "$IT_DIR/$2.headers" -o "$IT_DIR/$2.prom" \
        "http://127.0.0.1:$1/metrics" 2>>"$IT_DIR/logs/curl.log"
}
value() { # FILE SAMPLE: the value of the sample written exactly so (name and labels)
    awk -v s="$2" '$1 == s { print $2; found = 1 } END { exit !found }' "$1"
}

{
    echo "metric_id,area_code,period,numerator,denominator,value,note"
    for m in 04 05 06; do echo "continuity_of_care,$area,2024-$m,3${m#0},100,,"; done
} >"$IT_DIR/drop.csv"
it_drop "$IT_DIR/agent/spool" "$IT_DIR/drop.csv"
ingested3() { scrape "$p_hm" hub && [ "$(value "$IT_DIR/hub.prom" cdof_hub_updates_ingested_total)" = 3 ]; }
it_wait "cdof_hub_updates_ingested_total 3 at the hub's endpoint" 30 ingested3
grep -qi '^content-type: text/plain; version=0.0.4' "$IT_DIR/hub.headers" ||
    it_fail "hub: Content-Type is not Prometheus text 0.0.4: $(cat "$IT_DIR/hub.headers")"
out=$(awk -f "$check" "$IT_DIR/hub.prom") || it_fail "hub exposition is malformed: $out"
for s in cdof_hub_commits_total cdof_hub_agents_known cdof_hub_start_time_seconds \
    cdof_hub_pending_comparisons cdof_hub_rejected_total; do
    value "$IT_DIR/hub.prom" "$s" >/dev/null || it_fail "hub: no $s sample"
done
[ "$(value "$IT_DIR/hub.prom" cdof_hub_agents_known)" = 1 ] || it_fail "hub: agents_known is not 1"

# The same figures as cdof-query health.
it_query "$IT_DIR/health.json" --hub "$query" $(it_sec jcdu query) health --format json ||
    it_fail "cdof-query health failed"
grep -Eq '"ingested": *3([^0-9]|$)' "$IT_DIR/health.json" ||
    it_fail "cdof-query health disagrees: $(cat "$IT_DIR/health.json")"

drained() {
    scrape "$p_am" agent &&
        [ "$(value "$IT_DIR/agent.prom" "cdof_agent_outbox_depth{agent=\"$area\"}")" = 0 ]
}
it_wait "the agent's endpoint to show an empty outbox" 30 drained
out=$(awk -f "$check" "$IT_DIR/agent.prom") || it_fail "agent exposition is malformed: $out"
[ "$(value "$IT_DIR/agent.prom" "cdof_agent_outbox_oldest_age_seconds{agent=\"$area\"}")" = 0 ] ||
    it_fail "an empty outbox has an age: $(cat "$IT_DIR/agent.prom")"

# The watcher: its --exec fails the first attempt at each alert and succeeds the second.
printf '[delivery]\nretry_initial = 100ms\nretry_max = 300ms\n' >"$IT_DIR/delivery.ini"
it_start watch "$IT_WATCH" --hub-alerts "$alerts" --hub-query "$query" --data "$IT_DIR/watch" \
    --receivers "$IT_DIR/delivery.ini" --metrics "127.0.0.1:$p_wm" --timeout-ms 1000 --exec \
    "f=\"$IT_DIR/exec.\$CDOF_ALERT_SEQUENCE\"; [ -e \"\$f\" ] || { touch \"\$f\"; exit 3; }" \
    $(it_sec jcdu metrics-watch)
it_wait "watcher metrics listening" 20 it_listening "$p_wm"
# The label is the key's name (CURVE), else the store id (--insecure).
if [ "${IT_INSECURE:-0}" = 1 ]; then
    scrape "$p_wm" watch || it_fail "cannot scrape the watcher"
    wname=$(sed -n 's/^cdof_watch_last_sequence{watcher="\([0-9a-f]*\)"}.*/\1/p' \
        "$IT_DIR/watch.prom")
else
    wname=jcdu-metrics-watch
fi
wvalue() { value "$IT_DIR/watch.prom" "$1{watcher=\"$wname\"}"; }
delivered1() {
    scrape "$p_wm" watch && [ "$(wvalue cdof_watch_notices_delivered_total)" = 1 ] &&
        [ "$(wvalue cdof_watch_notices_queued)" = 0 ]
}
it_wait "the watcher's endpoint to show one notice delivered after one failed attempt" 40 delivered1
out=$(awk -f "$check" "$IT_DIR/watch.prom") || it_fail "watcher exposition is malformed: $out"
for t in "notices_delivered_total counter" "notice_attempts_failed_total counter" \
    "notices_expired_total counter" "notices_queued gauge" "notices_retrying gauge" \
    "last_sequence gauge" "last_alert_time_seconds gauge" "hub_heard_age_seconds gauge"; do
    grep -qx "# TYPE cdof_watch_$t" "$IT_DIR/watch.prom" ||
        it_fail "watcher: no '# TYPE cdof_watch_$t': $(cat "$IT_DIR/watch.prom")"
done
# The same figures as cdof-watch status, read from the store while the watcher runs.
"$IT_WATCH" status --data "$IT_DIR/watch" --format json >"$IT_DIR/wstatus.json" ||
    it_fail "cdof-watch status failed"
for f in delivered:notices_delivered_total failed:notice_attempts_failed_total \
    retrying:notices_retrying expired:notices_expired_total queued:notices_queued \
    last_sequence:last_sequence; do
    want=$(sed -n "s/.*\"${f%%:*}\": *\([0-9]*\).*/\1/p" "$IT_DIR/wstatus.json")
    got=$(wvalue "cdof_watch_${f#*:}") || it_fail "watcher: no cdof_watch_${f#*:} sample"
    if [ -z "$want" ] || [ "$got" != "$want" ]; then
        it_fail "watcher: cdof_watch_${f#*:} $got, status says ${f%%:*} '$want':" \
            "$(cat "$IT_DIR/wstatus.json")"
    fi
done
[ "$(wvalue cdof_watch_notice_attempts_failed_total)" = 1 ] ||
    it_fail "watcher: not one failed attempt: $(cat "$IT_DIR/watch.prom")"
seq=$(wvalue cdof_watch_last_sequence)
if [ "$seq" -lt 1 ] || [ ! -e "$IT_DIR/exec.$seq" ]; then
    it_fail "watcher: last sequence '$seq' is not the alert --exec ran for"
fi
awk -v t="$(wvalue cdof_watch_last_alert_time_seconds)" -v now="$(date +%s)" \
    'BEGIN { exit !(t > now - 600 && t <= now + 5) }' ||
    it_fail "watcher: the last alert time is not recent: $(cat "$IT_DIR/watch.prom")"
awk -v a="$(wvalue cdof_watch_hub_heard_age_seconds)" 'BEGIN { exit !(a >= 0 && a < 60) }' ||
    it_fail "watcher: the hub not heard from lately: $(cat "$IT_DIR/watch.prom")"

# The hub goes away: what the agent takes waits in the outbox and ages.
it_stop hub
{
    echo "metric_id,area_code,period,numerator,denominator,value,note"
    echo "continuity_of_care,$area,2024-07,40,100,,"
} >"$IT_DIR/drop2.csv"
it_drop "$IT_DIR/agent/spool" "$IT_DIR/drop2.csv"
waiting_aged() {
    local age
    scrape "$p_am" agent &&
        [ "$(value "$IT_DIR/agent.prom" "cdof_agent_outbox_depth{agent=\"$area\"}")" = 1 ] &&
        age=$(value "$IT_DIR/agent.prom" "cdof_agent_outbox_oldest_age_seconds{agent=\"$area\"}") &&
        awk -v a="$age" 'BEGIN { exit !(a >= 1) }'
}
it_wait "outbox depth 1, its oldest entry a second old or more" 30 waiting_aged
out=$(awk -f "$check" "$IT_DIR/agent.prom") || it_fail "agent exposition is malformed: $out"

code() { curl -s --max-time 5 -o /dev/null -w '%{http_code}' "$@"; }
[ "$(code "http://127.0.0.1:$p_am/")" = 404 ] || it_fail "/ is not 404"
[ "$(code -X POST "http://127.0.0.1:$p_am/metrics")" = 405 ] || it_fail "POST is not 405"
# And the watcher stops hearing from it (resync every 5 s fails): the age grows past 6 s.
unheard() {
    scrape "$p_wm" watch &&
        awk -v a="$(wvalue cdof_watch_hub_heard_age_seconds)" 'BEGIN { exit !(a >= 6) }'
}
it_wait "the watcher's hub_heard_age_seconds to pass 6 with the hub away" 40 unheard
it_pass "hub, agent and watcher endpoints valid Prometheus text; ingested 3 as health says;" \
    "outbox depth 0 then 1 and ageing with the hub away; the watcher's counters as its status" \
    "says (1 delivered after 1 failed attempt), its hub age growing; 404/405 off /metrics"
