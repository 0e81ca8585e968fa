# test-harness/lib/firewall.sh - the operator's VM firewall: default-deny, stateful, same on every host.
#
# Where: the guest is bridged (tap on br0), so the rules sit in an inet 'forward' chain that sees
# bridged IPv4 through br_netfilter (bridge-nf-call-iptables is 1 in every new namespace). A
# bridge-family table cannot be used: stateful matching there needs nf_conntrack_bridge, which
# this kernel lacks. The inet table also uses the ordinary conntrack table, the one netcarry carries.
#
# Policy: established/related pass; a new TCP flow is admitted only on a bare SYN (so that
# nf_conntrack_tcp_loose=1 cannot re-create a lost entry from a mid-stream packet and hide the
# problem); UDP and ping are admitted as new flows; everything else is dropped and counted, TCP
# separately in 'dropped_tcp' so that scenarios can tell a broken connection from stray noise.
# The NAT variant adds a port mapping ($NCH_GUEST_IP:8007 -> :7) whose state also lives in conntrack.

NCH_FW_TABLE=nch_vmfw
NCH_FW_TCP_PORTS="7, 9000, 9001"
NCH_FW_UDP_PORTS="7"

fw_rules() {   # fw_rules [nat]
    cat <<EOT
table inet $NCH_FW_TABLE {
    set guests { type ipv4_addr; elements = { $NCH_GUEST_IP } }
    set tcp_services { type inet_service; elements = { $NCH_FW_TCP_PORTS } }
    set udp_services { type inet_service; elements = { $NCH_FW_UDP_PORTS } }
    counter established { }
    counter admitted_new { }
    counter dropped_tcp { }
    counter dropped_other { }
    counter nat_mapped { }
    chain forward {
        type filter hook forward priority filter; policy drop;
        ct state established,related counter name "established" accept
        ip daddr @guests tcp dport @tcp_services tcp flags & (fin|syn|rst|ack) == syn ct state new counter name "admitted_new" accept
        ip saddr @guests tcp flags & (fin|syn|rst|ack) == syn ct state new counter name "admitted_new" accept
        ip daddr @guests udp dport @udp_services ct state new counter name "admitted_new" accept
        ip saddr @guests meta l4proto udp ct state new counter name "admitted_new" accept
        ip daddr @guests icmp type echo-request ct state new counter name "admitted_new" accept
        ip saddr @guests icmp type echo-request ct state new counter name "admitted_new" accept
        meta l4proto tcp counter name "dropped_tcp" drop
        counter name "dropped_other" drop
    }
EOT
    [ "${1:-}" = nat ] && cat <<EOT
    chain prerouting {
        type nat hook prerouting priority dstnat; policy accept;
        ip daddr @guests tcp dport 8007 counter name "nat_mapped" dnat ip to $NCH_GUEST_IP:7
    }
EOT
    echo "}"
}

# fw_on HOST [nat] - (re)load the firewall on HOST; counters start at zero.
fw_on() {
    local h=$1 f; f=$RUN/firewall${2:+-$2}.nft
    fw_rules "${2:-}" > "$f"
    ip netns exec "$(host_ns "$h")" nft delete table inet "$NCH_FW_TABLE" 2>/dev/null
    ip netns exec "$(host_ns "$h")" nft -f "$f" || die "host $h: loading $f failed"
}

fw_off() { ip netns exec "$(host_ns "$1")" nft delete table inet "$NCH_FW_TABLE" 2>/dev/null; true; }

# fw_counter HOST NAME - packets counted by one named counter (0 if the firewall is off).
fw_counter() {
    ip netns exec "$(host_ns "$1")" nft list counter inet "$NCH_FW_TABLE" "$2" 2>/dev/null |
        awk '/packets/ { for (i = 1; i < NF; i++) if ($i == "packets") { print $(i + 1); exit } }
             END { if (NR == 0) print 0 }'
}

# fw_dump HOST - the whole ruleset with counters, for artifacts.
fw_dump() { ip netns exec "$(host_ns "$1")" nft list ruleset 2>&1; }

# ---- the operator's per-VM dynamic state next to the firewall (scenarios 15-17) ----
# Each of these scenarios loads one table of its own on both hosts beside nch_vmfw: base chains
# of the same hook all see a packet, and a drop in any of them is final, so such a table can
# only take away what nch_vmfw admits.

fw_nft() { local h=$1; shift; ip netns exec "$(host_ns "$h")" nft "$@"; }

# fw_table_load HOST FAMILY TABLE - (re)load a table from the rules on stdin: its sets, maps,
# counters and quotas start empty, at zero. fw_table_off HOST FAMILY TABLE removes it.
fw_table_load() {
    local f; f=$RUN/table-$2-$3.nft
    cat > "$f"
    fw_table_off "$1" "$2" "$3"
    fw_nft "$1" -f "$f" || die "host $1: loading $f failed"
}
fw_table_off() { fw_nft "$1" delete table "$2" "$3" 2>/dev/null; true; }

# fw_elem HOST FAMILY TABLE SET KEY - the element of KEY as nft prints it (empty: none), e.g.
# "192.168.77.50 timeout 10m expires 6m59s984ms" or, of a map, "... : 192.168.77.50".
fw_elem() {
    fw_nft "$1" get element "$2" "$3" "$4" "{ $5 }" 2>/dev/null |
        sed -n 's/.*elements = { \(.*\) }$/\1/p'
}

# fw_elem_expires_ms HOST FAMILY TABLE SET KEY - the element's remaining time in ms, and the
# wall clock (ms) it was read at (the middle of the read), "REMAINING_MS AT_MS"; empty: none.
# nft's text gives the remaining time to the millisecond (its JSON rounds it to seconds).
fw_elem_expires_ms() {
    local t0 e t1
    t0=$(now_ms); e=$(fw_elem "$@"); t1=$(now_ms)
    echo "$e" | awk -v at=$(( (t0 + t1) / 2 )) '{
        for (i = 1; i < NF; i++) if ($i == "expires") { s = $(i + 1); break }
        if (s == "") exit
        ms = 0
        while (match(s, /^[0-9]+(ms|d|h|m|s)/)) {
            t = substr(s, 1, RLENGTH); s = substr(s, RLENGTH + 1)
            n = t + 0; u = t; sub(/^[0-9]+/, "", u)
            ms += n * (u == "d" ? 86400000 : u == "h" ? 3600000 : u == "m" ? 60000 : u == "s" ? 1000 : 1)
        }
        print ms, at }'
}

# fw_obj HOST FAMILY TABLE counter|quota NAME FIELD - a named object's value from nft's JSON:
# a counter's packets or bytes, a quota's bytes (its limit) or used (0 when absent).
fw_obj() {
    fw_nft "$1" -j list "$4" "$2" "$3" "$5" 2>/dev/null | "$NCH_PY" -c '
import json, sys
try:
    o = [x[sys.argv[1]] for x in json.load(sys.stdin)["nftables"] if sys.argv[1] in x][0]
    print(o.get(sys.argv[2], 0))
except Exception:
    print(0)' "$4" "$6"
}
