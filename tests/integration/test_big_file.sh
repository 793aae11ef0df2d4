#!/usr/bin/env bash
# A big file is taken in chunks (AGENT_TAKE_CHUNK_ROWS, 20,000 rows), each committed with the
# file's progress: an agent SIGKILLed after the first chunk resumes at its next start without
# adding a row twice (its outbox ends at exactly one sequence per row, as does the hub's
# high-water), and an agent sent SIGTERM in the middle of a take stops at the next chunk with
# status 0 and takes the rest at its next start.
#
#   test_big_file.sh --hub P --agent P --query P [--refdir DIR]
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_init big_file "$@"
it_require hub agent query
it_hub_endpoints

spool="$IT_DIR/agent/spool"
it_start hub "$IT_HUB" --data "$IT_DIR/hub" --ingest "$ingest" --alerts "$alerts" \
    --query "$query" $(it_sec hub hub)
it_wait_hub
mkdir -p "$IT_DIR/agent"
n=0
# The agents pause 3 s between chunks (test only), so that the kill and the stop below land in
# the middle of a take however fast or loaded the machine is.
export CDOF_TEST_CHUNK_PAUSE_MS=3000
start_agent() {
    n=$((n + 1))
    it_start "agent$n" "$IT_AGENT" --id ons-big --national --hub "$ingest" --spool "$spool" \
        --data "$IT_DIR/agent/data" $(it_sec national ons-big)
}
# make_file OUT SHIFT: 150 areas x 12 months x 25 years (2000-2024) = 45,000 rows, three
# chunks; SHIFT changes every numerator, so that a second file is not the first again.
make_file() {
    awk -F, -v shift="$2" 'NR > 1 && NR <= 151 { area[n++] = $1 }
        END { print "metric_id,area_code,period,numerator,denominator";
              for (y = 2000; y < 2025; y++) for (m = 1; m <= 12; m++) for (i = 0; i < n; i++)
                  printf "continuity_of_care,%s,%d-%02d,%d,100\n", area[i], y, m, (i + m + y + shift) % 90 }' \
        "$IT_REFDIR/areas.csv" >"$1"
}
rows=45000
status_field() { # NAME: a number from cdof-agent status --format json
    "$IT_AGENT" status --data "$IT_DIR/agent/data" --format json 2>>"$IT_DIR/logs/status.log" |
        sed -n "s/.*\"$1\": *\([0-9]*\).*/\1/p"
}
hub_high() {
    it_query "$IT_DIR/agents.csv" --hub "$query" $(it_sec jcdu query) agents --format csv &&
        awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
            $c["agent_id"] == "ons-big" { print $c["high_water"] }' "$IT_DIR/agents.csv"
}
hub_at() { [ "$(hub_high)" = "$1" ]; }
chunks_logged() { grep -q "taking .*/$2: .* rows in the outbox so far" "$IT_DIR/logs/$1.log"; }

# 1. SIGKILL after the first chunk.
start_agent
make_file "$IT_DIR/big1.csv" 0
it_drop "$spool" "$IT_DIR/big1.csv"
it_wait "a first chunk of big1.csv to be committed" 60 chunks_logged agent1 big1.csv
it_kill9 agent1
[ -e "$spool/in/big1.csv" ] || it_fail "big1.csv left in/ though its take was cut short"
start_agent
it_wait "big1.csv to move to done/" 120 test -e "$spool/done/big1.csv"
grep -q "took big1.csv: $rows rows, $rows to outbox" "$IT_DIR/logs/agent2.log" ||
    it_fail "big1.csv after the restart: $(grep big1 "$IT_DIR/logs/agent2.log" | tail -n 2)"
next=$(status_field next_sequence)
[ "$next" = $((rows + 1)) ] || it_fail "the outbox wrote $((next - 1)) entries for $rows rows"
it_wait "the hub's high-water for ons-big to reach $rows" 120 hub_at $rows

# 2. SIGTERM in the middle of a take: a clean stop at the next chunk, the rest at the next start.
make_file "$IT_DIR/big2.csv" 1
it_drop "$spool" "$IT_DIR/big2.csv"
it_wait "a first chunk of big2.csv to be committed" 60 chunks_logged agent2 big2.csv
it_stop agent2
grep -q "stopped taking .*big2.csv" "$IT_DIR/logs/agent2.log" ||
    [ -e "$spool/done/big2.csv" ] || it_fail "agent2 stopped without saying where big2.csv was"
start_agent
it_wait "big2.csv to move to done/" 120 test -e "$spool/done/big2.csv"
next=$(status_field next_sequence)
[ "$next" = $((2 * rows + 1)) ] || it_fail "the outbox wrote $((next - 1)) entries for $((2 * rows)) rows"
it_wait "the hub's high-water for ons-big to reach $((2 * rows))" 120 hub_at $((2 * rows))

it_stop agent3
it_stop hub
it_pass "a $rows-row file taken in chunks: killed and stopped mid-take, resumed, nothing twice"
