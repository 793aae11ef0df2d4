#!/usr/bin/env bash
# The restore drill of deploy/OPERATIONS.md, run: a running hub's store is backed up by the
# backup job the timer runs (deploy/hub-backup.sh), three times with --keep 2, so that rotation
# must remove the oldest; every copy is readable by its owner only (0700 directory, 0600
# data.mdb); a failed backup leaves the kept copies alone; then the newest copy is restored into
# a new directory, a second hub started on it answers with the rows the first one held.
#
#   test_backup_drill.sh --hub P --agent P --query P --keygen P [--refdir DIR]
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_init backup_drill "$@"
it_require hub agent query keygen
job="$(dirname "${BASH_SOURCE[0]}")/../../deploy/hub-backup.sh"
[ -f "$job" ] || it_fail "no backup job at $job"

it_hub_endpoints
area=E06000009
it_start hub "$IT_HUB" --data "$IT_DIR/hub" --ingest "$ingest" --alerts "$alerts" \
    --query "$query" $(it_sec hub hub)
it_wait "hub listening" 20 it_listening "$p_query"
mkdir -p "$IT_DIR/agent"
it_start agent "$IT_AGENT" --id "$area" --hub "$ingest" --spool "$IT_DIR/agent/spool" \
    --data "$IT_DIR/agent/data" --areas "$area" $(it_sec partnership "$area" "$area")
{
    echo "metric_id,area_code,period,numerator,denominator,value,note"
    echo "continuity_of_care,$area,2024-04,31,100,,"
    echo "continuity_of_care,$area,2024-05,37,100,,"
} >"$IT_DIR/drop.csv"
it_drop "$IT_DIR/agent/spool" "$IT_DIR/drop.csv"
stored() { # QUERY_EP: the hub there holds both rows
    it_query "$IT_DIR/area.csv" --hub "$1" $(it_sec jcdu query) series continuity_of_care "$area" \
        --format csv &&
        it_csv_has "$IT_DIR/area.csv" 'f["numerator"] + 0 == 31' &&
        it_csv_has "$IT_DIR/area.csv" 'f["numerator"] + 0 == 37'
}
it_wait "the hub to store the drop" 30 stored "$query"

# Three backups one second apart (the copies are named by the second), keeping two.
dest="$IT_DIR/backups"
mkdir -p "$dest"
for i in 1 2 3; do
    [ "$i" = 1 ] || it_wait "the next second" 3 bash -c "[ \"\$(date -u +%s)\" -gt $last ]"
    last=$(date -u +%s)
    CDOF_BACKUP_KEEP=2 sh "$job" --hub "$IT_HUB" --data "$IT_DIR/hub" --dest "$dest" \
        >>"$IT_DIR/logs/backup.out" 2>>"$IT_DIR/logs/backup.log" ||
        it_fail "backup $i failed: $(cat "$IT_DIR/logs/backup.log")"
done
mapfile -t copies < <(find "$dest" -mindepth 1 -maxdepth 1 | LC_ALL=C sort)
[ "${#copies[@]}" -eq 2 ] || it_fail "expected 2 copies kept, found: ${copies[*]}"
grep -q "removed .*hub-" "$IT_DIR/logs/backup.out" || it_fail "rotation removed nothing"
for c in "${copies[@]}"; do
    [[ "$(basename "$c")" == hub-*Z ]] || it_fail "unexpected entry $c in $dest"
    [ "$(stat -c %a "$c")" = 700 ] || it_fail "$c is mode $(stat -c %a "$c"), not 700"
    [ "$(stat -c %a "$c/data.mdb")" = 600 ] ||
        it_fail "$c/data.mdb is mode $(stat -c %a "$c/data.mdb"), not 600"
done

# cdof-hub backup by hand, under a permissive umask, still writes a copy for its owner only.
(umask 022 && "$IT_HUB" backup --data "$IT_DIR/hub" "$IT_DIR/by-hand" >>"$IT_DIR/logs/backup.out" \
    2>>"$IT_DIR/logs/backup.log") || it_fail "cdof-hub backup failed: $(cat "$IT_DIR/logs/backup.log")"
[ "$(stat -c %a "$IT_DIR/by-hand/data.mdb")" = 600 ] ||
    it_fail "cdof-hub backup under umask 022 wrote data.mdb mode $(stat -c %a "$IT_DIR/by-hand/data.mdb")"

# A backup that fails (no store there) costs no kept copy and leaves no partial one behind.
if sh "$job" --hub "$IT_HUB" --data "$IT_DIR/no-such-store" --dest "$dest" --keep 1 \
    >>"$IT_DIR/logs/backup.out" 2>>"$IT_DIR/logs/backup-fail.log"; then
    it_fail "a backup of a missing store succeeded"
fi
[ "$(find "$dest" -mindepth 1 -maxdepth 1 | wc -l)" -eq 2 ] ||
    it_fail "a failed backup changed $dest: $(ls -a "$dest")"

# The drill: the newest copy into a new directory, a second hub on it.
restored="$IT_DIR/restored"
cp -a "${copies[1]}" "$restored"
it_hub_endpoints
it_start hub2 "$IT_HUB" --data "$restored" --ingest "$ingest" --alerts "$alerts" \
    --query "$query" $(it_sec hub hub)
it_wait "the restored hub listening" 20 it_listening "$p_query"
it_wait "the restored hub to answer with both rows" 20 stored "$query"
it_pass "3 backups of a running hub, 2 kept (0700/0600), a failed one harmless," \
    "the newest restored and served by a second hub"
