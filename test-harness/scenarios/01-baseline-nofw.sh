# test-harness/scenarios/01-baseline-nofw.sh - baseline 1: with no firewall in the path, a
# long-lived TCP connection and a bulk transfer survive live migration A->B and back (--p2p).
SCENARIO_DESC="firewalls off: TCP echo + bulk survive A->B (direct) and B->A (--p2p)"

# The longest stall a user may see; FINDINGS measured 42-178 ms of downtime under TCG.
NCH_MAX_STALL_MS=${NCH_MAX_STALL_MS:-2000}

client_intact() {   # client_intact TAG RC - alive, complete, in order, no reset, short stall
    [ "$2" = 0 ] && [ "$(sc_result "$1" ok)" = 1 ] && [ "$(sc_result "$1" in_order)" = 1 ] &&
        [ "$(sc_result "$1" resets)" = 0 ] && [ "$(sc_result "$1" max_stall_ms)" -le "$NCH_MAX_STALL_MS" ]
}

scenario_run() {
    local h at echo_rc bulk_rc
    for h in $NCH_HOSTS; do nc_down "$h" --purge; done      # a baseline: no netcarry anywhere
    for h in $NCH_HOSTS; do fw_off "$h"; done
    at=$(guest_where) || die "the guest is not running anywhere"
    [ "$at" = A ] || sc_migrate "$at" A || die "cannot bring the guest back to host A"

    sc_client echo tcp-echo 7 --interval-ms 20 --stall-timeout-s 5
    sc_client bulk tcp-bulk 9000 --direction recv --stall-timeout-s 5
    sleep 2
    sc_check "live migration A->B (virsh migrate --live) succeeds" sc_migrate A B
    sleep 2
    sc_check "live migration B->A (virsh migrate --live --p2p) succeeds" sc_migrate B A --p2p
    sleep 2
    sc_client_stop echo; echo_rc=$?
    sc_client_stop bulk; bulk_rc=$?
    sc_check "echo connection survived: every line back, in order, no reset, stall <= $NCH_MAX_STALL_MS ms ($(cat "$ART/client-echo.result"))" \
        client_intact echo "$echo_rc"
    sc_check "bulk transfer survived: stream complete and in order, stall <= $NCH_MAX_STALL_MS ms ($(cat "$ART/client-bulk.result"))" \
        client_intact bulk "$bulk_rc"
    timing "baseline-nofw echo longest stall (ms)" "$(sc_result echo max_stall_ms)"
    timing "baseline-nofw bulk longest stall (ms)" "$(sc_result bulk max_stall_ms)"
}
