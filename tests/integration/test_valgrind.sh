#!/usr/bin/env bash
# The hub and an agent under valgrind's memcheck: both run the delivery path (intake,
# outbox, sending, group commit, acks, comparisons and alerts), the hub is stopped and started
# again under valgrind while the agent waits and reconnects, then both stop with SIGTERM. Any
# memcheck error or leak (definite, indirect or possible) makes a process exit 99, which fails
# it_stop; the valgrind logs are kept in logs/ on failure. Only for a build without sanitizers
# (valgrind cannot run ASan binaries): CMake registers it there when valgrind is installed, and
# `deploy/dev.sh valgrind` runs it.
#
#   test_valgrind.sh --hub P --agent P [--refdir DIR]   with CDOF_STORE_DUMP=path/to/store_dump
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_init valgrind "$@"
# shellcheck source-path=SCRIPTDIR source=fault_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/fault_lib.sh"
command -v valgrind >/dev/null || it_fail "valgrind is not installed"

vg() { # NAME: the valgrind command line for one process, its log in logs/NAME.vg.%p
    echo valgrind --tool=memcheck --leak-check=full --show-leak-kinds=definite,indirect,possible \
        --errors-for-leak-kinds=definite,indirect,possible --error-exitcode=99 \
        --log-file="$IT_DIR/logs/$1.vg.%p"
}
NAGENTS=1 MONTHS=60 NFILES=4 HB_MS=1000
read -ra HUB_WRAP <<<"$(vg hub)"
read -ra AGENT_WRAP <<<"$(vg agent)"
fl_setup
fl_start_hub
fl_start_agents
fl_drop 1 2
dropped_committed() { [ "$(fl_committed)" -ge "$DROPPED" ]; }
it_wait "the first half committed" 120 dropped_committed
it_stop "$HUB" # SIGTERM: a clean exit with no memcheck error, or the test fails
fl_drop 3 "$NFILES"
it_wait "the agent to notice the hub is gone" 60 fl_noticed 1
fl_start_hub
fl_settle 120
fl_verify
logs=0
for f in "$IT_DIR"/logs/*.vg.*; do
    logs=$((logs + 1))
    grep -q "ERROR SUMMARY: 0 errors" "$f" || it_fail "memcheck errors in ${f##*/}: $(grep -m 5 -E \
        'definitely|indirectly|possibly|Invalid|uninitialised' "$f")"
done
[ "$logs" -eq 3 ] || it_fail "expected 3 valgrind logs (2 hubs, 1 agent), found $logs"
it_pass "hub (started twice) and agent under memcheck: $TOTAL rows, no errors, no leaks"
