/* bench-ct.c - conntrack install and capture rates: nc_ct_install() against a raw libmnl loop
 *
 * Needs root; works in a namespace of its own (nc-ct-bench-PID), removed on exit.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_conntrack_tcp.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <libmnl/libmnl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "drivers/nc-ct.h"
#include "nc-bench.h"
#include "util/nc-netns.h"

#define ROUNDS 5
#define VM_ENTRIES 100

static char ns_name[64];

static void ns_cleanup(void)
{
    const char *argv[] = {"ip", "netns", "del", ns_name, NULL};
    if (ns_name[0])
        g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL, NULL,
                     NULL);
}

/* n TCP ESTABLISHED entries; the first VM_ENTRIES belong to the "VM" 172.16.0.5 */
static NcCtEntry *make_entries(guint n)
{
    NcCtEntry *e = g_new0(NcCtEntry, n);

    for (guint i = 0; i < n; i++) {
        guint8 vm[4] = {172, 16, 0, 5}, other[4] = {10, (i >> 16) & 255, (i >> 8) & 255, i & 255};

        nc_bench_tcp_entry(&e[i], i < VM_ENTRIES ? vm : other, (guint8[]){192, 0, 2, 1},
                           20000 + (i % 40000));
    }
    return e;
}

static int count_cb(const struct nlmsghdr *nlh, void *data)
{
    (*(guint *)data)++;
    return MNL_CB_OK;
}

/* The whole table into userspace: what a capture without CTA_FILTER would cost. */
static guint raw_dump_all(struct mnl_socket *nl)
{
    char req[256];
    g_autofree char *buf = g_malloc(64 * 1024);
    guint32 seq = nc_bench_put_request(req, IPCTNL_MSG_CT_GET, NLM_F_DUMP);
    guint count = 0;
    int r;

    mnl_socket_sendto(nl, req, ((struct nlmsghdr *)req)->nlmsg_len);
    do {
        ssize_t n = mnl_socket_recvfrom(nl, buf, 64 * 1024);
        r = n < 0 ? -1 : mnl_cb_run(buf, n, seq, mnl_socket_get_portid(nl), count_cb, &count);
    } while (r > MNL_CB_STOP);
    return count;
}

int main(int argc, char **argv)
{
    g_autoptr(GError) error = NULL;
    const guint sizes[] = {10000, 100000};

    if (geteuid() != 0) {
        fprintf(stderr, "bench-ct: needs root (creates a network namespace); skipped\n");
        return 77;
    }
    g_snprintf(ns_name, sizeof(ns_name), "nc-ct-bench-%d", (int)getpid());
    const char *add[] = {"ip", "netns", "add", ns_name, NULL};
    int status = 1;
    if (!g_spawn_sync(NULL, (char **)add, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL,
                      &status, &error) ||
        status != 0) {
        fprintf(stderr, "bench-ct: cannot create namespace %s\n", ns_name);
        return 1;
    }
    atexit(ns_cleanup);

    g_autoptr(NcCt) ct = nc_ct_open(ns_name, &error);
    if (!ct) {
        fprintf(stderr, "bench-ct: %s\n", error->message);
        return 1;
    }
    struct mnl_socket *nl = nc_bench_raw_open(ns_name, &error);
    if (!nl) {
        fprintf(stderr, "bench-ct: raw socket: %s\n", error->message);
        return 1;
    }

    printf("conntrack install, entries/s, median of %d alternating rounds (flush between)\n",
           ROUNDS);
    printf("%-10s %14s %14s %8s\n", "entries", "raw libmnl", "nc_ct_install", "ratio");
    for (guint s = 0; s < G_N_ELEMENTS(sizes); s++) {
        guint n = sizes[s];
        g_autofree NcCtEntry *e = make_entries(n);
        double raw[ROUNDS], drv[ROUNDS];

        for (int r = 0; r < ROUNDS; r++) {
            for (int k = 0; k < 2; k++) {
                gboolean driver_turn = (k == 0) == (r % 2 == 1);
                nc_bench_raw_flush(nl);
                if (driver_turn) {
                    double t0 = nc_bench_now();
                    if (!nc_ct_install(ct, e, n, NULL, &error)) {
                        fprintf(stderr, "bench-ct: nc_ct_install: %s\n", error->message);
                        return 1;
                    }
                    drv[r] = n / (nc_bench_now() - t0);
                } else {
                    guint32 seq0 = 0x10000000u + r * 0x200000u + s * 0x1000000u;
                    NcBenchBatch b = nc_bench_batch_prepare(e, n, seq0);
                    double t0 = nc_bench_now();
                    int errors = nc_bench_batch_send(nl, &b);
                    raw[r] = n / (nc_bench_now() - t0);
                    nc_bench_batch_clear(&b);
                    if (errors) {
                        fprintf(stderr, "bench-ct: raw install: %d errors\n", errors);
                        return 1;
                    }
                }
            }
        }
        double mr = nc_bench_median(raw, ROUNDS), md = nc_bench_median(drv, ROUNDS);
        printf("%-10u %14.0f %14.0f %7.0f%%\n", n, mr, md, 100.0 * md / mr);
        fflush(stdout);
    }

    /* capture: the VM's 100 entries out of 100k, against the whole table into userspace */
    {
        guint n = sizes[G_N_ELEMENTS(sizes) - 1];
        g_autofree NcCtEntry *e = make_entries(n);
        NcCtSelector sel = {g_array_new(FALSE, FALSE, sizeof(NcAddr))};
        double tc[ROUNDS], td[ROUNDS];
        guint got = 0, all = 0;

        g_array_append_val(sel.addresses, e[0].orig.src);
        nc_bench_raw_flush(nl);
        if (!nc_ct_install(ct, e, n, NULL, &error)) {
            fprintf(stderr, "bench-ct: %s\n", error->message);
            return 1;
        }
        for (int r = 0; r < ROUNDS; r++) {
            g_autoptr(GArray) out = g_array_new(FALSE, FALSE, sizeof(NcCtEntry));
            double t0 = nc_bench_now();
            if (!nc_ct_capture(ct, &sel, out, &error)) {
                fprintf(stderr, "bench-ct: %s\n", error->message);
                return 1;
            }
            tc[r] = nc_bench_now() - t0;
            got = out->len;
            t0 = nc_bench_now();
            all = raw_dump_all(nl);
            td[r] = nc_bench_now() - t0;
        }
        printf("\ncapture out of %u entries, median of %d rounds\n", n, ROUNDS);
        printf("%-40s %10s %10s\n", "", "entries", "seconds");
        printf("%-40s %10u %10.4f\n", "nc_ct_capture (CTA_FILTER, 2 dumps)", got,
               nc_bench_median(tc, ROUNDS));
        printf("%-40s %10u %10.4f\n", "raw unfiltered dump of the whole table", all,
               nc_bench_median(td, ROUNDS));
        g_array_unref(sel.addresses);
        nc_bench_raw_flush(nl);
        if (got != VM_ENTRIES) {
            fprintf(stderr, "bench-ct: capture returned %u entries, expected %u\n", got,
                    VM_ENTRIES);
            return 1;
        }
    }
    mnl_socket_close(nl);
    return 0;
}
