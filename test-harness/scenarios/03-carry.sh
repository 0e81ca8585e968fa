# test-harness/scenarios/03-carry.sh - issue 4's main case: with the stateful VM firewall on every
# host and netcarryd on both, a long-lived TCP echo (a line every 20 ms) and a bulk transfer survive
# A->B (direct) and B->A (--p2p), every byte in order; each destination's report shows every phase
# on both hosts and the state installed before the guest resumed (or the gate holding it).
# 02-baseline-fw-breaks is the other half: the same migration without netcarry kills the echo.
SCENARIO_DESC="firewalls on, netcarry on: TCP echo + bulk survive A->B->A; reports show every phase, state before resume"

# FINDINGS: 42-178 ms of downtime under TCG, 226 ms of stall when the state came at RESUME.
NCH_MAX_STALL_MS=${NCH_MAX_STALL_MS:-1000}

scenario_run() {
    local h at t0 echo_rc bulk_rc taints uuid
    sc_need_netcarry
    for h in $NCH_HOSTS; do fw_on "$h"; nc_up "$h" || die "netcarryd did not start on host $h"; done
    at=$(guest_where) || die "the guest is not running anywhere"
    [ "$at" = A ] || sc_migrate "$at" A || die "cannot bring the guest back to host A"
    nc_wait_rendezvous A || die "netcarryd on A never published the guest's rendezvous"

    sc_client echo tcp-echo 7 --interval-ms 20 --stall-timeout-s 5
    sc_client bulk tcp-bulk 9000 --direction recv --stall-timeout-s 5
    sleep 2
    sc_check "the connections pass A's firewall as established ($(fw_counter A established) packets)" \
        [ "$(fw_counter A established)" -gt 10 ]
    sc_drops_mark B
    t0=$(now_ms)
    sc_check "live migration A->B (virsh migrate --live) succeeds" sc_migrate A B
    sc_report AB B "$t0" 2
    nc_cli B status > "$ART/status-B.txt" 2>&1
    uuid=$(vsh B domuuid "$NCH_GUEST" | tr -d ' \n'); : "${uuid:=unknown-uuid}"
    sc_check "'netcarry status' on B lists the guest ($(grep -m1 -e "$NCH_GUEST" -e "$uuid" "$ART/status-B.txt"))" \
        grep -q -e "$NCH_GUEST" -e "$uuid" "$ART/status-B.txt"
    sc_check_no_drops B
    nc_wait_rendezvous B || sc_note "netcarryd on B did not publish a rendezvous in 15 s"
    sc_drops_mark A
    t0=$(now_ms)
    sc_check "live migration B->A (virsh migrate --live --p2p) succeeds" sc_migrate B A --p2p
    sc_report BA A "$t0" 2
    sc_check_no_drops A
    sc_client_stop echo; echo_rc=$?
    sc_client_stop bulk; bulk_rc=$?
    sc_check "echo connection survived A->B->A through both firewalls: every line back, in order, no reset, stall <= $NCH_MAX_STALL_MS ms ($(cat "$ART/client-echo.result"))" \
        sc_client_intact echo "$echo_rc" "$NCH_MAX_STALL_MS"
    sc_check "bulk transfer survived: stream complete and in order, stall <= $NCH_MAX_STALL_MS ms ($(cat "$ART/client-bulk.result"))" \
        sc_client_intact bulk "$bulk_rc" "$NCH_MAX_STALL_MS"
    # netcarryd takes QEMU's MIGRATION/STOP/RESUME events through libvirt's QMP event API
    # (virConnectDomainQemuMonitorEventRegister); unlike a monitor command it must not taint the
    # domain. The harness's own taint (QEMU as root: high-privileges) is expected.
    sc_check "both reports' stop-and-copy phases come from QEMU's STOP event, through libvirt" \
        [ "$(grep -l 'phase="stop-and-copy".*cause="QMP STOP"' "$ART"/report-AB.xml "$ART"/report-BA.xml | wc -l)" = 2 ]
    for h in A B; do
        taints=$(sc_log_since "$h" var/log/libvirt/libvirtd.log | sed -n 's/.* is tainted: //p' | sort -u |
            grep -vx high-privileges | tr '\n' ' ')
        sc_check "libvirt on $h did not taint the guest for netcarry's QMP event listener (other taints: ${taints:-none})" \
            [ -z "$taints" ]
    done
    timing "carry echo longest stall (ms)" "$(sc_result echo max_stall_ms)"
    timing "carry bulk longest stall (ms)" "$(sc_result bulk max_stall_ms)"
}
