/* bench-side-by-side.c - one VM's conntrack entries from the source's STOP to "installed on the
 * destination", three ways in one run: netcarry, conntrackd (FT-FW, commit at the stop), and
 * stop-and-copy (dump at the stop, install), against the kernel's raw batched create ceiling
 *
 * Theory of operation
 *
 * Two network namespaces, "source" and "destination", joined by a veth (10.99.0.1 - 10.99.0.2),
 * stand for two hosts; no libvirt, no guest. For each table size N (1k, 10k, 100k by default) the
 * source's kernel holds the VM's N established TCP entries (address 10.1.0.5) beside 1,000 of a
 * neighbour (10.1.0.6) that must stay behind. Then, with the destination's table emptied before
 * each, one measurement of each method, in an order rotated from one (run, size) to the next so
 * that the machine's noise falls on all of them alike:
 *
 *   netcarry       two real carry engines over the real TLS peer link, driven as
 *                  tests/kernel/test-carry.c drives them (this program plays netcarryd's libvirt
 *                  side): admission, the pre-copy until the destination holds the N entries (its
 *                  convergence time is printed), ~100 ms of "running", then the STOP; measured:
 *                  STOP -> the destination's INSTALLED step (its engine's own timestamp). The
 *                  entries the source still had to send at the stop come from the report.
 *   conntrackd     Debian's conntrackd in each namespace (configuration written into a temporary
 *                  directory: FT-FW over UDP on the veth, the VM's address accepted, nothing else),
 *                  the source's started first (it dumps its kernel's table), the destination's then
 *                  asks it for a resync (StartupResync); its external cache filling to N is the
 *                  sync's convergence. At the STOP: `conntrackd -c` (commit) on the destination;
 *                  measured: STOP -> the destination's kernel counts N entries (the commit waits
 *                  for its end; the count is polled with a bounded wait).
 *   stop-and-copy  what Proxmox VE does through QEMU's dbus-vmstate: everything at the stop. At the
 *                  STOP nc_ct_capture() on the source (filtered to the VM's address) and
 *                  nc_ct_install() on the destination: netcarry's own driver, so the comparison is
 *                  about when the work is done, not about code quality. The transfer between the
 *                  hosts is left out (in-process): a real stop-and-copy adds it.
 *   raw create     the kernel's batched create ceiling: the same N entries, prebuilt ctnetlink
 *                  messages sent in 128 KiB batches with one ACK (bench-ct's raw column). No
 *                  method can install N entries at the stop faster than this.
 *
 * After each method the destination is checked: exactly the VM's N entries, none of the
 * neighbour's; a failed check ends the benchmark with exit status 1. Every wait is bounded.
 *
 * Output: one line per measurement ("run ..."), one per size ("summary ...") with the medians and
 * the ratios, all as key=value pairs (times in ms), then a table for people. --plot FILE writes
 * the three curves and the ceiling as SVG (log-log, medians, whiskers min..max). Exit status 77
 * (skip, with the reason) without root, without conntrackd, or without the test PKI's tools.
 */
#include <errno.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_conntrack_tcp.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "conf/nc-report.h"
#include "drivers/nc-ct.h"
#include "nc-bench.h"
#include "nc-carry.h"
#include "nc-kcarry.h"
#include "nc-ktest.h"
#include "util/nc-svg.h"

#define UUID "5b1de0a7-3c52-4d0e-8f51-00000000b5b5"
#define VM4 "10.1.0.5"
#define OTHER4 "10.1.0.6"
#define SRC_IP "10.99.0.1"
#define DST_IP "10.99.0.2"
#define OTHERS 1000
#define WAIT_MS 120000 /* the bound of every wait for a sync or an install */

typedef enum { M_NETCARRY, M_CONNTRACKD, M_STOP_COPY, M_RAW, M_LAST } Method;

static const char *const method_key[M_LAST] = {"netcarry", "conntrackd", "stop_and_copy",
                                               "raw_create"};
static const char *const method_label[M_LAST] = {
    "netcarry (pre-copy, then the stop's delta)", "conntrackd 1.4 FT-FW, commit at the stop",
    "stop-and-copy (dump + install at the stop)", "kernel's raw batched create (the ceiling)"};
static const char *const method_color[M_LAST] = {"#2e7d32", "#d64545", "#e08a1e", "#777777"};

static char ns_src[32], ns_dst[32];
static guint ram_ms = 1000; /* --ram-ms */
static guint hook_ms;       /* --hook-ms; 0: netcarryd's default */
static char *tmp_dir;
static struct mnl_socket *nl_src, *nl_dst;
static NcCt *ct_src, *ct_dst;

/* ---- entries ---- */

/* Entry @i of @address: an established TCP flow @address:(1024 + i mod 60000) ->
 * 192.0.2.(1 + i div 60000):80 (timeout 1 h, window scale 7). */
static NcCtEntry make_entry(const char *address, guint i)
{
    NcCtEntry e;
    NcAddr a;

    g_assert_true(nc_addr_parse(address, &a, NULL));
    nc_bench_tcp_entry(&e, a.bytes, (guint8[]){192, 0, 2, 1 + i / 60000}, 1024 + i % 60000);
    return e;
}

static GArray *make_entries(const char *address, guint n)
{
    GArray *a = g_array_sized_new(FALSE, FALSE, sizeof(NcCtEntry), n);

    for (guint i = 0; i < n; i++) {
        NcCtEntry e = make_entry(address, i);

        g_array_append_val(a, e);
    }
    return a;
}

static NcCtSelector selector_of(const char *address)
{
    NcCtSelector sel = {g_array_new(FALSE, FALSE, sizeof(NcAddr))};
    NcAddr a;

    g_assert_true(nc_addr_parse(address, &a, NULL));
    g_array_append_val(sel.addresses, a);
    return sel;
}

/* The entries of @address in @ct's namespace (a filtered capture), or -1. */
static gint64 count_of(NcCt *ct, const char *address)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GArray) out = g_array_new(FALSE, FALSE, sizeof(NcCtEntry));
    NcCtSelector sel = selector_of(address);
    gboolean ok = nc_ct_capture(ct, &sel, out, &error);

    g_array_unref(sel.addresses);
    if (!ok) {
        fprintf(stderr, "bench-side-by-side: capture: %s\n", error->message);
        return -1;
    }
    return out->len;
}

/* The destination holds exactly the VM's @n entries and none of the neighbour's. */
static gboolean check_destination(Method m, guint n)
{
    gint64 vm = count_of(ct_dst, VM4), other = count_of(ct_dst, OTHER4);

    if (vm == n && other == 0)
        return TRUE;
    fprintf(stderr,
            "bench-side-by-side: %s: the destination holds %" G_GINT64_FORMAT
            " of the VM's %u entries and %" G_GINT64_FORMAT " of the neighbour's (expected 0)\n",
            method_key[m], vm, n, other);
    return FALSE;
}

/* The destination's table counts @n entries (polled: the kernel's counter), within @max_ms. */
static gboolean wait_dst_count(guint n, guint max_ms)
{
    gint64 end = g_get_monotonic_time() + max_ms * (gint64)1000;

    for (;;) {
        gint64 c = nc_bench_ct_count(nl_dst);

        if (c >= n)
            return TRUE;
        if (g_get_monotonic_time() > end) {
            fprintf(stderr,
                    "bench-side-by-side: the destination counts %" G_GINT64_FORMAT
                    " entries, not %u, after %u ms\n",
                    c, n, max_ms);
            return FALSE;
        }
        g_usleep(200);
    }
}

/* ---- netcarry ---- */

typedef struct {
    NcReport *report;
} NetcarryRun;

static void on_report(const char *uuid, const NcReport *report, gpointer data)
{
    NetcarryRun *run = data;
    g_autofree char *xml = nc_report_format(report);

    nc_report_free(run->report);
    run->report = nc_report_parse_buffer(xml, strlen(xml), "report", NULL);
}

static void on_job(const char *uuid, GTask *task, gpointer data)
{
    g_task_return_boolean(task, TRUE); /* the domain is migrating away: that is the benchmark */
    g_object_unref(task);
}

static gboolean tick(gpointer data)
{
    return G_SOURCE_CONTINUE;
}

typedef gboolean (*Pred)(gpointer data);

/* Iterates the main loop until @pred holds, at most @max_ms. */
static gboolean loop_until(Pred pred, gpointer data, guint max_ms)
{
    gint64 end = g_get_monotonic_time() + max_ms * (gint64)1000;
    guint id = g_timeout_add(1, tick, NULL);

    while (!pred(data) && g_get_monotonic_time() < end)
        g_main_context_iteration(NULL, TRUE);
    g_source_remove(id);
    return pred(data);
}

static gboolean never(gpointer data)
{
    return FALSE;
}

static guint want_count;

static gboolean dst_counts_want(gpointer data)
{
    return nc_bench_ct_count(nl_dst) >= want_count;
}

static double converged_at; /* when the destination first counted want_count; 0: not yet */

/* Never holds: notes when the destination first counts want_count. */
static gboolean note_convergence(gpointer data)
{
    if (!converged_at && dst_counts_want(NULL))
        converged_at = nc_bench_now();
    return FALSE;
}

static gboolean dst_installed_or_failed(gpointer data)
{
    NcPhase p = nc_phase_tracker_current(data, UUID, NC_SIDE_DESTINATION, NULL);

    return p == NC_PHASE_INSTALLED || p == NC_PHASE_FAILED ||
           nc_phase_tracker_abandoned(data, UUID, NC_SIDE_DESTINATION);
}

static gboolean have_report(gpointer data)
{
    return ((NetcarryRun *)data)->report != NULL;
}

static void feed(NcPhaseTracker *t, NcSide side, NcPhaseInput type, gint64 time_us)
{
    NcPhaseEvent ev = {
        .type = type, .side = side, .domain = UUID, .time_us = time_us, .downtime_ms = -1};

    nc_phase_tracker_feed(t, &ev);
}

static gint64 step_time(NcPhaseTracker *t, NcSide side, NcPhase phase)
{
    guint n = 0;
    const NcPhaseStep *steps = nc_phase_tracker_steps(t, UUID, side, &n);

    for (guint i = n; i-- > 0;)
        if (steps[i].phase == phase)
            return steps[i].time_us;
    return -1;
}

static NcDomain *make_domain(const NcRendezvous *rv)
{
    NcDomain *d = g_new0(NcDomain, 1);
    NcAddr a;

    g_assert_true(nc_addr_parse(VM4, &a, NULL));
    d->uuid = g_strdup(UUID);
    d->name = g_strdup("nc-bench-vm");
    d->interfaces = g_ptr_array_new_with_free_func((GDestroyNotify)nc_domain_iface_free);
    d->profile = nc_profile_new();
    g_array_append_val(d->profile->addresses, a);
    if (rv)
        d->profile->rendezvous = nc_rendezvous_copy(rv);
    return d;
}

static NcCarryEngine *make_engine(const char *ns, NcConfig *cfg, NcPhaseTracker *phases,
                                  const char *host, NetcarryRun *run)
{
    NcCarryOptions o = {.config = cfg,
                        .job_func = on_job,
                        .netns = ns,
                        .host_name = host,
                        .phases = phases,
                        .report_func = on_report,
                        .user_data = run,
                        /* both engines share this one main loop: a source encoding a large first
                         * copy holds the destination's timers back too (as in test-carry) */
                        .peer_idle_ms = 20000};
    g_autoptr(GError) error = NULL;
    NcCarryEngine *e = nc_carry_engine_new(&o, &error);

    if (!e)
        fprintf(stderr, "bench-side-by-side: engine in %s: %s\n", ns, error->message);
    return e;
}

typedef struct {
    double stop_ms;     /* STOP -> installed (the destination's step) */
    double precopy_ms;  /* netcarry: admission -> the destination holds N; conntrackd: its sync */
    double extra_ms[2]; /* netcarry: STOP -> sealed at the source, admission's own time;
                         * conntrackd: the commit command's own time, -; stop-and-copy: capture,
                         * install */
    gint64 left;        /* netcarry: entries sent after the STOP (the report's changed-at-stop) */
    gboolean converged_before_stop; /* netcarry: the destination held N before the STOP */
    gint64 missing; /* netcarry: of the N, not installed on the destination at the STOP */
} Result;

static gboolean run_netcarry(guint n, Result *res)
{
    g_autoptr(NcConfig) cfg_src = nc_kcarry_config(SRC_IP, "client");
    g_autoptr(NcConfig) cfg_dst = nc_kcarry_config(DST_IP, "client");
    g_autoptr(NcPhaseTracker) ph_src = nc_phase_tracker_new();
    g_autoptr(NcPhaseTracker) ph_dst = nc_phase_tracker_new();
    g_autoptr(NcDomain) at_src = make_domain(NULL);
    g_autoptr(NcDomain) at_dst = NULL;
    g_autoptr(NcProfile) profile = NULL;
    g_autoptr(GError) error = NULL;
    NetcarryRun run = {0};
    NcCarryEngine *src = NULL, *dst = NULL;
    gboolean ok = FALSE;
    gint64 t_stop, t_installed, t_sealed;
    double t0, t1;

    cfg_src->cleanup_source = cfg_dst->cleanup_source = FALSE; /* the next method needs them */
    if (hook_ms) /* admission gives up on a first copy that stalls for 90 % of it */
        cfg_dst->hook_timeout_ms = hook_ms;
    src = make_engine(ns_src, cfg_src, ph_src, "client.test", &run);
    dst = src ? make_engine(ns_dst, cfg_dst, ph_dst, "host-b", &run) : NULL;
    if (!dst)
        goto out;
    if (!nc_carry_engine_add_local(src, at_src, &error)) {
        fprintf(stderr, "bench-side-by-side: netcarry: %s\n", error->message);
        goto out;
    }
    profile = nc_carry_engine_rendezvous_profile(src, UUID, at_src->profile);
    at_dst = make_domain(profile->rendezvous);
    t0 = nc_bench_now();
    if (!nc_carry_engine_admit(dst, at_dst, &error)) {
        fprintf(stderr, "bench-side-by-side: netcarry: admission refused: %s\n", error->message);
        goto out;
    }
    t1 = nc_bench_now();
    res->extra_ms[1] = (t1 - t0) * 1e3;
    /* libvirt starts the migration once admission returned; the guest's RAM pre-copy then takes
     * ram_ms (about a second for bench-migrate's small guest) before the STOP */
    want_count = n;
    converged_at = nc_bench_now();
    if (!dst_counts_want(NULL)) {
        converged_at = 0;
        loop_until(note_convergence, NULL, ram_ms);
    } else {
        loop_until(never, NULL, ram_ms);
    }
    res->precopy_ms = converged_at > 0 ? (converged_at - t0) * 1e3 : -1;

    res->missing = (gint64)n - MAX(nc_bench_ct_count(nl_dst), 0); /* not yet there at the STOP */
    t_stop = g_get_real_time();
    feed(ph_src, NC_SIDE_SOURCE, NC_EV_QMP_STOP, t_stop);
    nc_carry_engine_source_stopped(src, UUID, t_stop);
    if (!loop_until(dst_installed_or_failed, ph_dst, WAIT_MS) ||
        nc_phase_tracker_current(ph_dst, UUID, NC_SIDE_DESTINATION, NULL) != NC_PHASE_INSTALLED) {
        fprintf(stderr, "bench-side-by-side: netcarry: the destination did not install: %s\n",
                nc_phase_tracker_reason(ph_dst, UUID, NC_SIDE_DESTINATION));
        goto out;
    }
    t_installed = step_time(ph_dst, NC_SIDE_DESTINATION, NC_PHASE_INSTALLED);
    t_sealed = step_time(ph_src, NC_SIDE_SOURCE, NC_PHASE_SEALED);
    res->stop_ms = (t_installed - t_stop) / 1e3;
    res->converged_before_stop = res->precopy_ms >= 0;
    if (!res->converged_before_stop) /* only with the stop: when the installed step came */
        res->precopy_ms = (nc_bench_now() - t0) * 1e3 - (g_get_real_time() - t_installed) / 1e3;
    res->extra_ms[0] = t_sealed >= 0 ? (t_sealed - t_stop) / 1e3 : NAN;

    /* the migration ends as under libvirt: the report then says what was left for the stop */
    feed(ph_dst, NC_SIDE_DESTINATION, NC_EV_QMP_RESUME, g_get_real_time());
    nc_carry_engine_resumed(dst, UUID, g_get_real_time());
    nc_carry_engine_finished(dst, UUID, NC_SIDE_DESTINATION, NC_CARRY_COMPLETED, NULL);
    feed(ph_src, NC_SIDE_SOURCE, NC_EV_LV_JOB_COMPLETED, g_get_real_time());
    nc_carry_engine_remove_local(src, UUID);
    nc_carry_engine_finished(src, UUID, NC_SIDE_SOURCE, NC_CARRY_COMPLETED, NULL);
    res->left = -1;
    if (loop_until(have_report, &run, 5000))
        res->left = run.report->carried[NC_REPORT_CLASS_CONNTRACK].changed_at_stop;
    ok = check_destination(M_NETCARRY, n);
out:
    g_clear_pointer(&src, nc_carry_engine_free);
    g_clear_pointer(&dst, nc_carry_engine_free);
    loop_until(never, NULL, 50); /* the engines' idles and the links' closes */
    nc_report_free(run.report);
    return ok;
}

/* ---- conntrackd ---- */

static char *conntrackd_path;

static char *cd_file(const char *side, const char *what)
{
    return g_strdup_printf("%s/%s.%s", tmp_dir, side, what);
}

/* The configuration of @side ("s" or "d"): FT-FW over UDP from @self to @peer on nc0, the VM's
 * TCP entries only, a cache large enough for 100k entries and more. */
static gboolean cd_write_config(const char *side, const char *self, const char *peer,
                                GError **error)
{
    g_autofree char *path = cd_file(side, "conf"), *log = cd_file(side, "log");
    g_autofree char *lock = cd_file(side, "lock"), *ctl = cd_file(side, "ctl");
    g_autofree char *text = g_strdup_printf(
        "Sync {\n"
        "\tMode FTFW {\n\t\tStartupResync on\n\t}\n"
        "\tUDP {\n\t\tIPv4_address %s\n\t\tIPv4_Destination_Address %s\n\t\tPort 3780\n"
        "\t\tInterface nc0\n\t\tSndSocketBuffer 24985600\n\t\tRcvSocketBuffer 24985600\n"
        "\t\tChecksum on\n\t}\n"
        "}\n"
        "General {\n"
        "\tSystemd off\n\tHashSize 131072\n\tHashLimit 1048576\n"
        "\tLogFile %s\n\tSyslog off\n\tLockFile %s\n"
        "\tUNIX {\n\t\tPath %s\n\t}\n"
        "\tNetlinkBufferSize 2097152\n\tNetlinkBufferSizeMaxGrowth 134217728\n"
        "\tFilter From Userspace {\n"
        "\t\tProtocol Accept {\n\t\t\tTCP\n\t\t}\n"
        "\t\tAddress Accept {\n\t\t\tIPv4_address %s\n\t\t}\n"
        "\t}\n"
        "}\n",
        self, peer, log, lock, ctl, VM4);

    return g_file_set_contents(path, text, -1, error);
}

/* `conntrackd -C CONF ARG` (a client of the daemon's UNIX socket: no namespace needed); its
 * stdout in @out. */
static gboolean cd_ctl(const char *side, const char *arg, char **out, GError **error)
{
    g_autofree char *conf = cd_file(side, "conf");
    const char *argv[] = {conntrackd_path, "-C", conf, arg, NULL};

    return nc_ktest_run_argv(argv, out, error);
}

/* Starts the daemon of @side in @ns (foreground, output to its log) and waits (10 s at most)
 * until its control socket answers. Returns its PID, or 0. */
static GPid cd_start(const char *side, const char *ns)
{
    g_autofree char *conf = cd_file(side, "conf"), *lock = cd_file(side, "lock");
    const char *argv[] = {"ip", "netns", "exec", ns, conntrackd_path, "-C", conf, NULL};
    g_autoptr(GError) error = NULL;
    gint64 end = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
    GPid pid = 0;

    g_unlink(lock); /* one a killed daemon left */
    if (!g_spawn_async(NULL, (char **)argv, NULL,
                       G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD |
                           G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL,
                       NULL, NULL, &pid, &error)) {
        fprintf(stderr, "bench-side-by-side: conntrackd: %s\n", error->message);
        return 0;
    }
    while (g_get_monotonic_time() < end) {
        g_autofree char *out = NULL;

        if (cd_ctl(side, "-s", &out, NULL))
            return pid;
        g_usleep(5000);
    }
    fprintf(stderr, "bench-side-by-side: conntrackd (%s) did not answer within 10 s\n", side);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return 0;
}

/* SIGTERM, then SIGKILL after 5 s; reaps it. */
static void cd_stop(GPid pid)
{
    gint64 end = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;

    if (pid <= 0)
        return;
    kill(pid, SIGTERM);
    while (waitpid(pid, NULL, WNOHANG) == 0) {
        if (g_get_monotonic_time() > end) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            return;
        }
        g_usleep(2000);
    }
}

/* The "current active connections" of the daemon's external cache (`conntrackd -s`), or -1. */
static gint64 cd_external(const char *side)
{
    g_autofree char *out = NULL;
    const char *p, *q;

    if (!cd_ctl(side, "-s", &out, NULL) || !(p = strstr(out, "cache external:")) ||
        !(q = strstr(p, "current active connections:")))
        return -1;
    return g_ascii_strtoll(q + strlen("current active connections:"), NULL, 10);
}

static gboolean run_conntrackd(guint n, Result *res)
{
    g_autoptr(GError) error = NULL;
    GPid s = 0, d = 0;
    gboolean ok = FALSE;
    gint64 end;
    double t0, t1;

    s = cd_start("s", ns_src); /* it dumps its kernel's table at start */
    if (!s)
        goto out;
    t0 = nc_bench_now();
    d = cd_start("d", ns_dst); /* and sends it when this one asks (StartupResync) */
    if (!d)
        goto out;
    end = g_get_monotonic_time() + WAIT_MS * (gint64)1000;
    while (cd_external("d") < n) {
        if (g_get_monotonic_time() > end) {
            fprintf(
                stderr,
                "bench-side-by-side: conntrackd: the destination's cache holds %" G_GINT64_FORMAT
                " of %u entries after %d ms\n",
                cd_external("d"), n, WAIT_MS);
            goto out;
        }
        g_usleep(5000);
    }
    res->precopy_ms = (nc_bench_now() - t0) * 1e3;
    g_usleep(100000);

    t0 = nc_bench_now(); /* the STOP */
    if (!cd_ctl("d", "-c", NULL, &error)) {
        fprintf(stderr, "bench-side-by-side: conntrackd: commit: %s\n", error->message);
        goto out;
    }
    t1 = nc_bench_now();
    if (!wait_dst_count(n, WAIT_MS))
        goto out;
    res->stop_ms = (nc_bench_now() - t0) * 1e3;
    res->extra_ms[0] = (t1 - t0) * 1e3;
    ok = check_destination(M_CONNTRACKD, n);
out:
    cd_stop(d);
    cd_stop(s);
    return ok;
}

/* ---- stop-and-copy and the ceiling ---- */

static gboolean run_stop_copy(guint n, Result *res)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GArray) got = g_array_new(FALSE, FALSE, sizeof(NcCtEntry));
    NcCtSelector sel = selector_of(VM4);
    double t0, t1, t2;
    gboolean ok;

    t0 = nc_bench_now(); /* the STOP */
    ok = nc_ct_capture(ct_src, &sel, got, &error);
    t1 = nc_bench_now();
    ok = ok && nc_ct_install(ct_dst, (NcCtEntry *)got->data, got->len, NULL, &error);
    t2 = nc_bench_now();
    g_array_unref(sel.addresses);
    if (!ok) {
        fprintf(stderr, "bench-side-by-side: stop-and-copy: %s\n", error->message);
        return FALSE;
    }
    res->stop_ms = (t2 - t0) * 1e3;
    res->extra_ms[0] = (t1 - t0) * 1e3;
    res->extra_ms[1] = (t2 - t1) * 1e3;
    return check_destination(M_STOP_COPY, n);
}

static gboolean run_raw(GArray *vm, guint n, Result *res)
{
    static guint32 seq0 = 0x10000000u;
    NcBenchBatch b = nc_bench_batch_prepare((NcCtEntry *)vm->data, n, seq0);
    double t0 = nc_bench_now();
    int errors = nc_bench_batch_send(nl_dst, &b);

    res->stop_ms = (nc_bench_now() - t0) * 1e3;
    seq0 += n;
    nc_bench_batch_clear(&b);
    if (errors) {
        fprintf(stderr, "bench-side-by-side: raw create: %d errors\n", errors);
        return FALSE;
    }
    return check_destination(M_RAW, n);
}

/* ---- the plot ---- */

#define PW 960
#define PH 640
#define PX0 90.0
#define PX1 640.0
#define PY0 80.0
#define PY1 540.0

typedef struct {
    guint n_sizes;
    const guint *sizes;
    double (*med)[M_LAST]; /* [size][method] */
    double (*lo)[M_LAST];
    double (*hi)[M_LAST];
    const double *precopy; /* [size]: netcarry's pre-copy until converged (median) */
} Plot;

static double px(const Plot *p, double n)
{
    double a = log10(p->sizes[0]), b = log10(p->sizes[p->n_sizes - 1]);

    if (b - a < 1e-9) {
        a -= 0.5;
        b += 0.5;
    }
    a -= 0.15;
    b += 0.15;
    return PX0 + (log10(n) - a) / (b - a) * (PX1 - PX0);
}

static double py(double lo_dec, double hi_dec, double ms)
{
    return PY1 - (log10(ms) - lo_dec) / (hi_dec - lo_dec) * (PY1 - PY0);
}

static char *plot_svg(const Plot *p, guint runs, const char *machine)
{
    GString *s = g_string_new(NULL);
    double vmin = G_MAXDOUBLE, vmax = 0, lo_dec, hi_dec;

    for (guint i = 0; i < p->n_sizes; i++)
        for (int m = 0; m < M_LAST; m++) {
            if (p->lo[i][m] > 0)
                vmin = MIN(vmin, p->lo[i][m]);
            vmax = MAX(vmax, p->hi[i][m]);
            if (isfinite(p->precopy[i]))
                vmax = MAX(vmax, p->precopy[i]);
        }
    if (vmax <= 0)
        vmin = vmax = 1;
    lo_dec = floor(log10(vmin));
    hi_dec = MAX(ceil(log10(vmax)), lo_dec + 1);

    nc_svg_begin(s, PW, PH);
    nc_svg_text(s, 20, 30, "start", "font-size=\"18\" font-weight=\"bold\" fill=\"#111\"",
                "One VM's conntrack entries: source STOP \u2192 installed on the destination");
    {
        g_autofree char *sub = g_strdup_printf(
            "same entries, same run, methods interleaved \u00b7 median of %u run%s, whiskers "
            "min\u2013max \u00b7 %s",
            runs, runs == 1 ? "" : "s", machine);
        nc_svg_text(s, 20, 52, "start", "font-size=\"12\" fill=\"#555\"", sub);
    }
    /* the frame, the decades and their grid */
    g_string_append_printf(s,
                           "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                           "fill=\"none\" stroke=\"#555\"/>\n",
                           PX0, PY0, PX1 - PX0, PY1 - PY0);
    for (double d = lo_dec; d <= hi_dec + 1e-9; d++) {
        for (int k = 1; k < 10; k++) {
            double v = pow(10, d) * k, y = py(lo_dec, hi_dec, v);

            if (log10(v) > hi_dec + 1e-9)
                break;
            g_string_append_printf(s,
                                   "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                                   "stroke=\"%s\" stroke-width=\"1\"/>\n",
                                   PX0, y, PX1, y, k == 1 ? "#ccc" : "#eee");
            if (k == 1 || k == 2 || k == 5) {
                g_autofree char *label =
                    v >= 1 ? g_strdup_printf("%.0f", v) : g_strdup_printf("%g", v);

                nc_svg_text(s, PX0 - 8, y + 4, "end", "font-size=\"11\" fill=\"#444\"", label);
            }
        }
    }
    for (guint i = 0; i < p->n_sizes; i++) {
        double x = px(p, p->sizes[i]);
        g_autofree char *label = g_strdup_printf("%u", p->sizes[i]);

        g_string_append_printf(s,
                               "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                               "stroke=\"#eee\"/>\n",
                               x, PY0, x, PY1);
        nc_svg_text(s, x, PY1 + 18, "middle", "font-size=\"11\" fill=\"#444\"", label);
    }
    nc_svg_text(s, (PX0 + PX1) / 2, PY1 + 40, "middle", "font-size=\"12\" fill=\"#333\"",
                "the VM's entries (log)");
    g_string_append_printf(s,
                           "<text x=\"24\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"12\" "
                           "fill=\"#333\" transform=\"rotate(-90 24 %.1f)\">ms from the STOP "
                           "until all are installed (log)</text>\n",
                           (PY0 + PY1) / 2, (PY0 + PY1) / 2);
    /* the curves: whiskers, the median's line, its points and values */
    for (int m = M_LAST - 1; m >= 0; m--) {
        GString *pts = g_string_new(NULL);

        for (guint i = 0; i < p->n_sizes; i++) {
            double x = px(p, p->sizes[i]);

            if (!(p->med[i][m] > 0)) /* NAN: every run of it failed */
                continue;
            g_string_append_printf(pts, "%.1f,%.1f ", x, py(lo_dec, hi_dec, p->med[i][m]));
            g_string_append_printf(s,
                                   "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                                   "stroke=\"%s\" stroke-width=\"1.5\"/>\n",
                                   x, py(lo_dec, hi_dec, MAX(p->lo[i][m], pow(10, lo_dec))), x,
                                   py(lo_dec, hi_dec, p->hi[i][m]), method_color[m]);
        }
        g_string_append_printf(s,
                               "<polyline points=\"%s\" fill=\"none\" stroke=\"%s\" "
                               "stroke-width=\"2.5\"%s/>\n",
                               pts->str, method_color[m],
                               m == M_RAW ? " stroke-dasharray=\"6,4\"" : "");
        g_string_free(pts, TRUE);
        for (guint i = 0; i < p->n_sizes; i++) {
            double x = px(p, p->sizes[i]), y;
            g_autofree char *v = NULL;

            if (!(p->med[i][m] > 0)) /* NAN: every run of it failed */
                continue;
            y = py(lo_dec, hi_dec, p->med[i][m]);
            g_string_append_printf(s, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"%s\"/>\n", x,
                                   y, method_color[m]);
            v = g_strdup_printf(p->med[i][m] < 10 ? "%.1f" : "%.0f", p->med[i][m]);
            /* conntrackd and stop-and-copy run close: one's value left and above, the other's
             * right and below */
            if (m == M_CONNTRACKD)
                nc_svg_text(s, x - 8, y - 6, "end", "font-size=\"10\" fill=\"#a33\"", v);
            else
                nc_svg_text(s, x + 8, m == M_NETCARRY ? y - 6 : y + 14, "start",
                            "font-size=\"10\" fill=\"#333\"", v);
        }
    }
    /* netcarry's pre-copy: before the STOP, so setup time, not downtime */
    {
        GString *pts = g_string_new(NULL);

        for (guint i = 0; i < p->n_sizes; i++) {
            double x, y;

            if (!(p->precopy[i] > 0))
                continue;
            x = px(p, p->sizes[i]);
            y = py(lo_dec, hi_dec, p->precopy[i]);
            g_autofree char *v = g_strdup_printf("%.0f", p->precopy[i]);

            g_string_append_printf(pts, "%.1f,%.1f ", x, y);
            g_string_append_printf(
                s, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"#8bc34a\"/>\n", x, y);
            nc_svg_text(s, x + 8, y - 6, "start", "font-size=\"10\" fill=\"#5a8a2a\"", v);
        }
        g_string_append_printf(s,
                               "<polyline points=\"%s\" fill=\"none\" stroke=\"#8bc34a\" "
                               "stroke-width=\"1.5\" stroke-dasharray=\"2,3\"/>\n",
                               pts->str);
        g_string_free(pts, TRUE);
    }
    /* the legend, right of the plot */
    for (int m = 0; m < M_LAST; m++) {
        double y = PY0 + 10 + m * 44;

        g_string_append_printf(s,
                               "<line x1=\"660\" y1=\"%.1f\" x2=\"690\" y2=\"%.1f\" stroke=\"%s\" "
                               "stroke-width=\"2.5\"%s/>\n",
                               y, y, method_color[m],
                               m == M_RAW ? " stroke-dasharray=\"6,4\"" : "");
        nc_svg_text(s, 698, y + 4, "start", "font-size=\"12\" fill=\"#222\"", method_label[m]);
    }
    g_string_append_printf(s,
                           "<line x1=\"660\" y1=\"%.1f\" x2=\"690\" y2=\"%.1f\" "
                           "stroke=\"#8bc34a\" stroke-width=\"1.5\" stroke-dasharray=\"2,3\"/>\n",
                           PY0 + 10 + M_LAST * 44, PY0 + 10 + M_LAST * 44);
    nc_svg_text(s, 698, PY0 + 14 + M_LAST * 44, "start", "font-size=\"12\" fill=\"#222\"",
                "netcarry's pre-copy until converged");
    nc_svg_text(s, 698, PY0 + 30 + M_LAST * 44, "start", "font-size=\"11\" fill=\"#555\"",
                "(before the STOP: setup time, not downtime)");
    {
        static const char *const notes[] = {
            "netcarry: STOP \u2192 the destination's",
            "INSTALLED step (its engine's timestamp).",
            "conntrackd: `conntrackd -c` at the STOP",
            "until the destination's kernel counts all.",
            "stop-and-copy: netcarry's own capture and",
            "install, both at the STOP (as Proxmox VE",
            "through dbus-vmstate); the transfer between",
            "hosts is not counted.",
            "raw create: prebuilt batches, one ACK; no",
            "install done at the stop can beat it.",
        };

        for (guint i = 0; i < G_N_ELEMENTS(notes); i++)
            nc_svg_text(s, 660, PY0 + 250 + i * 16, "start", "font-size=\"11\" fill=\"#555\"",
                        notes[i]);
    }
    g_string_append(s, "</svg>\n");
    return g_string_free(s, FALSE);
}

/* ---- main ---- */

static void cleanup(void)
{
    if (nl_src)
        mnl_socket_close(nl_src);
    if (nl_dst)
        mnl_socket_close(nl_dst);
    g_clear_pointer(&ct_src, nc_ct_close);
    g_clear_pointer(&ct_dst, nc_ct_close);
    if (ns_src[0])
        nc_ktest_ns_del(ns_src);
    if (ns_dst[0])
        nc_ktest_ns_del(ns_dst);
    nc_kcarry_pki_cleanup();
    nc_ktest_rm_dir(tmp_dir);
}

static int skip(const char *why)
{
    printf("SKIP bench-side-by-side: %s\n", why);
    return 77;
}

static gboolean parse_sizes(const char *text, GArray *sizes)
{
    g_auto(GStrv) parts = g_strsplit(text, ",", -1);

    for (guint i = 0; parts[i]; i++) {
        guint64 v;

        if (!g_ascii_string_to_unsigned(g_strstrip(parts[i]), 10, 1, 200000, &v, NULL))
            return FALSE;
        guint size = (guint)v;

        g_array_append_val(sizes, size);
    }
    return sizes->len > 0;
}

int main(int argc, char **argv)
{
    g_autofree char *sizes_text = NULL, *plot_path = NULL;
    gint runs = 3, ram_arg = 1000, hook_arg = 0;
    GOptionEntry options[] = {
        {"sizes", 0, 0, G_OPTION_ARG_STRING, &sizes_text,
         "the VM's table sizes, comma-separated (default 1000,10000,100000; at most 200000)",
         "N,..."},
        {"runs", 0, 0, G_OPTION_ARG_INT, &runs, "measurements per size and method (default 3)",
         "R"},
        {"ram-ms", 0, 0, G_OPTION_ARG_INT, &ram_arg,
         "netcarry: ms from admission's return to the STOP (the guest's RAM pre-copy; default "
         "1000)",
         "MS"},
        {"hook-ms", 0, 0, G_OPTION_ARG_INT, &hook_arg,
         "netcarry: the destination's hook timeout (admission waits for the whole first copy "
         "while it progresses, and gives up when it stalls for 90 % of this; default 5000)",
         "MS"},
        {"plot", 0, 0, G_OPTION_ARG_FILENAME, &plot_path,
         "write the plot (SVG) here (default side-by-side.svg)", "FILE"},
        {NULL}};
    g_autoptr(GOptionContext) ctx =
        g_option_context_new("- STOP -> installed: netcarry, conntrackd, stop-and-copy");
    g_autoptr(GError) error = NULL;
    g_autoptr(GArray) sizes = g_array_new(FALSE, FALSE, sizeof(guint));
    const char *pki_skip = NULL;
    gboolean failed = FALSE;
    struct utsname un;
    g_autofree char *machine = NULL;

    setvbuf(stdout, NULL, _IOLBF, 0);
    g_option_context_add_main_entries(ctx, options, NULL);
    if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
        fprintf(stderr, "bench-side-by-side: %s\n", error->message);
        return 2;
    }
    if (!parse_sizes(sizes_text ? sizes_text : "1000,10000,100000", sizes) || runs < 1 ||
        runs > 50) {
        fprintf(stderr, "bench-side-by-side: --sizes takes numbers 1..200000 separated by commas, "
                        "--runs 1..50\n");
        return 2;
    }
    if (ram_arg < 0 || ram_arg > 60000) {
        fprintf(stderr, "bench-side-by-side: --ram-ms takes 0..60000\n");
        return 2;
    }
    ram_ms = (guint)ram_arg;
    if (hook_arg < 0 || hook_arg > 600000) {
        fprintf(stderr, "bench-side-by-side: --hook-ms takes 0..600000\n");
        return 2;
    }
    hook_ms = (guint)hook_arg;
    if (!plot_path)
        plot_path = g_strdup("side-by-side.svg");
    if (geteuid() != 0)
        return skip("needs root (creates network namespaces, runs conntrackd)");
    conntrackd_path = g_find_program_in_path("conntrackd");
    if (!conntrackd_path && g_file_test("/usr/sbin/conntrackd", G_FILE_TEST_IS_EXECUTABLE))
        conntrackd_path = g_strdup("/usr/sbin/conntrackd");
    if (!conntrackd_path)
        return skip("no conntrackd (Debian package conntrackd; test-harness/deps installs it)");
    if (!nc_kcarry_pki_make(&pki_skip))
        return skip(pki_skip);
    atexit(cleanup);
    g_snprintf(ns_src, sizeof(ns_src), "nc-sbs-%d-s", (int)getpid());
    g_snprintf(ns_dst, sizeof(ns_dst), "nc-sbs-%d-d", (int)getpid());
    if (!nc_ktest_ns_add(ns_src, &error) || !nc_ktest_ns_add(ns_dst, &error) ||
        !nc_kcarry_link(ns_src, SRC_IP, ns_dst, DST_IP, &error) ||
        !(tmp_dir = g_dir_make_tmp("nc-sbs-XXXXXX", &error)) ||
        !cd_write_config("s", SRC_IP, DST_IP, &error) ||
        !cd_write_config("d", DST_IP, SRC_IP, &error) ||
        !(nl_src = nc_bench_raw_open(ns_src, &error)) ||
        !(nl_dst = nc_bench_raw_open(ns_dst, &error)) || !(ct_src = nc_ct_open(ns_src, &error)) ||
        !(ct_dst = nc_ct_open(ns_dst, &error))) {
        fprintf(stderr, "bench-side-by-side: setting up: %s\n", error->message);
        return 1;
    }
    if (nc_bench_ct_count(nl_dst) < 0) {
        fprintf(stderr, "bench-side-by-side: the kernel does not answer IPCTNL_MSG_CT_GET_STATS\n");
        return 1;
    }
    g_autoptr(NcConfig) default_cfg = nc_config_new_default();

    uname(&un);
    machine = g_strdup_printf("Linux %s, %ld CPUs", un.release, sysconf(_SC_NPROCESSORS_ONLN));

    guint ns = sizes->len;
    double(*t)[M_LAST][50] = g_malloc0(ns * sizeof(*t));
    double(*pre)[2][50] = g_malloc0(ns * sizeof(*pre));
    double(*left)[50] = g_malloc0(ns * sizeof(*left));
    double(*miss)[50] = g_malloc0(ns * sizeof(*miss));
    guint(*fails)[M_LAST] = g_malloc0(ns * sizeof(*fails));
    guint any_failed = 0;

    printf("side-by-side: %s; the VM's entries beside %u of a neighbour; %d run%s; netcarry's STOP "
           "%u ms after admission returned (hook timeout %u ms); stop-and-copy "
           "uses netcarry's own capture and install (nc_ct_capture, nc_ct_install), so the "
           "comparison is about timing structure, not code quality\n",
           machine, OTHERS, runs, runs == 1 ? "" : "s", ram_ms,
           hook_ms ? hook_ms : default_cfg->hook_timeout_ms);
    for (int r = 0; r < runs && !failed; r++) {
        for (guint si = 0; si < ns && !failed; si++) {
            guint n = g_array_index(sizes, guint, si);
            g_autoptr(GArray) vm = make_entries(VM4, n);
            g_autoptr(GArray) other = make_entries(OTHER4, OTHERS);

            nc_bench_raw_flush(nl_src);
            nc_bench_raw_flush(nl_dst);
            if (!nc_ct_install(ct_src, (NcCtEntry *)vm->data, n, NULL, &error) ||
                !nc_ct_install(ct_src, (NcCtEntry *)other->data, OTHERS, NULL, &error)) {
                fprintf(stderr, "bench-side-by-side: the source's entries: %s\n", error->message);
                failed = TRUE;
                break;
            }
            for (int k = 0; k < M_LAST && !failed; k++) {
                Method m = (Method)((k + r + si) % M_LAST);
                Result res = {0, NAN, {NAN, NAN}, -1, FALSE, -1};
                gboolean ok;

                nc_bench_raw_flush(nl_dst);
                switch (m) {
                case M_NETCARRY:
                    ok = run_netcarry(n, &res);
                    break;
                case M_CONNTRACKD:
                    ok = run_conntrackd(n, &res);
                    break;
                case M_STOP_COPY:
                    ok = run_stop_copy(n, &res);
                    break;
                default:
                    ok = run_raw(vm, n, &res);
                    break;
                }
                if (!ok) { /* counted and shown; the others still run, the exit status says it */
                    fails[si][m]++;
                    t[si][m][r] = pre[si][m == M_CONNTRACKD][r] = NAN;
                    if (m == M_NETCARRY)
                        left[si][r] = miss[si][r] = NAN;
                    printf("run entries=%u run=%d method=%s failed=1\n", n, r + 1, method_key[m]);
                    continue;
                }
                t[si][m][r] = res.stop_ms;
                printf("run entries=%u run=%d method=%s stop_to_installed_ms=%.2f", n, r + 1,
                       method_key[m], res.stop_ms);
                if (m == M_NETCARRY) {
                    pre[si][0][r] = res.precopy_ms;
                    left[si][r] = res.left;
                    miss[si][r] = res.missing;
                    printf(" precopy_converged_ms=%.1f converged_before_stop=%d admission_ms=%.1f "
                           "stop_to_sealed_ms=%.2f left_for_stop=%" G_GINT64_FORMAT
                           " missing_at_stop=%" G_GINT64_FORMAT,
                           res.precopy_ms, res.converged_before_stop, res.extra_ms[1],
                           res.extra_ms[0], res.left, res.missing);
                } else if (m == M_CONNTRACKD) {
                    pre[si][1][r] = res.precopy_ms;
                    printf(" sync_converged_ms=%.1f commit_command_ms=%.2f", res.precopy_ms,
                           res.extra_ms[0]);
                } else if (m == M_STOP_COPY) {
                    printf(" capture_ms=%.2f install_ms=%.2f", res.extra_ms[0], res.extra_ms[1]);
                }
                printf("\n");
            }
        }
    }
    nc_bench_raw_flush(nl_src);
    nc_bench_raw_flush(nl_dst);
    if (failed) {
        fprintf(stderr, "bench-side-by-side: FAILED\n");
        return 1;
    }
    for (guint si = 0; si < ns; si++)
        for (int m = 0; m < M_LAST; m++)
            any_failed += fails[si][m];

    double(*med)[M_LAST] = g_malloc0(ns * sizeof(*med));
    double(*lo)[M_LAST] = g_malloc0(ns * sizeof(*lo));
    double(*hi)[M_LAST] = g_malloc0(ns * sizeof(*hi));

    g_autofree double *pre_med = g_new0(double, ns);

    for (guint si = 0; si < ns; si++) {
        guint n = g_array_index(sizes, guint, si);

        pre_med[si] = nc_bench_median_finite(pre[si][0], runs, NULL, NULL);
        for (int m = 0; m < M_LAST; m++)
            med[si][m] = nc_bench_median_finite(t[si][m], runs, &lo[si][m], &hi[si][m]);
        printf("summary entries=%u netcarry_ms=%.2f conntrackd_ms=%.2f stop_and_copy_ms=%.2f "
               "raw_create_ms=%.2f netcarry_per_conntrackd=%.3g netcarry_per_stop_and_copy=%.3g "
               "netcarry_per_raw=%.3g conntrackd_per_raw=%.3g stop_and_copy_per_raw=%.3g "
               "netcarry_precopy_ms=%.1f netcarry_precopy_pct_of_raw_rate=%.0f "
               "netcarry_left_for_stop=%.0f netcarry_missing_at_stop=%.0f conntrackd_sync_ms=%.1f "
               "netcarry_failed=%u "
               "conntrackd_failed=%u stop_and_copy_failed=%u raw_create_failed=%u\n",
               n, med[si][M_NETCARRY], med[si][M_CONNTRACKD], med[si][M_STOP_COPY], med[si][M_RAW],
               med[si][M_NETCARRY] / med[si][M_CONNTRACKD],
               med[si][M_NETCARRY] / med[si][M_STOP_COPY], med[si][M_NETCARRY] / med[si][M_RAW],
               med[si][M_CONNTRACKD] / med[si][M_RAW], med[si][M_STOP_COPY] / med[si][M_RAW],
               pre_med[si], 100.0 * med[si][M_RAW] / pre_med[si],
               nc_bench_median_finite(left[si], runs, NULL, NULL),
               nc_bench_median_finite(miss[si], runs, NULL, NULL),
               nc_bench_median_finite(pre[si][1], runs, NULL, NULL), fails[si][M_NETCARRY],
               fails[si][M_CONNTRACKD], fails[si][M_STOP_COPY], fails[si][M_RAW]);
    }
    printf("\nSTOP -> installed, ms (median of %d; x raw: times the kernel's raw batched create "
           "of the same entries)\n",
           runs);
    printf("%-9s %10s %10s %13s %10s %10s %10s %10s\n", "entries", "netcarry", "conntrackd",
           "stop-and-copy", "raw", "nc/ctd", "nc/s&c", "nc/raw");
    for (guint si = 0; si < ns; si++)
        printf("%-9u %10.2f %10.2f %13.2f %10.2f %10.3g %10.3g %10.3g\n",
               g_array_index(sizes, guint, si), med[si][M_NETCARRY], med[si][M_CONNTRACKD],
               med[si][M_STOP_COPY], med[si][M_RAW], med[si][M_NETCARRY] / med[si][M_CONNTRACKD],
               med[si][M_NETCARRY] / med[si][M_STOP_COPY], med[si][M_NETCARRY] / med[si][M_RAW]);
    {
        Plot p = {ns, (const guint *)sizes->data, med, lo, hi, pre_med};
        g_autofree char *svg = plot_svg(&p, runs, machine);
        g_autofree char *abs = g_canonicalize_filename(plot_path, NULL);

        if (!g_file_set_contents(plot_path, svg, -1, &error)) {
            fprintf(stderr, "bench-side-by-side: the plot: %s\n", error->message);
            return 1;
        }
        printf("plot=%s\n", abs);
    }
    g_free(fails);
    if (any_failed)
        fprintf(stderr,
                "bench-side-by-side: FAILED: %u measurement%s did not install everything "
                "(\"failed=1\" above)\n",
                any_failed, any_failed == 1 ? "" : "s");
    g_free(t);
    g_free(pre);
    g_free(left);
    g_free(miss);
    g_free(med);
    g_free(lo);
    g_free(hi);
    return any_failed ? 1 : 0;
}
