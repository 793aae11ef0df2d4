#!/usr/bin/env bash
# Nothing lost, nothing twice, under faults (issue 4): 20 real agents send 100,100 updates to a
# real hub while the hub is SIGKILLed at random points of the stream and restarted, agents are
# SIGKILLed and restarted, the hub is frozen (SIGSTOP) until the agents declare it dead, and the
# hub stays down while more files arrive. Afterwards the store holds exactly the set sent: every
# (metric, area, month) with its value, no history entry (nothing stored twice), each agent's
# sequences 1..N once each and its high-water N.
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
[ -n "$IT_HUB" ] && [ -n "$IT_AGENT" ] || it_fail "needs --hub and --agent"
DUMP=${CDOF_STORE_DUMP:-}
[ -x "$DUMP" ] || it_fail "CDOF_STORE_DUMP must name the store_dump tool (got '$DUMP')"

SCALE=${CDOF_FAULT_SCALE:-1}
NAGENTS=${CDOF_FAULT_AGENTS:-20}
ROUNDS=${CDOF_FAULT_ROUNDS:-6}
SEED=${CDOF_FAULT_SEED:-$((($$ * 7919 + $(date +%s)) % 32768))}
RANDOM=$SEED
AREAS_PER=7
MONTHS=$((143 * SCALE)) # x 5 metrics x 7 areas = 5,005 rows per agent
NFILES=10
HB_MS=500
METRICS="continuity_of_care recovery_outcomes treatment_effectiveness"
METRICS+=" in_treatment_stable_accommodation meaningful_activity"
[ "$NAGENTS" -ge 1 ] && [ $((NAGENTS * AREAS_PER)) -le 153 ] ||
    it_fail "CDOF_FAULT_AGENTS=$NAGENTS: 1 to 21 agents of $AREAS_PER areas each"
it_log "seed $SEED (CDOF_FAULT_SEED), $NAGENTS agents, scale $SCALE, $ROUNDS fault rounds"

# ---- the data: agent i reports areas 7i..7i+6, five monthly metrics, MONTHS months from 2000-01,
# in NFILES files of consecutive months. expected holds metric|area|period|num|den of every row.
GEN="$IT_DIR/gen"
mkdir -p "$GEN"
awk -F, 'NR > 1 { print $1 }' "$IT_REFDIR/areas.csv" | head -n $((NAGENTS * AREAS_PER)) \
    >"$GEN/areas"
[ "$(wc -l <"$GEN/areas")" -eq $((NAGENTS * AREAS_PER)) ] || it_fail "too few areas in refdir"
awk -v gen="$GEN" -v nag="$NAGENTS" -v per=$AREAS_PER -v months="$MONTHS" -v nfiles=$NFILES \
    -v metrics="$METRICS" '
    { area[NR - 1] = $1 }
    END {
        nm = split(metrics, metric, " ")
        hdr = "metric_id,area_code,period,numerator,denominator,value,note"
        for (i = 0; i < nag; i++) {
            dir = gen "/a" i
            system("mkdir -p " dir)
            n = 0
            for (k = 1; k <= nfiles; k++) {
                f = dir "/batch-" k ".csv"
                print hdr > f
                for (m = int((k - 1) * months / nfiles); m < int(k * months / nfiles); m++) {
                    period = sprintf("%04d-%02d", 2000 + int(m / 12), m % 12 + 1)
                    for (j = 1; j <= nm; j++)
                        for (a = 0; a < per; a++) {
                            code = area[i * per + a]
                            num = 20 + (a * 7 + m * 3 + j * 11) % 70
                            den = 100 + (a + m + j) % 50
                            print metric[j] "," code "," period "," num "," den ",," >> f
                            print metric[j] "|" code "|" period "|" num "|" den > (gen "/expected")
                            n++
                        }
                }
                close(f)
            }
            print n > (dir "/count")
            close(dir "/count")
        }
    }' "$GEN/areas"
sort -o "$GEN/expected" "$GEN/expected"
TOTAL=$(wc -l <"$GEN/expected")
ROWS=$(cat "$GEN/a0/count")
[ "$TOTAL" -eq $((NAGENTS * ROWS)) ] || it_fail "generated $TOTAL rows, not $NAGENTS x $ROWS"
[ "$(cut -d'|' -f1-3 "$GEN/expected" | uniq | wc -l)" -eq "$TOTAL" ] ||
    it_fail "generated (metric, area, month) triples repeat"
it_log "generated $TOTAL rows ($ROWS per agent in $NFILES files)"

# ---- processes ------------------------------------------------------------------------------
HDATA="$IT_DIR/hub"
mkdir -p "$HDATA"
read -r P_INGEST P_ALERTS P_QUERY < <(it_free_ports 3) || true
[ -n "${P_QUERY:-}" ] || it_fail "could not pick free ports"
HUB="" HUB_N=0 # the running hub's name and how many hubs have started
AGENT=()       # each agent's running process name
AGENT_N=()     # and how many times it has started
KILLS_HUB=0 KILLS_AGENT=0 STOPS=0 DOWNS=0

start_hub() {
    local deadline
    HUB_N=$((HUB_N + 1))
    HUB="hub.$HUB_N"
    it_start "$HUB" "$IT_HUB" --data "$HDATA" --ingest "tcp://127.0.0.1:$P_INGEST" \
        --alerts "tcp://127.0.0.1:$P_ALERTS" --query "tcp://127.0.0.1:$P_QUERY" $(it_sec hub hub)
    deadline=$((SECONDS + 30))
    until it_listening "$P_INGEST" && it_listening "$P_QUERY"; do
        kill -0 "$(it_pid "$HUB")" 2>/dev/null || it_fail "$HUB exited at start"
        [ $SECONDS -lt $deadline ] || it_fail "$HUB not listening after 30 s"
        sleep 0.1
    done
}

start_agent() { # INDEX
    local i=$1 id="fault-$1" areas
    areas=$(sed -n "$((i * AREAS_PER + 1)),$((i * AREAS_PER + AREAS_PER))p" "$GEN/areas" |
        paste -sd, -)
    mkdir -p "$IT_DIR/a$i"
    AGENT_N[i]=$((${AGENT_N[i]:-0} + 1))
    AGENT[i]="agent$i.${AGENT_N[i]}"
    # A small window and short heartbeat keep many envelopes in flight across each fault and
    # make a dead hub show within 1.5 s.
    it_start "${AGENT[i]}" "$IT_AGENT" --id "$id" --hub "tcp://127.0.0.1:$P_INGEST" \
        --spool "$IT_DIR/a$i/spool" --data "$IT_DIR/a$i/outbox" --areas "$areas" --window 64 \
        --heartbeat-ms $HB_MS --ack-timeout-ms 2000 --rescan-ms 500 \
        $(it_sec partnership "$id" "$areas")
}

DROPPED=0 # rows dropped into the spools so far
drop_files() { # FIRST LAST: files FIRST..LAST into every agent's spool
    local i k
    for i in $(seq 0 $((NAGENTS - 1))); do
        for k in $(seq "$1" "$2"); do
            it_drop "$IT_DIR/a$i/spool" "$GEN/a$i/batch-$k.csv"
            DROPPED=$((DROPPED + $(wc -l <"$GEN/a$i/batch-$k.csv") - 1))
        done
    done
}

committed() { # prints the sum of the hub's high-water marks (reads the store, hub running or not)
    "$DUMP" --agents "$HDATA" 2>/dev/null | awk -F'|' '$1 == "A" { s += $3 } END { print s + 0 }'
}

# wait_progress ROWS SECS: until the store holds ROWS more than now, or all dropped so far, or
# SECS pass.
wait_progress() {
    local want deadline now
    want=$(($(committed) + $1))
    [ "$want" -le "$DROPPED" ] || want=$DROPPED
    deadline=$((SECONDS + $2))
    while now=$(committed) && [ "$now" -lt "$want" ]; do
        it_check_alive
        if [ $SECONDS -ge $deadline ]; then
            it_log "progress: $now of $TOTAL committed after $2 s (wanted $want); going on"
            return 0
        fi
        sleep 0.1
    done
}

# Agents log "no word from hub" once when they declare it dead, and "answers again" once it is
# back; counting both tells when every agent has seen a fault and its end.
reports() { # PATTERN: how many agent log lines say so, so far
    cat "$IT_DIR"/logs/agent*.log 2>/dev/null | grep -c "$1" || true
}
noticed() { [ "$(reports "no word from hub")" -ge "$1" ]; }
answered() { [ "$(reports "answers again")" -ge "$1" ]; }
spools_empty() { # every agent has taken every drop (names starting with '.' are being written)
    local i f
    for i in $(seq 0 $((NAGENTS - 1))); do
        for f in "$IT_DIR/a$i/spool/in"/*; do
            [ -e "$f" ] && return 1
        done
    done
    return 0
}

# ---- the run --------------------------------------------------------------------------------
start_hub
for i in $(seq 0 $((NAGENTS - 1))); do
    start_agent "$i"
done
for i in $(seq 0 $((NAGENTS - 1))); do
    it_wait "agent $i to create its spool" 30 test -d "$IT_DIR/a$i/spool/in"
done
drop_files 1 5
T0=$SECONDS

# Fault rounds, in a fixed cycle, each at a random point: after 1% to 6% more of the stream has
# been committed since the previous fault.
for r in $(seq 1 "$ROUNDS"); do
    wait_progress $((TOTAL * (1 + RANDOM % 6) / 100)) 60
    [ "$r" -ne 5 ] || drop_files 9 $NFILES
    case $(((r - 1) % 4)) in
    0) # hub: SIGKILL at a random moment, restart at once
        it_kill9 "$HUB"
        KILLS_HUB=$((KILLS_HUB + 1))
        it_log "round $r: SIGKILL hub at $(committed) of $TOTAL"
        start_hub
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
        it_log "round $r: SIGKILL agents$victims at $(committed) of $TOTAL"
        for i in $victims; do
            start_agent "$i"
        done
        ;;
    2) # hub frozen: SIGSTOP until the agents say it is dead (within three heartbeats), then go on
        before=$(reports "no word from hub")
        kill -STOP "$(it_pid "$HUB")"
        STOPS=$((STOPS + 1))
        it_log "round $r: SIGSTOP hub at $(committed) of $TOTAL"
        stopped_at=$SECONDS
        it_wait "agents to notice the frozen hub" 30 noticed $((before + NAGENTS))
        back=$(reports "answers again")
        kill -CONT "$(it_pid "$HUB")"
        it_log "round $r: SIGCONT hub after $((SECONDS - stopped_at)) s"
        it_wait "agents to hear the thawed hub" 60 answered $((back + NAGENTS))
        ;;
    3) # hub down for a while: files keep arriving; the agents keep them until it is back
        it_kill9 "$HUB"
        KILLS_HUB=$((KILLS_HUB + 1))
        DOWNS=$((DOWNS + 1))
        before=$(reports "no word from hub")
        it_log "round $r: hub down at $(committed) of $TOTAL"
        down_at=$SECONDS
        [ "$r" -ne 4 ] || drop_files 6 8
        it_wait "agents to notice the hub is gone" 30 noticed $((before + NAGENTS))
        it_wait "agents to take the new drops while the hub is down" 60 spools_empty
        start_hub
        it_log "round $r: hub back after $((SECONDS - down_at)) s"
        ;;
    esac
done
[ "$ROUNDS" -ge 4 ] || drop_files 6 8
[ "$ROUNDS" -ge 5 ] || drop_files 9 $NFILES

# ---- settle: every agent's rows committed, every drop taken, every outbox empty ---------------
all_committed() {
    "$DUMP" --agents "$HDATA" >"$IT_DIR/agents.now" 2>/dev/null || return 1
    [ "$(awk -F'|' -v n="$ROWS" '$1 == "A" && $3 == n' "$IT_DIR/agents.now" | wc -l)" \
        -eq "$NAGENTS" ]
}
it_wait "the hub to commit all $TOTAL rows" 90 all_committed
it_log "all $TOTAL rows committed $((SECONDS - T0)) s after the first drop"
spools_empty || it_fail "files left in a spool/in: $(ls "$IT_DIR"/a*/spool/in/*)"
it_stop_all
for i in $(seq 0 $((NAGENTS - 1))); do
    "$IT_AGENT" status --data "$IT_DIR/a$i/outbox" --format json >"$IT_DIR/status$i.json" ||
        it_fail "cdof-agent status for agent $i failed"
    grep -Eq '"outbox_depth": *0,' "$IT_DIR/status$i.json" ||
        it_fail "agent $i: outbox not empty: $(cat "$IT_DIR/status$i.json")"
    grep -Eq "\"acknowledged_high\": *$ROWS," "$IT_DIR/status$i.json" ||
        it_fail "agent $i: acknowledged_high is not $ROWS: $(cat "$IT_DIR/status$i.json")"
    grep -Eq '"rejected_count": *0' "$IT_DIR/status$i.json" ||
        it_fail "agent $i: the hub rejected entries: $(cat "$IT_DIR/status$i.json")"
done

# ---- exactly the set sent -------------------------------------------------------------------
"$DUMP" "$HDATA" >"$IT_DIR/dump" || it_fail "store_dump failed"
awk -F'|' '$1 == "P" { print $2 "|" $3 "|" $4 "|" $7 "|" $8 }' "$IT_DIR/dump" | sort \
    >"$IT_DIR/got"
if ! diff "$GEN/expected" "$IT_DIR/got" >"$IT_DIR/values.diff"; then
    head -n 20 "$IT_DIR/values.diff" >&2
    it_fail "store differs from the rows sent: $(grep -c '^<' "$IT_DIR/values.diff") missing" \
        "or wrong, $(grep -c '^>' "$IT_DIR/values.diff") extra or wrong (< sent, > stored)"
fi
grep -qx 'H|0' "$IT_DIR/dump" ||
    it_fail "the store keeps $(grep '^H|' "$IT_DIR/dump") superseded values: something was stored twice"
# Each agent's sequences are 1..ROWS, once each, and its high-water is ROWS.
awk -F'|' -v n="$ROWS" -v nag="$NAGENTS" '
    $1 == "P" { if (seen[$5 "|" $6]++) { print "sequence stored twice: " $5 " " $6; bad = 1 }
                if ($6 < 1 || $6 > n) { print "sequence out of range: " $5 " " $6; bad = 1 }
                per[$5]++ }
    $1 == "A" { hw[$2] = $3 }
    END { for (i = 0; i < nag; i++) { id = "fault-" i
              if (per[id] != n || hw[id] != n) {
                  print id ": " per[id] + 0 " points, high-water " hw[id] + 0 ", expected " n
                  bad = 1 } }
          exit bad }' "$IT_DIR/dump" >"$IT_DIR/seq.check" ||
    it_fail "sequences: $(head -n 5 "$IT_DIR/seq.check")"

it_pass "$TOTAL rows from $NAGENTS agents, exactly once, in $((SECONDS - T0)) s, through" \
    "$KILLS_HUB hub SIGKILLs ($DOWNS left down a while), $STOPS hub SIGSTOPs and $KILLS_AGENT" \
    "agent SIGKILLs (seed $SEED)"
