#!/usr/bin/env bash
# Refusals are visible to the refused, with real processes and CURVE: cdof-query and cdof-agent
# watch ZeroMQ's socket monitor and say which of these it is, instead of waiting for an answer
# that never comes:
#  1. an unregistered key, and a key of the wrong role for the endpoint: "the hub refused this
#     key", exit status 5;
#  2. a --server-key that is not the hub's: "wrong hub key", exit status 5;
#  3. no hub at all: "no hub is listening", exit status 3;
#  4. an agent whose key is not registered logs the refusal once (not every reconnection) and
#     `cdof-agent status` shows it; registered (SIGHUP), it gets through and status says so;
#  5. an agent given the wrong hub key: status says "wrong hub key";
#  6. cdof-watch says once which of these it is.
#
#   test_refusals.sh --hub P --agent P --watch P --query P --keygen P [--refdir DIR]
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_init refusals "$@"
it_require hub agent watch query keygen
IT_INSECURE=0 # this test is about CURVE handshakes
it_hub_endpoints
kd="$IT_DIR/keys"

it_start hub "$IT_HUB" --data "$IT_DIR/hub" --ingest "$ingest" --alerts "$alerts" \
    --query "$query" $(it_sec hub hub)
it_wait_hub
it_sec jcdu reader >/dev/null
it_sec partnership la-a E06000009 >/dev/null
(cd "$kd" && "$IT_KEYGEN" stranger >/dev/null && "$IT_KEYGEN" notthehub >/dev/null)

ask() { # WANT_STATUS WANT_TEXT ENDPOINT KEY SERVER_KEY
    local rc=0
    timeout 20 "$IT_QUERY" --hub "$3" --key "$kd/$4.key" --server-key "$kd/$5.pub" \
        --timeout-ms 8000 health >/dev/null 2>"$IT_DIR/ask.err" || rc=$?
    [ "$rc" = "$1" ] || it_fail "cdof-query as $4 ($5.pub) at $3 exited $rc, not $1: $(cat "$IT_DIR/ask.err")"
    [ -z "$2" ] || grep -q "$2" "$IT_DIR/ask.err" || it_fail "cdof-query did not say '$2': $(cat "$IT_DIR/ask.err")"
}
# 1-3. cdof-query.
ask 0 "" "$query" jcdu-reader hub
ask 5 "the hub refused this key (not registered, or the wrong role" "$query" stranger hub
ask 5 "the hub refused this key" "$query" partnership-la-a hub # an agent's key may not query
ask 5 "wrong hub key" "$query" jcdu-reader notthehub
read -r p_none < <(it_free_ports 1)
ask 3 "no hub is listening" "tcp://127.0.0.1:$p_none" jcdu-reader hub

# 4. An agent with an unregistered key.
start_agent() { # NAME KEY SERVER_KEY
    mkdir -p "$IT_DIR/$1/spool/in"
    it_start "$1" "$IT_AGENT" --id "$1" --hub "$ingest" --spool "$IT_DIR/$1/spool" \
        --data "$IT_DIR/$1/data" --areas E06000008 --heartbeat-ms 200 --ack-timeout-ms 1000 \
        --key "$kd/$2.key" --server-key "$kd/$3.pub"
}
status_has() { # NAME PATTERN [FORMAT]
    "$IT_AGENT" status --data "$IT_DIR/$1/data" --format "${3:-json}" 2>/dev/null | grep -Eq "$2"
}
(cd "$kd" && "$IT_KEYGEN" la-b >/dev/null)
start_agent la-b la-b hub
it_wait "la-b's status to show the refusal" 30 status_has la-b '"hub_link": "refused"'
status_has la-b "HUB REFUSES THIS AGENT since .*not registered, or the wrong role" text ||
    it_fail "the text status does not say why: $("$IT_AGENT" status --data "$IT_DIR/la-b/data")"
sleep 2 # several more reconnections (every 3 heartbeat intervals)
[ "$(grep -c "the hub refused this key" "$IT_DIR/logs/la-b.log")" -eq 1 ] ||
    it_fail "the refusal is not logged exactly once: $(grep refused "$IT_DIR/logs/la-b.log")"
reloads=$(it_hub_reloads "$IT_DIR/logs/hub.log")
it_registry_add "$(cat "$kd/la-b.pub"),la-b,partnership,la-b,E06000008"
it_wait "la-b to be admitted and say so" 30 status_has la-b '"hub_link": "up"'
grep -q "admits this key again" "$IT_DIR/logs/la-b.log" || it_fail "la-b did not log its admission"
[ "$(it_hub_reloads "$IT_DIR/logs/hub.log")" -gt "$reloads" ] || it_fail "the hub did not reload"

# 5. An agent given a key that is not the hub's.
start_agent la-c la-b notthehub
it_wait "la-c's status to show the wrong hub key" 30 status_has la-c '"hub_link": "wrong_hub_key"'

# 6. A watcher with an unregistered key, and one given the wrong hub key: each says why once.
for w in "watch-stranger stranger hub" "watch-wrongkey jcdu-reader notthehub"; do
    read -r name key server <<<"$w"
    it_start "$name" "$IT_WATCH" --hub-alerts "$alerts" --hub-query "$query" --topic alert/ \
        --key "$kd/$key.key" --server-key "$kd/$server.pub"
done
it_wait "the unregistered watcher to say it is refused" 30 \
    grep -q "the hub refused this key" "$IT_DIR/logs/watch-stranger.log"
it_wait "the misconfigured watcher to say the hub key is wrong" 30 \
    grep -q "wrong hub key" "$IT_DIR/logs/watch-wrongkey.log"
sleep 2 # more reconnections
for name in watch-stranger watch-wrongkey; do
    [ "$(grep -c "hub tcp://127.0.0.1:$p_alerts: " "$IT_DIR/logs/$name.log")" -eq 1 ] ||
        it_fail "$name did not say it exactly once: $(cat "$IT_DIR/logs/$name.log")"
done
it_stop watch-wrongkey
it_stop watch-stranger
it_stop la-c
it_stop la-b
it_stop hub
it_pass "refused key, wrong role, wrong hub key and no hub told apart by cdof-query and the agent"
