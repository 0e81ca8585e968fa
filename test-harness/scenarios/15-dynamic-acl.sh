# test-harness/scenarios/15-dynamic-acl.sh - issue 11's dynamic ACL: beside the VM firewall, both
# hosts drop the guest's traffic unless its address is in an nft set of authorised addresses
# (`set authed { type ipv4_addr; flags timeout; }`), which a portal fills from userspace when the
# VM authenticates, with a timeout. The guest is authorised on its source only.
#  1. without netcarry (stopped, hook removed, as in 02): after `virsh migrate --live` the guest
#     is cut off on the destination: its UDP flow (which the destination's firewall admits anew)
#     stops, a new TCP connection is refused (the ACL's drop counter grows; authorising it there
#     by hand lets the next one through);
#  2. with netcarry: its connection survives, new connections pass, the ACL drops nothing of it
#     on the destination, and the element there has the source's remaining timeout (within 2 s);
#  3. with netcarry, the portal authorising the guest while the migration's pre-copy runs (slowed
#     to 1 MiB/s), into a set its profile names (`<netcarry:object type="set" .../>`): at the
#     stop the source looks in the sets its profile names (else only in those that held the
#     guest's elements at the first capture: README, "Sets, maps, counters and quotas"), so the
#     element made after the first capture arrives, with its remaining timeout, and a connection
#     opened during the pre-copy survives.
# The element is added as one authorised three minutes ago (`timeout 10m expires 7m`), so that a
# fresh element (10 min left) or one with no timeout cannot pass for a carried one. Its remaining
# time is read on the source right before the migration and on the destination after it; the
# source's element is never refreshed (no packet-path `update`), so its remaining time at the
# stop is the first reading less the time since, and a carried element counts down from that:
# the destination's must equal the first reading less the time between the two readings. What
# it may differ by is the time from the source's capture at its stop to the destination's
# install (the element travels with its remaining time), a few ms; the check allows 2 s.
SCENARIO_DESC="dynamic ACL (nft set of authorised addresses, with timeouts), authorised on the source only: without netcarry the guest is cut off on the destination; with netcarry its connection and new ones pass there, remaining timeout within 2 s; also when authorised during the pre-copy into a set its profile names"

NCH_MAX_STALL_MS=${NCH_MAX_STALL_MS:-1000}
ACL_TABLE=nch_acl
ACL_TIMEOUT=10m
ACL_EXPIRES=7m
ACL_TOLERANCE_MS=2000

acl_rules() {
    cat <<EOT
table inet $ACL_TABLE {
    set authed { type ipv4_addr; flags timeout; }
    counter denied { }
    chain forward {
        type filter hook forward priority filter - 10; policy accept;
        ip saddr $NCH_GUEST_IP ip saddr != @authed counter name "denied" drop
        ip daddr $NCH_GUEST_IP ip daddr != @authed counter name "denied" drop
    }
}
EOT
}

acl_load() { acl_rules | fw_table_load "$1" inet "$ACL_TABLE"; }
acl_authorise() {
    fw_nft "$1" add element inet "$ACL_TABLE" authed \
        "{ $NCH_GUEST_IP timeout $ACL_TIMEOUT expires $ACL_EXPIRES }" ||
        die "host $1: cannot authorise $NCH_GUEST_IP"
    sc_note "host $1: authorised $NCH_GUEST_IP: $(fw_elem "$1" inet "$ACL_TABLE" authed "$NCH_GUEST_IP")"
}
acl_denied() { fw_obj "$1" inet "$ACL_TABLE" counter denied packets; }
acl_elem() { fw_elem "$1" inet "$ACL_TABLE" authed "$NCH_GUEST_IP"; }

gt() { [ "$1" -gt "$2" ]; }

without_netcarry() {
    local h src dst rc d0 d1
    for h in $NCH_HOSTS; do nc_down "$h" --purge; fw_on "$h"; acl_load "$h"; done
    src=$(guest_where) || die "the guest is not running anywhere"
    dst=$(sc_other_host "$src")
    acl_authorise "$src"
    # A UDP flow: nch_vmfw admits it anew on the destination (no conntrack state needed), so its
    # loss there is the ACL's doing alone; and a broken UDP flow leaves nothing behind in the
    # guest (a broken TCP one would have it retransmit for minutes into later checks' drops).
    sc_client echo udp-echo 7 --interval-ms 20 --stall-timeout-s 5
    sleep 2
    sc_check "without netcarry: the ACL on $src lets the authorised guest through (established $(fw_counter "$src" established), denied $(acl_denied "$src"))" \
        [ "$(fw_counter "$src" established)" -gt 10 -a "$(acl_denied "$src")" = 0 ]
    d0=$(acl_denied "$dst")
    sc_check "without netcarry: live migration $src->$dst succeeds" sc_migrate "$src" "$dst"
    sc_client_wait echo 30; rc=$?
    sc_check "without netcarry: the guest's UDP flow, which $dst's firewall would admit anew, stops there (client exit $rc: $(cat "$ART/client-echo.result"))" \
        sc_client_broke "$rc" echo
    sc_fresh nonc-new; rc=$?
    d1=$(acl_denied "$dst")
    sc_check "without netcarry: the guest is cut off on $dst: a new connection fails (exit $rc)" [ "$rc" != 0 ]
    sc_check "without netcarry: $dst's ACL has no element for the guest ('$(acl_elem "$dst")') and dropped its packets (denied $d0 -> $d1)" \
        [ -z "$(acl_elem "$dst")" -a "$d1" -gt "$d0" ]
    sc_fw_snapshot nonc-cut-off
    # what cut it off is the missing element alone: authorised there by hand, it answers
    acl_authorise "$dst"
    sc_fresh nonc-authorised; rc=$?
    sc_check "without netcarry: once authorised by hand on $dst, a new connection passes (exit $rc)" [ "$rc" = 0 ]
}

with_netcarry() {
    local h src dst t0 rc d0 r_src at_src r_dst at_dst want dev
    for h in $NCH_HOSTS; do acl_load "$h"; nc_up "$h" || die "netcarryd did not start on $h"; done
    src=$(guest_where) || die "the guest is not running anywhere"
    dst=$(sc_other_host "$src")
    nc_wait_rendezvous "$src" || die "netcarryd on $src never published the guest's rendezvous"
    nc_guest_ct_flush "$dst"
    acl_authorise "$src"
    sc_client echo tcp-echo 7 --interval-ms 20 --stall-timeout-s 5
    sleep 2
    sc_check "the ACL on $src lets the authorised guest through (established $(fw_counter "$src" established), denied $(acl_denied "$src"))" \
        [ "$(fw_counter "$src" established)" -gt 10 -a "$(acl_denied "$src")" = 0 ]
    sc_check "$dst's ACL has no element for the guest before the migration" [ -z "$(acl_elem "$dst")" ]
    sc_drops_mark "$dst"
    d0=$(acl_denied "$dst")
    read -r r_src at_src <<< "$(fw_elem_expires_ms "$src" inet "$ACL_TABLE" authed "$NCH_GUEST_IP")"
    sc_note "the source's element: ${r_src:-none} ms left at $at_src"
    t0=$(now_ms)
    sc_check "live migration $src->$dst succeeds" sc_migrate "$src" "$dst"
    read -r r_dst at_dst <<< "$(fw_elem_expires_ms "$dst" inet "$ACL_TABLE" authed "$NCH_GUEST_IP")"
    sc_note "the destination's element: ${r_dst:-none} ms left at $at_dst ($(acl_elem "$dst"))"
    want=none; dev=none
    if [ -n "$r_src" ] && [ -n "$r_dst" ]; then
        want=$(( r_src - (at_dst - at_src) )); dev=$(( r_dst - want ))
        timing "15-dynamic-acl element remaining timeout, destination - expected (ms)" "$dev"
    fi
    sc_check "$dst holds the guest's element with the source's remaining timeout: ${r_dst:-no element,} ms left, the source's $r_src ms less the $(( ${at_dst:-0} - ${at_src:-0} )) ms between the readings is $want ms (off by $dev ms, <= $ACL_TOLERANCE_MS)" \
        sc_within "${r_src:-}" "${r_dst:-}" "$want" "$ACL_TOLERANCE_MS"
    sc_report ACL "$dst" "$t0" 1
    sc_check "$dst's report counts the carried element ($(grep '^nft-set' "$ART/report-ACL.txt" | head -n 1))" \
        grep -Eq '^nft-set: (.*, )?[1-9][0-9]* installed, 0 failed' "$ART/report-ACL.txt"
    sc_check_no_drops "$dst"
    sc_check "$dst's ACL dropped nothing of the guest's (denied $d0 -> $(acl_denied "$dst"))" \
        [ "$(acl_denied "$dst")" = "$d0" ]
    sc_fresh new; rc=$?
    sc_check "a new connection to the guest passes on $dst (exit $rc: $(cat "$ART/client-new.result"))" [ "$rc" = 0 ]
    sc_check_echo_intact echo
    sc_check "the new connection and the carried one passed $dst's ACL (denied $(acl_denied "$dst"))" \
        [ "$(acl_denied "$dst")" = "$d0" ]
}

# the guest waits paused on DST and the migration's transfer from SRC has begun
precopy_running() { [ "$(vsh "$2" domstate "$NCH_GUEST" 2>/dev/null)" = paused ] && sc_migration_moving "$1"; }

# pre_passes SRC DST E0 E1 - the pre-copy still runs and SRC's firewall passed > 10 packets
pre_passes() { precopy_running "$1" "$2" && [ "$4" -gt $(( $3 + 10 )) ]; }

authorised_in_precopy() {
    local h src dst t0 rc r_src at_src r_dst at_dst want dev e0 e1
    src=$(guest_where) || die "the guest is not running anywhere"
    dst=$(sc_other_host "$src")
    # nch_vmfw is not reloaded: its static element of the guest ('guests') must have stayed on
    # part 2's source (18-static-elements), as the profile below confines the carry to 'authed'
    for h in $NCH_HOSTS; do acl_load "$h"; done
    nc_set_profile "$src" "<object family='inet' table='$ACL_TABLE' type='set' name='authed'/>" ||
        die "cannot name the ACL's set in the guest's profile on $src"
    nc_guest_ct_flush "$dst"
    sc_fresh pre-unauthorised; rc=$?
    sc_check "[pre-copy] not authorised yet, the guest is cut off on $src (exit $rc, denied $(acl_denied "$src"))" \
        [ "$rc" != 0 ]
    sc_drops_mark "$dst"
    t0=$(now_ms)
    sc_migrate_bg "$src" "$dst" --bandwidth 1
    wait_until 30 "the migration's pre-copy" precopy_running "$src" "$dst"
    sc_check "[pre-copy] the migration's pre-copy runs (the guest waits paused on $dst)" precopy_running "$src" "$dst"
    acl_authorise "$src"
    read -r r_src at_src <<< "$(fw_elem_expires_ms "$src" inet "$ACL_TABLE" authed "$NCH_GUEST_IP")"
    e0=$(fw_counter "$src" established)
    sc_client pre-echo tcp-echo 7 --interval-ms 20 --stall-timeout-s 5
    sleep 2
    e1=$(fw_counter "$src" established)
    sc_check "[pre-copy] authorised during the pre-copy, which still runs, the guest's new connection passes on $src (established $e0 -> $e1)" \
        pre_passes "$src" "$dst" "$e0" "$e1"
    sc_migrate_speed "$src" 10000
    sc_migrate_wait 60; rc=$?
    sc_check "[pre-copy] the migration $src->$dst completes (exit $rc)" [ "$rc" = 0 ]
    read -r r_dst at_dst <<< "$(fw_elem_expires_ms "$dst" inet "$ACL_TABLE" authed "$NCH_GUEST_IP")"
    want=none; dev=none
    if [ -n "$r_src" ] && [ -n "$r_dst" ]; then
        want=$(( r_src - (at_dst - at_src) )); dev=$(( r_dst - want ))
        timing "15-dynamic-acl pre-copy element remaining timeout, destination - expected (ms)" "$dev"
    fi
    sc_check "[pre-copy] $dst holds the element made during the pre-copy with its remaining timeout: ${r_dst:-no element,} ms left, the source's ${r_src:-none} ms less the $(( ${at_dst:-0} - ${at_src:-0} )) ms between the readings is $want ms (off by $dev ms, <= $ACL_TOLERANCE_MS)" \
        sc_within "${r_src:-}" "${r_dst:-}" "$want" "$ACL_TOLERANCE_MS"
    sc_report PRE "$dst" "$t0" 1
    sc_check "[pre-copy] $dst's report counts it ($(grep '^nft-set' "$ART/report-PRE.txt" | head -n 1))" \
        grep -Eq '^nft-set: (.*, )?[1-9][0-9]* installed, 0 failed' "$ART/report-PRE.txt"
    sc_check_no_drops "$dst"
    sc_fresh pre-new; rc=$?
    sc_check "[pre-copy] a new connection to the guest passes on $dst (exit $rc, denied $(acl_denied "$dst"))" [ "$rc" = 0 ]
    sc_check_echo_intact pre-echo
    nc_set_profile "$dst" || die "cannot restore the guest's profile on $dst"
}

scenario_run() {
    local h
    sc_need_netcarry
    without_netcarry
    with_netcarry
    authorised_in_precopy
    for h in $NCH_HOSTS; do fw_table_off "$h" inet "$ACL_TABLE"; done
}
