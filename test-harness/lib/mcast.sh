# test-harness/lib/mcast.sh - IGMP snooping on the hosts' bridges for the multicast scenario (20):
# each host's br0 snoops and is the querier of its own segment, the guest's port takes no flooded
# multicast, and the checks that the bed is so before anything is measured.
#
# Why each piece (what this kernel's bridge does, measured: docs/test-bed.md, "Multicast"):
# - the querier: a snooping bridge that knows of no querier floods every group, to the ports whose
#   mcast_flood is on only, so with mcast_flood off the guest would get nothing, mdb entry or not;
#   with one, an mdb entry delivers the group, but only ~10 s after the querier started (the
#   bridge's delay before it trusts its table): mc_on is done that long before any measurement;
# - one querier per host: two bridges that hear each other's queries elect one, and the other
#   then sends no query at all, on none of its ports; the fabric therefore carries no IGMP
#   between the hosts (mc_fabric_isolate: dropped in fab0's prerouting) and fab0 floods every
#   group to every host (its snooping off: a fab0 that learned a querier and a member port sent
#   the group to one host only, and the guest on the other got nothing, entry or not);
# - mcast_flood off on the guest's tap: on every host, set by a qemu.d drop-in at 'started'
#   (lib/hook-mcast-flood: an incoming migration's tap is made before the guest runs there);
# - long query intervals: the guest's member reports when it starts and when a query asks
#   (nc-traffic --member), so without its mdb entry a destination delivers nothing until its
#   next query.

MC_BR=br0
MC_HOOK=10-nch-mcast-flood
MC_FABRIC_TABLE=nch_mcast

mc_link() { local h=$1; shift; ip -n "$(host_ns "$h")" link set "$MC_BR" type bridge "$@"; }

# mc_on HOST QUERY_S - HOST's bridge snoops and is its segment's querier; it queries each port
# when the port comes up (and at once, now) and then every QUERY_S seconds; a member has 1 s
# to answer; memberships outlive two query intervals.
mc_on() {
    local cs=$(( $2 * 100 ))
    mc_link "$1" mcast_snooping 1 mcast_query_interval "$cs" mcast_startup_query_interval "$cs" \
        mcast_query_response_interval 100 mcast_membership_interval $(( 2 * cs + 100 )) \
        mcast_querier_interval $(( 2 * cs + 50 )) mcast_querier 1 ||
        die "host $1: cannot set up IGMP snooping on $MC_BR"
}

# mc_off HOST - the kernel's defaults again (snooping on, no querier, 125 s queries)
mc_off() {
    mc_link "$1" mcast_querier 0 mcast_query_interval 12500 mcast_startup_query_interval 3125 \
        mcast_query_response_interval 1000 mcast_membership_interval 26000 \
        mcast_querier_interval 25500 2>/dev/null
    true
}

# mc_query_now HOST - the querier of HOST's bridge starts again: it queries every port at once
# (and, like any querier that starts, trusts its mdb ~10 s later only)
mc_query_now() { mc_link "$1" mcast_querier 0 && mc_link "$1" mcast_querier 1; }

# mc_fabric_isolate / mc_fabric_join - the fabric carries no IGMP between the hosts, and its
# bridge does not snoop (it floods every group to every host, as a plain wire) / as before.
# Before any querier starts: a fab0 that heard one query would forward the group to that
# querier's host (its router port) and to the ports it learned members on, and no further.
mc_fabric_isolate() {
    fabric_exec ip link set fab0 type bridge mcast_snooping 0 || die "cannot stop fab0's snooping"
    fabric_exec nft -f - <<EOT || die "cannot keep IGMP within each host's segment"
table bridge $MC_FABRIC_TABLE {
    chain prerouting {
        type filter hook prerouting priority filter; policy accept;
        ip protocol igmp drop
    }
}
EOT
}
mc_fabric_join() {
    fabric_exec nft delete table bridge "$MC_FABRIC_TABLE" 2>/dev/null
    fabric_exec ip link set fab0 type bridge mcast_snooping 1
    true
}

# mc_hook_install HOST / mc_hook_remove HOST - the drop-in that sets mcast_flood off on the tap
mc_hook_install() {
    install -m 0755 "$NCH_LIB/hook-mcast-flood" "$(host_dir "$1")/etc/libvirt/hooks/qemu.d/$MC_HOOK"
}
mc_hook_remove() { rm -f "$(host_dir "$1")/etc/libvirt/hooks/qemu.d/$MC_HOOK"; }

# mc_tap HOST - the guest's tap on HOST (libvirt's name for it there), empty if none
mc_tap() { vsh "$1" domiflist "$NCH_GUEST" 2>/dev/null | awk -v b="$MC_BR" '$3 == b { print $1; exit }'; }

# mc_flood_off HOST TAP - TAP takes no flooded multicast
mc_flood_off() {
    ip netns exec "$(host_ns "$1")" bridge link set dev "$2" mcast_flood off ||
        die "host $1: cannot set mcast_flood off on $2"
}

# mc_bed_parse LINK_JSON PORT_JSON - what the scenario relies on, from `ip -j -d link show br0`
# and `bridge -j -d link show dev TAP`: "snooping=0|1 querier=0|1 port=TAP mcast_flood=on|off"
# (port=none when TAP is no port of the bridge). No kernel needed: tests/test-mcast-bed.sh.
mc_bed_parse() {
    "$NCH_PY" - "$1" "$2" "$MC_BR" <<'EOT'
import json, sys
def load(s):
    try:
        return json.loads(s) or []
    except ValueError:
        return []
link = [l for l in load(sys.argv[1]) if l.get("ifname") == sys.argv[3]]
d = link[0].get("linkinfo", {}).get("info_data", {}) if link else {}
port = [p for p in load(sys.argv[2]) if p.get("master") == sys.argv[3]]
print("snooping=%d querier=%d port=%s mcast_flood=%s" % (
    int(d.get("mcast_snooping", 0)), int(d.get("mcast_querier", 0)),
    port[0]["ifname"] if port else "none",
    ("on" if port[0].get("mcast_flood", True) else "off") if port else "none"))
EOT
}

# mc_bed HOST TAP - HOST's bridge and TAP as mc_bed_parse says them
mc_bed() {
    mc_bed_parse "$(ip -n "$(host_ns "$1")" -j -d link show "$MC_BR" 2>/dev/null)" \
        "$(ip netns exec "$(host_ns "$1")" bridge -j -d link show dev "$2" 2>/dev/null)"
}

# mc_bed_is STATE TAP - STATE (mc_bed's) is what the scenario needs: snooping, a querier, and TAP
# a port of the bridge that takes no flooded multicast
mc_bed_is() { [ "$1" = "snooping=1 querier=1 port=$2 mcast_flood=off" ]; }

# mc_mdb_parse MDB_JSON TAP GROUP - GROUP's entry on port TAP in `bridge -j -d mdb show`, as
# STATE/PROTOCOL: temp|permanent / kernel (learned from a report) | static (added by a program,
# netcarry's install for one); empty if there is none
mc_mdb_parse() {
    "$NCH_PY" - "$1" "$2" "$3" <<'EOT'
import json, sys
try:
    doc = json.loads(sys.argv[1]) or []
except ValueError:
    doc = []
for br in doc:
    for e in br.get("mdb", []):
        if e.get("port") == sys.argv[2] and e.get("grp") == sys.argv[3]:
            print("%s/%s" % (e.get("state", "?"), e.get("protocol", "?")))
            sys.exit(0)
EOT
}

# mc_mdb HOST TAP - the guest's group's entry on TAP in HOST's bridge (mc_mdb_parse)
mc_mdb() {
    mc_mdb_parse "$(ip netns exec "$(host_ns "$1")" bridge -j -d mdb show dev "$MC_BR" 2>/dev/null)" \
        "$2" "$NCH_GUEST_MCAST"
}

# mc_probe - datagrams to the guest's group from the fabric for 1 s (20 ms apart): how many
# the guest answered
mc_probe() {
    fabric_exec "$NCH_TRAFFIC" udp-echo "$NCH_GUEST_MCAST" "$NCH_GUEST_MCAST_PORT" --iface fab0 \
        --interval-ms 20 --duration-s 1 --stall-timeout-s 3 2>/dev/null |
        sed -n 's/^result .* received=\([0-9]*\) .*/\1/p'
}
mc_reaches() { [ "$(mc_probe)" -gt 0 ] 2>/dev/null; }
