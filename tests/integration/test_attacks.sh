#!/usr/bin/env bash
# Attacks from deploy/SECURITY.md's table that need real processes, over CURVE:
#  1. implausible rows in a partnership's CSV drop (1e12/1e12 for Blackpool, periods 1900-01 and
#     2999-12, a quarter for a monthly metric) are rejected by the agent with reasons, and
#     nothing of them reaches England's figure;
#  2. a file name carrying a newline cannot forge a line in the agent's log;
#  3. 2,000 60 KiB garbage frames write a bounded number of lines to the hub's log, then a
#     "suppressed" summary;
#  4. a query flood from one reader key is refused beyond its queue, while another key is
#     answered (attack.py);
#  5. with a small --query-cpu-ms, a key's requests wait for its CPU budget (health counts them)
#     and are all answered alike, another key's are answered meanwhile, those beyond its queue
#     are refused naming the budget, and oversized requests (a page over 10,000 rows, 65
#     members) are refused with a reason.
#
#   test_attacks.sh --hub P --agent P --query P --keygen P [--refdir DIR]
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_init attacks "$@"
it_require hub agent query keygen
IT_INSECURE=0 # as deployed
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
py=/usr/bin/python3
"$py" -c 'import zmq, google.protobuf' 2>"$IT_DIR/py.err" || it_fail "python3-zmq, python3-protobuf: $(cat "$IT_DIR/py.err")"
mkdir -p "$IT_DIR/gen"
protoc -I "$here/../../proto" --python_out="$IT_DIR/gen" "$here/../../proto/cdof.proto"
it_hub_endpoints
kd="$IT_DIR/keys"
it_start hub "$IT_HUB" --data "$IT_DIR/hub" --ingest "$ingest" --alerts "$alerts" \
    --query "$query" $(it_sec hub hub)
it_wait_hub
it_sec jcdu flood >/dev/null
it_sec jcdu other >/dev/null
it_sec partnership garbage E06000001 >/dev/null
spool="$IT_DIR/la/spool"
mkdir -p "$spool/in"
it_start la "$IT_AGENT" --id blackpool --hub "$ingest" --spool "$spool" --data "$IT_DIR/la/data" \
    --areas E06000009 $(it_sec partnership blackpool E06000009)

# 1. Implausible rows in a drop; one good row beside them.
forged=$'x\n2026-01-01T00:00:00.000Z cdof-agent info: took forged.csv: 9 rows, 9 to outbox\n.csv'
{
    echo "metric_id,area_code,period,numerator,denominator,value,note"
    echo "continuity_of_care,E06000009,2024-04,1000000000000,1000000000000,,"
    echo "continuity_of_care,E06000009,1900-01,10,100,,"
    echo "continuity_of_care,E06000009,2999-12,10,100,,"
    echo "continuity_of_care,E06000009,2024-Q2,10,100,,"
    echo "continuity_of_care,E06000009,2024-05,11,100,,"
} >"$IT_DIR/drop.csv"
cp "$IT_DIR/drop.csv" "$spool/in/.tmp"
mv "$spool/in/.tmp" "$spool/in/$forged" # 2. the name forges a log line
taken() { [ -n "$(ls -A "$spool/done" 2>/dev/null)" ]; }
it_wait "the agent to take the drop" 30 taken
errs_all=("$spool"/rejected/*.errors.csv) # its name holds a newline: no ls | head
errs=${errs_all[0]}
[ -e "$errs" ] || it_fail "no errors file for the rejected rows: $(ls -R "$spool")"
for want in "is implausible: more than 1.5 times the population of Blackpool" \
    "period '1900-01' is outside the strategy's reporting range" \
    "period '2999-12' is outside the strategy's reporting range" \
    "is a quarter: metric 'continuity_of_care' (monthly) takes months"; do
    grep -qF "$want" "$errs" || it_fail "the agent's errors lack '$want': $(cat "$errs")"
done
if grep -q "^2026-01-01T00:00:00.000Z cdof-agent info: took forged.csv" "$IT_DIR/logs/la.log"; then
    it_fail "a file name forged a line of the agent's log"
fi
grep -qF 'x\x0a2026-01-01T00:00:00.000Z cdof-agent info: took forged.csv' "$IT_DIR/logs/la.log" ||
    it_fail "the agent's log does not show the name escaped: $(tail -n 3 "$IT_DIR/logs/la.log")"
series() {
    it_query "$IT_DIR/series.csv" --hub "$query" $(it_sec jcdu other) series continuity_of_care \
        E06000009 --format csv && it_csv_has "$IT_DIR/series.csv" 'f["numerator"] == 11'
}
it_wait "the good row to be stored" 30 series
if it_csv_has "$IT_DIR/series.csv" 'f["numerator"] + 0 > 1000'; then
    it_fail "the implausible row was stored"
fi

# 3. A flood of garbage frames: a bounded log, and the summary.
timeout 120 "$py" "$here/attack.py" garbage "$ingest" "$kd/hub.pub" \
    "$kd/partnership-garbage.key" 2000 || it_fail "the garbage attack could not run"
dropped() { grep -c "ingest: dropped a message" "$IT_DIR/logs/hub.log" || true; }
it_wait "the hub to log dropped garbage" 20 grep -q "ingest: dropped a message" "$IT_DIR/logs/hub.log"
[ "$(dropped)" -le 50 ] || it_fail "$(dropped) lines for 2,000 garbage frames (at most 50 in 10 s)"
# The summary follows when its 10 s end, at the hub's next line: keep giving it lines.
summary() {
    it_query "$IT_DIR/h.csv" --hub "$query" $(it_sec jcdu other) health --format csv || true
    grep -q "suppressed [0-9]* more line(s) like \"ingest: dropped a message" "$IT_DIR/logs/hub.log"
}
it_wait "the hub's 'suppressed' summary" 30 summary

# 4. A query flood from one key.
timeout 120 "$py" "$here/attack.py" queries "$query" "$kd/hub.pub" "$kd/jcdu-flood.key" \
    "$kd/jcdu-other.key" "$IT_DIR/gen" || it_fail "query flood (above)"
it_query "$IT_DIR/health.csv" --hub "$query" $(it_sec jcdu other) health --format csv ||
    it_fail "no health answer"
it_csv_has "$IT_DIR/health.csv" 'f["queries_refused"] + 0 >= 1' ||
    it_fail "health does not count the refused queries: $(cat "$IT_DIR/health.csv")"

it_stop hub

# 5. The CPU budget: 1 ms a second, far less than the flood's requests cost.
it_start hub2 "$IT_HUB" --data "$IT_DIR/hub" --ingest "$ingest" --alerts "$alerts" \
    --query "$query" --query-cpu-ms 1 $(it_sec hub hub)
it_wait "hub listening on port $p_query" 20 it_listening "$p_query"
timeout 300 "$py" "$here/attack.py" budget "$query" "$kd/hub.pub" "$kd/jcdu-flood.key" \
    "$kd/jcdu-other.key" "$IT_DIR/gen" || it_fail "query budget (above)"
# cdof-query shows what the budget held back, for an operator looking for the flood.
it_query "$IT_DIR/health2.csv" --hub "$query" $(it_sec jcdu other) health --format csv ||
    it_fail "no health answer from the budgeted hub"
it_csv_has "$IT_DIR/health2.csv" 'f["queries_deferred"] + 0 >= 1 && f["query_cpu_ms"] + 0 >= 1' ||
    it_fail "health does not show the deferred queries: $(cat "$IT_DIR/health2.csv")"
it_stop la
it_stop hub2
it_pass "implausible rows, forged log lines, garbage floods, query floods and budgets"
