#!/usr/bin/env bash
# Security with real processes (deploy/SECURITY.md): secret key files must be private;
# the hub admits only registered keys; each agent writes only its registry areas, whatever it
# claims itself; a key revoked by SIGHUP is refused, also on a connection it already has;
# --insecure parties cannot talk to a CURVE hub, and every --insecure start logs a warning.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
it_init security "$@"
IT_INSECURE=0 # this test is about CURVE itself

read -r p_ingest p_alerts p_query < <(it_free_ports 3)
ingest="tcp://127.0.0.1:$p_ingest" alerts="tcp://127.0.0.1:$p_alerts"
query="tcp://127.0.0.1:$p_query"
kd="$IT_DIR/keys"

# 1. A secret key file readable by others is refused, with the fix in the message.
it_sec jcdu reader >/dev/null
chmod 644 "$kd/jcdu-reader.key"
if "$IT_QUERY" --hub "$query" $(it_sec jcdu reader) agents >"$IT_DIR/perm.out" 2>&1; then
    it_fail "cdof-query used a secret key file of mode 644"
fi
grep -q "chmod 600 $kd/jcdu-reader.key" "$IT_DIR/perm.out" ||
    it_fail "the refusal does not say how to fix it: $(cat "$IT_DIR/perm.out")"
chmod 600 "$kd/jcdu-reader.key"

# 2. The hub, agent la-a (registered for Blackpool, claiming Blackpool and Blackburn itself) and
#    agent la-b (registered for Blackburn with Darwen).
it_start hub "$IT_HUB" --data "$IT_DIR/hub" --ingest "$ingest" --alerts "$alerts" \
    --query "$query" $(it_sec hub hub)
it_wait_hub
start_agent() { # ID REGISTERED_AREAS CLAIMED_AREAS
    mkdir -p "$IT_DIR/$1/spool/in"
    it_start "$1" "$IT_AGENT" --id "$1" --hub "$ingest" --spool "$IT_DIR/$1/spool" \
        --data "$IT_DIR/$1/data" --areas "$3" --heartbeat-ms 200 --ack-timeout-ms 1000 \
        $(it_sec partnership "$1" "$2")
}
start_agent la-a E06000009 E06000009,E06000008
start_agent la-b E06000008 E06000008

drop() { # ID ROWS...: a continuity_of_care drop for June 2024
    local f="$IT_DIR/$1.csv"
    shift
    { echo "metric_id,area_code,period,numerator,denominator,value,note" && printf '%s\n' "$@"; } >"$f"
    it_drop "$IT_DIR/$(basename "$f" .csv)/spool" "$f"
}
status_has() { # ID PATTERN: the agent's status (JSON) matches PATTERN
    "$IT_AGENT" status --data "$IT_DIR/$1/data" --format json 2>/dev/null | grep -Eq "$2"
}
drained() { # ID FILE: FILE was taken (it is in done/) and the outbox is empty
    [ -e "$IT_DIR/$1/spool/done/$2" ] && status_has "$1" '"outbox_depth": *0([^0-9]|$)'
}

# 3. la-a's row for Blackburn (outside its partnership) is rejected by the hub with a reason the
#    agent keeps; its Blackpool row is stored; nothing of la-a's is stored for Blackburn.
drop la-a "continuity_of_care,E06000009,2024-06,11,100,," "continuity_of_care,E06000008,2024-06,77,100,,"
drop la-b "continuity_of_care,E06000008,2024-06,42,100,,"
it_wait "la-a's status to show the hub's rejection of the Blackburn row" 30 \
    status_has la-a "not one of this agent's areas"
it_wait "la-a to drain" 30 drained la-a la-a.csv
it_wait "la-b to drain" 30 drained la-b la-b.csv
league() {
    it_query "$IT_DIR/league.csv" --hub "$query" $(it_sec jcdu reader) league continuity_of_care \
        2024-06 --format csv
}
it_wait "comparisons settled" 20 it_settled "$query" $(it_sec jcdu reader) # league: stored rows
it_wait "the league table" 20 league
it_csv_has "$IT_DIR/league.csv" 'f["area_code"] == "E06000009" && f["numerator"] == 11' ||
    it_fail "la-a's Blackpool row is not stored"
it_csv_has "$IT_DIR/league.csv" 'f["area_code"] == "E06000008" && f["numerator"] == 42' ||
    it_fail "la-b's Blackburn row is not stored"
if it_csv_has "$IT_DIR/league.csv" 'f["numerator"] == 77'; then
    it_fail "la-a's row for Blackburn, outside its partnership, was stored"
fi
grep -q "rejected la-a seq .*not one of this agent's areas" "$IT_DIR/logs/hub.log" ||
    it_fail "the hub did not record la-a's rejection"

# 4. An unknown key cannot connect: no answer, and the hub logs the refusal.
(cd "$kd" && "$IT_KEYGEN" stranger >/dev/null)
if timeout 10 "$IT_QUERY" --hub "$query" --key "$kd/stranger.key" --server-key "$kd/hub.pub" \
    --timeout-ms 1500 agents >/dev/null 2>>"$IT_DIR/logs/query.log"; then
    it_fail "a query with an unregistered key was answered"
fi
grep -qF "refused an unknown key $(cat "$kd/stranger.pub")" "$IT_DIR/logs/hub.log" ||
    it_fail "the hub did not log the unknown key"

# 5. --insecure against a CURVE hub: no answer, and the warning at start.
if timeout 10 "$IT_QUERY" --hub "$query" --insecure --timeout-ms 1500 agents \
    >/dev/null 2>"$IT_DIR/insecure.log"; then
    it_fail "a plain TCP query was answered by a CURVE hub"
fi
grep -q "insecure.*neither encrypted nor authenticated" "$IT_DIR/insecure.log" ||
    it_fail "cdof-query --insecure did not warn"

# 6. Revoke la-b (SIGHUP): its open connection is no longer served; a new drop stays unsent.
reloads=$(it_hub_reloads "$IT_DIR/logs/hub.log")
grep -v ",la-b," "$kd/registry.csv" >"$kd/registry.tmp"
mv "$kd/registry.tmp" "$kd/registry.csv"
kill -HUP "$(it_pid hub)"
reloaded() { [ "$(it_hub_reloads "$IT_DIR/logs/hub.log")" -gt "$reloads" ]; }
it_wait "the hub to reload its keys" 10 reloaded
it_wait "the hub to refuse la-b's revoked key on its open connection" 20 \
    grep -qF "key $(cat "$kd/partnership-la-b.pub") is no longer registered" "$IT_DIR/logs/hub.log"
drop la-b "continuity_of_care,E06000008,2024-06,99,100,,"
# The agent keeps the update and, unanswered, gives the hub up for dead with it still queued.
it_wait "la-b to find the hub silent with its update queued" 30 \
    grep -Eq "no word from hub .*outbox [1-9]" "$IT_DIR/logs/la-b.log"
it_wait "comparisons settled" 20 it_settled "$query" $(it_sec jcdu reader) # league: stored rows
it_wait "the league table" 20 league
if it_csv_has "$IT_DIR/league.csv" 'f["numerator"] == 99'; then
    it_fail "a revoked key's update was stored"
fi

# 7. A hub with --insecure warns at start.
mkdir -p "$IT_DIR/hub2"
it_start hub2 "$IT_HUB" --data "$IT_DIR/hub2" --ingest "ipc://$IT_DIR/i2" \
    --alerts "ipc://$IT_DIR/a2" --query "ipc://$IT_DIR/q2" --insecure
it_wait "hub2 to start" 20 grep -q "ready:" "$IT_DIR/logs/hub2.log"
grep -q "insecure.*neither encrypted nor authenticated" "$IT_DIR/logs/hub2.log" ||
    it_fail "cdof-hub --insecure did not warn"
it_stop hub2
it_stop la-a
it_stop la-b
it_stop hub
it_pass "private keys, registry admission, area authorisation, revocation on SIGHUP, --insecure"
