#!/bin/bash
# path-switch.sh - kernel scenarios: a live flow moves from stateful firewall fw1 to fw2.
# Without its conntrack state the flow breaks; carried with `netcarry capture/install` it survives. TAP.
#
# Theory of operation
#
#   cli (br0: 10.1.0.1, fd00:1::1)                         srv (br0: 10.2.0.1, fd00:2::1)
#      port c1 ---- in  [ fw1 ]  out ---- port s1
#      port c2 ---- in  [ fw2 ]  out ---- port s2
#
# fw1 and fw2 are identical routers: same addresses and same MACs on "in"
# (10.1.0.254, fd00:1::fe) and "out" (10.2.0.254, fd00:2::fe). Only one path is
# forwarding at a time (bridge port states); switching to fw2 disables c1/s1 and enables c2/s2, which neither end's IP
# layer can see: what changes is only which firewall's conntrack table the
# flow meets, as when a VM migrates to a host behind another firewall.
#
# Each firewall forwards default-deny: established/related pass, a new TCP
# connection only on a SYN from the client side, a new UDP flow only from the
# client side to the server's port (counted in "new_udp"), everything else is
# counted in "dropped" and dropped. nf_conntrack_tcp_loose=0 as well, but the
# SYN-only rule is what stops a mid-stream packet from re-creating an entry.
#
# Variants: masquerade on the server-facing side of both firewalls (they share the
# public address 10.2.0.254), and a 1:1 NAT (dnat 10.2.0.100 -> server, snat client ->
# 10.2.0.101).
#
# Every case runs an nc-traffic client through fw1, switches to fw2 one second
# in, and reads the client's verdict and fw2's counters:
#   - not carried: the flow must break (client exits 1) and fw2 must have dropped it;
#   - carried (`netcarry capture` on fw1, `netcarry install` on fw2 right before
#     the switch): the flow must survive, every byte in order, nothing dropped on fw2.
# UDP is the exception, and the suite says so: fw2 admits the client's next
# datagram as a new flow, so the flow continues either way; what carrying
# changes is that fw2 uses the carried entry instead of creating a fresh one
# (whose NAT mapping, mark, zone and accounting would start from nothing).
#
# Everything lives in namespaces named after this script's PID and is removed
# on every exit path; only processes started here are killed, by PID.

set -u

readonly TAG="ncps$$"
readonly NS_CLI="$TAG-cli" NS_FW1="$TAG-fw1" NS_FW2="$TAG-fw2" NS_SRV="$TAG-srv"
readonly SWITCH_AFTER_S=1     # traffic runs this long through fw1 before the switch
readonly DURATION_S=3         # the client's whole run
readonly STALL_S=2            # a flow that does not move for this long is broken
readonly PORT_ECHO=7007 PORT_SOURCE=7009 PORT_UDP=7007

BUILD_ROOT="${NETCARRY_BUILD_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)/build}"
NC_TRAFFIC="${NC_TRAFFIC:-$BUILD_ROOT/test-harness/traffic/nc-traffic}"
NETCARRY_CLI="${NETCARRY_CLI:-$BUILD_ROOT/src/netcarry}"
WORK=""
SERVER_PID=""
CLIENT_PID=""
TESTNUM=0

# ---------------------------------------------------------------------------
# TAP

tap_ok() { TESTNUM=$((TESTNUM + 1)); echo "ok $TESTNUM - $*"; }
tap_not_ok() { TESTNUM=$((TESTNUM + 1)); echo "not ok $TESTNUM - $*"; }
diag() { sed 's/^/# /'; }
skip_all() { echo "1..0 # SKIP $*"; exit 0; }

# ---------------------------------------------------------------------------
# Set-up and tear-down

teardown_topology() {
    local pid ns
    for pid in $CLIENT_PID $SERVER_PID; do
        kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    done
    CLIENT_PID= SERVER_PID=
    for ns in $NS_CLI $NS_FW1 $NS_FW2 $NS_SRV; do
        ip netns del "$ns" 2>/dev/null
    done
}

cleanup() {
    trap - EXIT INT TERM
    teardown_topology
    [ -n "$WORK" ] && rm -rf "$WORK"
}

# Not for background jobs: `cmd &` on a function forks a subshell, and $! would be the
# subshell's PID, not the program's. Background jobs use `ip netns exec`, which execs.
in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

# fw_setup NS - one of the two identical firewalls.
fw_setup() {
    local ns=$1
    ip -n "$ns" link set lo up
    ip -n "$ns" link set in address 02:00:00:00:01:fe
    ip -n "$ns" link set out address 02:00:00:00:02:fe
    ip -n "$ns" addr add 10.1.0.254/24 dev in
    ip -n "$ns" addr add fd00:1::fe/64 dev in nodad
    ip -n "$ns" addr add 10.2.0.254/24 dev out
    ip -n "$ns" addr add fd00:2::fe/64 dev out nodad
    ip -n "$ns" link set in up
    ip -n "$ns" link set out up
    # Static neighbours: the first packet after a switch must meet conntrack, not an ARP wait.
    ip -n "$ns" neigh add 10.1.0.1 lladdr 02:00:00:00:01:01 dev in nud permanent
    ip -n "$ns" neigh add fd00:1::1 lladdr 02:00:00:00:01:01 dev in nud permanent
    ip -n "$ns" neigh add 10.2.0.1 lladdr 02:00:00:00:02:01 dev out nud permanent
    ip -n "$ns" neigh add fd00:2::1 lladdr 02:00:00:00:02:01 dev out nud permanent
    in_ns "$ns" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
    in_ns "$ns" nft -f - <<EOF || return 1
table inet ncps {
    counter dropped {}
    counter new_udp {}
    chain forward {
        type filter hook forward priority filter; policy drop;
        ct state established,related accept
        iifname "in" tcp flags & (fin | syn | rst | ack) == syn ct state new accept
        iifname "in" udp dport $PORT_UDP ct state new counter name new_udp accept
        counter name dropped drop
    }
}
EOF
    # Exists once conntrack is in use (the ruleset above); per namespace.
    in_ns "$ns" sysctl -qw net.netfilter.nf_conntrack_tcp_loose=0
}

# end_setup NS PORT1 PORT2 ADDR4 ADDR6 GW4 GW6 MAC GW-MAC - the client's or the server's side.
end_setup() {
    local ns=$1 p1=$2 p2=$3
    ip -n "$ns" link set lo up
    ip -n "$ns" link add br0 address "$8" type bridge stp_state 0
    ip -n "$ns" link set "$p1" master br0
    ip -n "$ns" link set "$p2" master br0
    ip -n "$ns" addr add "$4" dev br0
    ip -n "$ns" addr add "$5" dev br0 nodad
    ip -n "$ns" link set br0 up
    ip -n "$ns" link set "$p1" up
    ip -n "$ns" link set "$p2" up
    # Both ports flood (no learning), only the active one forwards: see switch_path().
    bridge -n "$ns" link set dev "$p1" learning off
    bridge -n "$ns" link set dev "$p2" learning off
    bridge -n "$ns" link set dev "$p2" state 0
    ip -n "$ns" route add default via "$6"
    ip -n "$ns" -6 route add default via "$7"
    ip -n "$ns" neigh add "$6" lladdr "$9" dev br0 nud permanent
    ip -n "$ns" neigh add "$7" lladdr "$9" dev br0 nud permanent
}

setup() {
    local ns
    for ns in $NS_CLI $NS_FW1 $NS_FW2 $NS_SRV; do
        ip netns add "$ns" || return 1
    done
    ip -n "$NS_CLI" link add c1 type veth peer name in netns "$NS_FW1" || return 1
    ip -n "$NS_CLI" link add c2 type veth peer name in netns "$NS_FW2" || return 1
    ip -n "$NS_SRV" link add s1 type veth peer name out netns "$NS_FW1" || return 1
    ip -n "$NS_SRV" link add s2 type veth peer name out netns "$NS_FW2" || return 1
    fw_setup "$NS_FW1" || return 1
    fw_setup "$NS_FW2" || return 1
    end_setup "$NS_CLI" c1 c2 10.1.0.1/24 fd00:1::1/64 10.1.0.254 fd00:1::fe 02:00:00:00:01:01 \
        02:00:00:00:01:fe ||
        return 1
    end_setup "$NS_SRV" s1 s2 10.2.0.1/24 fd00:2::1/64 10.2.0.254 fd00:2::fe 02:00:00:00:02:01 \
        02:00:00:00:02:fe ||
        return 1

    ip netns exec "$NS_SRV" "$NC_TRAFFIC" serve --tcp-echo $PORT_ECHO --tcp-source $PORT_SOURCE \
        --udp-echo $PORT_UDP >"$WORK/server.out" 2>&1 &
    SERVER_PID=$!
    wait_for_line "$WORK/server.out" "nc-traffic: serving" 5 || return 1
    # The path works both ways before any case relies on it. A fresh topology has been seen to
    # pass nothing for over 5 s right after a run of namespace-heavy tests (cause not found yet):
    # up to four tries, each with what the kernel saw when it failed.
    local try
    for try in 1 2 3 4; do
        in_ns "$NS_CLI" "$NC_TRAFFIC" tcp-idle 10.2.0.1 $PORT_ECHO --connections 1 --hold-s 0 &&
            in_ns "$NS_CLI" "$NC_TRAFFIC" tcp-idle fd00:2::1 $PORT_ECHO --connections 1 --hold-s 0 &&
            return 0
        echo "set-up: try $try: the path passes nothing yet; fw1: $(in_ns "$NS_FW1" conntrack -S 2>&1 | tr '\n' ' ')" \
            "$(in_ns "$NS_FW1" nft list counter inet ncps dropped 2>&1 | tr -s '\n ' ' ')" \
            "cli: $(ip -n "$NS_CLI" -s link show c1 2>&1 | tr -s '\n ' ' ')" \
            "fw1: forwarding=$(in_ns "$NS_FW1" sysctl -n net.ipv4.ip_forward 2>&1)" \
            "rp_filter=$(in_ns "$NS_FW1" sysctl -n net.ipv4.conf.in.rp_filter 2>&1)" \
            "$(ip -n "$NS_FW1" -s link show in 2>&1 | tr -s '\n ' ' ')"
    done
    return 1
}

# wait_for_line FILE TEXT SECONDS
wait_for_line() {
    local i
    for ((i = 0; i < $3 * 20; i++)); do
        grep -q "$2" "$1" 2>/dev/null && return 0
        sleep 0.05
    done
    return 1
}

# wait_pid PID SECONDS - wait for a child with a deadline; kills it when the deadline passes.
# Sets RC (124 on timeout).
wait_pid() {
    local i
    for ((i = 0; i < $2 * 20; i++)); do
        if ! kill -0 "$1" 2>/dev/null; then
            wait "$1"
            RC=$?
            return
        fi
        sleep 0.05
    done
    kill "$1" 2>/dev/null
    wait "$1"
    RC=124
}

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# counter NS NAME - packets counted so far by a firewall's named counter.
counter() {
    in_ns "$1" nft list counter inet ncps "$2" | sed -n 's/.*packets \([0-9]*\).*/\1/p'
}

# switch_path FROM TO - stop forwarding on path FROM (1 or 2) and start on path TO, at both ends.
# Bridge port states, not link states: every link keeps its carrier, so no neighbour cache is
# flushed and no carrier event waits for the kernel's link watch (up to 1 s); ports do not learn,
# so no stale forwarding entry points at the old path.
switch_path() {
    bridge -n "$NS_CLI" link set dev "c$1" state 0
    bridge -n "$NS_SRV" link set dev "s$1" state 0
    bridge -n "$NS_CLI" link set dev "c$2" state 3
    bridge -n "$NS_SRV" link set dev "s$2" state 3
}

# Back to fw1 with no leftovers, for the next case: a broken case leaves sockets that keep
# retransmitting (server data, the client's FIN), and fw2 must count only the next case's drops.
reset_paths() {
    switch_path 2 1
    in_ns "$NS_CLI" ss -K -tn state connected >/dev/null 2>&1
    in_ns "$NS_SRV" ss -K -tn state connected >/dev/null 2>&1
    in_ns "$NS_FW1" conntrack -F >/dev/null 2>&1
    in_ns "$NS_FW2" conntrack -F >/dev/null 2>&1
}

# ---------------------------------------------------------------------------
# One case

# result_field FIELD - from the client's result line.
result_field() { sed -n "s/^result .*[ ]$1=\([^ ]*\).*/\1/p" "$WORK/client.out"; }

# run_case NAME CARRY ADDRESS CLIENT-ARGS... - one flow through a path switch.
# CARRY is "carry" or "none"; ADDRESS is what `netcarry capture` selects on.
# Sets RC, DROPS (fw2's dropped delta), NEW_UDP (fw2's new_udp delta), CARRY_MS, CARRY_ERR.
run_case() {
    local name=$1 carry=$2 address=$3
    shift 3
    local drops0 newudp0 t0
    CARRY_MS="" CARRY_ERR=""

    ip netns exec "$NS_CLI" "$NC_TRAFFIC" "$@" >"$WORK/client.out" 2>"$WORK/client.err" &
    CLIENT_PID=$!
    sleep "$SWITCH_AFTER_S"
    if [ "$carry" = carry ]; then
        t0=$(now_ms)
        if ! "$NETCARRY_CLI" capture --netns "$NS_FW1" --address "$address" \
                --output "$WORK/$name.bundle" 2>"$WORK/carry.err" ||
           ! "$NETCARRY_CLI" install --netns "$NS_FW2" "$WORK/$name.bundle" 2>>"$WORK/carry.err"; then
            CARRY_ERR=$(head -n1 "$WORK/carry.err")
        fi
        CARRY_MS=$(($(now_ms) - t0))
    fi
    drops0=$(counter "$NS_FW2" dropped)
    newudp0=$(counter "$NS_FW2" new_udp)
    switch_path 1 2
    wait_pid "$CLIENT_PID" $((DURATION_S + STALL_S + 5))
    CLIENT_PID=""
    DROPS=$(($(counter "$NS_FW2" dropped) - drops0))
    NEW_UDP=$(($(counter "$NS_FW2" new_udp) - newudp0))
    reset_paths
}

# report_case DESCRIPTION PASSED - the TAP line plus what was measured.
report_case() {
    local what="$1 (stall $(result_field max_stall_ms) ms, fw2 dropped $DROPS"
    [ -n "$CARRY_MS" ] && what="$what, capture+install $CARRY_MS ms"
    what="$what)"
    if [ "$2" = yes ]; then tap_ok "$what"; else tap_not_ok "$what"; fi
    {
        echo "client exit $RC: $(cat "$WORK/client.out")"
        [ -s "$WORK/client.err" ] && head -n3 "$WORK/client.err"
        [ -n "$CARRY_ERR" ] && echo "netcarry: $CARRY_ERR"
    } | diag
}

# case_pair LABEL ADDRESS CLIENT-ARGS... - the not-carried and the carried run of a TCP flow.
case_pair() {
    local label=$1 address=$2 passed
    shift 2

    run_case "$label-none" none "$address" "$@"
    passed=no
    [ "$RC" = 1 ] && [ "$DROPS" -gt 0 ] && passed=yes
    report_case "$label, not carried: the flow breaks at fw2" $passed

    run_case "$label-carry" carry "$address" "$@"
    passed=no
    [ "$RC" = 0 ] && [ -z "$CARRY_ERR" ] && [ "$(result_field in_order)" = 1 ] &&
        [ "$DROPS" = 0 ] && passed=yes
    report_case "$label, carried: the flow survives, every byte in order" $passed
}

# udp_pair - see the theory of operation: UDP re-creates its entry by itself.
udp_pair() {
    local passed

    run_case udp-none none 10.1.0.1 udp-echo 10.2.0.1 $PORT_UDP \
        --duration-s $DURATION_S --stall-timeout-s $STALL_S
    passed=no
    [ "$RC" = 0 ] && [ "$NEW_UDP" -ge 1 ] && passed=yes
    report_case "UDP, not carried: fw2 admits the flow as a NEW one (new_udp +$NEW_UDP, lost $(result_field lost))" $passed

    run_case udp-carry carry 10.1.0.1 udp-echo 10.2.0.1 $PORT_UDP \
        --duration-s $DURATION_S --stall-timeout-s $STALL_S
    passed=no
    [ "$RC" = 0 ] && [ -z "$CARRY_ERR" ] && [ "$NEW_UDP" = 0 ] && [ "$DROPS" = 0 ] && passed=yes
    report_case "UDP, carried: fw2 continues the carried entry (new_udp +$NEW_UDP, lost $(result_field lost))" $passed
}

# invalid_bundle DESCRIPTION SED-EXPR - a captured bundle with one entry broken by hand
# must install nothing and make the CLI fail.
invalid_bundle() {
    local desc=$1 expr=$2 rc before after passed=no

    ip netns exec "$NS_CLI" "$NC_TRAFFIC" tcp-idle 10.2.0.1 $PORT_ECHO --connections 3 --hold-s 3 \
        --ready-file "$WORK/idle.ready" >"$WORK/client.out" 2>"$WORK/client.err" &
    CLIENT_PID=$!
    wait_for_line "$WORK/client.out" ready 5
    "$NETCARRY_CLI" capture --netns "$NS_FW1" --address 10.1.0.1 --output "$WORK/good.bundle" \
        2>"$WORK/carry.err"
    # Break only the last entry: the install must not apply the ones before it.
    awk -v pat="${expr%%/*}" -v repl="${expr#*/}" '
        { lines[NR] = $0 }
        /<entry[ >]/ { last = NR }
        END { for (i = 1; i <= NR; i++) {
                  if (i > last && !done && sub(pat, repl, lines[i]))
                      done = 1
                  print lines[i] } }' "$WORK/good.bundle" >"$WORK/bad.bundle"
    before=$(in_ns "$NS_FW2" conntrack -C 2>/dev/null)
    "$NETCARRY_CLI" install --netns "$NS_FW2" "$WORK/bad.bundle" >/dev/null 2>"$WORK/carry.err"
    rc=$?
    after=$(in_ns "$NS_FW2" conntrack -C 2>/dev/null)
    kill "$CLIENT_PID" 2>/dev/null
    wait "$CLIENT_PID" 2>/dev/null
    CLIENT_PID=""
    local entries
    entries=$(grep -c '<entry' "$WORK/good.bundle")
    [ "$rc" != 0 ] && [ "$before" = "$after" ] && [ "$entries" -ge 3 ] &&
        ! cmp -s "$WORK/good.bundle" "$WORK/bad.bundle" && [ "$(wc -l <"$WORK/carry.err")" = 1 ] &&
        passed=yes
    if [ $passed = yes ]; then tap_ok "$desc"; else tap_not_ok "$desc"; fi
    {
        echo "captured $entries entries; install exit $rc; fw2 entries $before -> $after"
        echo "stderr: $(head -n2 "$WORK/carry.err")"
        diff "$WORK/good.bundle" "$WORK/bad.bundle" | head -n4
    } | diag
    reset_paths
}

# kernel_refusal - the kernel refuses one entry of a valid bundle (it is on fw2
# already): the install must undo every entry it made, keep fw2's own entry,
# name the refused one, and fail.
kernel_refusal() {
    local rc before after passed=no

    ip netns exec "$NS_CLI" "$NC_TRAFFIC" tcp-idle 10.2.0.1 $PORT_ECHO --connections 3 --hold-s 3 \
        --ready-file "$WORK/idle.ready" >"$WORK/client.out" 2>"$WORK/client.err" &
    CLIENT_PID=$!
    wait_for_line "$WORK/client.out" ready 5
    "$NETCARRY_CLI" capture --netns "$NS_FW1" --address 10.1.0.1 --class conntrack \
        --output "$WORK/all.bundle" 2>"$WORK/carry.err"
    # fw2 already holds the bundle's last entry: a copy with only that entry (lines before
    # the first <entry> and from the last <entry> on) goes in first. Cut by hand, it no longer
    # matches its section's count and digest (format 2), so it is written as format 1, which
    # has none.
    awk '/<entry[ >]/ { n++ } { line[NR] = $0; in_entry[NR] = n }
         END { for (i = 1; i <= NR; i++) if (in_entry[i] == 0 || in_entry[i] == n) print line[i] }' \
        "$WORK/all.bundle" |
        sed -e 's/ version="2"/ version="1"/' -e 's/<conntrack count="[0-9]*" digest="[0-9a-f]*">/<conntrack>/' \
        >"$WORK/last.bundle"
    "$NETCARRY_CLI" install --netns "$NS_FW2" "$WORK/last.bundle" 2>>"$WORK/carry.err"
    before=$(in_ns "$NS_FW2" conntrack -C 2>/dev/null)
    "$NETCARRY_CLI" install --netns "$NS_FW2" "$WORK/all.bundle" >/dev/null 2>"$WORK/refusal.err"
    rc=$?
    after=$(in_ns "$NS_FW2" conntrack -C 2>/dev/null)
    kill "$CLIENT_PID" 2>/dev/null
    wait "$CLIENT_PID" 2>/dev/null
    CLIENT_PID=""
    [ "$rc" != 0 ] && [ "$before" = 1 ] && [ "$after" = 1 ] &&
        grep -q "already present on the destination" "$WORK/refusal.err" && passed=yes
    if [ $passed = yes ]; then
        tap_ok "a bundle the kernel refuses in part installs nothing (fw2 keeps its own entry)"
    else
        tap_not_ok "a bundle the kernel refuses in part installs nothing (fw2 keeps its own entry)"
    fi
    {
        echo "captured $(grep -c '<entry' "$WORK/all.bundle") entries; fw2 held $before before," \
            "$after after; install exit $rc"
        head -n3 "$WORK/refusal.err"
    } | diag
    reset_paths
}

# ---------------------------------------------------------------------------
# main

# Sourced (to debug the topology by hand), stop here.
[ "${BASH_SOURCE[0]}" = "$0" ] || return 0

[ "$(id -u)" = 0 ] || skip_all "needs root (network namespaces, nftables, conntrack)"
for tool in ip bridge ss nft conntrack sysctl awk; do
    command -v "$tool" >/dev/null || skip_all "$tool is not installed"
done
[ -x "$NC_TRAFFIC" ] || skip_all "nc-traffic not built ($NC_TRAFFIC)"

WORK=$(mktemp -d "/tmp/$TAG.XXXXXX")
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# a topology that passes nothing after four tries is built once more from scratch (a fresh one
# has passed at once every time so far)
if ! setup >"$WORK/setup.log" 2>&1; then
    echo "set-up: tearing the topology down and building it again" >>"$WORK/setup.log"
    teardown_topology
    if ! setup >>"$WORK/setup.log" 2>&1; then
        cat "$WORK/setup.log" | diag
        skip_all "cannot build the namespace topology (veth, bridge, nftables inet ct, conntrack)"
    fi
fi
grep '^set-up: ' "$WORK/setup.log" | diag # a slow start said, even when it recovered

# meson builds the CLI before it runs this suite: a missing one is a broken
# build, not a reason to skip, and a capture that fails is the bug under test
# (each carried case then fails and says why).
[ -x "$NETCARRY_CLI" ] || { echo "Bail out! netcarry CLI not built ($NETCARRY_CLI)"; exit 1; }

START=$(now_ms)
echo "1..15"
case_pair "TCP echo" 10.1.0.1 tcp-echo 10.2.0.1 $PORT_ECHO \
    --duration-s $DURATION_S --stall-timeout-s $STALL_S
case_pair "TCP bulk" 10.1.0.1 tcp-bulk 10.2.0.1 $PORT_SOURCE --direction recv \
    --duration-s $DURATION_S --stall-timeout-s $STALL_S
udp_pair

for ns in $NS_FW1 $NS_FW2; do
    in_ns "$ns" nft add table ip ncps_nat
    in_ns "$ns" nft add chain ip ncps_nat post '{ type nat hook postrouting priority srcnat; }'
    in_ns "$ns" nft add rule ip ncps_nat post oifname out masquerade
done
case_pair "TCP echo through masquerade" 10.1.0.1 tcp-echo 10.2.0.1 $PORT_ECHO \
    --duration-s $DURATION_S --stall-timeout-s $STALL_S
for ns in $NS_FW1 $NS_FW2; do
    in_ns "$ns" nft delete table ip ncps_nat
done

# 1:1 NAT: the client talks to a public address 10.2.0.100 that both firewalls map to the
# server, and the server sees the client as 10.2.0.101.
for ns in $NS_FW1 $NS_FW2; do
    in_ns "$ns" nft -f - <<EOF
table ip ncps_nat {
    chain pre { type nat hook prerouting priority dstnat; ip daddr 10.2.0.100 dnat to 10.2.0.1; }
    chain post { type nat hook postrouting priority srcnat; ip saddr 10.1.0.1 snat to 10.2.0.101; }
}
EOF
done
ip -n "$NS_SRV" neigh add 10.2.0.101 lladdr 02:00:00:00:02:fe dev br0 nud permanent
case_pair "TCP echo through 1:1 NAT" 10.1.0.1 tcp-echo 10.2.0.100 $PORT_ECHO \
    --duration-s $DURATION_S --stall-timeout-s $STALL_S
for ns in $NS_FW1 $NS_FW2; do
    in_ns "$ns" nft delete table ip ncps_nat
done

case_pair "IPv6 TCP echo" fd00:1::1 tcp-echo fd00:2::1 $PORT_ECHO \
    --duration-s $DURATION_S --stall-timeout-s $STALL_S

invalid_bundle "a bundle whose last entry has an unknown TCP state installs nothing" \
    'state="[a-z_-]*"/state="no-such-state"'
invalid_bundle "a bundle whose last entry mixes address families installs nothing" \
    'reply proto="tcp" src="10\.2\.0\.1"/reply proto="tcp" src="fd00:2::1"'
kernel_refusal

echo "# suite ran in $(($(now_ms) - START)) ms after set-up"
