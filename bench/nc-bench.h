/* nc-bench.h - what the kernel benchmarks share: the raw ctnetlink loop that measures the kernel's
 * batched create ceiling, a flush, the table's size, medians and a clock
 */
#pragma once

#include <glib.h>
#include <libmnl/libmnl.h>

#include "drivers/nc-ct.h"

/* A raw ctnetlink socket in namespace @ns (NULL: ours), bound, with a 16 MiB receive buffer;
 * NULL and @error on failure. */
struct mnl_socket *nc_bench_raw_open(const char *ns, GError **error);

/* Prebuilt IPCTNL_MSG_CT_NEW messages for @n entries (sequence numbers @seq0 on): the same encoder,
 * flags and chunking as nc_ct_install(), an ACK asked for on the last only. */
typedef struct {
    GPtrArray *chunks; /* GBytes, each one sendmsg() */
    guint32 last_seq;
} NcBenchBatch;

NcBenchBatch nc_bench_batch_prepare(const NcCtEntry *e, guint n, guint32 seq0);
void nc_bench_batch_clear(NcBenchBatch *b);

/* Sends @b and waits (at most 10 s) for the answer to its last message: the number of error
 * answers on the way, or -1 on a socket error or no answer. */
int nc_bench_batch_send(struct mnl_socket *nl, NcBenchBatch *b);

/* Deletes every conntrack entry of the socket's namespace (waits for the ACK, at most 10 s). */
void nc_bench_raw_flush(struct mnl_socket *nl);

/* The number of conntrack entries in the socket's namespace (IPCTNL_MSG_CT_GET_STATS: the
 * kernel's own counter, cheap enough to poll), or -1. */
gint64 nc_bench_ct_count(struct mnl_socket *nl);

/* @e: an established, assured TCP entry @src:@sport -> @dst:80 (IPv4), timeout 1 h, window scale
 * 7 and SACK both ways: what the benchmarks install. */
void nc_bench_tcp_entry(NcCtEntry *e, const guint8 src[4], const guint8 dst[4], guint16 sport);

/* Writes into @buf (256 bytes) a ctnetlink request of @msg_type (IPCTNL_MSG_CT_*) for every
 * family, with NLM_F_REQUEST | @flags and a fresh sequence number, which it returns. */
guint32 nc_bench_put_request(char *buf, guint8 msg_type, guint16 flags);

/* The median of @n values. */
double nc_bench_median(double *v, int n);

/* The median of @v's finite values (a failed measurement is NAN), their least and greatest in @lo
 * and @hi (may be NULL); NAN (and 0, 0) when there is none. */
double nc_bench_median_finite(const double *v, int n, double *lo, double *hi);

/* The monotonic clock, in seconds. */
double nc_bench_now(void);
