# test-harness/scenarios/04-idle-1000.sh - 1,000 established, idle TCP connections through the
# stateful firewalls all survive a live migration with netcarry: nothing flows during the move, so
# each one lives only if its conntrack entry was carried. The client checks every connection
# (one echoed line each) before, and again on SIGUSR1 after the migration.
SCENARIO_DESC="firewalls on, netcarry on: 1,000 idle established connections all survive a migration"

NCH_IDLE_CONNS=${NCH_IDLE_CONNS:-1000}

scenario_run() {
    local h src dst t0 rc n
    sc_need_netcarry
    for h in $NCH_HOSTS; do fw_on "$h"; nc_up "$h" || die "netcarryd did not start on host $h"; done
    src=$(guest_where) || die "the guest is not running anywhere"
    dst=$(sc_other_host "$src")
    nc_wait_rendezvous "$src" || die "netcarryd on $src never published the guest's rendezvous"

    sc_client idle tcp-idle 7 --connections "$NCH_IDLE_CONNS" --ready-file "$ART/idle.ready" \
        --stall-timeout-s 15
    wait_until 90 "$NCH_IDLE_CONNS idle connections to be open and checked" [ -f "$ART/idle.ready" ]
    sc_check "$NCH_IDLE_CONNS connections open and echo once each before the migration" \
        [ -f "$ART/idle.ready" ]
    n=$(nc_guest_ct "$src" | grep -c 'dport=7 ')
    sc_check "$src's conntrack holds them ($n entries to the guest's port 7)" [ "$n" -ge "$NCH_IDLE_CONNS" ]
    t0=$(now_ms)
    sc_check "live migration $src->$dst succeeds" sc_migrate "$src" "$dst"
    sc_report idle "$dst" "$t0" "$NCH_IDLE_CONNS"
    n=$(nc_guest_ct "$dst" | grep -c 'dport=7 ')
    sc_check "$dst's conntrack holds them after the migration ($n entries)" [ "$n" -ge "$NCH_IDLE_CONNS" ]
    kill -USR1 "$(pid_of client-idle)" 2>/dev/null
    sc_client_wait idle 120; rc=$?
    sc_check "all $NCH_IDLE_CONNS connections survived: each echoes again, none reset ($(cat "$ART/client-idle.result"))" \
        [ "$rc" = 0 -a "$(sc_result idle ok)" = 1 -a "$(sc_result idle connections)" = "$NCH_IDLE_CONNS" -a "$(sc_result idle resets)" = 0 ]
    timing "idle-1000 check round after migration, longest (ms)" "$(sc_result idle max_stall_ms)"
}
