# test-harness/scenarios/05-admission.sh - admission: netcarryd is stopped on the destination and
# the policy is 'refuse', so the destination's `migrate begin` hook refuses; `virsh migrate` fails
# with netcarry's one line, the guest keeps running on the source and its connection is intact.
SCENARIO_DESC="destination netcarryd stopped, policy refuse: virsh migrate fails with netcarry's line; the VM stays, connection intact"

NCH_MAX_STALL_MS=${NCH_MAX_STALL_MS:-1000}

sc05_stopped_hook_kept() {
    ! nc_running "$1" && [ -x "$(host_dir "$1")/etc/libvirt/hooks/qemu.d/netcarry" ]
}

scenario_run() {
    local h src dst rc out
    sc_need_netcarry
    for h in $NCH_HOSTS; do fw_on "$h"; nc_up "$h" --policy refuse || die "netcarryd did not start on $h"; done
    src=$(guest_where) || die "the guest is not running anywhere"
    dst=$(sc_other_host "$src")
    nc_wait_rendezvous "$src" || die "netcarryd on $src never published the guest's rendezvous"
    nc_stop "$dst"
    sc_check "netcarryd is stopped on $dst, its hook still installed" \
        sc05_stopped_hook_kept "$dst"

    sc_client echo tcp-echo 7 --interval-ms 20 --stall-timeout-s 5
    sleep 1
    sc_migrate "$src" "$dst"; rc=$?
    out=$(cat "$ART/migrate-$src$dst.out")
    sc_check "virsh migrate $src->$dst fails (exit $rc)" [ "$rc" != 0 ]
    sc_check "virsh shows netcarry's line: $(echo "$out" | grep -o 'netcarry: .*' | head -n 1)" \
        grep -q "netcarry: cannot carry the network state of $NCH_GUEST to host$dst: " "$ART/migrate-$src$dst.out"
    sc_check "the guest still runs on $src" [ "$(vsh "$src" domstate "$NCH_GUEST" 2>/dev/null)" = running ]
    sc_check "the guest does not run on $dst (its definition may stay there)" [ -z "$(vsh "$dst" list --name 2>/dev/null | grep -x "$NCH_GUEST")" ]
    sleep 2
    sc_client_stop echo; rc=$?
    sc_check "its connection is intact: every line back, in order, stall <= $NCH_MAX_STALL_MS ms ($(cat "$ART/client-echo.result"))" \
        sc_client_intact echo "$rc" "$NCH_MAX_STALL_MS"
    nc_start "$dst" || die "netcarryd did not restart on $dst"
}
