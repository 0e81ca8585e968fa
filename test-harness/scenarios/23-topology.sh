# test-harness/scenarios/23-topology.sh - issue 13's topology: a host whose state lives in several
# namespaces. Host A, as in every scenario, filters (nch_vmfw) and maps a port (guest:8007 -> :7,
# DNAT; lib/firewall.sh's NAT variant) in its own namespace. Host B's uplink goes through a
# router namespace (nchrtr, made inside B's mount namespace: a transparent bridge in front of
# br0, br_netfilter on) that does the port mapping, while B's own namespace filters. B's
# netcarry.conf names its state points: [point host] role = filter, [point router] netns =
# nchrtr, role = nat. The router does not take up a connection from its middle
# (nf_conntrack_tcp_loose = 0), as nch_vmfw does not: without its entry a flow is not translated.
#  1. without the router point (B names only its own namespace, role filter): after A->B the
#     echo on guest:8007 breaks: B's filter has the flow as the guest sees it (-> :7), but the
#     router never had the NAT entry, so the client's packets reach B untranslated (-> :8007),
#     where the filter drops them;
#  2. with both points, A->B (1:n: A's one namespace, B's two): B's router holds the DNAT entry,
#     B's filter the flow as the guest sees it, and the echo survives; then B->A (n:1: B's two
#     points merged into one entry per flow, A's one namespace): the echo survives again, and
#     B's clean-up empties both of its points.
# docs/topology.md has the rule each point's entries follow.
SCENARIO_DESC="state points: B's NAT in a router namespace, its filter in its own; without the router point the DNATed echo breaks after A->B; with it the echo survives A->B (1:n) and B->A (n:1)"

NCH_MAX_STALL_MS=${NCH_MAX_STALL_MS:-1000}
RTR=nch${NCH_ID}rtr
RTR_TABLE=nch_rtr

# rtr HOST CMD... - CMD in HOST's router namespace (which exists inside HOST's mount namespace)
rtr() { local h=$1; shift; host_exec "$h" ip netns exec "$RTR" "$@"; }

rtr_up() {
    host_exec "$1" sh -c "
        set -e
        ip netns add $RTR
        ip -n $RTR link set lo up
        ip link set up0 nomaster
        ip link set up0 netns $RTR
        ip link add up1 type veth peer name down0 netns $RTR
        ip link set up1 master br0 up
        ip -n $RTR link add rbr0 type bridge
        ip -n $RTR link set rbr0 type bridge stp_state 0 forward_delay 0
        ip -n $RTR link set up0 master rbr0 up
        ip -n $RTR link set down0 master rbr0 up
        ip -n $RTR link set rbr0 up" || die "host $1: cannot put the router namespace in front of br0"
    rtr "$1" nft -f - <<EOT || die "host $1: cannot load the router's NAT"
table inet $RTR_TABLE {
    counter mapped { }
    chain prerouting {
        type nat hook prerouting priority dstnat; policy accept;
        ip daddr $NCH_GUEST_IP tcp dport 8007 counter name "mapped" dnat ip to $NCH_GUEST_IP:7
    }
}
EOT
    rtr "$1" sysctl -qw net.netfilter.nf_conntrack_tcp_loose=0 ||
        die "host $1: cannot set the router's nf_conntrack_tcp_loose"
    sc_note "host $1: router namespace $RTR in front of br0: $(rtr "$1" sysctl -n net.bridge.bridge-nf-call-iptables 2>&1) bridge-nf-call-iptables"
}

# rtr_down HOST - the uplink back into br0, the router gone
rtr_down() {
    host_exec "$1" sh -c "
        ip -n $RTR link set up0 netns \$\$ 2>/dev/null
        ip link set up0 master br0 up
        ip link del up1 2>/dev/null
        ip netns del $RTR 2>/dev/null
        true"
}

# rtr_flow HOST - the router's conntrack entry of the guest's port mapping (empty: none)
rtr_flow() { rtr "$1" conntrack -L -p tcp -d "$NCH_GUEST_IP" --dport 8007 2>/dev/null | grep "dport=8007"; }
# host_flow HOST - HOST's own entry of the echo as the guest sees it (-> :7, from the fabric)
host_flow() {
    ip netns exec "$(host_ns "$1")" conntrack -L -p tcp -s "$NCH_NET.1" -d "$NCH_GUEST_IP" --dport 7 2>/dev/null |
        grep "dport=7 "
}

points_conf() {   # points_conf HOST with|without
    {
        echo "[point host]"
        echo "role = filter"
        if [ "$2" = with ]; then
            echo "[point router]"
            echo "netns = $RTR"
            echo "role = nat"
            echo "classes = conntrack"
        fi
    } > "$(host_dir "$1")/netcarry-extra.conf"
}

broke() { [ "$1" != 0 ] || [ "$(sc_result "$2" ok)" = 0 ]; }

scenario_run() {
    local h at rc t0 f
    sc_need_netcarry
    fw_on A nat
    fw_on B
    rtr_up B
    for h in $NCH_HOSTS; do nc_guest_ct_flush "$h"; done

    # 1. without the router point
    points_conf B without
    for h in $NCH_HOSTS; do nc_up "$h" || die "netcarryd did not start on $h"; done
    at=$(guest_where) || die "the guest is not running anywhere"
    [ "$at" = A ] || sc_migrate "$at" A || die "cannot bring the guest back to host A"
    nc_wait_rendezvous A || die "netcarryd on A never published the guest's rendezvous"
    sc_client nort tcp-echo 8007 --interval-ms 20 --stall-timeout-s 5
    sleep 2
    sc_check "without the router point: the echo on guest:8007 passes A's port mapping and firewall (mapped $(fw_counter A nat_mapped), established $(fw_counter A established))" \
        [ "$(fw_counter A nat_mapped)" -gt 0 -a "$(fw_counter A established)" -gt 10 ]
    sc_drops_mark B
    sc_check "without the router point: live migration A->B succeeds" sc_migrate A B
    sc_client_wait nort 30; rc=$?
    sc_check "without the router point: the echo breaks on B (client exit $rc: $(cat "$ART/client-nort.result"))" \
        broke "$rc" nort
    sc_check "without the router point: B's router has no entry of the mapping" [ -z "$(rtr_flow B)" ]
    sc_check "without the router point: B's filter dropped the untranslated packets (dropped_tcp $SC_DROPS0 -> $(fw_counter B dropped_tcp))" \
        [ "$(fw_counter B dropped_tcp)" -gt "$SC_DROPS0" ]
    fw_dump B > "$ART/nort-fw-B.txt"; rtr B conntrack -L > "$ART/nort-rtr-ct.txt" 2>&1
    # the client's broken socket would retransmit its FIN into B's filter for minutes (an orphan
    # in FIN-WAIT-1), counted as drops in part 2: destroy it (the fabric is this run's)
    fabric_exec ss -K -t dst "$NCH_GUEST_IP" '( dport = :8007 )' >/dev/null 2>&1

    # 2. with both points: A->B (1:n), B->A (n:1)
    points_conf B with
    nc_up B || die "netcarryd did not start on B"
    grep -q "^\[point router\]" "$(host_dir B)$NCH_NC_CONF" || die "B's netcarry.conf lacks the router point"
    sc_check "with the router point: live migration B->A (nothing to carry) succeeds" sc_migrate B A
    for h in $NCH_HOSTS; do nc_guest_ct_flush "$h"; done
    rtr B conntrack -D -d "$NCH_GUEST_IP" >/dev/null 2>&1
    nc_wait_rendezvous A || die "netcarryd on A never published the guest's rendezvous"
    sc_client echo tcp-echo 8007 --interval-ms 20 --stall-timeout-s 5
    sleep 2
    sc_drops_mark B
    t0=$(now_ms)
    sc_check "1:n: live migration A->B succeeds" sc_migrate A B
    sc_report ONE-TO-TWO B "$t0" 1
    f=$(rtr_flow B)
    sc_check "1:n: B's router holds the mapping's NAT entry ($f)" \
        sh -c "echo '$f' | grep -q 'dport=8007 .*src=$NCH_GUEST_IP dst=$NCH_NET.1 sport=7 '"
    f=$(host_flow B)
    sc_check "1:n: B's filter holds the flow as the guest sees it, untranslated ($f)" \
        sh -c "echo '$f' | grep -q 'dport=7 .*src=$NCH_GUEST_IP dst=$NCH_NET.1 sport=7 '"
    sc_check_no_drops B
    sleep 2
    sc_check "1:n: the echo is still running on B" kill -0 "$(pid_of client-echo)"
    nc_wait_rendezvous B || sc_note "netcarryd on B did not publish a rendezvous in 15 s"
    t0=$(now_ms)
    sc_check "n:1: live migration B->A succeeds" sc_migrate B A
    sc_report TWO-TO-ONE A "$t0" 1
    sc_check_echo_intact echo
    sleep 1
    sc_check "n:1: B's clean-up emptied both of its points (router: '$(rtr_flow B)', filter: '$(host_flow B)')" \
        [ -z "$(rtr_flow B)" -a -z "$(host_flow B)" ]
    timing "23-topology echo longest stall (ms)" "$(sc_result echo max_stall_ms)"

    rm -f "$(host_dir B)/netcarry-extra.conf"
    nc_up B || true
    rtr_down B
    fw_off A; fw_off B
}
