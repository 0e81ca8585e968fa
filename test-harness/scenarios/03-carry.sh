# test-harness/scenarios/03-carry.sh - issue 4's main case: with the stateful VM firewall on every
# host and netcarryd on both, a long-lived TCP echo (a line every 20 ms) and a bulk transfer survive
# A->B (direct) and B->A (--p2p), every byte in order; each destination's report shows every phase
# on both hosts and the state installed before the guest resumed (or the gate holding it).
# 02-baseline-fw-breaks is the other half: the same migration without netcarry kills the echo.
# Also what platforms and operators read: the platform example (examples/netcarry-watch.py,
# libvirt's metadata-change event, from the fabric as a controller would) prints B's report as it
# is stored, and each destination's metrics count the migration (node_exporter textfile).
SCENARIO_DESC="firewalls on, netcarry on: TCP echo + bulk survive A->B->A; reports show every phase, state before resume; the platform example prints the report; metrics count it"

# the metrics that each migration must move on its destination
SC_METRICS='netcarry_migrations_total{outcome="completed"} netcarry_stop_to_installed_seconds_count netcarry_margin_seconds_count'
metrics_snapshot() { local m; for m in $SC_METRICS; do echo "$m $(nc_metric "$1" "$m")"; done; }
# metrics_moved HOST BEFORE - every metric of SC_METRICS grew by one since BEFORE
metrics_moved() {
    local m v0 v1 ok=0
    for m in $SC_METRICS; do
        v0=$(echo "$2" | awk -v s="$m" '$1 == s { print $2 }'); v1=$(nc_metric "$1" "$m")
        [ "$v1" = $((v0 + 1)) ] || { sc_note "metrics on $1: $m $v0 -> $v1"; ok=1; }
    done
    return $ok
}

# FINDINGS: 42-178 ms of downtime under TCG, 226 ms of stall when the state came at RESUME.
NCH_MAX_STALL_MS=${NCH_MAX_STALL_MS:-1000}

scenario_run() {
    local h at t0 echo_rc bulk_rc taints uuid mA mB
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
    mB=$(metrics_snapshot B)
    # the platform example, subscribed to B's libvirt before the migration
    fabric_exec "$NCH_PY" "$NCH_LIB/../../examples/netcarry-watch.py" --connect "$(host_uri B)" \
        --count 1 --timeout 90 > "$ART/watch-B.txt" 2>&1 &
    pid_add watch-B $!
    wait_until 10 "the platform example to listen" grep -q listening "$ART/watch-B.txt"
    t0=$(now_ms)
    sc_check "live migration A->B (virsh migrate --live) succeeds" sc_migrate A B
    sc_report AB B "$t0" 2
    wait_until 20 "the platform example to print the report" sh -c "! kill -0 $(pid_of watch-B) 2>/dev/null"
    pid_stop watch-B
    sc_check "the platform example (examples/netcarry-watch.py) printed B's report as libvirt stored it: $(grep -m1 '^netcarry report:' "$ART/watch-B.txt")" \
        grep -q "^netcarry report: $NCH_GUEST: .* -> .*: completed, margin .*conntrack entries installed" "$ART/watch-B.txt"
    sc_check "the printed report is the XML stored on B (same migration id)" \
        grep -q "$(grep -o 'migration id="[^"]*"' "$ART/report-AB.xml" | head -1)" "$ART/watch-B.txt"
    sc_check "B's metrics count the migration: completed, STOP->installed and margin observed once ($(nc_metric B 'netcarry_migrations_total{outcome="completed"}') completed)" \
        metrics_moved B "$mB"
    nc_cli B status > "$ART/status-B.txt" 2>&1
    uuid=$(vsh B domuuid "$NCH_GUEST" | tr -d ' \n'); : "${uuid:=unknown-uuid}"
    sc_check "'netcarry status' on B lists the guest ($(grep -m1 -e "$NCH_GUEST" -e "$uuid" "$ART/status-B.txt"))" \
        grep -q -e "$NCH_GUEST" -e "$uuid" "$ART/status-B.txt"
    sc_check_no_drops B
    nc_wait_rendezvous B || sc_note "netcarryd on B did not publish a rendezvous in 15 s"
    sc_drops_mark A
    mA=$(metrics_snapshot A)
    t0=$(now_ms)
    sc_check "live migration B->A (virsh migrate --live --p2p) succeeds" sc_migrate B A --p2p
    sc_report BA A "$t0" 2
    sc_check "A's metrics count the migration back ($(nc_metric A 'netcarry_entries_total{class="conntrack",stage="installed"}') conntrack entries installed in all)" \
        metrics_moved A "$mA"
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
