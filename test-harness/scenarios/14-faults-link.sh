# test-harness/scenarios/14-faults-link.sh - the fault matrix, the rest (issue 10): the daemons'
# link cut (only netcarry's peer port, in the fabric's bridge; the migration stream flows) during
# pre-copy and right before the stop; `virsh domjobabort` as late as libvirt accepts it; and the
# destination's kernel refusing one of the guest's entries mid-carry. admission = refuse.
#   K link cut during pre-copy            M domjobabort just after the migration sped up
#   L link cut right before the stop      N1 an entry the destination's kernel refuses (exists)
#                                         N2 an entry the destination's ownership check refuses
SCENARIO_DESC="the daemons' link cut during pre-copy or at the stop, a late domjobabort, an entry the destination refuses: the migration fails with the guest intact on the source, or completes with what was carried, never a guest cut off"

NCH_MAX_STALL_MS=${NCH_MAX_STALL_MS:-1000}
FAST_MIBS=10000

mig_out() { tr '\n' ' ' < "$ART/migrate-$1$2.out"; }
mig_running() { pid_alive "$(pid_of migrate-bg)"; }
# pre-copy has begun on DST, or the migration already ended
precopy_or_ended() { sc_precopy_under_way "$1" || ! mig_running; }

case_k() {
    local rc src dst t0 ms
    sc_case K "the daemons' link cut during pre-copy"
    sc_case_ready
    src=$SC_SRC; dst=$SC_DST
    sc_migrate_slow "$src" "$dst"
    fabric_cut "$NCH_NC_PORT"; t0=$(now_ms)
    # still slow: the destination must notice the silence within peer-idle-ms by itself
    sc_migrate_wait $(( NCH_NC_IDLE_MS / 1000 + 20 )); rc=$?
    ms=$(( $(now_ms) - t0 ))
    sc_check "the cut dropped the peer link's segments ($(fabric_cut_dropped))" [ "$(fabric_cut_dropped)" -gt 0 ]
    fabric_mend
    sc_check "virsh migrate fails $ms ms after the cut (<= $NCH_NC_IDLE_MS + 5000; exit $rc: $(mig_out "$src" "$dst"))" \
        [ "$rc" != 0 -a "$ms" -le $(( NCH_NC_IDLE_MS + 5000 )) ]
    # the destination's idle bound failed it, not the migration stream (which the cut spares)
    sc_check_logged "$dst" netcarryd.log "nothing within $NCH_NC_IDLE_MS ms.*failing the incoming" \
        "$dst noticed the silence within peer-idle-ms and failed the incoming migration"
    sc_check_stayed "$src" "$dst"
    sc_case_end
}

case_l() {
    local rc src dst t0 tcut ms
    sc_case L "the daemons' link cut right before the stop"
    sc_case_ready 20
    src=$SC_SRC; dst=$SC_DST
    t0=$(now_ms)
    sc_migrate_slow "$src" "$dst"
    fabric_cut "$NCH_NC_PORT"; tcut=$(now_ms)
    sc_migrate_speed "$src" "$FAST_MIBS"
    sc_migrate_wait 60; rc=$?
    ms=$(( $(now_ms) - tcut ))
    sc_check "the cut dropped the peer link's segments ($(fabric_cut_dropped))" [ "$(fabric_cut_dropped)" -gt 0 ]
    fabric_mend
    if [ "$rc" = 0 ] || [ "$ms" -lt "$NCH_NC_IDLE_MS" ]; then
        sc_check "the migration completes, $ms ms after the cut (exit $rc: $(mig_out "$src" "$dst"))" [ "$rc" = 0 ]
        sc_check_unsealed "$dst" "$t0"
        sc_check_leftovers "$src" none none 10
    else    # a slow bed: the copy took longer than peer-idle-ms after the cut, so case K's outcome
        sc_note "the migration was not done $NCH_NC_IDLE_MS ms after the cut: the destination's idle bound came first"
        sc_check "the migration failed, $ms ms after the cut, after peer-idle-ms (exit $rc: $(mig_out "$src" "$dst"))" \
            [ "$rc" != 0 -a "$ms" -le $(( NCH_NC_IDLE_MS + 5000 )) ]
        sc_check_stayed "$src" "$dst"
    fi
    sc_case_end
}

case_m() {
    local rc arc src dst t0
    sc_case M "virsh domjobabort as late as libvirt accepts it (just after the migration sped up)"
    sc_case_ready
    src=$SC_SRC; dst=$SC_DST
    sc_migrate_slow "$src" "$dst"
    t0=$(now_ms)
    sc_migrate_speed "$src" "$FAST_MIBS"
    vsh "$src" domjobabort "$NCH_GUEST" > "$ART/$SC_CASE-abort.out" 2>&1; arc=$?
    sc_note "domjobabort exit $arc: $(tr '\n' ' ' < "$ART/$SC_CASE-abort.out")"
    sc_migrate_wait 60; rc=$?
    if [ "$rc" != 0 ]; then     # cancelled: as 07-cancel
        sc_check "the abort (exit $arc) cancelled the migration (virsh exit $rc: $(mig_out "$src" "$dst"))" [ "$rc" != 0 ]
        sc_check_guest_on "$src"
        sc_check_leftovers "$dst" none none 15
        sc_check_leftovers "$src" any none
    else                        # too late: completed, as 03-carry
        sc_check "the abort (exit $arc) came too late: the migration completed (virsh exit $rc)" [ "$rc" = 0 ]
        sc_check_guest_on "$dst"
        sc_report "$SC_CASE" "$dst" "$t0" 1
        sc_check_leftovers "$src" none none 10
        sc_check_leftovers "$dst" any none
    fi
    sc_check_echo_intact "$SC_CASE"
    sc_case_end
}

case_n() {
    local rc src dst sport t0
    sc_case N1 "the destination's kernel refuses one of the guest's entries: a stale entry of the same flow is there (File exists)"
    sc_case_ready
    src=$SC_SRC; dst=$SC_DST
    sc_client "$SC_CASE-udp" udp-echo 7 --interval-ms 100 --stall-timeout-s 5
    sleep 1
    sport=$(host_exec "$src" conntrack -L -p udp -d "$NCH_GUEST_IP" 2>/dev/null |
        sed -n 's/.* sport=\([0-9]*\) dport=7 .*/\1/p' | head -n 1)
    sc_check "$src holds the guest's UDP flow (client port ${sport:-none})" [ -n "$sport" ]
    # A stale entry of that flow on the destination, as a netcarryd that died after pre-copy
    # leaves one (case C of 12-faults-daemons): its kernel refuses to create the carried entry
    # (EEXIST), a real refusal of one of the guest's entries, but one that passes the flow's
    # traffic. (A conntrack label the destination's rules do not use is no refusal: its kernel
    # installed such an entry. Its table's size is the machine's, so "table full" cannot be
    # made inside a harness host.)
    host_exec "$dst" conntrack -I -p udp -s "$NCH_NET.1" -d "$NCH_GUEST_IP" --sport "$sport" \
        --dport 7 -t 120 >/dev/null 2>&1 || die "cannot put a stale entry on $dst"
    t0=$(now_ms)
    sc_migrate_bg "$src" "$dst" --bandwidth 1
    wait_until 30 "pre-copy on $dst or the migration's end" precopy_or_ended "$dst"
    sleep 2
    mig_running && sc_migrate_speed "$src" "$FAST_MIBS"
    sc_migrate_wait 60; rc=$?
    sc_check_logged "$dst" netcarryd.log 'refused by the kernel' "$dst's kernel refused the carried entry"
    # an entry the destination has already passes its flow's traffic: the carry goes on, the
    # migration completes, and the report counts the refused entry as failed
    sc_check "the migration completes (exit $rc: $(mig_out "$src" "$dst"))" [ "$rc" = 0 ]
    sc_check_guest_on "$dst"
    sc_report "$SC_CASE" "$dst" "$t0" 1 --failed-entries 1
    sc_check_leftovers "$src" none none 10
    sc_check_echo_intact "$SC_CASE"
    sc_check_echo_intact "$SC_CASE-udp"
    host_exec "$(guest_where)" conntrack -D -p udp -d "$NCH_GUEST_IP" >/dev/null 2>&1
    sc_case_end
}

# the guest's live profile on HOST, with ADDRESSES (its rendezvous kept as it is)
set_profile_addresses() {
    local h=$1 a x; shift
    x="<profile xmlns='$NCH_PROFILE_NS'>"
    for a in "$@"; do x="$x<address>$a</address>"; done
    x="$x$(nc_rendezvous "$h" | sed 's/^<[a-z:]*rendezvous/<rendezvous/')</profile>"
    vsh "$h" metadata "$NCH_GUEST" --live --uri "$NCH_PROFILE_NS" --key netcarry --set "$x" >/dev/null
}

case_n2() {
    local rc src dst extra=$NCH_NET.53 x
    sc_case N2 "the destination's ownership check refuses an entry mid-carry: the source counts an address the destination's XML does not"
    sc_case_ready
    src=$SC_SRC; dst=$SC_DST
    # The operator gives the guest a second address on the source, and migrates with a
    # destination XML (virsh migrate --xml) whose profile does not have it. An entry of that
    # address made during pre-copy is the source's to send and foreign to the destination.
    set_profile_addresses "$src" "$NCH_GUEST_IP" "$extra" || die "cannot add $extra to the profile on $src"
    nc_stop "$src"; sc_check_takes_up "$src"
    x=$ART/$SC_CASE-dst.xml
    vsh "$src" dumpxml --migratable "$NCH_GUEST" | sed "\|<[a-z:]*address>$extra</[a-z:]*address>|d" > "$x"
    sc_check "the destination's XML counts $NCH_GUEST_IP only ($(grep -c 'address>' "$x") address element)" \
        eval '! grep -q "$extra" "$x" && grep -q "address>$NCH_GUEST_IP<" "$x"'
    sc_migrate_bg "$src" "$dst" --bandwidth 1 --xml "$x"
    wait_until 30 "pre-copy with state on $dst" sc_precopy_under_way "$dst"
    host_exec "$src" conntrack -I -p udp -s "$extra" -d "$NCH_NET.1" --sport 5353 --dport 5353 \
        -t 60 >/dev/null 2>&1 || die "cannot inject an entry of $extra on $src"
    sc_migrate_wait 30; rc=$?
    sc_check_logged "$dst" netcarryd.log "refusing entry .*$extra" "$dst refused the entry of $extra"
    sc_check "virsh migrate fails (exit $rc: $(mig_out "$src" "$dst"))" [ "$rc" != 0 ]
    sc_check_stayed "$src" "$dst"
    # back to the one address the guest has
    host_exec "$src" conntrack -D -s "$extra" >/dev/null 2>&1
    set_profile_addresses "$src" "$NCH_GUEST_IP" || die "cannot restore the profile on $src"
    nc_stop "$src"; nc_start "$src" || die "netcarryd did not restart on $src"
    sc_case_end
}

scenario_run() {
    local h
    sc_need_netcarry
    for h in $NCH_HOSTS; do fw_on "$h"; nc_up "$h" --policy refuse || die "netcarryd did not start on $h"; done
    case_k; case_l; case_m; case_n; case_n2
    fabric_mend
    for h in $NCH_HOSTS; do nc_start "$h" || die "netcarryd did not restart on $h"; done
}
