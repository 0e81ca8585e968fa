#!/usr/bin/python3
# test-harness/lib/report-check.py - check one netcarry migration report (xml/report.rng) as a user
# reads it: completed, every phase on both hosts, state installed before the guest resumed (or
# the gate held until it was), enough entries carried, none failed. Prints the figures.
"""usage: report-check.py REPORT.xml --after-ms MS [--min-entries N] [--outcome O] [--reason RE]
                        [--not-need SIDE:PHASE]... [--failed-entries N]
A migration that went wrong is checked for what it should say: --outcome failed (or cancelled)
expects that outcome and needs no phase or entry beyond what is asked; --reason RE expects a
reason matching RE (Python re.search); --not-need drops a phase from "every phase" (e.g.
source:completed when the source's end is unknown); --failed-entries N (or MIN-MAX) expects that many
distinct entries listed as failed to install, which is then no failure of the report.
Exit 0 if the report passes, 1 with one 'FAIL ...' line per problem, 2 if it is unreadable.
The last line is always 'figures key=value ...' (the measured numbers)."""
import argparse
import datetime
import re
import sys
import xml.etree.ElementTree as ET

NS = '{https://netcarry.dev/xmlns/report/1}'
# What "every phase on both hosts" means for a completed migration (docs/architecture.md, nc-report.h):
# the source sees its own prepare, pre-copy passes, stop and seal; the destination admits
# (prepare), receives the seal, installs, resumes and completes.
NEED = {
    'source': ['prepare', 'precopy', 'stop-and-copy', 'sealed', 'completed'],
    'destination': ['prepare', 'sealed', 'installed', 'resumed', 'completed'],
}


def us(stamp):
    t = datetime.datetime.strptime(stamp, '%Y-%m-%dT%H:%M:%S.%fZ')
    return int(t.replace(tzinfo=datetime.timezone.utc).timestamp() * 1000000)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('report')
    ap.add_argument('--after-ms', type=int, default=0)
    ap.add_argument('--min-entries', type=int, default=1)
    ap.add_argument('--outcome', default='completed', choices=['completed', 'failed', 'cancelled'])
    ap.add_argument('--reason', default=None)
    ap.add_argument('--not-need', action='append', default=[])
    ap.add_argument('--failed-entries', default=None, metavar='N|MIN-MAX')
    a = ap.parse_args()
    if a.failed_entries is not None:
        lo, _, hi = a.failed_entries.partition('-')
        a.failed_entries = (int(lo), int(hi or lo))
    need = {side: [p for p in phases if '%s:%s' % (side, p) not in a.not_need]
            for side, phases in NEED.items()}
    if a.outcome != 'completed':
        need = {}
    try:
        root = ET.parse(a.report).getroot()
    except (OSError, ET.ParseError) as e:
        print('FAIL the report is not readable XML: %s' % e)
        print('figures none')
        return 2
    global NS
    if root.tag == 'report':
        # what virDomainGetMetadata / `virsh metadata --uri` return: libvirt takes the namespace
        # off the element it hands back, and the children are unqualified
        NS = ''
    elif root.tag != NS + 'report':
        print('FAIL the root element is %s, not a netcarry report' % root.tag)
        print('figures none')
        return 2
    fails = []
    fig = {}
    mig = root.find(NS + 'migration')
    if mig is None:
        fails.append('no <migration> element')
        mig = ET.Element('migration')
    fig['outcome'] = mig.get('outcome', '?')
    fig['source'] = mig.get('source', '?')
    fig['destination'] = mig.get('destination', '?')
    fig['downtime_ms'] = mig.get('downtime-ms', '?')
    if fig['outcome'] != a.outcome:
        fails.append('outcome is %s, not %s' % (fig['outcome'], a.outcome))
    if a.reason is not None and not re.search(a.reason, mig.get('reason', '')):
        fails.append('the reason "%s" does not match /%s/' % (mig.get('reason', ''), a.reason))

    steps = {}
    for tl in root.findall(NS + 'timeline'):
        side = tl.get('side')
        for st in tl.findall(NS + 'step'):
            steps.setdefault(side, {}).setdefault(st.get('phase'), us(st.get('time')))
    for side, phases in need.items():
        have = steps.get(side, {})
        missing = [p for p in phases if p not in have]
        fig[side + '_phases'] = ','.join(sorted(have, key=have.get)) or 'none'
        if missing:
            fails.append('%s timeline lacks %s' % (side, ', '.join(missing)))
    dst = steps.get('destination', {})
    if 'prepare' in dst and dst['prepare'] < a.after_ms * 1000 - 1000000:
        fails.append('stale report: the destination prepared at %d us, before this migration began'
                     % dst['prepare'])

    installed, resumed = dst.get('installed'), dst.get('resumed')
    gate = root.find(NS + 'gate')
    opened = us(gate.get('opened')) if gate is not None and gate.get('opened') else None
    fig['gate_mode'] = gate.get('mode', '?') if gate is not None else 'none'
    fig['gate_held_packets'] = gate.get('held-packets', '?') if gate is not None else '?'
    if installed is not None and resumed is not None:
        fig['margin_us'] = resumed - installed
        if resumed < installed:
            # The guest ran first: fine only if its port stayed closed until the state was in.
            if not (fig['gate_mode'] == 'gate' and opened is not None and opened >= installed):
                fails.append('the guest resumed %d us before its state was installed and no gate '
                             'held it (gate opened %s)' % (installed - resumed, opened))
    src = steps.get('source', {})
    if 'stop-and-copy' in src and installed is not None:
        fig['stop_to_installed_us'] = installed - src['stop-and-copy']
    if 'stop-and-copy' in src and resumed is not None:
        fig['stop_to_resumed_us'] = resumed - src['stop-and-copy']
    figures = root.find(NS + 'figures')
    if figures is not None:
        for k, v in figures.attrib.items():
            fig['reported_' + k.replace('-', '_')] = v

    ct = [c for c in root.findall(NS + 'carried') if c.get('class') == 'conntrack']
    if not ct:
        fails.append('no conntrack entries reported as carried')
    else:
        c = ct[0]
        for k in ('precopied', 'changed-at-stop', 'installed', 'failed'):
            fig['ct_' + k.replace('-', '_')] = c.get(k, '?')
        if int(c.get('installed', '0')) < a.min_entries:
            fails.append('%s conntrack entries installed, expected at least %d'
                         % (c.get('installed'), a.min_entries))
        if a.failed_entries is not None:
            if int(c.get('failed', '0')) < a.failed_entries[0]:
                fails.append('%s conntrack entries failed to install, expected at least %d'
                             % (c.get('failed'), a.failed_entries[0]))
        elif c.get('failed', '0') != '0' and a.outcome == 'completed':
            fails.append('%s conntrack entries failed to install' % c.get('failed'))
    listed = root.findall(NS + 'failure')
    distinct = len(set(f.get('entry') for f in listed))
    if a.failed_entries is not None and not a.failed_entries[0] <= distinct <= a.failed_entries[1]:
        fails.append('%d entries listed as failed, expected %d to %d'
                     % (distinct, a.failed_entries[0], a.failed_entries[1]))
    if distinct != len(listed):
        print('note %d failures listed for %d entries (an entry refused more than once)'
              % (len(listed), distinct))
    for f in listed:
        what = 'failure reported: %s' % ' '.join('%s=%s' % kv for kv in f.attrib.items())
        if a.outcome == 'completed' and a.failed_entries is None:
            fails.append(what)
        else:
            print('note ' + what)

    for f in fails:
        print('FAIL ' + f)
    if mig.get('reason'):
        print('reason ' + mig.get('reason'))
    print('figures ' + ' '.join('%s=%s' % kv for kv in fig.items()))
    return 1 if fails else 0


if __name__ == '__main__':
    sys.exit(main())
