#!/usr/bin/env bash
# cdof developer entry point. Works from any directory; run as root or with sudo available.
#
#   deploy/dev.sh deps    install the Debian packages that are missing
#   deploy/dev.sh build   deps + RelWithDebInfo build in build/
#   deploy/dev.sh test    deps + gcc -Werror build in build-gcc/ + clang sanitizer build in
#                         build-asan/ + every test (ctest)
#   deploy/dev.sh demo    build + a hub, watchers and seven agents on loopback with real data
#   deploy/dev.sh bench   build + the benchmarks in tests/bench/ (figures and ratios; see run.sh)
#   deploy/dev.sh package  Debian packages (dpkg-buildpackage) into build-deb/, then lintian
#   deploy/dev.sh clean   remove build/, build-asan/, build-gcc/, build-deb/ and var/
#   deploy/dev.sh valgrind  build + hub and agent under valgrind's memcheck (no leaks, no errors)
#   deploy/dev.sh fuzz [SECONDS]  each libFuzzer target for SECONDS (default 300), nice -n 19
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

jobs=$(nproc 2>/dev/null || echo 2)

heading() { printf '\n== %s\n' "$*"; }
die() { echo "dev.sh: $*" >&2; exit 1; }

# --- deps ------------------------------------------------------------------------------------
# libzip-dev: the container of the annual report's ODS workbook; python3-odf reads that workbook
# back in integration_report as an independent reader.
# libmicrohttpd serves the --metrics endpoint (Prometheus text format): a well-kept HTTP server
# library in Debian, small, with no other dependency, rather than HTTP written by hand.
# curl scrapes the --metrics endpoints in integration_metrics. protobuf-compiler, python3-zmq and
# python3-protobuf: integration_contract_python drives the hub from a Python client generated
# from proto/cdof.proto (the contract from another language).
required_pkgs=(build-essential cmake pkg-config libzmq3-dev libprotobuf-c-dev protobuf-c-compiler
               liblmdb-dev libuv1-dev libcmocka-dev libzip-dev python3-odf libmicrohttpd-dev curl
               libcurl4-openssl-dev python3-aiosmtpd openssl protobuf-compiler python3-zmq
               python3-protobuf)
# python3-aiosmtpd and openssl: integration_notify runs a real SMTP server with STARTTLS and a
# throw-away certificate.
# clang builds the libFuzzer targets; valgrind is for chasing leaks outside ASan; chromium
# renders the annual report headless in integration_report (skipped, with a message, without it);
# iproute2 (ip, ss, tc) lets the partition test put hub and agents in separate network namespaces.
# With chromium, integration_report also checks the report with axe-core and prints it to PDF:
# nodejs and npm install axe-core and playwright-core (tests/browser/package-lock.json) into the
# build tree, and poppler-utils (pdfinfo, pdftotext) checks the PDF.
# debhelper, devscripts (dch), fakeroot and lintian build and check the Debian packages
# (deploy/dev.sh package); debootstrap makes the chroot the install test puts them in.
optional_pkgs=(clang valgrind chromium iproute2 nodejs npm poppler-utils debhelper devscripts
               fakeroot lintian debootstrap)

installed() {
    [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" = "install ok installed" ]
}

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null; then
        sudo "$@"
    else
        die "need root (or sudo) to run: $*"
    fi
}

cmd_deps() {
    heading "deps: checking Debian packages"
    command -v dpkg-query >/dev/null || die "dpkg-query not found: deps needs Debian or Ubuntu"
    local missing=() p
    for p in "${required_pkgs[@]}" "${optional_pkgs[@]}"; do
        # A node installed otherwise (its own npm bundled) conflicts with Debian's npm package.
        case $p in
        nodejs) command -v node >/dev/null && continue ;;
        npm) command -v npm >/dev/null && continue ;;
        esac
        installed "$p" || missing+=("$p")
    done
    if [ ${#missing[@]} -eq 0 ]; then
        echo "all present"
        return 0
    fi
    echo "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        "${missing[@]}" </dev/null
}

# --- build -----------------------------------------------------------------------------------
cmd_build() {
    cmd_deps
    heading "build: build/ (RelWithDebInfo)"
    cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo
    cmake --build "$root/build" -j"$jobs"
}

# --- test ------------------------------------------------------------------------------------
cmd_test() {
    cmd_deps
    # GCC and clang warn about different things (GCC's flow analysis finds maybe-uninitialized
    # reads that clang does not): every change is built -Werror by both. GCC builds everything,
    # tests included, without sanitizers in build-gcc/; clang builds the sanitizer build below.
    if command -v gcc >/dev/null; then
        heading "test: build-gcc/ (gcc, -Werror, no sanitizers)"
        cmake -S "$root" -B "$root/build-gcc" -DCMAKE_C_COMPILER=gcc -DCDOF_WERROR=ON \
            -DCMAKE_BUILD_TYPE=RelWithDebInfo
        cmake --build "$root/build-gcc" -j"$jobs"
    fi
    local args=(-DCDOF_SANITIZE=ON -DCDOF_WERROR=ON) cc=default
    if command -v clang >/dev/null && [ -f "$root/tests/fuzz/CMakeLists.txt" ]; then
        args+=(-DCDOF_FUZZ=ON -DCMAKE_C_COMPILER=clang)
        cc=clang
        heading "test: build-asan/ (clang, ASan+UBSan, -Werror, fuzz targets)"
    else
        heading "test: build-asan/ (ASan+UBSan, -Werror; no clang: fuzz targets skipped)"
    fi
    # CMake cannot switch compilers in an existing build directory: start afresh instead.
    if [ -f "$root/build-asan/CMakeCache.txt" ] &&
        [ "$(cat "$root/build-asan/.cdof-cc" 2>/dev/null || true)" != "$cc" ]; then
        rm -rf "${root:?}/build-asan"
    fi
    mkdir -p "$root/build-asan"
    echo "$cc" >"$root/build-asan/.cdof-cc"
    cmake -S "$root" -B "$root/build-asan" "${args[@]}"
    cmake --build "$root/build-asan" -j"$jobs"
    heading "test: ctest"
    ctest --test-dir "$root/build-asan" --output-on-failure -j2 --timeout 300
}

# --- demo ------------------------------------------------------------------------------------
demo_pids=()

demo_stop() {
    local pid
    for pid in "${demo_pids[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${demo_pids[@]}"; do
        # Bounded: give each a few seconds, then insist.
        local _
        for _ in $(seq 1 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    demo_pids=()
}

port_busy() {
    if command -v ss >/dev/null; then
        ss -Hltn "sport = :$1" 2>/dev/null | grep -q . && return 0
    fi
    # A connection that succeeds means someone listens there.
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Prints three consecutive free ports, FIRST..FIRST+2 (7400 by default) when they are free.
pick_ports() {
    local base first=${1:-7400}
    for base in $first $(seq $((first + 10000)) 10 $((first + 10400))); do
        if ! port_busy "$base" && ! port_busy $((base + 1)) && ! port_busy $((base + 2)); then
            echo "$base $((base + 1)) $((base + 2))"
            return 0
        fi
    done
    die "no three free ports found near ${first} or $((first + 10000))"
}

cmd_demo() {
    cmd_build
    local bin="$root/build" var="$root/var/demo"
    local hub="$bin/hub/cdof-hub" agent="$bin/agents/partnership/cdof-agent"
    local watch="$bin/agents/oversight/cdof-watch" query="$bin/agents/jcdu/cdof-query"
    local keygen="$bin/deploy/cdof-keygen"
    for p in "$hub" "$agent" "$watch" "$query" "$keygen"; do
        [ -x "$p" ] || die "$p was not built"
    done

    heading "demo: fresh data under var/demo"
    rm -rf "$var"
    mkdir -p "$var/logs" "$var/drops"
    bash "$root/deploy/demo/make-data.sh" --out "$var/drops"
    export CDOF_REFDIR="$root/proto/data"

    # CURVE, as in production: every party's keys and the hub's registry; plain TCP (--insecure
    # on every party) only with CDOF_DEMO_INSECURE=1.
    local -a hub_sec=(--insecure)
    if [ "${CDOF_DEMO_INSECURE:-0}" != 1 ]; then
        heading "demo: CURVE keys under var/demo/keys"
        mkdir -p "$var/keys"
        (cd "$var/keys" && "$keygen" hub >/dev/null && "$keygen" jcdu >/dev/null &&
            "$keygen" northwest >/dev/null && "$keygen" nwteam >/dev/null)
        local reg="$var/keys/registry.csv" id rest
        : >"$reg"
        printf '%s,jcdu,jcdu,\n' "$(cat "$var/keys/jcdu.pub")" >>"$reg"
        printf '%s,northwest,oversight,\n' "$(cat "$var/keys/northwest.pub")" >>"$reg"
        printf '%s,nwteam,oversight,\n' "$(cat "$var/keys/nwteam.pub")" >>"$reg"
        while read -r id rest; do
            (cd "$var/keys" && "$keygen" "$id" >/dev/null)
            if [ "$rest" = --national ]; then
                printf '%s,%s,national,\n' "$(cat "$var/keys/$id.pub")" "$id" >>"$reg"
            else # its areas come from the hub's --partnerships file (same list as the agents)
                printf '%s,%s,partnership,%s\n' "$(cat "$var/keys/$id.pub")" "$id" "$id" >>"$reg"
            fi
        done <"$var/drops/agents.txt"
        hub_sec=(--keys "$reg" --key "$var/keys/hub.key")
    else
        heading "demo: plain TCP (--insecure on every party; the programs warn about it)"
    fi
    curve_args() { # ID: the client flags for that identity
        if [ "${hub_sec[0]}" = --insecure ]; then
            echo --insecure
        else
            echo --key "$var/keys/$1.key" --server-key "$var/keys/hub.pub"
        fi
    }

    local p1 p2 p3
    read -r p1 p2 p3 < <(pick_ports) || true
    [ -n "${p3:-}" ] || die "no three free ports found near 7400 or 17400"
    local ingest="tcp://127.0.0.1:$p1" alerts="tcp://127.0.0.1:$p2" queryep="tcp://127.0.0.1:$p3"

    trap demo_stop EXIT
    trap 'exit 130' INT TERM

    heading "demo: hub on ports $p1 (ingest), $p2 (alerts), $p3 (queries)"
    "$hub" --data "$var/hub" --ingest "$ingest" --alerts "$alerts" --query "$queryep" \
        --rules "$root/deploy/demo/rules.ini" --partnerships "$var/drops/partnerships.csv" \
        "${hub_sec[@]}" >"$var/logs/hub.log" 2>&1 &
    demo_pids+=($!)

    # The North West teams' receivers (OHID and HMPPS, a third watcher): a local SMTP server (STARTTLS and AUTH, as a real relay
    # wants) and a local HTTP receiver stand in for the mail relay and the team's webhook.
    local -a nw_recv=()
    local py=/usr/bin/python3 s1 s2 s3
    if "$py" -c 'import aiosmtpd' 2>/dev/null && command -v openssl >/dev/null; then
        read -r s1 s2 s3 < <(pick_ports 7410) || true
        heading "demo: local SMTP server on port $s1 and HTTP receiver on port $s2 (var/demo/mail, var/demo/hooks)"
        mkdir -p "$var/tls"
        openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
            -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" -keyout "$var/tls/key.pem" \
            -out "$var/tls/cert.pem" >/dev/null 2>&1
        echo "demo-password" >"$var/smtp.pass"
        chmod 600 "$var/smtp.pass"
        "$py" "$root/tests/integration/smtp_sink.py" --port "$s1" --dir "$var/mail" \
            --cert "$var/tls/cert.pem" --key "$var/tls/key.pem" --user cdof-alerts \
            --password demo-password >"$var/logs/smtp.log" 2>&1 &
        demo_pids+=($!)
        "$py" "$root/tests/integration/http_sink.py" --port "$s2" --dir "$var/hooks" \
            >"$var/logs/hooks.log" 2>&1 &
        demo_pids+=($!)
        sed -e "s|@SMTP_PORT@|$s1|; s|@HTTP_PORT@|$s2|; s|@VAR@|$var|g; s|@QUERY@|$queryep|" \
            "$root/deploy/demo/receivers.ini" >"$var/receivers.ini"
        nw_recv=(--receivers "$var/receivers.ini")
    else
        heading "demo: no receivers (needs $py with aiosmtpd, and openssl: deploy/dev.sh deps)"
    fi

    heading "demo: watchers (JCDU: everything; HMPPS North West: alert/hmpps/E12000002/)"
    # shellcheck disable=SC2046
    "$watch" --hub-alerts "$alerts" --hub-query "$queryep" --topic alert/ \
        --data "$var/jcdu.watch" $(curve_args jcdu) \
        >"$var/logs/watch-jcdu.out" 2>"$var/logs/watch-jcdu.log" &
    demo_pids+=($!)
    # shellcheck disable=SC2046
    "$watch" --hub-alerts "$alerts" --hub-query "$queryep" --topic alert/hmpps/E12000002/ \
        --data "$var/northwest.watch" $(curve_args northwest) \
        >"$var/logs/watch-northwest.out" 2>"$var/logs/watch-northwest.log" &
    demo_pids+=($!)
    if [ ${#nw_recv[@]} -gt 0 ]; then
        heading "demo: the North West teams' watcher (alert/ohid/E12000002/, alert/hmpps/E12000002/) with receivers"
        # shellcheck disable=SC2046
        "$watch" --hub-alerts "$alerts" --hub-query "$queryep" \
            --topic alert/ohid/E12000002/,alert/hmpps/E12000002/ --data "$var/nwteam.watch" \
            "${nw_recv[@]}" $(curve_args nwteam) \
            >"$var/logs/watch-nwteam.out" 2>"$var/logs/watch-nwteam.log" &
        demo_pids+=($!)
    fi

    heading "demo: agents"
    local id rest
    while read -r id rest; do
        mkdir -p "$var/$id/spool/in" "$var/$id/data"
        echo "  $id ${rest}"
        # shellcheck disable=SC2086,SC2046
        "$agent" --id "$id" --hub "$ingest" --spool "$var/$id/spool" --data "$var/$id/data" \
            $rest $(curve_args "$id") </dev/null >"$var/logs/agent-$id.log" 2>&1 &
        demo_pids+=($!)
    done <"$var/drops/agents.txt"

    heading "demo: dropping CSV files into each spool's in/ (written as .tmp, then renamed)"
    local f
    while read -r id rest; do
        for f in "$var/drops/$id"/*.csv; do
            cp "$f" "$var/$id/spool/in/.$(basename "$f").tmp"
            mv "$var/$id/spool/in/.$(basename "$f").tmp" "$var/$id/spool/in/$(basename "$f")"
            echo "  $id/spool/in/$(basename "$f") ($(($(wc -l <"$f") - 1)) rows)"
        done
    done <"$var/drops/agents.txt"

    heading "demo: waiting (up to 30 s) for the agents to drain and the alerts to arrive"
    local deadline=$((SECONDS + 30)) pending ready=0
    while [ $SECONDS -lt $deadline ]; do
        for pid in "${demo_pids[@]}"; do
            kill -0 "$pid" 2>/dev/null || {
                echo "a demo process (pid $pid) exited early; last lines of the logs:" >&2
                tail -n 5 "$var"/logs/*.log >&2
                exit 1
            }
        done
        pending=0
        while read -r id rest; do
            [ -z "$(ls -A "$var/$id/spool/in" 2>/dev/null)" ] || pending=1
            "$agent" status --data "$var/$id/data" --format json </dev/null 2>/dev/null |
                grep -Eq '"outbox_depth": *0([^0-9]|$)' || pending=1
        done <"$var/drops/agents.txt"
        if [ $pending = 0 ]; then
            ready=1
            break
        fi
        sleep 0.5
    done
    [ $ready = 1 ] || echo "(not everything arrived within 30 s: showing what there is)"

    # The hub judges a period once every expected area has reported (or its deadline has passed
    # with 90% of them). The six partnerships cover 15 of the 153 areas, so June stays open and
    # England's figure provisional; a person closes it to have it judged.
    heading "cdof-query coverage continuity_of_care 2024-06 (open: 15 of 153 areas)"
    # shellcheck disable=SC2046
    timeout 10 "$query" --hub "$queryep" $(curve_args jcdu) coverage continuity_of_care 2024-06 \
        2>>"$var/logs/query.log" | head -n 4 || true
    heading "cdof-query close continuity_of_care 2024-06 --by \"Demo Operator\""
    # shellcheck disable=SC2046
    timeout 10 "$query" --hub "$queryep" $(curve_args jcdu) close continuity_of_care 2024-06 \
        --by "Demo Operator" --reason "the demo's six partnerships are all that report" \
        2>>"$var/logs/query.log" | head -n 3 || true
    deadline=$((SECONDS + 10))
    while [ $SECONDS -lt $deadline ] &&
        ! grep -q worse_than_england "$var/logs/watch-northwest.out" 2>/dev/null; do
        sleep 0.2
    done

    # An operator acknowledges the first North West alert by name: both watchers get the record.
    local first_nw
    first_nw=$(sed -n 's/^#\([0-9]*\) FIRING.*/\1/p' "$var/logs/watch-northwest.out" | head -n 1)
    if [ -n "$first_nw" ]; then
        heading "cdof-query ack $first_nw --by \"Demo Operator\""
        # shellcheck disable=SC2046
        timeout 10 "$query" --hub "$queryep" $(curve_args jcdu) ack "$first_nw" \
            --by "Demo Operator" --note "provider contacted" 2>>"$var/logs/query.log" || true
        deadline=$((SECONDS + 10))
        while [ $SECONDS -lt $deadline ] &&
            ! grep -q ACKNOWLEDGED "$var/logs/watch-northwest.out" 2>/dev/null; do
            sleep 0.2
        done
    fi

    # Side by side: what each team's watcher printed, one alert a line (full lines in the logs).
    local width=${COLUMNS:-160} half
    [ "$width" -ge 100 ] || width=100
    half=$((width / 2 - 2))
    heading "watchers side by side: JCDU (alert/: $(grep -c . "$var/logs/watch-jcdu.out" || true) alerts, the last 20) | HMPPS North West (alert/hmpps/E12000002/: $(grep -c . "$var/logs/watch-northwest.out" || true))"
    short() { sed 's/ \xe2\x80\x94 .*//' "$1" | cut -c1-"$half"; }
    pr -m -t -w "$width" <(printf '%s\n%s\n' "JCDU: every team, every region" "------------------------------"; short "$var/logs/watch-jcdu.out" | tail -n 20) \
        <(printf '%s\n%s\n' "HMPPS North West" "----------------"; short "$var/logs/watch-northwest.out")
    echo "(full lines: var/demo/logs/watch-jcdu.out and watch-northwest.out)"

    if [ ${#nw_recv[@]} -gt 0 ]; then
        heading "demo: waiting (up to 30 s) for the North West teams' grouped email and webhook"
        deadline=$((SECONDS + 30))
        while [ $SECONDS -lt $deadline ] && { [ ! -e "$var/mail/0001.eml" ] ||
            ! grep -q "^200 /northwest" "$var/hooks/log" 2>/dev/null; }; do
            sleep 0.5
        done
        if [ -e "$var/mail/0001.eml" ]; then
            heading "the first email to the North West teams (var/demo/mail/0001.eml: one digest of $(grep -c '^== ' "$var/mail/0001.eml") alert(s); $(find "$var/mail" -name '*.eml' | wc -l) email(s) so far, one per group and window)"
            sed -n '1,/^  To silence:/p' "$var/mail/0001.eml"
            echo "  ... and the other alerts of the digest:"
            grep '^  Area ' "$var/mail/0001.eml" | tail -n +2
        else
            echo "(no email within 30 s: see var/demo/logs/watch-nwteam.log)"
        fi
        if [ -e "$var/hooks/0001.json" ]; then
            heading "the webhook's first POST (var/demo/hooks/0001.json, the generic JSON body; $(grep -c '^200 ' "$var/hooks/log") POST(s) answered 200)"
            cut -c1-600 "$var/hooks/0001.json"
            echo " ..."
        fi
        heading "cdof-watch status --data var/demo/nwteam.watch"
        "$watch" status --data "$var/nwteam.watch" || true
    fi

    heading "cdof-query area E06000009 (Blackpool)"
    # shellcheck disable=SC2046
    timeout 10 "$query" --hub "$queryep" $(curve_args jcdu) area E06000009 \
        2>>"$var/logs/query.log" || true
    heading "cdof-query area greater-manchester 2024-06 (ten boroughs, one partnership)"
    # shellcheck disable=SC2046
    timeout 10 "$query" --hub "$queryep" $(curve_args jcdu) area greater-manchester 2024-06 \
        2>>"$var/logs/query.log" || true
    heading "cdof-query league continuity_of_care 2024-06"
    # shellcheck disable=SC2046
    timeout 10 "$query" --hub "$queryep" $(curve_args jcdu) league continuity_of_care 2024-06 \
        2>>"$var/logs/query.log" || true

    heading "cdof-query milestones (progress reports, as at 2025-03-31)"
    # shellcheck disable=SC2046
    timeout 10 "$query" --hub "$queryep" $(curve_args jcdu) milestones --as-of 2025-03-31 \
        --format csv 2>>"$var/logs/query.log" | grep -E '^partnership|progress_report' || true

    heading "rejected rows (bristol/spool/rejected/)"
    local any=0
    for f in "$var"/*/spool/rejected/*.errors.csv; do
        [ -e "$f" ] || continue
        any=1
        echo "-- ${f#"$root"/}"
        cat "$f"
    done
    [ $any = 1 ] || echo "(none found)"

    heading "annual report 2024/25 (cdof-query report: HTML, PDF and ODS)"
    local rc=0
    # shellcheck disable=SC2046
    timeout 420 "$query" --hub "$queryep" $(curve_args jcdu) --timeout-ms 20000 report \
        --year 2024/25 --out "$var/report-2024-25.html" --pdf "$var/report-2024-25.pdf" \
        --ods "$var/report-2024-25.ods" --partnerships "$var/drops/partnerships.csv" \
        2>>"$var/logs/query.log" || rc=$?
    case $rc in
    0) echo "open it in a browser: file://$var/report-2024-25.html" ;;
    4) echo "HTML and ODS written; no PDF: chromium is not installed (deploy/dev.sh deps)" ;;
    *) echo "(the report could not be written: see var/demo/logs/query.log)" ;;
    esac

    heading "demo: stopping (SIGTERM)"
    demo_stop
    trap - EXIT
    echo "logs: var/demo/logs/   hub store: var/demo/hub/   agents: var/demo/<id>/{spool,data}/"
    echo "annual report: var/demo/report-2024-25.{html,pdf,ods}"
}

# --- valgrind --------------------------------------------------------------------------------
# The hub and an agent under memcheck (tests/integration/test_valgrind.sh) on the build without
# sanitizers: valgrind cannot run ASan binaries, so CI's sanitizer build cannot do this.
cmd_valgrind() {
    cmd_build
    command -v valgrind >/dev/null || die "valgrind is not installed (deploy/dev.sh deps)"
    heading "valgrind: hub and agent under memcheck"
    cmake "$root/build" -DCDOF_VALGRIND="$(command -v valgrind)" >/dev/null
    ctest --test-dir "$root/build" -L valgrind --output-on-failure --timeout 300
}

# --- fuzz ------------------------------------------------------------------------------------
# The suite runs each fuzzer for ~10 s; this runs them longer, one after the other, keeping the
# corpora in build-asan/tests/fuzz/corpus_*, and prints how many inputs each ran.
cmd_fuzz() {
    local secs=${1:-300} dir="$root/build-asan/tests/fuzz" f name seeds n total=0
    [[ "$secs" =~ ^[0-9]+$ ]] || die "usage: deploy/dev.sh fuzz [SECONDS]"
    [ -x "$dir/fuzz_envelope" ] || die "no fuzz targets in $dir: run deploy/dev.sh test (needs clang)"
    for f in "$dir"/fuzz_*; do
        [ -f "$f" ] && [ -x "$f" ] || continue
        name=${f##*/fuzz_}
        case "$name" in
        csv) seeds="$root/tests/data/csv" ;;
        query_request) seeds="$root/tests/data/fuzz/query" ;;
        *) seeds="$root/tests/data/fuzz/$name" ;;
        esac
        mkdir -p "$dir/corpus_$(basename "$seeds")"
        heading "fuzz: $name for $secs s (nice -n 19)"
        n=$(nice -n 19 "$f" -max_total_time="$secs" -max_len=4096 -timeout=10 -rss_limit_mb=1024 \
            -print_final_stats=1 "$dir/corpus_$(basename "$seeds")" "$seeds" 2>&1 |
            tee "$dir/$name.fuzz.log" | awk '/stat::number_of_executed_units/ { print $2 }')
        grep -q "ERROR: libFuzzer\|SUMMARY: .*Sanitizer" "$dir/$name.fuzz.log" &&
            die "$name found a problem: see $dir/$name.fuzz.log"
        echo "  $name: ${n:-0} inputs, no finding"
        total=$((total + ${n:-0}))
    done
    echo "fuzz: $total inputs in all, no finding"
}

# --- bench -----------------------------------------------------------------------------------
# Release build, then every benchmark; arguments go to tests/bench/run.sh (e.g. --updates 200000).
cmd_bench() {
    cmd_build
    heading "bench: tests/bench/run.sh (several minutes; figures are ratios to a same-run baseline)"
    bash "$root/tests/bench/run.sh" --build "$root/build" "$@"
}

# --- package ---------------------------------------------------------------------------------
# dpkg-buildpackage writes its .debs beside the source directory, so it runs on a copy of the
# committed tree plus uncommitted changes (git ls-files) in build-deb/cdof-VERSION/, removed
# afterwards: the .debs land in build-deb/ and nothing is written next to the checkout.
# CDOF_DEB_VERSION=V builds version V
# instead of debian/changelog's (the install test's upgrade uses it); CDOF_DEB_OUT=DIR puts them
# in DIR instead of build-deb/.
cmd_package() {
    # CDOF_DEB_NO_DEPS=1: the install test builds packages but must never install anything.
    [ -n "${CDOF_DEB_NO_DEPS:-}" ] || cmd_deps
    local out=${CDOF_DEB_OUT:-$root/build-deb} src version
    version=${CDOF_DEB_VERSION:-$(dpkg-parsechangelog -l "$root/debian/changelog" -S Version)}
    src="$out/cdof-$version"
    heading "package: cdof $version in $out"
    rm -rf "$src"
    mkdir -p "$src"
    (cd "$root" && git ls-files -z --cached --others --exclude-standard |
        grep -zv '^build' | xargs -0 cp --parents -t "$src" 2>/dev/null) ||
        (cd "$root" && tar --exclude='./build*' --exclude=./var --exclude=./.git -cf - . |
            tar -C "$src" -xf -)
    if [ -n "${CDOF_DEB_VERSION:-}" ]; then
        (cd "$src" && DEBFULLNAME="cdof build" DEBEMAIL=cdof-maintainers@lists.example.org \
            dch --newversion "$version" --distribution unstable --force-distribution \
            "Rebuilt as $version." 2>/dev/null) ||
            die "CDOF_DEB_VERSION needs dch (devscripts)"
    fi
    rm -f "$out"/cdof*_"$version"_*.deb "$out"/cdof*_"$version"_*.changes \
        "$out"/cdof*_"$version"_*.buildinfo
    (cd "$src" && dpkg-buildpackage -b -us -uc -j"$jobs") >"$out/build-$version.log" 2>&1 ||
        die "dpkg-buildpackage failed: see $out/build-$version.log"
    rm -rf "$src"
    ls -1 "$out"/cdof*_"$version"_*.deb
    if command -v lintian >/dev/null && [ -z "${CDOF_DEB_NO_LINTIAN:-}" ]; then
        heading "package: lintian"
        local changes
        changes=$(ls "$out"/cdof_"$version"_*.changes)
        lintian --fail-on error \
            "$changes" | tee "$out/lintian-$version.log" ||
            die "lintian reports errors ($out/lintian-$version.log)"
        echo "lintian: no errors (the warnings kept, and why: deploy/PACKAGING.md)"
    fi
}

# --- clean -----------------------------------------------------------------------------------
cmd_clean() {
    heading "clean: build/ build-asan/ build-gcc/ build-deb/ var/"
    rm -rf "${root:?}/build" "${root:?}/build-asan" "${root:?}/build-gcc" "${root:?}/build-deb" \
        "${root:?}/var"
}

case "${1:-}" in
deps) cmd_deps ;;
build) cmd_build ;;
test) cmd_test ;;
demo) cmd_demo ;;
bench)
    shift
    cmd_bench "$@"
    ;;
package) cmd_package ;;
clean) cmd_clean ;;
valgrind) cmd_valgrind ;;
fuzz) cmd_fuzz "${2:-300}" ;;
*)
    echo "usage: deploy/dev.sh deps|build|test|demo|bench|package|clean|valgrind|fuzz [SECONDS]" >&2
    exit 2
    ;;
esac
