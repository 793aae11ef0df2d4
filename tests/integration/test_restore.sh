#!/usr/bin/env bash
# A hub restored from an older backup ends complete: four agents stream 20,220 rows
# (200 revising earlier ones); `cdof-hub backup` copies the running hub's store mid-stream; the
# rest arrives and is committed; then the hub is SIGKILLed (and one agent with it), its store
# replaced by the older backup, and both restarted. The agents, which keep acknowledged entries for their retention period, see the
# hub's high-water below what it acknowledged and resend from there; the store must end holding
# exactly the rows sent, as test_fault.sh checks it.
#
#   test_restore.sh --hub P --agent P [--refdir DIR]     with CDOF_STORE_DUMP=path/to/store_dump
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_init restore "$@"
# shellcheck source-path=SCRIPTDIR source=fault_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/fault_lib.sh"

NAGENTS=4 REVISE=50
fl_setup
BACKUP="$IT_DIR/backup"

fl_start_hub
fl_start_agents
fl_drop 1 5
# Mid-stream: a fifth of the rows committed, more on the way.
fl_wait_progress $((TOTAL / 5)) 60
"$IT_HUB" backup --data "$HDATA" "$BACKUP" >"$IT_DIR/logs/backup.out" 2>"$IT_DIR/logs/backup.log" ||
    it_fail "cdof-hub backup failed while the hub ran: $(cat "$IT_DIR/logs/backup.log")"
in_backup=$(fl_committed "$BACKUP")
it_log "backup taken with $in_backup of $TOTAL rows committed"
[ "$in_backup" -gt 0 ] || it_fail "the backup holds no rows (or does not open)"

fl_drop 6 "$NFILES"
fl_drop_revisions
it_wait "the hub to commit all $TOTAL rows" 90 fl_all_committed
[ "$in_backup" -lt "$TOTAL" ] || it_fail "the backup already held every row: nothing to test"

# Disaster: the hub and agent 0 die; the hub's store comes back from the older backup.
it_kill9 "$HUB"
it_kill9 "${AGENT[0]}"
rm -rf "$HDATA"
cp -a "$BACKUP" "$HDATA"
[ "$(fl_committed)" -eq "$in_backup" ] || it_fail "the restored store does not hold the backup"
it_log "restored the backup ($in_backup rows); $((TOTAL - in_backup)) rows to come back"
fl_start_hub
fl_start_agent 0
fl_settle 90
fl_verify
resent=$(cat "$IT_DIR"/logs/agent*.log | grep -c "resending [0-9]* retained entries" || true)
[ "$resent" -ge 1 ] || it_fail "no agent logged resending retained entries"
it_pass "hub restored from a backup of $in_backup rows ended with all $TOTAL exactly once" \
    "($resent agents resent retained entries)"
