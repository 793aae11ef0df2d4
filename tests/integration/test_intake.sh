#!/usr/bin/env bash
# What an agent does with files nobody renamed into its spool, with real hub and agent:
#   1. a file written in place (as cp or a Windows share writes) is taken only once complete:
#      its last row, half written when the file appeared and never ended by a newline, arrives
#      whole (50/1000, not 50/100);
#   2. a symlink and a named pipe in in/ go to rejected/ with a report saying why;
#   3. a misspelt header column refuses the file, naming the column and the one it resembles;
#   4. a correction reverted by dropping the earlier file's content again (8, 9, then 8) leaves
#      the hub at 8, and a re-drop of that latest state sends nothing;
#   5. command-line rough edges: a bad period exits 2, JSON booleans and numbers are JSON's own,
#      an empty rolling table says why, --key NAME.pub says it is the public half, an unknown
#      milestone kind lists the kinds, and a table on a terminal uses the terminal's width;
#   6. a file that would take the outbox past its bound (--outbox-max-mb) is refused, saying so.
#
#   test_intake.sh --hub P --agent P --query P [--refdir DIR]
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_init intake "$@"
it_require hub agent query
it_hub_endpoints

areas="E06000008,E06000009"
spool="$IT_DIR/agent/spool"
it_start hub "$IT_HUB" --data "$IT_DIR/hub" --ingest "$ingest" --alerts "$alerts" \
    --query "$query" --settle-ms 0 $(it_sec hub hub)
it_wait_hub
mkdir -p "$IT_DIR/agent"
it_start agent "$IT_AGENT" --id nw-intake --hub "$ingest" --spool "$spool" \
    --data "$IT_DIR/agent/data" --areas "$areas" --stable-ms 2000 --outbox-max-mb 16 \
    $(it_sec partnership nw-intake "$areas")
it_wait "agent to create $spool/in" 20 test -d "$spool/in"

# num_is AREA PERIOD NUM DEN: the hub holds NUM/DEN for continuity of care there.
num_is() {
    it_query "$IT_DIR/area.csv" --hub "$query" $(it_sec jcdu query) area "$1" "$2" \
        --format csv &&
        it_csv_has "$IT_DIR/area.csv" 'f["metric_id"] == "continuity_of_care" && f["numerator"] + 0 == '"$3"' && f["denominator"] + 0 == '"$4"
}
status_json() {
    "$IT_AGENT" status --data "$IT_DIR/agent/data" --format json >"$IT_DIR/status.json" \
        2>>"$IT_DIR/logs/status.log"
}
drained() { status_json && grep -Eq '"outbox_depth": *0([^0-9]|$)' "$IT_DIR/status.json"; }

# 1. Written in place, the last row cut off mid-number while the writer pauses (1.2 s, well
# under --stable-ms; the file is not closed in between).
exec 3>"$spool/in/inplace.csv"
printf 'metric_id,area_code,period,numerator,denominator\n' >&3
printf 'continuity_of_care,E06000008,2024-01,45,100\n' >&3
printf 'continuity_of_care,E06000009,2024-01,50,100' >&3
sleep 1.2
[ -e "$spool/in/inplace.csv" ] || it_fail "inplace.csv was taken while being written"
printf '0' >&3 # and the file ends without a newline: its last row is taken, checked as any
exec 3>&-
it_wait "inplace.csv to move to done/" 30 test -e "$spool/done/inplace.csv"
grep -q "took inplace.csv: 2 rows, 2 to outbox" "$IT_DIR/logs/agent.log" ||
    it_fail "inplace.csv was not taken whole: $(grep inplace "$IT_DIR/logs/agent.log")"
it_wait "the hub to hold 50/1000 for E06000009 2024-01" 20 num_is E06000009 2024-01 50 1000

# 2. A symlink and a named pipe: never read, moved to rejected/ with a reason.
ln -s /etc/hostname "$spool/in/link.csv"
mkfifo "$spool/in/pipe.csv"
it_wait "link.csv to move to rejected/" 20 test -L "$spool/rejected/link.csv"
it_wait "pipe.csv to move to rejected/" 20 test -p "$spool/rejected/pipe.csv"
grep -q "symbolic link" "$spool/rejected/link.csv.errors.csv" ||
    it_fail "link.csv.errors.csv does not say it was a symbolic link"
grep -q "named pipe" "$spool/rejected/pipe.csv.errors.csv" ||
    it_fail "pipe.csv.errors.csv does not say it was a named pipe"
grep -q "rejected .*link.csv: a symbolic link" "$IT_DIR/logs/agent.log" ||
    it_fail "the agent logged nothing about link.csv"

# 3. A header typo names the column and its likely intent, in errors.csv and the log.
printf 'metric_id,area_code,period,numerator,denominater\ncontinuity_of_care,E06000008,2024-03,4,10\n' \
    >"$IT_DIR/typo.csv"
it_drop "$spool" "$IT_DIR/typo.csv"
it_wait "typo.csv to move to rejected/" 20 test -e "$spool/rejected/typo.csv"
grep -q "unknown column 'denominater' (did you mean 'denominator'?)" \
    "$spool/rejected/typo.csv.errors.csv" ||
    it_fail "typo.csv.errors.csv: $(cat "$spool/rejected/typo.csv.errors.csv")"
grep -q "denominater.*did you mean 'denominator'" "$IT_DIR/logs/agent.log" ||
    it_fail "the agent log does not suggest 'denominator' for typo.csv"

# 4. Values 8, 9, then the first file's content again under a new name.
rev() { printf 'metric_id,area_code,period,numerator,denominator\ncontinuity_of_care,E06000008,2024-02,%s,100\ncontinuity_of_care,E06000009,2024-02,30,100\n' "$1"; }
rev 8 >"$IT_DIR/jan-v1.csv"
rev 9 >"$IT_DIR/jan-v2.csv"
rev 8 >"$IT_DIR/jan-v3.csv"
for v in 1 2 3; do
    it_drop "$spool" "$IT_DIR/jan-v$v.csv"
    it_wait "jan-v$v.csv to move to done/" 30 test -e "$spool/done/jan-v$v.csv"
    it_wait "the outbox to drain after jan-v$v.csv" 30 drained
done
it_wait "the hub to hold 8/100 again for E06000008 2024-02" 20 num_is E06000008 2024-02 8 100
grep -q "took jan-v3.csv: same content as jan-v1.csv.*1 row differ" "$IT_DIR/logs/agent.log" ||
    it_fail "jan-v3.csv: $(grep jan-v3 "$IT_DIR/logs/agent.log")"
# The latest state dropped again: skipped, nothing sent.
rev 8 >"$IT_DIR/jan-v4.csv"
it_drop "$spool" "$IT_DIR/jan-v4.csv"
it_wait "jan-v4.csv to move to done/" 30 test -e "$spool/done/jan-v4.csv"
grep -q "skipped jan-v4.csv: same content as jan-v3.csv" "$IT_DIR/logs/agent.log" ||
    it_fail "jan-v4.csv: $(grep jan-v4 "$IT_DIR/logs/agent.log")"

# 6. A file bigger than the outbox may grow (--outbox-max-mb 16) is refused with the reason.
awk 'BEGIN { print "metric_id,area_code,period,numerator,denominator";
    for (i = 0; i < 110000; i++) printf "continuity_of_care,E06000008,%d-%02d,%d,100\n", 1900 + int(i / 12) % 100, i % 12 + 1, i % 90 }' \
    >"$IT_DIR/huge.csv"
it_drop "$spool" "$IT_DIR/huge.csv"
it_wait "huge.csv to move to rejected/" 30 test -e "$spool/rejected/huge.csv"
grep -q "more than its bound of 16 MiB (--outbox-max-mb)" "$spool/rejected/huge.csv.errors.csv" ||
    it_fail "huge.csv.errors.csv: $(cat "$spool/rejected/huge.csv.errors.csv")"

# 5. What a newcomer meets on the command line.
rc=0
"$IT_QUERY" --hub "$query" $(it_sec jcdu query) area E06000009 2024-13 >/dev/null \
    2>"$IT_DIR/badperiod.err" || rc=$?
[ "$rc" -eq 2 ] || it_fail "a bad period exited $rc, not 2 (usage)"
it_query "$IT_DIR/area.json" --hub "$query" $(it_sec jcdu query) area E06000009 2024-01 \
    --format json
grep -q '"worse_and_getting_worse":false' "$IT_DIR/area.json" ||
    it_fail "worse_and_getting_worse is not a JSON boolean: $(head -c 600 "$IT_DIR/area.json")"
grep -q '"numerator":50,' "$IT_DIR/area.json" || it_fail "numerator is not a JSON number"
"$IT_QUERY" --hub "$query" $(it_sec jcdu query) rolling continuity_of_care 2024-01 \
    >/dev/null 2>"$IT_DIR/rolling.err" || it_fail "rolling failed: $(cat "$IT_DIR/rolling.err")"
grep -q "no rolling 12-month figures end in 2024-01: .*12 months" "$IT_DIR/rolling.err" ||
    it_fail "an empty rolling table does not say why: $(cat "$IT_DIR/rolling.err")"
if [ -n "$(it_sec jcdu query | grep -o -- '--key [^ ]*')" ]; then
    pub=$(it_sec jcdu query | grep -o -- '--key [^ ]*' | cut -d' ' -f2)
    pub=${pub%.key}.pub
    rc=0
    "$IT_QUERY" --hub "$query" --key "$pub" --server-key "$pub" health >/dev/null \
        2>"$IT_DIR/pubkey.err" || rc=$?
    [ "$rc" -eq 2 ] && grep -q "is the public half of a key pair" "$IT_DIR/pubkey.err" ||
        it_fail "--key NAME.pub: exit $rc, $(cat "$IT_DIR/pubkey.err")"
fi
rc=0
"$IT_AGENT" milestone sro_nominatd --date 2024-01-01 --data "$IT_DIR/agent/data" \
    2>"$IT_DIR/milestone.err" || rc=$?
[ "$rc" -eq 2 ] && grep -q "the kinds are: sro_nominated, " "$IT_DIR/milestone.err" ||
    it_fail "unknown milestone kind: exit $rc, $(cat "$IT_DIR/milestone.err")"
# On a terminal 150 columns wide the table uses them (script gives the query a terminal).
if command -v script >/dev/null; then
    script -qec "stty cols 150 rows 50; '$IT_QUERY' --hub '$query' $(it_sec jcdu query) area E06000009 2024-01" \
        "$IT_DIR/tty.out" >/dev/null 2>&1 </dev/null || it_fail "cdof-query on a terminal failed"
    wide=$(tr -d '\r' <"$IT_DIR/tty.out" | awk '{ if (length($0) > m) m = length($0) } END { print m + 0 }')
    [ "$wide" -gt 80 ] || it_fail "on a 150-column terminal the table is $wide columns wide"
fi

it_stop agent
it_stop hub
it_pass "in-place file taken whole, symlink and pipe rejected, header typo named," \
    "8-9-8 left the hub at 8"
