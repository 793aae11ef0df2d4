#!/usr/bin/env bash
# A stop signal during start-up shuts a daemon down cleanly and loses nothing: cdof-agent,
# cdof-hub and cdof-watch are each sent SIGTERM while still starting and must exit with status 0
# (the harness's it_stop, and an operator's `systemctl stop` right after start, rely on it; a
# process killed by SIGTERM's default action exits with 143). Two ways, a few rounds each:
#   held    started under sigheld (SIGTERM, SIGINT, SIGHUP blocked across exec) and signalled as
#           soon as sigheld has blocked it: the signal is pending through the whole start-up and
#           reaches the daemon when it unblocks it, which it must do once its handlers are in place;
#   logged  agent and hub with --log-file, signalled as soon as the file exists (main() has
#           parsed its flags, and opening the outbox or store is still to come).
# The agent is started on a spool holding files each time; afterwards a hub and the agent run
# normally and the store must hold exactly the rows in those files (fault_lib.sh fl_verify).
# A running hub, its query worker started, is stopped by SIGTERM sent right after SIGHUP, and a
# hub's first read queries are answered while SIGHUPs arrive.
#
#   test_start_signal.sh --hub P --agent P --watch P --keygen P [--refdir DIR]
#       with CDOF_STORE_DUMP=store_dump and CDOF_SIGHELD=sigheld
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_init start_signal "$@"
# shellcheck source-path=SCRIPTDIR source=fault_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/fault_lib.sh"
it_require watch
SIGHELD=${CDOF_SIGHELD:-}
[ -x "$SIGHELD" ] || it_fail "CDOF_SIGHELD must name the sigheld tool (got '$SIGHELD')"
ROUNDS=${CDOF_START_ROUNDS:-4} # per daemon and way

NAGENTS=1 MONTHS=12 NFILES=2
fl_setup
fl_drop 1 "$NFILES"

# held_term NAME: SIGTERM to NAME, started under sigheld, once sigheld has blocked the signal
# (sent sooner, the shell's own fork could take it, or sigheld's start-up die of it); then it
# must exit cleanly.
held_term() {
    local pid _
    pid=$(it_pid "$1")
    for _ in $(seq 1 1000); do
        it_sigterm_ready "$pid" && break
        sleep 0.01
    done
    it_sigterm_ready "$pid" || it_fail "$1: sigheld did not block SIGTERM within 10 s"
    kill -TERM "$pid"
    it_exited "$1"
}

# log_appears FILE: waits (10 s at most, polling every 5 ms) for FILE to exist.
log_appears() {
    local _
    for _ in $(seq 1 2000); do
        [ -e "$1" ] && return 0
        sleep 0.005
    done
    it_fail "$1 did not appear within 10 s"
}

for r in $(seq 1 "$ROUNDS"); do
    AGENT_WRAP=("$SIGHELD")
    fl_start_agent 0
    AGENT_WRAP=()
    held_term "${AGENT[0]}"

    rm -f "$IT_DIR/agent.file"
    fl_start_agent 0 --log-file "$IT_DIR/agent.file"
    log_appears "$IT_DIR/agent.file"
    kill -TERM "$(it_pid "${AGENT[0]}")"
    it_exited "${AGENT[0]}"
done
it_log "agent: $ROUNDS held and $ROUNDS logged start-ups stopped cleanly"

for r in $(seq 1 "$ROUNDS"); do
    HUB_WRAP=("$SIGHELD")
    fl_spawn_hub
    HUB_WRAP=()
    held_term "$HUB"

    rm -f "$IT_DIR/hub.file"
    fl_spawn_hub --log-file "$IT_DIR/hub.file"
    log_appears "$IT_DIR/hub.file"
    kill -TERM "$(it_pid "$HUB")"
    it_exited "$HUB"
done
it_log "hub: $ROUNDS held and $ROUNDS logged start-ups stopped cleanly"

for r in $(seq 1 "$ROUNDS"); do
    it_start "watch.$r" "$SIGHELD" "$IT_WATCH" --hub-alerts "tcp://127.0.0.1:$P_ALERTS" \
        --hub-query "tcp://127.0.0.1:$P_QUERY" $(it_sec oversight watch)
    held_term "watch.$r"
done
it_log "watch: $ROUNDS held start-ups stopped cleanly"

# Running: a hub whose query worker has started takes stop signals in its serve loop only (a
# signal goes to any thread that does not block it; one taken by the worker interrupted its
# receive, the worker ended, and the stop then waited for it for ever). Each round checks that
# one thread alone leaves SIGTERM unblocked, then sends SIGHUP and SIGTERM back to back (the
# second, arriving while the first is pending, goes to another thread if one takes it).
it_require query
it_sec jcdu signal >/dev/null
# term_takers PID: how many of PID's threads leave SIGTERM (15, bit 14 of SigBlk) unblocked.
term_takers() {
    local n=0 f mask
    for f in /proc/"$1"/task/*/status; do
        mask=$(awk '$1 == "SigBlk:" { print $2 }' "$f" 2>/dev/null) || continue
        [ -n "$mask" ] && (((0x$mask & 0x4000) == 0)) && n=$((n + 1))
    done
    echo "$n"
}
for r in $(seq 1 "$ROUNDS"); do
    fl_start_hub
    it_query "$IT_DIR/agents.csv" --hub "tcp://127.0.0.1:$P_QUERY" $(it_sec jcdu signal) \
        agents --format csv || it_fail "$HUB: no answer to a read query"
    pid=$(it_pid "$HUB")
    takers=$(term_takers "$pid")
    [ "$takers" = 1 ] || it_fail "$HUB: $takers threads take SIGTERM (only the serve loop should)"
    kill -HUP "$pid"
    kill -TERM "$pid"
    it_exited "$HUB"
done
it_log "hub: $ROUNDS running hubs stopped cleanly by SIGTERM right after SIGHUP"

# Registry reloads while clients connect and the query worker starts: a hub's first read
# queries, each from a new connection, asked while SIGHUP after SIGHUP reaches the hub, are
# answered, and so is the next. A signal fails a ZeroMQ call with EINTR even when it would not
# have waited: a hand-over to the worker cut short that way left every later read query waiting
# for good, and a ZAP reply short of a frame failed the client's handshake ("wrong hub key").
sent=0
for r in $(seq 1 "$ROUNDS"); do
    fl_start_hub
    pid=$(it_pid "$HUB")
    touch "$IT_DIR/storm"
    # At most 200000 signals, as fast as the shell sends them, while the flag file is there.
    (n=0; while [ $n -lt 200000 ] && [ -e "$IT_DIR/storm" ] && kill -HUP "$pid" 2>/dev/null; do
        n=$((n + 1))
    done; echo "$n" >"$IT_DIR/storm.sent") &
    storm=$!
    ok=1
    for _ in 1 2 3; do
        it_query "$IT_DIR/agents.csv" --hub "tcp://127.0.0.1:$P_QUERY" $(it_sec jcdu signal) \
            agents --format csv || ok=0
    done
    rm -f "$IT_DIR/storm"
    wait "$storm" || true
    sent=$((sent + $(cat "$IT_DIR/storm.sent")))
    [ "$ok" = 1 ] || it_fail "$HUB: a read query during SIGHUPs was not answered (query.log)"
    it_query "$IT_DIR/agents.csv" --hub "tcp://127.0.0.1:$P_QUERY" $(it_sec jcdu signal) \
        agents --format csv || it_fail "$HUB: no answer to a read query after SIGHUPs"
    kill -TERM "$pid"
    it_exited "$HUB"
done
[ "$sent" -gt 0 ] || it_fail "no SIGHUP was sent while the first queries were asked"
it_log "hub: $((ROUNDS * 3)) first read queries answered while $sent SIGHUPs were sent"

# Nothing lost: whatever the interrupted start-ups took from the spool is delivered now.
fl_start_hub
fl_start_agent 0
fl_settle 60
fl_verify
it_pass "agent, hub and watch stopped cleanly by SIGTERM during start-up ($ROUNDS rounds" \
    "each way); all $TOTAL rows delivered exactly once afterwards"
