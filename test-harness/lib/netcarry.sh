# test-harness/lib/netcarry.sh - netcarry on a harness host: its config, the hook drop-in, netcarryd
# inside the host's namespaces, and the CLI run there, all from one build directory.
#
# Inside host H (private mount namespace; see host-init):
#   /etc/netcarry/netcarry.conf          written here: listen on the host's fabric address
#   /etc/libvirt/hooks/qemu.d/netcarry   a wrapper that sets NETCARRY_CONF and execs the built
#                                        hook (libvirt clears the environment of hooks, and the
#                                        built hook looks for <prefix>/<sysconfdir>/netcarry/...,
#                                        /usr/local/etc/... in a default build)
#   /run/netcarry/netcarryd.sock         the hook socket (the config's default path)
#   /etc/pki/...                         the run's PKI (lib/pki.sh): the config's [tls] defaults
# netcarryd runs as `nsenter -t <libvirtd pid> -m -n -u -- netcarryd --config ... --foreground`,
# recorded in $RUN/pids/netcarryd-H; its log is $RUN/hosts/H/netcarryd.log (appended, cut per
# scenario into the artifacts).

NCH_NC_PORT=${NCH_NC_PORT:-16520}
# netcarryd's [timeouts] defaults, which the harness's config keeps: the bounds scenarios expect
# (read by the scenarios: shellcheck sees no use here)
# shellcheck disable=SC2034
NCH_NC_GATE_LAPSE_MS=10000      # gate-lapse-ms: a gate nobody renews opens by itself
# shellcheck disable=SC2034
NCH_NC_SEAL_MS=2000             # seal-ms: after the guest's resume, the seal's longest wait
# shellcheck disable=SC2034
NCH_NC_IDLE_MS=5000             # peer-idle-ms: the longest silence on a peer link
NCH_NC_CONF=/etc/netcarry/netcarry.conf
# node_exporter's textfile directory as netcarryd sees it, private to each host (under /run/netcarry)
NCH_NC_METRICS=/run/netcarry/metrics
NCH_NC_SOCK=/run/netcarry/netcarryd.sock
NCH_PROFILE_NS=https://netcarry.dev/xmlns/profile/1
NCH_REPORT_NS=https://netcarry.dev/xmlns/report/1

# nc_build [DIR] - the build directory netcarry comes from (remembered in the run).
nc_build() {
    if [ -n "${1:-}" ]; then
        [ -d "$1" ] || die "no build directory '$1'"
        readlink -f "$1" > "$RUN/build"
    fi
    [ -s "$RUN/build" ] || die "which netcarry build? (nch netcarry-up HOST BUILD, or nch test --build DIR)"
    cat "$RUN/build"
}
nc_daemon_bin() { echo "$(nc_build)/src/daemon/netcarryd"; }
nc_hook_bin() { echo "$(nc_build)/hooks/netcarry"; }
# NCH_NC_CLI: another CLI (a path inside the host), e.g. the packaged /usr/bin/netcarry
nc_cli_bin() { echo "${NCH_NC_CLI:-$(nc_build)/src/netcarry}"; }

# nc_missing - print what of netcarry is not built (empty: all there).
nc_missing() {
    local b
    for b in "$(nc_daemon_bin)" "$(nc_hook_bin)" "$(nc_cli_bin)"; do
        [ -x "$b" ] || echo "$b"
    done
}

nc_log() { echo "$(host_dir "$1")/netcarryd.log"; }

# nc_conf HOST POLICY GATE_MODE - the host's netcarry.conf (TLS files: the defaults, /etc/pki).
nc_conf() {
    cat <<EOT
# written by test-harness (nch netcarry-up) for host $1 of run $NCH_ID
[listen]
address = $(host_ip "$1")
port = $NCH_NC_PORT

[migration]
admission = $2
gate-mode = $3

[daemon]
log-level = ${NCH_NC_LOG_LEVEL:-debug}
hook-socket = $NCH_NC_SOCK

[metrics]
textfile-dir = $NCH_NC_METRICS
EOT
    # a scenario's extra groups for this host (e.g. 23-topology's [point NAME])
    [ -s "$(host_dir "$1")/netcarry-extra.conf" ] && { echo; cat "$(host_dir "$1")/netcarry-extra.conf"; }
    true
}

# nc_metric HOST SERIES - a sample's value in HOST's metrics file (0 when absent), e.g.
# nc_metric B 'netcarry_migrations_total{outcome="completed"}'
nc_metric() {
    local v
    v=$(awk -v s="$2" '$1 == s { print $2 }' "$(host_dir "$1")$NCH_NC_METRICS/netcarry.prom" 2>/dev/null)
    echo "${v:-0}"
}

# nc_hook_install HOST - the hook drop-in: a wrapper that names the config and execs the build's hook.
nc_hook_install() {
    local d; d=$(host_dir "$1")/etc/libvirt/hooks/qemu.d
    cat > "$d/.netcarry.tmp" <<EOT
#!/bin/sh
# qemu.d/netcarry, installed by test-harness (nch netcarry-up): libvirt runs hooks with an
# empty environment, so the config's path is given here; the rest is netcarry's own hook.
NETCARRY_CONF=$NCH_NC_CONF
export NETCARRY_CONF
exec $(nc_hook_bin) "\$@"
EOT
    chmod 0755 "$d/.netcarry.tmp" && mv "$d/.netcarry.tmp" "$d/netcarry"
}

nc_hook_remove() { rm -f "$(host_dir "$1")/etc/libvirt/hooks/qemu.d/netcarry"; }

nc_running() { pid_alive "$(pid_of "netcarryd-$1")"; }

# nc_socket_ready HOST - netcarryd runs and its hook socket exists.
nc_socket_ready() { nc_running "$1" && [ -S "$(host_dir "$1")$NCH_NC_SOCK" ]; }

# nc_start HOST - start netcarryd inside HOST and wait (bounded) for its hook socket.
nc_start() {
    local h=$1 lv bin t0; bin=$(nc_daemon_bin); t0=$(now_ms)
    [ -x "$bin" ] || die "netcarryd is not built ($bin)"
    nc_running "$h" && return 0
    lv=$(pid_of "libvirtd-$h"); pid_alive "$lv" || die "host $h is not running"
    rm -f "$(host_dir "$h")$NCH_NC_SOCK"      # stale: no netcarryd of this host is running
    echo "$(now_ms) nch: starting netcarryd on host $h" >> "$(nc_log "$h")"
    # nsenter and setsid exec (no fork), so the recorded PID is netcarryd's own.
    # shellcheck disable=SC2086  # NCH_NETCARRYD_ARGS: extra words on purpose
    setsid nsenter -t "$lv" -m -n -u -- "$bin" --config "$NCH_NC_CONF" --foreground \
        ${NCH_NETCARRYD_ARGS:-} </dev/null >>"$(nc_log "$h")" 2>&1 &
    pid_add "netcarryd-$h" $!
    if ! wait_until 15 "netcarryd's hook socket on host $h" nc_socket_ready "$h"; then
        nc_running "$h" || log "netcarryd on host $h exited; its log: $(tail -n 5 "$(nc_log "$h")")"
        return 1
    fi
    timing "netcarryd start on host $h (ms)" $(( $(now_ms) - t0 ))
}

# nc_stop HOST - stop HOST's netcarryd (TERM, then KILL after 5 s).
nc_stop() {
    nc_running "$1" && echo "$(now_ms) nch: stopping netcarryd on host $1" >> "$(nc_log "$1")"
    pid_stop "netcarryd-$1"
}

# nc_kill HOST - SIGKILL HOST's netcarryd (a crash: none of its own clean-up runs) and forget it.
nc_kill() {
    local p; p=$(pid_of "netcarryd-$1")
    pid_alive "$p" || { log "nc_kill: netcarryd is not running on host $1"; return 1; }
    echo "$(now_ms) nch: SIGKILL to netcarryd on host $1" >> "$(nc_log "$1")"
    kill -KILL "$p"
    wait_until 5 "netcarryd on host $1 to die" nc_pid_gone "$p"
    rm -f "$RUN/pids/netcarryd-$1"
}
nc_pid_gone() { ! pid_alive "$1"; }

# nc_freeze HOST / nc_thaw HOST - SIGSTOP / SIGCONT HOST's netcarryd: a daemon that hangs (its
# sockets stay open, it answers nothing).
nc_freeze() {
    echo "$(now_ms) nch: SIGSTOP to netcarryd on host $1" >> "$(nc_log "$1")"
    kill -STOP "$(pid_of "netcarryd-$1")"
}
nc_thaw() {
    kill -CONT "$(pid_of "netcarryd-$1")" 2>/dev/null
    echo "$(now_ms) nch: SIGCONT to netcarryd on host $1" >> "$(nc_log "$1")"
}

# nc_up HOST [--policy refuse|proceed] [--gate-mode gate|suspend] [--cert harness|foreign]
# Config, PKI, hook and daemon as asked; a daemon already running with exactly that is kept.
nc_up() {
    local h=$1 policy=refuse gate=gate cert=harness d new; shift
    while [ $# -gt 0 ]; do
        case $1 in
        --policy) policy=$2; shift 2 ;;
        --gate-mode) gate=$2; shift 2 ;;
        --cert) cert=$2; shift 2 ;;
        *) die "netcarry-up: unknown option '$1'" ;;
        esac
    done
    case $policy in refuse|proceed) ;; *) die "--policy refuse|proceed, not '$policy'" ;; esac
    case $gate in gate|suspend) ;; *) die "--gate-mode gate|suspend, not '$gate'" ;; esac
    case $cert in harness|foreign) ;; *) die "--cert harness|foreign, not '$cert'" ;; esac
    d=$(host_dir "$h")
    mkdir -p "$d$NCH_NC_METRICS"
    new=$(nc_conf "$h" "$policy" "$gate")
    if [ "$new" != "$(cat "$d$NCH_NC_CONF" 2>/dev/null)" ] || [ "$(pki_issuer "$h")" != "$cert-ca" ]; then
        nc_stop "$h"
        echo "$new" > "$d$NCH_NC_CONF"
        if [ "$cert" = foreign ]; then pki_install "$h" foreign; else pki_install "$h"; fi
    fi
    nc_hook_install "$h"
    nc_start "$h"
}

# nc_down HOST [--purge] - stop netcarryd; --purge also removes the hook and the config, so that
# the host behaves as one without netcarry.
nc_down() {
    nc_stop "$1"
    if [ "${2:-}" = --purge ]; then
        nc_hook_remove "$1"
        rm -f "$(host_dir "$1")$NCH_NC_CONF"
    fi
}

# nc_cli HOST ARGS... - the netcarry CLI inside HOST, talking to that host's libvirtd.
nc_cli() { local h=$1; shift; host_exec "$h" "$(nc_cli_bin)" "$@"; }

# nc_rendezvous HOST - the rendezvous in the guest's live profile on HOST (empty if none).
nc_rendezvous() {
    vsh "$1" metadata "$NCH_GUEST" --uri "$NCH_PROFILE_NS" 2>/dev/null | grep -o '<[a-z:]*rendezvous[^>]*>'
}

# nc_rendezvous_renewed HOST OLD - HOST published the guest's rendezvous, and it is not OLD (a
# daemon that takes the guest up renews its secret; a dead daemon's rendezvous stays behind).
nc_rendezvous_renewed() { nc_rendezvous_is_here "$1" && [ "$(nc_rendezvous "$1")" != "$2" ]; }

# nc_wait_rendezvous HOST - wait (bounded) until HOST's netcarryd has published its rendezvous
# in the guest's live metadata: before that, a destination cannot know where to find it.
nc_rendezvous_is_here() { nc_rendezvous "$1" | grep -q "host=\"$(host_ip "$1")\"\|host=\"host$1\""; }
nc_wait_rendezvous() {
    wait_until 15 "netcarryd on host $1 to publish the guest's rendezvous" nc_rendezvous_is_here "$1"
}

# nc_set_profile HOST [XML...] - the guest's live profile on HOST: its address, then XML (e.g.
# `<object family='inet' table='T' type='quota' name='N'/>`, in the profile's namespace), its
# rendezvous kept as it is; a netcarryd running on HOST is restarted and takes the guest up with
# it (waited for: a fresh rendezvous). The profile travels with the guest when it migrates.
nc_set_profile() {
    local h=$1 x old; shift
    x="<profile xmlns='$NCH_PROFILE_NS'><address>$NCH_GUEST_IP</address>$*"
    x="$x$(nc_rendezvous "$h" | sed 's/^<[a-z:]*rendezvous/<rendezvous/')</profile>"
    vsh "$h" metadata "$NCH_GUEST" --live --uri "$NCH_PROFILE_NS" --key netcarry --set "$x" >/dev/null ||
        return 1
    nc_running "$h" || return 0
    old=$(nc_rendezvous "$h")
    nc_stop "$h"
    nc_start "$h" || return 1
    wait_until 15 "netcarryd on $h to take the guest up" nc_rendezvous_renewed "$h" "$old"
}

# nc_profile_objects HOST - the <object/> elements of the guest's live profile on HOST
nc_profile_objects() {
    vsh "$1" metadata "$NCH_GUEST" --uri "$NCH_PROFILE_NS" 2>/dev/null | grep -o '<[a-z:]*object [^>]*>'
}

# nc_report_xml HOST - the report stored in the guest's metadata on HOST (what platforms read).
nc_report_xml() { vsh "$1" metadata "$NCH_GUEST" --uri "$NCH_REPORT_NS" 2>/dev/null; }

# nc_guest_ct HOST - conntrack entries of the guest's address in HOST's kernel (one per line).
nc_guest_ct() {
    { ip netns exec "$(host_ns "$1")" conntrack -L -s "$NCH_GUEST_IP" 2>/dev/null
      ip netns exec "$(host_ns "$1")" conntrack -L -d "$NCH_GUEST_IP" 2>/dev/null; } | sort -u
}

# nc_guest_ct_flush HOST - forget the guest's conntrack entries on HOST (left by earlier
# scenarios: the guest once ran there), so that what a scenario finds is its own.
nc_guest_ct_flush() {
    ip netns exec "$(host_ns "$1")" conntrack -D -s "$NCH_GUEST_IP" >/dev/null 2>&1
    ip netns exec "$(host_ns "$1")" conntrack -D -d "$NCH_GUEST_IP" >/dev/null 2>&1
    true
}

# nc_gates HOST - netcarry's gate tables (nftables netdev netcarry_gate_*) on HOST.
nc_gates() {
    local out i
    for i in 1 2 3; do
        out=$(ip netns exec "$(host_ns "$1")" nft list tables netdev 2>&1) && break
        log "host $1: listing its gates failed (try $i): $(echo "$out" | head -n 1)"
        sleep 0.1
    done
    echo "$out" | grep netcarry_gate_
}

# nc_gates_closed HOST - the gate tables on HOST that still hold the guest's IP traffic (their
# set 'closed' has elements; a lapsed gate is an empty set: docs/kernel-facts.md).
nc_gates_closed() {
    local t out i
    for t in $(nc_gates "$1" | awk '{ print $3 }'); do
        # a read can fail while the table changes (it is then tried again); a table that is gone
        # holds nothing
        for i in 1 2 3; do
            out=$(ip netns exec "$(host_ns "$1")" nft list set netdev "$t" closed 2>&1) && break
            log "host $1: reading gate $t failed (try $i): $(echo "$out" | head -n 1)"
            sleep 0.1
        done
        echo "$out" | grep -q 'elements' && echo "$t"
    done
}

# nc_host_clean HOST - nothing of the guest on HOST: no conntrack entry of its address, no gate.
nc_host_clean() { [ -z "$(nc_guest_ct "$1")" ] && [ -z "$(nc_gates "$1")" ]; }
