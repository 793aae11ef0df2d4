#!/usr/bin/env bash
# Exactly-once delivery across crashes: a stream of CSV drops (five files of 400 good rows, a few
# bad rows each, an identical re-drop and a revising file) reaches the hub with every good row
# stored once and nothing lost, although the agent (phase 1) or the hub (phase 2) is killed with
# SIGKILL mid-stream and restarted. Checked at the end of each phase: the hub's high-water for the
# agent equals the number of good rows written (no gap, no double), every (area, month) has its
# latest value in the league tables, the re-drop sent nothing and each rejected file names its
# bad lines.
#
#   test_agent_restart.sh --hub P --agent P --query P [--refdir DIR]
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_init agent_restart "$@"
for v in IT_HUB IT_AGENT IT_QUERY; do
    lower=${v#IT_}
    [ -n "${!v}" ] || it_fail "missing --${lower,,} argument"
done

NFILES=5
NAREAS=40
MONTHS_PER_FILE=10 # 40 areas x 10 months = 400 good rows a file, each (area, month) once
NREVISED=100       # rows of file 2 sent again with new numerators
METRIC=continuity_of_care
# The first 40 areas of the reference list; the agent reports for them only.
mapfile -t AREAS < <(awk -F, 'NR > 1 && NR <= 1 + n { print $1 }' n=$NAREAS "$IT_REFDIR/areas.csv")
[ ${#AREAS[@]} -eq $NAREAS ] || it_fail "could not read $NAREAS areas from $IT_REFDIR/areas.csv"
OUTSIDE=$(awk -F, 'NR == 2 + n { print $1 }' n=$NAREAS "$IT_REFDIR/areas.csv") # not ours
AREA_LIST=$(
    IFS=,
    echo "${AREAS[*]}"
)

month_of() { # index from 0 -> YYYY-MM from 2020-01
    printf '%04d-%02d' $((2020 + $1 / 12)) $(($1 % 12 + 1))
}

# gen_file OUT FILE_NO: 400 good rows (file FILE_NO's ten months for every area) with three bad
# rows at fixed places; appends "area|period|num|den" of the good rows to $GEN/values and the bad
# line numbers to $GEN/bad-FILE_NO.
gen_file() {
    local out=$1 k=$2 m a line=1 i=0 num den period
    echo "metric_id,area_code,period,numerator,denominator,value,note" >"$out"
    : >"$GEN/bad-$k"
    for m in $(seq $(((k - 1) * MONTHS_PER_FILE)) $((k * MONTHS_PER_FILE - 1))); do
        period=$(month_of "$m")
        for a in $(seq 0 $((NAREAS - 1))); do
            num=$((20 + (a * 7 + m * 3) % 70))
            den=$((100 + (a + m) % 50))
            echo "$METRIC,${AREAS[$a]},$period,$num,$den,," >>"$out"
            echo "${AREAS[$a]}|$period|$num|$den" >>"$GEN/values"
            line=$((line + 1))
            i=$((i + 1))
            # Bad rows after the 100th, 200th and 300th good row.
            case $i in
            100)
                echo "$METRIC,${AREAS[0]},$period,150,100,,numerator above denominator" >>"$out"
                line=$((line + 1))
                echo "$line" >>"$GEN/bad-$k"
                ;;
            200)
                echo "$METRIC,$OUTSIDE,$period,30,100,,not this agent's area" >>"$out"
                line=$((line + 1))
                echo "$line" >>"$GEN/bad-$k"
                ;;
            300)
                echo "$METRIC,${AREAS[1]},2024-13,30,100,,no such month" >>"$out"
                line=$((line + 1))
                echo "$line" >>"$GEN/bad-$k"
                ;;
            esac
        done
    done
}

GEN="$IT_DIR/gen"
mkdir -p "$GEN/rev"
: >"$GEN/values"
for k in $(seq 1 $NFILES); do
    gen_file "$GEN/batch-$k.csv" "$k"
done
# The revision: the first NREVISED good rows of file 2 with the numerator raised by 5 (still below
# the denominator), no bad rows, under file 2's name (so it must be dropped after file 2 is taken).
{
    echo "metric_id,area_code,period,numerator,denominator,value,note"
    sed -n "$((NAREAS * MONTHS_PER_FILE + 1)),$((NAREAS * MONTHS_PER_FILE + NREVISED))p" \
        "$GEN/values" |
        awk -F'|' -v metric=$METRIC '
            { printf "%s,%s,%s,%d,%d,,revised\n", metric, $1, $2, $3 + 5, $4 }'
} >"$GEN/rev/batch-2.csv"
cp "$GEN/batch-1.csv" "$GEN/batch-1-again.csv" # identical content, another name
# Expected final values: the latest per (area, period), revisions last.
awk -F, 'NR > 1 { print $2 "|" $3 "|" $4 "|" $5 }' "$GEN/rev/batch-2.csv" >"$GEN/revised"
awk -F'|' '{ v[$1 "|" $2] = $3 "|" $4 } END { for (k in v) print k "|" v[k] }' \
    "$GEN/values" "$GEN/revised" | sort >"$GEN/expected"
good_rows=$(wc -l <"$GEN/values")
revised_rows=$(wc -l <"$GEN/revised")
EXPECTED_HW=$((good_rows + revised_rows)) # the re-drop adds nothing
[ "$good_rows" -eq $((NFILES * NAREAS * MONTHS_PER_FILE)) ] || it_fail "generated $good_rows rows"
[ "$revised_rows" -eq $NREVISED ] || it_fail "generated $revised_rows revised rows"
[ "$(wc -l <"$GEN/expected")" -eq "$good_rows" ] || it_fail "generated (area, month) pairs repeat"

# csv_cols FILE COL...: prints the named columns of each data row, '|'-separated (quoted fields
# with commas are understood, as in it_csv_has).
csv_cols() {
    local file=$1
    shift
    awk -v want="$*" '
        '"$IT_AWK_SPLIT_CSV"'
        NR == 1 { ncol = split_csv($0, col); for (i = 1; i <= ncol; i++) at[col[i]] = i
                  nw = split(want, w, " "); next }
        { split("", cell); split_csv($0, cell); s = ""
          for (i = 1; i <= nw; i++) s = s (i > 1 ? "|" : "") cell[at[w[i]]]
          print s }' "$file"
}

# ---- one phase: fresh hub and agent; VICTIM (agent or hub) is killed mid-stream --------------
run_phase() {
    local victim=$1 n=$2
    local dir="$IT_DIR/p$n" id="it-restart-$n"
    local spool="$dir/spool" adata="$dir/agent" hdata="$dir/hub"
    local p_ingest="" p_alerts="" p_query="" ingest="" alerts="" query="" hub_name=""
    mkdir -p "$dir"
    it_log "phase $n: kill the $victim mid-stream ($dir)"

    pick_ports() {
        read -r p_ingest p_alerts p_query < <(it_free_ports 3) || true
        [ -n "${p_query:-}" ] || it_fail "could not pick free ports"
        ingest="tcp://127.0.0.1:$p_ingest" alerts="tcp://127.0.0.1:$p_alerts"
        query="tcp://127.0.0.1:$p_query"
    }
    # start_hub NAME TRIES: starts the hub as hub_name=NAME (NAME.tN on a retry). A port picked
    # free can be taken before the hub binds it (tests run in parallel): on the first start, when
    # the hub exits saying so, pick other ports and try again.
    start_hub() {
        local t p deadline
        for t in $(seq 1 "$2"); do
            hub_name=$1
            [ "$t" -eq 1 ] || hub_name="$1.t$t"
            it_start "$hub_name" "$IT_HUB" --data "$hdata" --ingest "$ingest" --alerts "$alerts" \
                --query "$query" $(it_sec hub hub)
            deadline=$((SECONDS + 20))
            while kill -0 "$(it_pid "$hub_name")" 2>/dev/null; do
                if it_listening "$p_ingest" && it_listening "$p_alerts" &&
                    it_listening "$p_query" && kill -0 "$(it_pid "$hub_name")" 2>/dev/null; then
                    return 0
                fi
                [ $SECONDS -lt $deadline ] ||
                    it_fail "timed out after 20s waiting for $hub_name to listen"
                sleep 0.2
            done
            # It exited: retry when a port was taken, fail otherwise.
            if [ "$t" -lt "$2" ] && grep -q "Address already in use" \
                "$IT_DIR/logs/$hub_name.log"; then
                it_kill9 "$hub_name"
                it_log "phase $n: a port was taken before $hub_name bound it: new ports"
                pick_ports
                continue
            fi
            it_fail "$hub_name exited at start"
        done
    }
    start_agent() { # NAME; a small window and short time-out make the stream long and resends quick
        it_start "$1" "$IT_AGENT" --id "$id" --hub "$ingest" --spool "$spool" --data "$adata" \
            --areas "$AREA_LIST" --window 16 --ack-timeout-ms 1000 --rescan-ms 500 $(it_sec partnership "$id" "$AREA_LIST")
    }
    status() {
        "$IT_AGENT" status --data "$adata" --format json >"$dir/status.json" \
            2>>"$IT_DIR/logs/status.log"
    }
    json_num() { grep -Eo "\"$1\": *[0-9]+" "$dir/status.json" | grep -Eo '[0-9]+$'; }
    outbox_busy() { status && [ "$(json_num outbox_depth)" -gt 0 ]; }
    hub_busy() { # the hub has committed part of the stream and more is queued
        status && [ "$(json_num acknowledged_high)" -gt 0 ] && [ "$(json_num outbox_depth)" -gt 0 ]
    }
    in_empty() { # names starting with '.' are drops being written
        local f
        for f in "$spool/in"/*; do
            [ -e "$f" ] && return 1
        done
        return 0
    }
    hub_hw() { # prints the hub's committed high-water for the agent
        it_query "$dir/agents.csv" --hub "$query" $(it_sec jcdu query) agents --format csv &&
            csv_cols "$dir/agents.csv" agent_id high_water | awk -F'|' -v id="$id" '
                $1 == id { print $2 + 0; found = 1 } END { exit found ? 0 : 1 }'
    }
    done_count() { # NAME: copies of NAME in done/ (NAME, NAME.1, ...)
        find "$spool/done" -maxdepth 1 \( -name "$1" -o -name "$1.[0-9]*" \) | grep -c . || true
    }
    settled() {
        in_empty && status && [ "$(json_num outbox_depth)" -eq 0 ] &&
            [ "$(hub_hw)" = "$EXPECTED_HW" ] || return 1
        local k
        for k in $(seq 1 $NFILES); do
            [ "$(done_count "batch-$k.csv")" -ge 1 ] || return 1
        done
        [ "$(done_count batch-2.csv)" -ge 2 ] && [ "$(done_count batch-1-again.csv)" -ge 1 ] &&
            it_settled "$query" $(it_sec jcdu query) # league reads stored comparisons
    }

    pick_ports
    start_hub "hub$n" 3
    start_agent "agent$n"
    it_wait "agent$n to create $spool/in" 20 test -d "$spool/in"

    # Files 1-3 one after another while both run; then the kill, once the stream is under way.
    local k
    for k in 1 2 3; do
        it_drop "$spool" "$GEN/batch-$k.csv"
    done
    local busy=0 deadline=$((SECONDS + 20))
    while [ $SECONDS -lt $deadline ]; do
        if [ "$victim" = agent ] && outbox_busy; then
            busy=1
            break
        fi
        if [ "$victim" = hub ] && hub_busy; then
            busy=1
            break
        fi
        it_check_alive
        sleep 0.05
    done
    local depth="?"
    status && depth=$(json_num outbox_depth)
    if [ "$victim" = agent ]; then it_kill9 "agent$n"; else it_kill9 "$hub_name"; fi
    if [ $busy = 1 ]; then
        it_log "phase $n: killed the $victim with the outbox at about $depth"
    else
        it_log "phase $n: the outbox never showed work within 20 s; killed the $victim anyway"
    fi

    # While it is down: the identical re-drop and file 4.
    it_drop "$spool" "$GEN/batch-1-again.csv"
    it_drop "$spool" "$GEN/batch-4.csv"
    if [ "$victim" = agent ]; then
        start_agent "agent$n.2"
    else
        start_hub "hub$n.2" 1
    fi
    it_drop "$spool" "$GEN/batch-5.csv"
    # The revision has file 2's name: wait until file 2 (and everything else) has left in/.
    it_wait "phase $n: $spool/in to empty" 60 in_empty
    it_drop "$spool" "$GEN/rev/batch-2.csv"
    it_wait "phase $n: outbox 0, in/ empty, all files in done/, hub high-water $EXPECTED_HW, \
comparisons settled" 90 settled

    # 1. Exactly once: the hub's high-water is the count of good rows written; the agent agrees.
    local hw
    hw=$(hub_hw) || it_fail "phase $n: no agent $id in cdof-query agents: $(cat "$dir/agents.csv")"
    [ "$hw" = "$EXPECTED_HW" ] || it_fail "phase $n: hub high-water $hw, expected $EXPECTED_HW"
    status || it_fail "phase $n: cdof-agent status failed"
    [ "$(json_num acknowledged_high)" = "$EXPECTED_HW" ] ||
        it_fail "phase $n: agent acknowledged_high is not $EXPECTED_HW: $(cat "$dir/status.json")"
    [ "$(json_num next_sequence)" = $((EXPECTED_HW + 1)) ] ||
        it_fail "phase $n: agent next_sequence is not $((EXPECTED_HW + 1)):" \
            "$(cat "$dir/status.json")"
    [ "$(json_num rejected_count)" = 0 ] ||
        it_fail "phase $n: the hub rejected envelopes: $(cat "$dir/status.json")"

    # 2. Every (area, month) holds its latest value.
    local m period
    : >"$dir/got"
    for m in $(seq 0 $((NFILES * MONTHS_PER_FILE - 1))); do
        period=$(month_of "$m")
        it_query "$dir/league.csv" --hub "$query" $(it_sec jcdu query) league "$METRIC" "$period" \
            --format csv || it_fail "phase $n: cdof-query league $METRIC $period failed"
        csv_cols "$dir/league.csv" area_code numerator denominator |
            awk -F'|' -v p="$period" '$2 != "" { printf "%s|%s|%g|%g\n", $1, p, $2, $3 }' \
                >>"$dir/got"
    done
    sort -o "$dir/got" "$dir/got"
    if ! diff "$GEN/expected" "$dir/got" >"$dir/values.diff"; then
        head -n 20 "$dir/values.diff" >&2
        it_fail "phase $n: hub values differ from the latest generated values ($(grep -c '^[<>]' \
            "$dir/values.diff") lines; < expected, > hub)"
    fi

    # 3. The identical re-drop was recognised and sent nothing (the high-water above has no room).
    grep -q "skipped batch-1-again.csv: same content as batch-1.csv" \
        "$IT_DIR/logs/agent$n"*.log ||
        it_fail "phase $n: no agent log line saying batch-1-again.csv repeats batch-1.csv"

    # 4. Each file's bad rows are listed with their line numbers, and nothing else is.
    for k in $(seq 1 $NFILES); do
        local errs="$spool/rejected/batch-$k.csv.errors.csv"
        [ -s "$errs" ] || it_fail "phase $n: no $errs"
        csv_cols "$errs" line | sort -n >"$dir/bad-lines"
        diff "$GEN/bad-$k" "$dir/bad-lines" >/dev/null ||
            it_fail "phase $n: $errs lists lines $(tr '\n' ' ' <"$dir/bad-lines"), expected" \
                "$(tr '\n' ' ' <"$GEN/bad-$k")"
    done
    [ ! -e "$spool/rejected/batch-1-again.csv.errors.csv" ] ||
        it_fail "phase $n: the re-drop got an errors file of its own"

    it_stop "agent$n$([ "$victim" = agent ] && echo .2)"
    it_stop "$hub_name"
    it_log "phase $n: high-water $hw = $good_rows rows + $revised_rows revisions; values match"
}

run_phase agent 1
run_phase hub 2
it_pass "SIGKILL of the agent, then of the hub, mid-stream: $EXPECTED_HW rows each time," \
    "none lost, none twice"
