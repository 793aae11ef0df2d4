#!/usr/bin/env bash
# One subscriber cannot exhaust the hub's memory (sub_flood.py, over CURVE with a reader's key):
# bogus and oversized subscriptions are refused, one connection holds at most 64, and they are
# freed when it ends.
#
#   test_sub_flood.sh --hub P --agent P --keygen P [--refdir DIR]
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_init sub_flood "$@"
it_require hub agent query keygen
IT_INSECURE=0 # as deployed
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
py=/usr/bin/python3 # Debian's, where python3-zmq lives
"$py" -c 'import zmq' 2>"$IT_DIR/py.err" || it_fail "python3-zmq is needed: $(cat "$IT_DIR/py.err")"
it_hub_endpoints
# settle-ms 0: each drop's alert is published as its batch commits. Memory is measured: under
# AddressSanitizer, freed memory waits in its quarantine (256 MiB) and would count as the hub's.
# Periods complete once a few areas have reported (the test sends a handful): alerts judge them.
printf 'metric_id,threshold_percent,deadline_days\n*,3,0\n' >"$IT_DIR/periods.csv"
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0"
it_start hub "$IT_HUB" --data "$IT_DIR/hub" --ingest "$ingest" --alerts "$alerts" \
    --query "$query" --settle-ms 0 --periods "$IT_DIR/periods.csv" $(it_sec hub hub)
it_wait_hub
it_sec jcdu flood >/dev/null
spool="$IT_DIR/agent/spool"
mkdir -p "$IT_DIR/agent" "$spool/in"
it_start agent "$IT_AGENT" --id ons-test --hub "$ingest" --spool "$spool" \
    --data "$IT_DIR/agent/data" --national $(it_sec national ons-test)

# The trigger: the next month of continuity of care, Blackpool bad in odd months and good in
# even ones, so each drop fires or resolves its alert (published under alert/).
cat >"$IT_DIR/trigger.sh" <<SH
#!/bin/sh
set -e
n=\$(cat "$IT_DIR/month" 2>/dev/null || echo 0); n=\$((n + 1)); echo \$n >"$IT_DIR/month"
f="$spool/in/.m\$n.tmp"
echo "metric_id,area_code,period,numerator,denominator,value,note" >"\$f"
for a in E06000008 E06000009 E08000001 E08000002 E08000003 E06000022 E06000023 E06000024; do
    num=45
    if [ \$a = E06000009 ] && [ \$((n % 2)) = 1 ]; then num=10; fi
    printf 'continuity_of_care,%s,2024-%02d,%d,100,,\n' \$a \$n \$num >>"\$f"
done
mv "\$f" "$spool/in/m\$n.csv"
SH
chmod +x "$IT_DIR/trigger.sh"

# A reader revoked first: the hub reopens the alert endpoint, which takes the subscription
# monitor for a while; everything below runs on the reopened endpoint, watched again.
it_sec jcdu gone >/dev/null
grep -v ",gone," "$IT_DIR/keys/registry.csv" >"$IT_DIR/keys/registry.tmp"
mv "$IT_DIR/keys/registry.tmp" "$IT_DIR/keys/registry.csv"
kill -HUP "$(it_pid hub)"
it_wait "the hub to reopen the alert endpoint" 30 \
    grep -q "alerts: a reader's key was revoked" "$IT_DIR/logs/hub.log"
timeout 300 "$py" "$here/sub_flood.py" "$(it_pid hub)" "$alerts" "$IT_DIR/keys/hub.pub" \
    "$IT_DIR/keys/jcdu-flood.key" "${CDOF_SUB_FLOOD:-50000}" "$IT_DIR/trigger.sh" ||
    it_fail "subscription limits (above)"
grep -q "alerts: refused a subscription of 1024 bytes from flood" "$IT_DIR/logs/hub.log" ||
    it_fail "the hub did not log the refused subscriptions"
it_query "$IT_DIR/health.csv" --hub "$query" $(it_sec jcdu flood) health --format csv ||
    it_fail "no health answer"
it_csv_has "$IT_DIR/health.csv" 'f["subscriptions_refused"] + 0 >= 1000' ||
    it_fail "health does not count the refused subscriptions: $(cat "$IT_DIR/health.csv")"
if grep -q "cannot watch subscribers" "$IT_DIR/logs/hub.log"; then
    it_fail "the subscription monitor was lost: $(grep "cannot watch" "$IT_DIR/logs/hub.log")"
fi
grep -q "suppressed [0-9]* more line(s) like \"alerts: refused a subscription" \
    "$IT_DIR/logs/hub.log" || it_fail "the refusals were not rate-limited in the log"
it_stop agent
it_stop hub
it_pass "subscription flood refused, 64 per connection, freed when a connection ends"
