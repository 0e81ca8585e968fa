# test-harness/scenarios/16-sticky.sh - issue 11's load-balancer sticky table: on both hosts a
# virtual address ($LB_VIP, port 7) is DNATed to the backend that an nft map assigns to the
# client (`map sticky { type ipv4_addr : ipv4_addr; flags timeout; }`: client -> backend). On the
# guest's source the map sends the fabric's client ($NCH_NET.1) to the guest (an element with a
# timeout, as a balancer's control plane adds it); the other host's map is empty.
#  1. without netcarry (stopped, hook removed): after `virsh migrate --live` the client's next
#     connection to the virtual address is not mapped to the guest on the destination: it fails
#     (the destination's map has no element; added by hand there, the next one is mapped again);
#  2. with netcarry: the client's connection through the virtual address survives, its next
#     connection is mapped to the guest on the destination (it is echoed, and the destination's
#     conntrack shows it DNATed to the guest), and the element there has the source's remaining
#     timeout (within 2 s; read as in 15-dynamic-acl).
# How the virtual address reaches the hosts: the fabric has a static neighbour entry for it with
# the guest's MAC, so its frames follow the guest wherever it runs (its announcements after a
# migration teach the fabric's bridge where), and the host bridging them rewrites the address in
# its nat prerouting chain (br_netfilter); a frame the host does not rewrite reaches the guest
# with an address it does not have, and nch_vmfw drops it anyway (the address is no guest's).
# A balancer's host forwards IPv4 (net.ipv4.ip_forward=1, in the hosts' namespaces for the
# scenario): br_netfilter routes a bridged packet whose destination address its DNAT changed, and
# without forwarding that route is an unreachable one (kernel 6.x): the packet would go up to the
# host and die there, on every host alike.
SCENARIO_DESC="load-balancer sticky map (client -> guest, with timeouts), on the source only: without netcarry the client's next connection is not mapped to the guest on the destination; with netcarry it is, its open connection survives, remaining timeout within 2 s"

NCH_MAX_STALL_MS=${NCH_MAX_STALL_MS:-1000}
LB_TABLE=nch_lb
LB_VIP=$NCH_NET.60
LB_CLIENT=$NCH_NET.1
LB_TIMEOUT=10m
LB_EXPIRES=8m
LB_TOLERANCE_MS=2000

lb_rules() {
    cat <<EOT
table inet $LB_TABLE {
    map sticky { type ipv4_addr : ipv4_addr; flags timeout; }
    counter mapped { }
    chain prerouting {
        type nat hook prerouting priority dstnat; policy accept;
        ip daddr $LB_VIP tcp dport 7 counter name "mapped" dnat ip to ip saddr map @sticky
    }
}
EOT
}

lb_load() { lb_rules | fw_table_load "$1" inet "$LB_TABLE"; }
lb_stick() {
    fw_nft "$1" add element inet "$LB_TABLE" sticky \
        "{ $LB_CLIENT timeout $LB_TIMEOUT expires $LB_EXPIRES : $NCH_GUEST_IP }" ||
        die "host $1: cannot map $LB_CLIENT to the guest"
    sc_note "host $1: sticky $(fw_elem "$1" inet "$LB_TABLE" sticky "$LB_CLIENT")"
}
lb_elem() { fw_elem "$1" inet "$LB_TABLE" sticky "$LB_CLIENT"; }
# lb_maps_to_guest HOST - HOST's map sends the client to the guest
lb_maps_to_guest() { lb_elem "$1" | grep -q ": $NCH_GUEST_IP\$"; }
# lb_conns HOST - HOST's conntrack entries of the client's connections to the virtual address,
# "SPORT REPLY_SRC" per line (REPLY_SRC: who answers it; the guest's address when DNATed to it)
lb_conns() {
    ip netns exec "$(host_ns "$1")" conntrack -L -p tcp -s "$LB_CLIENT" -d "$LB_VIP" --dport 7 \
        2>/dev/null | awk '{ n = 0; for (i = 1; i <= NF; i++) {
            if ($i ~ /^sport=/ && !sp) sp = substr($i, 7)
            if ($i ~ /^src=/ && ++n == 2) rs = substr($i, 5) }
            if (sp != "") print sp, rs; sp = ""; rs = "" }'
}
# lb_new_conns_dnated BEFORE AFTER - the entries in AFTER whose port is not in BEFORE (the new
# connections): there is one at least, and the guest answers each
lb_new_conns_dnated() {
    local new
    new=$(awk 'NR == FNR { seen[$1] = 1; next } !($1 in seen)' <(echo "$1") <(echo "$2"))
    [ -n "$new" ] && ! echo "$new" | awk -v g="$NCH_GUEST_IP" '$2 != g { bad = 1 } END { exit !bad }'
}
# lb_client TAG ARGS... - an echo client of the virtual address
lb_client() { local tag=$1; shift; SC_CLIENT_ADDR=$LB_VIP sc_client "$tag" tcp-echo 7 "$@"; }
# lb_fresh TAG - the client's next connection to the virtual address, echoed for 2 s; its status
lb_fresh() {
    lb_client "$1" --interval-ms 20 --duration-s 2 --stall-timeout-s 3
    sc_client_wait "$1" 20
}
lb_fabric_on() {
    fabric_exec ip neigh replace "$LB_VIP" lladdr "$NCH_GUEST_MAC" dev fab0 nud permanent ||
        die "cannot add the fabric's neighbour entry for $LB_VIP"
}
lb_fabric_off() { fabric_exec ip neigh del "$LB_VIP" dev fab0 2>/dev/null; true; }
# lb_forwarding HOST 0|1 - set HOST's net.ipv4.ip_forward (its namespace's own); it was
# $RUN/.ip_forward-HOST before the scenario (lb_forwarding_restore HOST)
lb_forwarding() {
    local f=$RUN/.ip_forward-$1
    [ -f "$f" ] || ip netns exec "$(host_ns "$1")" sysctl -n net.ipv4.ip_forward > "$f"
    ip netns exec "$(host_ns "$1")" sysctl -qw "net.ipv4.ip_forward=$2"
}
lb_forwarding_restore() {
    local f=$RUN/.ip_forward-$1
    [ -f "$f" ] && ip netns exec "$(host_ns "$1")" sysctl -qw "net.ipv4.ip_forward=$(cat "$f")"
    rm -f "$f"
}


without_netcarry() {
    local h src dst rc
    for h in $NCH_HOSTS; do nc_down "$h" --purge; fw_on "$h"; lb_load "$h"; done
    src=$(guest_where) || die "the guest is not running anywhere"
    dst=$(sc_other_host "$src")
    lb_stick "$src"
    lb_fresh nonc-before; rc=$?
    sc_check "without netcarry: on $src the client's connection to $LB_VIP is mapped to the guest (exit $rc, mapped $(fw_obj "$src" inet "$LB_TABLE" counter mapped packets))" \
        [ "$rc" = 0 ]
    sc_check "without netcarry: live migration $src->$dst succeeds" sc_migrate "$src" "$dst"
    lb_fresh nonc-next; rc=$?
    sc_check "without netcarry: the client's next connection is not mapped to the guest on $dst: it fails (exit $rc; $dst's map: '$(lb_elem "$dst")')" \
        [ "$rc" != 0 -a -z "$(lb_elem "$dst")" ]
    sc_fw_snapshot nonc-unmapped
    # what it lacks is the map's element alone: added there by hand, the client is mapped again
    lb_stick "$dst"
    lb_fresh nonc-restored; rc=$?
    sc_check "without netcarry: once the element is added by hand on $dst, the next connection is mapped (exit $rc)" [ "$rc" = 0 ]
}

with_netcarry() {
    local h src dst t0 rc r_src at_src r_dst at_dst want dev c0 c1
    for h in $NCH_HOSTS; do lb_load "$h"; nc_up "$h" || die "netcarryd did not start on $h"; done
    src=$(guest_where) || die "the guest is not running anywhere"
    dst=$(sc_other_host "$src")
    nc_wait_rendezvous "$src" || die "netcarryd on $src never published the guest's rendezvous"
    nc_guest_ct_flush "$dst"
    lb_stick "$src"
    sc_check "$dst's map has no element for the client before the migration" [ -z "$(lb_elem "$dst")" ]
    lb_client echo --interval-ms 20 --stall-timeout-s 5
    sleep 2
    sc_check "the client's open connection to $LB_VIP is mapped to the guest on $src (mapped $(fw_obj "$src" inet "$LB_TABLE" counter mapped packets), established $(fw_counter "$src" established))" \
        [ "$(fw_obj "$src" inet "$LB_TABLE" counter mapped packets)" -ge 1 -a "$(fw_counter "$src" established)" -gt 10 ]
    sc_drops_mark "$dst"
    read -r r_src at_src <<< "$(fw_elem_expires_ms "$src" inet "$LB_TABLE" sticky "$LB_CLIENT")"
    t0=$(now_ms)
    sc_check "live migration $src->$dst succeeds" sc_migrate "$src" "$dst"
    read -r r_dst at_dst <<< "$(fw_elem_expires_ms "$dst" inet "$LB_TABLE" sticky "$LB_CLIENT")"
    sc_note "the sticky element: $r_src ms left at $at_src on $src, $r_dst ms at $at_dst on $dst ($(lb_elem "$dst"))"
    want=none; dev=none
    if [ -n "$r_src" ] && [ -n "$r_dst" ]; then
        want=$(( r_src - (at_dst - at_src) )); dev=$(( r_dst - want ))
        timing "16-sticky element remaining timeout, destination - expected (ms)" "$dev"
    fi
    sc_check "$dst's map sends the client to the guest: '$(lb_elem "$dst")'" lb_maps_to_guest "$dst"
    sc_check "the element kept the source's remaining timeout: ${r_dst:-no element,} ms left on $dst, ${r_src:-none} ms on $src less the $(( ${at_dst:-0} - ${at_src:-0} )) ms between the readings is $want ms (off by $dev ms, <= $LB_TOLERANCE_MS)" \
        sc_within "${r_src:-}" "${r_dst:-}" "$want" "$LB_TOLERANCE_MS"
    sc_report LB "$dst" "$t0" 1
    sc_check "$dst's report counts the carried element ($(grep '^nft-set' "$ART/report-LB.txt" | head -n 1))" \
        grep -Eq '^nft-set: (.*, )?[1-9][0-9]* installed, 0 failed' "$ART/report-LB.txt"
    sc_check_no_drops "$dst"
    c0=$(lb_conns "$dst")
    lb_fresh next; rc=$?
    c1=$(lb_conns "$dst")
    sc_check "the client's next connection to $LB_VIP passes on $dst (exit $rc: $(cat "$ART/client-next.result"))" \
        [ "$rc" = 0 ]
    sc_check "$dst DNATed it to the guest: its conntrack entry is answered by $NCH_GUEST_IP (new entries, port and answerer: $(awk 'NR == FNR { s[$1] = 1; next } !($1 in s)' <(echo "$c0") <(echo "$c1") | tr '\n' ' '))" \
        lb_new_conns_dnated "$c0" "$c1"
    sc_check_echo_intact echo
}

scenario_run() {
    local h
    sc_need_netcarry
    lb_fabric_on
    for h in $NCH_HOSTS; do lb_forwarding "$h" 1 || die "host $h: cannot enable IPv4 forwarding"; done
    without_netcarry
    with_netcarry
    lb_fabric_off
    for h in $NCH_HOSTS; do fw_table_off "$h" inet "$LB_TABLE"; lb_forwarding_restore "$h"; done
}
