/* nc-nft-nl.c - nf_tables over netlink (libmnl): requests, dumps and all-or-nothing batches
 *
 * Theory of operation
 * ===================
 * The socket is a NETLINK_NETFILTER socket created inside the target namespace
 * (nc_netns_socket()), so no thread changes namespace and the caller keeps its own.
 *
 * Queries: one request, answers read until NLMSG_DONE (a dump) or the ACK (NLM_F_ACK is always
 * set, so a plain GET also ends with an answer whatever happens).
 *
 * Batches: nf_tables applies the messages between NFNL_MSG_BATCH_BEGIN and NFNL_MSG_BATCH_END
 * (res_id NFNL_SUBSYS_NFTABLES) as one transaction: if any message fails, none is applied. Every
 * message carries NLM_F_ACK and its own sequence number, so each answers once (0 or an errno)
 * and the answer to a refused message names it. The kernel keeps going after a failure to
 * report later errors too (each is read and the first is kept), then aborts the whole
 * transaction. A batch must be one sendmsg() (nfnetlink reassembles nothing across datagrams),
 * so the socket's send buffer is grown to the batch's size first, as nft does.
 */
#define _GNU_SOURCE
#define G_LOG_DOMAIN "nc-nft"
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include "drivers/nc-nft-nl.h"
#include "util/nc-error.h"
#include "util/nc-mnl.h"
#include "util/nc-netns.h"

#define NC_NFT_RCVBUF (8 * 1024 * 1024)
/* one read: a dump message of the kernel is at most 32 KiB (NLMSG_GOODSIZE and its growth) */
#define NC_NFT_RBUF_SIZE (64 * 1024)
#define NC_NFT_TIMEOUT_MS 10000

struct NcNftNl {
    struct mnl_socket *nl;
    guint32 portid;
    guint32 seq;
    char *netns;
    char *rbuf;
};

const char *nc_nft_nl_netns(const NcNftNl *nl)
{
    return nl->netns ? nl->netns : "(own)";
}

/**
 * nc_nft_nl_open() - an nf_tables netlink socket in a network namespace
 * @netns: a name under /run/netns, or NULL for the caller's namespace
 * @error: NC_ERROR_NOT_FOUND (no such namespace), NC_ERROR_PERMISSION, ...
 *
 * Return: (transfer full): the socket, or NULL
 */
NcNftNl *nc_nft_nl_open(const char *netns, GError **error)
{
    int rcvbuf = NC_NFT_RCVBUF;
    g_autoptr(NcNftNl) nl = g_new0(NcNftNl, 1);

    nl->netns = g_strdup(netns);
    nl->nl = nc_mnl_open(netns, NETLINK_NETFILTER, &rcvbuf, error);
    if (!nl->nl)
        return NULL;
    nl->portid = mnl_socket_get_portid(nl->nl);
    nl->seq = (guint32)g_get_monotonic_time();
    nl->rbuf = g_malloc(NC_NFT_RBUF_SIZE);
    return g_steal_pointer(&nl);
}

void nc_nft_nl_close(NcNftNl *nl)
{
    if (!nl)
        return;
    if (nl->nl)
        mnl_socket_close(nl->nl);
    g_free(nl->netns);
    g_free(nl->rbuf);
    g_free(nl);
}

struct nlmsghdr *nc_nft_nl_request(char *buf, guint16 type, guint8 family, guint16 flags,
                                   guint32 seq)
{
    return nc_mnl_put_nfnl(buf, (NFNL_SUBSYS_NFTABLES << 8) | type, family, flags, seq, 0);
}

static gboolean nc_nft_wait_readable(NcNftNl *nl, GError **error)
{
    return nc_mnl_wait_readable(nl->nl, NC_NFT_TIMEOUT_MS, "nf_tables", nl->netns, error);
}

gboolean nc_nft_nl_query(NcNftNl *nl, struct nlmsghdr *nlh, mnl_cb_t cb, gpointer data,
                         const char *what, int *errnum, GError **error)
{
    NcMnlQuery q = {nl->nl,      nl->portid, nl->rbuf, NC_NFT_RBUF_SIZE, NC_NFT_TIMEOUT_MS,
                    "nf_tables", nl->netns};

    return nc_mnl_query(&q, ++nl->seq, nlh, cb, data, what, errnum, error);
}

/* ---- batches ---- */

struct NcNftBatch {
    NcNftNl *nl;
    GByteArray *buf;
    guint32 first_seq;
    GPtrArray *whats; /* message i (sequence first_seq + 1 + i) -> what it does */
    gsize open_at;    /* offset of the message being filled, or G_MAXSIZE */
};

static void nc_nft_batch_put_marker(GByteArray *buf, guint16 type, guint32 seq)
{
    char tmp[64] = {0};
    struct nlmsghdr *nlh = nc_mnl_put_nfnl(tmp, type, AF_UNSPEC, 0, seq, NFNL_SUBSYS_NFTABLES);

    g_byte_array_append(buf, (const guint8 *)tmp, nlh->nlmsg_len);
}

NcNftBatch *nc_nft_batch_new(NcNftNl *nl)
{
    NcNftBatch *b = g_new0(NcNftBatch, 1);

    b->nl = nl;
    b->buf = g_byte_array_sized_new(64 * 1024);
    b->first_seq = nl->seq + 1;
    b->whats = g_ptr_array_new_with_free_func(g_free);
    nc_nft_batch_put_marker(b->buf, NFNL_MSG_BATCH_BEGIN, b->first_seq);
    return b;
}

void nc_nft_batch_free(NcNftBatch *batch)
{
    if (!batch)
        return;
    g_byte_array_unref(batch->buf);
    g_ptr_array_unref(batch->whats);
    g_free(batch);
}

guint nc_nft_batch_count(const NcNftBatch *batch)
{
    return batch->whats->len;
}

/* Fixes the length of the message being filled (the caller wrote into it in place). */
static void nc_nft_batch_close_msg(NcNftBatch *b)
{
    struct nlmsghdr *nlh;

    if (b->open_at == G_MAXSIZE || !b->whats->len)
        return;
    nlh = (struct nlmsghdr *)(b->buf->data + b->open_at);
    g_byte_array_set_size(b->buf, b->open_at + MNL_ALIGN(nlh->nlmsg_len));
    b->open_at = G_MAXSIZE;
}

struct nlmsghdr *nc_nft_batch_add(NcNftBatch *batch, guint16 type, guint8 family, guint16 flags,
                                  const char *what)
{
    gsize at;
    guint32 seq;

    nc_nft_batch_close_msg(batch);
    at = batch->buf->len;
    seq = batch->first_seq + 1 + batch->whats->len;
    g_byte_array_set_size(batch->buf, at + NC_NFT_MSG_MAX + 256);
    memset(batch->buf->data + at, 0, NC_NFT_MSG_MAX + 256);
    g_ptr_array_add(batch->whats, g_strdup(what));
    batch->open_at = at;
    return nc_nft_nl_request((char *)batch->buf->data + at, type, family, NLM_F_ACK | flags, seq);
}

gboolean nc_nft_batch_commit(NcNftBatch *batch, int *errnum, GError **error)
{
    NcNftNl *nl = batch->nl;
    guint n = batch->whats->len, answered = 0;
    int first_err = 0;
    guint32 first_err_seq = 0;
    int sndbuf;

    if (errnum)
        *errnum = 0;
    if (!n)
        return TRUE;
    nc_nft_batch_close_msg(batch);
    nc_nft_batch_put_marker(batch->buf, NFNL_MSG_BATCH_END, batch->first_seq + 1 + n);
    nl->seq = batch->first_seq + 1 + n;

    /* a netlink datagram must fit the send buffer: grow it to the batch (nft does the same) */
    sndbuf = (int)MIN(batch->buf->len + 65536, (guint)G_MAXINT);
    if (setsockopt(mnl_socket_get_fd(nl->nl), SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof(sndbuf)) <
        0)
        setsockopt(mnl_socket_get_fd(nl->nl), SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
    if (mnl_socket_sendto(nl->nl, batch->buf->data, batch->buf->len) < 0) {
        int saved = errno;

        g_set_error(error, NC_ERROR, nc_error_code_from_errno(saved),
                    "cannot send an nf_tables batch of %u messages (%u bytes) in network "
                    "namespace %s: %s",
                    n, batch->buf->len, nc_nft_nl_netns(nl), g_strerror(saved));
        return FALSE;
    }
    /* every message carries NLM_F_ACK: read n answers */
    while (answered < n) {
        ssize_t len;
        const struct nlmsghdr *nlh;

        if (!nc_nft_wait_readable(nl, error))
            return FALSE;
        len = mnl_socket_recvfrom(nl->nl, nl->rbuf, NC_NFT_RBUF_SIZE);
        if (len < 0) {
            int saved = errno;

            g_set_error(error, NC_ERROR, NC_ERROR_IO,
                        "reading nf_tables' answers to a batch in network namespace %s: %s",
                        nc_nft_nl_netns(nl), g_strerror(saved));
            return FALSE;
        }
        nlh = (const struct nlmsghdr *)nl->rbuf;
        while (mnl_nlmsg_ok(nlh, (int)len)) {
            if (nlh->nlmsg_type == NLMSG_ERROR) {
                const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);

                answered++;
                if (e->error && !first_err) {
                    first_err = -e->error;
                    first_err_seq = nlh->nlmsg_seq;
                }
            }
            nlh = mnl_nlmsg_next(nlh, (int *)&len);
        }
    }
    if (first_err) {
        guint idx = first_err_seq - batch->first_seq - 1;
        const char *what = idx < n ? g_ptr_array_index(batch->whats, idx) : "a message";

        if (errnum)
            *errnum = first_err;
        g_set_error(error, NC_ERROR, nc_error_code_from_errno(first_err),
                    "nf_tables refused %s in network namespace %s: %s; nothing of the batch "
                    "(%u messages) was applied",
                    what, nc_nft_nl_netns(nl), g_strerror(first_err), n);
        return FALSE;
    }
    return TRUE;
}

/* ---- attributes ---- */

guint64 nc_nft_attr_be64(const struct nlattr *attr)
{
    return attr ? GUINT64_FROM_BE(mnl_attr_get_u64(attr)) : 0;
}

guint32 nc_nft_attr_be32(const struct nlattr *attr)
{
    return attr ? GUINT32_FROM_BE(mnl_attr_get_u32(attr)) : 0;
}

typedef struct {
    const struct nlattr **tb;
    int max;
} NcNftAttrCtx;

static int nc_nft_attr_cb(const struct nlattr *attr, void *data)
{
    NcNftAttrCtx *c = data;
    int type = mnl_attr_get_type(attr);

    if (type <= c->max)
        c->tb[type] = attr;
    return MNL_CB_OK;
}

gboolean nc_nft_attr_nested(const struct nlattr *nest, const struct nlattr **tb, int max)
{
    NcNftAttrCtx c = {tb, max};

    memset(tb, 0, sizeof(*tb) * (max + 1));
    return nest && mnl_attr_parse_nested(nest, nc_nft_attr_cb, &c) >= 0;
}

gboolean nc_nft_msg_attrs(const struct nlmsghdr *nlh, const struct nlattr **tb, int max)
{
    NcNftAttrCtx c = {tb, max};

    memset(tb, 0, sizeof(*tb) * (max + 1));
    return mnl_attr_parse(nlh, sizeof(struct nfgenmsg), nc_nft_attr_cb, &c) >= 0;
}

guint8 nc_nft_msg_family(const struct nlmsghdr *nlh)
{
    const struct nfgenmsg *nfg = mnl_nlmsg_get_payload(nlh);

    return nfg->nfgen_family;
}
