# test-harness/scenarios/20-multicast.sh - issue 12's IGMP snooping: the guest is a member of a
# multicast group ($NCH_GUEST_MCAST, from boot: guest-init) that reports it only when it starts and
# when a query asks, as issue 12's guest does (nc-traffic serve --member: the guest's own kernel
# would also report right after each migration, docs/test-bed.md "Multicast"), and answers,
# unicast, every datagram sent there; a sender in the fabric streams to the group (nc-traffic udp-echo to
# the group: what comes back is what reached the guest). Both hosts' bridges snoop, each is the
# querier of its own segment with a long query interval ($MC_QUERY_S s), and the guest's port
# takes no flooded multicast (mcast_flood off, on every host by a qemu.d drop-in: lib/mcast.sh
# says why each piece is there), so only an mdb entry on the guest's port delivers the group.
# Before anything is measured, the bed is checked to be so: snooping and a querier on both
# bridges, mcast_flood off on the guest's port, and, on the source, the group stops when the
# guest's entry is deleted and comes back when the entry is added again by hand, as netcarry adds
# it: a bridge that floods the group (a bed gone wrong) cannot pass for a carried membership.
#  1. without netcarry (stopped, hook removed, as in 02): after `virsh migrate --live` the guest
#     receives nothing for $MC_SILENT_S s on the destination, whose bridge has no entry of it (the
#     guest, alive, answers unicast), until the destination's next query (here made at once by
#     restarting its querier instead of waiting up to $MC_QUERY_S s): then it receives again;
#  2. with netcarry: the destination holds the guest's entry on its own tap (installed by netcarry,
#     not learned: protocol static) and the group keeps reaching the guest, stall <= the bound the
#     other scenarios use; the destination's report counts the carried entry.
# The firewall is off for this scenario (nch_vmfw admits no multicast to the guest: it is about
# the bridges alone), and on again at its end.
SCENARIO_DESC="multicast group through snooping bridges, mcast_flood off on the guest's port: without netcarry the guest receives nothing on the destination until its next query; with netcarry its mdb entry is carried and it keeps receiving within the stall bound"

NCH_MAX_STALL_MS=${NCH_MAX_STALL_MS:-1000}
MC_QUERY_S=600    # the bridges' query interval: the next query after a migration is that far
MC_SILENT_S=20    # how long the half without netcarry shows that nothing reaches the guest

# mc_client TAG STALL_S - the fabric's stream to the guest's group, a datagram every 20 ms
mc_client() {
    SC_CLIENT_ADDR=$NCH_GUEST_MCAST sc_client "$1" udp-echo "$NCH_GUEST_MCAST_PORT" --iface fab0 \
        --interval-ms 20 --stall-timeout-s "$2"
}
# mc_gap TAG - the client's gap line (nc-traffic: "gap ms=N resumed_at_ms=WALL"), the last one
mc_gap() { grep '^gap ' "$ART/client-$1.out" | tail -n 1; }
mc_resumed() { [ -n "$(mc_gap "$1")" ]; }
mc_no_entry() { [ -z "$(mc_mdb "$1" "$2")" ]; }
reaches_through() { [ -n "$1" ] && mc_reaches; }
fresh() {
    sc_client "$1" tcp-echo 7 --interval-ms 20 --duration-s 2 --stall-timeout-s 3
    sc_client_wait "$1" 20
}
# bed_check TAG HOST - the check, before a measurement, that HOST's bridge snoops with a querier
# and the guest's port there takes no flooded multicast
bed_check() {
    local tap state
    tap=$(mc_tap "$2"); state=$(mc_bed "$2" "$tap")
    sc_check "$1: on $2, br0 snoops with a querier and the guest's port takes no flooded multicast ($state)" \
        mc_bed_is "$state" "$tap"
}

mc_setup() {
    local h src t0
    mc_fabric_isolate
    t0=$(now_ms)
    for h in $NCH_HOSTS; do fw_off "$h"; mc_hook_install "$h"; mc_on "$h" "$MC_QUERY_S"; done
    src=$(guest_where) || die "the guest is not running anywhere"
    # the guest's tap on its host predates the drop-in
    mc_flood_off "$src" "$(mc_tap "$src")"
    wait_until 30 "the group to reach the guest through $src's mdb" mc_reaches
    timing "20-multicast queriers on -> the group reaches the guest (ms)" $(( $(now_ms) - t0 ))
}

mc_teardown() {
    local h
    mc_fabric_join
    for h in $NCH_HOSTS; do mc_hook_remove "$h"; mc_off "$h"; fw_on "$h"; done
}

# control SRC - only the guest's mdb entry delivers the group: deleted, nothing arrives; added
# again by hand on its port (what netcarry's install does), the group arrives again
control() {
    local src=$1 tap n0 n1 n2
    tap=$(mc_tap "$src")
    bed_check control "$src"
    n0=$(mc_probe)
    sc_check "control: the group reaches the guest on $src ($n0 of 50 answered) through its entry ($(mc_mdb "$src" "$tap"))" \
        [ "${n0:-0}" -gt 0 -a -n "$(mc_mdb "$src" "$tap")" ]
    ip netns exec "$(host_ns "$src")" bridge mdb del dev "$MC_BR" port "$tap" grp "$NCH_GUEST_MCAST"
    n1=$(mc_probe)
    sc_check "control: with the guest's entry deleted on $src, nothing reaches it ($n1 of 50 answered)" \
        [ "${n1:-1}" = 0 ]
    ip netns exec "$(host_ns "$src")" bridge mdb add dev "$MC_BR" port "$tap" grp "$NCH_GUEST_MCAST" temp
    n2=$(mc_probe)
    sc_check "control: with the entry added again by hand ($(mc_mdb "$src" "$tap")), the group reaches the guest ($n2 of 50 answered)" \
        [ "${n2:-0}" -gt 0 ]
}

without_netcarry() {
    local h src dst tap t_end t_q gap ms at rc left
    for h in $NCH_HOSTS; do nc_down "$h" --purge; done
    src=$(guest_where) || die "the guest is not running anywhere"
    dst=$(sc_other_host "$src")
    control "$src"
    mc_client nonc 120
    sleep 2
    sc_check "without netcarry: live migration $src->$dst succeeds" sc_migrate "$src" "$dst"
    t_end=$(now_ms)
    tap=$(mc_tap "$dst")
    bed_check "without netcarry" "$dst"
    fresh nonc-alive; rc=$?
    sc_check "without netcarry: the guest runs on $dst and answers unicast (a new connection, exit $rc)" [ "$rc" = 0 ]
    left=$(( MC_SILENT_S * 1000 - ($(now_ms) - t_end) ))
    [ "$left" -gt 0 ] && sleep "$(( left / 1000 )).$(printf '%03d' $(( left % 1000 )))"
    sc_check "without netcarry: for $(( ($(now_ms) - t_end) / 1000 )) s after the migration nothing of the group reached the guest on $dst ($(mc_gap nonc | sed 's/^$/no answer since the migration/'))" \
        [ -z "$(mc_gap nonc)" ]
    sc_check "without netcarry: $dst's bridge has no entry of the guest's group on its port $tap ($(mc_mdb "$dst" "$tap"))" \
        mc_no_entry "$dst" "$tap"
    # the next query, made now rather than in up to $MC_QUERY_S s
    t_q=$(now_ms)
    sc_note "$dst's querier starts again: its next query, now"
    mc_query_now "$dst" || die "host $dst: cannot restart the querier"
    wait_until 30 "the group to reach the guest again after $dst's query" mc_resumed nonc
    timing "20-multicast without netcarry: the destination's query -> the group again (ms)" \
        $(( $(now_ms) - t_q ))
    sc_client_stop nonc
    gap=$(mc_gap nonc)
    ms=$(echo "$gap" | sed -n 's/.*gap ms=\([0-9]*\).*/\1/p')
    at=$(echo "$gap" | sed -n 's/.*resumed_at_ms=\([0-9]*\).*/\1/p')
    timing "20-multicast without netcarry: silence on the destination (ms)" "${ms:-none}"
    sc_check "without netcarry: the guest receives again only after $dst's query: silent $ms ms (>= $MC_SILENT_S s), again $(( ${at:-0} - t_q )) ms after the query, its entry there now learned ($(mc_mdb "$dst" "$tap"))" \
        [ -n "$ms" -a "${ms:-0}" -ge $(( MC_SILENT_S * 1000 )) -a "${at:-0}" -ge "$t_q" ]
}

with_netcarry() {
    local h src dst tap t0 e_src
    for h in $NCH_HOSTS; do nc_up "$h" || die "netcarryd did not start on $h"; done
    src=$(guest_where) || die "the guest is not running anywhere"
    dst=$(sc_other_host "$src")
    nc_wait_rendezvous "$src" || die "netcarryd on $src never published the guest's rendezvous"
    bed_check "before the migration" "$src"
    e_src=$(mc_mdb "$src" "$(mc_tap "$src")")
    sc_check "the group reaches the guest on $src through its entry ($e_src)" \
        reaches_through "$e_src"
    mc_client mc 5
    sleep 2
    t0=$(now_ms)
    sc_check "live migration $src->$dst succeeds" sc_migrate "$src" "$dst"
    tap=$(mc_tap "$dst")
    bed_check "after the migration" "$dst"
    sc_check "$dst holds the guest's entry on its own port $tap, installed, not learned ($(mc_mdb "$dst" "$tap"))" \
        [ "$(mc_mdb "$dst" "$tap")" = temp/static ]
    sc_report MC "$dst" "$t0" 0
    sc_check "$dst's report counts the carried entry ($(grep '^mdb' "$ART/report-MC.txt" | head -n 1))" \
        grep -Eq '^mdb: (.*, )?[1-9][0-9]* installed, 0 failed' "$ART/report-MC.txt"
    sleep 2
    sc_check_echo_intact mc
    timing "20-multicast with netcarry: longest silence of the group (ms)" "$(sc_result mc max_stall_ms)"
}

scenario_run() {
    sc_need_netcarry
    mc_setup
    without_netcarry
    with_netcarry
    mc_teardown
}
