#!/usr/bin/env bash
# The deployment files in deploy/: the systemd units pass `systemd-analyze verify` (run against
# this build's binaries, instances of the templates included) and keep the sandboxing operators
# were promised; every example configuration is accepted by its program. Skips (exit 77) the
# systemd part where systemd-analyze is missing.
#
#   test_units.sh --src DIR --hub P --agent P --watch P
set -euo pipefail
src="" hub="" agent="" watch=""
while [ $# -gt 0 ]; do
    case "$1" in
    --src) src=$2 ;;
    --hub) hub=$2 ;;
    --agent) agent=$2 ;;
    --watch) watch=$2 ;;
    *) echo "test_units: unknown argument '$1'" >&2; exit 2 ;;
    esac
    shift 2
done
fail() { echo "FAIL [deploy_units]: $*" >&2; exit 1; }
units="$src/deploy/systemd"
[ -f "$units/cdof-hub.service" ] || fail "no units in $units"

# 1. Example configurations: every key known to its program (an unknown one exits 2).
for pair in "$hub:hub.conf" "$agent:agent.conf" "$watch:watch.conf"; do
    prog=${pair%%:*} conf="$src/deploy/config/${pair#*:}"
    out=$("$prog" --config "$conf" --version 2>&1) || fail "$(basename "$prog") rejects $conf: $out"
    # CURVE is the default: the examples name keys and never turn it off.
    ! grep -Eq '^[[:space:]]*insecure[[:space:]]*=[[:space:]]*true' "$conf" ||
        fail "$conf sets insecure = true"
    grep -Eq '^[[:space:]]*key[[:space:]]*=' "$conf" || fail "$conf names no key"
    # Every option the program lists in --help is explained in its example ("every key commented").
    for o in $("$prog" --help | sed -n '/^  --config /q; s/^  --\([a-z0-9-]*\).*/\1/p'); do
        grep -Eq "(^|[^a-z-])$o([^a-z-]|\$)" "$conf" || fail "$conf does not mention --$o"
    done
done

# 2. What every daemon's unit promises operators, present in each.
for u in cdof-hub.service cdof-agent@.service cdof-watch@.service; do
    for want in '^User=cdof$' '^ProtectSystem=strict$' '^NoNewPrivileges=yes$' \
        '^StateDirectory=cdof/' '^Restart=on-failure$' '^ExecStart=/usr/local/bin/cdof-'; do
        grep -Eq "$want" "$units/$u" || fail "$u lacks a line matching $want"
    done
done

# 3. systemd's own check, against this build's binaries.
if ! command -v systemd-analyze >/dev/null; then
    echo "SKIP [deploy_units]: systemd-analyze not installed; configurations checked only"
    exit 77
fi
dir=$(mktemp -d "${TMPDIR:-/tmp}/cdof-units.XXXXXX")
trap 'rm -rf "$dir"' EXIT
for u in "$units"/*.service "$units"/*.timer; do
    sed -e "s#/usr/local/bin/cdof-hub#$hub#" -e "s#/usr/local/bin/cdof-agent#$agent#" \
        -e "s#/usr/local/bin/cdof-watch#$watch#" \
        -e "s#/usr/local/libexec/cdof/hub-backup#$src/deploy/hub-backup.sh#" \
        "$u" >"$dir/$(basename "$u")"
done
# Templates are checked as instances, the way they run.
cp "$dir/cdof-agent@.service" "$dir/cdof-agent@E06000009.service"
cp "$dir/cdof-watch@.service" "$dir/cdof-watch@jcdu.service"
# verify prints warnings (unknown settings, bad values) without failing: any output fails here.
out=$(cd "$dir" && SYSTEMD_LOG_COLOR=0 systemd-analyze verify ./cdof-hub.service \
    ./cdof-agent@E06000009.service ./cdof-watch@jcdu.service ./cdof-hub-backup.service \
    ./cdof-hub-backup.timer 2>&1) ||
    fail "systemd-analyze verify failed: $out"
[ -z "$out" ] || fail "systemd-analyze verify warns: $out"
echo "PASS [deploy_units]: 5 units verified, 3 example configurations accepted"
