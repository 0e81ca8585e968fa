# test-harness/scenarios/11-package.sh - netcarry as its Debian package installs it: the .deb
# (test-harness/build-deb: dpkg-buildpackage -us -uc -b, reused while the tree is unchanged, or
# NCH_DEB) is extracted and laid over each host's /usr with a read-only overlay mount inside the
# host's private mount namespace, its hook copied into the host's private /etc/libvirt; the
# root filesystem never changes. The packaged netcarryd (its compiled-in configuration path),
# hook and CLI then carry a live connection from one host to the other.
SCENARIO_DESC="netcarry from its .deb: the packaged daemon, hook and CLI carry a connection; files and conffiles in place"

NCH_MAX_STALL_MS=${NCH_MAX_STALL_MS:-1000}

# sc10_install HOST ROOT - the package's files in HOST's view: /usr by overlay, the hook by copy
sc10_install() {
    local d; d=$(host_dir "$1")
    host_exec "$1" mount -t overlay nch-netcarry-deb -o "lowerdir=$2/usr:/usr" /usr || return 1
    cp "$2/etc/libvirt/hooks/qemu.d/netcarry" "$d/etc/libvirt/hooks/qemu.d/.netcarry.deb" &&
        mv "$d/etc/libvirt/hooks/qemu.d/.netcarry.deb" "$d/etc/libvirt/hooks/qemu.d/netcarry"
}

# sc10_start HOST - the packaged netcarryd, with no --config: it must find /etc/netcarry itself
sc10_start() {
    local lv; lv=$(pid_of "libvirtd-$1")
    rm -f "$(host_dir "$1")$NCH_NC_SOCK"
    echo "$(now_ms) nch: starting the packaged netcarryd on host $1" >> "$(nc_log "$1")"
    setsid nsenter -t "$lv" -m -n -u -- /usr/sbin/netcarryd --foreground \
        </dev/null >>"$(nc_log "$1")" 2>&1 &
    pid_add "netcarryd-$1" $!
    wait_until 15 "the packaged netcarryd's hook socket on host $1" nc_socket_ready "$1"
}

sc10_is_packaged() { [ "$(host_exec "$1" readlink "/proc/$(pid_of "netcarryd-$1")/exe")" = /usr/sbin/netcarryd ]; }

# back to the build directory's netcarry, as the other scenarios expect
sc10_restore() {
    local h
    unset NCH_NC_CLI
    for h in $NCH_HOSTS; do
        nc_stop "$h"
        host_exec "$h" umount /usr 2>/dev/null
        nc_up "$h" || die "netcarryd did not restart on $h"
    done
}

scenario_run() {
    local h deb root src dst t0 f
    sc_need_netcarry
    deb=${NCH_DEB:-}
    if [ -z "$deb" ]; then
        t0=$(now_ms)
        deb=$("$NCH_LIB/../build-deb" "$(nc_build)/deb" 2>"$ART/build-deb.log" | tail -n 1)
        timing "package build or reuse (ms)" $(( $(now_ms) - t0 ))
    fi
    sc_check "the .deb is built ($deb; $(tail -n 1 "$ART/build-deb.log" 2>/dev/null))" [ -f "$deb" ]
    [ -f "$deb" ] || return 0
    dpkg-deb -I "$deb" conffiles > "$ART/conffiles" 2>&1
    sc_check "the configuration and the hook are conffiles ($(tr '\n' ' ' < "$ART/conffiles"))" \
        [ "$(grep -c -x -e /etc/netcarry/netcarry.conf -e /etc/libvirt/hooks/qemu.d/netcarry "$ART/conffiles")" = 2 ]
    root=$RUN/deb-root
    rm -rf "$root"; dpkg-deb -x "$deb" "$root"
    for f in usr/sbin/netcarryd usr/bin/netcarry etc/libvirt/hooks/qemu.d/netcarry; do
        sc_check "the package installs $f, executable" [ -x "$root/$f" ]
    done
    for f in etc/netcarry/netcarry.conf lib/systemd/system/netcarryd.service \
        usr/share/netcarry/schemas/report.rng usr/share/man/man1/netcarry.1.gz \
        usr/share/man/man8/netcarryd.8.gz usr/share/man/man5/netcarry.conf.5.gz \
        usr/share/bash-completion/completions/netcarry; do
        sc_check "the package installs $f" [ -s "$root/$f" ]
    done

    for h in $NCH_HOSTS; do
        fw_on "$h"; nc_up "$h" || die "netcarryd did not start on $h"   # config and PKI
        nc_stop "$h"
        sc_check "host $h sees the package's files (overlay on its own /usr)" sc10_install "$h" "$root"
        sc_check "the packaged netcarryd starts on $h with its default configuration path" sc10_start "$h"
        sc_check "netcarryd on $h is the package's /usr/sbin/netcarryd" sc10_is_packaged "$h"
    done
    sc_check "the machine's own /usr is untouched" [ ! -e /usr/sbin/netcarryd ]
    export NCH_NC_CLI=/usr/bin/netcarry
    src=$(guest_where) || die "the guest is not running anywhere"
    dst=$(sc_other_host "$src")
    if nc_wait_rendezvous "$src"; then
        sc_client echo tcp-echo 7 --interval-ms 20 --stall-timeout-s 5
        sleep 1
        sc_drops_mark "$dst"
        t0=$(now_ms)
        sc_check "live migration $src->$dst with the packaged netcarry succeeds" sc_migrate "$src" "$dst"
        sc_report P "$dst" "$t0" 1
        sc_check_no_drops "$dst"
        sc_check_echo_intact
        nc_cli "$dst" report "$NCH_GUEST" --xml > "$(host_dir "$dst")/run/netcarry/report.xml" 2>/dev/null
        sc_check "the packaged CLI validates the report against the packaged schemas" \
            nc_cli "$dst" validate /run/netcarry/report.xml
    else
        sc_check "the packaged netcarryd on $src publishes the guest's rendezvous" false
    fi
    sc10_restore
}
