# test-harness/lib/scenario.sh - the scenario runner: traffic clients in the fabric, recorded live
# migrations, checks, and 'nch test', which runs scenarios as TAP tests on one booted guest.
#
# A scenario is scenarios/NN-name.sh defining SCENARIO_DESC and scenario_run(); it runs in a
# subshell with $ART (its artifact folder), drives sc_* below, and fails if any sc_check failed.

sc_note() { echo "$(now_ms) $*" >> "$ART/harness.log"; log "$*"; }

# sc_begin NAME - open the artifact folder and mark every host log.
sc_begin() {
    ART=$RUN/artifacts/$1
    rm -rf "$ART"; mkdir -p "$ART"
    art_mark
    # a sign the guest left after the previous scenario's checks counts for this scenario
    local before; before=$(guest_broken)
    if [ -n "$before" ]; then
        echo "$before (before this scenario began)" > "$ART/bed-sign-before"
        sc_note "the guest showed signs of breaking before this scenario began: $before"
    fi
    guest_mark
    local h; for h in $NCH_HOSTS; do echo "$h $(fw_counter "$h" dropped_tcp)"; done > "$ART/.drops0"
    sc_note "scenario $1 begins (guest on $(guest_where || echo none))"
}

# sc_bed_broken - print why the test bed (the guest itself) broke during this scenario; nothing if
# it did not. Signs: the guest's console or QEMU's events (guest_broken), or a guest that answers
# no new connection while no firewall dropped a packet since the scenario began and no netcarry
# gate is on its host (so nothing of netcarry's or the firewall's holds it back).
sc_bed_broken() {
    local why h d0 d
    why=$(cat "$ART/bed-sign-before" 2>/dev/null)
    [ -n "$why" ] || why=$(guest_broken)
    [ -n "$why" ] && { echo "$why"; return 0; }
    h=$(guest_where) || return 0
    guest_answers && return 0
    d0=$(awk -v h="$h" '$1 == h { print $2 }' "$ART/.drops0" 2>/dev/null)
    d=$(fw_counter "$h" dropped_tcp)
    [ "${d0:-0}" = "$d" ] && [ -z "$(nc_gates "$h")" ] &&
        echo "host $h: the guest answers no new connection, with no firewall drop and no gate (console: $(guest_console "$h"))"
    return 0
}

# sc_client TAG MODE ARGS... - start nc-traffic MODE against the guest from the fabric (against
# SC_CLIENT_ADDR when set, e.g. a load balancer's address in front of it).
sc_client() {
    local tag=$1 mode=$2 addr=${SC_CLIENT_ADDR:-$NCH_GUEST_IP}; shift 2
    [ -x "${NCH_TRAFFIC:-}" ] || die "no nc-traffic client (pass --traffic or set NCH_TRAFFIC)"
    sc_note "client $tag: nc-traffic $mode $addr $*"
    ip netns exec "$NCH_FABRIC_NS" "$NCH_TRAFFIC" "$mode" "$addr" "$@" > "$ART/client-$tag.out" 2>&1 </dev/null &
    pid_add "client-$tag" $!
}

# sc_client_wait TAG SECONDS - wait for a client; its exit status is returned, its result kept.
sc_client_wait() {
    local rc
    wait_pid "$2" "$(pid_of "client-$1")"; rc=$?
    rm -f "$RUN/pids/client-$1"
    grep '^result ' "$ART/client-$1.out" | tail -n 1 > "$ART/client-$1.result"
    sc_note "client $1 exited $rc: $(cat "$ART/client-$1.result")"
    return $rc
}

# sc_client_broke RC TAG - the client TAG ended as a broken flow: exit 1 and not ok.
sc_client_broke() { [ "$1" = 1 ] && [ "$(sc_result "$2" ok)" = 0 ]; }

# sc_fresh TAG - a new connection to the guest, echoed for 2 s; its exit status.
sc_fresh() {
    sc_client "$1" tcp-echo 7 --interval-ms 20 --duration-s 2 --stall-timeout-s 3
    sc_client_wait "$1" 20
}

# sc_within R_SRC R_DST WANT TOL - both readings there, and |R_DST - WANT| <= TOL (a carried
# element's remaining time against the source's reading less the time between the readings).
sc_within() {
    local d
    [ -n "$1" ] && [ -n "$2" ] || return 1
    d=$(( $2 - $3 )); [ "${d#-}" -le "$4" ]
}

# sc_client_stop TAG - ask a client without --duration-s to finish (it then reports), and wait.
sc_client_stop() {
    kill -TERM "$(pid_of "client-$1")" 2>/dev/null
    sc_client_wait "$1" 20
}

# sc_result TAG KEY - one field of a client's final 'result' line.
sc_result() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" "$ART/client-$1.result"; }

# sc_migrate SRC DST [--p2p] [VIRSH-OPTION...] - plain 'virsh migrate --live' from the fabric, as
# an operator would (extra options, e.g. --bandwidth 1, go to virsh as they are).
sc_migrate() {
    local src=$1 dst=$2 mode=direct t0 t1 rc extra=()
    shift 2
    [ "${1:-}" = --p2p ] && { mode=p2p; extra=(--p2p); shift; }
    extra+=("$@")
    : "${ART:=$RUN/artifacts/manual}"; mkdir -p "$ART"
    sc_note "migrate $src->$dst ($mode) begins"
    t0=$(now_ms)
    vsh "$src" migrate --live "${extra[@]}" "$NCH_GUEST" "$(host_uri "$dst")" \
        --migrateuri "tcp://$(host_ip "$dst")" > "$ART/migrate-$src$dst.out" 2>&1
    rc=$?; t1=$(now_ms)
    echo "$t0 $t1 $src $dst $rc $mode" >> "$ART/migrations"
    sc_note "migrate $src->$dst ($mode) ends rc=$rc after $((t1 - t0)) ms $(tr '\n' ' ' < "$ART/migrate-$src$dst.out")"
    return $rc
}

# sc_migrate_bg SRC DST [VIRSH-OPTION...] - sc_migrate in the background (e.g. slowed with
# --bandwidth 1 so that a test can act during pre-copy); sc_migrate_wait SECONDS waits for it
# (killed at the deadline, when its job is aborted too, so that the guest is left in one place)
# and returns virsh's exit status.
sc_migrate_bg() {
    echo "$1" > "$ART/.migrate-bg-src"
    ( sc_migrate "$@" ) &
    pid_add migrate-bg $!
}
sc_migrate_wait() {
    local rc p; p=$(pid_of migrate-bg)
    wait_pid "$1" "$p"; rc=$?
    rm -f "$RUN/pids/migrate-bg"
    if [ "$rc" -gt 128 ]; then
        sc_note "virsh migrate still ran after $1 s: killed, its job aborted"
        vsh "$(cat "$ART/.migrate-bg-src")" domjobabort "$NCH_GUEST" >/dev/null 2>&1
    fi
    return $rc
}

# sc_migrate_slow SRC DST - a migration slowed to 1 MiB/s in the background (sc_migrate_bg), and
# the check that its pre-copy is under way: DST holds some of the guest's entries and a gate
# that holds its traffic. Faults are injected from there; sc_migrate_speed lets it go on.
sc_migrate_slow() {
    local n
    sc_migrate_bg "$1" "$2" --bandwidth 1
    wait_until 30 "pre-copy with state on $2" sc_precopy_under_way "$2"
    # QEMU's transfer has begun (libvirt sets the bandwidth when it starts it: a change of speed
    # before that would be overwritten)
    wait_until 30 "the migration's transfer from $1" sc_migration_moving "$1"
    n=$(nc_guest_ct "$2" | wc -l)
    sc_check "pre-copy is under way: $2 holds $n entries of the guest and a closed gate" \
        [ "$n" -gt 0 -a -n "$(nc_gates_closed "$2")" ]
}

# sc_migration_moving SRC - the guest's migration job on SRC has sent memory already.
sc_migration_moving() {
    vsh "$1" domjobinfo "$NCH_GUEST" 2>/dev/null | grep -E '^(Data|Memory) processed: +[0-9.]+ [KMG]i?B'
}

# sc_check_logged HOST FILE ERE WHAT - in this case (sc_case), HOST's log FILE has a line that
# matches ERE (grep -E -i): WHAT happened, and the line says so.
sc_check_logged() {
    local line
    line=$(sc_case_log "$1" "$2" | grep -E -i -m 1 "$3")
    sc_check "$4 (host $1's $2: ${line:-no line matching /$3/})" [ -n "$line" ]
}

# sc_migrate_speed SRC MIB_S - change the running migration's bandwidth (virsh migrate-setspeed).
sc_migrate_speed() {
    sc_note "migrate-setspeed $2 MiB/s on $1"
    vsh "$1" migrate-setspeed "$NCH_GUEST" "$2"
}

# sc_precopy_under_way DST - the guest waits paused on DST and DST's netcarryd has installed
# some of its state (pre-copy has begun there).
sc_precopy_under_way() {
    [ "$(vsh "$1" domstate "$NCH_GUEST" 2>/dev/null)" = paused ] && [ -n "$(nc_guest_ct "$1")" ]
}

# sc_check DESC CMD... - an assertion; a scenario fails if any of its checks failed. Inside a
# case (sc_case) the description says which.
sc_check() {
    local desc=${SC_CASE:+[$SC_CASE] }$1; shift
    if "$@"; then echo "ok   $desc" >> "$ART/checks"; sc_note "check ok: $desc"
    else echo "FAIL $desc" >> "$ART/checks"; sc_note "check FAILED: $desc"; fi
}

# sc_case NAME DESC - begin one case of a scenario that runs several in sequence: its checks
# are marked [NAME], sc_case_log reads the host logs from here on, and sc_case_end times it.
sc_case() {
    SC_CASE=$1; SC_CASE_T0=$(now_ms)
    art_mark "$ART/.offsets-case"
    echo "---- case $1: $2" >> "$ART/checks"
    sc_note "case $1 begins: $2 (guest on $(guest_where || echo none))"
}
sc_case_log() { sc_log_since "$1" "$2" "$ART/.offsets-case"; }
sc_case_end() {
    timing "$(basename "$ART") case $SC_CASE (ms)" $(( $(now_ms) - SC_CASE_T0 ))
    SC_CASE=
}

# sc_case_ready [STALL_S] - the known state every case starts from: netcarryd up on every host
# (a case may have killed one), the peer link whole, the guest running with its rendezvous
# published, none of its entries on the other host (a case may have left some), and a fresh echo
# client, tagged with the case's name, that tolerates stalls up to STALL_S (default 5). Sets
# SC_SRC (where the guest runs) and SC_DST.
sc_case_ready() {
    local h
    fabric_mend
    for h in $NCH_HOSTS; do nc_start "$h" || die "netcarryd did not start on host $h"; done
    SC_SRC=$(guest_where) || die "the guest is not running anywhere"
    SC_DST=$(sc_other_host "$SC_SRC")
    nc_wait_rendezvous "$SC_SRC" || die "netcarryd on $SC_SRC never published the guest's rendezvous"
    nc_guest_ct_flush "$SC_DST"
    sc_client "$SC_CASE" tcp-echo 7 --interval-ms 20 --stall-timeout-s "${1:-5}"
    sleep 1
}

# sc_check_leftovers HOST ENTRIES GATE [WAIT_S] - what of the guest HOST holds, against what is
# expected: ENTRIES none | kept (some of the guest's conntrack entries are there) | any; GATE
# none (no gate table) | lapsed (no gate holds traffic; a lapsed table may stay) | any. Waits at
# most WAIT_S (default 0) for the expected state first.
sc_leftovers_are() {
    case $2 in
    none) [ -z "$(nc_guest_ct "$1")" ] || return 1 ;;
    kept) [ -n "$(nc_guest_ct "$1")" ] || return 1 ;;
    esac
    case $3 in
    none) [ -z "$(nc_gates "$1")" ] ;;
    lapsed) [ -z "$(nc_gates_closed "$1")" ] ;;
    *) true ;;
    esac
}
sc_check_leftovers() {
    [ "${4:-0}" -gt 0 ] && wait_until "$4" "host $1: entries $2, gate $3" sc_leftovers_are "$1" "$2" "$3"
    sc_check "host $1 holds what is expected of the guest: entries $2 (has $(nc_guest_ct "$1" | wc -l)), gate $3 (tables: $(nc_gates "$1" | awk '{ print $3 }' | tr '\n' ' ')closed: $(nc_gates_closed "$1" | tr '\n' ' '))" \
        sc_leftovers_are "$1" "$2" "$3"
}

# sc_check_stayed SRC DST [WAIT_S] - a migration failed as it must: the guest runs on SRC only,
# DST holds neither its entries nor a gate (waiting at most WAIT_S, default 10), and the case's
# echo client's connection is intact.
sc_check_stayed() {
    sc_check_guest_on "$1"
    sc_check_leftovers "$2" none none "${3:-10}"
    sc_check_echo_intact "$SC_CASE"
}

# sc_check_unsealed DST T0_MS - a migration (begun at T0_MS) completed without its seal: the guest
# runs on DST, whose report says failed for want of the seal; DST kept the entries it had
# installed and opened its gate seal-ms after the resume, so the case's echo client survived a
# stall of about that; and DST took the guest up (its rendezvous).
sc_check_unsealed() {
    sc_check_guest_on "$1"
    sc_report "$SC_CASE" "$1" "$2" 1 --outcome failed --reason seal
    sc_check_leftovers "$1" kept none 5
    sc_check_echo_intact "$SC_CASE" $(( NCH_NC_SEAL_MS + 2000 ))
    sc_check "$1 takes the guest up (its rendezvous)" nc_wait_rendezvous "$1"
}

# sc_check_gate_lapses HOST SINCE_MS WHY - no gate on HOST holds traffic any more within
# gate-lapse-ms (+ 1.5 s) of SINCE_MS, when WHY (e.g. "its daemon died") stopped its renewals.
sc_gates_open() { [ -z "$(nc_gates_closed "$1")" ]; }
sc_check_gate_lapses() {
    local ms
    wait_until $(( NCH_NC_GATE_LAPSE_MS / 1000 + 3 )) "the gate on $1 to lapse" sc_gates_open "$1"
    ms=$(( $(now_ms) - $2 ))
    sc_check "the gate on $1 lapsed by itself $ms ms after $3 (<= $NCH_NC_GATE_LAPSE_MS + 1500)" \
        [ -z "$(nc_gates_closed "$1")" -a "$ms" -le $(( NCH_NC_GATE_LAPSE_MS + 1500 )) ]
}

# sc_check_takes_up HOST - start netcarryd on HOST: it must take the running guest up, i.e.
# publish a fresh rendezvous within 2 s of its start.
sc_check_takes_up() {
    local old t0 ms ok=0
    old=$(nc_rendezvous "$1")
    t0=$(now_ms)
    nc_start "$1" || die "netcarryd did not start on host $1"
    wait_until 15 "netcarryd on $1 to publish a fresh rendezvous" nc_rendezvous_renewed "$1" "$old" &&
        ok=1
    ms=$(( $(now_ms) - t0 ))
    sc_check "netcarryd started on $1 takes the guest up: a fresh rendezvous after $ms ms (<= 2000)" \
        [ "$ok" = 1 -a "$ms" -le 2000 ]
}

# sc_check_carries [CHECK-OPTION...] - the next migration carries: from where the guest runs
# (SRC) to the other host (DST), a fresh echo client survives, DST's firewall drops none of it,
# and DST's report says completed (with no entry failed, unless the options say otherwise).
sc_check_carries() {
    local t0 tag=${SC_CASE:-next}-next src dst
    src=$(guest_where) || die "the guest runs nowhere"
    dst=$(sc_other_host "$src")
    sc_check "$src's netcarryd has published the guest's rendezvous" nc_wait_rendezvous "$src"
    sc_client "$tag" tcp-echo 7 --interval-ms 20 --stall-timeout-s 5
    sleep 1
    sc_drops_mark "$dst"
    t0=$(now_ms)
    sc_check "the next migration $src->$dst succeeds" sc_migrate "$src" "$dst"
    sc_report "$tag" "$dst" "$t0" 1 "$@"
    sc_check_no_drops "$dst"
    sc_check_echo_intact "$tag"
}

# sc_guest_only_on HOST - the guest runs on HOST, and no other host has it running or paused
# (an incoming domain a failed migration left behind).
sc_guest_only_on() {
    local h
    [ "$(vsh "$1" domstate "$NCH_GUEST" 2>/dev/null)" = running ] || return 1
    for h in $NCH_HOSTS; do
        [ "$h" = "$1" ] && continue
        vsh "$h" list --name 2>/dev/null | grep -qx "$NCH_GUEST" && return 1
    done
    return 0
}

# sc_check_guest_on HOST - check (waiting at most 10 s for libvirt to finish on every host) that
# the guest runs on HOST and on no other host.
sc_check_guest_on() {
    local h seen=""
    wait_until 10 "the guest to run on $1 only" sc_guest_only_on "$1"
    for h in $NCH_HOSTS; do seen="$seen $h:$(vsh "$h" domstate "$NCH_GUEST" 2>/dev/null | tr ' ' _)"; done
    sc_check "the guest runs on $1, on no other host (domstate:${seen:- none})" sc_guest_only_on "$1"
}

# sc_drops_mark HOST - remember HOST's firewall drop counter; sc_check_no_drops HOST checks, two
# seconds later (traffic that was held must have had its chance), that it did not grow.
sc_drops_mark() { SC_DROPS0=$(fw_counter "$1" dropped_tcp); }
sc_check_no_drops() {
    local d
    sleep 2
    d=$(fw_counter "$1" dropped_tcp)
    sc_check "$1's firewall dropped none of the carried connections' packets (dropped_tcp $SC_DROPS0 -> $d)" \
        [ "$d" = "$SC_DROPS0" ]
}

# sc_check_echo_intact [TAG [MAX_STALL_MS]] - stop the echo client TAG (default 'echo'); every
# line came back, in order, with no stall longer than MAX_STALL_MS (default NCH_MAX_STALL_MS).
sc_check_echo_intact() {
    local rc tag=${1:-echo} max=${2:-$NCH_MAX_STALL_MS}
    sc_client_stop "$tag"; rc=$?
    sc_check "the connection survived: every line back, in order, stall <= $max ms ($(cat "$ART/client-$tag.result"))" \
        sc_client_intact "$tag" "$rc" "$max"
}

# sc_other_host HOST - the first host that is not HOST.
sc_other_host() { local h; for h in $NCH_HOSTS; do [ "$h" != "$1" ] && { echo "$h"; return 0; }; done; }

# sc_client_intact TAG RC MAX_STALL_MS - the client ended well: exit 0, every line/byte back, in
# order, no reset, and no stall longer than MAX_STALL_MS.
sc_client_intact() {
    [ "$2" = 0 ] && [ "$(sc_result "$1" ok)" = 1 ] && [ "$(sc_result "$1" in_order)" = 1 ] &&
        [ "$(sc_result "$1" resets)" = 0 ] && [ "$(sc_result "$1" max_stall_ms)" -le "$3" ]
}

# sc_log_since HOST FILE [OFFSETS] - what HOST's log FILE (relative to its directory) got in this
# scenario (or since the marks in OFFSETS: art_mark).
sc_log_since() {
    local off
    off=$(awk -v h="$1" -v f="$2" '$1 == h && $2 == f { print $3 }' "${3:-$ART/.offsets}" 2>/dev/null)
    tail -c +$((${off:-0} + 1)) "$(host_dir "$1")/$2" 2>/dev/null
}

# sc_nc_libvirt_closed HOST [OFFSETS] - HOST's netcarryd logged, in this scenario (or since the
# marks in OFFSETS), that its connection to libvirtd closed; sc_nc_libvirt_reconnected: and that
# it connected again after that.
sc_nc_libvirt_closed() {
    sc_log_since "$1" netcarryd.log "${2:-}" | grep "connection to libvirtd .* closed" >/dev/null
}
sc_nc_libvirt_reconnected() {
    sc_log_since "$1" netcarryd.log "${2:-}" | sed -n '/connection to libvirtd .* closed/,$p' |
        grep 'connected to qemu' >/dev/null
}

# sc_restart_libvirtd HOST - restart HOST's libvirtd (QEMU keeps running), and the harness's
# event monitors with it; wait (bounded) until HOST's netcarryd is connected to the new one.
sc_restart_libvirtd() {
    monitors_stop "$1"
    pid_stop "libvirtd-$1"
    host_start "$1"
    monitors_start "$1"
    wait_until 40 "netcarryd on $1 to reconnect to libvirtd" sc_nc_libvirt_reconnected "$1" "$ART/.offsets-case"
}

# sc_report TAG DST T0_MS MIN_ENTRIES [CHECK-OPTION...] - wait (bounded) for the report of the
# migration that began at T0_MS in the guest's metadata on DST, keep it (XML, and the CLI's text
# from inside DST), and check it with report-check.py (by default: completed and complete; the
# options, e.g. --outcome failed --reason RE, say what else to expect). Sets REPORT_FIGURES.
sc_report() {
    local tag=$1 dst=$2 t0=$3 min=$4 x=$ART/report-$1.xml limit rc k v
    shift 4
    limit=$(( $(now_ms) + 20000 ))
    while :; do
        nc_report_xml "$dst" > "$x"
        "$NCH_PY" "$NCH_LIB/report-check.py" "$x" --after-ms "$t0" --min-entries "$min" "$@" \
            > "$ART/report-$tag.check" 2>&1
        rc=$?
        grep -q 'FAIL stale\|not readable\|not a netcarry report' "$ART/report-$tag.check" || break
        [ "$(now_ms)" -gt "$limit" ] && break
        sleep 0.5
    done
    REPORT_FIGURES=$(sed -n 's/^figures //p' "$ART/report-$tag.check")
    sc_note "report $tag on $dst: rc=$rc $(tr '\n' ' ' < "$ART/report-$tag.check")"
    sc_check "$tag: the report on $dst is fresh and as expected${*:+ ($*)}: $(grep '^FAIL' "$ART/report-$tag.check" | tr '\n' ';')$REPORT_FIGURES" \
        [ "$rc" = 0 ]
    nc_cli "$dst" report "$NCH_GUEST" > "$ART/report-$tag.txt" 2>&1
    rc=$?
    sc_check "$tag: 'netcarry report $NCH_GUEST' on $dst prints it (exit $rc, $(wc -l < "$ART/report-$tag.txt") lines)" \
        [ "$rc" = 0 -a -s "$ART/report-$tag.txt" ]
    # the same report for programs and as a picture (netcarry(1): --json, --svg)
    nc_cli "$dst" report "$NCH_GUEST" --json > "$ART/report-$tag.json" 2>&1
    sc_check "$tag: 'netcarry report --json' on $dst is JSON with the XML's outcome and margin" \
        "$NCH_PY" -c 'import json, sys, xml.etree.ElementTree as ET
j = json.load(open(sys.argv[1])); x = ET.parse(sys.argv[2]).getroot()
ns = {"r": "https://netcarry.dev/xmlns/report/1"}
m = x.find("r:migration", ns) if x.find("r:migration", ns) is not None else x.find("migration")
f = x.find("r:figures", ns) if x.find("r:figures", ns) is not None else x.find("figures")
assert j["migration"]["outcome"] == m.get("outcome")
assert j["figures"]["margin_us"] == (int(f.get("margin-us")) if f is not None and f.get("margin-us") else None)' \
        "$ART/report-$tag.json" "$x"
    nc_cli "$dst" report "$NCH_GUEST" --svg - > "$ART/report-$tag.svg" 2>/dev/null
    sc_check "$tag: 'netcarry report --svg' on $dst draws the timeline ($ART/report-$tag.svg, $(wc -c < "$ART/report-$tag.svg") bytes)" \
        grep -q '</svg>' "$ART/report-$tag.svg"
    for k in margin_us stop_to_installed_us stop_to_resumed_us downtime_ms gate_held_packets ct_installed; do
        v=$(echo "$REPORT_FIGURES" | tr ' ' '\n' | sed -n "s/^$k=//p")
        [ -n "$v" ] && timing "$(basename "$ART") $tag report $k" "$v"
    done
    return 0
}

# sc_skip REASON - this scenario cannot run here (said in TAP as a SKIP, never as a pass).
sc_skip() { echo "$*" > "$ART/skip"; sc_note "skipped: $*"; exit 77; }

# sc_need_netcarry - skip unless netcarry (daemon, hook, CLI) is built in the run's build dir.
sc_need_netcarry() {
    local m
    [ -s "$RUN/build" ] || sc_skip "no netcarry build given (nch test --build DIR)"
    m=$(nc_missing)
    [ -z "$m" ] || sc_skip "netcarry not built: missing $(echo "$m" | tr '\n' ' ')"
}

# sc_end - collect artifacts; succeed only if every check passed (and there was one).
sc_end() {
    art_collect
    sed 's/^/  /' "$ART/migrations.txt" >&2
    sed "s/^/$(basename "$ART"): /" "$ART/migrations.txt" >> "$RUN/timings.txt"
    [ -s "$ART/checks" ] && ! grep -q '^FAIL' "$ART/checks"
}

# sc_run_one FILE NAME - one scenario in its own subshell; its exit status (77: skipped). When it
# failed, ARTIFACTS/bed-broken says why if the test bed (the guest) broke.
sc_run_one() {
    local rc broken
    # shellcheck disable=SC1090
    ( . "$1"; sc_begin "$2"; scenario_run; sc_end ) 2> >(tee -a "$RUN/test.log" >&2)
    rc=$?
    if [ $rc != 0 ] && [ $rc != 77 ]; then
        broken=$(ART=$RUN/artifacts/$2 sc_bed_broken)
        [ -n "$broken" ] && { echo "$broken" > "$RUN/artifacts/$2/bed-broken"; log "the test bed broke: $broken"; }
    fi
    return $rc
}

# tap LINE - a TAP line on stdout (meson parses it), mirrored into the log.
tap() { echo "$*"; log "$*"; }

# cmd_test RUN [--tap] [--traffic BIN] [SCENARIO...] - a whole run: up, boot, scenarios, down.
cmd_test() {
    local run=$1 n=0 fail=0 s name desc rc list=() leftovers build="" broken retries=0; shift
    while [ $# -gt 0 ]; do
        case $1 in
        --tap) shift ;;
        --traffic) NCH_TRAFFIC=$2; shift 2 ;;
        --build) build=$(readlink -f "$2"); shift 2 ;;
        *)  # a path, or a name (or part of one) of a file in scenarios/
            s=$1; [ -f "$s" ] || s=$(ls "$NCH_SCENARIOS"/*"$1"*.sh 2>/dev/null | head -n 1)
            [ -n "$s" ] || { tap "Bail out! no scenario matching '$1' in $NCH_SCENARIOS"; return 1; }
            list+=("$s"); shift ;;
        esac
    done
    [ ${#list[@]} -gt 0 ] || list=("$NCH_SCENARIOS"/[0-9]*.sh)
    export NCH_TRAFFIC=${NCH_TRAFFIC:-}
    # Skips: what this machine cannot do, said plainly.
    [ "$(id -u)" = 0 ] || { tap "1..0 # SKIP needs root (network namespaces, libvirtd)"; return 0; }
    command -v libvirtd >/dev/null && command -v virsh >/dev/null && command -v qemu-system-x86_64 >/dev/null ||
        { tap "1..0 # SKIP libvirtd/virsh/qemu-system-x86_64 not installed (test-harness/deps)"; return 0; }
    ip netns add "nch-probe-$$" 2>/dev/null && ip netns del "nch-probe-$$" ||
        { tap "1..0 # SKIP cannot create network namespaces here"; return 0; }
    [ -x "$NCH_TRAFFIC" ] || { tap "1..0 # SKIP nc-traffic not built (expected at '$NCH_TRAFFIC')"; return 0; }

    tap "1..$(( ${#list[@]} + 1 ))"
    if [ -z "$run" ]; then       # a fresh run directory under NCH_RUNS; keep the last five
        mkdir -p "${NCH_RUNS:=/var/tmp}"
        ls -1dt "$NCH_RUNS"/nch-test.* 2>/dev/null | tail -n +5 | xargs -r rm -rf
        run=$(mktemp -d "$NCH_RUNS/nch-test.XXXXXX")
    fi
    run_create "$run" 2
    [ -n "$build" ] && echo "$build" > "$RUN/build"
    # Interrupted (meson's timeout sends SIGTERM to our process group and SIGKILL 0.5 s later):
    # hand the teardown to a 'nch down' in its own session, out of that group's reach.
    trap 'trap - EXIT; log "interrupted: teardown continues in the background (see $RUN/teardown.log)"
          setsid "$NCH_SELF" --run "$RUN" down </dev/null >>"$RUN/teardown.log" 2>&1 & exit 130' INT TERM
    trap 'hosts_down' EXIT
    local t0; t0=$(now_ms)
    if ! ( hosts_up || die "starting the hosts failed"
           guest_build "$NCH_TRAFFIC" || die "building the guest failed"
           guest_start A ) 2> >(tee -a "$RUN/test.log" >&2); then
        for s in "${list[@]}"; do n=$((n + 1)); tap "not ok $n - $(basename "$s" .sh) # setup failed, see $RUN"; done
        fail=1
    else
        timing "setup: hosts + guest (ms)" $(( $(now_ms) - t0 ))
        for s in "${list[@]}"; do
            n=$((n + 1)); name=$(basename "$s" .sh)
            desc=$(sed -n 's/^SCENARIO_DESC="\(.*\)"$/\1/p' "$s")
            t0=$(now_ms)
            sc_run_one "$s" "$name"; rc=$?
            broken=$(cat "$RUN/artifacts/$name/bed-broken" 2>/dev/null)
            if [ $rc != 0 ] && [ $rc != 77 ] && [ -n "$broken" ]; then
                # The guest itself broke: not a verdict on netcarry. Once, on a fresh guest; the
                # first try's failed checks stay in the output (a netcarry failure before the
                # break must not hide behind the retry).
                retries=$((retries + 1))
                tap "# $name: the test bed broke (not a netcarry verdict): $broken; retry $retries on a fresh guest"
                grep '^FAIL' "$RUN/artifacts/$name/checks" 2>/dev/null | sed "s/^/# $name first try: /"
                mv "$RUN/artifacts/$name" "$RUN/artifacts/$name.bed-broken-$retries"
                if guest_restart 2> >(tee -a "$RUN/test.log" >&2); then
                    sc_run_one "$s" "$name"; rc=$?
                    desc="$desc (retried once: the test bed broke on the first try)"
                else
                    tap "not ok $n - $name: $desc: THE TEST BED BROKE, not a netcarry verdict: $broken; no fresh guest came up (artifacts: $RUN/artifacts/$name.bed-broken-$retries)"
                    fail=1; continue
                fi
            fi
            timing "scenario $name (ms)" $(( $(now_ms) - t0 ))
            broken=$(cat "$RUN/artifacts/$name/bed-broken" 2>/dev/null)
            if [ $rc = 0 ]; then tap "ok $n - $name: $desc"
            elif [ $rc = 77 ]; then tap "ok $n - $name: $desc # SKIP $(cat "$RUN/artifacts/$name/skip" 2>/dev/null)"
            elif [ -n "$broken" ]; then
                tap "not ok $n - $name: $desc: THE TEST BED BROKE, not a netcarry verdict: $broken (artifacts: $RUN/artifacts/$name)"; fail=1
            else tap "not ok $n - $name: $desc (artifacts: $RUN/artifacts/$name)"; fail=1; fi
            sed 's/^/# /' "$RUN/artifacts/$name/checks" 2>/dev/null
        done
        tap "# test bed: $(guest_config); scenarios retried after the guest broke: $retries"
    fi
    sed 's/^/# /' "$RUN/timings.txt"
    if [ "${NCH_KEEP:-0}" = 1 ] && [ $fail = 1 ]; then
        trap - EXIT; tap "# NCH_KEEP=1: run left up in $RUN ('nch --run $RUN down')"; return 1
    fi
    trap - EXIT
    hosts_down
    leftovers=$(hosts_leftovers)
    n=$((n + 1))
    if [ -z "$leftovers" ]; then tap "ok $n - teardown left no namespaces and no processes"
    else tap "not ok $n - teardown left: $(echo "$leftovers" | tr '\n' ';')"; fail=1; fi
    echo "# run directory (artifacts): $RUN"
    return $fail
}
