# test-harness/scenarios/21-static-policy.sh - issue 12's static policy, checked at admission and
# never carried: the guest's interface references an nwfilter (`nch-policy`, defined on both hosts
# with `virsh nwfilter-define`, attached live with `virsh update-device`), and its profile names a
# per-VM static nftables chain (`<netcarry:chain family='inet' table='nch_pol' name='vm-in'/>`).
#  1. without netcarry (stopped, hook removed): the destination defines the filter differently and
#     lacks the chain, and `virsh migrate --live` goes through all the same: libvirt moves the XML
#     and nothing compares the policy (so what refuses below is netcarry's check);
#  2. with netcarry, admission = refuse, the destination's nwfilter differs: `virsh migrate` fails
#     with netcarry's line naming the filter and its first differing rule; the guest stays on the
#     source and its connection is intact;
#  3. the same with the filter alike on both and the per-VM chain missing on the destination:
#     refused, naming the chain;
#  4. admission = proceed, both differences in place: the migration completes, the connection
#     survives, and the destination's report has nwfilter and nft-chain "checked" with both
#     differences listed as failures.
# Both definitions of the filter and of the chain accept everything, so that neither changes what
# the guest's traffic meets; only their text differs.
SCENARIO_DESC="static policy checked at admission: an nwfilter defined differently or a per-VM chain missing on the destination refuses the migration naming it (the guest stays, connection intact); without netcarry it goes through; with proceed it completes and the report records both"

NCH_MAX_STALL_MS=${NCH_MAX_STALL_MS:-1000}
POL_FILTER=nch-policy
POL_TABLE=nch_pol
POL_CHAIN=vm-in

# pol_filter HOST same|other - define the guest's nwfilter on HOST: 'other' differs in its first
# rule's priority (both accept every frame)
pol_filter() {
    local prio=500 f=$ART/nwfilter-$1-$2.xml uuid
    [ "$2" = other ] && prio=400
    # libvirt redefines a filter only under its uuid (it may be in use: no undefine first)
    uuid=$(vsh "$1" nwfilter-dumpxml "$POL_FILTER" 2>/dev/null | sed -n 's:.*<uuid>\(.*\)</uuid>.*:\1:p')
    cat > "$f" <<EOT
<filter name='$POL_FILTER' chain='root'>${uuid:+
  <uuid>$uuid</uuid>}
  <rule action='accept' direction='inout' priority='$prio'>
    <mac protocolid='arp'/>
  </rule>
  <rule action='accept' direction='inout' priority='600'>
    <all/>
  </rule>
</filter>
EOT
    vsh "$1" nwfilter-define "$f" > "$ART/nwfilter-define-$1.out" 2>&1
}

# pol_attach HOST on|off - add the filterref to the guest's interface on HOST, live, or take it off
pol_attach() {
    local f=$ART/iface-$1-$2.xml
    vsh "$1" dumpxml "$NCH_GUEST" > "$ART/domain-$1.xml" || return 1
    "$NCH_PY" - "$ART/domain-$1.xml" "$NCH_GUEST_MAC" "$2" "$POL_FILTER" > "$f" <<'EOT' || return 1
import sys, xml.etree.ElementTree as ET
dom = ET.parse(sys.argv[1]).getroot()
for i in dom.find('devices').findall('interface'):
    if i.find('mac').get('address').lower() != sys.argv[2].lower():
        continue
    for fr in i.findall('filterref'):
        i.remove(fr)
    if sys.argv[3] == 'on':
        ET.SubElement(i, 'filterref', {'filter': sys.argv[4]})
    sys.stdout.write(ET.tostring(i, encoding='unicode'))
    break
EOT
    vsh "$1" update-device "$NCH_GUEST" "$f" --live > "$ART/update-device-$1.out" 2>&1
}
# the XML is read whole before grep looks: `grep -q` stops reading at the first match, and virsh
# killed by SIGPIPE fails the pipeline under pipefail
pol_attached() {
    local xml
    xml=$(vsh "$1" dumpxml "$NCH_GUEST" 2>/dev/null) || return 1
    grep -q "filterref filter='$POL_FILTER'" <<<"$xml"
}

pol_chain_load() {
    fw_table_load "$1" inet "$POL_TABLE" <<EOT
table inet $POL_TABLE {
    chain $POL_CHAIN {
        type filter hook forward priority filter - 20; policy accept;
        ip daddr $NCH_GUEST_IP tcp dport 7 counter accept
    }
}
EOT
}
pol_profile() { nc_set_profile "$1" "<chain family='inet' table='$POL_TABLE' name='$POL_CHAIN'/>"; }

# policy_differs SRC DST - DST's filter differs, its chain is missing; SRC has both
policy_differs() {
    pol_filter "$1" same || die "host $1: nwfilter-define failed: $(cat "$ART/nwfilter-define-$1.out")"
    pol_filter "$2" other || die "host $2: nwfilter-define failed: $(cat "$ART/nwfilter-define-$2.out")"
    pol_chain_load "$1"
    fw_table_off "$2" inet "$POL_TABLE"
}

refused() {   # refused SRC DST WHAT PATTERN - virsh migrate fails with netcarry's line matching
    local src=$1 dst=$2 what=$3 pat=$4 rc
    sc_client echo tcp-echo 7 --interval-ms 20 --stall-timeout-s 5
    sleep 1
    sc_migrate "$src" "$dst"; rc=$?
    sc_check "[$what] virsh migrate $src->$dst fails (exit $rc)" [ "$rc" != 0 ]
    sc_check "[$what] virsh shows netcarry's line naming it: $(grep -o 'netcarry: .*' "$ART/migrate-$src$dst.out" | head -n 1)" \
        grep -Eq "netcarry: cannot carry the network state of $NCH_GUEST to host$dst: .*$pat" "$ART/migrate-$src$dst.out"
    sc_check "[$what] the guest still runs on $src" [ "$(vsh "$src" domstate "$NCH_GUEST" 2>/dev/null)" = running ]
    sc_check "[$what] the guest does not run on $dst" [ -z "$(vsh "$dst" list --name 2>/dev/null | grep -x "$NCH_GUEST")" ]
    sleep 2
    sc_client_stop echo; rc=$?
    sc_check "[$what] its connection is intact: every line back, in order, stall <= $NCH_MAX_STALL_MS ms ($(cat "$ART/client-echo.result"))" \
        sc_client_intact echo "$rc" "$NCH_MAX_STALL_MS"
}

scenario_run() {
    local h src dst t0 rc
    sc_need_netcarry
    src=$(guest_where) || die "the guest is not running anywhere"
    dst=$(sc_other_host "$src")

    # the guest references the filter (nwfilter must work in the hosts' libvirtd for this)
    pol_filter "$src" same || sc_skip "nwfilter-define fails in the harness's libvirtd: $(cat "$ART/nwfilter-define-$src.out")"
    pol_attach "$src" on || sc_skip "the guest's interface cannot take a filterref live: $(cat "$ART/update-device-$src.out" 2>/dev/null)"
    sc_check "the guest's interface on $src references nwfilter $POL_FILTER" pol_attached "$src"

    # 1. without netcarry
    for h in $NCH_HOSTS; do nc_down "$h" --purge; fw_on "$h"; done
    policy_differs "$src" "$dst"
    sc_check "without netcarry: live migration $src->$dst succeeds although $dst defines $POL_FILTER differently and lacks chain inet/$POL_TABLE/$POL_CHAIN" \
        sc_migrate "$src" "$dst"
    sc_check "without netcarry: the guest runs on $dst, with the filterref" pol_attached "$dst"
    src=$dst; dst=$(sc_other_host "$src")

    # 2. the filter differs (the chain is not named yet)
    for h in $NCH_HOSTS; do nc_up "$h" --policy refuse || die "netcarryd did not start on $h"; done
    pol_filter "$src" same; pol_filter "$dst" other
    nc_wait_rendezvous "$src" || die "netcarryd on $src never published the guest's rendezvous"
    refused "$src" "$dst" nwfilter "nwfilter $POL_FILTER differs: rule 1: the source has 'rule action=accept direction=inout priority=500"

    # 3. the filter alike, the chain named in the profile and missing on the destination
    pol_filter "$dst" same
    pol_chain_load "$src"
    fw_table_off "$dst" inet "$POL_TABLE"
    pol_profile "$src" || die "cannot name the chain in the guest's profile on $src"
    refused "$src" "$dst" chain "chain inet/$POL_TABLE/$POL_CHAIN missing on this host"

    # 4. proceed: both differences, the migration goes on, the report records them
    for h in $NCH_HOSTS; do nc_up "$h" --policy proceed || die "netcarryd did not start on $h"; done
    policy_differs "$src" "$dst"
    nc_wait_rendezvous "$src" || die "netcarryd on $src never published the guest's rendezvous"
    nc_guest_ct_flush "$dst"
    sc_client echo tcp-echo 7 --interval-ms 20 --stall-timeout-s 5
    sleep 1
    t0=$(now_ms)
    sc_check "[proceed] live migration $src->$dst succeeds" sc_migrate "$src" "$dst"
    sc_report PROCEED "$dst" "$t0" 1 --failed-entries 0-2
    sc_check "[proceed] the report has nwfilter checked and differing ($(grep '^nwfilter' "$ART/report-PROCEED.txt"))" \
        grep -q '^nwfilter: checked, [1-9][0-9]* definitions from the source, DIFFERS' "$ART/report-PROCEED.txt"
    sc_check "[proceed] the report has nft-chain checked and differing ($(grep '^nft-chain' "$ART/report-PROCEED.txt"))" \
        grep -q '^nft-chain: checked, 1 definitions from the source, DIFFERS' "$ART/report-PROCEED.txt"
    sc_check "[proceed] the report names the filter's difference" \
        grep -q "^failed: nwfilter static policy: .*nwfilter $POL_FILTER differs: rule 1" "$ART/report-PROCEED.txt"
    sc_check "[proceed] the report names the missing chain" \
        grep -q "^failed: nft-chain static policy: .*chain inet/$POL_TABLE/$POL_CHAIN missing" "$ART/report-PROCEED.txt"
    sc_check_echo_intact echo

    # back to how the other scenarios expect the hosts and the guest
    pol_attach "$dst" off || sc_note "taking the filterref off failed: $(cat "$ART/update-device-$dst.out")"
    nc_set_profile "$dst" || sc_note "cannot restore the guest's profile on $dst"
    for h in $NCH_HOSTS; do
        vsh "$h" nwfilter-undefine "$POL_FILTER" > /dev/null 2>&1
        fw_table_off "$h" inet "$POL_TABLE"
        nc_up "$h" || die "netcarryd did not start on $h"
    done
}
