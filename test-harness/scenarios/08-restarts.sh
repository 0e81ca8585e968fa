# test-harness/scenarios/08-restarts.sh - netcarryd survives the restarts an operator does: started
# while the guest runs, it takes the guest up (publishes its rendezvous again); when libvirtd
# restarts under it, it reconnects. After both, the next migration still carries the connection.
SCENARIO_DESC="netcarryd restarted (takes the running guest up) and libvirtd restarted (netcarryd reconnects): the next migration still carries"

NCH_MAX_STALL_MS=${NCH_MAX_STALL_MS:-1000}

scenario_run() {
    local h src dst t0
    sc_need_netcarry
    for h in $NCH_HOSTS; do fw_on "$h"; nc_up "$h" || die "netcarryd did not start on $h"; done
    src=$(guest_where) || die "the guest is not running anywhere"
    dst=$(sc_other_host "$src")
    nc_wait_rendezvous "$src" || die "netcarryd on $src never published the guest's rendezvous"

    # 1. netcarryd restarts while the guest runs. Its rendezvous is taken out of the live
    # metadata first (the operator's part of the profile, the address, stays), so only a daemon
    # that takes running domains up at start can put it back.
    nc_stop "$src"
    vsh "$src" metadata "$NCH_GUEST" --live --uri "$NCH_PROFILE_NS" --key netcarry \
        --set "<profile xmlns='$NCH_PROFILE_NS'><address>$NCH_GUEST_IP</address></profile>" >/dev/null ||
        die "cannot rewrite the guest's profile on $src"
    sc_check "with netcarryd stopped on $src, the guest's live profile has no rendezvous" \
        [ -z "$(nc_rendezvous "$src")" ]
    nc_start "$src" || die "netcarryd did not restart on $src"
    sc_check "netcarryd, started while the guest runs, publishes its rendezvous again" \
        nc_wait_rendezvous "$src"

    # 2. libvirtd restarts under netcarryd (QEMU keeps running). The harness's event monitors
    # lose it too and are started again so that the artifacts keep their events.
    monitors_stop "$src"
    pid_stop "libvirtd-$src"
    sc_check "netcarryd on $src notices that libvirtd went away" \
        wait_until 10 "netcarryd to log the closed connection" sc_nc_libvirt_closed "$src"
    host_start "$src"
    monitors_start "$src"
    sc_check "netcarryd on $src reconnects to the new libvirtd" \
        wait_until 40 "netcarryd to reconnect" sc_nc_libvirt_reconnected "$src"
    sc_check "the guest kept running through the libvirtd restart" \
        [ "$(vsh "$src" domstate "$NCH_GUEST" 2>/dev/null)" = running ]

    # 3. The next migration carries the connection as before.
    sc_client echo tcp-echo 7 --interval-ms 20 --stall-timeout-s 5
    sleep 1
    sc_drops_mark "$dst"
    t0=$(now_ms)
    sc_check "live migration $src->$dst succeeds after both restarts" sc_migrate "$src" "$dst"
    sc_report R "$dst" "$t0" 1
    sc_check_no_drops "$dst"
    sc_check_echo_intact
}
