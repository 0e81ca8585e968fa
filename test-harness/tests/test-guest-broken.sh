#!/bin/bash
# test-harness/tests/test-guest-broken.sh - the harness tells a broken guest by the signs it leaves
# (lib/guest.sh guest_mark / guest_broken), from console lines that broken guests really printed
# under migration (docs/test-bed.md), and stays quiet for a healthy one. No root, no libvirt.
set -uo pipefail
NCH_LIB=$(cd "$(dirname "$0")/../lib" && pwd)
# shellcheck disable=SC1091
. "$NCH_LIB/common.sh"
# shellcheck disable=SC1091
. "$NCH_LIB/hosts.sh"
# shellcheck disable=SC1091
. "$NCH_LIB/guest.sh"

RUN=$(mktemp -d "${TMPDIR:-/tmp}/nch-guest-broken.XXXXXX")
trap 'rm -rf "$RUN"' EXIT
NCH_HOSTS="A B"
n=0 fail=0
for h in A B; do
    mkdir -p "$RUN/hosts/$h/var/log/libvirt/qemu"
    printf '[    1.0] NCH-GUEST-READY uptime=1.0\n[    2.0] Call Trace: (before the mark)\n' \
        > "$(guest_console "$h")"
    echo "event STOP at 1" > "$RUN/hosts/$h/qmp.log"
done

# check NAME EXPECT(broken|healthy) HOST CONSOLE-LINE QMP-LINE - after a mark, HOST's console
# gets CONSOLE-LINE and its QMP log QMP-LINE; guest_broken must say (or not say) it broke.
check() {
    local name=$1 expect=$2 h=$3 why
    guest_mark
    [ -n "$4" ] && printf '%s\r\n' "$4" >> "$(guest_console "$h")"
    [ -n "$5" ] && echo "$5" >> "$RUN/hosts/$h/qmp.log"
    why=$(guest_broken)
    n=$((n + 1))
    if { [ "$expect" = broken ] && [[ $why == "host $h: "* ]]; } ||
       { [ "$expect" = healthy ] && [ -z "$why" ]; }; then
        echo "ok $n - $name${why:+ ($why)}"
    else
        echo "not ok $n - $name: expected $expect, guest_broken said '${why}'"; fail=1
    fi
}

echo "1..8"
check "a healthy migration leaves no sign (lines before the mark do not count)" healthy A \
    "[  530.1] virtio_net virtio0 eth0: link up" "event RESUME at 2"
check "virtio ring corruption" broken B "[  212.3] virtio_net virtio0: output.0:id 1 is not a head!" ""
check "slab corruption (general protection fault)" broken A \
    "[  530.6] general protection fault, probably for non-canonical address 0x44eb0b94f07b2216: 0000 [#1] PREEMPT SMP NOPTI" ""
check "list corruption" broken B \
    "[  120.0] list_add corruption. next->prev should be prev (ffff8884cf838828), but was dead000000000122." ""
check "soft lockup" broken A "[  300.0] watchdog: BUG: soft lockup - CPU#0 stuck for 26s! [nc-traffic:81]" ""
check "a reset guest (QEMU's RESET event)" broken B "" "event RESET at 3"
check "the source's QEMU quitting after the migration is no sign" healthy A "" \
    "event SHUTDOWN for domain 'nchguest': {\"guest\":false,\"reason\":\"host-signal\"}"
check "nothing written since the mark" healthy A "" ""
exit $fail
