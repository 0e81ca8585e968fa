# test-harness/scenarios/02-baseline-fw-breaks.sh - baseline 2: with the stateful VM firewall on
# every host and nothing carrying its state, a migrated connection breaks, and the destination's
# firewall shows why (its mid-stream packets are dropped). This asserts the breakage that
# netcarry exists to prevent; if it ever passes silently, the harness no longer shows anything.
SCENARIO_DESC="firewalls on, no state carried: the TCP connection breaks; destination drops it"

gt() { [ "$1" -gt "$2" ]; }
broke() { [ "$1" = 1 ] && [ "$(sc_result echo ok)" = 0 ]; }

scenario_run() {
    local h src dst est drops_before drops_after rc
    for h in $NCH_HOSTS; do nc_down "$h" --purge; done      # a baseline: no netcarry anywhere
    for h in $NCH_HOSTS; do fw_on "$h"; done
    src=$(guest_where) || die "the guest is not running anywhere"
    dst=$(sc_other_host "$src")

    sc_client echo tcp-echo 7 --interval-ms 20 --stall-timeout-s 5
    sleep 2
    est=$(fw_counter "$src" established)
    sc_check "the firewall on $src admits the connection and passes it as established ($est packets)" \
        gt "$est" 10
    drops_before=$(fw_counter "$dst" dropped_tcp)
    sc_fw_snapshot before-migration
    sc_check "live migration $src->$dst succeeds" sc_migrate "$src" "$dst"
    sc_client_wait echo 30; rc=$?
    drops_after=$(fw_counter "$dst" dropped_tcp)
    sc_fw_snapshot after-break
    sc_check "the connection breaks (client exit $rc: $(cat "$ART/client-echo.result"))" \
        broke "$rc"
    sc_check "it had worked before the migration (received $(sc_result echo received) lines)" \
        gt "$(sc_result echo received)" 50
    sc_check "the destination's firewall dropped its packets (dropped_tcp $drops_before -> $drops_after)" \
        gt "$drops_after" "$drops_before"
    sc_client fresh tcp-echo 7 --interval-ms 20 --duration-s 2 --stall-timeout-s 5
    sc_client_wait fresh 20; rc=$?
    sc_check "a new connection to the guest on $dst is admitted (the path itself works)" [ "$rc" = 0 ]
    for h in $NCH_HOSTS; do fw_off "$h"; done
}
