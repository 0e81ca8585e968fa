# test-harness/lib/common.sh - the run directory, logging, bounded waits and PID bookkeeping.
# Every process the harness starts is recorded in $RUN/pids/NAME so teardown kills exactly those.

# shellcheck disable=SC2034  # constants used by the other library files
NCH_PY=/usr/bin/python3
NCH_NET=192.168.77          # the fabric's /24; it exists only inside this run's namespaces
NCH_GUEST_IP=$NCH_NET.50
NCH_GUEST_MAC=52:54:00:77:00:50
NCH_GUEST=nchguest
# the multicast group the guest joins at boot and answers on (guest-init: --join ... --echo)
NCH_GUEST_MCAST=239.77.0.50
NCH_GUEST_MCAST_PORT=5050

now_ms() { date +%s%3N; }
log() { printf '[nch %s] %s\n' "$(date +%T.%3N)" "$*" >&2; }
die() { log "FATAL: $*"; exit 1; }

# timing KEY VALUE_MS - record one measured number for the run's summary.
timing() { printf '%-40s %s\n' "$1" "$2" >> "$RUN/timings.txt"; log "timing: $1 = $2"; }

# run_create DIR HOSTS - make a fresh run directory; the ID makes namespace names unique.
run_create() {
    RUN=$1
    [ -e "$RUN/env" ] && die "$RUN already holds a run; 'nch down' it or choose another --run"
    mkdir -p "$RUN/pids" "$RUN/artifacts" || die "cannot create run directory $RUN"
    RUN=$(cd "$RUN" && pwd)
    local id letters="A B C D E F G H" hosts="" i=0
    id="$(printf '%x' $$)$(printf '%04x' $((RANDOM)))"
    for h in $letters; do i=$((i + 1)); [ $i -le "$2" ] && hosts="$hosts $h"; done
    cat > "$RUN/env" <<EOT
NCH_ID=$id
NCH_HOSTS="${hosts# }"
NCH_FABRIC_NS=nch$id-fab
EOT
    : > "$RUN/timings.txt"
    run_load "$RUN"
    ln -sfn "$RUN" "${NCH_LAST:-/var/tmp/nch-last}" 2>/dev/null || true
}

# run_load DIR - load a run's identity (namespace names, host list) into the shell.
run_load() {
    RUN=$1
    [ -f "$RUN/env" ] || die "no harness run in '$RUN' (start one with 'nch up')"
    # shellcheck disable=SC1091
    . "$RUN/env"
}

pid_add() { echo "$2" > "$RUN/pids/$1"; }
pid_of() { cat "$RUN/pids/$1" 2>/dev/null; }
# pid_alive PID - running (a zombie waiting for init to reap it counts as gone).
pid_alive() {
    [ -n "$1" ] && kill -0 "$1" 2>/dev/null &&
        [ "$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)" != Z ]
}

# pid_stop NAME - TERM the recorded process, KILL it after 5 s, forget it.
pid_stop() {
    local p i
    p=$(pid_of "$1") || return 0
    if pid_alive "$p"; then
        kill -TERM "$p" 2>/dev/null
        for i in $(seq 50); do pid_alive "$p" || break; sleep 0.1; done
        pid_alive "$p" && kill -KILL "$p" 2>/dev/null
    fi
    rm -f "$RUN/pids/$1"
}

# wait_until SECONDS WHAT CMD... - poll CMD every 0.1 s; fail with WHAT after SECONDS.
wait_until() {
    local limit=$(( $(now_ms) + $1 * 1000 )) what=$2
    shift 2
    until "$@" >/dev/null 2>&1; do
        [ "$(now_ms)" -gt "$limit" ] && { log "timed out waiting for $what"; return 1; }
        sleep 0.1
    done
}

# wait_pid SECONDS PID - wait for a background child, killing it at the deadline; returns its status.
wait_pid() {
    local limit=$(( $(now_ms) + $1 * 1000 ))
    while pid_alive "$2"; do
        if [ "$(now_ms)" -gt "$limit" ]; then kill -TERM "$2" 2>/dev/null; break; fi
        sleep 0.1
    done
    wait "$2"
}
