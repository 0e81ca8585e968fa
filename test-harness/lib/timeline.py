#!/usr/bin/python3
# test-harness/lib/timeline.py - merge one scenario's logs from all hosts into one timeline and
# summarise each migration (virsh wall time, libvirt downtime, source STOP -> destination RESUME).
"""usage: timeline.py ARTIFACT_DIR  (writes timeline.txt, prints one summary line per migration)"""
import datetime
import glob
import os
import re
import sys

VIRSH_TS = re.compile(r'^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+)\+0000: (.*)$')


def virsh_ms(stamp):
    t = datetime.datetime.strptime(stamp, '%Y-%m-%d %H:%M:%S.%f')
    return int(t.replace(tzinfo=datetime.timezone.utc).timestamp() * 1000)


def read_virsh(path, host, kind):
    """Events from 'virsh event --timestamp' / 'qemu-monitor-event --timestamp'; tab-indented
    continuation lines (job-completed statistics) are folded into their event."""
    out = []
    for line in open(path, errors='replace'):
        line = line.rstrip('\n')
        m = VIRSH_TS.match(line)
        if m:
            out.append([virsh_ms(m.group(1)), host, kind, m.group(2)])
        elif line.startswith('\t') and out:
            out[-1][3] += ' ' + line.strip()
    return out


def read_ms_lines(path, host, kind):
    out = []
    for line in open(path, errors='replace'):
        head, _, rest = line.rstrip('\n').partition(' ')
        if head.isdigit():
            out.append([int(head), host, kind, rest])
    return out


GLIB_TS = re.compile(r'(\d\d):(\d\d):(\d\d)\.(\d{3})')


def read_daemon(path, host, kind, day_ms):
    """netcarryd's log: the harness's own lines start with epoch ms; GLib's carry HH:MM:SS.mmm
    (UTC on these machines), placed on the day of the scenario."""
    out = []
    for line in open(path, errors='replace'):
        line = line.rstrip('\n')
        head, _, rest = line.partition(' ')
        if head.isdigit():
            out.append([int(head), host, kind, rest])
            continue
        m = GLIB_TS.search(line)
        if m and day_ms is not None:
            h, mi, sec, ms = (int(g) for g in m.groups())
            out.append([day_ms + ((h * 60 + mi) * 60 + sec) * 1000 + ms, host, kind, line])
    return out


def main(art):
    events = []
    for path in glob.glob(os.path.join(art, 'host*')):
        host = os.path.basename(path)[4:]
        for name, kind, reader in (('events.log', 'libvirt', read_virsh), ('qmp.log', 'qmp', read_virsh),
                                   ('nch-hooks.log', 'hook', read_ms_lines)):
            f = os.path.join(path, name)
            if os.path.exists(f):
                events += reader(f, host, kind)
    events += read_ms_lines(os.path.join(art, 'harness.log'), '-', 'harness')
    first = min((e[0] for e in events if e[2] == 'harness'), default=None)
    day = first - first % 86400000 if first is not None else None
    for path in glob.glob(os.path.join(art, 'host*', 'netcarryd.log')):
        events += read_daemon(path, os.path.basename(os.path.dirname(path))[4:], 'netcarry', day)
    events.sort(key=lambda e: e[0])
    t0 = min((e[0] for e in events if e[2] == 'harness'), default=events[0][0] if events else 0)
    with open(os.path.join(art, 'timeline.txt'), 'w') as tl:
        for ms, host, kind, text in events:
            tl.write('%+9d ms  %-2s %-8s %s\n' % (ms - t0, host, kind, text[:300]))

    mig_file = os.path.join(art, 'migrations')
    if not os.path.exists(mig_file):
        return
    for n, line in enumerate(open(mig_file), 1):
        start, end, src, dst, rc, mode = line.split()
        start, end = int(start), int(end)

        def first(host, kind, pattern):
            for ms, h, k, text in events:
                if h == host and k == kind and start <= ms <= end + 5000 and re.search(pattern, text):
                    return ms, text
            return None, None
        stop, _ = first(src, 'qmp', r'event STOP ')
        resume, _ = first(dst, 'qmp', r'event RESUME ')
        _, job = first(src, 'libvirt', r"'job-completed'")
        down = re.search(r'downtime: (\d+)', job or '')
        print('migration %d %s->%s %s rc=%s virsh_ms=%d downtime_ms=%s stop_to_resume_ms=%s' % (
            n, src, dst, mode, rc, end - start, down.group(1) if down else '?',
            resume - stop if stop and resume else '?'))


if __name__ == '__main__':
    main(sys.argv[1])
