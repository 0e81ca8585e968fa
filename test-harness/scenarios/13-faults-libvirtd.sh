# test-harness/scenarios/13-faults-libvirtd.sh - the fault matrix, libvirtd's part (issue 10):
# either host's libvirtd restarted while pre-copy runs (slowed to 1 MiB/s). libvirt fails the
# migration; netcarry must follow it: the guest keeps running on the source with its connection,
# the destination keeps neither entries nor a gate, both netcarryds reconnect to the new libvirtd,
# and the next migration carries.
#   I the source's libvirtd restarted during pre-copy
#   J the destination's libvirtd restarted during pre-copy
SCENARIO_DESC="libvirtd restarted on the source or the destination during pre-copy: the migration fails, the guest stays with its connection, the destination is clean, the next migration carries"

NCH_MAX_STALL_MS=${NCH_MAX_STALL_MS:-1000}

# case_restart NAME DESC WHICH - restart the libvirtd of WHICH (src | dst) during pre-copy
case_restart() {
    local rc src dst h
    sc_case "$1" "$2"
    sc_case_ready
    src=$SC_SRC; dst=$SC_DST
    [ "$3" = src ] && h=$src || h=$dst
    sc_migrate_slow "$src" "$dst"
    sc_check "netcarryd on $h reconnects to its restarted libvirtd" sc_restart_libvirtd "$h"
    sc_migrate_wait 60; rc=$?
    sc_check "virsh migrate fails (exit $rc: $(tr '\n' ' ' < "$ART/migrate-$src$dst.out"))" [ "$rc" != 0 ]
    sc_check_stayed "$src" "$dst" 15
    sc_check_carries
    sc_case_end
}

scenario_run() {
    local h
    sc_need_netcarry
    for h in $NCH_HOSTS; do fw_on "$h"; nc_up "$h" --policy refuse || die "netcarryd did not start on $h"; done
    case_restart I "the source's libvirtd restarted during pre-copy" src
    case_restart J "the destination's libvirtd restarted during pre-copy" dst
}
