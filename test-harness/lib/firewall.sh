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
