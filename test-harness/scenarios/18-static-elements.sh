# test-harness/scenarios/18-static-elements.sh - an operator's static set element is not the
# domain's dynamic state to take away: nch_vmfw declares the guest's address in its set 'guests'
# on every host (lib/firewall.sh), as an operator's ruleset does. The set class captures that
# element with the guest's (its key is the guest's address) and the destination holds it already
# (its install leaves it out of what a roll-back removes). After a carried migration:
#  1. both hosts still hold the element, the source too: its ruleset is the operator's;
#  2. the consequence when it does not: the guest goes back to the first host by a plain migration
#     (netcarry stopped and its hook removed, as in 02), and a new connection to it must be
#     admitted there, as 02 shows it is on a host whose ruleset is intact.
# It failed against the engine of main 95763ae, whose source clean-up removed every element it
# had sent, static ones included; since bd7736e the clean-up keeps elements without a timeout.
SCENARIO_DESC="the operator's static set element of the guest (nch_vmfw's 'guests') stays on the source after a carried migration; a later plain migration back still admits new connections"

NCH_MAX_STALL_MS=${NCH_MAX_STALL_MS:-1000}

has_guest() { fw_elem "$1" inet "$NCH_FW_TABLE" guests "$NCH_GUEST_IP" | grep -q "^$NCH_GUEST_IP"; }

scenario_run() {
    local h src dst t0 rc
    sc_need_netcarry
    for h in $NCH_HOSTS; do fw_on "$h"; nc_up "$h" || die "netcarryd did not start on $h"; done
    src=$(guest_where) || die "the guest is not running anywhere"
    dst=$(sc_other_host "$src")
    nc_wait_rendezvous "$src" || die "netcarryd on $src never published the guest's rendezvous"
    nc_guest_ct_flush "$dst"
    for h in $NCH_HOSTS; do
        sc_check "$h's ruleset has the guest in nch_vmfw's set 'guests' ($(fw_elem "$h" inet "$NCH_FW_TABLE" guests "$NCH_GUEST_IP"))" \
            has_guest "$h"
    done
    sc_client echo tcp-echo 7 --interval-ms 20 --stall-timeout-s 5
    sleep 1
    t0=$(now_ms)
    sc_check "live migration $src->$dst succeeds" sc_migrate "$src" "$dst"
    sc_report S "$dst" "$t0" 1
    sc_check_echo_intact echo
    sc_check "$dst still has the guest in 'guests'" has_guest "$dst"
    sc_check "$src, the source, still has the guest in 'guests' (its ruleset is the operator's: '$(fw_elem "$src" inet "$NCH_FW_TABLE" guests "$NCH_GUEST_IP")'; the report: $(grep '^nft-set' "$ART/report-S.txt"))" \
        has_guest "$src"
    sc_fw_snapshot after-carry
    # 2. back to $src by a plain migration, no netcarry anywhere
    for h in $NCH_HOSTS; do nc_down "$h" --purge; done
    sc_check "plain live migration $dst->$src (no netcarry) succeeds" sc_migrate "$dst" "$src"
    sc_fresh back; rc=$?
    sc_check "a new connection to the guest is admitted on $src (exit $rc; dropped_tcp $(fw_counter "$src" dropped_tcp))" \
        [ "$rc" = 0 ]
    for h in $NCH_HOSTS; do fw_on "$h"; nc_up "$h" || die "netcarryd did not restart on $h"; done
}
