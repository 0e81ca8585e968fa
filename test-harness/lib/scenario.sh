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
    sc_note "scenario $1 begins (guest on $(guest_where || echo none))"
}

# sc_client TAG MODE ARGS... - start nc-traffic MODE against the guest from the fabric.
sc_client() {
    local tag=$1 mode=$2; shift 2
    [ -x "${NCH_TRAFFIC:-}" ] || die "no nc-traffic client (pass --traffic or set NCH_TRAFFIC)"
    sc_note "client $tag: nc-traffic $mode $NCH_GUEST_IP $*"
    ip netns exec "$NCH_FABRIC_NS" "$NCH_TRAFFIC" "$mode" "$NCH_GUEST_IP" "$@" > "$ART/client-$tag.out" 2>&1 </dev/null &
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

# sc_client_stop TAG - ask a client without --duration-s to finish (it then reports), and wait.
sc_client_stop() {
    kill -TERM "$(pid_of "client-$1")" 2>/dev/null
    sc_client_wait "$1" 20
}

# sc_result TAG KEY - one field of a client's final 'result' line.
sc_result() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" "$ART/client-$1.result"; }

# sc_migrate SRC DST [--p2p] - plain 'virsh migrate --live' from the fabric, as an operator would.
sc_migrate() {
    local src=$1 dst=$2 mode=${3:-direct} t0 t1 rc extra=()
    [ "$mode" = --p2p ] && { mode=p2p; extra=(--p2p); }
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

# sc_check DESC CMD... - an assertion; a scenario fails if any of its checks failed.
sc_check() {
    local desc=$1; shift
    if "$@"; then echo "ok   $desc" >> "$ART/checks"; sc_note "check ok: $desc"
    else echo "FAIL $desc" >> "$ART/checks"; sc_note "check FAILED: $desc"; fi
}

# sc_end - collect artifacts; succeed only if every check passed (and there was one).
sc_end() {
    art_collect
    sed 's/^/  /' "$ART/migrations.txt" >&2
    sed "s/^/$(basename "$ART"): /" "$ART/migrations.txt" >> "$RUN/timings.txt"
    [ -s "$ART/checks" ] && ! grep -q '^FAIL' "$ART/checks"
}

# tap LINE - a TAP line on stdout (meson parses it), mirrored into the log.
tap() { echo "$*"; log "$*"; }

# cmd_test RUN [--tap] [--traffic BIN] [SCENARIO...] - a whole run: up, boot, scenarios, down.
cmd_test() {
    local run=$1 n=0 fail=0 s name desc rc list=() leftovers; shift
    while [ $# -gt 0 ]; do
        case $1 in
        --tap) shift ;;
        --traffic) NCH_TRAFFIC=$2; shift 2 ;;
        *) list+=("$1"); shift ;;
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
            # shellcheck disable=SC1090
            ( . "$s"; sc_begin "$name"; scenario_run; sc_end ) 2> >(tee -a "$RUN/test.log" >&2)
            rc=$?
            timing "scenario $name (ms)" $(( $(now_ms) - t0 ))
            if [ $rc = 0 ]; then tap "ok $n - $name: $desc"
            else tap "not ok $n - $name: $desc (artifacts: $RUN/artifacts/$name)"; fail=1; fi
            sed 's/^/# /' "$RUN/artifacts/$name/checks" 2>/dev/null
        done
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
