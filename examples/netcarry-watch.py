#!/usr/bin/env python3
"""netcarry-watch.py - print every netcarry migration report as libvirt stores it.

How a platform (OpenStack Nova, oVirt, a home-grown manager) learns what netcarry carried:
netcarryd on the destination host writes the report of each migration into the domain's
metadata (namespace https://netcarry.dev/xmlns/report/1, schema report.rng), and libvirt emits
a metadata-change event for it. This program subscribes to that event with libvirt's Python
binding and prints one summary line per report, then the report's XML.

    python3 netcarry-watch.py [--connect URI] [--count N] [--timeout SECONDS]

A read-only connection is enough; any URI works (qemu:///system on the host, or
qemu+tls://HOST/system from a controller). Needs python3-libvirt.
"""
import argparse
import sys
import threading
import xml.etree.ElementTree as ET

import libvirt

REPORT_NS = "https://netcarry.dev/xmlns/report/1"


def summarize(name, xml):
    """one line: who moved where, how it ended, the margin, the entries installed per class and
    how many things of the domain's could not be carried"""
    root = ET.fromstring(xml)
    # libvirt returns the element with its namespace taken off: read names without one
    def findall(tag):
        return root.findall(tag) or root.findall(f"{{{REPORT_NS}}}{tag}")
    def find(tag):
        found = findall(tag)
        return found[0] if found else None
    mig, fig = find("migration"), find("figures")
    line = f"netcarry report: {name}: {mig.get('source')} -> {mig.get('destination')}: {mig.get('outcome')}"
    if fig is not None and fig.get("margin-us") is not None:
        line += f", margin {int(fig.get('margin-us')) / 1000:+.1f} ms"
    for carried in findall("carried"):  # one per class: conntrack, nft-set, nft-object
        line += f", {carried.get('installed')} {carried.get('class')} entries installed"
    not_carried = findall("not-carried")
    if not_carried:
        line += f", {len(not_carried)} not carried"
    if mig.get("reason"):
        line += f" ({mig.get('reason')})"
    return line


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--connect", "-c", default="qemu:///system", help="libvirt URI")
    ap.add_argument("--count", type=int, default=0, help="exit after N reports (0: never)")
    ap.add_argument("--timeout", type=float, default=0, help="exit 1 after SECONDS without --count reports")
    args = ap.parse_args()

    libvirt.virEventRegisterDefaultImpl()  # before opening the connection
    conn = libvirt.openReadOnly(args.connect)
    seen = 0
    done = threading.Event()

    def on_metadata(conn, dom, mtype, nsuri, opaque):
        nonlocal seen
        if mtype != libvirt.VIR_DOMAIN_METADATA_ELEMENT or nsuri != REPORT_NS:
            return  # netcarry's rendezvous (profile) and others' metadata change too
        try:
            xml = dom.metadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, REPORT_NS)
        except libvirt.libvirtError as e:  # removed again in between
            print(f"netcarry report: {dom.name()}: cannot read it: {e}", flush=True)
            return
        print(summarize(dom.name(), xml), flush=True)
        print(xml, flush=True)
        seen += 1
        if args.count and seen >= args.count:
            done.set()

    conn.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_METADATA_CHANGE, on_metadata, None)
    print(f"netcarry-watch: listening on {args.connect}", flush=True)

    if args.timeout:
        timer = threading.Timer(args.timeout, done.set)
        timer.daemon = True
        timer.start()
    # wake the loop twice a second, so that a timeout ends it without an event
    libvirt.virEventAddTimeout(500, lambda timer_id, opaque: None, None)
    while not done.is_set():
        libvirt.virEventRunDefaultImpl()
    conn.close()
    return 0 if not args.count or seen >= args.count else 1


if __name__ == "__main__":
    sys.exit(main())
