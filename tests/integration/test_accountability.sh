#!/usr/bin/env bash
# Accountable, scoped alert actions with real processes and CURVE (deploy/SECURITY.md):
#  1. an oversight key without a team only reads: its ack and silence are refused (exit 5);
#  2. a team-and-region key acknowledges only its own alerts; the record names the person and
#     the key that vouched for them;
#  3. its silence "*|*|*" mutes only its team's alerts in its region, and names it; a matcher
#     naming another region is refused; --by is required; a silence longer than the hub's
#     --silence-max-days is refused;
#  4. silences are records: another region's key cannot end one, its own ends it early; silencing
#     again makes a new record; silence-history keeps both with who made and ended them.
#
#   test_accountability.sh --hub P --agent P --query P --keygen P [--refdir DIR]
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_init accountability "$@"
it_require hub agent query keygen
IT_INSECURE=0 # this test is about authenticated identities
it_hub_endpoints

blackpool=E06000009 bristol=E06000023 # North West, South West
areas=(E06000008 "$blackpool" E08000001 E08000002 E08000003 E06000022 "$bristol" E06000024)

cat >"$IT_DIR/rules.ini" <<'INI'
[worse_than_england]
metrics = continuity_of_care
level = 99.8
INI

q() { # OUT KEY_ROLE KEY_ID [TEAM,REGION] -- ARGS...: cdof-query as that key; its exit status
    local out=$1 role=$2 id=$3 scope=""
    shift 3
    if [ "$1" != -- ]; then
        scope=$1
        shift
    fi
    shift
    local rc=0
    # shellcheck disable=SC2046
    timeout 10 "$IT_QUERY" --hub "$query" $(it_sec "$role" "$id" "$scope") "$@" >"$IT_DIR/$out" \
        2>"$IT_DIR/$out.err" || rc=$?
    return $rc
}
expect_status() { # WANT OUT ROLE ID [SCOPE] -- ARGS...
    local want=$1 rc=0
    shift
    q "$@" || rc=$?
    [ "$rc" = "$want" ] ||
        it_fail "cdof-query ${*:5} as $3 exited $rc, not $want: $(cat "$IT_DIR/$1.err" "$IT_DIR/$1")"
}

# Periods complete once a few areas have reported (the test sends a handful): alerts judge them.
printf 'metric_id,threshold_percent,deadline_days\n*,3,0\n' >"$IT_DIR/periods.csv"
it_start hub "$IT_HUB" --data "$IT_DIR/hub" --ingest "$ingest" --alerts "$alerts" \
    --query "$query" --rules "$IT_DIR/rules.ini" --periods "$IT_DIR/periods.csv" $(it_sec hub hub)
it_wait_hub
# Keys before the data, so that every registry reload is done with.
it_sec oversight reader >/dev/null
it_sec oversight nw hmpps,E12000002 >/dev/null
it_sec oversight sw hmpps,E12000009 >/dev/null
it_sec oversight ohid-nw ohid,E12000002 >/dev/null
it_sec jcdu director >/dev/null

# 3 (first part). The North West HMPPS team silences everything before the data arrives.
until=$(date -u -d "+30 days" +%F)
expect_status 2 nobody oversight nw -- silence '*|*|*' --until "$until" --reason "no name"
expect_status 0 sil1.csv oversight nw -- silence '*|*|*' --until "$until" \
    --reason "provider migration" --by "Pat North" --format csv
it_csv_has "$IT_DIR/sil1.csv" 'f["key_id"] == "nw" && f["scope_team"] == "hmpps" &&
    f["scope_region"] == "E12000002" && f["by"] == "Pat North" && f["id"] == 1' ||
    it_fail "the silence record lacks its key and scope: $(cat "$IT_DIR/sil1.csv")"
expect_status 5 sil2.csv oversight nw -- silence "*|*|$bristol" --until "$until" \
    --reason "not ours" --by "Pat North"
grep -q "not in it" "$IT_DIR/sil2.csv.err" || it_fail "no reason: $(cat "$IT_DIR/sil2.csv.err")"
expect_status 1 sil3.csv jcdu director -- silence '*|*|*' \
    --until "$(date -u -d "+100 days" +%F)" --reason "long" --by "Director"
grep -q "at most 90 days" "$IT_DIR/sil3.csv.err" || it_fail "no reason: $(cat "$IT_DIR/sil3.csv.err")"
expect_status 5 sil4.csv oversight reader -- silence '*|*|*' --until "$until" --reason r --by X
grep -q "may only read" "$IT_DIR/sil4.csv.err" || it_fail "no reason: $(cat "$IT_DIR/sil4.csv.err")"

# Data: Blackpool (North West) and Bristol (South West) worse than England.
spool="$IT_DIR/agent/spool"
mkdir -p "$IT_DIR/agent"
it_start agent "$IT_AGENT" --id ons-test --hub "$ingest" --spool "$spool" \
    --data "$IT_DIR/agent/data" --national $(it_sec national ons-test)
f="$IT_DIR/drop.csv"
echo "metric_id,area_code,period,numerator,denominator,value,note" >"$f"
for a in "${areas[@]}"; do
    num=45
    [ "$a" != "$blackpool" ] && [ "$a" != "$bristol" ] || num=10
    echo "continuity_of_care,$a,2024-04,$num,100,," >>"$f"
done
it_drop "$spool" "$f"
firing() { # AREA: the sequence of its firing record, into $IT_DIR/seq.$AREA
    q all.csv jcdu director -- alerts --format csv || return 1
    awk "$IT_AWK_SPLIT_CSV"'NR == 1 { n = split_csv($0, col); for (i = 1; i <= n; i++) c[col[i]] = i; next }
        { split_csv($0, v); if (v[c["area_code"]] == "'"$1"'" && v[c["state"]] == "firing") print v[c["sequence"]], v[c["muted_by"]] }' \
        "$IT_DIR/all.csv" >"$IT_DIR/seq.$1" && [ -s "$IT_DIR/seq.$1" ]
}
it_wait "Blackpool's alert" 30 firing "$blackpool"
it_wait "Bristol's alert" 30 firing "$bristol"
bp_seq=$(cut -d' ' -f1 "$IT_DIR/seq.$blackpool") br_seq=$(cut -d' ' -f1 "$IT_DIR/seq.$bristol")
grep -q "silenced until .* by Pat North via nw: provider migration (silence #1)" \
    "$IT_DIR/seq.$blackpool" || it_fail "Blackpool's alert is not muted by silence #1: $(cat "$IT_DIR/seq.$blackpool")"
[ "$(cut -d' ' -f2- "$IT_DIR/seq.$bristol")" = "" ] ||
    it_fail "the North West's silence muted Bristol: $(cat "$IT_DIR/seq.$bristol")"

# 1 and 2. Acknowledgements by scope.
expect_status 5 ack1.csv oversight reader -- ack "$bp_seq" --by "Reader"
expect_status 5 ack2.csv oversight ohid-nw -- ack "$bp_seq" --by "Yorkshire Team Lead"
grep -q "outside its team and region" "$IT_DIR/ack2.csv.err" ||
    it_fail "no reason: $(cat "$IT_DIR/ack2.csv.err")"
expect_status 5 ack3.csv oversight nw -- ack "$br_seq" --by "Pat North"
expect_status 0 ack4.csv oversight nw -- ack "$bp_seq" --by "Pat North" --format csv
it_csv_has "$IT_DIR/ack4.csv" 'f["acknowledged_by"] == "Pat North" && f["summary"] ~ /via nw/' ||
    it_fail "the acknowledgement does not name its key: $(cat "$IT_DIR/ack4.csv")"
expect_status 0 ack5.csv jcdu director -- ack "$br_seq" --by "Director" --format csv

# 4. Silences are records.
expect_status 5 un1.csv oversight sw -- unsilence 1 --by "Sam South"
expect_status 5 un2.csv oversight reader -- unsilence 1 --by "Reader"
expect_status 0 un3.csv oversight nw -- unsilence 1 --by "Pat North" --format csv
it_csv_has "$IT_DIR/un3.csv" 'f["ended_by"] == "Pat North" && f["ended_key_id"] == "nw" &&
    f["ended_ms"] + 0 > 0' || it_fail "the ended record: $(cat "$IT_DIR/un3.csv")"
expect_status 1 un4.csv oversight nw -- unsilence 1 --by "Pat North"
expect_status 0 sil5.csv oversight nw -- silence '*|*|*' --until "$until" --reason "again" \
    --by "Pat North"
expect_status 0 now.csv oversight reader -- silences --format csv
[ "$(($(wc -l <"$IT_DIR/now.csv") - 1))" -eq 1 ] && it_csv_has "$IT_DIR/now.csv" 'f["id"] == 2' ||
    it_fail "silences in force: $(cat "$IT_DIR/now.csv")"
expect_status 0 hist.csv oversight reader -- silence-history --format csv
it_csv_has "$IT_DIR/hist.csv" 'f["id"] == 1 && f["ended_by"] == "Pat North"' &&
    it_csv_has "$IT_DIR/hist.csv" 'f["id"] == 2 && f["reason"] == "again" && f["ended_ms"] == 0' ||
    it_fail "silence history: $(cat "$IT_DIR/hist.csv")"
grep -q "refused a silence by reader: key 'reader' (oversight) may only read" \
    "$IT_DIR/logs/hub.log" || it_fail "the hub did not log the refused silence"

it_stop agent
it_stop hub
it_pass "reader refused, scoped acks and silences with their keys, silence records and history"
