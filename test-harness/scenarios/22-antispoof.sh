# test-harness/scenarios/22-antispoof.sh - issue 12's anti-spoofing sets: on both hosts a
# bridge-family table on br0 drops every frame from a guest's tap (`iifname "vnet*"`) whose source
# MAC is not in `set macs` or whose `ip saddr . ether saddr` is not in `set binding`, as a DHCP
# snooper or an IP-learning filter fills them (the binding with a timeout, `timeout 1h expires
# 40m`; the MAC without one). The source has the guest's MAC and binding, and a binding of the
# guest's MAC to $AS_FOREIGN, an address that is not the guest's (its domain XML and profile do not
# give it).
#  1. without netcarry (stopped, hook removed, as in 02): after `virsh migrate --live` the guest
#     is cut off on the destination until it is bound there (by hand here; in life, at its next
#     DHCP renewal): its UDP flow stops, a new connection fails, the table's drop counter grows
#     (QEMU's announcements are dropped too: the fabric keeps sending the guest's frames to the
#     source until the guest sends a frame that passes);
#  2. with netcarry: its connection survives, new ones pass, the table drops nothing of it on the
#     destination; the destination has the guest's MAC and binding, the binding with the source's
#     remaining timeout (within 2 s), and not the binding of its MAC to $AS_FOREIGN, which the
#     report lists as not carried (a source cannot bind a VM's MAC to an address not its own).
SCENARIO_DESC="anti-spoofing sets (bridge table: guest's MAC, ip . mac binding with timeout) on the source only: without netcarry the guest is cut off on the destination; with netcarry it passes from its first packet, its binding with the remaining timeout, and its MAC's binding to a foreign address stays behind"

NCH_MAX_STALL_MS=${NCH_MAX_STALL_MS:-1000}
AS_TABLE=nch_as
AS_FOREIGN=$NCH_NET.99
AS_TOLERANCE_MS=2000

as_rules() {
    cat <<EOT
table bridge $AS_TABLE {
    set macs { type ether_addr; }
    set binding { type ipv4_addr . ether_addr; flags timeout; }
    counter spoofed { }
    chain check {
        type filter hook prerouting priority -200; policy accept;
        iifname "vnet*" ether saddr != @macs counter name "spoofed" drop
        iifname "vnet*" ip saddr . ether saddr != @binding counter name "spoofed" drop
    }
}
EOT
}

as_load() { as_rules | fw_table_load "$1" bridge "$AS_TABLE"; }
as_bind() {
    fw_nft "$1" add element bridge "$AS_TABLE" macs "{ $NCH_GUEST_MAC }" &&
        fw_nft "$1" add element bridge "$AS_TABLE" binding \
            "{ $NCH_GUEST_IP . $NCH_GUEST_MAC timeout 1h expires 40m }" ||
        die "host $1: cannot bind $NCH_GUEST_IP . $NCH_GUEST_MAC"
    sc_note "host $1: bound $NCH_GUEST_IP . $NCH_GUEST_MAC: $(as_elem "$1")"
}
as_bind_foreign() {
    fw_nft "$1" add element bridge "$AS_TABLE" binding \
        "{ $AS_FOREIGN . $NCH_GUEST_MAC timeout 1h }" ||
        die "host $1: cannot bind $AS_FOREIGN . $NCH_GUEST_MAC"
}
as_spoofed() { fw_obj "$1" bridge "$AS_TABLE" counter spoofed packets; }
as_elem() { fw_elem "$1" bridge "$AS_TABLE" binding "$NCH_GUEST_IP . $NCH_GUEST_MAC"; }
as_foreign_elem() { fw_elem "$1" bridge "$AS_TABLE" binding "$AS_FOREIGN . $NCH_GUEST_MAC"; }
as_mac() { fw_elem "$1" bridge "$AS_TABLE" macs "$NCH_GUEST_MAC"; }

# The table drops QEMU's announcements of the moved guest too (their source is its MAC), so
# without netcarry the fabric's and the hosts' bridges keep sending its frames to the source. A
# guest bound there at last (at its DHCP renewal) is found again by its next frame; this one
# sends none by itself: as_forget_guest drops the bridges' entries for its MAC instead, and the
# next frame to it is flooded.
as_fdb_forget() {
    "$@" bridge fdb show 2>/dev/null |
        awk -v m="$NCH_GUEST_MAC" '$1 == m && $2 == "dev" && $4 == "master" { print $3 }' |
        while read -r dev; do "$@" bridge fdb del "$NCH_GUEST_MAC" dev "$dev" master 2>/dev/null; done
}
as_forget_guest() {
    local h
    as_fdb_forget fabric_exec
    for h in $NCH_HOSTS; do as_fdb_forget ip netns exec "$(host_ns "$h")"; done
}


without_netcarry() {
    local h src dst rc s0 s1
    for h in $NCH_HOSTS; do nc_down "$h" --purge; fw_on "$h"; as_load "$h"; done
    src=$(guest_where) || die "the guest is not running anywhere"
    dst=$(sc_other_host "$src")
    as_bind "$src"
    sc_client echo udp-echo 7 --interval-ms 20 --stall-timeout-s 5
    sleep 2
    sc_check "without netcarry: the anti-spoofing table on $src lets the bound guest through (established $(fw_counter "$src" established), spoofed $(as_spoofed "$src"))" \
        [ "$(fw_counter "$src" established)" -gt 10 -a "$(as_spoofed "$src")" = 0 ]
    s0=$(as_spoofed "$dst")
    sc_check "without netcarry: live migration $src->$dst succeeds" sc_migrate "$src" "$dst"
    sc_client_wait echo 30; rc=$?
    sc_check "without netcarry: the guest's UDP flow stops on $dst (client exit $rc: $(cat "$ART/client-echo.result"))" \
        sc_client_broke "$rc" echo
    sc_fresh nonc-new; rc=$?
    s1=$(as_spoofed "$dst")
    sc_check "without netcarry: the guest is cut off on $dst: a new connection fails (exit $rc)" [ "$rc" != 0 ]
    sc_check "without netcarry: $dst has no binding for the guest ('$(as_elem "$dst")') and its table dropped the guest's frames (spoofed $s0 -> $s1)" \
        [ -z "$(as_elem "$dst")" -a "$s1" -gt "$s0" ]
    sc_fw_snapshot nonc-cut-off
    # what cut it off is the missing binding alone: bound there by hand (and found again), it
    # answers
    as_bind "$dst"
    as_forget_guest
    sc_fresh nonc-bound; rc=$?
    sc_check "without netcarry: once bound by hand on $dst, a new connection passes (exit $rc)" [ "$rc" = 0 ]
}

with_netcarry() {
    local h src dst t0 rc s0 r_src at_src r_dst at_dst want dev
    for h in $NCH_HOSTS; do as_load "$h"; nc_up "$h" || die "netcarryd did not start on $h"; done
    src=$(guest_where) || die "the guest is not running anywhere"
    dst=$(sc_other_host "$src")
    nc_wait_rendezvous "$src" || die "netcarryd on $src never published the guest's rendezvous"
    nc_guest_ct_flush "$dst"
    as_bind "$src"
    as_bind_foreign "$src"
    sc_client echo tcp-echo 7 --interval-ms 20 --stall-timeout-s 5
    sleep 2
    sc_check "the anti-spoofing table on $src lets the bound guest through (established $(fw_counter "$src" established), spoofed $(as_spoofed "$src"))" \
        [ "$(fw_counter "$src" established)" -gt 10 -a "$(as_spoofed "$src")" = 0 ]
    sc_check "$dst has neither the guest's MAC nor its binding before the migration" \
        [ -z "$(as_mac "$dst")" -a -z "$(as_elem "$dst")" ]
    sc_drops_mark "$dst"
    s0=$(as_spoofed "$dst")
    read -r r_src at_src <<< "$(fw_elem_expires_ms "$src" bridge "$AS_TABLE" binding "$NCH_GUEST_IP . $NCH_GUEST_MAC")"
    sc_note "the source's binding: ${r_src:-none} ms left at $at_src"
    t0=$(now_ms)
    sc_check "live migration $src->$dst succeeds" sc_migrate "$src" "$dst"
    read -r r_dst at_dst <<< "$(fw_elem_expires_ms "$dst" bridge "$AS_TABLE" binding "$NCH_GUEST_IP . $NCH_GUEST_MAC")"
    sc_note "the destination's binding: ${r_dst:-none} ms left at $at_dst ($(as_elem "$dst"))"
    want=none; dev=none
    if [ -n "$r_src" ] && [ -n "$r_dst" ]; then
        want=$(( r_src - (at_dst - at_src) )); dev=$(( r_dst - want ))
        timing "22-antispoof binding remaining timeout, destination - expected (ms)" "$dev"
    fi
    sc_check "$dst has the guest's MAC ('$(as_mac "$dst")')" [ -n "$(as_mac "$dst")" ]
    sc_check "$dst holds the guest's binding with the source's remaining timeout: ${r_dst:-no element,} ms left, the source's $r_src ms less the $(( ${at_dst:-0} - ${at_src:-0} )) ms between the readings is $want ms (off by $dev ms, <= $AS_TOLERANCE_MS)" \
        sc_within "${r_src:-}" "${r_dst:-}" "$want" "$AS_TOLERANCE_MS"
    sc_check "$dst does not have the binding of the guest's MAC to $AS_FOREIGN ('$(as_foreign_elem "$dst")')" \
        [ -z "$(as_foreign_elem "$dst")" ]
    sc_report AS "$dst" "$t0" 1
    sc_check "$dst's report counts the carried MAC and binding ($(grep '^nft-set' "$ART/report-AS.txt" | head -n 1))" \
        grep -Eq '^nft-set: (.*, )?([2-9]|[1-9][0-9]+) installed, 0 failed' "$ART/report-AS.txt"
    sc_check "$dst's report lists the binding to $AS_FOREIGN as not carried" \
        grep -q "^not carried: nft-set bridge/$AS_TABLE/binding element $AS_FOREIGN . $NCH_GUEST_MAC" "$ART/report-AS.txt"
    sc_check_no_drops "$dst"
    sc_check "$dst's anti-spoofing table dropped nothing of the guest's (spoofed $s0 -> $(as_spoofed "$dst"))" \
        [ "$(as_spoofed "$dst")" = "$s0" ]
    sc_fresh new; rc=$?
    sc_check "a new connection to the guest passes on $dst (exit $rc: $(cat "$ART/client-new.result"))" [ "$rc" = 0 ]
    sc_check_echo_intact echo
    sc_check "the new connection and the carried one passed $dst's anti-spoofing table (spoofed $(as_spoofed "$dst"))" \
        [ "$(as_spoofed "$dst")" = "$s0" ]
}

scenario_run() {
    local h
    sc_need_netcarry
    without_netcarry
    with_netcarry
    for h in $NCH_HOSTS; do fw_table_off "$h" bridge "$AS_TABLE"; done
}
