/* nc-bench.c - what the kernel benchmarks share (see nc-bench.h) */
#include "nc-bench.h"

#include <math.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_conntrack_tcp.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <poll.h>
#include <stdio.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/nc-error.h"
#include "util/nc-netns.h"

#define CHUNK (128 * 1024) /* as nc-ct.c: bytes per sendmsg() */

static guint32 control_seq = 1u << 30; /* flushes and counts; batches use their own */

struct mnl_socket *nc_bench_raw_open(const char *ns, GError **error)
{
    int fd = nc_netns_socket(ns, AF_NETLINK, SOCK_RAW, NETLINK_NETFILTER, error);
    struct mnl_socket *nl = fd >= 0 ? mnl_socket_fdopen(fd) : NULL;
    int rcv = 16 * 1024 * 1024;

    if (fd >= 0 && !nl)
        close(fd);
    if (!nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
        if (nl)
            mnl_socket_close(nl);
        if (error && !*error)
            g_set_error(error, NC_ERROR, NC_ERROR_NETLINK, "ctnetlink socket: bind failed");
        return NULL;
    }
    setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcv, sizeof(rcv));
    return nl;
}

NcBenchBatch nc_bench_batch_prepare(const NcCtEntry *e, guint n, guint32 seq0)
{
    NcBenchBatch b = {g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref), seq0 + n - 1};
    g_autofree char *buf = g_malloc(CHUNK + NC_CT_MSG_MAX);
    gsize off = 0;

    for (guint i = 0; i < n; i++) {
        off += nc_ct_msg_put_new(buf + off, &e[i], seq0 + i,
                                 NLM_F_CREATE | NLM_F_EXCL | (i == n - 1 ? NLM_F_ACK : 0));
        if (i == n - 1 || off + NC_CT_MSG_MAX > CHUNK) {
            g_ptr_array_add(b.chunks, g_bytes_new(buf, off));
            off = 0;
        }
    }
    return b;
}

void nc_bench_batch_clear(NcBenchBatch *b)
{
    g_clear_pointer(&b->chunks, g_ptr_array_unref);
}

/* Waits for the answer to @seq; counts error answers on the way; -1: none within 10 s. */
static int raw_wait(struct mnl_socket *nl, guint32 seq)
{
    char buf[16384];
    int errors = 0;

    for (;;) {
        struct pollfd p = {.fd = mnl_socket_get_fd(nl), .events = POLLIN};
        if (poll(&p, 1, 10000) <= 0) {
            fprintf(stderr, "bench: no answer from the kernel within 10 s\n");
            return -1;
        }
        int n = (int)recv(p.fd, buf, sizeof(buf), 0);
        if (n < 0)
            continue;
        for (const struct nlmsghdr *nlh = (void *)buf; mnl_nlmsg_ok(nlh, n);
             nlh = mnl_nlmsg_next(nlh, &n)) {
            if (nlh->nlmsg_type != NLMSG_ERROR)
                continue;
            const struct nlmsgerr *err = mnl_nlmsg_get_payload(nlh);
            if (err->error)
                errors++;
            if (nlh->nlmsg_seq == seq)
                return errors;
        }
    }
}

int nc_bench_batch_send(struct mnl_socket *nl, NcBenchBatch *b)
{
    for (guint i = 0; i < b->chunks->len; i++) {
        gsize len;
        const void *data = g_bytes_get_data(g_ptr_array_index(b->chunks, i), &len);
        if (mnl_socket_sendto(nl, data, len) < 0) {
            perror("bench: sendto");
            return -1;
        }
    }
    return raw_wait(nl, b->last_seq);
}

guint32 nc_bench_put_request(char *buf, guint8 msg_type, guint16 flags)
{
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
    struct nfgenmsg *nfg;

    nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | msg_type;
    nlh->nlmsg_flags = NLM_F_REQUEST | flags;
    nlh->nlmsg_seq = ++control_seq;
    nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
    nfg->nfgen_family = AF_UNSPEC;
    nfg->version = NFNETLINK_V0;
    return nlh->nlmsg_seq;
}

void nc_bench_raw_flush(struct mnl_socket *nl)
{
    char buf[256];
    guint32 seq = nc_bench_put_request(buf, IPCTNL_MSG_CT_DELETE, NLM_F_ACK);

    mnl_socket_sendto(nl, buf, ((struct nlmsghdr *)buf)->nlmsg_len);
    raw_wait(nl, seq);
}

static int count_attr_cb(const struct nlattr *attr, void *data)
{
    if (mnl_attr_get_type(attr) == CTA_STATS_GLOBAL_ENTRIES &&
        mnl_attr_validate(attr, MNL_TYPE_U32) >= 0)
        *(gint64 *)data = ntohl(mnl_attr_get_u32(attr));
    return MNL_CB_OK;
}

static int count_cb(const struct nlmsghdr *nlh, void *data)
{
    mnl_attr_parse(nlh, sizeof(struct nfgenmsg), count_attr_cb, data);
    return MNL_CB_OK;
}

gint64 nc_bench_ct_count(struct mnl_socket *nl)
{
    char req[256], buf[8192];
    guint32 seq = nc_bench_put_request(req, IPCTNL_MSG_CT_GET_STATS, 0);
    gint64 count = -1;
    int r;

    if (mnl_socket_sendto(nl, req, ((struct nlmsghdr *)req)->nlmsg_len) < 0)
        return -1;
    do {
        struct pollfd p = {.fd = mnl_socket_get_fd(nl), .events = POLLIN};
        ssize_t n;

        if (poll(&p, 1, 2000) <= 0)
            return -1;
        n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
        r = n < 0 ? MNL_CB_ERROR
                  : mnl_cb_run(buf, n, seq, mnl_socket_get_portid(nl), count_cb, &count);
    } while (r > MNL_CB_STOP && count < 0);
    return count;
}

void nc_bench_tcp_entry(NcCtEntry *e, const guint8 src[4], const guint8 dst[4], guint16 sport)
{
    NcCtTuple *o = &e->orig, *r = &e->reply;

    memset(e, 0, sizeof(*e));
    o->src.family = o->dst.family = AF_INET;
    memcpy(o->src.bytes, src, 4);
    memcpy(o->dst.bytes, dst, 4);
    o->proto = IPPROTO_TCP;
    o->sport = sport;
    o->dport = 80;
    r->src = o->dst;
    r->dst = o->src;
    r->proto = IPPROTO_TCP;
    r->sport = o->dport;
    r->dport = o->sport;
    e->status = IPS_ASSURED | IPS_SEEN_REPLY | IPS_CONFIRMED;
    e->timeout = 3600;
    e->has_tcp = TRUE;
    e->tcp_state = TCP_CONNTRACK_ESTABLISHED;
    e->tcp_wscale[0] = e->tcp_wscale[1] = 7;
    e->tcp_flags[0] = e->tcp_flags[1] = IP_CT_TCP_FLAG_WINDOW_SCALE | IP_CT_TCP_FLAG_SACK_PERM;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double nc_bench_median_finite(const double *v, int n, double *lo, double *hi)
{
    g_autofree double *ok = g_new(double, MAX(n, 1));
    int k = 0;

    for (int i = 0; i < n; i++)
        if (isfinite(v[i]))
            ok[k++] = v[i];
    if (lo)
        *lo = k ? ok[0] : 0;
    if (hi)
        *hi = k ? ok[0] : 0;
    if (k == 0)
        return NAN;
    qsort(ok, k, sizeof(*ok), cmp_double);
    if (lo)
        *lo = ok[0];
    if (hi)
        *hi = ok[k - 1];
    return ok[k / 2];
}

double nc_bench_median(double *v, int n)
{
    return nc_bench_median_finite(v, n, NULL, NULL);
}

double nc_bench_now(void)
{
    return g_get_monotonic_time() / 1e6;
}
