#!/usr/bin/python3
# bench/test-soak-check.py - the soak's verdict can fail: soak-check.py on made-up captures, an
# injector log and a report, once as a migration that kept everything, then with one thing wrong
# at a time (an entry missing, a TCP state changed, a stale injected entry, a leftover). No root.
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
GUEST = '192.168.77.50'
STOP = 1796612000000000          # the source's STOP, us of the wall clock
SEALED = STOP + 1000


def stamp(t_us):
    import datetime
    return datetime.datetime.fromtimestamp(t_us / 1e6, datetime.timezone.utc).strftime(
        '%Y-%m-%dT%H:%M:%S.%fZ')


def entry(src, sport, dport, state, timeout=100):
    return ('<entry zone="0" timeout="%d" mark="0x0" status="seen-reply assured confirmed">'
            '<original proto="tcp" src="%s" dst="%s" sport="%d" dport="%d"/>'
            '<reply proto="tcp" src="%s" dst="%s" sport="%d" dport="%d"/>'
            '<tcp state="%s"/></entry>\n' % (timeout, src, GUEST, sport, dport, GUEST, src, dport,
                                             sport, state))


def bundle(path, t_us, entries):
    with open(path, 'w') as f:
        f.write('<bundle xmlns="https://netcarry.dev/xmlns/bundle/1" version="1">'
                '<capture host="t" time="%s" phase="manual"><address>%s</address></capture>'
                '<conntrack>\n%s</conntrack></bundle>\n' % (stamp(t_us), GUEST, ''.join(entries)))


def inject(ident):       # soak-inject's entry number IDENT, as soak-check.py derives it
    return entry('10.96.%d.%d' % (ident >> 8, ident & 255), 1024, 5002, 'established')


def run(d, before, after, left, extra=()):
    bundle(os.path.join(d, 'b.xml'), STOP - 2000000, before)
    bundle(os.path.join(d, 'a.xml'), STOP + 3000000, after)
    bundle(os.path.join(d, 'l.xml'), STOP + 3000000, left)
    p = subprocess.run([sys.executable, os.path.join(HERE, 'soak-check.py'), '--report',
                        os.path.join(d, 'r.xml'), '--before', os.path.join(d, 'b.xml'),
                        '--after', os.path.join(d, 'a.xml'), '--left', os.path.join(d, 'l.xml'),
                        '--inject', os.path.join(d, 'inject.log'), '--guest', GUEST] + list(extra),
                       capture_output=True, text=True)
    return p.returncode, p.stdout.strip()


def main():
    with tempfile.TemporaryDirectory(prefix='test-soak-check.') as d:
        return check(d)


def check(d):
    with open(os.path.join(d, 'r.xml'), 'w') as f:
        f.write('<report xmlns="https://netcarry.dev/xmlns/report/1" version="1">'
                '<timeline side="source"><step phase="stop-and-copy" time="%s"/>'
                '<step phase="sealed" time="%s"/></timeline></report>\n'
                % (stamp(STOP), stamp(SEALED)))
    # injected: 1 live at the STOP, 2 deleted before it, 3 created after the seal, 4 created at
    # the stop (ambiguous)
    with open(os.path.join(d, 'inject.log'), 'w') as f:
        f.write('c 1 %d %d\n' % (STOP - 900000, STOP - 899990))
        f.write('c 2 %d %d\n' % (STOP - 800000, STOP - 799990))
        f.write('d 2 %d %d\n' % (STOP - 500000, STOP - 499990))
        f.write('c 3 %d %d\n' % (SEALED + 10, SEALED + 20))
        f.write('c 4 %d %d\n' % (STOP + 100, STOP + 110))
    long_ = entry('192.168.77.1', 61000, 7, 'established')
    closed = entry('192.168.77.1', 2000, 9001, 'time-wait', 100)
    changing = entry('192.168.77.1', 2001, 9001, 'fin-wait')
    good = [long_, closed, inject(1), inject(4)]
    cases = [
        ('kept everything', [long_, closed, changing], good, [], 0),
        ('a long-lived entry missing', [long_, closed], [closed, inject(1)], [], 1),
        ('a closed entry reset to CLOSE after the capture (carried, then an RST)', [long_, closed],
         [long_, closed.replace('time-wait', 'close'), inject(1)], [], 0),
        ('a closed entry changed its state', [long_, closed],
         [long_, closed.replace('time-wait', 'established'), inject(1)], [], 1),
        ('an injected entry live at the STOP missing', [long_], [long_], [], 1),
        ('an injected entry deleted before the STOP still there', [long_],
         [long_, inject(1), inject(2)], [], 1),
        ('an injected entry created after the seal there', [long_], [long_, inject(1), inject(3)],
         [], 1),
        ('an entry left on the source', [long_], [long_, inject(1)], [closed], 1),
    ]
    fails = 0
    # the churn tried pairs 1950..1952 between the captures: port 2000 on the first address is
    # pair (2000 - 1024) * 2 + 0 = 1952, so its new state is a new connection, not a loss
    churn = ['--churn-pairs', '1950:1953', '--churn-ports', '1024-60999', '--churn-addrs',
             '192.168.77.1,192.168.77.2']
    cases += [
        ('a closed entry whose 4-tuple the churn used again is left out', [long_, closed],
         [long_, closed.replace('time-wait', 'syn-sent'), inject(1)], [], 0, churn),
        ('... but not one the churn did not use', [long_, closed],
         [long_, closed.replace('time-wait', 'syn-sent'), inject(1)], [], 1,
         ['--churn-pairs', '1953:1960'] + churn[2:]),
    ]
    print('1..%d' % len(cases))
    for n, (name, before, after, left, want, *extra) in enumerate(cases, 1):
        rc, out = run(d, before, after, left, *extra)
        ok = rc == want and ('ok=1' in out) == (want == 0)
        fails += not ok
        print('%s %d - %s: exit %d (%s)' % ('ok' if ok else 'not ok', n, name, rc, out))
    return 1 if fails else 0


if __name__ == '__main__':
    sys.exit(main())
