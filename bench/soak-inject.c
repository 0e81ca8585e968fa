/* soak-inject.c - conntrack churn by injection for bench/bench-soak: entries of one address
 * created and deleted in a network namespace at a fixed rate, every operation logged with its time.
 *
 * Theory of operation
 *
 * The soak (issue 10) wants a guest's entries created and deleted in the source host's kernel at
 * 1,000/s while the guest migrates, and afterwards proof that the destination holds exactly the
 * entries the source held at its STOP. A real TCG guest cannot open 1,000 connections a second,
 * so this helper makes the kernel state directly, through netcarry's own conntrack driver
 * (nc_ct_install(), nc_ct_delete(): one ctnetlink message and its answer each), so netcarryd's
 * event follower sees exactly the NEW and DESTROY events a busy guest would cause.
 *
 * Entry number I (counting from --first-id) is an established TCP entry
 * 10.96.0.0+(I mod 2^20):(1024 + I div 2^20) -> ADDRESS:PORT, timeout 120 s. The schedule is fixed
 * in time: entry I is created at start + (I - first) / rate, and entry I - window deleted right
 * after it (window = rate * lifetime), so about `window` injected entries are alive at any moment,
 * `rate` are created and `rate` deleted per second. A late loop catches up (no sleep) rather than
 * lowering the rate; the achieved rate is printed at the end.
 *
 * The log (--log FILE), one line per operation, times in microseconds of the wall clock (the
 * same clock as the reports' timestamps, on this one machine):
 *
 *     c ID BEFORE_US AFTER_US       created
 *     d ID BEFORE_US AFTER_US       deleted
 *     f ID BEFORE_US AFTER_US ERR   creating or deleting failed (the entry's state is unknown)
 *
 * The operation took effect in the kernel between BEFORE and AFTER, so the checker knows, for any
 * instant outside those intervals, exactly which entries existed. Runs until SIGTERM or SIGINT,
 * then prints one line: "inject created=N deleted=N failed=N seconds=S rate=R".
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_conntrack_tcp.h>
#include <netinet/in.h>

#include "drivers/nc-ct.h"
#include "util/nc-addr.h"

#define INJECT_TIMEOUT_S 120

static volatile sig_atomic_t inject_stop;

static void inject_on_signal(int sig)
{
    (void)sig;
    inject_stop = 1;
}

/**
 * inject_entry() - entry number @id of the injected set
 * @id: its number
 * @guest: the address the entries belong to (the reply source)
 * @port: the guest's port
 * @e: (out): the entry
 */
static void inject_entry(guint64 id, const NcAddr *guest, guint16 port, NcCtEntry *e)
{
    guint32 host = (guint32)(id & 0xfffff);
    NcAddr client = {0};

    memset(e, 0, sizeof(*e));
    client.family = guest->family;
    if (guest->family == AF_INET) {
        client.bytes[0] = 10;
        client.bytes[1] = (guint8)(96 + (host >> 16));
        client.bytes[2] = (guint8)(host >> 8);
        client.bytes[3] = (guint8)host;
    } else {
        client.bytes[0] = 0xfd;
        client.bytes[1] = 0x96;
        client.bytes[13] = (guint8)(host >> 16);
        client.bytes[14] = (guint8)(host >> 8);
        client.bytes[15] = (guint8)host;
    }
    e->orig.src = client;
    e->orig.dst = *guest;
    e->orig.proto = IPPROTO_TCP;
    e->orig.sport = (guint16)(1024 + (id >> 20) % 64000);
    e->orig.dport = port;
    e->reply.src = *guest;
    e->reply.dst = client;
    e->reply.proto = IPPROTO_TCP;
    e->reply.sport = port;
    e->reply.dport = e->orig.sport;
    e->status = IPS_ASSURED | IPS_SEEN_REPLY | IPS_CONFIRMED;
    e->timeout = INJECT_TIMEOUT_S;
    e->has_tcp = TRUE;
    e->tcp_state = TCP_CONNTRACK_ESTABLISHED;
    e->tcp_wscale[0] = e->tcp_wscale[1] = 7;
    e->tcp_flags[0] = e->tcp_flags[1] = IP_CT_TCP_FLAG_WINDOW_SCALE | IP_CT_TCP_FLAG_SACK_PERM;
}

/* Sleep until @t_us of the monotonic clock (no-op when it is past). */
static void inject_sleep_until(gint64 t_us)
{
    struct timespec ts = {.tv_sec = t_us / G_USEC_PER_SEC,
                          .tv_nsec = (t_us % G_USEC_PER_SEC) * 1000};

    while (!inject_stop && clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

int main(int argc, char **argv)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GOptionContext) ctx = g_option_context_new("- conntrack churn by injection");
    g_autofree char *netns = NULL, *address = NULL, *log_path = NULL;
    gint port = 5002, rate = 1000, lifetime_ms = 1000;
    gint64 first_id = 0;
    GOptionEntry options[] = {
        {"netns", 0, 0, G_OPTION_ARG_STRING, &netns, "namespace under /run/netns", "NS"},
        {"address", 0, 0, G_OPTION_ARG_STRING, &address, "the guest's address", "ADDR"},
        {"port", 0, 0, G_OPTION_ARG_INT, &port, "the guest's port (default 5002)", "PORT"},
        {"rate", 0, 0, G_OPTION_ARG_INT, &rate, "entries created (and deleted) per second", "N"},
        {"lifetime-ms", 0, 0, G_OPTION_ARG_INT, &lifetime_ms,
         "how long an entry lives (default 1000)", "MS"},
        {"first-id", 0, 0, G_OPTION_ARG_INT64, &first_id,
         "number of the first entry (a run that goes on elsewhere continues the count)", "N"},
        {"log", 0, 0, G_OPTION_ARG_FILENAME, &log_path, "the operations log", "FILE"},
        {NULL}};
    g_autoptr(NcCt) ct = NULL;
    NcAddr guest;
    FILE *log;
    guint64 created = 0, deleted = 0, failed = 0, window;
    gint64 t0, t_end;
    struct sigaction sa = {.sa_handler = inject_on_signal};

    g_option_context_add_main_entries(ctx, options, NULL);
    if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
        fprintf(stderr, "soak-inject: %s\n", error->message);
        return 2;
    }
    if (!address || !log_path || port < 1 || port > 65535 || rate < 1 || rate > 100000 ||
        lifetime_ms < 1 || first_id < 0) {
        fprintf(stderr, "soak-inject: needs --address and --log; --port 1-65535, --rate "
                        "1-100000, --lifetime-ms and --first-id positive\n");
        return 2;
    }
    if (!nc_addr_parse(address, &guest, &error)) {
        fprintf(stderr, "soak-inject: --address: %s\n", error->message);
        return 2;
    }
    ct = nc_ct_open(netns, &error);
    if (!ct) {
        fprintf(stderr, "soak-inject: %s\n", error->message);
        return 1;
    }
    log = fopen(log_path, "w");
    if (!log) {
        fprintf(stderr, "soak-inject: cannot write %s: %s\n", log_path, g_strerror(errno));
        return 1;
    }
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    window = MAX(1, (guint64)rate * (guint64)lifetime_ms / 1000);
    t0 = g_get_monotonic_time();
    for (guint64 k = 0; !inject_stop; k++) {
        guint64 id = (guint64)first_id + k;
        NcCtEntry e;
        gint64 before, after;
        guint n = 0;

        inject_sleep_until(t0 + (gint64)(k * G_USEC_PER_SEC / (guint64)rate));
        if (inject_stop)
            break;
        inject_entry(id, &guest, (guint16)port, &e);
        before = g_get_real_time();
        if (nc_ct_install(ct, &e, 1, NULL, &error)) {
            after = g_get_real_time();
            fprintf(log, "c %" G_GUINT64_FORMAT " %" G_GINT64_FORMAT " %" G_GINT64_FORMAT "\n", id,
                    before, after);
            created++;
        } else {
            after = g_get_real_time();
            fprintf(log, "f %" G_GUINT64_FORMAT " %" G_GINT64_FORMAT " %" G_GINT64_FORMAT " %s\n",
                    id, before, after, error->message);
            if (failed++ < 5)
                fprintf(stderr, "soak-inject: %s\n", error->message);
            g_clear_error(&error);
        }
        if (k < window)
            continue;
        inject_entry(id - window, &guest, (guint16)port, &e);
        before = g_get_real_time();
        if (nc_ct_delete(ct, &e, 1, &n, &error) && n == 1) {
            after = g_get_real_time();
            fprintf(log, "d %" G_GUINT64_FORMAT " %" G_GINT64_FORMAT " %" G_GINT64_FORMAT "\n",
                    id - window, before, after);
            deleted++;
        } else {
            /* gone already (n == 0) counts too: someone else removed an entry of ours */
            after = g_get_real_time();
            fprintf(log, "f %" G_GUINT64_FORMAT " %" G_GINT64_FORMAT " %" G_GINT64_FORMAT " %s\n",
                    id - window, before, after,
                    error ? error->message : "already gone when it was to be deleted");
            if (failed++ < 5)
                fprintf(stderr, "soak-inject: deleting entry %" G_GUINT64_FORMAT ": %s\n",
                        id - window, error ? error->message : "already gone");
            g_clear_error(&error);
        }
    }
    t_end = g_get_monotonic_time();
    fclose(log);
    printf("inject created=%" G_GUINT64_FORMAT " deleted=%" G_GUINT64_FORMAT
           " failed=%" G_GUINT64_FORMAT " seconds=%.3f rate=%.0f\n",
           created, deleted, failed, (t_end - t0) / 1e6,
           t_end > t0 ? created / ((t_end - t0) / 1e6) : 0.0);
    return failed ? 1 : 0;
}
