#!/usr/bin/python3
# bench/soak-check.py - one migration of bench/bench-soak: did the destination get every entry the
# source held at its STOP? Compares, per class, the source's capture before the migration, the
# injector's log and the destination's capture after it, around the STOP in the report.
"""usage: soak-check.py --report R.xml --before S0.xml --after D1.xml --left L.xml
                     [--inject LOG] [--port-inject 5002] [--details FILE]
                     [--churn-pairs FROM:TO --churn-ports LO-HI --churn-addrs A,B]

Classes of the guest's entries (original tuple to the guest, TCP):
  long     ESTABLISHED to port 7 in the source's capture before the migration: the long-lived
           echo and the idle connections. None changes state, so each must be on the
           destination, ESTABLISHED.
  closed   TIME_WAIT in that capture (connections the churn and the checks opened and closed),
           with more timeout left than the time until the destination's capture (+5 s): each
           must be on the destination, in TIME_WAIT or CLOSE. CLOSE is the one state a packet
           still moves such an entry to (an RST: the guest answering a late duplicate ACK after
           its LAST_ACK, common when the migration or the gate delayed packets), on the source
           during pre-copy or on the destination after the install; an RST never creates an
           entry, so a CLOSE entry there was carried. Counted apart ("reset"). Entries in any
           other state were changing while captured: left out ("changing"). So is an entry whose
           4-tuple the churn used again between the two captures (--churn-pairs: the pairs it
           tried, from its progress lines; counted as "reused"): a new SYN replaces the entry.
  inject   the entries soak-inject created and deleted (its log: each operation between two
           wall-clock instants). With STOP and SEALED the source's timestamps from the report,
           an entry created before STOP and not deleted before SEALED must be on the
           destination; one deleted before STOP, or created after SEALED, must not ("extra").
           An entry with an operation inside [STOP, SEALED] (the stop's last events) or a
           failed one is left out ("ambiguous").
  left     every entry of the guest still in the source's kernel after the migration's report
           (cleanup-source is on): must be none.
Prints one line: "long=E/M closed=E/M reset=N reused=N changing=N inject=E/M/X ambiguous=N left=N
stop_us=.. sealed_us=.. ok=0|1" (E expected, M missing or changed, X extra); the entries behind
every non-zero figure go to --details.
"""
import argparse
import datetime
import sys
import xml.etree.ElementTree as ET

BNS = '{https://netcarry.dev/xmlns/bundle/1}'


def us(stamp):
    t = datetime.datetime.strptime(stamp, '%Y-%m-%dT%H:%M:%S.%fZ')
    return int(t.replace(tzinfo=datetime.timezone.utc).timestamp() * 1000000)


def bundle(path):
    """(capture time in us, {key: (state, timeout)}) with key = (zone, proto, src, dst, sport, dport)."""
    root = ET.parse(path).getroot()
    cap = root.find(BNS + 'capture')
    t = us(cap.get('time')) if cap is not None and cap.get('time') else 0
    out = {}
    for e in root.iter(BNS + 'entry'):
        o = e.find(BNS + 'original')
        tcp = e.find(BNS + 'tcp')
        key = (e.get('zone', '0'), o.get('proto'), o.get('src'), o.get('dst'), o.get('sport'),
               o.get('dport'))
        out[key] = (tcp.get('state') if tcp is not None else '-', int(e.get('timeout', '0')))
    return t, out


def report_times(path):
    """(source STOP, source sealed) in us, from the report's source timeline (None if absent)."""
    stop = sealed = None
    for tl in ET.parse(path).getroot().iter():
        if tl.tag.endswith('timeline') and tl.get('side') == 'source':
            for s in tl:
                if s.get('phase') == 'stop-and-copy' and stop is None:
                    stop = us(s.get('time'))
                elif s.get('phase') == 'sealed' and sealed is None:
                    sealed = us(s.get('time'))
    return stop, sealed


def churn_window(a):
    """A function (src, sport) -> True when the churn tried that 4-tuple's pair between the
    captures: try N of tcp-churn uses pair N mod (ports x addresses), pair P being port
    LO + P // addresses on address P % addresses (nc-traffic.c churn_begin())."""
    if not (a.churn_pairs and a.churn_ports and a.churn_addrs):
        return lambda src, sport: False
    first, last = (int(x) for x in a.churn_pairs.split(':'))
    lo, hi = (int(x) for x in a.churn_ports.split('-'))
    addrs = a.churn_addrs.split(',')
    span = (hi - lo + 1) * len(addrs)

    def used(src, sport):
        if src not in addrs or not lo <= int(sport) <= hi:
            return False
        pair = (int(sport) - lo) * len(addrs) + addrs.index(src)
        return last - first >= span or (pair - first) % span < last - first
    return used


def inject_key(ident, guest, port):
    host = ident & 0xfffff
    src = '10.%d.%d.%d' % (96 + (host >> 16), (host >> 8) & 255, host & 255)
    return ('0', 'tcp', src, guest, str(1024 + (ident >> 20) % 64000), str(port))


def main():
    ap = argparse.ArgumentParser()
    for o in ('--report', '--before', '--after', '--left'):
        ap.add_argument(o, required=True)
    ap.add_argument('--inject')
    ap.add_argument('--guest', default='192.168.77.50')
    ap.add_argument('--port-inject', type=int, default=5002)
    ap.add_argument('--details', default='/dev/null')
    ap.add_argument('--churn-pairs')
    ap.add_argument('--churn-ports')
    ap.add_argument('--churn-addrs')
    a = ap.parse_args()
    reused_by_churn = churn_window(a)

    stop, sealed = report_times(a.report)
    if stop is None or sealed is None:
        print('long=- closed=- changing=- inject=- ambiguous=- left=- stop_us=- sealed_us=- ok=0 '
              'why=no_source_STOP_or_seal_in_the_report')
        return 1
    t0, before = bundle(a.before)
    t1, after = bundle(a.after)
    _, left = bundle(a.left)
    det = open(a.details, 'w')
    ipt = str(a.port_inject)

    # class -> [expected, missing or changed]; an entry of a class must be there in the same state
    tally = {'long': [0, 0], 'closed': [0, 0]}
    changing = reset = reused = 0
    for k, (state, timeout) in before.items():
        if k[1] != 'tcp' or k[3] != a.guest or k[5] == ipt:
            continue
        if state == 'established' and k[5] == '7':
            cls = 'long'
        elif state == 'time-wait' and reused_by_churn(k[2], k[4]):
            reused += 1
            continue
        elif state == 'time-wait' and timeout * 1000000 > (t1 - t0) + 5000000:
            cls = 'closed'
        else:
            changing += 1
            continue
        tally[cls][0] += 1
        got = after.get(k)
        if cls == 'closed' and got is not None and got[0] == 'close':
            reset += 1
            det.write('reset %s: time-wait (timeout %d s) before, close on the destination (an '
                      'RST after the capture)\n' % (' '.join(k), timeout))
        elif got is None or got[0] != state:
            tally[cls][1] += 1
            det.write('%s %s: %s (timeout %d s) before, %s on the destination\n'
                      % (cls, ' '.join(k), state, timeout, got[0] if got else 'missing'))
    (long_exp, long_bad), (closed_exp, closed_bad) = tally['long'], tally['closed']

    inj_exp = inj_missing = inj_extra = ambiguous = 0
    if a.inject:
        ops = {}
        for line in open(a.inject):
            f = line.split()
            if len(f) >= 4:
                ops.setdefault(int(f[1]), []).append((f[0], int(f[2]), int(f[3])))
        seen = set()
        for ident, lst in ops.items():
            k = inject_key(ident, a.guest, a.port_inject)
            seen.add(k)
            if any(op == 'f' for op, _, _ in lst) or \
                    any(b <= sealed and e >= stop for _, b, e in lst):
                ambiguous += 1
                continue
            c = [x for x in lst if x[0] == 'c']
            d = [x for x in lst if x[0] == 'd']
            if not c:
                continue
            live = c[0][2] < stop and not (d and d[0][2] < stop)
            got = after.get(k)
            if live:
                inj_exp += 1
                if got is None or got[0] != 'established':
                    inj_missing += 1
                    det.write('inject %d (%s): live at the STOP (created %d us before it%s), %s on '
                              'the destination\n' % (ident, ' '.join(k), stop - c[0][2],
                                                     ', deleted %d us after the seal' % (d[0][1] - sealed) if d else '',
                                                     got[0] if got else 'missing'))
            elif got is not None:
                inj_extra += 1
                det.write('inject %d (%s): %s at the STOP, yet on the destination (%s)\n'
                          % (ident, ' '.join(k),
                             'deleted %d us before it' % (stop - d[0][2]) if d else 'created after the seal',
                             got[0]))
        for k in after:
            if k[5] == ipt and k not in seen:
                inj_extra += 1
                det.write('inject ? (%s): on the destination, injected by no operation of this '
                          'migration\n' % ' '.join(k))

    for k, (state, timeout) in sorted(left.items()):
        det.write('left %s: %s, timeout %d s, still on the source\n' % (' '.join(k), state, timeout))

    ok = not (long_bad or closed_bad or inj_missing or inj_extra or left)
    print('long=%d/%d closed=%d/%d reset=%d reused=%d changing=%d inject=%d/%d/%d ambiguous=%d '
          'left=%d stop_us=%d sealed_us=%d ok=%d'
          % (long_exp, long_bad, closed_exp, closed_bad, reset, reused, changing, inj_exp,
             inj_missing, inj_extra, ambiguous, len(left), stop, sealed, int(ok)))
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
