#!/usr/bin/env bash
# The Debian packages as an operator meets them, in a Debian bookworm chroot (debootstrap
# --variant=minbase from the mirror apt uses here), never on this machine:
#   1. build the packages twice (deploy/dev.sh package): the tree's version V and V+upgrade1;
#   2. install V (dpkg -i): the cdof account, /etc/cdof, the hub's key and registry appear;
#   3. start hub and agent from their units: there is no systemd running in a chroot, so each
#      unit's ExecStart line is run as the unit's User/Group, with its UMask and its
#      StateDirectory created (mode StateDirectoryMode) and passed as $STATE_DIRECTORY, as
#      systemd would; a CSV dropped into the agent's spool must reach the hub's store;
#   4. run the backup unit's ExecStart the same way: a copy appears in /var/backups/cdof, 0600;
#   5. upgrade to V+upgrade1 over the running store, restart both from the units: the stored rows
#      are still there (the store is opened, and upgraded if its schema is older, by the new
#      hub) and a second drop arrives; an edited conffile is kept;
#   6. purge every package: programs, configuration, key and store are gone, backups kept.
# The chroot runs in its own mount and network namespaces (unshare): its /proc mount and the
# daemons' ports (7400-7402, as shipped) cannot touch the machine's.
#
# Skips (exit 77, saying why) without root, unshare, debootstrap or dpkg-buildpackage, or when
# the mirror cannot be reached for the first chroot. The chroot is cached as a tarball in
# CACHE (the build directory), so later runs need no network.
#
#   test_install.sh --src DIR --cache DIR
set -euo pipefail
src="" cache=""
while [ $# -gt 0 ]; do
    case "$1" in
    --src) src=$2 ;;
    --cache) cache=$2 ;;
    *) echo "test_install: unknown argument '$1'" >&2; exit 2 ;;
    esac
    shift 2
done
NAME=deploy_install
log() { printf '[%s] %s\n' "$NAME" "$*" >&2; }
fail() { echo "FAIL [$NAME]: $*" >&2; exit 1; }
skip() { echo "SKIP [$NAME]: $*"; exit 77; }

SUITE=bookworm

# --- inside the namespaces ---------------------------------------------------------------------
if [ "${CDOF_INSTALL_TEST_INNER:-}" = 1 ]; then
    R=$WORK/root
    pids=()
    cleanup_inner() {
        local p
        for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
        for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
        umount "$R/proc" 2>/dev/null || true
    }
    trap cleanup_inner EXIT
    ip link set lo up 2>/dev/null || fail "cannot bring up loopback in the test's network namespace"
    mkdir -p "$R"
    tar -C "$R" -xzf "$TARBALL" || fail "cannot unpack $TARBALL"
    mount -t proc proc "$R/proc"
    in_root() { chroot "$R" "$@"; }
    mkdir -p "$R/tmp/debs1" "$R/tmp/debs2"
    cp "$DEBS1"/cdof-{common,hub,agent,watch,tools}_*.deb "$R/tmp/debs1/"
    cp "$DEBS2"/cdof-{common,hub,agent,watch,tools}_*.deb "$R/tmp/debs2/"

    # 2. Install.
    log "installing $V1 in the chroot"
    in_root sh -c 'dpkg -i /tmp/debs1/*.deb' >"$WORK/dpkg-install.log" 2>&1 ||
        fail "dpkg -i failed: $(tail -20 "$WORK/dpkg-install.log")"
    in_root getent passwd cdof >/dev/null || fail "no cdof account after installation"
    for f in /etc/cdof/hub.conf /etc/cdof/rules.example.ini /etc/cdof/agent.conf.example \
        /etc/cdof/watch.conf.example /etc/cdof/keys/hub.key /etc/cdof/keys/registry.csv \
        /usr/share/man/man1/cdof-agent.1.gz /usr/share/bash-completion/completions/cdof-agent \
        /lib/systemd/system/cdof-hub-backup.timer /usr/share/cdof/reference/areas.csv; do
        [ -e "$R$f" ] || fail "$f missing after installation"
    done
    [ -d "$R/var/backups/cdof" ] || fail "/var/backups/cdof not created by the package"
    # Owners as the chroot names them (its account ids are not this machine's).
    owner_mode() { in_root stat -c %U:%a "$1"; }
    [ "$(owner_mode /var/backups/cdof)" = cdof:700 ] ||
        fail "/var/backups/cdof is $(owner_mode /var/backups/cdof), not cdof:700"
    [ "$(owner_mode /etc/cdof/keys/hub.key)" = cdof:600 ] ||
        fail "hub.key is $(owner_mode /etc/cdof/keys/hub.key), not cdof:600"

    # The operator's part: an agent's and a reader's keys, registered at the hub.
    area=E06000009
    in_root sh -ec "cd /etc/cdof/keys && cdof-keygen $area >/dev/null && cdof-keygen jcdu >/dev/null
        chown cdof $area.key
        echo \"\$(cat $area.pub),$area,partnership,$area,$area\" >>registry.csv
        echo \"\$(cat jcdu.pub),jcdu,jcdu,\" >>registry.csv" ||
        fail "could not make and register the keys"
    sed -e "s|^hub = .*|hub = tcp://127.0.0.1:7400|" -e "s|^areas = .*|areas = $area|" \
        -e "s|^key = .*|key = /etc/cdof/keys/$area.key|" "$R/etc/cdof/agent.conf.example" \
        >"$R/etc/cdof/agent-$area.conf"
    # An operator's edit of a conffile, to be kept across the upgrade.
    sed -i 's/^log-level = info/log-level = debug/' "$R/etc/cdof/hub.conf"

    # unit_start UNIT INSTANCE LOG: runs the unit's ExecStart as systemd would start it (see top).
    unit_start() {
        local file="$R/lib/systemd/system/$1" inst=$2 logf=$WORK/$3.log text user group dir mode
        local mask cmd uid gid
        [ -f "$file" ] || fail "unit $1 is not installed"
        text=$(sed -e ':a' -e '/\\$/N; s/\\\n[[:space:]]*/ /; ta' "$file" | sed "s/%i/$inst/g")
        user=$(sed -n 's/^User=//p' <<<"$text")
        group=$(sed -n 's/^Group=//p' <<<"$text")
        dir=$(sed -n 's/^StateDirectory=//p' <<<"$text")
        mode=$(sed -n 's/^StateDirectoryMode=//p' <<<"$text")
        mask=$(sed -n 's/^UMask=//p' <<<"$text")
        cmd=$(sed -n 's/^ExecStart=//p' <<<"$text")
        [ -n "$user" ] && [ -n "$cmd" ] || fail "$1 has no User= or ExecStart="
        uid=$(in_root id -u "$user") gid=$(in_root getent group "${group:-$user}" | cut -d: -f3)
        if [ -n "$dir" ]; then
            install -d -m "${mode:-0755}" -o "$uid" -g "$gid" "$R/var/lib/$dir"
            cmd=${cmd//'${STATE_DIRECTORY}'/\/var\/lib\/$dir}
        fi
        log "starting $1${inst:+ ($inst)} as $user: $cmd"
        chroot --userspec="$uid:$gid" "$R" /bin/sh -c "umask ${mask:-0022}; exec $cmd" \
            >>"$logf" 2>&1 &
        pids+=($!)
        LAST_PID=$!
    }
    unit_stop() { # PID NAME: SIGTERM as systemctl stop, bounded wait, status 0 expected
        local i rc=0
        kill -TERM "$1" 2>/dev/null || true
        for i in $(seq 1 300); do
            kill -0 "$1" 2>/dev/null || break
            sleep 0.1
        done
        kill -0 "$1" 2>/dev/null && fail "$2 did not stop within 30 s of SIGTERM"
        wait "$1" || rc=$?
        [ "$rc" -eq 0 ] || fail "$2 exited with status $rc after SIGTERM: $(tail -5 "$WORK/$2.log")"
    }
    query() {
        timeout 10 chroot "$R" cdof-query --hub tcp://127.0.0.1:7402 --key /etc/cdof/keys/jcdu.key \
            --server-key /etc/cdof/keys/hub.pub "$@" 2>>"$WORK/query.log"
    }
    has_rows() { # NUMERATOR...: the hub's series for the area holds each
        local out n
        out=$(query series continuity_of_care "$area" --format csv) || return 1
        for n in "$@"; do grep -q ",$n,100," <<<"$out" || return 1; done
    }
    daemons=() # "PID NAME" of the hub and agent now running: a wait ends early if one died
    wait_for() { # WHAT SECONDS CMD...
        local what=$1 secs=$2 end d
        shift 2
        end=$((SECONDS + secs))
        until "$@"; do
            for d in "${daemons[@]}"; do
                kill -0 "${d%% *}" 2>/dev/null ||
                    fail "${d#* } exited while waiting for $what: $(tail -n 5 "$WORK/${d#* }.log")"
            done
            [ $SECONDS -lt $end ] || fail "timed out after ${secs}s waiting for $what"
            sleep 0.3
        done
    }
    drop() { # NAME NUMERATOR PERIOD: written beside in/, renamed in, as the spool rule asks
        local in=$R/var/lib/cdof/agent-$area/spool/in
        wait_for "the agent to make its spool" 30 test -d "$in"
        printf 'metric_id,area_code,period,numerator,denominator,value,note\ncontinuity_of_care,%s,%s,%s,100,,\n' \
            "$area" "$3" "$2" >"$in/.$1.tmp"
        mv "$in/.$1.tmp" "$in/$1"
    }

    # 3. Hub and agent from their units; a drop arrives.
    unit_start cdof-hub.service "" hub
    hub_pid=$LAST_PID
    unit_start cdof-agent@.service "$area" agent
    agent_pid=$LAST_PID
    daemons=("$hub_pid hub" "$agent_pid agent")
    drop first.csv 31 2024-04
    wait_for "the first drop to reach the hub (logs: $WORK)" 60 has_rows 31
    log "a CSV drop at the agent reached the hub"

    # 4. The backup unit's job, as its timer would run it.
    unit_start cdof-hub-backup.service "" backup
    wait "$LAST_PID" || fail "cdof-hub-backup.service failed: $(cat "$WORK/backup.log")"
    copy=$(find "$R/var/backups/cdof" -name data.mdb | head -n 1)
    [ -n "$copy" ] || fail "no backup in /var/backups/cdof: $(cat "$WORK/backup.log")"
    [ "$(owner_mode "${copy#"$R"}")" = cdof:600 ] ||
        fail "${copy#"$R"} is $(owner_mode "${copy#"$R"}"), not cdof:600"

    # 5. Upgrade over the running store, then restart from the (new) units.
    log "upgrading to $V2 with hub and agent running"
    in_root sh -c 'dpkg -i /tmp/debs2/*.deb' >"$WORK/dpkg-upgrade.log" 2>&1 ||
        fail "upgrade failed: $(tail -20 "$WORK/dpkg-upgrade.log")"
    [ "$(in_root dpkg-query -W -f='${Version}' cdof-hub)" = "$V2" ] || fail "cdof-hub is not $V2"
    grep -q '^log-level = debug' "$R/etc/cdof/hub.conf" ||
        fail "the upgrade did not keep the edited /etc/cdof/hub.conf"
    daemons=()
    unit_stop "$agent_pid" agent
    unit_stop "$hub_pid" hub
    unit_start cdof-hub.service "" hub
    hub_pid=$LAST_PID
    unit_start cdof-agent@.service "$area" agent
    agent_pid=$LAST_PID
    daemons=("$hub_pid hub" "$agent_pid agent")
    wait_for "the upgraded hub to serve the rows stored before" 60 has_rows 31
    drop second.csv 37 2024-05
    wait_for "a drop after the upgrade to reach the hub" 60 has_rows 31 37
    log "after the upgrade the store kept its rows and a new drop arrived"
    daemons=()
    unit_stop "$agent_pid" agent
    unit_stop "$hub_pid" hub

    # 6. Purge.
    in_root dpkg --purge cdof-hub cdof-agent cdof-watch cdof-tools cdof-common \
        >"$WORK/dpkg-purge.log" 2>&1 || fail "purge failed: $(tail -20 "$WORK/dpkg-purge.log")"
    for f in /usr/bin/cdof-hub /usr/bin/cdof-agent /usr/bin/cdof-query /etc/cdof/hub.conf \
        /etc/cdof/rules.example.ini /etc/cdof/keys/hub.key /var/lib/cdof/hub \
        "/var/lib/cdof/agent-$area" /lib/systemd/system/cdof-hub.service \
        /usr/lib/sysusers.d/cdof.conf /etc/default/cdof-hub-backup; do
        [ ! -e "$R$f" ] || fail "$f is still there after purge"
    done
    [ -n "$(find "$R/var/backups/cdof" -name data.mdb)" ] || fail "purge removed the backups"
    if in_root dpkg-query -W -f='${Package} ${Status}\n' 'cdof*' 2>/dev/null |
        grep -v 'not-installed' | grep -q .; then
        fail "packages left after purge: $(in_root dpkg-query -W 'cdof*')"
    fi
    echo "PASS [$NAME]: $V1 installed in a $SUITE chroot, hub and agent started from their" \
        "units, a drop arrived, backup 0600, upgraded to $V2 keeping the store, purged"
    exit 0
fi

# --- outside: tools, packages, chroot tarball ----------------------------------------------------
[ -n "$src" ] && [ -n "$cache" ] || { echo "usage: test_install.sh --src DIR --cache DIR" >&2; exit 2; }
[ "$EUID" -eq 0 ] || skip "needs root (chroot, mount and network namespaces)"
for t in unshare chroot debootstrap dpkg-buildpackage dh dch ip; do
    command -v "$t" >/dev/null || skip "$t is not installed (deploy/dev.sh deps installs the optional tools)"
done
unshare --mount --net true 2>/dev/null || skip "unshare --mount --net is not allowed here"

mkdir -p "$cache"
WORK=$(mktemp -d "$cache/run.XXXXXX")
keep_work=0
cleanup() {
    if [ "$keep_work" = 1 ]; then
        rm -rf "$WORK/root"
        echo "[$NAME] logs kept in $WORK" >&2
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
V1=$(dpkg-parsechangelog -l "$src/debian/changelog" -S Version)
V2=$V1+upgrade1
DEBS1=$WORK/debs1 DEBS2=$WORK/debs2
for v in "$V1:$DEBS1" "$V2:$DEBS2"; do
    log "building the packages, version ${v%%:*}"
    mkdir -p "${v#*:}"
    if [ "${v%%:*}" = "$V1" ]; then ver=""; else ver=${v%%:*}; fi
    CDOF_DEB_NO_DEPS=1 CDOF_DEB_NO_LINTIAN=1 CDOF_DEB_OUT=${v#*:} CDOF_DEB_VERSION=$ver \
        bash "$src/deploy/dev.sh" package >"$WORK/package-${v%%:*}.log" 2>&1 || {
        keep_work=1
        fail "deploy/dev.sh package failed: $(tail -5 "$WORK/package-${v%%:*}.log")"
    }
done

# The packages' own Depends (taken from the built .debs, so a library linked later is never
# missed) and systemd, whose systemd-sysusers and systemd-tmpfiles the maintainer scripts run:
# installed when the chroot is made, so that the test itself never downloads. The tarball is
# named by that list, and a chroot made for another list is replaced.
deps=$(for d in "$DEBS1"/*.deb; do
    dpkg-deb -f "$d" Pre-Depends
    dpkg-deb -f "$d" Depends
done | tr ',' '\n' |
    sed 's/|.*//; s/(.*)//; s/[[:space:]]//g; s/:any$//' | grep -v '^cdof-' |
    grep -v '^$' | sort -u | paste -sd, -)
INCLUDE=systemd${deps:+,$deps}
TARBALL=$cache/$SUITE-minbase-$(printf '%s' "$INCLUDE" | sha256sum | cut -c1-12).tar.gz
if [ ! -s "$TARBALL" ]; then
    mirror=$(sed -n 's/^URIs:[[:space:]]*\(http[^ ]*debian\/\{0,1\}\)$/\1/p' \
        /etc/apt/sources.list.d/*.sources 2>/dev/null | grep -v security | head -n 1)
    [ -n "$mirror" ] || mirror=$(sed -n 's/^deb[[:space:]]\{1,\}\(http[^ ]*\)[[:space:]].*/\1/p' \
        /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | grep -v security |
        head -n 1)
    [ -n "$mirror" ] || skip "no Debian mirror found in /etc/apt/sources.list*"
    rm -f "$cache/$SUITE"-minbase*.tar.gz
    log "making the $SUITE chroot once (debootstrap --variant=minbase from $mirror); cached in $TARBALL"
    staging=$(mktemp -d "$cache/debootstrap.XXXXXX")
    if ! debootstrap --variant=minbase --include="$INCLUDE" "$SUITE" "$staging/root" "$mirror" \
        >"$cache/debootstrap.log" 2>&1; then
        rm -rf "$staging"
        skip "debootstrap from $mirror failed (no network?): see $cache/debootstrap.log"
    fi
    rm -rf "$staging/root/var/cache/apt/archives/"*.deb
    tar -C "$staging/root" -czf "$TARBALL.tmp" . && mv "$TARBALL.tmp" "$TARBALL"
    rm -rf "$staging"
fi

export WORK TARBALL DEBS1 DEBS2 V1 V2 CDOF_INSTALL_TEST_INNER=1
rc=0
unshare --mount --net --fork bash "$0" || rc=$?
[ "$rc" -eq 0 ] || keep_work=1
exit "$rc"
