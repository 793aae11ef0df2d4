#!/usr/bin/env bash
# Alerts reach people, with real parts: a real hub and agent raise the alerts; cdof-watch sends
# them through a real SMTP server (python3-aiosmtpd, STARTTLS and AUTH required) and a real
# local HTTP receiver (http_sink.py), grouped and routed by a receivers file:
#  1. routing tree and grouping: one digest per group (three North West alerts in one email and
#     one webhook), South West to Slack, London to Teams over HTTPS (the default) and to a dead
#     receiver;
#  2. both receivers down for well over several retries, then back: every digest delivered
#     exactly once; `cdof-watch status` counts the retries; the dead receiver's notice expires;
#  3. the watcher SIGKILLed while the webhook holds a request unanswered: after a restart that
#     digest arrives once, under the same idempotency key, and the email is not sent again;
#  4. repeats for alerts still firing; an acknowledged alert stops repeating until it resolves.
#
#   test_notify.sh --hub P --agent P --watch P --query P --keygen P [--refdir DIR]
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_init notify "$@"
it_require hub agent watch query
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# Debian's python3 (the one python3-aiosmtpd installs for), whatever python3 is first on PATH.
py=${CDOF_PYTHON:-/usr/bin/python3}
"$py" -c 'import aiosmtpd' 2>/dev/null ||
    it_fail "$py cannot import aiosmtpd: install python3-aiosmtpd (deploy/dev.sh deps)"
command -v openssl >/dev/null || it_fail "openssl is needed to make the SMTP server's certificate"

read -r p_ingest p_alerts p_query p_smtp p_http p_https < <(it_free_ports 6) || true
[ -n "${p_https:-}" ] || it_fail "could not pick free ports"
ingest="tcp://127.0.0.1:$p_ingest"
alerts="tcp://127.0.0.1:$p_alerts"
query="tcp://127.0.0.1:$p_query"

blackpool=E06000009 bolton=E08000001 bury=E08000002 manchester=E08000003 blackburn=E06000008
bristol=E06000023 barking=E09000002
nw=("$blackburn" "$blackpool" "$bolton" "$bury" "$manchester")
sw=(E06000022 "$bristol" E06000024 E06000025 E06000026)
ldn=("$barking" E09000003 E09000004 E09000005 E09000006)

cat >"$IT_DIR/rules.ini" <<'EOF'
[worse_than_england]
metrics = continuity_of_care
level = 99.8
EOF

# --- the receivers ---
mkdir -p "$IT_DIR/tls"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" -keyout "$IT_DIR/tls/key.pem" \
    -out "$IT_DIR/tls/cert.pem" >/dev/null 2>&1 || it_fail "openssl req failed"
echo "s3cret-for-tests" >"$IT_DIR/smtp.pass"
chmod 600 "$IT_DIR/smtp.pass"
smtp_dir="$IT_DIR/smtp" http_dir="$IT_DIR/http" https_dir="$IT_DIR/https"
start_smtp() {
    it_start "smtp$1" "$py" "$here/smtp_sink.py" --port "$p_smtp" --dir "$smtp_dir" \
        --cert "$IT_DIR/tls/cert.pem" --key "$IT_DIR/tls/key.pem" --user cdof-alerts \
        --password "s3cret-for-tests"
    it_wait "SMTP server $1 to listen" 20 test -e "$smtp_dir/ready"
}
start_smtp 1
it_start http "$py" "$here/http_sink.py" --port "$p_http" --dir "$http_dir"
it_wait "HTTP receiver to listen" 20 test -e "$http_dir/ready"
it_start https "$py" "$here/http_sink.py" --port "$p_https" --dir "$https_dir" \
    --cert "$IT_DIR/tls/cert.pem" --key "$IT_DIR/tls/key.pem"
it_wait "HTTPS receiver to listen" 20 test -e "$https_dir/ready"

# receivers_ini REPEAT: the receivers file, the North West webhook repeating after REPEAT.
receivers_ini() {
    cat >"$IT_DIR/receivers.ini" <<EOF
[delivery]
retry_initial = 200ms
retry_max = 1s
expire = 10m
query_command = cdof-query --hub $query

[receiver nw-email]
type = email
url = smtp://127.0.0.1:$p_smtp
user = cdof-alerts
password_file = $IT_DIR/smtp.pass
from = cdof-alerts@example.test
to = nw-oversight@example.test, duty-officer@example.test
ca_file = $IT_DIR/tls/cert.pem
timeout = 10s

[receiver nw-hook]
type = webhook
url = http://127.0.0.1:$p_http/hook
timeout = 30s

[receiver sw-slack]
type = slack
url = http://127.0.0.1:$p_http/slack

[receiver jcdu-teams]
type = teams
url = https://localhost:$p_https/teams
ca_file = $IT_DIR/tls/cert.pem

[receiver dead]
type = webhook
url = http://127.0.0.1:1/never
timeout = 1s
expire = 2s

[route]
receiver = jcdu-teams
group_by = team, region
group_wait = 2s
group_interval = 2s
repeat_interval = 1h

[route northwest]
region = E12000002
receiver = nw-email
continue = true

[route northwest-hook]
region = E12000002
receiver = nw-hook
repeat_interval = $1

[route southwest]
region = E12000009
receiver = sw-slack

[route london]
region = E12000007
continue = true

[route london.dead]
severity = critical
receiver = dead
continue = true

[route london.teams]
rule = worse_than_england
EOF
}
receivers_ini 1h

# Periods are judged once complete: the fifteen areas here are all that report, so 6% of the 153
# expected (10) complete a period once its deadline (0 days: already past) has passed.
printf 'metric_id,threshold_percent,deadline_days\n*,6,0\n' >"$IT_DIR/periods.csv"
it_start hub "$IT_HUB" --data "$IT_DIR/hub" --ingest "$ingest" --alerts "$alerts" \
    --query "$query" --rules "$IT_DIR/rules.ini" --periods "$IT_DIR/periods.csv" $(it_sec hub hub)
it_wait_hub
wsec=$(it_sec oversight watch)
start_watch() {
    it_start "watch$1" "$IT_WATCH" --hub-alerts "$alerts" --hub-query "$query" --topic alert/ \
        --format json --data "$IT_DIR/watch" --receivers "$IT_DIR/receivers.ini" $wsec
}
start_watch 1
spool="$IT_DIR/agent/spool"
mkdir -p "$IT_DIR/agent"
it_start agent "$IT_AGENT" --id ons-test --hub "$ingest" --spool "$spool" \
    --data "$IT_DIR/agent/data" --national $(it_sec national ons-test)

# drop MONTH BAD_AREA...: continuity of care for fifteen areas, 45/100, 10/100 for the bad.
n_drop=0
drop() {
    local month=$1 a num
    shift
    n_drop=$((n_drop + 1))
    local f="$IT_DIR/drop$n_drop.csv"
    echo "metric_id,area_code,period,numerator,denominator,value,note" >"$f"
    for a in "${nw[@]}" "${sw[@]}" "${ldn[@]}"; do
        num=45
        [[ " $* " == *" $a "* ]] && num=10
        echo "continuity_of_care,$a,$month,$num,100,," >>"$f"
    done
    it_drop "$spool" "$f"
    it_wait "drop$n_drop.csv ($month) to be processed" 30 test -e "$spool/done/drop$n_drop.csv"
}

# --- what the receivers got ---
# ok_keys PATH: idempotency keys the HTTP receiver answered 200 on PATH, in order.
ok_keys() { awk -v p="$1" '$1 == 200 && $2 == p { print $3 }' "$http_dir/log" "$https_dir/log" 2>/dev/null || true; }
ok_count() { [ "$(ok_keys "$1" | grep -c .)" -ge "$2" ]; }
# The JSON bodies answered 200 on PATH, in order.
bodies_to() {
    local d
    for d in "$http_dir" "$https_dir"; do
        [ ! -e "$d/log" ] || awk -v p="$1" -v d="$d" '$1 == 200 && $2 == p { print d "/" $4 }' "$d/log"
    done
}
mail_ids() { awk '$1 == "accepted" { print $2 }' "$smtp_dir/log" 2>/dev/null || true; }
mail_count() { [ "$(mail_ids | grep -c .)" -ge "$1" ]; }
mail_file() { printf '%s/%04d.eml' "$smtp_dir" "$1"; }
# mail_with STATE AREA: an email lists AREA under "== STATE ==" (a digest may split a data load
# between two windows, so what matters is that each alert is told, not in which email).
mail_with() {
    local f
    for f in "$smtp_dir"/*.eml; do
        [ -e "$f" ] || continue
        awk -v s="^== $1 ==" -v a="($2)" '/^== / { cur = $0 } index($0, a) && cur ~ s { hit = 1 }
            END { exit !hit }' "$f" && return 0
    done
    return 1
}
# no_repeats WHAT KEYS...: fails when a key was accepted twice.
no_repeats() {
    local what=$1 dup
    shift
    dup=$(printf '%s\n' "$@" | sort | uniq -d)
    [ -z "$dup" ] || it_fail "$what accepted twice: $dup"
}
failures_of() { grep -c "to $1 failed (attempt" "$IT_DIR/logs/$2.log" || true; }
failed_at_least() { [ "$(failures_of "$1" "$3")" -ge "$2" ]; }
status_json() {
    "$IT_WATCH" status --data "$IT_DIR/watch" --format json >"$IT_DIR/status.json" \
        2>>"$IT_DIR/logs/status.log"
}
status_field() { grep -o "\"$1\": [0-9]*" "$IT_DIR/status.json" | grep -o '[0-9]*$'; }

# 1. April: three North West alerts, one South West, one London.
drop 2024-04 "$blackpool" "$bolton" "$bury" "$bristol" "$barking"
it_wait "one North West email" 30 mail_count 1
it_wait "one North West webhook" 30 ok_count /hook 1
it_wait "one Slack message for the South West" 30 ok_count /slack 1
it_wait "one Teams message for London" 30 ok_count /teams 1
m1=$(mail_file 1)
[ "$(grep -c '^== new ==' "$m1")" -eq 3 ] ||
    it_fail "the first email is not one digest of the three North West alerts: $(cat "$m1")"
for a in "$blackpool" "$bolton" "$bury"; do
    grep -q "($a)" "$m1" || it_fail "the digest lacks $a"
done
for want in "^Subject: \[cdof\] 3 new alerts: team=hmpps,region=E12000002" \
    "^To: nw-oversight@example.test, duty-officer@example.test" "^Message-ID: <" \
    "Value  *10%" "Interval  *[0-9.]*% to [0-9.]*% (99.8% confidence)" "Benchmark  *England [0-9]" \
    "Period  *2024-04" "To acknowledge:  cdof-query --hub $query ack [0-9]* --by" \
    "To silence:  *cdof-query --hub $query silence 'worse_than_england|continuity_of_care|$bury'" \
    "Idempotency key: "; do
    grep -q "$want" "$m1" || it_fail "the email lacks /$want/: $(cat "$m1")"
done
grep -q "rcpt=nw-oversight@example.test,duty-officer@example.test" "$smtp_dir/log" ||
    it_fail "the SMTP server did not get both recipients: $(cat "$smtp_dir/log")"
h1=$(bodies_to /hook | head -n 1)
[ "$(grep -o '"status":"new"' "$h1" | grep -c .)" -eq 3 ] ||
    it_fail "the webhook body is not one digest of three: $(cat "$h1")"
grep -q '"ack_command":"cdof-query --hub' "$h1" || it_fail "the webhook body lacks ack_command"
grep -q "\"key\":\"$(ok_keys /hook | head -n 1)\"" "$h1" ||
    it_fail "the webhook's Idempotency-Key header differs from its body's key"
s1=$(bodies_to /slack | head -n 1)
grep -q '"blocks":\[' "$s1" && grep -q "$bristol" "$s1" || it_fail "Slack body: $(cat "$s1")"
t1=$(bodies_to /teams | head -n 1)
grep -q '"@type":"MessageCard"' "$t1" && grep -q "$barking" "$t1" || it_fail "Teams: $(cat "$t1")"
# The routing tree: nothing crossed over.
grep -l "$barking\|$bristol" "$smtp_dir"/*.eml 2>/dev/null | grep -q . &&
    it_fail "a South West or London alert reached the North West email"
for f in $(bodies_to /slack); do grep -q "$blackpool\|$barking" "$f" && it_fail "Slack got $f"; done
for f in $(bodies_to /teams); do grep -q "$blackpool\|$bristol" "$f" && it_fail "Teams got $f"; done
# The dead receiver (London, critical, continue): retried, then expired, logged and counted.
it_wait "the dead receiver's notice to expire" 30 grep -q "to dead expired after" \
    "$IT_DIR/logs/watch1.log"
status_json || it_fail "cdof-watch status failed: $(cat "$IT_DIR/logs/status.log")"
[ "$(status_field expired)" -eq 1 ] || it_fail "status does not count one expired: $(cat "$IT_DIR/status.json")"
"$IT_WATCH" status --data "$IT_DIR/watch" >"$IT_DIR/status.txt" 2>>"$IT_DIR/logs/status.log"
grep -q "  dead  *[0-9a-f]*-[0-9]* after [0-9]* attempts: \[cdof\] 1 new alert" "$IT_DIR/status.txt" ||
    it_fail "status does not list the expired notice: $(cat "$IT_DIR/status.txt")"

# 2. Outage of both receivers while May's alerts fire (Manchester new, Bury resolved).
it_stop smtp1
echo fail >"$http_dir/mode"
drop 2024-05 "$blackpool" "$bolton" "$manchester" "$bristol"
it_wait "five failed attempts to email" 60 failed_at_least nw-email 5 watch1
it_wait "five failed attempts to the webhook" 60 failed_at_least nw-hook 5 watch1
status_json || it_fail "cdof-watch status failed during the outage"
[ "$(status_field retrying)" -ge 2 ] ||
    it_fail "status shows no retrying notices during the outage: $(cat "$IT_DIR/status.json")"
start_smtp 2
echo ok >"$http_dir/mode"
it_wait "Manchester's firing by email after the outage" 60 mail_with new "$manchester"
it_wait "Bury's resolution by email after the outage" 60 mail_with resolved "$bury"
it_wait "the May webhook after the outage" 60 ok_count /hook 2
no_repeats "an email" $(mail_ids)

# 3. SIGKILL while the webhook holds the June digest unanswered.
echo hold >"$http_dir/mode"
drop 2024-06 "$blackpool" "$bolton" "$manchester" "$blackburn" "$bristol"
it_wait "the webhook to hold a request" 60 grep -q "^held /hook" "$http_dir/log"
it_wait "the June email" 60 mail_with new "$blackburn"
held=$(awk '$1 == "held" { k = $3 } END { print k }' "$http_dir/log")
it_kill9 watch1
echo ok >"$http_dir/mode"
receivers_ini 2s # repeats for part 4, taken at the restart
start_watch 2
it_wait "the held digest to arrive after the restart" 60 \
    grep -q "^200 /hook $held " "$http_dir/log"
no_repeats "a webhook digest" $(ok_keys /hook)
no_repeats "an email" $(mail_ids)

# 4. Repeats every 2 s for the North West webhook; an acknowledged alert stops repeating.
n_hook=$(ok_keys /hook | grep -c .)
it_wait "a repeat of the still-firing North West alerts" 30 ok_count /hook $((n_hook + 1))
r=$(bodies_to /hook | tail -n 1)
grep -q '"status":"firing"' "$r" && grep -q "$blackpool" "$r" || it_fail "the repeat: $(cat "$r")"
bp_seq=$(grep -o "\"sequence\":[0-9]*,[^}]*\"area_code\":\"$blackpool\"" "$IT_DIR/logs/watch1.out" |
    head -n 1 | grep -o '^"sequence":[0-9]*' | cut -d: -f2)
[ -n "$bp_seq" ] || it_fail "no Blackpool alert printed by the watcher"
it_query "$IT_DIR/ack.csv" --hub "$query" $(it_sec jcdu query) ack "$bp_seq" --by "Jo Bloggs" ||
    it_fail "cdof-query ack $bp_seq failed: $(tail -n 3 "$IT_DIR/logs/query.log")"
it_wait "the watcher to take the acknowledgement" 30 \
    grep -q '"state":"acknowledged".*"acknowledged_by":"Jo Bloggs"' "$IT_DIR/logs/watch2.out"
n_hook=$(ok_keys /hook | grep -c .)
it_wait "two more repeats" 30 ok_count /hook $((n_hook + 2))
r=$(bodies_to /hook | tail -n 1)
grep -q "$bolton" "$r" || it_fail "the repeat after the ack lacks Bolton: $(cat "$r")"
! grep -q "$blackpool" "$r" || it_fail "the acknowledged Blackpool alert still repeats: $(cat "$r")"
# ... until it resolves: July, Blackpool good.
drop 2024-07 "$bolton" "$manchester" "$blackburn" "$bristol"
resolved_bp() {
    local f
    for f in $(bodies_to /hook); do
        grep -q "\"status\":\"resolved\",\"record\":{[^}]*\"area_code\":\"$blackpool\"" "$f" &&
            return 0
    done
    return 1
}
it_wait "Blackpool's resolution on the webhook" 30 resolved_bp
no_repeats "a webhook digest" $(ok_keys /hook)

status_json || it_fail "cdof-watch status failed at the end"
[ "$(status_field delivered)" -ge $(($(ok_keys /hook | grep -c .) - 0)) ] ||
    it_fail "status counts fewer deliveries than the receivers got: $(cat "$IT_DIR/status.json")"
it_stop agent
it_stop watch2
grep -q "notices: delivered [0-9]*, failed attempts [0-9]*, retrying" "$IT_DIR/logs/watch2.log" ||
    it_fail "the watcher did not log its counters"
# Every JSON body parses.
"$py" -c 'import json, sys
for f in sys.argv[1:]:
    json.load(open(f))' "$http_dir"/*.json "$https_dir"/*.json || it_fail "a webhook body is not JSON"
it_stop http
it_stop https
it_stop smtp2
it_stop hub
it_pass "routing tree, one digest per group, outages ridden out exactly once, SIGKILL mid-delivery, repeats and acks"
