#!/bin/bash
# test-harness/tests/test-mcast-bed.sh - the multicast scenario's check of its bed (lib/mcast.sh
# mc_bed_parse, mc_bed_is, mc_mdb_parse) on what iproute2 prints: it passes only a snooping bridge
# with a querier whose guest port takes no flooded multicast, so a bridge that floods the group to
# the guest cannot pass for a carried membership. No root, no kernel.
set -uo pipefail
NCH_LIB=$(cd "$(dirname "$0")/../lib" && pwd)
# shellcheck disable=SC1091
. "$NCH_LIB/common.sh"
# shellcheck disable=SC1091
. "$NCH_LIB/mcast.sh"

# link SNOOPING QUERIER - `ip -j -d link show br0` of a bridge so set (fields as iproute2 6.1)
link() {
    printf '[{"ifindex":3,"ifname":"br0","flags":["UP"],"linkinfo":{"info_kind":"bridge","info_data":{"stp_state":0,"mcast_snooping":%s,"mcast_router":1,"mcast_querier":%s,"mcast_query_intvl":60000}}}]' "$1" "$2"
}
# port NAME MASTER MCAST_FLOOD - `bridge -j -d link show dev NAME`
port() {
    printf '[{"ifindex":9,"ifname":"%s","master":"%s","state":"forwarding","flood":true,"mcast_flood":%s,"bcast_flood":true}]' "$1" "$2" "$3"
}
MDB='[{"mdb":[{"index":9,"dev":"br0","port":"vnet3","grp":"239.77.0.50","state":"temp","protocol":"static","flags":[]},{"index":4,"dev":"br0","port":"vnet1","grp":"239.77.0.51","state":"permanent","protocol":"kernel","flags":[]}],"router":{}}]'

n=0 fail=0
# bed NAME EXPECT(pass|refuse) LINK PORT TAP
bed() {
    local state ok=refuse
    state=$(mc_bed_parse "$3" "$4")
    mc_bed_is "$state" "$5" && ok=pass
    n=$((n + 1))
    if [ "$ok" = "$2" ]; then echo "ok $n - $1 ($state)"
    else echo "not ok $n - $1: expected $2, got $ok ($state)"; fail=1; fi
}
# mdb NAME EXPECT TAP GROUP
mdb() {
    local got; got=$(mc_mdb_parse "$MDB" "$3" "$4")
    n=$((n + 1))
    if [ "$got" = "$2" ]; then echo "ok $n - $1 ('$got')"
    else echo "not ok $n - $1: expected '$2', got '$got'"; fail=1; fi
}

echo "1..11"
bed "snooping, a querier, the guest's port mcast_flood off" pass "$(link 1 1)" "$(port vnet3 br0 false)" vnet3
bed "a port that takes flooded multicast" refuse "$(link 1 1)" "$(port vnet3 br0 true)" vnet3
bed "a bridge that does not snoop (it floods every group)" refuse "$(link 0 1)" "$(port vnet3 br0 false)" vnet3
bed "no querier (the bridge floods, and not to the port)" refuse "$(link 1 0)" "$(port vnet3 br0 false)" vnet3
bed "the guest's tap on another bridge" refuse "$(link 1 1)" "$(port vnet3 virbr0 false)" vnet3
bed "another port than the guest's" refuse "$(link 1 1)" "$(port vnet2 br0 false)" vnet3
bed "no tap at all (iproute2 printed nothing)" refuse "$(link 1 1)" "" ""
bed "no bridge (iproute2 printed an error)" refuse "Cannot find device \"br0\"" "$(port vnet3 br0 false)" vnet3
mdb "the group's entry on the guest's port" temp/static vnet3 239.77.0.50
mdb "another port's entry is not the guest's" "" vnet3 239.77.0.51
mdb "no entry of the group" "" vnet1 239.77.0.50
exit $fail
