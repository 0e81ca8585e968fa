# test-harness/scenarios/14-faults-link.sh - the fault matrix, the rest (issue 10): the daemons'
# link cut (only netcarry's peer port, in the fabric's bridge; the migration stream flows) during
# pre-copy and right before the stop; `virsh domjobabort` as late as libvirt accepts it; and the
# destination's kernel refusing one of the guest's entries mid-carry. admission = refuse.
#   K link cut during pre-copy            M domjobabort just after the migration sped up
#   L link cut right before the stop      N an entry the destination's kernel refuses
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
    sc_check "the cut dropped the peer link's segments ($(fabric_cut_dropped)), the migration stream flowed" \
        [ "$(fabric_cut_dropped)" -gt 0 ]
    fabric_mend
    if [ "$(vsh "$src" domjobinfo "$NCH_GUEST" 2>/dev/null | awk '/Job type/ { print $3 }')" = Unbounded ]; then
        vsh "$src" domjobabort "$NCH_GUEST"      # back to a known state; the checks below fail
    fi
    sc_check "virsh migrate fails $ms ms after the cut (<= $NCH_NC_IDLE_MS + 5000; exit $rc: $(mig_out "$src" "$dst"))" \
        [ "$rc" != 0 -a "$ms" -le $(( NCH_NC_IDLE_MS + 5000 )) ]
    sc_check_guest_on "$src"
    sc_check_leftovers "$dst" none none 10
    sc_check_echo_intact "$SC_CASE"
    sc_case_end
}

case_l() {
    local rc src dst t0
    sc_case L "the daemons' link cut right before the stop"
    sc_case_ready 20
    src=$SC_SRC; dst=$SC_DST
    t0=$(now_ms)
    sc_migrate_slow "$src" "$dst"
    fabric_cut "$NCH_NC_PORT"
    sc_migrate_speed "$src" "$FAST_MIBS"
    sc_migrate_wait 60; rc=$?
    sc_check "the migration completes (exit $rc: $(mig_out "$src" "$dst"))" [ "$rc" = 0 ]
    sc_check_guest_on "$dst"
    # no seal: seal-ms after the resume the destination keeps what it pre-copied and opens
    sc_report "$SC_CASE" "$dst" "$t0" 1 --outcome failed --reason seal
    sc_check "the cut dropped the peer link's segments ($(fabric_cut_dropped))" [ "$(fabric_cut_dropped)" -gt 0 ]
    fabric_mend
    sc_check_leftovers "$dst" kept none 5
    sc_check_echo_intact "$SC_CASE" $(( NCH_NC_SEAL_MS + 2000 ))
    sc_check "$dst takes the guest up (its rendezvous)" nc_wait_rendezvous "$dst"
    sc_check_leftovers "$src" none none 10
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
    local rc src dst sport
    sc_case N "the destination's kernel refuses one of the guest's entries (a stale entry of the same flow is there)"
    sc_case_ready
    src=$SC_SRC; dst=$SC_DST
    sc_client "$SC_CASE-udp" udp-echo 7 --interval-ms 100 --stall-timeout-s 5
    sleep 1
    sport=$(host_exec "$src" conntrack -L -p udp -d "$NCH_GUEST_IP" 2>/dev/null |
        sed -n 's/.* sport=\([0-9]*\) dport=7 .*/\1/p' | head -n 1)
    sc_check "$src holds the guest's UDP flow (client port ${sport:-none})" [ -n "$sport" ]
    # A stale entry of that flow on the destination, as a netcarryd that died after pre-copy
    # leaves one (case C of 12-faults-daemons): its kernel refuses to create the carried entry
    # (EEXIST), a real refusal of one of the guest's entries.
    host_exec "$dst" conntrack -I -p udp -s "$NCH_NET.1" -d "$NCH_GUEST_IP" --sport "$sport" \
        --dport 7 -t 120 >/dev/null 2>&1 || die "cannot put a stale entry on $dst"
    sc_migrate_bg "$src" "$dst" --bandwidth 1
    wait_until 30 "pre-copy on $dst or the migration's end" precopy_or_ended "$dst"
    sleep 2
    mig_running && sc_migrate_speed "$src" "$FAST_MIBS"      # not failed: let it end (and fail the checks)
    sc_migrate_wait 60; rc=$?
    sc_check_logged "$dst" netcarryd.log 'refused by the kernel' "$dst's kernel refused the carried entry"
    sc_check "virsh migrate fails (exit $rc: $(mig_out "$src" "$dst"))" [ "$rc" != 0 ]
    sc_check_guest_on "$src"
    # the stale entry was the test's own: what is left besides is the carry's
    host_exec "$dst" conntrack -D -p udp -s "$NCH_NET.1" -d "$NCH_GUEST_IP" --sport "$sport" \
        --dport 7 >/dev/null 2>&1
    sc_check_leftovers "$dst" none none 10
    sc_check_echo_intact "$SC_CASE"
    sc_check_echo_intact "$SC_CASE-udp"
    sc_case_end
}

scenario_run() {
    local h
    sc_need_netcarry
    for h in $NCH_HOSTS; do fw_on "$h"; nc_up "$h" --policy refuse || die "netcarryd did not start on $h"; done
    case_k; case_l; case_m; case_n
    fabric_mend
    for h in $NCH_HOSTS; do nc_start "$h" || die "netcarryd did not restart on $h"; done
}
