# test-harness/lib/demo.sh - the story that test-harness/demo tells, told with the harness's own
# functions (hosts, guest, firewall, netcarry-up, sc_client/sc_migrate/sc_report, artifacts).
#
# The demo sources the harness libraries as nch does and drives them from one shell: stdout is
# the story (fd 3 once demo_open has run), everything the harness says goes to $DEMO_LOG. Each
# part is a harness scenario of its own (sc_begin/sc_end), so its artifacts, checks and merged
# timeline land in $RUN/artifacts/demo-*, exactly where a scenario's would.
# shellcheck shell=bash

NCH_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck disable=SC2034  # the harness's globals, as nch sets them
NCH_SCENARIOS=$(dirname "$NCH_LIB")/scenarios
NCH_SELF=$(dirname "$NCH_LIB")/nch
for f in common hosts guest firewall pki netcarry artifacts scenario; do
    # shellcheck disable=SC1090
    . "$NCH_LIB/$f.sh"
done
unset f

# The carried connections may stall at most this long (scenario 03's bound): FINDINGS measured
# 42-178 ms of downtime under TCG, 226 ms of stall when state came at RESUME, 3.2 s when late.
DEMO_MAX_STALL_MS=${DEMO_MAX_STALL_MS:-1000}

# --- output --------------------------------------------------------------------------------

# demo_open LOG - from here on, stdout and stderr go to LOG; the story goes to fd 3 (the terminal).
demo_open() {
    DEMO_LOG=$1
    DEMO_T0=${DEMO_T0:-$(now_ms)}      # test-harness/demo sets it before installing and building
    exec 3>&1 >>"$DEMO_LOG" 2>&1
    DEMO_BOLD="" DEMO_RED="" DEMO_GREEN="" DEMO_OFF=""
    if [ -t 3 ]; then        # colours for a terminal only, not for a log or a CI page
        DEMO_BOLD=$'\033[1m' DEMO_RED=$'\033[1;31m' DEMO_GREEN=$'\033[1;32m' DEMO_OFF=$'\033[0m'
    fi
}

# say TEXT - a section heading; line TEXT - one line of the story (both also marked in the log).
say() {
    printf '\n%s== %s%s\n' "$DEMO_BOLD" "$*" "$DEMO_OFF" >&3
    log "=== demo: $*"
}
line() { printf '   %s\n' "$*" >&3; }
# lines - indent stdin into the story.
lines() { sed 's/^/   | /' >&3; }

# demo_fail WHAT - say what failed, show the log's tail, and exit (the EXIT trap tears down).
demo_fail() {
    printf '\n%sdemo failed: %s%s\n' "$DEMO_RED" "$*" "$DEMO_OFF" >&3
    printf 'last lines of %s:\n' "$DEMO_LOG" >&3
    tail -n 15 "$DEMO_LOG" | sed 's/^/   /' >&3
    exit 1
}

# --- what the viewer is shown ----------------------------------------------------------------

# demo_client TAG - one line on how a client's connection fared, from its result line.
demo_client() {
    local t=$1 ok stall recv sent what
    ok=$(sc_result "$t" ok); stall=$(sc_result "$t" max_stall_ms)
    recv=$(sc_result "$t" received); sent=$(sc_result "$t" sent)
    if [ "$(sc_result "$t" mode)" = tcp-bulk ]; then
        what="$(awk -v b="$recv" 'BEGIN { printf "%.2f GB", b / 1e9 }') streamed from the guest"
    else
        what="$recv of $sent lines echoed"
    fi
    if [ "$ok" = 1 ]; then
        line "$(printf '%-5s ALIVE: %s, in order, %s resets, longest stall %s ms' \
            "$t" "$what" "$(sc_result "$t" resets)" "$stall")"
    else
        line "$(printf '%-5s DEAD:  %s, then %s' "$t" "$what" \
            "$(sc_result "$t" first_error | tr _ ' ' | sed 's/^connection 0: //')")"
    fi
}

# demo_migrate SRC DST [--p2p] - sc_migrate, shown as the operator's command and its outcome.
demo_migrate() {
    local src=$1 dst=$2 p2p="" rc ms
    [ "${3:-}" = --p2p ] && p2p=" --p2p"
    line "\$ virsh -c $(host_uri "$src") migrate --live$p2p $NCH_GUEST $(host_uri "$dst") --migrateuri tcp://$(host_ip "$dst")"
    sc_migrate "$@"; rc=$?
    ms=$(awk 'END { print $2 - $1 }' "$ART/migrations")
    if [ $rc = 0 ]; then line "  migrated $src -> $dst in $((ms / 100 / 10)).$((ms / 100 % 10)) s"
    else line "  virsh failed (exit $rc): $(head -n 2 "$ART/migrate-$src$dst.out" | tr '\n' ' ')"; fi
    return $rc
}

# demo_timeline ART SRC DST - the migration SRC->DST from the scenario's merged timeline, the
# events a person follows (harness, hooks, QMP STOP/RESUME, libvirt lifecycle, netcarryd's
# phase messages), in ms from the source's STOP.
demo_timeline() {
    "$NCH_PY" - "$1/timeline.txt" "$2" "$3" <<'EOF'
import re, sys
path, src, dst = sys.argv[1:]
LINE = re.compile(r'^\s*([+-]\d+) ms  (\S+)\s+(\S+)\s+(.*)$')
GLIB = re.compile(r'^(?:\(netcarryd:\d+\): )?([\w-]+)-(INFO|Message): \d\d:\d\d:\d\d\.\d+: (.*)$')
rows, inside = [], False
for raw in open(path, errors='replace'):
    m = LINE.match(raw.rstrip('\n'))
    if not m:
        continue
    ms, host, kind, text = int(m.group(1)), m.group(2), m.group(3), m.group(4)
    if kind == 'harness' and text.startswith('migrate %s->%s ' % (src, dst)):
        if ' begins' in text:
            inside = True
            rows.append((ms, '-', 'virsh', 'migrate %s -> %s begins' % (src, dst)))
            continue
        if inside and ' ends ' in text:
            rc = re.search(r'rc=(\d+) after (\d+) ms', text)
            rows.append((ms, '-', 'virsh', 'migrate returns: exit %s after %s ms' % rc.groups()
                         if rc else text))
            break
    if not inside:
        continue
    if kind == 'hook':
        a = re.search(r'argv=\[\S+ (.*?) -\]', text)
        if a:
            rows.append((ms, host, 'hook', a.group(1)))
    elif kind == 'qmp':
        e = re.search(r'event (STOP|RESUME) ', text)
        if e:
            rows.append((ms, host, 'qemu', e.group(1) + (' (the guest stops)' if e.group(1) == 'STOP'
                                                            else ' (the guest runs again)')))
        elif '"status":"completed"' in text and host == src:
            rows.append((ms, host, 'qemu', 'migration completed'))
    elif kind == 'libvirt':
        e = re.search(r"'lifecycle' for domain '\S+': (.*)$", text)
        if e:
            rows.append((ms, host, 'libvirt', e.group(1)))
        d = re.search(r"'job-completed'.*?downtime: (\d+)", text)
        if d:
            rows.append((ms, host, 'libvirt', 'job completed, downtime %s ms' % d.group(1)))
    elif kind == 'netcarry':
        g = GLIB.match(text)
        if g and g.group(1) in ('nc-carry', 'netcarry-hook-server'):
            msg = re.sub(r'^domain [0-9a-f-]{36} \((\w+), phase [\w-]+\): ', r'\1: ', g.group(3))
            msg = re.sub(r'^[0-9a-f-]{36}/(\w+): ', r'\1: ', msg)
            rows.append((ms, host, 'netcarryd', msg))
stop = next((ms for ms, h, k, t in rows if h == src and t.startswith('STOP')), None)
base = stop if stop is not None else (rows[0][0] if rows else 0)
for ms, host, kind, text in rows:
    print('%+7d ms  %-2s %-9s %s' % (ms - base, host, kind, text[:110]))
EOF
}

# --- the parts of the story ------------------------------------------------------------------

# demo_setup RUN_DIR BUILD TRAFFIC - two libvirt hosts, firewalls, the guest booted on A.
demo_setup() {
    local build=$2 traffic=$3 t0 h
    t0=$(now_ms)
    run_create "$1" 2
    echo "$build" > "$RUN/build"
    echo "$traffic" > "$RUN/traffic"
    export NCH_TRAFFIC=$traffic
    [ -z "$(nc_missing)" ] || demo_fail "netcarry is not fully built: $(nc_missing | tr '\n' ' ')"
    hosts_up || demo_fail "starting the libvirt hosts failed"
    guest_build "$traffic" || demo_fail "building the guest (kernel + initramfs) failed"
    guest_start A || demo_fail "booting the guest failed"
    for h in $NCH_HOSTS; do fw_on "$h"; done
    line "fabric namespace $NCH_FABRIC_NS ($NCH_NET.1): the client, and virsh as a management station"
    for h in $NCH_HOSTS; do
        line "host $h: namespace $(host_ns "$h"), libvirtd on $(host_uri "$h"), its own /etc/libvirt"
    done
    line "guest '$NCH_GUEST' ($NCH_GUEST_IP, TCG) running on host A: TCP echo :7, byte source :9000"
    line "firewall on both hosts (nft inet $NCH_FW_TABLE, forward, policy drop):"
    line "   ct state established,related accept; new TCP only on a bare SYN to the guest; else drop"
    line "ready in $(( ($(now_ms) - t0) / 1000 )) s"
}

# demo_open_connections - a TCP echo (a line every 20 ms) and a bulk stream, client -> guest.
demo_open_connections() {
    sc_client echo tcp-echo 7 --interval-ms 20 --stall-timeout-s 5
    sc_client bulk tcp-bulk 9000 --direction recv --stall-timeout-s 5
    sleep 2
    line "client ($NCH_NET.1): tcp-echo to :7 every 20 ms + tcp-bulk from :9000;" \
        "A's firewall passed $(fw_counter A established) packets as established"
}

# demo_without - part 2: no netcarry anywhere; A->B kills the connections; B's counters say why.
demo_without() {
    local d0 d1 rc_e rc_b h
    sc_begin demo-1-without-netcarry
    for h in $NCH_HOSTS; do nc_down "$h" --purge; done
    demo_open_connections
    d0=$(fw_counter B dropped_tcp)
    demo_migrate A B || demo_fail "the migration A -> B failed"
    line "waiting for the clients (a connection that does not move for 5 s is dead) ..."
    sc_client_wait echo 30; rc_e=$?
    sc_client_wait bulk 30; rc_b=$?
    d1=$(fw_counter B dropped_tcp)
    demo_client echo
    demo_client bulk
    line "B's firewall counter dropped_tcp: $d0 -> $d1 packets. B has never seen these"
    line "connections: their packets are not a SYN and match no conntrack entry, so B drops them."
    sc_check "the echo connection dies without netcarry (exit $rc_e)" [ "$rc_e" != 0 ]
    sc_check "the bulk connection dies without netcarry (exit $rc_b)" [ "$rc_b" != 0 ]
    sc_check "B dropped their packets ($d0 -> $d1)" [ "$d1" -gt "$d0" ]
    sc_fw_snapshot after-break
    sc_migrate B A >/dev/null || demo_fail "moving the guest back to host A failed"
    line "(the guest went back to A for part 3; nothing was open)"
    sc_end
    # The dead connections' entries would otherwise be carried in part 3 too.
    for h in $NCH_HOSTS; do nc_guest_ct_flush "$h"; done
}

# demo_with - part 3: netcarryd + hook on both hosts, A->B and B->A under traffic. Sets DEMO_OK.
demo_with() {
    local h t t0 rc_e rc_b dA0 dA1 dB0 dB1 ok=1
    sc_begin demo-2-with-netcarry
    for h in $NCH_HOSTS; do fw_on "$h"; done       # the same rules, counters from zero
    for h in $NCH_HOSTS; do nc_up "$h" || demo_fail "netcarryd did not start on host $h"; done
    nc_wait_rendezvous A || demo_fail "netcarryd on A never published the guest's rendezvous"
    for h in $NCH_HOSTS; do
        line "host $h: netcarryd pid $(pid_of "netcarryd-$h") on $(host_ip "$h"):$NCH_NC_PORT (TLS)," \
            "hook /etc/libvirt/hooks/qemu.d/netcarry"
    done
    demo_open_connections
    dA0=$(fw_counter A dropped_tcp); dB0=$(fw_counter B dropped_tcp)
    t0=$(now_ms)
    demo_migrate A B || ok=0
    sc_check "migration A->B succeeds" [ $ok = 1 ]
    sc_report AB B "$t0" 2
    sleep 2
    if [ $ok = 1 ]; then
        nc_wait_rendezvous B || sc_note "netcarryd on B did not publish a rendezvous in 15 s"
        t0=$(now_ms)
        demo_migrate B A --p2p || ok=0
        sc_check "migration B->A (--p2p) succeeds" [ $ok = 1 ]
        sc_report BA A "$t0" 2
        sleep 2
    fi
    dA1=$(fw_counter A dropped_tcp); dB1=$(fw_counter B dropped_tcp)
    sc_client_stop echo; rc_e=$?
    sc_client_stop bulk; rc_b=$?
    demo_client echo
    demo_client bulk
    line "firewalls: dropped_tcp on A $dA0 -> $dA1, on B $dB0 -> $dB1"
    sc_client_intact echo "$rc_e" "$DEMO_MAX_STALL_MS" || ok=0
    sc_client_intact bulk "$rc_b" "$DEMO_MAX_STALL_MS" || ok=0
    sc_check "echo and bulk survived A->B->A: all data, in order, no reset, stall <= $DEMO_MAX_STALL_MS ms" \
        [ $ok = 1 ]
    sc_end
    DEMO_OK=$ok

    if [ -s "$ART/report-AB.txt" ]; then
        say "3b. netcarry report $NCH_GUEST, run inside host B after A -> B"
        lines < "$ART/report-AB.txt"
    fi
    if [ -s "$ART/report-BA.txt" ]; then
        line ""
        line "and on host A after B -> A (--p2p):"
        grep -E '^(conntrack|margin|source stop)' "$ART/report-BA.txt" | lines
    fi
    # the picture of each migration (netcarry report DOMAIN --svg FILE), written by sc_report
    for t in AB BA; do
        [ -s "$ART/report-$t.svg" ] || continue
        line ""
        line "timeline of ${t:0:1} -> ${t:1:1} as a picture: $ART/report-$t.svg"
        line "  (open it in a browser; 'netcarry report $NCH_GUEST --svg FILE' draws it on any host)"
    done
    if [ -s "$ART/timeline.txt" ]; then
        say "3c. Timeline of A -> B: all hosts' logs merged, ms from the source's STOP (±1 ms)"
        demo_timeline "$ART" A B | lines
        line "(every line of both hosts: $ART/timeline.txt)"
    fi
}

# demo_teardown - the harness's own teardown ('nch down'), then what is left and where the
# artifacts are. 'nch down' runs as a process of its own: inside an EXIT trap that an exit or a
# signal fired, bash gives a bare 'return' the status from before the trap, so the harness's
# host_index (and with it host_ns) fails there and the hosts' namespaces would be skipped.
demo_teardown() {
    local left
    [ -n "${RUN:-}" ] && [ -f "$RUN/env" ] || return 0
    # An exit inside a redirected command (virsh migrate > FILE, interrupted) keeps its
    # redirections in the trap: put the log back first.
    exec >>"$DEMO_LOG" 2>&1
    say "4. Teardown"
    left=$("$NCH_SELF" --run "$RUN" down)
    if [ -z "$left" ]; then
        line "guest destroyed, libvirtd, netcarryd and clients stopped, namespaces nch$NCH_ID-* deleted"
    else
        line "LEFT OVER (remove with: test-harness/nch --run $RUN down):"
        echo "$left" | lines
    fi
    line "artifacts: $RUN/artifacts/demo-*  (logs of both hosts, events, firewall"
    line "           counters, client outputs, reports, checks, timeline.txt)"
    line "log:       $DEMO_LOG"
    line "the demo took $(( ($(now_ms) - DEMO_T0) / 1000 )) s"
}

# demo_verdict - the last line: did the carried connections survive (DEMO_OK 1), or not (0)?
demo_verdict() {
    case ${DEMO_OK:-} in
    1) printf '\n%sRESULT: the connections netcarry carried survived A -> B -> A.%s\n' \
           "$DEMO_GREEN" "$DEMO_OFF" >&3 ;;
    0) printf '\n%sRESULT: the carried connections did NOT survive (see the artifacts).%s\n' \
           "$DEMO_RED" "$DEMO_OFF" >&3 ;;
    esac
}
