#!/usr/bin/env bash
# Routing-id squatting (deploy/SECURITY.md): agent la-b, registered with its own key, connects
# again and again under the routing id "la-a" (la-a's agent id, which agents once chose for their
# connection) while la-a sends. The hub answers each message on the connection it came from, so
# la-a gets every acknowledgement: it drains each file without once finding the hub silent, and
# the squatter, which sends nothing, receives nothing.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
it_init routing_squat "$@"
IT_INSECURE=0 # the squatter is a registered CURVE key: the point is what a key cannot do
squat=${CDOF_SQUAT:?CDOF_SQUAT names the squat helper (set by CTest)}
[ -x "$squat" ] || it_fail "$squat is not an executable"
it_hub_endpoints
kd="$IT_DIR/keys"
it_sec partnership la-b E06000008 >/dev/null # the squatter's key, registered before the hub starts

it_start hub "$IT_HUB" --data "$IT_DIR/hub" --ingest "$ingest" --alerts "$alerts" \
    --query "$query" $(it_sec hub hub)
it_wait "hub ready" 20 grep -q "ready:" "$IT_DIR/logs/hub.log"
mkdir -p "$IT_DIR/la-a/spool/in"
it_start la-a "$IT_AGENT" --id la-a --hub "$ingest" --spool "$IT_DIR/la-a/spool" \
    --data "$IT_DIR/la-a/data" --areas E06000009 --heartbeat-ms 400 --ack-timeout-ms 1000 \
    $(it_sec partnership la-a E06000009)
it_wait "la-a to connect" 20 grep -q "connected to hub" "$IT_DIR/logs/la-a.log"

# Squats from before la-a's first drop until stopped (60 s at most), so it spans all la-a sends.
it_start squat "$squat" "$ingest" "$kd/partnership-la-b.key" "$kd/hub.pub" la-a 60
it_wait "the squatter's first connection" 20 grep -qx "handshake 1" "$IT_DIR/logs/squat.out"
drained() { # FILE: taken (in done/) and the outbox empty
    [ -e "$IT_DIR/la-a/spool/done/$1" ] &&
        "$IT_AGENT" status --data "$IT_DIR/la-a/data" --format json 2>/dev/null |
        grep -Eq '"outbox_depth": *0([^0-9]|$)'
}
for month in 01 02 03; do
    f="$IT_DIR/m$month.csv"
    printf '%s\n' "metric_id,area_code,period,numerator,denominator,value,note" \
        "continuity_of_care,E06000009,2024-$month,1$month,200,," >"$f"
    it_drop "$IT_DIR/la-a/spool" "$f"
    it_wait "la-a to drain m$month.csv" 30 drained "m$month.csv"
done
# ...and on through a dozen of la-a's heartbeats (a connection each 250 ms).
it_wait "20 squatting connections" 30 grep -qx "handshake 20" "$IT_DIR/logs/squat.out"
it_stop squat
read -r _ handshakes _ received < <(grep "^handshakes" "$IT_DIR/logs/squat.out")
[ "$received" -eq 0 ] ||
    it_fail "the squatter received $received message(s) meant for la-a ($handshakes connections)"
if grep -q "no word from hub" "$IT_DIR/logs/la-a.log"; then
    it_fail "la-a lost the hub's answers while the squatter held its routing id"
fi
it_stop la-a
it_stop hub
it_pass "$handshakes squatting connections under la-a's id received nothing; la-a got every ack"
