# shellcheck shell=bash disable=SC2034
# Helpers for cdof integration tests: real processes on loopback in a temporary directory.
# Source it from a test script that runs under `set -euo pipefail`:
#
#   . "$(dirname "$0")/lib.sh"
#   it_init e2e "$@"            # parses --hub/--agent/--watch/--query/--keygen/--refdir
#   it_start hub "$IT_HUB" --data "$IT_DIR/hub" ...
#   it_wait "hub listening" 20 it_listening "$port"
#   it_fail "what went wrong"
#
# Every wait is bounded in time and polls at short intervals; nothing sleeps for a fixed period.
# On exit every process started with it_start is killed and the directory removed (kept, and its
# path printed, when the test failed or IT_KEEP=1).

IT_NAME=""
IT_DIR=""
IT_FAILED=0
IT_PIDS=()  # pids of started processes, in start order
IT_NAMES=() # their names (logs are $IT_DIR/logs/NAME.out and NAME.log)
IT_CMDS=()  # their command lines (it_sec finds running hubs by them, wrapped or not)
IT_HUB="" IT_AGENT="" IT_WATCH="" IT_QUERY="" IT_KEYGEN="" IT_REFDIR=""

it_log() { printf '[%s] %s\n' "$IT_NAME" "$*" >&2; }

# it_init NAME [--hub P] [--agent P] [--watch P] [--query P] [--keygen P] [--refdir D]
it_init() {
    IT_NAME=$1
    shift
    while [ $# -gt 0 ]; do
        case "$1" in
        --hub) IT_HUB=$2 ;;
        --agent) IT_AGENT=$2 ;;
        --watch) IT_WATCH=$2 ;;
        --query) IT_QUERY=$2 ;;
        --keygen) IT_KEYGEN=$2 ;;
        --refdir) IT_REFDIR=$2 ;;
        *)
            echo "$IT_NAME: unknown argument '$1'" >&2
            exit 2
            ;;
        esac
        shift 2
    done
    local p
    for p in "$IT_HUB" "$IT_AGENT" "$IT_WATCH" "$IT_QUERY"; do
        [ -z "$p" ] || [ -x "$p" ] || {
            echo "$IT_NAME: $p is not an executable (build it first)" >&2
            exit 1
        }
    done
    [ -z "$IT_REFDIR" ] || export CDOF_REFDIR="$IT_REFDIR"
    IT_DIR=$(mktemp -d "${TMPDIR:-/tmp}/cdof-it-$IT_NAME.XXXXXX")
    mkdir -p "$IT_DIR/logs"
    trap it_cleanup EXIT
    trap 'exit 130' INT TERM
}

it_cleanup() {
    local rc=$?
    local i
    for i in "${!IT_PIDS[@]}"; do
        kill -KILL "${IT_PIDS[$i]}" 2>/dev/null || true
        wait "${IT_PIDS[$i]}" 2>/dev/null || true
    done
    if [ "$rc" -ne 0 ] || [ "$IT_FAILED" -ne 0 ] || [ "${IT_KEEP:-0}" = 1 ]; then
        it_log "kept $IT_DIR"
    else
        rm -rf "$IT_DIR"
    fi
}

# Prints the last lines of every log, then fails the test with a clear message.
it_fail() {
    IT_FAILED=1
    local f
    for f in "$IT_DIR"/logs/*; do
        [ -s "$f" ] || continue
        echo "---- ${f#"$IT_DIR"/} (last 20 lines)" >&2
        tail -n 20 "$f" >&2
    done
    echo "FAIL [$IT_NAME]: $*" >&2
    exit 1
}

it_pass() { echo "PASS [$IT_NAME]: $*"; }

it_port_busy() {
    if command -v ss >/dev/null; then
        ss -Hltn "sport = :$1" 2>/dev/null | grep -q . && return 0
    fi
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# it_listening PORT: true once something listens on 127.0.0.1:PORT.
it_listening() { it_port_busy "$1"; }

# it_free_ports N: prints N consecutive free ports from a random base (tests run in parallel).
# Ports come from below the kernel's ephemeral range, so an outgoing connection of another test
# cannot take one between the check and the bind.
it_free_ports() {
    local n=$1 tries base k ok low=32768 span
    read -r low _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || true
    span=$((low - 10000 - n))
    [ "$span" -gt 1000 ] || span=1000
    for tries in $(seq 1 50); do
        base=$((10000 + (RANDOM * 32768 + RANDOM) % span))
        ok=1
        for k in $(seq 0 $((n - 1))); do
            if it_port_busy $((base + k)); then
                ok=0
                break
            fi
        done
        if [ $ok = 1 ]; then
            seq "$base" $((base + n - 1)) | tr '\n' ' '
            echo
            return 0
        fi
    done
    it_fail "no $n free ports after $tries tries"
}

# it_require NAME...: fails unless each of --NAME (hub, agent, watch, query, keygen) was given.
it_require() {
    local n v
    for n in "$@"; do
        v=IT_${n^^}
        [ -n "${!v}" ] || it_fail "missing --$n argument"
    done
}

# it_hub_endpoints: picks three free ports for a hub and sets p_ingest, p_alerts, p_query and the
# endpoints ingest, alerts and query (tcp://127.0.0.1:PORT).
it_hub_endpoints() {
    read -r p_ingest p_alerts p_query < <(it_free_ports 3) || true
    [ -n "${p_query:-}" ] || it_fail "could not pick free ports"
    ingest="tcp://127.0.0.1:$p_ingest"
    alerts="tcp://127.0.0.1:$p_alerts"
    query="tcp://127.0.0.1:$p_query"
}

# it_wait_hub: until a hub started on it_hub_endpoints' ports listens on all three (20 s each).
it_wait_hub() {
    local p
    for p in "$p_ingest" "$p_alerts" "$p_query"; do
        it_wait "hub listening on port $p" 20 it_listening "$p"
    done
}

# it_sec ROLE ID [AREAS]: the security flags of one party, to splice unquoted into its command
# line: `it_start hub "$IT_HUB" $(it_sec hub hub) ...`. ROLE is hub, partnership, national,
# oversight or jcdu; ID the agent id or a name for the watcher or query client; AREAS, for a
# partnership agent, its comma-separated area codes, and for an oversight key TEAM[,REGION], the
# alerts it may acknowledge and silence (none: it only reads). Tests say it instead of spelling
# --insecure so that one place decides how every party authenticates.
#
# CURVE by default: keys are made with cdof-keygen in $IT_DIR/keys (ROLE-ID.key, hub.key) and
# the hub's registry ($IT_DIR/keys/registry.csv) gains a line for each new party. When a hub is
# already running, it is sent SIGHUP and the reload is awaited, so the new party can connect.
# IT_INSECURE=1 gives --insecure to every party instead.
it_sec() {
    local role=$1 id=$2 areas=${3:-}
    if [ "${IT_INSECURE:-0}" = 1 ]; then
        echo --insecure
        return 0
    fi
    local kd="$IT_DIR/keys"
    mkdir -p "$kd"
    [ -e "$kd/hub.key" ] || (cd "$kd" && "$IT_KEYGEN" hub >/dev/null) ||
        it_fail "cdof-keygen hub failed"
    if [ "$role" = hub ]; then
        [ -e "$kd/registry.csv" ] || echo "public_key,id,role,partnership,areas" >"$kd/registry.csv"
        echo --keys "$kd/registry.csv" --key "$kd/hub.key"
        return 0
    fi
    local name="$role-$id"
    if [ ! -e "$kd/$name.key" ]; then
        (cd "$kd" && "$IT_KEYGEN" "$name" >/dev/null) || it_fail "cdof-keygen $name failed"
        local line
        line="$(cat "$kd/$name.pub"),$id,$role"
        [ "$role" != partnership ] || line="$line,$id,${areas//,/;}"
        [ "$role" != oversight ] || [ -z "$areas" ] || line="$line,$areas"
        it_registry_add "$line"
    fi
    echo --key "$kd/$name.key" --server-key "$kd/hub.pub"
}

# it_hub_reloads LOG: how many times the hub logging to LOG has loaded its key registry.
it_hub_reloads() { grep -c "key registry: .* loaded" "$1" 2>/dev/null || true; }

# it_registry_add LINE: appends LINE to the key registry (a whole new file renamed in, so a hub
# never reads half of it), then has every running hub reload it and waits (10 s at most).
it_registry_add() {
    local reg="$IT_DIR/keys/registry.csv" i pid log before deadline
    [ -e "$reg" ] || echo "public_key,id,role,partnership,areas" >"$reg"
    { cat "$reg" && echo "$1"; } >"$reg.tmp"
    mv "$reg.tmp" "$reg"
    for i in "${!IT_PIDS[@]}"; do
        pid=${IT_PIDS[$i]}
        [ -n "$pid" ] && [[ " ${IT_CMDS[$i]} " == *" $IT_HUB "* ]] && kill -0 "$pid" 2>/dev/null || continue
        log="$IT_DIR/logs/${IT_NAMES[$i]}.log"
        deadline=$((SECONDS + 20))
        # A SIGHUP during start-up is held until the handler is in (common/cdof_signal.h), but
        # the count of reloads below means something only once the first load is logged.
        until grep -q "ready:" "$log" 2>/dev/null; do
            kill -0 "$pid" 2>/dev/null || continue 2
            [ $SECONDS -lt $deadline ] || it_fail "${IT_NAMES[$i]} not ready after 20 s"
            sleep 0.1
        done
        before=$(it_hub_reloads "$log")
        kill -HUP "$pid"
        deadline=$((SECONDS + 10))
        while [ "$(it_hub_reloads "$log")" -le "$before" ]; do
            [ $SECONDS -lt $deadline ] || it_fail "${IT_NAMES[$i]} did not reload its keys in 10 s"
            sleep 0.1
        done
    done
}

# it_start NAME CMD ARGS...: runs CMD in the background, stdout to logs/NAME.out, stderr to
# logs/NAME.log.
it_start() {
    local name=$1
    shift
    "$@" </dev/null >"$IT_DIR/logs/$name.out" 2>"$IT_DIR/logs/$name.log" &
    IT_PIDS+=($!)
    IT_NAMES+=("$name")
    IT_CMDS+=("$*") # a hub may run under a wrapper (ip netns exec NS cdof-hub ...)
}

it_pid() {
    local i
    for i in "${!IT_NAMES[@]}"; do
        [ "${IT_NAMES[$i]}" = "$1" ] && {
            echo "${IT_PIDS[$i]}"
            return 0
        }
    done
    return 1
}

# Fails when any started process has exited (a crash shows here rather than as a time-out).
it_check_alive() {
    local i
    for i in "${!IT_PIDS[@]}"; do
        [ -n "${IT_PIDS[$i]}" ] || continue
        kill -0 "${IT_PIDS[$i]}" 2>/dev/null ||
            it_fail "${IT_NAMES[$i]} (pid ${IT_PIDS[$i]}) exited early"
    done
}

# it_wait DESC SECONDS CMD ARGS...: polls CMD every 0.2 s until it succeeds; fails after SECONDS
# or as soon as a started process dies.
it_wait() {
    local desc=$1 secs=$2
    shift 2
    local deadline=$((SECONDS + secs))
    while :; do
        if "$@" >/dev/null 2>&1; then
            return 0
        fi
        it_check_alive
        [ $SECONDS -lt $deadline ] || it_fail "timed out after ${secs}s waiting for: $desc"
        sleep 0.2
    done
}

# it_sigterm_ready PID: true once PID has left this shell's fork for its program and blocks or
# catches SIGTERM (SigBlk or SigCgt in /proc/PID/status), i.e. it has reached main(): cdof daemons
# hold their stop signals from there (common/cdof_signal.h). Before that (the dynamic loader,
# the sanitizers' set-up), SIGTERM's default action would kill it with status 143.
it_sigterm_ready() {
    [ "$(readlink "/proc/$1/exe")" != "$(readlink "/proc/$$/exe")" ] &&
        awk '$1 == "SigBlk:" || $1 == "SigCgt:" { m = substr($2, length($2) - 3)
            if (index("4567cdefCDEF", substr(m, 1, 1))) ok = 1 } END { exit !ok }' \
        "/proc/$1/status" 2>/dev/null
}

# it_stop NAME: SIGTERM (once the process has reached main, 10 s at most), then it_exited NAME.
it_stop() {
    local name=$1 pid _
    pid=$(it_pid "$name") || it_fail "no process named $name"
    [ -n "$pid" ] || return 0
    for _ in $(seq 1 1000); do
        it_sigterm_ready "$pid" || ! kill -0 "$pid" 2>/dev/null && break
        sleep 0.01
    done
    kill -TERM "$pid" 2>/dev/null || true
    it_exited "$name"
}

# it_exited NAME: waits up to 10 s for NAME, which has been sent SIGTERM, to exit, and fails unless
# it exits with status 0 (a clean shutdown; sanitizer reports make the status non-zero).
it_exited() {
    local name=$1 pid i rc=0 _
    pid=$(it_pid "$name") || it_fail "no process named $name"
    [ -n "$pid" ] || return 0
    for _ in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        it_fail "$name did not exit within 10 s of SIGTERM"
    fi
    wait "$pid" || rc=$?
    for i in "${!IT_PIDS[@]}"; do
        [ "${IT_PIDS[$i]}" = "$pid" ] && IT_PIDS[i]=""
    done
    [ "$rc" -eq 0 ] || it_fail "$name exited with status $rc after SIGTERM"
}

# it_drop SPOOL FILE: delivers FILE into SPOOL/in/ the way the spool rule asks (write elsewhere
# under a name the agent ignores, then rename).
it_drop() {
    local spool=$1 file=$2 base
    base=$(basename "$file")
    mkdir -p "$spool/in"
    cp "$file" "$spool/in/.$base.tmp"
    mv "$spool/in/.$base.tmp" "$spool/in/$base"
}

# An awk function splitting one CSV line (quoted fields, doubled quotes, CRLF) into out[1..n].
IT_AWK_SPLIT_CSV='
        function split_csv(line, out,    n, i, c, q, v) {
            n = 0; v = ""; q = 0
            sub(/\r$/, "", line)
            for (i = 1; i <= length(line); i++) {
                c = substr(line, i, 1)
                if (q) {
                    if (c == "\"") {
                        if (substr(line, i + 1, 1) == "\"") { v = v c; i++ } else q = 0
                    } else v = v c
                } else if (c == "\"") q = 1
                else if (c == ",") { out[++n] = v; v = "" }
                else v = v c
            }
            out[++n] = v
            return n
        }'

# it_csv_has FILE COND: true when a data row of the CSV FILE (header row first) satisfies COND,
# an awk expression over the columns by name, e.g. 'f["metric_id"] == "x" && f["numerator"] == 10'.
# Quoted fields (commas, doubled quotes) and CRLF line ends are understood; quoted newlines are not.
it_csv_has() {
    awk '
        '"$IT_AWK_SPLIT_CSV"'
        NR == 1 { ncol = split_csv($0, col); next }
        { split("", cell); split_csv($0, cell); for (i = 1; i <= ncol; i++) f[col[i]] = cell[i]
          if ('"$2"') { found = 1; exit } }
        END { exit found ? 0 : 1 }' "$1"
}

# it_query OUTFILE ARGS...: runs the query client (time-limited) and keeps its output.
it_query() {
    local out=$1
    shift
    timeout 10 "$IT_QUERY" "$@" >"$out" 2>>"$IT_DIR/logs/query.log"
}

# it_settled QUERY_ENDPOINT SEC_FLAGS...: true once the hub has no comparison waiting for its
# data to settle (cdof-query health: pending_comparisons 0). Stored comparisons (league, area,
# series, rolling, report) follow committed data by up to --settle-ms plus a tick: a test that
# queries them right after its data was acknowledged waits on this first (it_wait ... it_settled).
it_settled() {
    local ep=$1
    shift
    it_query "$IT_DIR/settled.csv" --hub "$ep" "$@" health --format csv &&
        it_csv_has "$IT_DIR/settled.csv" 'f["pending_comparisons"] == 0'
}

# it_kill9 NAME: SIGKILL, reap, and forget the process (so that it_check_alive does not fail).
it_kill9() {
    local pid i
    pid=$(it_pid "$1") || it_fail "no process named $1"
    [ -n "$pid" ] || return 0
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    for i in "${!IT_PIDS[@]}"; do
        if [ "${IT_PIDS[$i]}" = "$pid" ]; then IT_PIDS[i]=""; fi
    done
}

# it_stop_all: it_stop on every process still running, newest first (clean exits required).
it_stop_all() {
    local i
    for ((i = ${#IT_PIDS[@]} - 1; i >= 0; i--)); do
        [ -z "${IT_PIDS[$i]}" ] || it_stop "${IT_NAMES[$i]}"
    done
}
