# test-harness/lib/guest.sh - the tiny guest: Debian's kernel, a busybox initramfs, nc-traffic.
# The kernel package is downloaded once into $NCH_CACHE (outside git) and shared by all runs.

NCH_CACHE=${NCH_CACHE:-/var/cache/netcarry-harness}

# The guest's configuration. The defaults are the configuration the suites and CI use; each knob
# exists so that bench/bench-guest can measure which configuration survives migrations.
#   NCH_GUEST_NIC      virtio | e1000e                 the NIC model
#   NCH_GUEST_MACHINE  pc | q35                        the machine type
#   NCH_GUEST_TCG      multi | single                  TCG threading (single: -accel tcg,thread=single,
#                                                      through an emulator wrapper: no libvirt taint)
#   NCH_GUEST_MEM_MIB  256                             memory
#   NCH_GUEST_VCPUS    1                               vCPUs
#   NCH_GUEST_KERNEL   stock | backports | PACKAGE     the guest kernel: Debian's linux-image-amd64
#                                                      of the release, of bookworm-backports, or a package
#   NCH_GUEST_QEMU     system | DIR                    the installed QEMU, or another one unpacked in DIR
#                                                      (dpkg-deb -x of qemu-system-x86, -common, -data
#                                                      and seabios: DIR/usr/{bin,lib,share})
: "${NCH_GUEST_QEMU:=system}"
: "${NCH_GUEST_NIC:=virtio}" "${NCH_GUEST_MACHINE:=pc}" "${NCH_GUEST_TCG:=multi}"
: "${NCH_GUEST_MEM_MIB:=256}" "${NCH_GUEST_VCPUS:=1}" "${NCH_GUEST_KERNEL:=stock}"

# guest_config - one line that names the guest's configuration (for logs and benchmark output).
guest_config() {
    echo "nic=$NCH_GUEST_NIC machine=$NCH_GUEST_MACHINE tcg=$NCH_GUEST_TCG mem=${NCH_GUEST_MEM_MIB}MiB" \
        "vcpus=$NCH_GUEST_VCPUS kernel=$(cat "$RUN/guest/kernel" 2>/dev/null || echo "$NCH_GUEST_KERNEL")" \
        "qemu=$("$(guest_qemu_bin)" --version | sed -n '1s/.*version \([^ ]*\).*/\1/p')" \
        "libvirt=$(libvirtd --version | awk '{print $NF}')"
}

# guest_qemu_bin - the QEMU binary the guest runs on.
guest_qemu_bin() {
    if [ "$NCH_GUEST_QEMU" = system ]; then echo /usr/bin/qemu-system-x86_64
    else echo "$NCH_GUEST_QEMU/usr/bin/qemu-system-x86_64"; fi
}

guest_kernel_package() {
    local suite=()
    case $NCH_GUEST_KERNEL in
    stock) ;;
    backports) suite=(-t bookworm-backports) ;;
    *) echo "$NCH_GUEST_KERNEL"; return 0 ;;
    esac
    apt-cache "${suite[@]}" depends linux-image-amd64 2>/dev/null |
        awk '/Depends: linux-image-/{print $2; exit}'
}

# guest_modules KDIR KV - the modules the NIC needs, dependencies first (from modules.dep).
guest_modules() {
    local top
    case $NCH_GUEST_NIC in
    virtio) top="virtio_net virtio_pci" ;;
    e1000e) top="e1000e" ;;
    *) die "NCH_GUEST_NIC: '$NCH_GUEST_NIC' is neither virtio nor e1000e" ;;
    esac
    # the package ships no modules.dep (its postinst makes it): depmod writes it into the cache
    [ -s "$1/root/lib/modules/$2/modules.dep" ] || depmod -b "$1/root" "$2" ||
        die "depmod failed on the guest kernel in $1"
    "$NCH_PY" - "$1/root/lib/modules/$2/modules.dep" $top <<'EOT'
import sys
dep = {}
for line in open(sys.argv[1]):
    mod, _, rest = line.partition(':')
    dep[mod.rsplit('/', 1)[-1].split('.ko')[0]] = (mod, [d.rsplit('/', 1)[-1].split('.ko')[0] for d in rest.split()])
out = []
def visit(m):
    if m not in dep:
        return          # built into the kernel
    for d in dep[m][1]:
        visit(d)
    if dep[m][0] not in out:
        out.append(dep[m][0])
for m in sys.argv[2:]:
    visit(m)
print('\n'.join(out))
EOT
}

# guest_kernel - print the directory of the unpacked kernel package, fetching it on first use.
guest_kernel() {
    local pkg kv dir
    pkg=$(guest_kernel_package)
    if [ -z "$pkg" ]; then
        # a machine whose packages are all installed may have no package lists (yet)
        timeout 300 apt-get update -q >/dev/null 2>&1
        pkg=$(guest_kernel_package)
    fi
    [ -n "$pkg" ] || die "cannot resolve linux-image-amd64 with apt-cache, even after apt-get update"
    kv=${pkg#linux-image-}; dir=$NCH_CACHE/$pkg
    mkdir -p "$NCH_CACHE"
    (
        flock -w 300 9 || die "waited 5 min for the lock on $NCH_CACHE"
        [ -f "$dir/.complete" ] && exit 0
        log "downloading $pkg into $NCH_CACHE (once)"
        rm -rf "$dir" "$NCH_CACHE"/*.deb.tmp; mkdir -p "$dir"
        (cd "$NCH_CACHE" && timeout 300 apt-get download -q "$pkg" >"$NCH_CACHE/download.log" 2>&1) || die "apt-get download $pkg failed"
        dpkg-deb -x "$NCH_CACHE/${pkg}_"*.deb "$dir/root" || die "dpkg-deb -x failed for $pkg"
        echo "$kv" > "$dir/.complete"
    ) 9>"$NCH_CACHE/.lock" || exit 1
    echo "$dir"
}

# guest_build [TRAFFIC] - kernel + initramfs under $RUN/guest; TRAFFIC is the static nc-traffic.
guest_build() {
    local traffic=${1:-} kdir kv g m mods emulator=/usr/bin/qemu-system-x86_64 nic=virtio
    kdir=$(guest_kernel) || exit 1
    kv=$(cat "$kdir/.complete"); g=$RUN/guest
    rm -rf "$g"; mkdir -p "$g"/initrd/{bin,proc,sys,dev,mods,tmp}
    echo "$kv" > "$g/kernel"
    cp "$kdir/root/boot/vmlinuz-$kv" "$g/vmlinuz"
    cp /bin/busybox "$g/initrd/bin/busybox"
    mods=$(guest_modules "$kdir" "$kv") || die "cannot resolve the modules of the $NCH_GUEST_NIC NIC"
    for m in $mods; do       # compressed (.ko.xz) in newer kernels: busybox insmod wants them plain
        case $m in
        *.xz) xz -dc "$kdir/root/lib/modules/$kv/$m" > "$g/initrd/mods/$(basename "$m" .xz)" ;;
        *) cp "$kdir/root/lib/modules/$kv/$m" "$g/initrd/mods/" ;;
        esac || die "kernel module $m missing in $kdir"
        basename "${m%.xz}" .ko >> "$g/initrd/mods/order"
    done
    if [ -n "$traffic" ]; then
        [ -x "$traffic" ] || die "nc-traffic not found at $traffic (build it: meson compile)"
        cp "$traffic" "$g/initrd/bin/nc-traffic"
    fi
    install -m 0755 "$NCH_LIB/guest-init" "$g/initrd/init"
    install -m 0755 "$NCH_LIB/guest-udhcpc" "$g/initrd/bin/nch-udhcpc"
    (cd "$g/initrd" && find . | cpio -o -H newc 2>/dev/null | gzip -1 > "$g/initrd.img") ||
        die "building the initramfs failed"
    case $NCH_GUEST_TCG in multi|single) ;; *) die "NCH_GUEST_TCG: '$NCH_GUEST_TCG' is neither multi nor single" ;; esac
    if [ "$NCH_GUEST_TCG" = single ] || [ "$NCH_GUEST_QEMU" != system ]; then
        # libvirt has no knob for TCG threading, and runs the emulator its XML names: a wrapper
        # (no libvirt taint, unlike <qemu:commandline>) turns '-accel tcg' into
        # '-accel tcg,thread=single' and points another QEMU at its own firmware.
        [ -x "$(guest_qemu_bin)" ] || die "NCH_GUEST_QEMU: no $(guest_qemu_bin)"
        emulator=$g/qemu-wrapper
        {
            echo '#!/bin/sh'
            echo '# the harness guest'"'"'s emulator: '"$NCH_GUEST_QEMU"' QEMU, TCG '"$NCH_GUEST_TCG"
            if [ "$NCH_GUEST_TCG" = single ]; then
                echo 'for a; do shift; [ "$a" = tcg ] && a=tcg,thread=single; set -- "$@" "$a"; done'
            fi
            if [ "$NCH_GUEST_QEMU" = system ]; then echo 'exec /usr/bin/qemu-system-x86_64 "$@"'
            else echo "QEMU_MODULE_DIR='$NCH_GUEST_QEMU/usr/lib/x86_64-linux-gnu/qemu' exec '$(guest_qemu_bin)' -L '$NCH_GUEST_QEMU/usr/share/qemu' -L '$NCH_GUEST_QEMU/usr/share/seabios' \"\$@\""; fi
        } > "$emulator"
        chmod 0755 "$emulator"
    fi
    [ "$NCH_GUEST_NIC" = e1000e ] && nic=e1000e
    case $NCH_GUEST_MACHINE in pc|q35) ;; *) die "NCH_GUEST_MACHINE: '$NCH_GUEST_MACHINE' is neither pc nor q35" ;; esac
    # one UUID for the run: a fresh guest after a broken one is the same domain to every host
    # (libvirt refuses another UUID under a name a host still has defined)
    sed -e "s|@NAME@|$NCH_GUEST|; s|@DIR@|$g|g; s|@IP@|$NCH_GUEST_IP|; s|@MAC@|$NCH_GUEST_MAC|; s|@MCAST@|$NCH_GUEST_MCAST:$NCH_GUEST_MCAST_PORT|" \
        -e "s|@UUID@|$(cat /proc/sys/kernel/random/uuid)|" \
        -e "s|@MACHINE@|$NCH_GUEST_MACHINE|; s|@MEM@|$NCH_GUEST_MEM_MIB|; s|@VCPUS@|$NCH_GUEST_VCPUS|" \
        -e "s|@EMULATOR@|$emulator|; s|@NIC@|$nic|" \
        "$NCH_LIB/guest.xml" > "$g/domain.xml"
    log "guest built: $(guest_config), initramfs $(du -h "$g/initrd.img" | cut -f1)"
}

guest_console() { echo "$(host_dir "$1")/var/log/libvirt/qemu/$NCH_GUEST-console.log"; }

# guest_ready HOST - the guest's services listen and the fabric can reach it.
guest_ready() {
    grep -qa "NCH-GUEST-READY" "$(guest_console "$1")" 2>/dev/null &&
        fabric_exec busybox ping -c1 -W1 "$NCH_GUEST_IP" >/dev/null 2>&1
}

# guest_start HOST - define and boot the guest on HOST; wait until it serves.
guest_start() {
    local h=$1 t0
    [ -f "$RUN/guest/domain.xml" ] || die "no guest built in $RUN (nch guest-build)"
    vsh "$h" define "$RUN/guest/domain.xml" >/dev/null || die "host $h: define failed"
    t0=$(now_ms)
    vsh "$h" start "$NCH_GUEST" >/dev/null || die "host $h: starting the guest failed"
    wait_until 90 "the guest to boot on host $h" guest_ready "$h" ||
        die "guest did not come up; console: $(guest_console "$h")"
    timing "guest boot to ready (ms)" $(( $(now_ms) - t0 ))
}

# guest_restart - a fresh guest on the first host, after the old one broke: destroyed wherever it
# runs (its console logs are kept: they hold why it broke), booted again; fails (never exits the
# caller) when it does not come up.
guest_restart() {
    local h
    for h in $NCH_HOSTS; do
        case $(vsh "$h" domstate "$NCH_GUEST" 2>/dev/null) in
        running|paused|"in shutdown"|crashed|pmsuspended) vsh "$h" destroy "$NCH_GUEST" >/dev/null ;;
        esac
    done
    log "booting a fresh guest on ${NCH_HOSTS%% *}"
    ( guest_start "${NCH_HOSTS%% *}" ) || return 1   # a subshell: guest_start dies on failure
    guest_mark          # the broken guest's last words are not the fresh one's
}

# guest_where - print the host the guest is running on.
guest_where() {
    local h
    for h in $NCH_HOSTS; do
        [ "$(vsh "$h" domstate "$NCH_GUEST" 2>/dev/null)" = running ] && { echo "$h"; return 0; }
    done
    return 1
}

# A guest that breaks under migration is a fault of the test bed, never a verdict on netcarry.
# These are the signs it leaves: in its console (the kernel's own words) and in QEMU's events.
NCH_GUEST_BROKEN_RE='Kernel panic|kernel BUG|BUG: |Oops|general protection|list_add corruption|list_del corruption|soft lockup|hard LOCKUP|rcu_sched self-detected stall|rcu: INFO: |is not a head|virtio_net virtio[0-9]*: .*(unexpected|out of range|bad)|e1000e .*(Hardware Unit Hang|Detected Tx Unit Hang)|NETDEV WATCHDOG|Call Trace'

# guest_mark - remember where every host's guest console and QMP event log end now.
guest_mark() {
    local h
    for h in $NCH_HOSTS; do
        echo "$h $(stat -c %s "$(guest_console "$h")" 2>/dev/null || echo 0)" \
            "$(stat -c %s "$(host_dir "$h")/qmp.log" 2>/dev/null || echo 0)"
    done > "$RUN/guest-mark"
}

# guest_broken - print why the guest broke since guest_mark (the console's first telling lines,
# or QEMU's RESET / GUEST_PANICKED event, with the host); nothing if it shows no sign.
guest_broken() {
    local h con qmp why
    [ -f "$RUN/guest-mark" ] || return 0
    while read -r h con qmp; do
        why=$(tail -c +$((con + 1)) "$(guest_console "$h")" 2>/dev/null | tr -d '\r' |
            grep -aE -m 3 "$NCH_GUEST_BROKEN_RE" | sed 's/^\[ *[0-9.]*\] //' | tr '\n' ';')
        [ -z "$why" ] && why=$(tail -c +$((qmp + 1)) "$(host_dir "$h")/qmp.log" 2>/dev/null |
            grep -aoE -m 1 'event (RESET|GUEST_PANICKED)' | tr '\n' ';')
        [ -n "$why" ] && { echo "host $h: $why (console: $(guest_console "$h"))"; return 0; }
    done < "$RUN/guest-mark"
    return 0
}

# guest_answers [OUT] - a new TCP connection from the fabric gets its echo for a second (as a
# fresh client would; a firewall admits its SYN, so no carried state is involved). OUT keeps
# the client's output.
guest_answers() {
    timeout 15 ip netns exec "$NCH_FABRIC_NS" "$NCH_TRAFFIC" tcp-echo "$NCH_GUEST_IP" 7 \
        --interval-ms 20 --duration-s 1 --stall-timeout-s 3 >"${1:-/dev/null}" 2>&1
}
