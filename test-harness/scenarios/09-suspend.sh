# test-harness/scenarios/09-suspend.sh - gate mode 'suspend', for platforms that migrate with
# `virsh migrate --live --suspend`: the guest arrives paused, netcarryd installs its state and
# then resumes it. Without netcarry the guest would stay paused on the destination.
SCENARIO_DESC="gate mode suspend: virsh migrate --suspend, netcarryd resumes the guest once its state is installed; connection intact"

NCH_MAX_STALL_MS=${NCH_MAX_STALL_MS:-1000}

sc09_runs_on() { [ "$(vsh "$1" domstate "$NCH_GUEST" 2>/dev/null)" = running ]; }
# grep reads to the end (no -q): under pipefail an early exit can SIGPIPE the writer and fail a match
sc09_resumed_by_netcarryd() { sc_log_since "$1" netcarryd.log | grep "resumed the guest (gate mode suspend)" >/dev/null; }

scenario_run() {
    local h src dst t0
    sc_need_netcarry
    for h in $NCH_HOSTS; do
        fw_on "$h"; nc_up "$h" --gate-mode suspend || die "netcarryd did not start on $h"
    done
    src=$(guest_where) || die "the guest is not running anywhere"
    dst=$(sc_other_host "$src")
    nc_wait_rendezvous "$src" || die "netcarryd on $src never published the guest's rendezvous"

    sc_client echo tcp-echo 7 --interval-ms 20 --stall-timeout-s 5
    sleep 1
    sc_drops_mark "$dst"
    t0=$(now_ms)
    sc_check "virsh migrate --live --suspend $src->$dst succeeds" sc_migrate "$src" "$dst" --suspend
    sc_check "the guest runs on $dst: netcarryd resumed it (virsh left it paused)" \
        wait_until 15 "the guest to run on $dst" sc09_runs_on "$dst"
    sc_check "netcarryd on $dst says it resumed the guest" sc09_resumed_by_netcarryd "$dst"
    sc_report S "$dst" "$t0" 1
    sc_check_no_drops "$dst"
    sc_check_echo_intact
    # the other scenarios expect the default gate mode
    for h in $NCH_HOSTS; do nc_up "$h" || die "netcarryd did not restart on $h"; done
}
