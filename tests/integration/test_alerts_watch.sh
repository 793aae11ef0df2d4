#!/usr/bin/env bash
# Alerts to regional watchers, with real processes:
#  1. a North West watcher stopped while alerts fire receives every one of them exactly once,
#     in sequence order, after its restart (catch-up from --state);
#  2. a South West watcher receives nothing of the North West, and its own alerts;
#  3. an alert fires once while its condition holds, resolves when the data improves, stays
#     resolved while it is good and fires again only after it worsens again;
#  4. `cdof-query ack ID --by NAME` reaches the watcher; a silenced key's alert is stored and
#     sent muted, and the watcher does not show it.
#
#   test_alerts_watch.sh --hub P --agent P --watch P --query P [--refdir DIR]
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_init alerts_watch "$@"
it_require hub agent watch query
it_hub_endpoints

nw_topic=alert/hmpps/E12000002/ # continuity of care belongs to HMPPS
sw_topic=alert/hmpps/E12000009/
blackpool=E06000009
bolton=E08000001
bury=E08000002
bristol=E06000023
nw=(E06000008 "$blackpool" "$bolton" "$bury" E08000003)
sw=(E06000022 "$bristol" E06000024 E06000025 E06000026)

cat >"$IT_DIR/rules.ini" <<'EOF'
[worse_than_england]
metrics = continuity_of_care
level = 99.8
EOF

# drop MONTH BAD_AREA...: continuity of care for the ten areas, 45/100 except 10/100 for the bad.
n_drop=0
drop() {
    local month=$1 a num
    shift
    n_drop=$((n_drop + 1))
    local f="$IT_DIR/drop$n_drop.csv"
    echo "metric_id,area_code,period,numerator,denominator,value,note" >"$f"
    for a in "${nw[@]}" "${sw[@]}"; do
        num=45
        [[ " $* " == *" $a "* ]] && num=10
        echo "continuity_of_care,$a,$month,$num,100,," >>"$f"
    done
    it_drop "$spool" "$f"
    it_wait "drop$n_drop.csv ($month) to be processed" 30 test -e "$spool/done/drop$n_drop.csv"
    it_wait "agent outbox to drain after drop$n_drop.csv" 30 outbox_empty
}
outbox_empty() {
    "$IT_AGENT" status --data "$IT_DIR/agent/data" --format json >"$IT_DIR/status.json" \
        2>>"$IT_DIR/logs/status.log" &&
        grep -Eq '"outbox_depth": *0([^0-9]|$)' "$IT_DIR/status.json"
}

# The hub's stored alerts as CSV (all, or under a topic prefix).
stored() { # OUT [TOPIC]
    local out=$1
    shift
    it_query "$out" --hub "$query" $(it_sec jcdu query) alerts ${1:+--topic "$1"} --format csv
}
# stored_count TOPIC N: the hub holds exactly N alerts under TOPIC.
stored_count() {
    stored "$IT_DIR/stored.csv" "$1" && [ "$(($(wc -l <"$IT_DIR/stored.csv") - 1))" -eq "$2" ]
}
# The sequences a watcher printed (JSON lines), one a line, in printed order.
printed() { grep -o '"sequence":[0-9]*' "$IT_DIR/logs/$1.out" | cut -d: -f2 || true; }
printed_count() { [ "$(printed "$1" | grep -c .)" -eq "$2" ]; }
# Everything the North West watcher printed before and after its restart.
nw_printed() {
    printed nw1
    [ ! -e "$IT_DIR/logs/nw2.out" ] || printed nw2
}
# csv_rows FILE COND EXPR: EXPR for each data row of a CSV file satisfying COND, both awk
# expressions over f["column name"].
csv_rows() {
    awk "$IT_AWK_SPLIT_CSV"'
        NR == 1 { n = split_csv($0, col); for (i = 1; i <= n; i++) c[col[i]] = i; next }
        { split_csv($0, v); for (k in c) f[k] = v[c[k]]; if ('"$2"') print '"$3"' }' "$1"
}
# The sequences the hub holds under a topic, unmuted, in order.
expected() {
    stored "$IT_DIR/exp.csv" "$1" || it_fail "cannot list the hub's alerts under $1"
    csv_rows "$IT_DIR/exp.csv" 'f["muted_by"] == ""' 'f["sequence"]'
}
# key_states KEY: the states of the hub's records of one dedupe key, in order, space-separated.
key_states() {
    stored "$IT_DIR/key.csv" || it_fail "cannot list the hub's alerts"
    csv_rows "$IT_DIR/key.csv" 'f["dedupe_key"] == "'"$1"'"' 'f["state"]' | tr '\n' ' '
}

# Periods are judged once complete: the ten areas here are all that report, so 6% of the 153
# expected (10) complete a period once its deadline (0 days: already past) has passed.
printf 'metric_id,threshold_percent,deadline_days\n*,6,0\n' >"$IT_DIR/periods.csv"
it_start hub "$IT_HUB" --data "$IT_DIR/hub" --ingest "$ingest" --alerts "$alerts" \
    --query "$query" --rules "$IT_DIR/rules.ini" --periods "$IT_DIR/periods.csv" $(it_sec hub hub)
it_wait_hub
start_nw() {
    it_start "nw$1" "$IT_WATCH" --hub-alerts "$alerts" --hub-query "$query" --topic "$nw_topic" \
        --format json --state "$IT_DIR/nw.state" $(it_sec oversight nw)
}
start_nw 1
it_start sw "$IT_WATCH" --hub-alerts "$alerts" --hub-query "$query" --topic "$sw_topic" \
    --format json $(it_sec oversight sw)
# --exec: one command that fails twice for each alert and then keeps its JSON (retried with
# back-off until it succeeds: a failing command loses nothing), one that outlives its time-out.
printf '[delivery]\nretry_initial = 100ms\nretry_max = 300ms\n' >"$IT_DIR/delivery.ini"
it_start exec_fail "$IT_WATCH" --hub-alerts "$alerts" --hub-query "$query" --topic "$sw_topic" \
    --receivers "$IT_DIR/delivery.ini" --exec "f=\"$IT_DIR/exec.\$CDOF_ALERT_SEQUENCE\";
        echo try >>\"\$f.tries\"; [ \$(wc -l <\"\$f.tries\") -ge 3 ] || exit 3;
        cat >>\"\$f.json\"" $(it_sec oversight exec1)
it_start exec_slow "$IT_WATCH" --hub-alerts "$alerts" --hub-query "$query" --topic "$sw_topic" \
    --exec "sleep 30" --exec-timeout-ms 300 $(it_sec oversight exec2)
spool="$IT_DIR/agent/spool"
mkdir -p "$IT_DIR/agent" # the agent creates its --data directory, not the parents
it_start agent "$IT_AGENT" --id ons-test --hub "$ingest" --spool "$spool" \
    --data "$IT_DIR/agent/data" --national $(it_sec national ons-test)

# 1. April: Blackpool and Bristol are worse than England; each regional watcher gets its own.
drop 2024-04 $blackpool $bristol
it_wait "North West watcher to print Blackpool's alert" 20 printed_count nw1 1
it_wait "South West watcher to print Bristol's alert" 20 printed_count sw 1
grep -q "\"area_code\":\"$blackpool\"" "$IT_DIR/logs/nw1.out" || it_fail "nw1 lacks Blackpool"

# 2. The North West watcher stops; alerts fire meanwhile: Bolton fires in May (Blackpool still
#    worse: no second alert), Blackpool resolves in June.
it_stop nw1
drop 2024-05 $blackpool $bolton $bristol
drop 2024-06 $bolton $bristol
it_wait "hub to hold 3 North West alerts" 20 stored_count "$nw_topic" 3
start_nw 2
it_wait "restarted North West watcher to catch up to 2 alerts" 20 printed_count nw2 2
[ "$(nw_printed)" = "$(expected "$nw_topic")" ] ||
    it_fail "North West alerts printed $(nw_printed | tr '\n' ' ')but the hub holds" \
        "$(expected "$nw_topic" | tr '\n' ' ')"

# 3. Resolve and fire again: Blackpool good in June (resolved above) and July, worse in August.
[ "$(key_states "worse_than_england|continuity_of_care|$blackpool")" = "firing resolved " ] ||
    it_fail "Blackpool's history after June: $(key_states "worse_than_england|continuity_of_care|$blackpool")"

# 4. Acknowledge Bolton's firing alert by name; silence Bury's key; then July and August.
bolton_seq=$(csv_rows "$IT_DIR/exp.csv" 'f["area_code"] == "'$bolton'" && f["state"] == "firing"' \
    'f["sequence"]')
[ -n "$bolton_seq" ] || it_fail "no firing alert for Bolton in the hub: $(cat "$IT_DIR/exp.csv")"
it_query "$IT_DIR/ack.csv" --hub "$query" $(it_sec jcdu query) ack "$bolton_seq" \
    --by "Jo Bloggs" --note "calling the provider" --format csv ||
    it_fail "cdof-query ack $bolton_seq failed: $(tail -n 3 "$IT_DIR/logs/query.log")"
grep -q "Jo Bloggs" "$IT_DIR/ack.csv" || it_fail "the ack answer lacks the name: $(cat "$IT_DIR/ack.csv")"
acked() { grep '"state":"acknowledged"' "$IT_DIR/logs/nw2.out" | grep -q '"acknowledged_by":"Jo Bloggs"'; }
it_wait "North West watcher to show the acknowledgement by Jo Bloggs" 20 acked
if it_query "$IT_DIR/ack2.csv" --hub "$query" $(it_sec jcdu query) ack 999999 --by X; then
    it_fail "acknowledging a missing alert succeeded"
fi
it_query "$IT_DIR/silence.csv" --hub "$query" $(it_sec jcdu query) silence \
    "worse_than_england|*|$bury" --until "$(date -u -d "+30 days" +%F)" --reason "known coding change" \
    --by "Sam Smith" --format csv || it_fail "cdof-query silence failed"
it_query "$IT_DIR/silences.csv" --hub "$query" $(it_sec jcdu query) silences --format csv
grep -q "known coding change" "$IT_DIR/silences.csv" || it_fail "silences does not list it"

drop 2024-07 $bolton $bury $bristol
drop 2024-08 $blackpool $bolton $bury $bristol
states_are() { [ "$(key_states "$1")" = "$2" ]; }
it_wait "Blackpool's history to be firing, resolved, firing" 20 \
    states_are "worse_than_england|continuity_of_care|$blackpool" "firing resolved firing "
it_wait "Bury's alert to be stored" 20 \
    states_are "worse_than_england|continuity_of_care|$bury" "firing "
csv_rows "$IT_DIR/key.csv" 'f["area_code"] == "'$bury'" && f["muted_by"] ~ /^silenced/' \
    'f["sequence"]' | grep -q . || it_fail "Bury's alert is not stored muted by the silence"
nw_unmuted=$(expected "$nw_topic" | grep -c .)
nw_all() { [ "$(nw_printed | grep -c .)" -eq "$nw_unmuted" ]; }
it_wait "North West watcher to print $nw_unmuted alerts in all" 20 nw_all
[ "$(nw_printed)" = "$(expected "$nw_topic")" ] ||
    it_fail "North West printed $(nw_printed | tr '\n' ' ')but the hub holds" \
        "$(expected "$nw_topic" | tr '\n' ' ')"
if grep -q "\"area_code\":\"$bury\"" "$IT_DIR/logs/nw2.out"; then
    it_fail "the watcher showed Bury's silenced alert"
fi

# 5. The South West watcher saw only the South West, all of it.
sw_all() { [ "$(printed sw)" = "$(expected "$sw_topic")" ]; }
it_wait "South West watcher to print every South West alert, in order" 20 sw_all
if grep -v '"region_code":"E12000009"' "$IT_DIR/logs/sw.out" | grep -q .; then
    it_fail "the South West watcher printed another region's alert: $(grep -v E12000009 "$IT_DIR/logs/sw.out" | head -n 1)"
fi

# 6. --exec got each South West alert as JSON on stdin once, on the third try, and failures are
#    logged clearly.
exec_done() {
    local seq
    for seq in $(printed sw); do
        [ -e "$IT_DIR/exec.$seq.json" ] || return 1
    done
}
it_wait "--exec to succeed for every South West alert" 30 exec_done
for seq in $(printed sw); do
    [ "$(grep -c "\"sequence\":$seq," "$IT_DIR/exec.$seq.json")" -eq 1 ] ||
        it_fail "--exec did not receive alert #$seq once as JSON on its stdin"
    [ "$(wc -l <"$IT_DIR/exec.$seq.tries")" -eq 3 ] ||
        it_fail "--exec ran $(wc -l <"$IT_DIR/exec.$seq.tries") times for #$seq, not 3"
done
it_wait "exec_fail to log the command's exit status" 10 \
    grep -q "alert-[0-9]* to --exec failed (attempt [0-9]*): the command exited with status 3" "$IT_DIR/logs/exec_fail.log"
it_wait "exec_slow to log the time-out" 10 \
    grep -q "timed out after 300 ms and was killed" "$IT_DIR/logs/exec_slow.log"

it_stop exec_fail
it_stop exec_slow
it_stop agent
it_stop nw2
it_stop sw
it_stop hub
it_pass "catch-up exactly once in order, regions apart, fire/resolve/fire, ack and silence"
