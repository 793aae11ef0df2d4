#!/usr/bin/env bash
# An agent whose hub is away keeps everything and says so: with no hub listening, an
# agent takes a file into its outbox, keeps reconnecting, and once the oldest entry has waited 30
# heartbeat intervals reports the backlog in its log; `cdof-agent status` shows the depth. Then
# the hub starts, the backlog drains and the store holds exactly the rows sent.
#
#   test_fault_backlog.sh --hub P --agent P [--refdir DIR]   with CDOF_STORE_DUMP=store_dump
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_init fault_backlog "$@"
# shellcheck source-path=SCRIPTDIR source=fault_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/fault_lib.sh"

NAGENTS=1 MONTHS=12 NFILES=2 HB_MS=100 # 30 intervals: a backlog is reported after 3 s
fl_setup
fl_start_agents
fl_drop 1 "$NFILES"
it_wait "the agent to take its files" 30 fl_spools_empty
backlog_reported() {
    grep -q "outbox holds $ROWS entries, the oldest unacknowledged for [0-9]* s (hub .* not answering)" \
        "$IT_DIR/logs/${AGENT[0]}.log"
}
it_wait "the agent to report its backlog" 30 backlog_reported
"$IT_AGENT" status --data "$IT_DIR/a0/outbox" --format json >"$IT_DIR/status.json" ||
    it_fail "cdof-agent status failed"
grep -Eq "\"outbox_depth\": *$ROWS," "$IT_DIR/status.json" ||
    it_fail "status does not show the $ROWS entries waiting: $(cat "$IT_DIR/status.json")"
fl_start_hub
fl_settle 60
fl_verify
it_pass "$ROWS rows kept and reported while no hub listened, then delivered exactly once"
