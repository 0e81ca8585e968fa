# test-harness/lib/guest.sh - the tiny guest: Debian's kernel, a busybox initramfs, nc-traffic.
# The kernel package is downloaded once into $NCH_CACHE (outside git) and shared by all runs.

NCH_CACHE=${NCH_CACHE:-/var/cache/netcarry-harness}
NCH_GUEST_MODULES="drivers/virtio/virtio_ring drivers/virtio/virtio drivers/virtio/virtio_pci_modern_dev
    drivers/virtio/virtio_pci_legacy_dev drivers/virtio/virtio_pci net/core/failover
    drivers/net/net_failover drivers/net/virtio_net"

guest_kernel_package() {
    apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-/{print $2; exit}'
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
    local traffic=${1:-} kdir kv g m
    kdir=$(guest_kernel) || exit 1
    kv=$(cat "$kdir/.complete"); g=$RUN/guest
    rm -rf "$g"; mkdir -p "$g"/initrd/{bin,proc,sys,dev,mods,tmp}
    cp "$kdir/root/boot/vmlinuz-$kv" "$g/vmlinuz"
    cp /bin/busybox "$g/initrd/bin/busybox"
    for m in $NCH_GUEST_MODULES; do
        cp "$kdir/root/lib/modules/$kv/kernel/$m.ko" "$g/initrd/mods/" ||
            die "kernel module $m.ko missing in $kdir"
    done
    if [ -n "$traffic" ]; then
        [ -x "$traffic" ] || die "nc-traffic not found at $traffic (build it: meson compile)"
        cp "$traffic" "$g/initrd/bin/nc-traffic"
    fi
    install -m 0755 "$NCH_LIB/guest-init" "$g/initrd/init"
    (cd "$g/initrd" && find . | cpio -o -H newc 2>/dev/null | gzip -1 > "$g/initrd.img") ||
        die "building the initramfs failed"
    sed -e "s|@NAME@|$NCH_GUEST|; s|@DIR@|$g|g; s|@IP@|$NCH_GUEST_IP|; s|@MAC@|$NCH_GUEST_MAC|" \
        "$NCH_LIB/guest.xml" > "$g/domain.xml"
    log "guest built: kernel $kv, initramfs $(du -h "$g/initrd.img" | cut -f1)"
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

# guest_where - print the host the guest is running on.
guest_where() {
    local h
    for h in $NCH_HOSTS; do
        [ "$(vsh "$h" domstate "$NCH_GUEST" 2>/dev/null)" = running ] && { echo "$h"; return 0; }
    done
    return 1
}
