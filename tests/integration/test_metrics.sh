#!/usr/bin/env bash
# The --metrics endpoints, scraped with curl as Prometheus would: the hub's health counters and
# an agent's outbox depth and age, in valid text exposition format (prom_check.awk), with the
# figures the hub and agent report themselves; 404 and 405 off /metrics; a malformed endpoint
# refused at start naming --metrics.
#
#   test_metrics.sh --hub P --agent P --query P --keygen P [--refdir DIR]
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_init metrics "$@"
it_require hub agent query keygen
command -v curl >/dev/null || it_fail "curl is needed to scrape the endpoints"
check="$(dirname "${BASH_SOURCE[0]}")/prom_check.awk"

# A malformed endpoint: exit 2, the flag named.
rc=0
"$IT_HUB" --data "$IT_DIR/bad" --insecure --metrics "no-port" >"$IT_DIR/logs/bad.log" 2>&1 || rc=$?
[ "$rc" -eq 2 ] || it_fail "--metrics no-port: exit $rc, want 2: $(cat "$IT_DIR/logs/bad.log")"
grep -q -- "--metrics 'no-port'" "$IT_DIR/logs/bad.log" ||
    it_fail "the error does not name --metrics: $(cat "$IT_DIR/logs/bad.log")"

it_hub_endpoints
read -r p_hm p_am < <(it_free_ports 2) || true
[ -n "${p_am:-}" ] || it_fail "could not pick free ports"
area=E06000009
it_start hub "$IT_HUB" --data "$IT_DIR/hub" --ingest "$ingest" --alerts "$alerts" \
    --query "$query" --metrics "127.0.0.1:$p_hm" $(it_sec hub hub)
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
it_pass "hub and agent endpoints valid Prometheus text; ingested 3 as health says;" \
    "outbox depth 0 then 1 and ageing with the hub away; 404/405 off /metrics"
