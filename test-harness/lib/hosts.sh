# test-harness/lib/hosts.sh - libvirt "hosts" (netns + private mount/UTS ns + libvirtd) on one fabric.
# Nothing here touches the root namespace: every link is created inside this run's namespaces.
#
# Topology: the fabric namespace holds bridge fab0 ($NCH_NET.1, the test client) and one veth per
# host; host H has bridge br0 ($NCH_NET.1x) with that veth as uplink, and libvirt plugs the guest's
# tap into br0. libvirtd listens on plain TCP without auth, reachable only inside the fabric.

host_index() { local i=0 h; for h in $NCH_HOSTS; do i=$((i + 1)); [ "$h" = "$1" ] && { echo $i; return 0; }; done; die "no host '$1' in this run (hosts: $NCH_HOSTS)"; }
host_ip() { echo "$NCH_NET.$((10 + $(host_index "$1")))"; }
host_ns() { host_index "$1" >/dev/null && echo "nch$NCH_ID-$1"; }
host_dir() { echo "$RUN/hosts/$1"; }
host_uri() { echo "qemu+tcp://$(host_ip "$1")/system"; }

# vsh HOST ARGS... - virsh against HOST, from the fabric (as a management station would).
vsh() { local h=$1; shift; ip netns exec "$NCH_FABRIC_NS" virsh -q -c "$(host_uri "$h")" "$@"; }

# fabric_exec CMD... - run CMD in the fabric namespace (the client's side of the world).
fabric_exec() { ip netns exec "$NCH_FABRIC_NS" "$@"; }

# host_exec HOST CMD... - run CMD inside HOST: its network, mount and UTS namespaces.
host_exec() {
    local p; p=$(pid_of "libvirtd-$1")
    pid_alive "$p" || die "host $1 is not running"
    shift
    nsenter -t "$p" -n -m -u -- "$@"
}

# fabric_cut PORT - cut the hosts' TCP traffic to and from PORT (both directions, silently: no
# RST) in the fabric's bridge, which joins the hosts; everything else still flows. The rule lives
# in the fabric namespace's own table bridge nch_cut (never in a host or the root namespace);
# fabric_mend removes it; fabric_cut_dropped prints how many segments it dropped.
fabric_cut() {
    fabric_exec nft -f - <<EOT || die "cannot cut port $1 in the fabric"
table bridge nch_cut {
    counter cut { }
    chain forward {
        type filter hook forward priority filter; policy accept;
        tcp dport $1 counter name "cut" drop
        tcp sport $1 counter name "cut" drop
    }
}
EOT
}
fabric_mend() { fabric_exec nft delete table bridge nch_cut 2>/dev/null; true; }
fabric_cut_dropped() {
    fabric_exec nft list counter bridge nch_cut cut 2>/dev/null | sed -n 's/.*packets \([0-9]*\).*/\1/p'
}

fabric_up() {
    local f=$NCH_FABRIC_NS h ns
    ip netns add "$f" || die "cannot create network namespace $f (need root and netns support)"
    ip -n "$f" link set lo up
    ip -n "$f" link add fab0 type bridge
    ip -n "$f" link set fab0 type bridge stp_state 0 forward_delay 0
    ip -n "$f" addr add "$NCH_NET.1/24" dev fab0
    ip -n "$f" link set fab0 up
    for h in $NCH_HOSTS; do
        ns=$(host_ns "$h")
        ip netns add "$ns" || die "cannot create network namespace $ns"
        ip -n "$ns" link set lo up
        ip -n "$f" link add "fab$h" type veth peer name up0 netns "$ns"
        ip -n "$f" link set "fab$h" master fab0 up
        ip -n "$ns" link add br0 type bridge
        ip -n "$ns" link set br0 type bridge stp_state 0 forward_delay 0
        ip -n "$ns" link set up0 master br0 up
        ip -n "$ns" addr add "$(host_ip "$h")/24" dev br0
        ip -n "$ns" link set br0 up
    done
}

# host_prepare HOST - the host's own /etc/libvirt etc. under $RUN/hosts/HOST, from the system's.
host_prepare() {
    local h=$1 d r ip; d=$(host_dir "$h"); ip=$(host_ip "$h")
    mkdir -p "$d"/{etc/pki,etc/netcarry,run/libvirt,run/netcarry,var/lib/libvirt,var/log/libvirt/qemu,var/cache/libvirt}
    cp -a /etc/libvirt "$d/etc/libvirt"
    rm -f "$d"/etc/libvirt/qemu/networks/autostart/*      # no 'default' network: no dnsmasq here
    { echo "127.0.0.1 localhost"; for r in $NCH_HOSTS; do echo "$(host_ip "$r") host$r"; done
      echo "$NCH_NET.1 fabric"; } > "$d/etc/hosts"
    cat >> "$d/etc/libvirt/libvirtd.conf" <<EOT

# --- netcarry test harness: host $h of run $NCH_ID ---
listen_tls = 0
listen_tcp = 1
listen_addr = "$ip"
auth_tcp = "none"
auth_unix_rw = "none"
auth_unix_ro = "none"
unix_sock_group = "root"
host_uuid = "$(cat /proc/sys/kernel/random/uuid)"
log_filters = "1:qemu.qemu_migration 1:qemu.qemu_monitor 1:util.hook 3:*"
log_outputs = "1:file:/var/log/libvirt/libvirtd.log"
EOT
    # stdio_handler=file: no virtlogd in the host. The rest keeps QEMU simple and predictable.
    cat >> "$d/etc/libvirt/qemu.conf" <<EOT

# --- netcarry test harness ---
stdio_handler = "file"
security_driver = "none"
cgroup_controllers = [ ]
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
migration_host = "$ip"
EOT
    # Every host logs its hook calls; further drop-ins come with 'nch install-hooks'.
    mkdir -p "$d/etc/libvirt/hooks/qemu.d"
    install -m 0755 "$NCH_LIB/hook-log" "$d/etc/libvirt/hooks/qemu.d/00-nch-log"
    pki_install "$h"
}

# host_start HOST - start its libvirtd and wait until it has probed QEMU (blocks 'capabilities').
host_start() {
    local h=$1 d t0 p; d=$(host_dir "$h"); t0=$(now_ms)
    # ip netns exec, unshare and host-init all exec, so the PID we record is libvirtd's.
    setsid ip netns exec "$(host_ns "$h")" unshare -m -u --propagation private -- \
        "$NCH_LIB/host-init" "$d" "host$h" </dev/null >>"$d/init.log" 2>&1 &
    p=$!
    pid_add "libvirtd-$h" "$p"
    wait_until 30 "libvirtd on host $h" vsh "$h" hostname ||
        die "libvirtd of host $h did not come up; see $d/init.log and $d/var/log/libvirt/libvirtd.log"
    vsh "$h" capabilities >/dev/null || die "host $h: virsh capabilities failed"
    timing "host $h start (ms)" $(( $(now_ms) - t0 ))
}

# monitors_start HOST - record HOST's libvirt and QMP events. The logs are appended to: a
# scenario that restarts libvirtd starts them again, and its artifacts take what came after
# the sizes it noted at its beginning.
monitors_start() {
    local h=$1 d; d=$(host_dir "$h")
    # Started directly (not via a shell function) so that the recorded PID is virsh's own.
    ip netns exec "$NCH_FABRIC_NS" virsh -c "$(host_uri "$h")" event --all --loop --timestamp \
        >>"$d/events.log" 2>&1 </dev/null &
    pid_add "events-$h" $!
    ip netns exec "$NCH_FABRIC_NS" virsh -c "$(host_uri "$h")" qemu-monitor-event --loop --timestamp \
        >>"$d/qmp.log" 2>&1 </dev/null &
    pid_add "qmp-$h" $!
}

monitors_stop() { pid_stop "events-$1"; pid_stop "qmp-$1"; }

# hosts_up - fabric, then the hosts; the first probes QEMU, the others reuse its capability cache.
hosts_up() {
    local h first=""
    pki_make
    fabric_up
    for h in $NCH_HOSTS; do
        host_prepare "$h"
        [ -n "$first" ] && cp -a "$(host_dir "$first")/var/cache/libvirt/qemu" \
            "$(host_dir "$h")/var/cache/libvirt/" 2>/dev/null
        host_start "$h"
        monitors_start "$h"
        [ -n "$first" ] || first=$h
    done
}

# hosts_down - destroy guests, stop every recorded process, then any straggler inside our
# namespaces (only processes in namespaces this run created), then delete the namespaces.
hosts_down() {
    local h ns p f dom
    for h in $NCH_HOSTS; do
        pid_alive "$(pid_of "libvirtd-$h")" || continue
        # timeout(1) cannot run the vsh function: the command itself, bounded
        for dom in $(timeout 10 ip netns exec "$NCH_FABRIC_NS" virsh -q -c "$(host_uri "$h")" \
                list --name 2>/dev/null); do
            timeout 10 ip netns exec "$NCH_FABRIC_NS" virsh -q -c "$(host_uri "$h")" \
                destroy "$dom" >/dev/null 2>&1
        done
    done
    for f in "$RUN"/pids/*; do [ -e "$f" ] && pid_stop "$(basename "$f")"; done
    for h in $NCH_HOSTS; do       # QEMU daemonizes away from libvirtd: its pidfile names it
        for f in "$(host_dir "$h")"/run/libvirt/qemu/*.pid; do
            [ -f "$f" ] || continue
            p=$(cat "$f"); [ -n "$p" ] && grep -qs qemu "/proc/$p/cmdline" && kill -KILL "$p" 2>/dev/null
        done
    done
    for ns in "$NCH_FABRIC_NS" $(for h in $NCH_HOSTS; do host_ns "$h"; done); do
        [ -e "/run/netns/$ns" ] || continue
        # Stragglers in our namespaces are ours (started there by the harness or libvirtd).
        for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
        sleep 0.2
        for p in $(ip netns pids "$ns" 2>/dev/null); do
            echo "process $p survived SIGKILL in $ns" >> "$RUN/stragglers"
        done
        ip netns del "$ns" 2>/dev/null || log "could not delete namespace $ns"
    done
}

# hosts_leftovers - print what of this run is still alive (namespaces, processes); empty = clean.
hosts_leftovers() { hosts_leftovers_raw | sort -u; }
hosts_leftovers_raw() {
    local h ns f p
    for ns in "$NCH_FABRIC_NS" $(for h in $NCH_HOSTS; do host_ns "$h"; done); do
        [ -e "/run/netns/$ns" ] && echo "namespace $ns"
    done
    for f in "$RUN"/pids/* "$RUN"/hosts/*/run/libvirt/qemu/*.pid; do
        [ -f "$f" ] || continue
        p=$(cat "$f"); pid_alive "$p" && echo "process $p ($(tr '\0' ' ' < "/proc/$p/cmdline" | cut -c1-60))"
    done
    [ -f "$RUN/stragglers" ] && cat "$RUN/stragglers"
    return 0
}
