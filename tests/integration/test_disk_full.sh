#!/usr/bin/env bash
# The hub's disk fills up while an agent sends, with real processes on a small tmpfs mounted in a
# mount namespace of the test's own (nothing on the host is mounted):
#   1. rows that do not fit are not acknowledged, the hub stays up, and its log says the disk is
#      full without a line per attempt (the agent resends every few seconds);
#   2. once room is made, every row arrives, each once, with nothing lost before or after;
#   3. the store then passes `cdof-hub verify`.
# Skips (77, saying why) without root or where a mount namespace or tmpfs is not allowed.
#
#   CDOF_STORE_DUMP=P test_disk_full.sh --hub P --agent P --query P [--refdir DIR]
set -euo pipefail
if [ "${CDOF_DISK_FULL_INNER:-}" != 1 ]; then
    [ "${EUID:-$(id -u)}" -eq 0 ] || { echo "SKIP [disk_full]: needs root to mount a tmpfs"; exit 77; }
    unshare --mount true 2>/dev/null ||
        { echo "SKIP [disk_full]: unshare --mount is not allowed here"; exit 77; }
    CDOF_DISK_FULL_INNER=1 exec unshare --mount --propagation private bash "$0" "$@"
fi
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_init disk_full "$@"
it_require hub agent query
it_hub_endpoints
DUMP=${CDOF_STORE_DUMP:-}
[ -x "$DUMP" ] || it_fail "CDOF_STORE_DUMP must name the store_dump tool (got '$DUMP')"

disk="$IT_DIR/disk"
mkdir -p "$disk"
mount -t tmpfs -o size=24m tmpfs "$disk" 2>"$IT_DIR/logs/mount.log" || {
    echo "SKIP [disk_full]: cannot mount a tmpfs: $(cat "$IT_DIR/logs/mount.log")"
    exit 77
}

HDATA="$disk/hub"
areas="E06000008,E06000009"
spool="$IT_DIR/agent/spool"
it_start hub "$IT_HUB" --data "$HDATA" --ingest "$ingest" --alerts "$alerts" \
    --query "$query" ${DISK_FULL_HUB_ARGS:-} $(it_sec hub hub)
it_wait_hub
mkdir -p "$IT_DIR/agent"
it_start agent "$IT_AGENT" --id nw-disk --hub "$ingest" --spool "$spool" \
    --data "$IT_DIR/agent/data" --areas "$areas" $(it_sec partnership nw-disk "$areas")

depth() {
    "$IT_AGENT" status --data "$IT_DIR/agent/data" --format json >"$IT_DIR/status.json" \
        2>>"$IT_DIR/logs/status.log" || return 1
    sed -n 's/.*"outbox_depth": *\([0-9]*\).*/\1/p' "$IT_DIR/status.json"
}
drained() { [ "$(depth)" = 0 ]; }
# year FILE FIRST_YEAR LAST_YEAR: monthly rows for both areas.
year() {
    local f=$1 y m
    {
        echo "metric_id,area_code,period,numerator,denominator"
        for ((y = $2; y <= $3; y++)); do
            for m in 01 02 03 04 05 06 07 08 09 10 11 12; do
                echo "continuity_of_care,E06000008,$y-$m,$((40 + 10#$m)),100"
                echo "continuity_of_care,E06000009,$y-$m,$((10 + 10#$m)),100"
            done
        done
    } >"$f"
}

# A first file arrives while there is room.
year "$IT_DIR/a.csv" 2015 2016
it_drop "$spool" "$IT_DIR/a.csv"
it_wait "a.csv to move to done/" 60 test -e "$spool/done/a.csv"
it_wait "a.csv's 48 rows to be acknowledged" 60 drained

# 1. Fill the disk, leaving less than the next commit needs, and send more.
dd if=/dev/zero of="$disk/filler" bs=64k 2>/dev/null || true
sync
free_kb=$(df -k --output=avail "$disk" | tail -n 1 | tr -d ' ')
[ "$free_kb" -lt 64 ] || it_fail "the filler left $free_kb KiB free"
lines_before=$(wc -l <"$IT_DIR/logs/hub.log")
year "$IT_DIR/b.csv" 2017 2024
it_drop "$spool" "$IT_DIR/b.csv"
it_wait "b.csv to move to done/" 60 test -e "$spool/done/b.csv"
# The agent resends at its ack timeout; give it several attempts against the full disk.
full_logged() { grep -q "the disk is full.*free space" "$IT_DIR/logs/hub.log"; }
it_wait "the hub to say its disk is full and what to do" 60 full_logged
sleep 10
it_check_alive
d=$(depth)
[ -n "$d" ] && [ "$d" -gt 0 ] || it_fail "rows were acknowledged while the disk was full (depth '$d')"
lines=$(($(wc -l <"$IT_DIR/logs/hub.log") - lines_before))
[ "$lines" -lt 200 ] || it_fail "the hub wrote $lines log lines in about 10 s of a full disk"
# Said once per state change, not per resend or alert tick, and as a full disk, not an I/O error.
said=$(grep -cv " debug: " "$IT_DIR/logs/hub.log" | tr -d ' ')
errs=$(grep -v " debug: " "$IT_DIR/logs/hub.log" | grep -c " error: " || true)
[ "$errs" -le 2 ] || it_fail "the hub logged $errs errors for one full disk: $(grep ' error: ' \
    "$IT_DIR/logs/hub.log" | head -n 5)"
! grep -v " debug: " "$IT_DIR/logs/hub.log" | grep -q "Input/output error" ||
    it_fail "a full disk was reported as an I/O error"
it_log "disk full: $d rows waiting, $lines hub log lines ($said above debug), $errs error(s)"

# 2. Room again: everything arrives, once.
rm -f "$disk/filler"
it_wait "every row to be acknowledged after room was made" 120 drained
it_check_alive
grep -q "writes succeed again" "$IT_DIR/logs/hub.log" || it_fail "the hub did not say it recovered"

# 3. The store holds each (area, month) sent once, nothing superseded, and is whole. The stored
# points are counted, not query results: comparisons are computed after the data and may lag.
it_stop hub
"$DUMP" "$HDATA" >"$IT_DIR/dump" || it_fail "store_dump failed"
{ awk -F, 'NR > 1 { print $1 "|" $2 "|" $3 "|" $4 "|" $5 }' "$IT_DIR/a.csv"
  awk -F, 'NR > 1 { print $1 "|" $2 "|" $3 "|" $4 "|" $5 }' "$IT_DIR/b.csv"; } | sort >"$IT_DIR/sent"
awk -F'|' '$1 == "P" { print $2 "|" $3 "|" $4 "|" $7 "|" $8 }' "$IT_DIR/dump" | sort >"$IT_DIR/got"
diff "$IT_DIR/sent" "$IT_DIR/got" >"$IT_DIR/points.diff" ||
    it_fail "store differs from the rows sent: $(grep -c '^<' "$IT_DIR/points.diff") missing," \
        "$(grep -c '^>' "$IT_DIR/points.diff") extra (< sent, > stored)"
nsent=$(wc -l <"$IT_DIR/sent" | tr -d ' ')
grep -qx "H|0" "$IT_DIR/dump" ||
    it_fail "history holds $(grep '^H|' "$IT_DIR/dump" | cut -d'|' -f2) superseded values, not 0:" \
        "a row was stored twice"
grep -qx "A|nw-disk|$nsent" "$IT_DIR/dump" ||
    it_fail "agent high-water is not $nsent: $(grep '^A|' "$IT_DIR/dump")"
seqs=$(awk -F'|' '$1 == "P" { print $6 }' "$IT_DIR/dump" | sort -un | wc -l | tr -d ' ')
[ "$seqs" -eq "$nsent" ] || it_fail "$seqs distinct sequences stored for $nsent rows"
"$IT_HUB" verify --data "$HDATA" >"$IT_DIR/logs/verify.out" 2>&1 ||
    it_fail "verify failed after the disk was full: $(cat "$IT_DIR/logs/verify.out")"
it_stop_all
umount "$disk" || true
it_pass "a full disk acknowledged nothing and logged $errs error(s); afterwards all $nsent rows arrived once"
