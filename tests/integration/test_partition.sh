#!/usr/bin/env bash
# A network partition between the hub and its agents: the hub runs in one network
# namespace, six agents in another, joined by a veth pair. Twice mid-stream the link is broken
# until every agent has declared the hub dead, while more files arrive, and then mended: once by
# taking the link down (both ends see it), once by a black hole that silently drops every packet
# both ways (half-open TCP connections on both sides). Afterwards the store must hold exactly the
# rows sent, as test_fault.sh checks it.
#
# Needs root, iproute2 and network namespaces; skipped (exit 77, CTest's SKIP_RETURN_CODE) with
# the reason when the machine does not allow them.
#
#   test_partition.sh --hub P --agent P [--refdir DIR]   with CDOF_STORE_DUMP=path/to/store_dump
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

skip() {
    echo "SKIP [partition]: $*"
    exit 77
}
[ "$(id -u)" -eq 0 ] || skip "needs root for ip netns"
command -v ip >/dev/null || skip "no ip command (install iproute2)"
command -v ss >/dev/null || skip "no ss command (install iproute2)"

it_init partition "$@"
# shellcheck source-path=SCRIPTDIR source=fault_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/fault_lib.sh"

# Namespaces named after this run so that parallel runs do not meet; removed on exit after the
# processes in them are killed.
NS_HUB="cdof-hub-$$" NS_AG="cdof-agents-$$"
on_exit() {
    local rc=$?
    # it_cleanup reads the exit status from $? as it starts.
    if [ "$rc" -eq 0 ]; then it_cleanup; else (exit "$rc") || it_cleanup; fi
    ip netns del "$NS_HUB" 2>/dev/null || true
    ip netns del "$NS_AG" 2>/dev/null || true
}
trap on_exit EXIT
if ! ip netns add "$NS_HUB" 2>"$IT_DIR/netns.err" || ! ip netns add "$NS_AG" 2>>"$IT_DIR/netns.err"
then
    skip "cannot create network namespaces: $(head -n 1 "$IT_DIR/netns.err")"
fi
ip link add name vhub netns "$NS_HUB" type veth peer name vag netns "$NS_AG" \
    2>"$IT_DIR/veth.err" || skip "cannot create a veth pair: $(head -n 1 "$IT_DIR/veth.err")"
ip -n "$NS_HUB" addr add 10.200.0.1/30 dev vhub
ip -n "$NS_AG" addr add 10.200.0.2/30 dev vag
for ns in "$NS_HUB" "$NS_AG"; do
    ip -n "$ns" link set lo up
done
ip -n "$NS_HUB" link set vhub up
ip -n "$NS_AG" link set vag up

NAGENTS=6
HUB_BIND=10.200.0.1 HUB_HOST=10.200.0.1
HUB_NS=$NS_HUB
HUB_WRAP=(ip netns exec "$NS_HUB")
AGENT_WRAP=(ip netns exec "$NS_AG")
fl_setup

# A black hole: a token bucket whose burst is smaller than any packet drops every packet.
hole() { # on|off
    local ns dev
    for ns in "$NS_HUB:vhub" "$NS_AG:vag"; do
        dev=${ns#*:}
        ns=${ns%%:*}
        if [ "$1" = on ]; then
            ip netns exec "$ns" tc qdisc add dev "$dev" root tbf rate 1kbit burst 1 latency 1ms \
                2>>"$IT_DIR/tc.err" || return 1
        else
            ip netns exec "$ns" tc qdisc del dev "$dev" root 2>>"$IT_DIR/tc.err" || true
        fi
    done
}

# partition HOW CUT MEND FILES: cuts the link, drops FILES meanwhile, waits until every agent has
# declared the hub dead and taken its drops, then mends it and waits until every agent hears the
# hub again.
partition() {
    local how=$1 cut=$2 mend=$3 files=$4 before back at
    fl_wait_progress $((TOTAL * (2 + RANDOM % 6) / 100)) 60
    before=$(fl_reports "no word from hub")
    back=$(fl_reports "$FL_HEARD")
    at=$SECONDS
    $cut || it_fail "cannot cut the link ($how): $(cat "$IT_DIR"/*.err 2>/dev/null)"
    it_log "partition ($how) at $(fl_committed) of $TOTAL committed"
    fl_drop "${files%-*}" "${files#*-}"
    it_wait "every agent to declare the hub dead ($how)" 30 fl_noticed $((before + NAGENTS))
    it_wait "the agents to take the drops during the partition" 60 fl_spools_empty
    $mend
    it_log "mended after $((SECONDS - at)) s at $(fl_committed) of $TOTAL committed"
    it_wait "every agent to hear the hub again ($how)" 60 fl_answered $((back + NAGENTS))
}
link_down() { ip -n "$NS_HUB" link set vhub down; }
link_up() { ip -n "$NS_HUB" link set vhub up; }
hole_on() { hole on; }
hole_off() { hole off; }

RANDOM=$$
fl_start_hub
fl_start_agents
fl_drop 1 6
T0=$SECONDS
partition "link down" link_down link_up 7-8
if hole on 2>/dev/null && hole off; then
    partition "black hole" hole_on hole_off 9-"$NFILES"
else
    it_log "no tbf qdisc here ($(tail -n 1 "$IT_DIR/tc.err")): black-hole partition left out"
    fl_drop 9 "$NFILES"
fi
fl_settle 90
fl_verify
it_pass "$TOTAL rows from $NAGENTS agents in another network namespace, exactly once, through" \
    "link-down and black-hole partitions ($((SECONDS - T0)) s)"
