/* nc-ct.c - the conntrack state driver: ctnetlink capture, batched install, remove
 *
 * Speaks ctnetlink (NFNL_SUBSYS_CTNETLINK) through libmnl and encodes attributes itself.
 */
#define _GNU_SOURCE
#define G_LOG_DOMAIN "nc-ct"
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_conntrack_tcp.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netlink.h>

#include "nc-ct.h"
#include "conf/nc-ct-diff.h"
#include "conf/nc-ct-items.h"
#include "util/nc-error.h"
#include "util/nc-mnl.h"
#include "util/nc-netns.h"

/*
 * Theory of operation
 * ===================
 * Capture. A VM's entries are those whose original source or reply source is one of its
 * addresses (own flows; flows to it; DNAT to it, whose reply comes from the VM). For each
 * address, two IPCTNL_MSG_CT_GET dumps run with CTA_FILTER: ORIG_FLAGS = IP_SRC with
 * CTA_TUPLE_ORIG{IP{SRC}}, then REPLY_FLAGS = IP_SRC with CTA_TUPLE_REPLY{IP{SRC}}. The kernel
 * (ctnetlink_alloc_filter) needs nfgen_family set to AF_INET/AF_INET6 for a tuple filter, and the
 * tuple attribute matching the flag; CTA_ZONE in a dump request filters on the zone (any
 * direction, kernel >= 6.8), CTA_MARK/CTA_MARK_MASK on the mark. The kernel still walks its whole
 * hash, but only matching entries are copied to userspace. An entry found by both dumps is kept
 * once (keyed by zone + original tuple). The selector is re-checked in userspace as a guard
 * against kernels that ignore part of the filter.
 *
 * IPv6 exception: the kernel's IPv6 tuple filter is inverted (ctnetlink_filter_match_tuple()
 * skips an entry when `!ipv6_addr_cmp()`, i.e. when the addresses are EQUAL; seen on 6.18: a
 * filter on source 2001:db8:1::5 returns every IPv6 entry except that host's). So IPv6 entries
 * come from one dump restricted in the kernel to nfgen_family AF_INET6 (plus zone and mark), and
 * the addresses are matched in userspace. This copies the namespace's IPv6 entries to userspace.
 *
 * In pieces. The kernel makes a dump's next buffer of rows when the previous one is read
 * (netlink_recvmsg() runs the dump on), so nc_ct_dump_next() hands out one buffer per call and
 * the rest of the table stays in the kernel: the source streams its first copy this way, and
 * nc_ct_capture() is the same dumps read to their end. nc_ct_remove() deletes each buffer's rows
 * through this handle while a second handle dumps; a deletion near the dump's position may make
 * it skip entries (the kernel resumes after the last entry it sent, and that one may be gone), so
 * it dumps again until a pass finds nothing (NC_CT_REMOVE_PASSES at most).
 *
 * Install. Many IPCTNL_MSG_CT_NEW messages (NLM_F_CREATE|NLM_F_EXCL, no NLM_F_ACK) are packed
 * into one buffer and sent with one sendmsg(). nfnetlink processes the messages of a buffer
 * synchronously inside that sendmsg(), in order, and queues an NLMSG_ERROR only for a message
 * that failed; its sequence number is base + entry index. The very last message carries
 * NLM_F_ACK, so its answer (success or error) proves every earlier message was processed. The
 * socket's queue is drained after every send, and a buffer holds no more messages than the receive
 * buffer has room for error answers, so no answer can be dropped (NETLINK_CAP_ACK keeps them
 * small). If anything failed, every entry of the call that did not fail is deleted again
 * (an EEXIST entry belongs to someone else and stays) and NC_ERROR_PARTIAL reports the failures.
 *
 * What the kernel needs on create so that mid-stream packets pass a default-deny firewall
 * (FINDINGS, kernel section): both tuples and CTA_TIMEOUT; CTA_STATUS with IPS_CONFIRMED (else
 * EBUSY) plus ASSURED|SEEN_REPLY; bits the kernel manages itself (NAT, DYING, OFFLOAD, ...) are
 * ignored, but IPS_EXPECTED must not be sent (EBUSY); TCP state with flags {value, mask} where the
 * mask selects what is set: SACK_PERM|BE_LIBERAL (the destination cannot know the window
 * position) plus WINDOW_SCALE if captured, which the kernel requires before it takes the scale
 * values; NAT as CTA_NAT_SRC/CTA_NAT_DST ranges, derived from the tuples, since the reply tuple
 * alone translates nothing.
 */

/* bytes per sendmsg(); below the default wmem (212992) minus netlink's slack */
#define NC_CT_SEND_CHUNK (128 * 1024)
/* CTA_FILTER_F_CTA_IP_SRC from the kernel's net/netfilter/nf_internals.h (not in the uapi) */
#define NC_CTA_FILTER_F_IP_SRC (1 << 0)
#define NC_CT_RCVBUF (16 * 1024 * 1024)
/* what one queued error answer costs in the receive buffer (skb truesize), generously */
#define NC_CT_ERR_TRUESIZE 2048
#define NC_CT_TIMEOUT_MS 10000
/* nc_ct_remove(): dumps at most, the last one finding nothing left */
#define NC_CT_REMOVE_PASSES 4
/* bytes read per recv() of a dump */
#define NC_CT_DUMP_BUF (64 * 1024)

struct NcCt {
    struct mnl_socket *nl;
    guint32 portid;
    guint32 seq;
    guint max_batch; /* messages per sendmsg(), bounded by the receive buffer */
    char *netns;
    char *buf; /* NC_CT_SEND_CHUNK + NC_CT_MSG_MAX */
};

static const char *nc_ct_ns_name(const NcCt *ct)
{
    return ct->netns ? ct->netns : "(own)";
}

void nc_ct_failure_free(NcCtFailure *failure)
{
    if (!failure)
        return;
    g_free(failure->message);
    g_free(failure);
}

/**
 * nc_ct_open() - open a ctnetlink socket in a network namespace
 * @netns: a name under /run/netns, or NULL for the caller's namespace
 * @error: NC_ERROR_NOT_FOUND, NC_ERROR_PERMISSION, NC_ERROR_UNSUPPORTED (no ctnetlink), ...
 *
 * Return: (transfer full): the handle, or NULL
 */
NcCt *nc_ct_open(const char *netns, GError **error)
{
    int rcvbuf = NC_CT_RCVBUF;

    g_autoptr(NcCt) ct = g_new0(NcCt, 1);
    ct->netns = g_strdup(netns);
    /* beyond rmem_max only with CAP_NET_ADMIN; the batch size adapts to what we got */
    ct->nl = nc_mnl_open(netns, NETLINK_NETFILTER, &rcvbuf, error);
    if (!ct->nl)
        return NULL;
    ct->portid = mnl_socket_get_portid(ct->nl);
    ct->seq = (guint32)g_get_monotonic_time();
    ct->max_batch = CLAMP((guint)rcvbuf / NC_CT_ERR_TRUESIZE / 2, 16, 4096);
    ct->buf = g_malloc(NC_CT_SEND_CHUNK + NC_CT_MSG_MAX);

    return g_steal_pointer(&ct);
}

void nc_ct_close(NcCt *ct)
{
    if (!ct)
        return;
    if (ct->nl)
        mnl_socket_close(ct->nl);
    g_free(ct->netns);
    g_free(ct->buf);
    g_free(ct);
}

/* ---- encoding ---- */

static gboolean nc_ct_l4_has_ports(guint8 proto)
{
    return proto == IPPROTO_TCP || proto == IPPROTO_UDP || proto == IPPROTO_UDPLITE ||
           proto == IPPROTO_SCTP || proto == IPPROTO_DCCP;
}

static void nc_ct_put_tuple(struct nlmsghdr *nlh, int type, const NcCtTuple *t)
{
    struct nlattr *nest = mnl_attr_nest_start(nlh, type);
    struct nlattr *ip = mnl_attr_nest_start(nlh, CTA_TUPLE_IP);

    if (t->src.family == AF_INET6) {
        mnl_attr_put(nlh, CTA_IP_V6_SRC, 16, t->src.bytes);
        mnl_attr_put(nlh, CTA_IP_V6_DST, 16, t->dst.bytes);
    } else {
        mnl_attr_put(nlh, CTA_IP_V4_SRC, 4, t->src.bytes);
        mnl_attr_put(nlh, CTA_IP_V4_DST, 4, t->dst.bytes);
    }
    mnl_attr_nest_end(nlh, ip);

    struct nlattr *proto = mnl_attr_nest_start(nlh, CTA_TUPLE_PROTO);
    mnl_attr_put_u8(nlh, CTA_PROTO_NUM, t->proto);
    if (nc_ct_l4_has_ports(t->proto)) {
        mnl_attr_put_u16(nlh, CTA_PROTO_SRC_PORT, htons(t->sport));
        mnl_attr_put_u16(nlh, CTA_PROTO_DST_PORT, htons(t->dport));
    } else if (t->proto == IPPROTO_ICMP) {
        mnl_attr_put_u16(nlh, CTA_PROTO_ICMP_ID, htons(t->icmp_id));
        mnl_attr_put_u8(nlh, CTA_PROTO_ICMP_TYPE, t->icmp_type);
        mnl_attr_put_u8(nlh, CTA_PROTO_ICMP_CODE, t->icmp_code);
    } else if (t->proto == IPPROTO_ICMPV6) {
        mnl_attr_put_u16(nlh, CTA_PROTO_ICMPV6_ID, htons(t->icmp_id));
        mnl_attr_put_u8(nlh, CTA_PROTO_ICMPV6_TYPE, t->icmp_type);
        mnl_attr_put_u8(nlh, CTA_PROTO_ICMPV6_CODE, t->icmp_code);
    }
    mnl_attr_nest_end(nlh, proto);
    mnl_attr_nest_end(nlh, nest);
}

/* A one-address NAT range (min == max), ports too when the protocol has them. */
static void nc_ct_put_nat(struct nlmsghdr *nlh, int type, const NcAddr *addr, gboolean ports,
                          guint16 port)
{
    struct nlattr *nest = mnl_attr_nest_start(nlh, type);

    if (addr->family == AF_INET6) {
        mnl_attr_put(nlh, CTA_NAT_V6_MINIP, 16, addr->bytes);
        mnl_attr_put(nlh, CTA_NAT_V6_MAXIP, 16, addr->bytes);
    } else {
        mnl_attr_put(nlh, CTA_NAT_V4_MINIP, 4, addr->bytes);
        mnl_attr_put(nlh, CTA_NAT_V4_MAXIP, 4, addr->bytes);
    }
    if (ports) {
        struct nlattr *p = mnl_attr_nest_start(nlh, CTA_NAT_PROTO);
        mnl_attr_put_u16(nlh, CTA_PROTONAT_PORT_MIN, htons(port));
        mnl_attr_put_u16(nlh, CTA_PROTONAT_PORT_MAX, htons(port));
        mnl_attr_nest_end(nlh, p);
    }
    mnl_attr_nest_end(nlh, nest);
}

static struct nlmsghdr *nc_ct_put_header(char *buf, guint16 msg, guint16 flags, guint32 seq,
                                         guint8 family)
{
    return nc_mnl_put_nfnl(buf, (NFNL_SUBSYS_CTNETLINK << 8) | msg, family, flags, seq, 0);
}

/**
 * nc_ct_status_for_create() - the CTA_STATUS to send when creating @e
 *
 * Return: captured status with CONFIRMED|ASSURED|SEEN_REPLY set and EXPECTED (refused with
 * EBUSY on create) cleared; kernel-managed bits are ignored by the kernel.
 */
static guint32 nc_ct_status_for_create(const NcCtEntry *e)
{
    return (e->status & ~(guint32)(IPS_EXPECTED | IPS_DYING | IPS_TEMPLATE | IPS_UNTRACKED)) |
           IPS_CONFIRMED | IPS_ASSURED | IPS_SEEN_REPLY;
}

/**
 * nc_ct_msg_put_new() - encode the IPCTNL_MSG_CT_NEW message that installs @e
 * @buf:         where to write; at least NC_CT_MSG_MAX bytes of room
 * @e:           the entry
 * @seq:         the message's sequence number
 * @nlmsg_flags: added to NLM_F_REQUEST (nc_ct_install uses NLM_F_CREATE|NLM_F_EXCL)
 *
 * Return: the message's length in bytes
 */
gsize nc_ct_msg_put_new(char *buf, const NcCtEntry *e, guint32 seq, guint16 nlmsg_flags)
{
    struct nlmsghdr *nlh =
        nc_ct_put_header(buf, IPCTNL_MSG_CT_NEW, nlmsg_flags, seq, e->orig.src.family);
    gboolean ports = nc_ct_l4_has_ports(e->orig.proto);

    /* SNAT: the reply goes to the translated source; DNAT: it comes from the translated dest. */
    gboolean snat =
        !nc_addr_equal(&e->orig.src, &e->reply.dst) || (ports && e->orig.sport != e->reply.dport);
    gboolean dnat =
        !nc_addr_equal(&e->orig.dst, &e->reply.src) || (ports && e->orig.dport != e->reply.sport);

    nc_ct_put_tuple(nlh, CTA_TUPLE_ORIG, &e->orig);
    if (snat || dnat) {
        /* The kernel applies a NAT range to the reply tuple it is given and marks the entry
         * SRC_NAT/DST_NAT only if that changes it: an already translated reply would be taken
         * as "nothing to translate". So send the untranslated inverse of the original. */
        NcCtTuple plain = e->reply;
        plain.src = e->orig.dst;
        plain.dst = e->orig.src;
        if (ports) {
            plain.sport = e->orig.dport;
            plain.dport = e->orig.sport;
        }
        nc_ct_put_tuple(nlh, CTA_TUPLE_REPLY, &plain);
    } else {
        nc_ct_put_tuple(nlh, CTA_TUPLE_REPLY, &e->reply);
    }
    mnl_attr_put_u32(nlh, CTA_TIMEOUT, htonl(MAX(e->timeout, 1)));
    mnl_attr_put_u32(nlh, CTA_STATUS, htonl(nc_ct_status_for_create(e)));
    if (snat)
        nc_ct_put_nat(nlh, CTA_NAT_SRC, &e->reply.dst, ports, e->reply.dport);
    if (dnat)
        nc_ct_put_nat(nlh, CTA_NAT_DST, &e->reply.src, ports, e->reply.sport);

    if (e->zone)
        mnl_attr_put_u16(nlh, CTA_ZONE, htons(e->zone));
    if (e->mark)
        mnl_attr_put_u32(nlh, CTA_MARK, htonl(e->mark));
    if (e->has_labels) {
        static const guint8 ones[16] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
        static const guint8 zeros[16];
        /* the kernel refuses labels where no rule uses them: send only what is set */
        if (memcmp(e->labels, zeros, 16) != 0) {
            mnl_attr_put(nlh, CTA_LABELS, 16, e->labels);
            mnl_attr_put(nlh, CTA_LABELS_MASK, 16, ones);
        }
    }
    if (e->has_tcp && e->orig.proto == IPPROTO_TCP) {
        struct nlattr *pi = mnl_attr_nest_start(nlh, CTA_PROTOINFO);
        struct nlattr *tcp = mnl_attr_nest_start(nlh, CTA_PROTOINFO_TCP);
        struct nf_ct_tcp_flags f[2];

        for (int d = 0; d < 2; d++) {
            f[d].flags = (e->tcp_flags[d] & IP_CT_TCP_FLAG_WINDOW_SCALE) |
                         IP_CT_TCP_FLAG_SACK_PERM | IP_CT_TCP_FLAG_BE_LIBERAL;
            f[d].mask = f[d].flags;
        }
        mnl_attr_put_u8(nlh, CTA_PROTOINFO_TCP_STATE, e->tcp_state);
        mnl_attr_put(nlh, CTA_PROTOINFO_TCP_FLAGS_ORIGINAL, sizeof(f[0]), &f[0]);
        mnl_attr_put(nlh, CTA_PROTOINFO_TCP_FLAGS_REPLY, sizeof(f[1]), &f[1]);
        mnl_attr_put_u8(nlh, CTA_PROTOINFO_TCP_WSCALE_ORIGINAL, e->tcp_wscale[0]);
        mnl_attr_put_u8(nlh, CTA_PROTOINFO_TCP_WSCALE_REPLY, e->tcp_wscale[1]);
        mnl_attr_nest_end(nlh, tcp);
        mnl_attr_nest_end(nlh, pi);
    }
    return nlh->nlmsg_len;
}

static gsize nc_ct_msg_put_delete(char *buf, const NcCtEntry *e, guint32 seq, guint16 flags)
{
    struct nlmsghdr *nlh =
        nc_ct_put_header(buf, IPCTNL_MSG_CT_DELETE, flags, seq, e->orig.src.family);

    nc_ct_put_tuple(nlh, CTA_TUPLE_ORIG, &e->orig);
    if (e->zone)
        mnl_attr_put_u16(nlh, CTA_ZONE, htons(e->zone));
    return nlh->nlmsg_len;
}

/* ---- decoding ---- */

/* Attributes are read inline rather than through libmnl's callback parser and accessors (a call
 * each, ~60 attributes per entry): the source decodes its whole table before the first chunk, and
 * the follower every event. The bounds checks are mnl_attr_ok()'s: a truncated attribute ends the
 * list, as it does for mnl_attr_parse(). */
static const void *nc_ct_attr_data(const struct nlattr *a)
{
    return (const char *)a + MNL_ATTR_HDRLEN;
}

static gsize nc_ct_attr_data_len(const struct nlattr *a)
{
    return a->nla_len - MNL_ATTR_HDRLEN;
}

/* Index the attributes in [@p, @p + @len) by type into @tb (types above @max are ignored). */
static void nc_ct_parse_attrs(const void *p, gssize len, const struct nlattr **tb, guint max)
{
    const struct nlattr *a = p;

    memset(tb, 0, sizeof(*tb) * (max + 1));
    while (len >= (gssize)sizeof(struct nlattr) && a->nla_len >= sizeof(struct nlattr) &&
           (gssize)a->nla_len <= len) {
        guint type = a->nla_type & NLA_TYPE_MASK;

        if (type <= max)
            tb[type] = a;
        len -= MNL_ALIGN(a->nla_len);
        a = (const struct nlattr *)((const char *)a + MNL_ALIGN(a->nla_len));
    }
}

static gboolean nc_ct_parse_nested(const struct nlattr *nest, const struct nlattr **tb, guint max)
{
    nc_ct_parse_attrs(nc_ct_attr_data(nest), (gssize)nc_ct_attr_data_len(nest), tb, max);
    return TRUE;
}

static gboolean nc_ct_attr_len_ok(const struct nlattr *a, gsize len)
{
    return a && nc_ct_attr_data_len(a) >= len;
}

static guint8 nc_ct_get_u8(const struct nlattr *a)
{
    return nc_ct_attr_len_ok(a, 1) ? *(const guint8 *)nc_ct_attr_data(a) : 0;
}

static guint16 nc_ct_get_be16(const struct nlattr *a)
{
    guint16 v;

    if (!nc_ct_attr_len_ok(a, 2))
        return 0;
    memcpy(&v, nc_ct_attr_data(a), 2);
    return ntohs(v);
}

static guint32 nc_ct_get_be32(const struct nlattr *a)
{
    guint32 v;

    if (!nc_ct_attr_len_ok(a, 4))
        return 0;
    memcpy(&v, nc_ct_attr_data(a), 4);
    return ntohl(v);
}

static gboolean nc_ct_get_addr(const struct nlattr *a, guint8 family, NcAddr *out)
{
    gsize len = family == AF_INET6 ? 16 : 4;

    memset(out, 0, sizeof(*out));
    if (!nc_ct_attr_len_ok(a, len))
        return FALSE;
    out->family = family;
    memcpy(out->bytes, nc_ct_attr_data(a), len);
    return TRUE;
}

static gboolean nc_ct_parse_tuple(const struct nlattr *nest, guint8 family, NcCtTuple *t,
                                  guint16 *zone)
{
    const struct nlattr *tb[CTA_TUPLE_MAX + 1], *ip[CTA_IP_MAX + 1], *pr[CTA_PROTO_MAX + 1];
    gboolean v6 = family == AF_INET6;

    if (!nest || !nc_ct_parse_nested(nest, tb, CTA_TUPLE_MAX) || !tb[CTA_TUPLE_IP] ||
        !tb[CTA_TUPLE_PROTO])
        return FALSE;
    if (!nc_ct_parse_nested(tb[CTA_TUPLE_IP], ip, CTA_IP_MAX) ||
        !nc_ct_get_addr(ip[v6 ? CTA_IP_V6_SRC : CTA_IP_V4_SRC], family, &t->src) ||
        !nc_ct_get_addr(ip[v6 ? CTA_IP_V6_DST : CTA_IP_V4_DST], family, &t->dst))
        return FALSE;
    if (!nc_ct_parse_nested(tb[CTA_TUPLE_PROTO], pr, CTA_PROTO_MAX) || !pr[CTA_PROTO_NUM])
        return FALSE;
    t->proto = nc_ct_get_u8(pr[CTA_PROTO_NUM]);
    t->sport = nc_ct_get_be16(pr[CTA_PROTO_SRC_PORT]);
    t->dport = nc_ct_get_be16(pr[CTA_PROTO_DST_PORT]);
    if (t->proto == IPPROTO_ICMP) {
        t->icmp_id = nc_ct_get_be16(pr[CTA_PROTO_ICMP_ID]);
        t->icmp_type = nc_ct_get_u8(pr[CTA_PROTO_ICMP_TYPE]);
        t->icmp_code = nc_ct_get_u8(pr[CTA_PROTO_ICMP_CODE]);
    } else if (t->proto == IPPROTO_ICMPV6) {
        t->icmp_id = nc_ct_get_be16(pr[CTA_PROTO_ICMPV6_ID]);
        t->icmp_type = nc_ct_get_u8(pr[CTA_PROTO_ICMPV6_TYPE]);
        t->icmp_code = nc_ct_get_u8(pr[CTA_PROTO_ICMPV6_CODE]);
    }
    if (zone && tb[CTA_TUPLE_ZONE])
        *zone = nc_ct_get_be16(tb[CTA_TUPLE_ZONE]);
    return TRUE;
}

/**
 * nc_ct_parse_entry() - decode one IPCTNL_MSG_CT_NEW message (a dump row) into @e
 *
 * Return: FALSE if the message lacks its tuples or has an unknown family
 */
gboolean nc_ct_parse_entry(const struct nlmsghdr *nlh, NcCtEntry *e)
{
    const struct nfgenmsg *nfg = mnl_nlmsg_get_payload(nlh);
    const struct nlattr *tb[CTA_MAX + 1];
    const char *attrs = (const char *)nfg + MNL_ALIGN(sizeof(*nfg));
    guint16 tuple_zone = 0;

    memset(e, 0, sizeof(*e));
    if (nfg->nfgen_family != AF_INET && nfg->nfgen_family != AF_INET6)
        return FALSE;
    nc_ct_parse_attrs(attrs, (const char *)nlh + nlh->nlmsg_len - attrs, tb, CTA_MAX);
    if (!nc_ct_parse_tuple(tb[CTA_TUPLE_ORIG], nfg->nfgen_family, &e->orig, &tuple_zone) ||
        !nc_ct_parse_tuple(tb[CTA_TUPLE_REPLY], nfg->nfgen_family, &e->reply, &tuple_zone))
        return FALSE;

    e->zone = tb[CTA_ZONE] ? nc_ct_get_be16(tb[CTA_ZONE]) : tuple_zone;
    e->status = nc_ct_get_be32(tb[CTA_STATUS]);
    e->timeout = nc_ct_get_be32(tb[CTA_TIMEOUT]);
    e->mark = nc_ct_get_be32(tb[CTA_MARK]);
    if (tb[CTA_LABELS]) {
        gsize len = MIN(nc_ct_attr_data_len(tb[CTA_LABELS]), sizeof(e->labels));
        e->has_labels = TRUE;
        memcpy(e->labels, nc_ct_attr_data(tb[CTA_LABELS]), len);
    }
    if (tb[CTA_PROTOINFO] && e->orig.proto == IPPROTO_TCP) {
        const struct nlattr *pi[CTA_PROTOINFO_MAX + 1], *tcp[CTA_PROTOINFO_TCP_MAX + 1];

        if (nc_ct_parse_nested(tb[CTA_PROTOINFO], pi, CTA_PROTOINFO_MAX) && pi[CTA_PROTOINFO_TCP] &&
            nc_ct_parse_nested(pi[CTA_PROTOINFO_TCP], tcp, CTA_PROTOINFO_TCP_MAX)) {
            e->has_tcp = TRUE;
            e->tcp_state = nc_ct_get_u8(tcp[CTA_PROTOINFO_TCP_STATE]);
            e->tcp_wscale[0] = nc_ct_get_u8(tcp[CTA_PROTOINFO_TCP_WSCALE_ORIGINAL]);
            e->tcp_wscale[1] = nc_ct_get_u8(tcp[CTA_PROTOINFO_TCP_WSCALE_REPLY]);
            /* struct nf_ct_tcp_flags: the value byte comes first */
            e->tcp_flags[0] = nc_ct_get_u8(tcp[CTA_PROTOINFO_TCP_FLAGS_ORIGINAL]);
            e->tcp_flags[1] = nc_ct_get_u8(tcp[CTA_PROTOINFO_TCP_FLAGS_REPLY]);
        }
    }
    return TRUE;
}

/* ---- capture ---- */

typedef struct {
    const NcCtSelector *sel;
    const NcAddr *addr; /* NULL: an IPv6 family dump, matched against every selector address */
    gboolean by_reply;
    GHashTable *seen;
    GArray *out;
    guint bad;
} NcCtDumpCtx;

static int nc_ct_dump_cb(const struct nlmsghdr *nlh, void *data)
{
    NcCtDumpCtx *c = data;
    NcCtEntry e;
    NcCtKey *key;

    if (!nc_ct_parse_entry(nlh, &e)) {
        c->bad++;
        return MNL_CB_OK;
    }
    /* guard against kernels that silently ignore part of the filter */
    if ((c->sel->has_zone && e.zone != c->sel->zone) ||
        (c->sel->has_mark && e.mark != c->sel->mark))
        return MNL_CB_OK;
    if (c->addr && !nc_addr_equal(c->by_reply ? &e.reply.src : &e.orig.src, c->addr))
        return MNL_CB_OK;
    if (!c->addr && !nc_ct_entry_belongs_to(&e, c->sel->addresses))
        return MNL_CB_OK;

    if (c->seen) {
        key = g_new0(NcCtKey, 1);
        memcpy(&key->orig, &e.orig, sizeof(e.orig));
        key->zone = e.zone;
        if (!g_hash_table_add(c->seen, key))
            return MNL_CB_OK; /* found by the other dump already; key freed by the table */
    }
    g_array_append_val(c->out, e);
    return MNL_CB_OK;
}

static gboolean nc_ct_wait_readable(NcCt *ct, GError **error)
{
    return nc_mnl_wait_readable(ct->nl, NC_CT_TIMEOUT_MS, "ctnetlink", ct->netns, error);
}

/* the name of what dump @c asks for, for messages */
static void nc_ct_dump_what(const NcCtDumpCtx *c, char *astr, gsize len)
{
    if (c->addr)
        nc_addr_format(c->addr, astr, len);
    else
        g_strlcpy(astr, "the IPv6 addresses", len);
}

/* Sends the request of dump @c with sequence number @seq. */
static gboolean nc_ct_dump_request(NcCt *ct, NcCtDumpCtx *c, guint32 seq, GError **error)
{
    char req[MNL_SOCKET_BUFFER_SIZE];
    struct nlmsghdr *nlh = nc_ct_put_header(req, IPCTNL_MSG_CT_GET, NLM_F_DUMP, seq,
                                            c->addr ? c->addr->family : AF_INET6);
    int type = c->by_reply ? CTA_TUPLE_REPLY : CTA_TUPLE_ORIG;
    struct nlattr *nest, *ip;
    char astr[NC_ADDR_STRLEN];

    if (c->addr) {
        nest = mnl_attr_nest_start(nlh, type);
        ip = mnl_attr_nest_start(nlh, CTA_TUPLE_IP);
        mnl_attr_put(nlh, c->addr->family == AF_INET6 ? CTA_IP_V6_SRC : CTA_IP_V4_SRC,
                     nc_addr_len(c->addr), c->addr->bytes);
        mnl_attr_nest_end(nlh, ip);
        mnl_attr_nest_end(nlh, nest);

        nest = mnl_attr_nest_start(nlh, CTA_FILTER);
        /* host byte order: the kernel reads these with nla_get_u32 */
        mnl_attr_put_u32(nlh, c->by_reply ? CTA_FILTER_REPLY_FLAGS : CTA_FILTER_ORIG_FLAGS,
                         NC_CTA_FILTER_F_IP_SRC);
        mnl_attr_nest_end(nlh, nest);
    }

    if (c->sel->has_zone)
        mnl_attr_put_u16(nlh, CTA_ZONE, htons(c->sel->zone));
    if (c->sel->has_mark) {
        mnl_attr_put_u32(nlh, CTA_MARK, htonl(c->sel->mark));
        mnl_attr_put_u32(nlh, CTA_MARK_MASK, htonl(0xffffffff));
    }

    if (mnl_socket_sendto(ct->nl, nlh, nlh->nlmsg_len) < 0) {
        int saved = errno;
        nc_ct_dump_what(c, astr, sizeof(astr));
        g_set_error(error, NC_ERROR, nc_error_code_from_errno(saved),
                    "cannot request the conntrack entries of %s in network namespace %s: %s", astr,
                    nc_ct_ns_name(ct), g_strerror(saved));
        return FALSE;
    }
    return TRUE;
}

/* Reads one buffer of dump @c's answer (the kernel fills the next one as this one is read);
 * *@finished once its end came. */
static gboolean nc_ct_dump_read(NcCt *ct, NcCtDumpCtx *c, guint32 seq, char *buf, gsize len,
                                gboolean *finished, GError **error)
{
    char astr[NC_ADDR_STRLEN];
    int r;

    if (!nc_ct_wait_readable(ct, error))
        return FALSE;
    ssize_t n = mnl_socket_recvfrom(ct->nl, buf, len);
    r = n < 0 ? -1 : mnl_cb_run(buf, n, seq, ct->portid, nc_ct_dump_cb, c);
    if (r < 0) {
        int saved = errno;
        nc_ct_dump_what(c, astr, sizeof(astr));
        g_set_error(error, NC_ERROR,
                    saved == ENOENT || saved == EPROTONOSUPPORT || saved == EOPNOTSUPP
                        ? NC_ERROR_UNSUPPORTED
                        : nc_error_code_from_errno(saved),
                    "dumping the conntrack entries of %s in network namespace %s failed: "
                    "%s%s",
                    astr, nc_ct_ns_name(ct), g_strerror(saved),
                    saved == EOPNOTSUPP || saved == ENOENT
                        ? " (is nf_conntrack_netlink available with filter support?)"
                        : "");
        return FALSE;
    }
    *finished = r <= MNL_CB_STOP;
    return TRUE;
}

/* ---- capture in pieces ---- */

/* Whether @sel can select anything: at least one address, each with a family (NC_ERROR_INVALID_ARG
 * naming what is wrong otherwise). */
gboolean nc_ct_selector_check(const NcCtSelector *sel, GError **error)
{
    if (!sel->addresses || sel->addresses->len == 0) {
        g_set_error(error, NC_ERROR, NC_ERROR_INVALID_ARG,
                    "no address selects the VM's conntrack entries: give at least one address");
        return FALSE;
    }
    for (guint i = 0; i < sel->addresses->len; i++) {
        guint8 fam = g_array_index(sel->addresses, NcAddr, i).family;

        if (fam != AF_INET && fam != AF_INET6) {
            g_set_error(error, NC_ERROR, NC_ERROR_INVALID_ARG,
                        "selector address %u has no address family", i);
            return FALSE;
        }
    }
    return TRUE;
}

/* The dumps nc_ct_capture() runs one after another, read a buffer at a time. */
struct NcCtDump {
    NcCt *ct;
    NcCtSelector sel; /* addresses referenced */
    guint step;       /* dump under way: 2 per IPv4 address (by original, by reply source) */
    guint n_steps;    /* ... plus one for all IPv6 addresses */
    gboolean running; /* its request went and its end did not come yet */
    guint32 seq;
    guint bad;
    char *buf;
    GHashTable *seen; /* (nullable): NcCtKey* of the rows given out (nc_ct_capture()'s) */
};

static gboolean nc_ct_dump_ctx(NcCtDump *d, NcCtDumpCtx *c, GArray *out)
{
    guint n4 = 0;

    memset(c, 0, sizeof(*c));
    c->sel = &d->sel;
    c->out = out;
    c->seen = d->seen;
    for (guint i = 0; i < d->sel.addresses->len; i++) {
        const NcAddr *a = &g_array_index(d->sel.addresses, NcAddr, i);

        if (a->family == AF_INET6)
            continue;
        if (n4 == d->step / 2) {
            c->addr = a;
            c->by_reply = d->step % 2 == 1;
            return TRUE;
        }
        n4++;
    }
    /* One IPv6 dump (c->addr NULL), restricted to the family (and zone, mark) in the kernel: see
     * Theory of operation for why the address is not part of the kernel's filter here. */
    return d->step == 2 * n4;
}

/**
 * nc_ct_dump_new() - capture a VM's entries in pieces: what nc_ct_capture() does, read by
 * nc_ct_dump_next() a buffer at a time, so that the caller holds no more than a buffer's rows
 * @ct:    the handle; no other request may use it until the dump is done or freed
 * @sel:   as for nc_ct_capture(); its addresses are referenced
 * @error: NC_ERROR_INVALID_ARG (empty selector)
 *
 * The kernel makes the next buffer of rows when the previous one is read: a row is the entry's
 * state when its buffer was made, and an entry found by two of the dumps comes twice (the caller
 * keeps it once, keyed by zone + original tuple).
 *
 * Return: (transfer full): the dump, or NULL
 */
NcCtDump *nc_ct_dump_new(NcCt *ct, const NcCtSelector *sel, GError **error)
{
    gboolean has_v6 = FALSE;
    guint n4 = 0;

    g_return_val_if_fail(ct && sel, NULL);
    if (!nc_ct_selector_check(sel, error))
        return NULL;
    for (guint i = 0; i < sel->addresses->len; i++) {
        if (g_array_index(sel->addresses, NcAddr, i).family == AF_INET6)
            has_v6 = TRUE;
        else
            n4++;
    }

    NcCtDump *d = g_new0(NcCtDump, 1);
    d->ct = ct;
    d->sel = *sel;
    d->sel.addresses = g_array_ref(sel->addresses);
    d->n_steps = 2 * n4 + (has_v6 ? 1 : 0);
    d->buf = g_malloc(NC_CT_DUMP_BUF);
    return d;
}

/**
 * nc_ct_dump_next() - read the next buffer of a dump
 * @d:     the dump
 * @out:   (element-type NcCtEntry): receives the buffer's selected rows (possibly none)
 * @done:  (out): TRUE once every dump ended (then nothing more comes)
 * @error: as for nc_ct_capture(); the dump is then over (free it)
 *
 * Return: FALSE on error
 */
gboolean nc_ct_dump_next(NcCtDump *d, GArray *out, gboolean *done, GError **error)
{
    NcCtDumpCtx c;
    gboolean finished = FALSE;

    *done = d->step >= d->n_steps;
    if (*done)
        return TRUE;
    nc_ct_dump_ctx(d, &c, out);
    if (!d->running) {
        d->seq = ++d->ct->seq;
        if (!nc_ct_dump_request(d->ct, &c, d->seq, error)) {
            d->step = d->n_steps;
            return FALSE;
        }
        d->running = TRUE;
    }
    if (!nc_ct_dump_read(d->ct, &c, d->seq, d->buf, NC_CT_DUMP_BUF, &finished, error)) {
        d->running = FALSE;
        d->step = d->n_steps;
        return FALSE;
    }
    d->bad += c.bad;
    if (finished) {
        d->running = FALSE;
        d->step++;
    }
    *done = d->step >= d->n_steps;
    if (*done && d->bad)
        g_warning("%u conntrack entries dumped in network namespace %s could not be decoded "
                  "and were skipped",
                  d->bad, nc_ct_ns_name(d->ct));
    return TRUE;
}

/* Frees @d without reading the rest of a dump under way: its handle then must not be used again
 * (the caller closes it), for a caller that stops midway and would only drop the rows. */
void nc_ct_dump_abandon(NcCtDump *d)
{
    if (d)
        d->running = FALSE;
    nc_ct_dump_free(d);
}

/* Frees @d; a dump still under way is read to its end (rows dropped), so the handle is clean. */
void nc_ct_dump_free(NcCtDump *d)
{
    if (!d)
        return;
    if (d->running) {
        g_autoptr(GArray) drop = g_array_new(FALSE, FALSE, sizeof(NcCtEntry));
        NcCtDumpCtx c;
        gboolean finished = FALSE;

        nc_ct_dump_ctx(d, &c, drop);
        while (!finished &&
               nc_ct_dump_read(d->ct, &c, d->seq, d->buf, NC_CT_DUMP_BUF, &finished, NULL))
            g_array_set_size(drop, 0);
    }
    g_array_unref(d->sel.addresses);
    g_free(d->buf);
    g_free(d);
}

/**
 * nc_ct_capture() - append the selected VM's conntrack entries to @out
 * @ct:    the handle
 * @sel:   addresses (at least one) plus optional zone and mark restrictions
 * @out:   (element-type NcCtEntry): receives each matching entry once
 * @error: NC_ERROR_INVALID_ARG (empty selector), NC_ERROR_NETLINK, NC_ERROR_UNSUPPORTED, ...
 *
 * Filtered in the kernel: only matching entries reach userspace (see Theory of operation).
 *
 * Return: TRUE on success; on failure @out may hold part of the entries
 */
gboolean nc_ct_capture(NcCt *ct, const NcCtSelector *sel, GArray *out, GError **error)
{
    g_autoptr(GHashTable) seen = NULL;
    g_autoptr(NcCtDump) dump = NULL;
    gboolean done = FALSE;

    g_return_val_if_fail(ct && sel && out, FALSE);
    dump = nc_ct_dump_new(ct, sel, error);
    if (!dump)
        return FALSE;
    /* an entry found by two of the dumps is kept once */
    seen = g_hash_table_new_full(nc_ct_key_hash, nc_ct_key_equal, g_free, NULL);
    dump->seen = seen;
    while (!done)
        if (!nc_ct_dump_next(dump, out, &done, error))
            return FALSE;
    return TRUE;
}

/* ---- batched requests ---- */

typedef gsize (*NcCtPutFunc)(char *buf, const NcCtEntry *e, guint32 seq, guint16 flags);

typedef struct {
    guint32 base;
    guint n;
    guint last; /* index of the message that carries NLM_F_ACK */
    int *errs;  /* per index: 0 or positive errno */
    gboolean done;
    gboolean overflow;
} NcCtBatchState;

/* Reads what is queued (or, if @block, waits for the final answer). */
static gboolean nc_ct_batch_drain(NcCt *ct, NcCtBatchState *st, gboolean block, GError **error)
{
    char buf[16384];

    for (;;) {
        if (block && !st->done && !nc_ct_wait_readable(ct, error))
            return FALSE;
        ssize_t n = recv(mnl_socket_get_fd(ct->nl), buf, sizeof(buf), MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                if (!block || st->done)
                    return TRUE;
                continue;
            }
            if (errno == ENOBUFS) {
                st->overflow = TRUE;
                continue;
            }
            int saved = errno;
            g_set_error(error, NC_ERROR, NC_ERROR_IO,
                        "reading ctnetlink answers in network namespace %s failed: %s",
                        nc_ct_ns_name(ct), g_strerror(saved));
            return FALSE;
        }
        int len = (int)n;
        for (const struct nlmsghdr *nlh = (void *)buf; mnl_nlmsg_ok(nlh, len);
             nlh = mnl_nlmsg_next(nlh, &len)) {
            if (nlh->nlmsg_type != NLMSG_ERROR || nlh->nlmsg_pid != ct->portid)
                continue;
            const struct nlmsgerr *err = mnl_nlmsg_get_payload(nlh);
            guint32 idx = nlh->nlmsg_seq - st->base;
            if (idx >= st->n)
                continue; /* a late answer of an earlier call */
            if (err->error)
                st->errs[idx] = -err->error;
            if (idx == st->last)
                st->done = TRUE;
        }
    }
}

/**
 * nc_ct_batch() - send one message per entry, batched, and collect each entry's errno
 * @put:   encodes entry i's message
 * @which: (nullable): only entries with which[i] set, or all
 * @errs:  (out): n_entries errnos, 0 for success (and for entries not sent)
 *
 * Return: FALSE if the exchange itself failed (errs then unknown)
 */
static gboolean nc_ct_batch(NcCt *ct, const NcCtEntry *entries, guint n_entries, NcCtPutFunc put,
                            guint16 flags, const gboolean *which, int *errs, GError **error)
{
    NcCtBatchState st = {0};
    guint last = G_MAXUINT, in_buf = 0;
    gsize off = 0;

    memset(errs, 0, sizeof(int) * n_entries);
    for (guint i = 0; i < n_entries; i++)
        if (!which || which[i])
            last = i;
    if (last == G_MAXUINT)
        return TRUE;

    st.base = ct->seq + 1;
    st.n = n_entries;
    st.last = last;
    st.errs = errs;
    ct->seq += n_entries + 1;

    for (guint i = 0; i <= last; i++) {
        if (which && !which[i])
            continue;
        off += put(ct->buf + off, &entries[i], st.base + i, flags | (i == last ? NLM_F_ACK : 0));
        in_buf++;
        if (i == last || off + NC_CT_MSG_MAX > NC_CT_SEND_CHUNK || in_buf >= ct->max_batch) {
            if (mnl_socket_sendto(ct->nl, ct->buf, off) < 0) {
                int saved = errno;
                g_set_error(error, NC_ERROR, nc_error_code_from_errno(saved),
                            "sending conntrack requests in network namespace %s failed: %s",
                            nc_ct_ns_name(ct), g_strerror(saved));
                return FALSE;
            }
            off = 0;
            in_buf = 0;
            if (!nc_ct_batch_drain(ct, &st, i == last, error))
                return FALSE;
        }
    }
    if (st.overflow) {
        g_set_error(error, NC_ERROR, NC_ERROR_IO,
                    "ctnetlink answers were lost in network namespace %s (receive buffer "
                    "overflow); the outcome of some entries is unknown",
                    nc_ct_ns_name(ct));
        return FALSE;
    }
    return TRUE;
}

static NcCtFailure *nc_ct_failure_new(guint index, int errnum, const NcCtEntry *e)
{
    NcCtFailure *f = g_new0(NcCtFailure, 1);
    g_autofree char *what = nc_ct_entry_describe(e);

    f->index = index;
    f->errnum = errnum;
    if (errnum == EEXIST)
        f->message =
            g_strdup_printf("entry %u (%s): already present on the destination", index + 1, what);
    else
        f->message = g_strdup_printf("entry %u (%s): the kernel refused it: %s", index + 1, what,
                                     g_strerror(errnum));
    return f;
}

/**
 * nc_ct_install() - create @entries, all or nothing
 * @ct:         the handle
 * @entries:    the entries, as captured (status, TCP flags are adapted, see Theory of operation)
 * @n_entries:  how many
 * @failures:   (out) (optional) (element-type NcCtFailure): on NC_ERROR_PARTIAL, one per
 *              refused entry, by index
 * @error:      NC_ERROR_PARTIAL when entries were refused (none stays installed), or an
 *              exchange error
 *
 * Return: TRUE if every entry is installed
 */
gboolean nc_ct_install(NcCt *ct, const NcCtEntry *entries, guint n_entries, GPtrArray **failures,
                       GError **error)
{
    g_autofree int *errs = NULL;
    g_autofree gboolean *installed = NULL;
    g_autoptr(GPtrArray) fails = NULL;
    g_autoptr(GError) rollback_error = NULL;
    guint n_installed = 0;

    g_return_val_if_fail(ct && (entries || n_entries == 0), FALSE);
    if (failures)
        *failures = NULL;
    if (n_entries == 0)
        return TRUE;

    for (guint i = 0; i < n_entries; i++) {
        guint8 f = entries[i].orig.src.family;
        if ((f != AF_INET && f != AF_INET6) || entries[i].reply.src.family != f) {
            g_set_error(error, NC_ERROR, NC_ERROR_INVALID_DATA,
                        "conntrack entry %u has no or mixed address families; nothing was "
                        "installed",
                        i);
            return FALSE;
        }
    }

    errs = g_new0(int, n_entries);
    if (!nc_ct_batch(ct, entries, n_entries, nc_ct_msg_put_new, NLM_F_CREATE | NLM_F_EXCL, NULL,
                     errs, error))
        return FALSE;

    fails = g_ptr_array_new_with_free_func((GDestroyNotify)nc_ct_failure_free);
    installed = g_new0(gboolean, n_entries);
    for (guint i = 0; i < n_entries; i++) {
        if (errs[i])
            g_ptr_array_add(fails, nc_ct_failure_new(i, errs[i], &entries[i]));
        else
            installed[i] = TRUE, n_installed++;
    }
    if (fails->len == 0)
        return TRUE;

    /* roll back: what this call created goes; what failed (e.g. pre-existing) stays */
    if (n_installed) {
        g_autofree int *derrs = g_new0(int, n_entries);
        if (!nc_ct_batch(ct, entries, n_entries, nc_ct_msg_put_delete, 0, installed, derrs,
                         &rollback_error)) {
            /* keep going: report both */
        } else {
            for (guint i = 0; i < n_entries; i++)
                if (installed[i] && derrs[i] && derrs[i] != ENOENT && !rollback_error) {
                    g_autofree char *what = nc_ct_entry_describe(&entries[i]);
                    g_set_error(&rollback_error, NC_ERROR, NC_ERROR_NETLINK,
                                "removing entry %u (%s) again failed: %s", i, what,
                                g_strerror(derrs[i]));
                }
        }
    }

    const NcCtFailure *first = g_ptr_array_index(fails, 0);
    if (rollback_error)
        g_set_error(error, NC_ERROR, NC_ERROR_FAILED,
                    "%u of %u conntrack entries were refused in network namespace %s (first: "
                    "%s), and rolling back the other %u failed: %s; remove them by hand",
                    fails->len, n_entries, nc_ct_ns_name(ct), first->message, n_installed,
                    rollback_error->message);
    else
        g_set_error(error, NC_ERROR, NC_ERROR_PARTIAL,
                    "%u of %u conntrack entries were refused in network namespace %s (first: "
                    "%s); nothing was installed",
                    fails->len, n_entries, nc_ct_ns_name(ct), first->message);
    if (failures)
        *failures = g_steal_pointer(&fails);
    return FALSE;
}

/**
 * nc_ct_delete() - delete these entries (by zone and original tuple), batched
 * @ct:        the handle
 * @entries:   the entries (only their key is used)
 * @n_entries: how many
 * @n_removed: (out) (optional): how many were there and are gone
 * @error:     set if the exchange failed or the kernel refused a deletion (an entry already gone
 *             is no error)
 *
 * Return: TRUE on success
 */
gboolean nc_ct_delete(NcCt *ct, const NcCtEntry *entries, guint n_entries, guint *n_removed,
                      GError **error)
{
    g_autofree int *errs = NULL;
    guint removed = 0;

    if (n_removed)
        *n_removed = 0;
    if (n_entries == 0)
        return TRUE;
    errs = g_new0(int, n_entries);
    if (!nc_ct_batch(ct, entries, n_entries, nc_ct_msg_put_delete, 0, NULL, errs, error))
        return FALSE;
    for (guint i = 0; i < n_entries; i++) {
        if (errs[i] == 0) {
            removed++;
        } else if (errs[i] != ENOENT) {
            g_autofree char *what = nc_ct_entry_describe(&entries[i]);
            g_set_error(error, NC_ERROR, NC_ERROR_NETLINK,
                        "deleting conntrack entry %s in network namespace %s failed: %s", what,
                        nc_ct_ns_name(ct), g_strerror(errs[i]));
            if (n_removed)
                *n_removed = removed;
            return FALSE;
        }
    }
    if (n_removed)
        *n_removed = removed;
    return TRUE;
}

/**
 * nc_ct_remove() - delete the selected VM's entries
 * @ct:        the handle
 * @sel:       as for nc_ct_capture()
 * @n_removed: (out) (optional): how many entries were deleted
 * @error:     set if the capture or a deletion failed (an entry gone meanwhile is no error)
 *
 * Return: TRUE on success
 */
gboolean nc_ct_remove(NcCt *ct, const NcCtSelector *sel, guint *n_removed, GError **error)
{
    g_autoptr(NcCt) reader = NULL;
    g_autoptr(GArray) rows = g_array_new(FALSE, FALSE, sizeof(NcCtEntry));

    if (n_removed)
        *n_removed = 0;
    /* A buffer of rows at a time, deleted through this handle while a second one dumps: no copy
     * of a VM's whole table (250k entries: 34 MB plus the capture's key table). A dump whose
     * position the deletions disturb may skip entries, so passes repeat until one finds nothing;
     * a VM whose entries keep coming is not waited for forever. */
    reader = nc_ct_open(ct->netns, error);
    if (!reader)
        return FALSE;
    for (guint pass = 0; pass < NC_CT_REMOVE_PASSES; pass++) {
        g_autoptr(NcCtDump) dump = nc_ct_dump_new(reader, sel, error);
        gboolean done = FALSE;
        guint found = 0;

        if (!dump)
            return FALSE;
        while (!done) {
            guint n = 0;

            g_array_set_size(rows, 0);
            if (!nc_ct_dump_next(dump, rows, &done, error) ||
                !nc_ct_delete(ct, (const NcCtEntry *)rows->data, rows->len, &n, error))
                return FALSE;
            found += rows->len;
            if (n_removed)
                *n_removed += n;
        }
        if (!found)
            break;
    }
    return TRUE;
}
