#!/usr/bin/env bash
# "Milestone overdue" with real processes and an injected clock (CDOF_FAKE_NOW is for
# tests only): the delivery plan, due 2022-12-31, raises nothing on that day, fires on the day
# after for a partnership that has not reported it, and resolves once the partnership's agent
# reports it done. The partnership is the hub's (--partnerships: Hartlepool and Middlesbrough as
# "tees"), selected by a member's code in the rule, routed to their region; its agent's registry
# line gives no areas (they come from the partnerships file). An area in no partnership that
# never reported owes nothing here, as in compliance.
#
#   test_alerts_milestone.sh --hub P --agent P --watch P --query P [--refdir DIR]
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_init alerts_milestone "$@"
it_require hub agent watch query
it_hub_endpoints
area=E06000001 # Hartlepool, in partnership tees with Middlesbrough
key="milestone_overdue|delivery_plan|tees"
printf 'partnership,area_code\ntees,E06000001\ntees,E06000002\n' >"$IT_DIR/partnerships.csv"

cat >"$IT_DIR/rules.ini" <<EOF
[milestone_overdue]
milestones = delivery_plan
areas = $area

# Redcar and Cleveland: in no partnership and never reporting, so owing nothing.
[redcar_overdue]
kind = milestone_overdue
milestones = delivery_plan
areas = E06000003
EOF

start_hub() { # NAME DAY
    CDOF_FAKE_NOW="$2T12:00:00Z" it_start "$1" "$IT_HUB" --data "$IT_DIR/hub" \
        --ingest "$ingest" --alerts "$alerts" --query "$query" --rules "$IT_DIR/rules.ini" \
        --partnerships "$IT_DIR/partnerships.csv" $(it_sec hub hub)
    it_wait_hub
}
# The hub's records of the key, as their states in order.
states() {
    it_query "$IT_DIR/alerts.csv" --hub "$query" $(it_sec jcdu query) alerts --format csv ||
        return 1
    awk "$IT_AWK_SPLIT_CSV"'
        NR == 1 { n = split_csv($0, col); for (i = 1; i <= n; i++) c[col[i]] = i; next }
        { split_csv($0, v); if (v[c["dedupe_key"]] == "'"$key"'") printf "%s ", v[c["state"]] }' \
        "$IT_DIR/alerts.csv"
}
# Any record of a rule other than the partnership's (there must be none).
others() {
    awk "$IT_AWK_SPLIT_CSV"'
        NR == 1 { n = split_csv($0, col); for (i = 1; i <= n; i++) c[col[i]] = i; next }
        { split_csv($0, v); if (v[c["dedupe_key"]] != "'"$key"'") print v[c["dedupe_key"]] }' \
        "$IT_DIR/alerts.csv"
}

# 1. On the deadline day: not late. The hub's serve loop runs the rules before it answers its
#    first query, so the first answer already reflects them.
start_hub hub1 2022-12-31
it_wait "hub1 to answer queries" 20 states
[ -z "$(states)" ] || it_fail "milestone_overdue fired on the deadline day: $(states)"
it_stop hub1

# 2. The day after: fires, to a JCDU watcher following the North East.
start_hub hub2 2023-01-01
it_start watch "$IT_WATCH" --hub-alerts "$alerts" --hub-query "$query" \
    --topic alert/jcdu/E12000001/ --format json $(it_sec oversight jcdu-watch)
firing() { [ "$(states)" = "firing " ]; }
it_wait "milestone_overdue to fire on 2023-01-01" 20 firing
it_wait "watcher to print it" 20 grep -q '"subject":"delivery_plan"' "$IT_DIR/logs/watch.out"
[ -z "$(others)" ] || it_fail "an alert for a partnership neither configured nor reporting: $(others)"

# 3. The partnership's agent reports the plan done (on 2023-01-01): the alert resolves.
export CDOF_FAKE_NOW=2023-01-01T12:00:00Z
mkdir -p "$IT_DIR/agent/data"
"$IT_AGENT" milestone delivery_plan --date 2023-01-01 --data "$IT_DIR/agent/data" \
    --partnership tees >>"$IT_DIR/logs/milestone.log" 2>&1 ||
    it_fail "cdof-agent milestone failed: $(tail -n 3 "$IT_DIR/logs/milestone.log")"
it_start agent "$IT_AGENT" --id tees --hub "$ingest" --spool "$IT_DIR/agent/spool" \
    --data "$IT_DIR/agent/data" --areas $area,E06000002 $(it_sec partnership tees)
unset CDOF_FAKE_NOW
resolved() { [ "$(states)" = "firing resolved " ]; }
it_wait "milestone_overdue to resolve once reported" 30 resolved

it_stop agent
it_stop watch
it_stop hub2
[ -z "$(others)" ] || it_fail "an alert for a partnership neither configured nor reporting: $(others)"
it_pass "configured partnership's delivery plan: quiet on the deadline, overdue the day after, resolved when reported"
