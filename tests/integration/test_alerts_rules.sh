#!/usr/bin/env bash
# The rules on series and on time, with real processes and the hub's clock injected at
# 2024-09-15 (CDOF_FAKE_NOW, test-only):
#  - worsening_trend fires for the one area whose continuity of care falls month after month;
#  - data_quality flags the one area whose numbers in treatment jump far from its own history;
#  - data_overdue fires for the area that stopped reporting, and while it fires that area's
#    "worse than England" alert is stored muted (inhibited); once the late data arrives the
#    overdue alert resolves and the underperformance alert is notified unmuted.
#
#   test_alerts_rules.sh --hub P --agent P --query P [--refdir DIR]
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_init alerts_rules "$@"
it_require hub agent query
it_hub_endpoints

blackpool=E06000009 # stops after April, then sends May to July late (and bad)
bolton=E08000001    # falls 4 points a month
manchester=E08000003
areas=(E06000008 "$blackpool" "$bolton" E08000002 "$manchester" E06000022 E06000023 E06000024)

cat >"$IT_DIR/rules.ini" <<'EOF'
[worse_than_england]
metrics = continuity_of_care
level = 99.8

[worsening_trend]
metrics = continuity_of_care

# The same comparison, asking for two bad periods in a row.
[worse_twice]
kind = worse_than_england
metrics = continuity_of_care
level = 99.8
consecutive = 2

[data_quality]
metrics = numbers_in_treatment
history = 6

[data_overdue]
metrics = continuity_of_care
days = 30
EOF

spool="$IT_DIR/agent/spool"
mkdir -p "$IT_DIR/agent"
n_drop=0
# drop FILE: delivers a prepared CSV and waits until the hub has it all.
drop() {
    n_drop=$((n_drop + 1))
    it_drop "$spool" "$1"
    it_wait "$(basename "$1") to be processed" 30 test -e "$spool/done/$(basename "$1")"
    it_wait "agent outbox to drain after $(basename "$1")" 30 outbox_empty
}
outbox_empty() {
    "$IT_AGENT" status --data "$IT_DIR/agent/data" --format json >"$IT_DIR/status.json" \
        2>>"$IT_DIR/logs/status.log" &&
        grep -Eq '"outbox_depth": *0([^0-9]|$)' "$IT_DIR/status.json"
}
# key_records KEY: "state/muted" of each stored record of a key, in order, space-separated
# (muted is "muted" or "-").
key_records() {
    it_query "$IT_DIR/alerts.csv" --hub "$query" $(it_sec jcdu query) alerts --format csv ||
        return 1
    awk "$IT_AWK_SPLIT_CSV"'
        NR == 1 { n = split_csv($0, col); for (i = 1; i <= n; i++) c[col[i]] = i; next }
        { split_csv($0, v)
          if (v[c["dedupe_key"]] == "'"$1"'")
              printf "%s/%s ", v[c["state"]], v[c["muted_by"]] == "" ? "-" : "muted" }' \
        "$IT_DIR/alerts.csv"
}
records_are() { [ "$(key_records "$1")" = "$2" ]; }
# rule_keys RULE: the keys of a rule that have any record, sorted, space-separated.
rule_keys() {
    awk "$IT_AWK_SPLIT_CSV"'
        NR == 1 { n = split_csv($0, col); for (i = 1; i <= n; i++) c[col[i]] = i; next }
        { split_csv($0, v); if (v[c["rule"]] == "'"$1"'") print v[c["dedupe_key"]] }' \
        "$IT_DIR/alerts.csv" | sort -u | tr '\n' ' '
}

# Phase 1: January to July for every area, but Blackpool only to April.
first="$IT_DIR/phase1.csv"
{
    echo "metric_id,area_code,period,numerator,denominator,value,note"
    for m in 1 2 3 4 5 6 7; do
        for a in "${areas[@]}"; do
            num=450
            [ "$a" = "$bolton" ] && num=$((450 - 40 * (m - 1)))
            [ "$a" = "$blackpool" ] && [ "$m" -gt 4 ] && continue
            printf 'continuity_of_care,%s,2024-%02d,%d,1000,,\n' "$a" "$m" "$num"
        done
        jump=$((1000 + (m % 2) * 10))
        [ "$m" = 7 ] && jump=5000
        printf 'numbers_in_treatment,E08000002,2024-%02d,,,%d,\n' "$m" $((800 + (m % 3) * 10))
        printf 'numbers_in_treatment,%s,2024-%02d,,,%d,\n' "$manchester" "$m" "$jump"
    done
} >"$first"

# Periods are judged once complete. Only these areas report here: with the deadline at the
# period's end (all past by 2024-09-15), 4% of the 153 expected areas (7: Blackpool is missing
# from May) complete continuity of care, and 1% (2) numbers in treatment. Later rows for a
# complete period are revisions, judged again.
printf '%s\n' metric_id,threshold_percent,deadline_days continuity_of_care,4,0 \
    numbers_in_treatment,1,0 >"$IT_DIR/periods.csv"
CDOF_FAKE_NOW=2024-09-15T12:00:00Z it_start hub "$IT_HUB" --data "$IT_DIR/hub" \
    --ingest "$ingest" --alerts "$alerts" --query "$query" --rules "$IT_DIR/rules.ini" \
    --periods "$IT_DIR/periods.csv" $(it_sec hub hub)
it_wait_hub
it_start agent "$IT_AGENT" --id ons-test --hub "$ingest" --spool "$spool" \
    --data "$IT_DIR/agent/data" --national $(it_sec national ons-test)
drop "$first"

overdue="data_overdue|continuity_of_care|$blackpool"
worse="worse_than_england|continuity_of_care|$blackpool"
it_wait "data_overdue to fire for Blackpool (May was due by 2024-06-30)" 30 \
    records_are "$overdue" "firing/- "
keys_are() { key_records "$overdue" >/dev/null && [ "$(rule_keys "$1")" = "$2" ]; }
it_wait "worsening_trend to fire for Bolton only" 20 \
    keys_are worsening_trend "worsening_trend|continuity_of_care|$bolton "
it_wait "data_quality to fire for Manchester only" 20 \
    keys_are data_quality "data_quality|numbers_in_treatment|$manchester "
[ "$(rule_keys data_overdue)" = "$overdue " ] ||
    it_fail "data_overdue keys: $(rule_keys data_overdue), expected only Blackpool's"
records_are "$worse" "" || it_fail "Blackpool worse than England before its bad data"
# Bolton is first worse in March: worse_than_england fires on March, worse_twice on April.
first_period() { # RULE
    awk "$IT_AWK_SPLIT_CSV"'
        NR == 1 { n = split_csv($0, col); for (i = 1; i <= n; i++) c[col[i]] = i; next }
        { split_csv($0, v)
          if (v[c["dedupe_key"]] == "'"$1|continuity_of_care|$bolton"'") { print v[c["period"]]; exit } }' \
        "$IT_DIR/alerts.csv"
}
[ "$(first_period worse_than_england)/$(first_period worse_twice)" = "2024-03/2024-04" ] ||
    it_fail "Bolton fired on $(first_period worse_than_england) and, two in a row," \
        "$(first_period worse_twice): expected 2024-03 and 2024-04"

# Phase 2: Blackpool's May arrives late and bad: still overdue (June is missing), so its
# "worse than England" alert is stored muted.
second="$IT_DIR/phase2.csv"
printf '%s\n%s\n' "metric_id,area_code,period,numerator,denominator,value,note" \
    "continuity_of_care,$blackpool,2024-05,100,1000,," >"$second"
drop "$second"
it_wait "Blackpool's worse_than_england to fire muted" 20 records_are "$worse" "firing/muted "
grep -q "inhibited while $overdue" "$IT_DIR/alerts.csv" ||
    it_fail "the muted alert does not say it is inhibited by $overdue"

# Phase 3: June and July arrive: no longer overdue; the underperformance alert, still firing,
# is notified unmuted.
third="$IT_DIR/phase3.csv"
{
    echo "metric_id,area_code,period,numerator,denominator,value,note"
    echo "continuity_of_care,$blackpool,2024-06,100,1000,,"
    echo "continuity_of_care,$blackpool,2024-07,100,1000,,"
} >"$third"
drop "$third"
it_wait "data_overdue to resolve for Blackpool" 30 records_are "$overdue" "firing/- resolved/- "
it_wait "Blackpool's worse_than_england to be notified once the inhibition ends" 20 \
    records_are "$worse" "firing/muted firing/- "

it_stop agent
it_stop hub
it_pass "trend, data quality, data overdue and its inhibition of underperformance alerts"
