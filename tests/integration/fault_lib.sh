# shellcheck shell=bash disable=SC2034
# Shared by the delivery fault tests (test_fault.sh, test_restore.sh, test_partition.sh): a
# generated stream for many agents, the hub and agents as restartable processes, and the final
# check that the store holds exactly the rows sent. Source after lib.sh and it_init, then:
#
#   NAGENTS=20 MONTHS=143 fl_setup      # generates the data (every setting below has a default)
#   fl_start_hub; fl_start_agent 0 ...; fl_drop 1 5; ...; fl_settle 90; fl_verify
#
# Settings (set before fl_setup): NAGENTS (<= 21), MONTHS per agent, NFILES per agent, REVISE
# (rows of each agent's first file revised in revise.csv, for fl_drop_revisions; default 0), HB_MS
# (agent heartbeat), HUB_BIND / HUB_HOST (address the hub binds / agents connect to, default
# 127.0.0.1), HUB_WRAP / AGENT_WRAP (arrays: a command prefix such as `ip netns exec NS` or
# valgrind), HUB_NS (the hub's network namespace, if not this one).

AREAS_PER=7 # areas per agent: 21 agents use 147 of the 153 upper-tier areas
FL_METRICS="continuity_of_care recovery_outcomes treatment_effectiveness"
FL_METRICS+=" in_treatment_stable_accommodation meaningful_activity"

# fl_setup: checks the tools and generates every agent's files. Agent i reports areas
# 7i..7i+6, five monthly metrics, MONTHS months from 2000-01, in NFILES files of consecutive
# months, and revises the first REVISE rows of its first file (numerator + 1) in revise.csv;
# $GEN/expected holds metric|area|period|num|den of every point as it must end, sorted. ROWS is
# each agent's updates (sequences), TOTAL all agents'.
fl_setup() {
    [ -n "$IT_HUB" ] || it_fail "needs --hub"
    [ -n "$IT_AGENT" ] || it_fail "needs --agent"
    DUMP=${CDOF_STORE_DUMP:-}
    [ -x "$DUMP" ] || it_fail "CDOF_STORE_DUMP must name the store_dump tool (got '$DUMP')"
    NAGENTS=${NAGENTS:-20} MONTHS=${MONTHS:-143} NFILES=${NFILES:-10} HB_MS=${HB_MS:-500}
    REVISE=${REVISE:-0}
    HUB_BIND=${HUB_BIND:-127.0.0.1} HUB_HOST=${HUB_HOST:-127.0.0.1}
    declare -p HUB_WRAP >/dev/null 2>&1 || HUB_WRAP=()
    declare -p AGENT_WRAP >/dev/null 2>&1 || AGENT_WRAP=()
    [ "$NAGENTS" -ge 1 ] || it_fail "NAGENTS=$NAGENTS: at least one agent"
    [ $((NAGENTS * AREAS_PER)) -le 153 ] || it_fail "NAGENTS=$NAGENTS: at most 21 agents"
    GEN="$IT_DIR/gen"
    HDATA="$IT_DIR/hub"
    mkdir -p "$GEN" "$HDATA"
    awk -F, 'NR > 1 { print $1 }' "$IT_REFDIR/areas.csv" | head -n $((NAGENTS * AREAS_PER)) \
        >"$GEN/areas"
    [ "$(wc -l <"$GEN/areas")" -eq $((NAGENTS * AREAS_PER)) ] || it_fail "too few areas"
    awk -v gen="$GEN" -v nag="$NAGENTS" -v per=$AREAS_PER -v months="$MONTHS" \
        -v nfiles="$NFILES" -v metrics="$FL_METRICS" -v revise="$REVISE" '
        { area[NR - 1] = $1 }
        END {
            nm = split(metrics, metric, " ")
            hdr = "metric_id,area_code,period,numerator,denominator,value,note"
            for (i = 0; i < nag; i++) {
                dir = gen "/a" i
                system("mkdir -p " dir)
                n = 0
                rf = dir "/revise.csv"
                print hdr > rf
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
                                if (n < revise) {
                                    num++
                                    print metric[j] "," code "," period "," num "," den \
                                        ",,revised" >> rf
                                }
                                print metric[j] "|" code "|" period "|" num "|" den \
                                    > (gen "/expected")
                                n++
                            }
                    }
                    close(f)
                }
                close(rf)
                print n + revise > (dir "/count")
                close(dir "/count")
            }
        }' "$GEN/areas"
    sort -o "$GEN/expected" "$GEN/expected"
    ROWS=$(cat "$GEN/a0/count")
    TOTAL=$((NAGENTS * ROWS))
    POINTS=$(wc -l <"$GEN/expected")
    [ "$POINTS" -eq $((TOTAL - NAGENTS * REVISE)) ] ||
        it_fail "generated $POINTS points, not $NAGENTS x ($ROWS - $REVISE)"
    [ "$(cut -d'|' -f1-3 "$GEN/expected" | uniq | wc -l)" -eq "$POINTS" ] ||
        it_fail "generated (metric, area, month) triples repeat"
    it_log "generated $TOTAL rows, $ROWS per agent: $((ROWS - REVISE)) in $NFILES files," \
        "$REVISE revisions"
    read -r P_INGEST P_ALERTS P_QUERY < <(it_free_ports 3) || true
    [ -n "${P_QUERY:-}" ] || it_fail "could not pick free ports"
    HUB="" HUB_N=0 # the running hub's name and how many hubs have started
    AGENT=()       # each agent's running process name
    AGENT_N=()     # and how many times it has started
    DROPPED=0      # rows dropped into the spools so far
    DROPPED_A=()   # and into each agent's
}

fl_hub_listening() {
    if [ -z "${HUB_NS:-}" ]; then
        it_listening "$P_INGEST"
    else
        ip netns exec "$HUB_NS" ss -Hltn "sport = :$P_INGEST" 2>/dev/null | grep -q .
    fi
}

# fl_spawn_hub [ARGS...]: starts a hub on $HDATA (named hub.N) with ARGS added to its command line.
fl_spawn_hub() {
    HUB_N=$((HUB_N + 1))
    HUB="hub.$HUB_N"
    it_start "$HUB" "${HUB_WRAP[@]}" "$IT_HUB" --data "$HDATA" \
        --ingest "tcp://$HUB_BIND:$P_INGEST" --alerts "tcp://$HUB_BIND:$P_ALERTS" \
        --query "tcp://$HUB_BIND:$P_QUERY" $(it_sec hub hub) "$@"
}

# fl_start_hub: fl_spawn_hub, then waits until the hub listens.
fl_start_hub() {
    local deadline
    fl_spawn_hub
    deadline=$((SECONDS + 30))
    until fl_hub_listening; do
        kill -0 "$(it_pid "$HUB")" 2>/dev/null || it_fail "$HUB exited at start"
        [ $SECONDS -lt $deadline ] || it_fail "$HUB not listening after 30 s"
        sleep 0.1
    done
}

# fl_start_agent INDEX [ARGS...]: starts agent INDEX (id fault-INDEX, named agentINDEX.N) with
# its areas, and ARGS added to its command line.
fl_start_agent() {
    local i=$1 id="fault-$1" areas
    shift
    areas=$(sed -n "$((i * AREAS_PER + 1)),$((i * AREAS_PER + AREAS_PER))p" "$GEN/areas" |
        paste -sd, -)
    mkdir -p "$IT_DIR/a$i"
    AGENT_N[i]=$((${AGENT_N[i]:-0} + 1))
    AGENT[i]="agent$i.${AGENT_N[i]}"
    # A small window and short heartbeat keep many envelopes in flight across each fault and
    # make a dead hub show within 1.5 s.
    it_start "${AGENT[i]}" "${AGENT_WRAP[@]}" "$IT_AGENT" --id "$id" \
        --hub "tcp://$HUB_HOST:$P_INGEST" --spool "$IT_DIR/a$i/spool" \
        --data "$IT_DIR/a$i/outbox" --areas "$areas" --window 64 --heartbeat-ms "$HB_MS" \
        --ack-timeout-ms 2000 --rescan-ms 500 $(it_sec partnership "$id" "$areas") "$@"
}

# fl_start_agents [STARTER]: starts every agent (with STARTER INDEX, default fl_start_agent) and
# waits for their spools.
fl_start_agents() {
    local i
    for i in $(seq 0 $((NAGENTS - 1))); do
        "${1:-fl_start_agent}" "$i"
    done
    for i in $(seq 0 $((NAGENTS - 1))); do
        it_wait "agent $i to create its spool" 30 test -d "$IT_DIR/a$i/spool/in"
    done
}

# fl_drop FIRST LAST: files FIRST..LAST into every agent's spool.
fl_drop() {
    local i k n
    for i in $(seq 0 $((NAGENTS - 1))); do
        for k in $(seq "$1" "$2"); do
            it_drop "$IT_DIR/a$i/spool" "$GEN/a$i/batch-$k.csv"
            n=$(($(wc -l <"$GEN/a$i/batch-$k.csv") - 1))
            DROPPED=$((DROPPED + n)) DROPPED_A[i]=$((${DROPPED_A[i]:-0} + n))
        done
    done
}

# fl_drop_revisions: every agent's revise.csv, once its first file has been taken (a revision
# must follow what it revises).
fl_drop_revisions() {
    local i
    for i in $(seq 0 $((NAGENTS - 1))); do
        it_wait "agent $i to take batch-1.csv before its revisions" 60 \
            test -e "$IT_DIR/a$i/spool/done/batch-1.csv"
        it_drop "$IT_DIR/a$i/spool" "$GEN/a$i/revise.csv"
        DROPPED=$((DROPPED + REVISE)) DROPPED_A[i]=$((${DROPPED_A[i]:-0} + REVISE))
    done
}

# fl_committed [DIR]: prints the sum of the agents' high-water marks in the store in DIR
# (default the hub's; read-only, so the hub may be running, frozen or dead).
fl_committed() {
    "$DUMP" --agents "${1:-$HDATA}" 2>/dev/null |
        awk -F'|' '$1 == "A" { s += $3 } END { print s + 0 }'
}

# fl_wait_progress ROWS SECS: until the store holds ROWS more than now (at most what has been
# dropped), or SECS pass.
fl_wait_progress() {
    local want deadline now
    want=$(($(fl_committed) + $1))
    [ "$want" -le "$DROPPED" ] || want=$DROPPED
    deadline=$((SECONDS + $2))
    while now=$(fl_committed) && [ "$now" -lt "$want" ]; do
        it_check_alive
        if [ $SECONDS -ge $deadline ]; then
            it_log "progress: $now of $TOTAL committed after $2 s (wanted $want); going on"
            return 0
        fi
        sleep 0.1
    done
}

# fl_in_flight_each: prints "INDEX ROWS" for every agent, ROWS being how many rows it has taken
# into its outbox that the store does not hold yet: rows dropped, less those in files still in
# spool/in, less the agent's high-water in the store. A file leaves spool/in only once its rows
# are durable in the outbox, so no row is counted that the agent does not hold; read while the
# hub runs, the store may move on meanwhile, so it is a lower bound.
fl_in_flight_each() {
    local i f waiting
    "$DUMP" --agents "$HDATA" >"$IT_DIR/agents.flight" 2>/dev/null || : >"$IT_DIR/agents.flight"
    for i in $(seq 0 $((NAGENTS - 1))); do
        waiting=0
        for f in "$IT_DIR/a$i/spool/in"/*; do
            [ -e "$f" ] || continue
            waiting=$((waiting + $(wc -l <"$f") - 1))
        done
        echo "T|fault-$i|$((${DROPPED_A[i]:-0} - waiting))"
    done | awk -F'|' 'NR == FNR { hw[$2] = $3; next }
        { n = $3 - hw[$2]; sub(/^fault-/, "", $2); print $2, (n > 0 ? n : 0) }' \
        "$IT_DIR/agents.flight" -
}

# fl_in_flight [INDEX...]: the sum of fl_in_flight_each over every agent, or those given.
fl_in_flight() {
    fl_in_flight_each | awk -v want=" $* " 'want ~ /^ *$/ || index(want, " " $1 " ") { s += $2 }
        END { print s + 0 }'
}

# Agents log "no word from hub" once when they declare it dead, and "answers again" once it is
# back ("connected to hub" if they never heard it before); counting tells when every agent has
# seen a fault and its end.
FL_HEARD="answers again|connected to hub"
fl_reports() { # REGEX: how many agent log lines say so, so far
    cat "$IT_DIR"/logs/agent*.log 2>/dev/null | grep -cE "$1" || true
}
fl_noticed() { [ "$(fl_reports "no word from hub")" -ge "$1" ]; }
fl_answered() { [ "$(fl_reports "$FL_HEARD")" -ge "$1" ]; }

fl_spools_empty() { # every agent has taken every drop (names starting with '.' are being written)
    local i f
    for i in $(seq 0 $((NAGENTS - 1))); do
        for f in "$IT_DIR/a$i/spool/in"/*; do
            [ -e "$f" ] && return 1
        done
    done
    return 0
}

fl_all_committed() { # every agent's high-water in the store is ROWS
    "$DUMP" --agents "$HDATA" >"$IT_DIR/agents.now" 2>/dev/null || return 1
    [ "$(awk -F'|' -v n="$ROWS" '$1 == "A" && $3 == n' "$IT_DIR/agents.now" | wc -l)" \
        -eq "$NAGENTS" ]
}

# fl_settle SECS: waits until the hub has committed every row, then stops every process (each
# must exit cleanly: sanitizer reports fail it) and checks every outbox is empty and
# acknowledged up to ROWS with nothing rejected.
fl_settle() {
    local i st
    it_wait "the hub to commit all $TOTAL rows" "$1" fl_all_committed
    fl_spools_empty || it_fail "files left in a spool/in: $(ls "$IT_DIR"/a*/spool/in/*)"
    it_stop_all
    for i in $(seq 0 $((NAGENTS - 1))); do
        st="$IT_DIR/status$i.json"
        "$IT_AGENT" status --data "$IT_DIR/a$i/outbox" --format json >"$st" ||
            it_fail "cdof-agent status for agent $i failed"
        grep -Eq '"outbox_depth": *0,' "$st" || it_fail "agent $i: outbox not empty: $(cat "$st")"
        grep -Eq "\"acknowledged_high\": *$ROWS," "$st" ||
            it_fail "agent $i: acknowledged_high is not $ROWS: $(cat "$st")"
        grep -Eq '"rejected_count": *0' "$st" ||
            it_fail "agent $i: the hub rejected entries: $(cat "$st")"
    done
}

# fl_verify: the store holds exactly the rows sent: every (metric, area, month) with its latest
# value and nothing else, one superseded value in history per revision (none stored twice), each
# agent's current points carrying distinct sequences in 1..ROWS and its high-water ROWS.
fl_verify() {
    "$DUMP" "$HDATA" >"$IT_DIR/dump" || it_fail "store_dump failed"
    awk -F'|' '$1 == "P" { print $2 "|" $3 "|" $4 "|" $7 "|" $8 }' "$IT_DIR/dump" | sort \
        >"$IT_DIR/got"
    if ! diff "$GEN/expected" "$IT_DIR/got" >"$IT_DIR/values.diff"; then
        head -n 20 "$IT_DIR/values.diff" >&2
        it_fail "store differs from the rows sent: $(grep -c '^<' "$IT_DIR/values.diff")" \
            "missing or wrong, $(grep -c '^>' "$IT_DIR/values.diff") extra or wrong" \
            "(< sent, > stored)"
    fi
    grep -qx "H|$((NAGENTS * REVISE))" "$IT_DIR/dump" ||
        it_fail "the store keeps $(grep '^H|' "$IT_DIR/dump" | cut -d'|' -f2) superseded" \
            "values, not the $((NAGENTS * REVISE)) revised: something was stored twice"
    awk -F'|' -v n="$ROWS" -v nag="$NAGENTS" -v rev="$REVISE" '
        $1 == "P" { if (seen[$5 "|" $6]++) { print "sequence stored twice: " $5 " " $6; bad = 1 }
                    if ($6 < 1 || $6 > n) { print "sequence out of range: " $5 " " $6; bad = 1 }
                    per[$5]++ }
        $1 == "A" { hw[$2] = $3 }
        END { for (i = 0; i < nag; i++) { id = "fault-" i
                  if (per[id] != n - rev || hw[id] != n) {
                      print id ": " per[id] + 0 " points, high-water " hw[id] + 0 \
                          ", expected " n - rev " and " n
                      bad = 1 } }
              exit bad }' "$IT_DIR/dump" >"$IT_DIR/seq.check" ||
        it_fail "sequences: $(head -n 5 "$IT_DIR/seq.check")"
}
