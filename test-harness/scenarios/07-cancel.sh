# test-harness/scenarios/07-cancel.sh - cancel: `virsh domjobabort` while pre-copy runs (slowed to
# 1 MiB/s so that it lasts many seconds). The destination had already installed pre-copied state
# and closed its gate; after the abort it keeps neither: no conntrack entry of the guest, no gate
# table. The source never changed and keeps working: the guest's connection stays intact.
SCENARIO_DESC="domjobabort during pre-copy: destination keeps no state and no gate; the source keeps working"

NCH_MAX_STALL_MS=${NCH_MAX_STALL_MS:-1000}

scenario_run() {
    local h src dst rc n
    sc_need_netcarry
    for h in $NCH_HOSTS; do fw_on "$h"; nc_up "$h" || die "netcarryd did not start on host $h"; done
    src=$(guest_where) || die "the guest is not running anywhere"
    dst=$(sc_other_host "$src")
    nc_wait_rendezvous "$src" || die "netcarryd on $src never published the guest's rendezvous"
    nc_guest_ct_flush "$dst"

    sc_client echo tcp-echo 7 --interval-ms 20 --stall-timeout-s 5
    sleep 1
    sc_migrate_slow "$src" "$dst"
    sleep 1
    sc_check "virsh domjobabort on $src is accepted" vsh "$src" domjobabort "$NCH_GUEST"
    sc_migrate_wait 60; rc=$?
    sc_check "the migration ends as cancelled (virsh exit $rc: $(tr '\n' ' ' < "$ART/migrate-$src$dst.out"))" [ "$rc" != 0 ]
    wait_until 15 "$dst to drop the guest's state and gate" nc_host_clean "$dst"
    n=$(nc_guest_ct "$dst" | wc -l)
    sc_check "$dst keeps no conntrack entry of the guest ($n left)" [ "$n" = 0 ]
    sc_check "$dst keeps no gate ($(nc_gates "$dst" | tr '\n' ' '))" [ -z "$(nc_gates "$dst")" ]
    sc_check "the guest still runs on $src" [ "$(vsh "$src" domstate "$NCH_GUEST" 2>/dev/null)" = running ]
    sc_check "the guest does not run on $dst (its definition may stay there)" [ -z "$(vsh "$dst" list --name 2>/dev/null | grep -x "$NCH_GUEST")" ]
    sleep 2
    sc_client_stop echo; rc=$?
    sc_check "the source keeps working: the connection is intact ($(cat "$ART/client-echo.result"))" \
        sc_client_intact echo "$rc" "$NCH_MAX_STALL_MS"
}
