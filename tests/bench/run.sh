#!/usr/bin/env bash
# cdof benchmarks: figures, and ratios against the raw speed of cdof's own parts measured in the
# same run. Run by `deploy/dev.sh bench` after a release build; never part of ctest. Reports,
# never fails on a figure (it fails only when a benchmark cannot run at all).
#
#   tests/bench/run.sh --build DIR [--updates N] [--agents N] [--probes N]
#                      [--hub-before PATH] [--only NAME,...] [--transports LIST]
#
# --hub-before PATH: another cdof-hub (e.g. built from the commit before a change) whose ingest
# (and fair service) is measured too, into its own store, between the same two baseline runs:
# before/after ratios from one run.
#
# --transports LIST (default curve,plain): each figure is measured over CURVE, as every
# deployment runs (every party with its own registered key, the hub's ZAP handler judging each
# connection), then over plain TCP (--insecure) beside it, each against a baseline over the same
# transport. Footprint and health are taken once, on the first.
#
# NAME: baseline, ingest, alert, query, footprint, health, fair. Work files under var/bench/
# (wiped at the start). Environment: CDOF_BENCH_UPDATES, CDOF_BENCH_AGENTS override the
# defaults; FAIR_ROUNDS and FAIR_NICE are passed to bench_fair.sh.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build="$root/build"
updates=${CDOF_BENCH_UPDATES:-1000000}
agents=${CDOF_BENCH_AGENTS:-150}
probes=200
hub_before=""
only=baseline,ingest,alert,query,footprint,health,fair
transports=curve,plain
while [ $# -gt 0 ]; do
    case "$1" in
    --build) build=$2 ;;
    --updates) updates=$2 ;;
    --agents) agents=$2 ;;
    --probes) probes=$2 ;;
    --settle-probes) ;; # gone: alerts no longer wait for a settle window (kept for old scripts)
    --hub-before) hub_before=$2 ;;
    --only) only=$2 ;;
    --transports) transports=$2 ;;
    *)
        echo "run.sh: unknown argument '$1'" >&2
        exit 2
        ;;
    esac
    shift 2
done
wants() { [[ ",$only," == *",$1,"* ]]; }
build=$(cd "$build" && pwd) # the key maker runs in the keys' directory
[ -z "$hub_before" ] || hub_before=$(cd "$(dirname "$hub_before")" && pwd)/$(basename "$hub_before")

hub_bin="$build/hub/cdof-hub"
agent_bin="$build/agents/partnership/cdof-agent"
watch_bin="$build/agents/oversight/cdof-watch"
query_bin="$build/agents/jcdu/cdof-query"
keygen_bin="$build/deploy/cdof-keygen"
bench="$build/tests/bench"
for p in "$hub_bin" "$agent_bin" "$watch_bin" "$query_bin" "$bench/bench_baseline" \
    "$bench/bench_ingest" "$bench/bench_alert"; do
    [ -x "$p" ] || { echo "run.sh: $p is not built" >&2; exit 1; }
done
export CDOF_REFDIR="$root/proto/data"

# Security flags, in one place, for the transport being measured (T). Over CURVE every party has
# a key of its own in the hub's registry, as deployed: the ingest load's agents (bench-NNN) and
# the alert probe (bench-probe) national keys, the query client (bench-query) a JCDU key, the
# watcher an oversight key, the footprint's agent (E06000009) a partnership key.
T=curve
hub_sec() {
    if [ "$T" = curve ]; then
        echo --keys "$keys/registry.csv" --key "$keys/hub.key"
    else
        echo --insecure
    fi
}
client_sec() { # NAME: the client's key file, keys/NAME.key
    if [ "$T" = curve ]; then
        echo --key "$keys/$1.key" --server-key "$keys/hub.pub"
    else
        echo --insecure
    fi
}
bench_sec() { # the flag of bench_ingest and bench_alert
    [ "$T" != curve ] || echo --keys "$keys"
}

var="$root/var/bench"
rm -rf "$var"
mkdir -p "$var/logs"
keys="$var/keys"
if [[ ",$transports," == *",curve,"* ]]; then
    mkdir -p "$keys"
    [ -x "$keygen_bin" ] || { echo "run.sh: $keygen_bin is not built" >&2; exit 1; }
    keygen() { (cd "$keys" && "$keygen_bin" "$1" >/dev/null) || { echo "run.sh: cdof-keygen $1 failed" >&2; exit 1; }; }
    keygen hub
    echo "public_key,id,role,partnership,areas" >"$keys/registry.csv"
    register() { # NAME ROLE [COLUMNS]
        keygen "$1"
        echo "$(cat "$keys/$1.pub"),$1,$2${3:+,$3}" >>"$keys/registry.csv"
    }
    for k in $(seq 0 $((agents - 1))); do register "$(printf 'bench-%03d' "$k")" national; done
    register bench-probe national
    register bench-query jcdu
    register watch oversight
    register E06000009 partnership E06000009,E06000009
fi
pids=()
outboxes=""
cleanup() {
    local pid _
    case "$outboxes" in /dev/shm/cdof-bench-*) rm -rf "$outboxes" ;; esac
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    pids=()
}
trap cleanup EXIT
trap 'exit 130' INT TERM

heading() { printf '\n== %s\n' "$*"; }
declare -A R # RESULT name -> value, from the bench programs
collect() {  # FILE: read RESULT lines
    local _ k v
    while read -r _ k v; do R[$k]=$v; done < <(grep '^RESULT ' "$1" || true)
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.0f%%", 100 * a / b; else print "n/a" }'; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }
now_ms() { date +%s%3N; }

port_busy() {
    if command -v ss >/dev/null; then
        ss -Hltn "sport = :$1" 2>/dev/null | grep -q . && return 0
    fi
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}
pick_ports() { # three consecutive free ports below the ephemeral range
    local base _
    for _ in $(seq 1 50); do
        base=$((20000 + RANDOM % 10000))
        if ! port_busy $base && ! port_busy $((base + 1)) && ! port_busy $((base + 2)); then
            echo "$base $((base + 1)) $((base + 2))"
            return 0
        fi
    done
    echo "run.sh: no free ports" >&2
    exit 1
}
wait_for() { # SECONDS WHAT CMD...: polls every 0.1 s
    local limit=$1 what=$2 i
    shift 2
    for i in $(seq 1 $((limit * 10))); do
        "$@" && return 0
        sleep 0.1
    done
    echo "run.sh: timed out after ${limit}s waiting for $what" >&2
    return 1
}
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
field_kib() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"; }
# Private (unshared) memory: what the process itself costs, its libraries' pages aside; and the
# proportional share, shared pages divided among the processes that map them.
uss_kib() { awk '/^Private_(Clean|Dirty):/ { s += $2 } END { print s + 0 }' "/proc/$1/smaps"; }
pss_kib() { awk '/^Pss:/ { print $2 }' "/proc/$1/smaps_rollup"; }

read -r p1 p2 p3 < <(pick_ports)
ingest="tcp://127.0.0.1:$p1" alerts="tcp://127.0.0.1:$p2" query="tcp://127.0.0.1:$p3"
hub_pid=""
hub_exe=$hub_bin hub_dir="$var/hub" # the hub start_hub starts
printf 'metric_id,threshold_percent,deadline_days\n*,100,30\n' >"$var/periods.csv"
start_hub() { # [HUB FLAGS...]
    # shellcheck disable=SC2046
    "$hub_exe" --data "$hub_dir" --ingest "$ingest" --alerts "$alerts" --query "$query" \
        --periods "$var/periods.csv" $(hub_sec) "$@" </dev/null >>"$var/logs/hub.log" 2>&1 &
    hub_pid=$!
    pids+=("$hub_pid")
    wait_for 20 "the hub to listen" port_busy "$p3"
}
stop_hub() { # SIGTERM, bounded wait; the store stays
    local _
    kill -TERM "$hub_pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$hub_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$hub_pid" 2>/dev/null || true
    wait "$hub_pid" 2>/dev/null || true
    wait_for 20 "the hub's ports to close" eval '! port_busy "$p3"'
}
# Not `--help | grep -q`: with pipefail, grep leaving early fails the pipe (SIGPIPE) at random.
query_help=$("$query_bin" --help 2>&1 || true)
has_health() { [[ $query_help == *health* ]]; }
health_field() { # NAME: one counter from cdof-query health
    q health --format csv 2>/dev/null | awk -F, -v k="$1" '
        NR == 1 { for (i = 1; i <= NF; i++) if ($i == k) c = i; next }
        NR == 2 && c { gsub(/\r/, "", $c); print $c }'
}
q() { # cdof-query against the bench hub
    # shellcheck disable=SC2046
    timeout 120 "$query_bin" --hub "$query" $(client_sec bench-query) "$@"
}

echo "cdof benchmarks: $agents agents, $updates updates; $(nproc) cores; build $build"
echo "stores under $var ($(df -T "$root" | awk 'NR == 2 { print $2 }'), fsync on)"

# The figures over one transport (T): sections 1 to 7, the hub's store in var/bench/hub-T.
figures() {
    # --- 1. ideal pipeline -------------------------------------------------------------------------
    if wants baseline || wants ingest; then
        heading "1. ideal pipeline baseline (DEALER->ROUTER, decode, fsynced LMDB batch, ack) [$T]"
        mkdir -p "$var/baseline"
        # shellcheck disable=SC2046
        "$bench/bench_baseline" --dir "$var/baseline" --agents "$agents" --updates "$updates" \
            $([ "$T" != curve ] || echo --curve) |
            tee "$var/logs/baseline.out"
        collect "$var/logs/baseline.out"
        rm -rf "$var/baseline"
    fi

    # --- 2. hub ingest -----------------------------------------------------------------------------
    ingest_run() { # TAG: bench_ingest into the running hub; its RESULTs kept as TAG_*
        # Agents run on their own machines: their outboxes' fsyncs must not queue behind the hub's
        # on the hub's disk, so they go to memory (tmpfs) when there is one. The baseline's senders
        # have no outbox at all.
        outboxes="$var/outboxes"
        if [ -d /dev/shm ] && [ -w /dev/shm ]; then
            outboxes=$(mktemp -d /dev/shm/cdof-bench-outboxes.XXXXXX)
        fi
        echo "agents' outboxes in $outboxes; the hub's store in $hub_dir"
        mkdir -p "$outboxes"
        # shellcheck disable=SC2046
        "$bench/bench_ingest" --hub "$ingest" --dir "$outboxes" --agents "$agents" \
            --updates "$updates" --hub-pid "$hub_pid" $(bench_sec) | tee "$var/logs/ingest-$1.out"
        R[ingest_done_ms]=$(now_ms)
        rm -rf "$outboxes"
        unset 'R[ingest_ups]' 'R[hub_cpu_us]'
        collect "$var/logs/ingest-$1.out"
        R[$1_ups]=${R[ingest_ups]:-} R[$1_cpu_us]=${R[hub_cpu_us]:-}
        # Resends inflate the hub's work: a figure with many duplicates measured a retry storm.
        # How many metric-periods a run recomputes depends on how the agents' sends interleave into
        # batches, so CPU per metric-period compared is given too (comparable between hubs).
        if has_health; then
            R[$1_cmp]=$(health_field comparisons)
            echo "the hub counted $(health_field duplicates) duplicates (resends), $(health_field batch_mean) envelopes per batch on average, ${R[$1_cmp]} metric-periods compared: $(awk -v u="${R[$1_cpu_us]:-0}" -v n="$updates" -v c="${R[$1_cmp]}" 'BEGIN { if (c > 0) printf "%.0f", u * n / c; else print "?" }') us of hub CPU per metric-period"
        fi
    }
    if wants ingest && [ -n "$hub_before" ]; then
        heading "2a. ingest into the hub before the change: $hub_before [$T]"
        [ -x "$hub_before" ] || { echo "run.sh: $hub_before is not executable" >&2; exit 1; }
        hub_exe=$hub_before hub_dir="$var/hub-before"
        mkdir -p "$hub_dir"
        start_hub
        ingest_run before
        stop_hub
        rm -rf "$hub_dir"
        hub_exe=$hub_bin hub_dir="$var/hub-$T"
    fi
    mkdir -p "$hub_dir"
    start_hub
    if wants ingest; then
        heading "2. hub ingest: $agents agents (agent outbox and sender code), into cdof-hub [$T]"
        ingest_run ingest
        R[hub_cpu_us]=${R[ingest_cpu_us]}
        # Stored comparisons and the alert rules wait until a period has been quiet for the settle
        # window (hub_settle.h): measured at once, before anything else loads the machine, and given as an
        # end-to-end rate too (every update stored, compared and judged).
        if has_health; then
            caught_up() { [ "$(health_field pending_comparisons)" = 0 ]; }
            if wait_for 600 "the hub's periods awaiting comparison and the alert rules" caught_up; then
                R[catchup_ms]=$(($(now_ms) - ${R[ingest_done_ms]:-$(now_ms)}))
                R[e2e_ups]=$(awk -v n="$updates" -v u="${R[ingest_ups]}" -v c="${R[catchup_ms]}" \
                    'BEGIN { printf "%.0f", n / (n / u + c / 1000) }')
                echo "stored comparisons and alert rules: every period done ${R[catchup_ms]} ms after the last acknowledgement (settle window 1500 ms; $(health_field comparisons) metric-periods compared for $(health_field ingested) updates); end to end ${R[e2e_ups]} updates/s"
            fi
        fi
        # The machine is shared: measure the baseline again now and take the mean of the two, and
        # compare CPU time per update on the working thread too, which others' load hardly moves.
        if wants baseline; then
            first=${R[baseline_ups]} first_cpu=${R[baseline_cpu_us]}
            mkdir -p "$var/baseline"
            # shellcheck disable=SC2046
            "$bench/bench_baseline" --dir "$var/baseline" --agents "$agents" --updates "$updates" \
                $([ "$T" != curve ] || echo --curve) |
                tee "$var/logs/baseline2.out"
            collect "$var/logs/baseline2.out"
            rm -rf "$var/baseline"
            R[baseline_ups]=$(awk -v a="$first" -v b="${R[baseline_ups]}" 'BEGIN { printf "%.0f", (a + b) / 2 }')
            R[baseline_cpu_us]=$(awk -v a="$first_cpu" -v b="${R[baseline_cpu_us]}" 'BEGIN { printf "%.2f", (a + b) / 2 }')
            echo "baseline, mean of the runs before and after: ${R[baseline_ups]} updates/s, ${R[baseline_cpu_us]} us of CPU per update"
        fi
        echo "ratio to the baseline: $(ratio "${R[ingest_ups]}" "${R[baseline_ups]}") (target >= 70%)"
        [ -z "${R[hub_cpu_us]:-}" ] || [ -z "${R[baseline_cpu_us]:-}" ] ||
            echo "CPU per update, baseline's thread to the hub's: $(ratio "${R[baseline_cpu_us]}" "${R[hub_cpu_us]}") (${R[baseline_cpu_us]} us / ${R[hub_cpu_us]} us)"
        if [ -n "${R[before_ups]:-}" ] && [ -n "${R[before_cmp]:-}" ] && [ -n "${R[ingest_cmp]:-}" ]; then
            echo "hub CPU per metric-period compared, before/after: $(awk -v b="${R[before_cpu_us]:-0}" -v bc="${R[before_cmp]}" -v a="${R[ingest_cpu_us]:-0}" -v ac="${R[ingest_cmp]}" 'BEGIN { if (a > 0 && ac > 0 && bc > 0) printf "%.0f%%", 100 * (b / bc) / (a / ac); else print "n/a" }') (above 100%: the change is faster)"
        fi
        if [ -n "${R[before_ups]:-}" ]; then
            echo "before the change: $(ratio "${R[before_ups]}" "${R[baseline_ups]}") of the baseline (${R[before_ups]} updates/s, ${R[before_cpu_us]:-?} us of CPU per update); after/before: $(ratio "${R[ingest_ups]}" "${R[before_ups]}") by wall clock, $(ratio "${R[before_cpu_us]:-0}" "${R[hub_cpu_us]:-0}") by CPU"
        fi
    fi

    # --- 3. alert latency --------------------------------------------------------------------------
    alert_run() { # TAG PROBES WAIT_MS: one bench_alert run, its RESULTs kept as alert_TAG_*
        mkdir -p "$var/commit"
        # shellcheck disable=SC2046
        "$bench/bench_alert" --ingest "$ingest" --alerts "$alerts" --query "$query" \
            --watch "$watch_bin" --probes "$2" --wait-ms "$3" --period 1990-01 \
            --commit-dir "$var/commit" --watch-log "$var/logs/watch-$1.log" $(bench_sec) -- \
            $(client_sec watch) | tee "$var/logs/alert-$1.out" || true
        unset 'R[alert_p50_ms]' 'R[alert_p99_ms]'
        collect "$var/logs/alert-$1.out"
        rm -rf "$var/commit"
        R[alert_$1_p50_ms]=${R[alert_p50_ms]:-}
        R[alert_$1_p99_ms]=${R[alert_p99_ms]:-}
    }
    if wants alert; then
        heading "3. alert latency: the row that completes a period -> cdof-watch prints the alert [$T]"
        # The hub as deployed (default flags, --settle-ms included): a period is judged in the
        # transaction of the row that completes it, so no quiet window is waited for. Each probe's
        # month is first filled with every other area (untimed); then the probe area's row is
        # timed from send to the watcher's line, beside one fsynced commit on the same disk. The
        # months (from 1990-02: a period must lie in the strategy's range and have begun) need
        # every area to complete: the hub runs with
        # periods.csv at 100% (by default a month before its reporting deadline does too, and
        # one past it completes at 90% without the probe row).
        # The hub alerts on a metric's latest period only, and the ingest figure's data runs to
        # 2024-12: the probes run on a store of their own.
        local main_dir=$hub_dir
        stop_hub
        hub_dir="$var/alert-$T"
        mkdir -p "$hub_dir"
        start_hub
        echo "default configuration: $probes probes"
        alert_run default "$probes" 5000
        echo "target: p99 <= 10 ms on loopback; each alert waits for one fsynced commit"
        stop_hub
        rm -rf "$hub_dir"
        hub_dir=$main_dir
        start_hub
    fi

    # --- 4. queries --------------------------------------------------------------------------------
    time_query() { # LABEL ARGS...: best and median of 5 runs, output to a file
        local label=$1 t0 ts=() out
        out="$var/logs/query-${label//[^A-Za-z0-9_.-]/_}.out" # labels hold spaces and "2024/25"
        shift
        for _ in 1 2 3 4 5; do
            t0=$(now_ms)
            q "$@" >"$out" 2>>"$var/logs/query.log" || {
                echo "  $label: failed (see $var/logs/query.log)"
                return 0
            }
            ts+=($(($(now_ms) - t0)))
        done
        read -r best median < <(printf '%s\n' "${ts[@]}" | sort -n | awk '
            { v[NR] = $1 } END { print v[1], v[int((NR + 1) / 2)] }')
        printf '  %-44s %6d ms best, %6d ms median of 5 (%d lines)\n' "$label" "$best" "$median" \
            "$(wc -l <"$out")"
    }
    if wants query; then
        heading "4. queries on 10 years of monthly data, 153 areas, every catalogue metric [$T]"
        q agents --format csv >"$var/logs/agents.csv" 2>/dev/null || true
        echo "store: $(du -sh "$hub_dir" | cut -f1); process start and connection included in each time"
        time_query "league continuity_of_care 2024-12" league continuity_of_care 2024-12 --format csv
        time_query "league numbers_in_treatment 2024-12" league numbers_in_treatment 2024-12 --format csv
        time_query "league drug_misuse_deaths 2024" league drug_misuse_deaths 2024 --format csv
        time_query "area E06000009 (profile, all metrics)" area E06000009 --format csv
        time_query "series continuity_of_care E06000009" series continuity_of_care E06000009 --format csv
        # The annual report: timed when this build's cdof-query has it.
        if [[ $query_help == *report* ]]; then
            time_query "report --year 2024/25" report --year 2024/25 --out "$var/report.html"
        else
            echo "  report: skipped (this cdof-query has no 'report' subcommand yet)"
        fi
    fi

    # --- 5. footprint ------------------------------------------------------------------------------
    if wants footprint && [ "$T" = "$first_transport" ]; then
        heading "5. footprint [$T]"
        for p in "$hub_bin" "$agent_bin" "$watch_bin" "$query_bin" "$keygen_bin"; do
            [ -x "$p" ] || continue
            printf '  %-12s %8d bytes on disk, %8s bytes of code (size -A .text)\n' "$(basename "$p")" \
                "$(stat -c %s "$p")" "$(size -A "$p" 2>/dev/null | awk '$1 == ".text" { print $2 }')"
        done
        if [ -n "${R[hub_rss_kib]:-}" ]; then
            echo "  cdof-hub with $agents agents connected (end of ingest): RSS $(mib "${R[hub_rss_kib]}"), peak $(mib "${R[hub_hwm_kib]}")"
        fi
        a="$var/agent"
        mkdir -p "$a/spool/in" "$a/data"
        # shellcheck disable=SC2046
        "$agent_bin" --id E06000009 --hub "$ingest" --spool "$a/spool" --data "$a/data" \
            $(client_sec E06000009) </dev/null >"$var/logs/agent.log" 2>&1 &
        apid=$!
        pids+=("$apid")
        agent_depth() { "$agent_bin" status --data "$a/data" --format json 2>/dev/null |
            sed -n 's/.*"outbox_depth": *\([0-9]*\).*/\1/p'; }
        agent_idle() { [ "$(agent_depth)" = 0 ] && grep -q . "$var/logs/agent.log"; }
        wait_for 20 "the agent to start" agent_idle
        sleep 2 # idle means idle: a couple of heartbeats
        idle_rss=$(rss_kib "$apid") idle_uss=$(uss_kib "$apid") idle_pss=$(pss_kib "$apid")
        idle_anon=$(field_kib "$apid" RssAnon) idle_file=$(field_kib "$apid" RssFile)
        echo "  cdof-agent idle: RSS $(mib "$idle_rss") = $(mib "$idle_anon") anonymous + $(mib "$idle_file") file-backed (shared libraries, the outbox map); proportional $(mib "$idle_pss"), private $(mib "$idle_uss") (target <= 4 MiB)"
        # The floor: the same libraries loaded and a connected socket, doing nothing.
        if [ -x "$bench/bench_floor" ]; then
            mkdir -p "$var/floor"
            "$bench/bench_floor" "$var/floor" "$ingest" >"$var/logs/floor.out" 2>&1 &
            fpid=$!
            pids+=("$fpid")
            wait_for 10 "bench_floor" grep -q ready "$var/logs/floor.out"
            floor_rss=$(rss_kib "$fpid")
            echo "  floor (libzmq + libuv + LMDB loaded, one DEALER, idle): RSS $(mib "$floor_rss"), private $(mib "$(uss_kib "$fpid")"): the agent idle is $(ratio "$idle_rss" "$floor_rss") of it"
            kill "$fpid" 2>/dev/null || true
        fi
        echo "  largest shared pieces of the idle agent's RSS:"
        awk '/^[0-9a-f]+-/ { name = $6 } /^Rss:/ { r[name] += $2 }
            END { for (n in r) if (n ~ /\.so/) printf "%d %s\n", r[n], n }' "/proc/$apid/smaps" |
            sort -rn | head -5 | awk '{ n = $2; sub(/.*\//, "", n); printf "    %-28s %6d KiB\n", n, $1 }'
        # Under load: 50,000 rows in one file, validated, written to the outbox and sent.
        rows=50000
        awk -v n=$rows 'BEGIN {
            print "metric_id,area_code,period,numerator,denominator,value,note"
            split("continuity_of_care recovery_outcomes treatment_effectiveness meaningful_activity", m, " ")
            for (i = 0; i < n; i++) {
                k = i % 4 + 1; t = int(i / 4); y = 1900 + int(t / 12); mo = t % 12 + 1
                printf "%s,E06000009,%04d-%02d,%d,100,,\n", m[k], y, mo, 30 + i % 40
            }
        }' >"$var/load.csv.tmp"
        peak=0
        t0=$(now_ms)
        mv "$var/load.csv.tmp" "$a/spool/in/load.csv"
        drained() {
            local r
            r=$(rss_kib "$apid")
            [ "$r" -le "$peak" ] || peak=$r
            [ -z "$(ls -A "$a/spool/in")" ] && [ "$(agent_depth)" = 0 ]
        }
        if wait_for 300 "the agent to send $rows rows" drained; then
            echo "  cdof-agent under load ($rows rows taken and sent in $(($(now_ms) - t0)) ms): RSS peak sampled $(mib "$peak"), VmHWM $(mib "$(field_kib "$apid" VmHWM)"), private now $(mib "$(uss_kib "$apid")")"
        fi
        echo "  cdof-hub now: RSS $(mib "$(rss_kib "$hub_pid")") ($(mib "$(field_kib "$hub_pid" RssAnon)") anonymous, $(mib "$(field_kib "$hub_pid" RssFile)") file-backed incl. the store's map)"
    fi

    # --- 6. hub health -----------------------------------------------------------------------------
    if wants health && [ "$T" = "$first_transport" ]; then
        heading "6. hub health (cdof-query health) [$T]"
        if has_health; then
            q health || echo "  (cdof-query health failed)"
        else
            echo "  skipped: this cdof-query has no 'health' subcommand"
        fi
    fi

    # --- 7. the figures count only if the stored comparisons are right ------------------------------
    stop_hub
    if wants ingest; then
        heading "7. stored comparisons against a full rebuild (cdof-hub rebuild --check) [$T]"
        # It prints "equal: N rows equal" or "different: ..." itself.
        R[rebuild]=$("$hub_bin" rebuild --check --data "$hub_dir" --periods "$var/periods.csv" 2>>"$var/logs/rebuild.log") ||
            R[rebuild]=${R[rebuild]:-"rebuild failed (see $var/logs/rebuild.log)"}
        echo "  ${R[rebuild]}"
    fi
}

first_transport=${transports%%,*}
declare -A S # TRANSPORT:NAME -> value, R of each transport's figures
for T in ${transports//,/ }; do
    case "$T" in curve | plain) ;; *) echo "run.sh: unknown transport '$T'" >&2; exit 2 ;; esac
    hub_dir="$var/hub-$T"
    figures
    for k in "${!R[@]}"; do S["$T:$k"]=${R[$k]}; done
    R=()
done

# --- 8. fair service -----------------------------------------------------------------------------
if wants fair; then
    heading "8. fair service: an agent's ack p99 beside a query flood and a subscription flood"
    # bench_fair.sh runs both transports itself (CURVE, then plain), each against a quiet run on
    # the same hub, with the hub before the change too when there is one.
    if /usr/bin/python3 -c 'import zmq, google.protobuf' 2>/dev/null && command -v protoc >/dev/null; then
        "$root/tests/bench/bench_fair.sh" "$build" 1000 ${hub_before:+"$hub_before"} |
            tee "$var/logs/fair.out" || echo "  (bench_fair.sh failed: see $var/logs/fair.out)"
        while read -r _ k v; do S["fair:$k"]=$v; done < <(grep '^RESULT ' "$var/logs/fair.out" || true)
    else
        echo "  skipped: needs python3-zmq, python3-protobuf and protoc (deploy/dev.sh installs them)"
    fi
fi

heading "summary"
# Each figure over CURVE (as deployed) with plain TCP beside it, each against the same run's
# baseline over the same transport.
summ() { printf '%s\t%s\n' "$1" "$2"; }
summary_lines() { # from R: one transport's figures, "label<TAB>value" lines
    [ -z "${R[baseline_ups]:-}" ] || summ "ideal pipeline" "${R[baseline_ups]} updates/s"
    [ -z "${R[ingest_ups]:-}" ] || summ "hub ingest" "${R[ingest_ups]} updates/s = $(ratio "${R[ingest_ups]}" "${R[baseline_ups]:-0}") of the ideal pipeline (target >= 70%)"
    [ -z "${R[before_ups]:-}" ] || summ "hub ingest before the change" "${R[before_ups]} updates/s = $(ratio "${R[before_ups]}" "${R[baseline_ups]:-0}") of the ideal pipeline; after/before $(ratio "${R[ingest_ups]:-0}" "${R[before_ups]}")"
    [ -z "${R[hub_cpu_us]:-}" ] || summ "hub CPU per update" "${R[hub_cpu_us]} us = $(ratio "${R[baseline_cpu_us]:-0}" "${R[hub_cpu_us]}") of the ideal pipeline's speed"
    [ -z "${R[catchup_ms]:-}" ] || summ "alert rules after ingest" "every period judged ${R[catchup_ms]} ms after the last ack"
    [ -z "${R[e2e_ups]:-}" ] || summ "ingest to every period judged" "${R[e2e_ups]} updates/s = $(ratio "${R[e2e_ups]}" "${R[baseline_ups]:-0}") of the ideal pipeline (1.5 s settle window included; the pipeline compares nothing)"
    [ -z "${R[alert_default_p99_ms]:-}" ] || summ "alert latency, default flags" "p50 ${R[alert_default_p50_ms]} ms, p99 ${R[alert_default_p99_ms]} ms from the completing row (target p99 <= 10 ms); one fsynced commit: p50 ${R[commit_p50_ms]:-?} ms, p99 ${R[commit_p99_ms]:-?} ms"
    [ -z "${R[hub_rss_kib]:-}" ] || summ "cdof-hub, $agents agents connected" "RSS $(mib "${R[hub_rss_kib]}")"
    [ -z "${R[rebuild]:-}" ] || summ "stored comparisons vs rebuild" "${R[rebuild]}"
}
for T in ${transports//,/ }; do
    R=()
    for k in "${!S[@]}"; do [[ $k != "$T:"* ]] || R[${k#"$T:"}]=${S[$k]}; done
    summary_lines | sed "s/\t/\t$T\t/"
done | awk -F '\t' '!($1 in seen) { seen[$1] = 1; order[++n] = $1 }
    { v[$1] = v[$1] sprintf("    %-6s %s\n", $2 ":", $3) }
    END { for (i = 1; i <= n; i++) printf "  %s\n%s", order[i], v[order[i]] }'
[ -z "${idle_rss:-}" ] || printf '  %s\n    %s\n' "cdof-agent idle ($first_transport)" "RSS $(mib "$idle_rss") (floor $(mib "${floor_rss:-0}")), proportional $(mib "$idle_pss"), private $(mib "$idle_uss") (target <= 4 MiB)"
# Fair service: the victim's ack p99 beside each flood over the same run's quiet p99 (median of
# the rounds' ratios), flooders niced (standing in for remote machines) and not.
for m in curve plain; do
    for n in 19 0; do
        q=${S["fair:fair_${m}_query_nice${n}_ratio"]:-}
        sub=${S["fair:fair_${m}_subscription_nice${n}_ratio"]:-}
        [ -z "$q$sub" ] || printf '  %-34s query flood %sx, subscription flood %sx quiet (target <= 2x)\n' \
            "fair service, $m, flooders nice $n" "${q:-?}" "${sub:-?}"
    done
done
echo "logs: $var/logs/"
