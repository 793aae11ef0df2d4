#!/usr/bin/env bash
# "Agent silent" with real processes: an agent killed with SIGKILL raises an
# agent_silent alert at a JCDU watcher once the rule's time has passed, a hub restart leaves it
# firing (neither resolved nor fired again), and its return resolves it; nothing fires while it
# runs.
#
#   test_alerts_silent.sh --hub P --agent P --watch P --query P [--refdir DIR]
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_init alerts_silent "$@"
it_require hub agent watch query
it_hub_endpoints
area=E06000009 # Blackpool: the agent's id is its area, so the alert routes to North West

cat >"$IT_DIR/rules.ini" <<'EOF'
[agent_silent]
after = 2
team = jcdu
severity = critical
EOF

start_hub() {
    it_start "hub$1" "$IT_HUB" --data "$IT_DIR/hub" --ingest "$ingest" --alerts "$alerts" \
        --query "$query" --rules "$IT_DIR/rules.ini" $(it_sec hub hub)
    it_wait_hub
}
start_hub ""
it_start watch "$IT_WATCH" --hub-alerts "$alerts" --hub-query "$query" \
    --topic alert/jcdu/E12000002/ --format json $(it_sec oversight jcdu-watch)
start_agent() {
    it_start "agent$1" "$IT_AGENT" --id $area --hub "$ingest" --spool "$IT_DIR/agent/spool" \
        --data "$IT_DIR/agent/data" --areas $area --heartbeat-ms 200 \
        $(it_sec partnership $area $area)
}
heard() {
    it_query "$IT_DIR/agents.csv" --hub "$query" $(it_sec jcdu query) agents --format csv &&
        it_csv_has "$IT_DIR/agents.csv" 'f["agent_id"] == "'$area'"'
}
states() { grep -o '"state":"[a-z]*","severity":"[a-z]*","rule":"agent_silent"' \
    "$IT_DIR/logs/watch.out" | cut -d'"' -f4 | tr '\n' ' ' || true; }

mkdir -p "$IT_DIR/agent"
start_agent 1
it_wait "hub to hear from agent $area" 20 heard
# Running for longer than the rule's 2 s: heartbeats keep it quiet.
deadline=$((SECONDS + 4))
while [ $SECONDS -lt $deadline ]; do
    it_check_alive
    sleep 0.5
done
[ -z "$(states)" ] || it_fail "agent_silent fired while the agent ran: $(states)"

it_kill9 agent1
it_wait "watcher to print agent_silent firing for $area" 20 \
    bash -c "grep '\"state\":\"firing\"' '$IT_DIR/logs/watch.out' | grep -q '\"subject\":\"$area\"'"
grep '"rule":"agent_silent"' "$IT_DIR/logs/watch.out" | grep -q '"severity":"critical"' ||
    it_fail "the agent_silent alert is not critical as configured"

# A hub restart while the agent is still away neither resolves the alert ("heard from again")
# nor fires it a second time: silence counts from when the agent was last heard, as stored.
it_stop hub
start_hub 2
it_wait "restarted hub to judge agent_silent again (its log)" 20 \
    bash -c "grep -q 'ready:' '$IT_DIR/logs/hub2.log'"
deadline=$((SECONDS + 6)) # past the 2 s grace and a few ticks
while [ $SECONDS -lt $deadline ]; do
    it_check_alive
    sleep 0.5
done
[ "$(states)" = "firing " ] || it_fail "a hub restart changed agent_silent: $(states)"

start_agent 2
resolved() { [ "$(states)" = "firing resolved " ]; }
it_wait "agent_silent to resolve when the agent returns" 20 resolved

it_stop agent2
it_stop watch
it_stop hub2
it_pass "killed agent raised agent_silent, a hub restart left it firing, its return resolved it"
