#!/usr/bin/env bash
# The hub's store under faults, with real processes:
#   1. `cdof-hub verify` passes a running hub's store (read-only, no lock file written);
#   2. a backup killed mid-copy (here by its file-size limit, SIGXFSZ) leaves no data.mdb in its
#      destination, and the running hub frees the reader slot it left (logged);
#   3. the next backup into that destination succeeds and verifies;
#   4. the hub refuses, with a message saying what to do and without a crash, a truncated store,
#      an empty data.mdb and a missing one where store.id says a store was, and another store;
#   5. the backup restored in place starts, with a warning that it is older than the store was;
#   6. after a SIGKILL, a store whose pages were damaged fails the start-up consistency check.
#
#   test_store_faults.sh --hub P --agent P [--refdir DIR]
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_init store_faults "$@"
it_require hub agent
it_hub_endpoints

HDATA="$IT_DIR/hub"
DEST="$IT_DIR/backup"
areas="E06000008,E06000009"
spool="$IT_DIR/agent/spool"
start_hub() { # NAME DATA
    it_start "$1" "$IT_HUB" --data "$2" --ingest "$ingest" --alerts "$alerts" \
        --query "$query" $(it_sec hub hub)
    for p in "$p_ingest" "$p_alerts" "$p_query"; do
        it_wait "hub $1 listening on port $p" 20 it_listening "$p"
    done
}
# refused NAME DATA WORDS: a hub on DATA exits 1 (not by a signal) and logs WORDS.
refused() {
    local name=$1 data=$2 words=$3 rc=0
    timeout 30 "$IT_HUB" --data "$data" --ingest "$ingest" --alerts "$alerts" \
        --query "$query" $(it_sec hub hub) >"$IT_DIR/logs/$name.out" \
        2>"$IT_DIR/logs/$name.log" || rc=$?
    [ "$rc" -eq 1 ] || it_fail "hub on $name exited $rc, expected 1 (refused)"
    grep -q -- "$words" "$IT_DIR/logs/$name.log" ||
        it_fail "hub on $name did not say '$words': $(tail -n 2 "$IT_DIR/logs/$name.log")"
}

start_hub hub "$HDATA"
mkdir -p "$IT_DIR/agent"
it_start agent "$IT_AGENT" --id nw-store --hub "$ingest" --spool "$spool" \
    --data "$IT_DIR/agent/data" --areas "$areas" $(it_sec partnership nw-store "$areas")
{
    echo "metric_id,area_code,period,numerator,denominator"
    for m in 01 02 03 04 05 06 07 08 09 10 11 12; do
        echo "continuity_of_care,E06000008,2023-$m,$((40 + 10#$m)),100"
        echo "continuity_of_care,E06000009,2023-$m,$((10 + 10#$m)),100"
    done
} >"$IT_DIR/year.csv"
it_drop "$spool" "$IT_DIR/year.csv"
drained() {
    "$IT_AGENT" status --data "$IT_DIR/agent/data" --format json >"$IT_DIR/status.json" \
        2>>"$IT_DIR/logs/status.log" &&
        grep -Eq '"outbox_depth": *0([^0-9]|$)' "$IT_DIR/status.json"
}
it_wait "year.csv to move to done/" 30 test -e "$spool/done/year.csv"
it_wait "the agent's 24 rows to be acknowledged" 30 drained
grep -q "took year.csv: 24 rows, 24 to outbox" "$IT_DIR/logs/agent.log" ||
    it_fail "year.csv: $(grep year.csv "$IT_DIR/logs/agent.log")"

# 1. Verify a running hub's store.
"$IT_HUB" verify --data "$HDATA" >"$IT_DIR/logs/verify1.out" 2>&1 ||
    it_fail "verify of the running store failed: $(cat "$IT_DIR/logs/verify1.out")"
grep -q ": ok: store [0-9a-f]\{32\}" "$IT_DIR/logs/verify1.out" ||
    it_fail "verify said: $(cat "$IT_DIR/logs/verify1.out")"

# 2. A backup killed mid-copy: 4 KiB is less than the compacted store.
mkdir -p "$DEST"
rc=0
(
    ulimit -f 4
    exec "$IT_HUB" backup --data "$HDATA" "$DEST"
) >"$IT_DIR/logs/backup1.out" 2>&1 || rc=$?
[ "$rc" -gt 128 ] || it_fail "the size-limited backup was not killed (exit $rc)"
[ ! -e "$DEST/data.mdb" ] || it_fail "a killed backup left $DEST/data.mdb, which looks like a backup"
if "$IT_HUB" verify --data "$DEST" >"$IT_DIR/logs/verify2.out" 2>&1; then
    it_fail "verify passed what a killed backup left in $DEST"
fi
it_wait "the hub to clear the killed backup's reader slot" 30 \
    grep -q "cleared 1 reader slot left by killed processes" "$IT_DIR/logs/hub.log"

# 3. The next backup into the same place.
"$IT_HUB" backup --data "$HDATA" "$DEST" >"$IT_DIR/logs/backup2.out" 2>&1 ||
    it_fail "backup after a killed one failed: $(cat "$IT_DIR/logs/backup2.out")"
[ ! -e "$DEST/.data.mdb.partial" ] || it_fail "the partial copy is still in $DEST"
"$IT_HUB" verify --data "$DEST" >"$IT_DIR/logs/verify3.out" 2>&1 ||
    it_fail "the backup does not verify: $(cat "$IT_DIR/logs/verify3.out")"
it_stop agent
it_stop hub

# 4. Damaged or missing stores are refused, each with what to do.
cp -a "$HDATA" "$IT_DIR/trunc"
size=$(stat -c %s "$IT_DIR/trunc/data.mdb")
truncate -s $((size / 2)) "$IT_DIR/trunc/data.mdb"
refused trunc "$IT_DIR/trunc" "is truncated: .*restore the latest backup"
if "$IT_HUB" verify --data "$IT_DIR/trunc" >"$IT_DIR/logs/verify4.out" 2>&1; then
    it_fail "verify passed a truncated store"
fi
cp "$HDATA/data.mdb" "$IT_DIR/data.mdb.saved"
: >"$HDATA/data.mdb"
refused empty "$HDATA" "is empty (0 bytes), but .*store.id says store"
rm "$HDATA/data.mdb"
refused missing "$HDATA" "is missing, but .*restore the latest backup"
mkdir -p "$IT_DIR/other"
start_hub other "$IT_DIR/other"
it_stop other
cp "$IT_DIR/other/data.mdb" "$HDATA/data.mdb"
refused foreign "$HDATA" "is not the one this hub kept"

# 5. The backup restored in place: accepted, with a warning.
cp "$DEST/data.mdb" "$HDATA/data.mdb"
start_hub restored "$HDATA"
grep -q "older than the .* last seen: restored from a backup" "$IT_DIR/logs/restored.log" ||
    it_fail "the restored hub gave no warning: $(grep -i store "$IT_DIR/logs/restored.log")"
# 6. A hub killed, then its pages damaged (all but the two meta pages zeroed): the next start
# reads every record, as the last run did not close the store, and refuses.
it_kill9 restored
page=$(getconf PAGESIZE)
pages=$(($(stat -c %s "$HDATA/data.mdb") / page))
dd if=/dev/zero of="$HDATA/data.mdb" bs="$page" seek=2 count=$((pages - 2)) conv=notrunc \
    status=none
refused damaged "$HDATA" "not closed cleanly and fails its consistency check"
it_pass "killed backup left no backup and its reader was freed; truncated, empty, missing and" \
    "foreign stores refused; a restored backup accepted"
