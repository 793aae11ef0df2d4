#!/usr/bin/env bash
# Nothing lost, nothing twice, under faults (issue 4): 20 real agents send 102,100 updates to a
# real hub while the hub is SIGKILLed at random points of the stream and restarted, agents are
# SIGKILLed and restarted, the hub is frozen (SIGSTOP) until the agents declare it dead, and the
# hub stays down while more files arrive. Afterwards the store holds exactly the set sent: every
# (metric, area, month) with its latest value, one history entry per revision (nothing stored
# twice), each agent's sequences distinct and its high-water N (fault_lib.sh fl_verify).
#
#   test_fault.sh --hub P --agent P [--refdir DIR]     with CDOF_STORE_DUMP=path/to/store_dump
#
# Environment: CDOF_FAULT_SCALE (default 1: 143 months per agent; 3 triples the stream),
# CDOF_FAULT_AGENTS (default 20, at most 21), CDOF_FAULT_ROUNDS (fault rounds, default 6),
# CDOF_FAULT_SEED (random seed; printed, so a failing run can be repeated).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_init fault "$@"
# shellcheck source-path=SCRIPTDIR source=fault_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/fault_lib.sh"

SCALE=${CDOF_FAULT_SCALE:-1}
NAGENTS=${CDOF_FAULT_AGENTS:-20}
ROUNDS=${CDOF_FAULT_ROUNDS:-6}
SEED=${CDOF_FAULT_SEED:-$((($$ * 7919 + $(date +%s)) % 32768))}
RANDOM=$SEED
MONTHS=$((143 * SCALE)) # x 5 metrics x 7 areas = 5,005 rows per agent
NFILES=10
REVISE=100 # and 100 revisions of earlier rows each, dropped with the last files
it_log "seed $SEED (CDOF_FAULT_SEED), $NAGENTS agents, scale $SCALE, $ROUNDS fault rounds"
fl_setup
KILLS_HUB=0 KILLS_AGENT=0 STOPS=0 DOWNS=0

# ---- the run --------------------------------------------------------------------------------
# Half the agents time acks out after 300 ms, less than it takes them to declare the hub dead,
# so that they resend what the hub may already hold and its duplicate rule is exercised.
start_agent() { # INDEX
    if (($1 % 2)); then fl_start_agent "$1" --ack-timeout-ms 300; else fl_start_agent "$1"; fi
}
fl_start_hub
fl_start_agents start_agent
fl_drop 1 2
T0=$SECONDS

# Fault rounds, in a fixed cycle, each at a random point: after 1% to 6% more of the stream has
# been committed since the previous fault. Rounds 1-3 first drop one more file each (3, 4, 5) so
# that a fault can land while rows are in flight: the hub commits a file of every agent in well
# under a second, and with files 1-5 dropped at once rounds 1-4 always found the stream idle.
for r in $(seq 1 "$ROUNDS"); do
    [ "$r" -gt 3 ] || fl_drop $((r + 2)) $((r + 2))
    fl_wait_progress $((TOTAL * (1 + RANDOM % 6) / 100)) 60
    if [ "$r" -eq 5 ]; then
        fl_drop 9 "$NFILES"
        fl_drop_revisions
    fi
    case $(((r - 1) % 4)) in
    0) # hub: SIGKILL at a random moment, restart at once
        it_kill9 "$HUB"
        KILLS_HUB=$((KILLS_HUB + 1))
        it_log "round $r: SIGKILL hub at $(fl_committed) of $TOTAL"
        fl_start_hub
        ;;
    1) # agents: SIGKILL three at random, restart them
        victims=""
        for _ in 1 2 3; do
            i=$((RANDOM % NAGENTS))
            case " $victims " in *" $i "*) continue ;; esac
            victims+=" $i"
            it_kill9 "${AGENT[i]}"
            KILLS_AGENT=$((KILLS_AGENT + 1))
        done
        it_log "round $r: SIGKILL agents$victims at $(fl_committed) of $TOTAL"
        for i in $victims; do
            start_agent "$i"
        done
        ;;
    2) # hub frozen: SIGSTOP until the agents say it is dead (within three heartbeats), then go on
        before=$(fl_reports "no word from hub")
        kill -STOP "$(it_pid "$HUB")"
        STOPS=$((STOPS + 1))
        it_log "round $r: SIGSTOP hub at $(fl_committed) of $TOTAL"
        stopped_at=$SECONDS
        it_wait "agents to notice the frozen hub" 30 fl_noticed $((before + NAGENTS))
        back=$(fl_reports "$FL_HEARD")
        kill -CONT "$(it_pid "$HUB")"
        it_log "round $r: SIGCONT hub after $((SECONDS - stopped_at)) s"
        it_wait "agents to hear the thawed hub" 60 fl_answered $((back + NAGENTS))
        ;;
    3) # hub down for a while: files keep arriving; the agents keep them until it is back
        it_kill9 "$HUB"
        KILLS_HUB=$((KILLS_HUB + 1))
        DOWNS=$((DOWNS + 1))
        before=$(fl_reports "no word from hub")
        it_log "round $r: hub down at $(fl_committed) of $TOTAL"
        down_at=$SECONDS
        [ "$r" -ne 4 ] || fl_drop 6 8
        it_wait "agents to notice the hub is gone" 30 fl_noticed $((before + NAGENTS))
        it_wait "agents to take the new drops while the hub is down" 60 fl_spools_empty
        fl_start_hub
        it_log "round $r: hub back after $((SECONDS - down_at)) s"
        ;;
    esac
done
[ "$ROUNDS" -ge 3 ] || fl_drop $((ROUNDS + 3)) 5
[ "$ROUNDS" -ge 4 ] || fl_drop 6 8
if [ "$ROUNDS" -lt 5 ]; then
    fl_drop 9 "$NFILES"
    fl_drop_revisions
fi

fl_settle 240 # generous: a loaded 2-core CI box commits, compares and alerts slower
it_log "all $TOTAL rows committed, every process stopped, $((SECONDS - T0)) s after the first drop"
fl_verify
# Only a hub stopped cleanly counts what it did: the last one.
dups=$(grep -Eo '[0-9]+ duplicates' "$IT_DIR/logs/$HUB.log" | grep -Eo '[0-9]+' || echo "?")
it_pass "$TOTAL rows from $NAGENTS agents, exactly once, in $((SECONDS - T0)) s, through" \
    "$KILLS_HUB hub SIGKILLs ($DOWNS left down a while), $STOPS hub SIGSTOPs and $KILLS_AGENT" \
    "agent SIGKILLs; the last hub answered $dups duplicates (seed $SEED)"
