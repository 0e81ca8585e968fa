/* nc-ct-events.c - the pre-copy follower: a VM's conntrack state kept current from ctnetlink events
 *
 * Subscribes to conntrack events in a namespace, filtered in the kernel by a classic BPF program.
 */
#define _GNU_SOURCE
#define G_LOG_DOMAIN "nc-ct-events"
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <glib-unix.h>
#include <libmnl/libmnl.h>
#include <linux/filter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netlink.h>

#include "conf/nc-ct-items.h"
#include "nc-ct-events.h"
#include "util/nc-error.h"
#include "util/nc-netns.h"

/*
 * Theory of operation
 * ===================
 * Why events. During pre-copy the destination must hold a current copy of the VM's entries, and a
 * filtered dump still walks the whole conntrack table (FINDINGS: ~0.06 s at 100k entries). The
 * kernel instead reports every change of an entry as it happens: NEW (IPCTNL_MSG_CT_NEW with
 * NLM_F_CREATE), UPDATE (IPCTNL_MSG_CT_NEW) and DESTROY (IPCTNL_MSG_CT_DELETE), one message per
 * skb, delivered synchronously into the listener's receive queue while the change is made. Data on
 * an established flow produces no event, so the rate is the VM's rate of flow changes.
 *
 * Filter in the kernel. A classic BPF socket filter drops every event that is not the VM's before
 * it is queued: it passes a message whose CTA_TUPLE_ORIG / CTA_TUPLE_IP / CTA_IP_V{4,6}_SRC, or
 * the same under CTA_TUPLE_REPLY, equals one of the VM's addresses (the selector's rule in
 * nc-ct.h). The nested attributes are walked with the ancillary loads SKF_AD_NLATTR (A = offset to
 * search from, X = attribute type; A becomes the attribute's offset or 0) and SKF_AD_NLATTR_NEST
 * (the same within the nest at offset A), as libnetfilter_conntrack's nfct_filter_attach does.
 * Their 8-bit conditional jumps are kept local (a match falls into a `ret accept` right behind it)
 * and longer jumps use `ja`, so any number of addresses fits until BPF_MAXINSNS. Zone and mark, and
 * the address once more, are checked in userspace after decoding with nc_ct_parse_entry().
 *
 * The shadow. Update events carry only what changed: the TCP state (CTA_PROTOINFO) and labels are
 * left out when they did not change (ctnetlink_conntrack_event()). So the follower keeps the
 * latest complete state of every selected entry (the shadow, seeded by a resync) and merges each
 * event into it. An update for an entry it does not know that lacks the TCP state cannot be made
 * complete: it forces a resync (counted as incomplete; happens when e.g. a mark change moves an
 * entry into a mark-restricted selection). An update that moves an entry out of the selection
 * (zone or mark) counts as a deletion.
 *
 * One table. On the source the shadow is the only table of the VM's entries: what the consumer
 * was handed is the shadow minus its dirty entries, so the follower keeps the count and the digest
 * of what it handed out (each record holds its share of the digest, the SHA-256 that an NcItemSet
 * of the conntrack class would add for it; nc_ct_follower_sent()), and the engine keeps no second
 * copy. A record is its own hash key (zone + original tuple inside its entry).
 *
 * Change sets. Entries changed since the last set are marked dirty; a set carries their latest
 * state (coalesced: ten updates are one upsert) and the keys of entries that the consumer was
 * given and that are gone since. An entry created and destroyed between two sets never appears.
 *
 * Loss. When the receive queue is full the kernel drops events and the next recv() fails with
 * ENOBUFS: from then on the follower "needs resync", take_changes() hands out nothing, and events
 * are read and dropped until a resync re-reads the VM's entries. A new follower starts out needing
 * a resync: it subscribes first and dumps second, so no change between the two is missed.
 *
 * Resync, in pieces. nc_ct_follower_resync_begin() drops the queued events (the dump covers them)
 * and starts the dump (nc_ct_dump_new(): nc_ct_capture()'s dumps, read a buffer at a time);
 * nc_ct_follower_resync_step() reads it on, and each row replaces its record's state and marks it
 * dirty, so take_changes() streams the rows out as they come and nobody holds the whole table. A
 * row is the entry's state when the kernel made its buffer, which it does when the previous one
 * is read. While the dump runs, the event watch is off: events wait in the socket, and at the
 * dump's end (records it did not find are gone: deletions of what was handed out) they are read
 * and applied on top of it. Each carries the state at its time, and the last one of an entry is
 * at least as new as its row, so the shadow converges; had events been applied between the rows,
 * a DESTROY read before a row of the same entry made earlier would be undone by that row. The
 * cost is that the receive buffer must hold the events of the dump's duration: if it overflows,
 * the follower needs another resync. nc_ct_follower_resync() does it all at once and returns the
 * whole set (@full), as a new consumer needs; flush() ends a dump under way before it reads.
 *
 * Blind spot (kernel, measured on 6.18; test /ct-events/preexisting-auto covers both cases). With
 * the default net.netfilter.nf_conntrack_events=2 the kernel gives an entry its event extension
 * only if some ctnetlink event listener existed when the entry was created (anywhere on the
 * machine: since Linux 6.4 the kernel tracks listeners globally, not per namespace); an entry
 * created while nobody listened never produces an event, not even DESTROY. Such entries come in through resync and then
 * go stale (a closed connection stays in the copy). Remedies are the daemon's: set the sysctl to 1
 * in the namespace, or keep one listener subscribed there from start-up, so that every entry
 * that can matter was created while someone listened.
 *
 * Timeouts: an event carries the timeout at its time, and traffic that only refreshes an entry's
 * timeout produces no event, so a copied timeout is a lower bound.
 */

/* nlmsghdr + nfgenmsg: where a conntrack message's attributes start */
#define NC_CTEV_ATTR_OFFSET (NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(struct nfgenmsg)))
/* messages read per main loop dispatch, so a storm cannot starve the loop */
#define NC_CTEV_DISPATCH_MAX 1024
/* bound on what a resync discards before it dumps */
#define NC_CTEV_DISCARD_MAX_US (500 * 1000)

/* One entry of the shadow. The shadow is the source's only table of the VM's entries: what was
 * handed out is the shadow minus what is dirty, so the digest of what was handed out is kept here
 * (@share) instead of in a second table. */
typedef struct {
    /* first: the record is its own key (zone + original tuple, nc_ct_entry_identity_hash()) */
    NcCtEntry e;
    guint8 share[NC_DIGEST_SIZE]; /* the digest's share of the state last handed out, if @sent */
    guint32 pass;                 /* the resync whose dump found it last */
    guint sent : 1;  /* the consumer was given this entry (so its deletion must be reported) */
    guint dirty : 1; /* changed since the last set */
} NcCtRecord;

struct NcCtFollower {
    char *netns;
    int fd;
    NcCt *ct; /* a separate socket for resync dumps: the BPF filter would drop their rows */
    GSource *source;
    NcCtSelector sel;    /* own copy */
    GHashTable *shadow;  /* NcCtRecord* (owned) set, keyed by its entry's zone + original tuple */
    GHashTable *dirty;   /* NcCtRecord* set */
    GHashTable *deleted; /* NcCtKey* (owned) set */
    guint64 generation;
    gboolean needs_resync;
    NcCtDump *dump;     /* a resync's dump under way (events wait in the socket meanwhile) */
    guint32 pass;       /* the resync under way or last done */
    GArray *rows;       /* (element-type NcCtEntry): one buffer of the dump's rows */
    guint rows_off;     /* what of @rows is applied: a step takes no more rows than it was asked */
    gboolean dump_read; /* the dump's last buffer is in @rows */
    GMainContext *context;
    guint n_sent;    /* records handed out (@sent) */
    NcDigest digest; /* the sum of their shares: what the consumer holds */
    GChecksum *sha256;
    NcCtFollowerStats stats;
    NcCtFollowerNotify notify;
    gpointer notify_data;
    char *buf;
};

static const char *nc_ctev_ns_name(const NcCtFollower *f)
{
    return f->netns ? f->netns : "(own)";
}

void nc_ct_changes_free(NcCtChanges *changes)
{
    if (!changes)
        return;
    g_array_unref(changes->upserts);
    g_array_unref(changes->deletions);
    g_free(changes);
}

static NcCtChanges *nc_ct_changes_new(void)
{
    NcCtChanges *c = g_new0(NcCtChanges, 1);

    c->upserts = g_array_new(FALSE, FALSE, sizeof(NcCtEntry));
    c->deletions = g_array_new(FALSE, FALSE, sizeof(NcCtKey));
    return c;
}

/* ---- selection ---- */

static gboolean nc_ctev_zone_mark_selected(const NcCtSelector *sel, const NcCtEntry *e)
{
    return (!sel->has_zone || e->zone == sel->zone) && (!sel->has_mark || e->mark == sel->mark);
}

/* ---- the BPF program ---- */

typedef struct {
    GArray *insns;    /* struct sock_filter */
    GArray *fix_next; /* indexes of `ja` to the next direction's block */
    GArray *fix_v6;   /* indexes of `ja` to the IPv6 part */
} NcBpf;

static guint nc_bpf_emit(NcBpf *p, guint16 code, guint8 jt, guint8 jf, guint32 k)
{
    struct sock_filter insn = {code, jt, jf, k};

    g_array_append_val(p->insns, insn);
    return p->insns->len - 1;
}

/* if A == 0, jump to the label whose fixups are @fixups */
static void nc_bpf_jump_if_zero(NcBpf *p, GArray *fixups)
{
    nc_bpf_emit(p, BPF_JMP | BPF_JEQ | BPF_K, 0, 1, 0);
    guint at = nc_bpf_emit(p, BPF_JMP | BPF_JA, 0, 0, 0);
    g_array_append_val(fixups, at);
}

static void nc_bpf_jump(NcBpf *p, GArray *fixups)
{
    guint at = nc_bpf_emit(p, BPF_JMP | BPF_JA, 0, 0, 0);
    g_array_append_val(fixups, at);
}

/* the label is the next instruction to be emitted */
static void nc_bpf_place_label(NcBpf *p, GArray *fixups)
{
    for (guint i = 0; i < fixups->len; i++) {
        guint at = g_array_index(fixups, guint, i);
        g_array_index(p->insns, struct sock_filter, at).k = p->insns->len - at - 1;
    }
    g_array_set_size(fixups, 0);
}

/* A = offset of attribute @type inside the nest at offset A (0 if absent) */
static void nc_bpf_find_nested(NcBpf *p, guint type)
{
    nc_bpf_emit(p, BPF_LDX | BPF_IMM, 0, 0, type);
    nc_bpf_emit(p, BPF_LD | BPF_B | BPF_ABS, 0, 0, SKF_AD_OFF + SKF_AD_NLATTR_NEST);
}

static guint32 nc_bpf_word(const NcAddr *a, guint i)
{
    const guint8 *b = a->bytes + 4 * i;

    /* BPF_W loads are big endian */
    return (guint32)b[0] << 24 | (guint32)b[1] << 16 | (guint32)b[2] << 8 | b[3];
}

/**
 * nc_ct_follower_build_filter() - the BPF program that passes only the VM's events
 * @sel: the VM's addresses
 *
 * See Theory of operation. Accepts a message if the source address of either tuple is one of
 * @sel's addresses; everything else (including anything it cannot parse) is dropped.
 *
 * Return: (transfer full) (element-type struct sock_filter): the program
 */
static GArray *nc_ct_follower_build_filter(const NcCtSelector *sel)
{
    NcBpf p = {
        g_array_new(FALSE, FALSE, sizeof(struct sock_filter)),
        g_array_new(FALSE, FALSE, sizeof(guint)),
        g_array_new(FALSE, FALSE, sizeof(guint)),
    };
    guint n4 = 0, n6 = 0;
    const guint tuples[] = {CTA_TUPLE_ORIG, CTA_TUPLE_REPLY};

    for (guint i = 0; i < sel->addresses->len; i++) {
        if (g_array_index(sel->addresses, NcAddr, i).family == AF_INET6)
            n6++;
        else
            n4++;
    }

    for (guint t = 0; t < G_N_ELEMENTS(tuples); t++) {
        /* A = offset of the tuple among the message's top-level attributes */
        nc_bpf_emit(&p, BPF_LD | BPF_IMM, 0, 0, NC_CTEV_ATTR_OFFSET);
        nc_bpf_emit(&p, BPF_LDX | BPF_IMM, 0, 0, tuples[t]);
        nc_bpf_emit(&p, BPF_LD | BPF_B | BPF_ABS, 0, 0, SKF_AD_OFF + SKF_AD_NLATTR);
        nc_bpf_jump_if_zero(&p, p.fix_next);
        nc_bpf_find_nested(&p, CTA_TUPLE_IP);
        nc_bpf_jump_if_zero(&p, p.fix_next);
        nc_bpf_emit(&p, BPF_ST, 0, 0, 0); /* M[0] = offset of CTA_TUPLE_IP */

        if (n4) {
            nc_bpf_find_nested(&p, CTA_IP_V4_SRC);
            nc_bpf_jump_if_zero(&p, p.fix_v6);
            nc_bpf_emit(&p, BPF_MISC | BPF_TAX, 0, 0, 0);
            nc_bpf_emit(&p, BPF_LD | BPF_W | BPF_IND, 0, 0, sizeof(struct nlattr));
            for (guint i = 0; i < sel->addresses->len; i++) {
                const NcAddr *a = &g_array_index(sel->addresses, NcAddr, i);
                if (a->family == AF_INET6)
                    continue;
                nc_bpf_emit(&p, BPF_JMP | BPF_JEQ | BPF_K, 0, 1, nc_bpf_word(a, 0));
                nc_bpf_emit(&p, BPF_RET | BPF_K, 0, 0, 0xffffffff);
            }
            nc_bpf_jump(&p, p.fix_next);
        }
        nc_bpf_place_label(&p, p.fix_v6);
        if (n6) {
            nc_bpf_emit(&p, BPF_LD | BPF_MEM, 0, 0, 0);
            nc_bpf_find_nested(&p, CTA_IP_V6_SRC);
            nc_bpf_jump_if_zero(&p, p.fix_next);
            nc_bpf_emit(&p, BPF_MISC | BPF_TAX, 0, 0, 0);
            for (guint i = 0; i < sel->addresses->len; i++) {
                const NcAddr *a = &g_array_index(sel->addresses, NcAddr, i);
                if (a->family != AF_INET6)
                    continue;
                /* 9 instructions: a mismatched word skips to the next address's block */
                for (guint w = 0; w < 4; w++) {
                    nc_bpf_emit(&p, BPF_LD | BPF_W | BPF_IND, 0, 0, sizeof(struct nlattr) + 4 * w);
                    nc_bpf_emit(&p, BPF_JMP | BPF_JEQ | BPF_K, 0, (guint8)(7 - 2 * w),
                                nc_bpf_word(a, w));
                }
                nc_bpf_emit(&p, BPF_RET | BPF_K, 0, 0, 0xffffffff);
            }
        }
        nc_bpf_place_label(&p, p.fix_next);
    }
    nc_bpf_emit(&p, BPF_RET | BPF_K, 0, 0, 0);

    g_array_unref(p.fix_next);
    g_array_unref(p.fix_v6);
    return p.insns;
}

/* ---- applying events ---- */

/* Everything but taking @rec out of the shadow: not dirty, and if handed out, its deletion is due
 * and its share leaves the digest. */
static void nc_ctev_forget_parts(NcCtFollower *f, NcCtRecord *rec)
{
    g_hash_table_remove(f->dirty, rec);
    if (rec->sent) {
        NcCtKey *k = g_new(NcCtKey, 1);

        nc_ct_key_of(&rec->e, k);
        g_hash_table_add(f->deleted, k);
        nc_digest_remove_share(&f->digest, rec->share);
        f->n_sent--;
    }
}

static void nc_ctev_forget(NcCtFollower *f, NcCtRecord *rec)
{
    nc_ctev_forget_parts(f, rec);
    g_hash_table_remove(f->shadow, rec); /* frees rec */
}

static void nc_ctev_mark_dirty(NcCtFollower *f, NcCtRecord *rec)
{
    if (!rec->dirty) {
        rec->dirty = TRUE;
        g_hash_table_add(f->dirty, rec);
    }
}

/* Returns TRUE if the message changed the shadow. */
static gboolean nc_ctev_apply(NcCtFollower *f, const struct nlmsghdr *nlh)
{
    guint8 subsys = NFNL_SUBSYS_ID(nlh->nlmsg_type);
    guint8 msg = NFNL_MSG_TYPE(nlh->nlmsg_type);
    NcCtEntry e;
    NcCtRecord *rec;

    if (subsys != NFNL_SUBSYS_CTNETLINK ||
        (msg != IPCTNL_MSG_CT_NEW && msg != IPCTNL_MSG_CT_DELETE))
        return FALSE;
    f->stats.received++;
    if (f->needs_resync)
        return FALSE; /* the resync's dump will have it */
    if (!nc_ct_parse_entry(nlh, &e)) {
        f->stats.bad++;
        return FALSE;
    }
    if (!nc_ct_entry_belongs_to(&e, f->sel.addresses)) {
        f->stats.ignored++;
        return FALSE;
    }

    rec = g_hash_table_lookup(f->shadow, &e);
    if (msg == IPCTNL_MSG_CT_DELETE || !nc_ctev_zone_mark_selected(&f->sel, &e)) {
        if (!rec)
            return FALSE;
        nc_ctev_forget(f, rec);
        return TRUE;
    }

    gboolean created = (nlh->nlmsg_flags & NLM_F_CREATE) != 0;
    if (rec && !created) {
        /* an update carries the TCP state and labels only when they changed */
        if (!e.has_tcp && rec->e.has_tcp) {
            e.has_tcp = TRUE;
            e.tcp_state = rec->e.tcp_state;
            memcpy(e.tcp_wscale, rec->e.tcp_wscale, sizeof(e.tcp_wscale));
            memcpy(e.tcp_flags, rec->e.tcp_flags, sizeof(e.tcp_flags));
        }
        if (!e.has_labels && rec->e.has_labels) {
            e.has_labels = TRUE;
            memcpy(e.labels, rec->e.labels, sizeof(e.labels));
        }
    }
    if (e.orig.proto == IPPROTO_TCP && !e.has_tcp) {
        f->stats.incomplete++;
        f->needs_resync = TRUE;
        return TRUE;
    }
    if (!rec) {
        rec = g_new0(NcCtRecord, 1);
        rec->e = e;
        g_hash_table_add(f->shadow, rec);
    }
    rec->e = e;
    nc_ctev_mark_dirty(f, rec);
    return TRUE;
}

/**
 * nc_ctev_read() - read and apply what is queued on the event socket
 * @f:        the follower
 * @max:      at most this many recv() calls (0: no limit)
 * @deadline: monotonic time to stop at (0: none)
 * @changed:  (out): set to TRUE if the shadow changed or a resync became necessary
 * @drained:  (out): whether the queue was found empty
 * @error:    NC_ERROR_IO if reading failed for another reason than lost events
 *
 * Return: FALSE on error
 */
static gboolean nc_ctev_read(NcCtFollower *f, guint max, gint64 deadline, gboolean *changed,
                             gboolean *drained, GError **error)
{
    *drained = FALSE;
    for (guint n = 0; max == 0 || n < max; n++) {
        if (deadline && (n & 63) == 63 && g_get_monotonic_time() >= deadline)
            return TRUE;
        ssize_t len = recv(f->fd, f->buf, MNL_SOCKET_BUFFER_SIZE, MSG_DONTWAIT);
        if (len < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                *drained = TRUE;
                return TRUE;
            }
            if (errno == ENOBUFS) {
                f->stats.overflows++;
                if (!f->needs_resync)
                    g_info("conntrack events were lost in network namespace %s (receive buffer "
                           "full): a resync is needed",
                           nc_ctev_ns_name(f));
                f->needs_resync = TRUE;
                *changed = TRUE;
                continue;
            }
            int saved = errno;
            g_set_error(error, NC_ERROR, NC_ERROR_IO,
                        "reading conntrack events in network namespace %s failed: %s",
                        nc_ctev_ns_name(f), g_strerror(saved));
            return FALSE;
        }
        int left = (int)len;
        for (const struct nlmsghdr *nlh = (const void *)f->buf; mnl_nlmsg_ok(nlh, left);
             nlh = mnl_nlmsg_next(nlh, &left))
            if (nc_ctev_apply(f, nlh))
                *changed = TRUE;
    }
    return TRUE;
}

static gboolean nc_ctev_dispatch(gint fd, GIOCondition cond, gpointer data)
{
    NcCtFollower *f = data;
    g_autoptr(GError) error = NULL;
    gboolean changed = FALSE, drained;

    if (!nc_ctev_read(f, NC_CTEV_DISPATCH_MAX, 0, &changed, &drained, &error)) {
        /* not ENOBUFS (handled): unexpected; a resync starts from a clean slate */
        g_warning("%s; the VM's conntrack state will be re-read", error->message);
        f->needs_resync = TRUE;
        changed = TRUE;
    }
    if (changed && f->notify)
        f->notify(f, f->notify_data);
    return G_SOURCE_CONTINUE;
}

/* ---- public API ---- */

static void nc_ctev_copy_selector(NcCtSelector *dst, const NcCtSelector *src)
{
    *dst = *src;
    dst->addresses = g_array_sized_new(FALSE, FALSE, sizeof(NcAddr), src->addresses->len);
    g_array_append_vals(dst->addresses, src->addresses->data, src->addresses->len);
}

static GHashTable *nc_ctev_shadow_new(void)
{
    return g_hash_table_new_full(nc_ct_entry_identity_hash, nc_ct_entry_identity_equal, g_free, NULL);
}

/* Reading events on (the GSource in the follower's context) or off: a resync's dump keeps them in
 * the socket until it is done (Theory of operation, "Resync"). */
static void nc_ctev_watch(NcCtFollower *f, gboolean on)
{
    if (on && !f->source) {
        f->source = g_unix_fd_source_new(f->fd, G_IO_IN | G_IO_ERR | G_IO_HUP);
        g_source_set_callback(f->source, G_SOURCE_FUNC(nc_ctev_dispatch), f, NULL);
        g_source_set_name(f->source, "nc-ct-follower");
        g_source_attach(f->source, f->context);
    } else if (!on && f->source) {
        g_source_destroy(f->source);
        g_clear_pointer(&f->source, g_source_unref);
    }
}

/**
 * nc_ct_follower_new() - follow the conntrack events of a VM's entries
 * @netns:  a name under /run/netns, or NULL for the caller's namespace
 * @sel:    the VM's addresses (at least one) and optional zone and mark, as for nc_ct_capture()
 * @rcvbuf: receive buffer to ask for in bytes, 0 for NC_CT_FOLLOWER_RCVBUF (more than rmem_max
 *          only with CAP_NET_ADMIN); the smaller, the sooner events are lost under a burst
 * @error:  NC_ERROR_INVALID_ARG, NC_ERROR_NOT_FOUND (namespace), NC_ERROR_PERMISSION, ...
 *
 * Subscribes at once; events are read by a GSource attached to the thread-default main context.
 * The follower starts out needing a resync: call nc_ct_follower_resync() for the initial full set.
 *
 * Return: (transfer full): the follower, or NULL
 */
NcCtFollower *nc_ct_follower_new(const char *netns, const NcCtSelector *sel, gsize rcvbuf,
                                 GError **error)
{
    const int groups[] = {NFNLGRP_CONNTRACK_NEW, NFNLGRP_CONNTRACK_UPDATE,
                          NFNLGRP_CONNTRACK_DESTROY};
    struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
    int size = (int)MIN(rcvbuf ? rcvbuf : NC_CT_FOLLOWER_RCVBUF, G_MAXINT / 2);

    g_return_val_if_fail(sel, NULL);
    if (!nc_ct_selector_check(sel, error))
        return NULL;

    g_autoptr(NcCtFollower) f = g_new0(NcCtFollower, 1);
    f->fd = -1;
    f->netns = g_strdup(netns);
    nc_ctev_copy_selector(&f->sel, sel);
    f->shadow = nc_ctev_shadow_new();
    f->dirty = g_hash_table_new(g_direct_hash, g_direct_equal);
    f->deleted = g_hash_table_new_full(nc_ct_key_hash, nc_ct_key_equal, g_free, NULL);
    f->buf = g_malloc(MNL_SOCKET_BUFFER_SIZE);
    f->rows = g_array_new(FALSE, FALSE, sizeof(NcCtEntry));
    f->sha256 = g_checksum_new(G_CHECKSUM_SHA256);
    f->context = g_main_context_ref_thread_default();
    f->needs_resync = TRUE;

    f->ct = nc_ct_open(netns, error);
    if (!f->ct)
        return NULL;
    f->fd = nc_netns_socket(netns, AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK,
                            NETLINK_NETFILTER, error);
    if (f->fd < 0)
        return NULL;
    if (bind(f->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        int saved = errno;
        g_set_error(error, NC_ERROR, nc_error_code_from_errno(saved),
                    "cannot bind a netfilter netlink socket in network namespace %s: %s",
                    nc_ctev_ns_name(f), g_strerror(saved));
        return NULL;
    }

    /* Beyond rmem_max only with CAP_NET_ADMIN (SO_RCVBUFFORCE); the kernel doubles the value. */
    if (setsockopt(f->fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
        setsockopt(f->fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));

    /* The filter goes on before the subscription, so no other VM's event is ever queued. */
    g_autoptr(GArray) prog = nc_ct_follower_build_filter(&f->sel);
    if (prog->len <= BPF_MAXINSNS) {
        struct sock_fprog fprog = {(unsigned short)prog->len, (struct sock_filter *)prog->data};
        if (setsockopt(f->fd, SOL_SOCKET, SO_ATTACH_FILTER, &fprog, sizeof(fprog)) == 0)
            f->stats.kernel_filter = TRUE;
        else
            g_warning("cannot attach the conntrack event filter in network namespace %s (%s): "
                      "events of every address are read and filtered in userspace",
                      nc_ctev_ns_name(f), g_strerror(errno));
    } else {
        g_warning("%u selector addresses need a conntrack event filter of %u instructions, more "
                  "than the kernel takes (%d): events are filtered in userspace",
                  f->sel.addresses->len, prog->len, BPF_MAXINSNS);
    }

    for (guint i = 0; i < G_N_ELEMENTS(groups); i++) {
        if (setsockopt(f->fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &groups[i], sizeof(groups[i])) <
            0) {
            int saved = errno;
            g_set_error(error, NC_ERROR, nc_error_code_from_errno(saved),
                        "cannot subscribe to conntrack events in network namespace %s: %s%s",
                        nc_ctev_ns_name(f), g_strerror(saved),
                        saved == EPERM ? " (needs CAP_NET_ADMIN)" : "");
            return NULL;
        }
    }

    nc_ctev_watch(f, TRUE);
    return g_steal_pointer(&f);
}

void nc_ct_follower_free(NcCtFollower *f)
{
    if (!f)
        return;
    nc_ctev_watch(f, FALSE);
    nc_ct_dump_abandon(f->dump); /* its socket closes now: the rest of the dump is not read */
    if (f->fd >= 0)
        close(f->fd);
    nc_ct_close(f->ct);
    if (f->rows)
        g_array_unref(f->rows);
    if (f->sha256)
        g_checksum_free(f->sha256);
    if (f->context)
        g_main_context_unref(f->context);
    if (f->sel.addresses)
        g_array_unref(f->sel.addresses);
    if (f->dirty)
        g_hash_table_unref(f->dirty);
    if (f->deleted)
        g_hash_table_unref(f->deleted);
    if (f->shadow)
        g_hash_table_unref(f->shadow);
    g_free(f->netns);
    g_free(f->buf);
    g_free(f);
}

/**
 * nc_ct_follower_set_notify() - be told when changes are waiting or a resync is needed
 * @notify: (nullable): called from the follower's GSource
 */
void nc_ct_follower_set_notify(NcCtFollower *f, NcCtFollowerNotify notify, gpointer user_data)
{
    f->notify = notify;
    f->notify_data = user_data;
}

/* Whether events were lost (or no resync happened yet): take_changes() hands out nothing then. */
gboolean nc_ct_follower_needs_resync(const NcCtFollower *f)
{
    return f->needs_resync;
}

/* A row of the resync's dump: the entry's complete state when its buffer was made. */
static void nc_ctev_apply_row(NcCtFollower *f, const NcCtEntry *row)
{
    NcCtRecord *rec = g_hash_table_lookup(f->shadow, row);

    if (rec && rec->pass == f->pass)
        return; /* found by another of the dumps (its original and its reply source are the VM's) */
    if (!rec) {
        rec = g_new0(NcCtRecord, 1);
        rec->e = *row; /* its key, before it goes in */
        g_hash_table_add(f->shadow, rec);
    }
    rec->e = *row;
    rec->pass = f->pass;
    nc_ctev_mark_dirty(f, rec);
}

/* The dump is over: what it did not find is gone; the events it kept waiting are read again. */
static void nc_ctev_resync_end(NcCtFollower *f)
{
    GHashTableIter it;
    gpointer k;

    g_hash_table_iter_init(&it, f->shadow);
    while (g_hash_table_iter_next(&it, &k, NULL)) {
        NcCtRecord *rec = k;

        if (rec->pass == f->pass)
            continue;
        nc_ctev_forget_parts(f, rec);
        g_hash_table_iter_remove(&it); /* frees rec */
    }
    g_clear_pointer(&f->dump, nc_ct_dump_free);
    g_array_set_size(f->rows, 0);
    f->rows_off = 0;
    f->stats.resyncs++;
    nc_ctev_watch(f, TRUE);
}

/**
 * nc_ct_follower_resync_begin() - start re-reading the VM's whole state, in pieces
 * @f:     the follower, not resyncing already
 * @error: as for nc_ct_dump_new()
 *
 * Drops the queued events (the dump covers them) and starts the dump; nc_ct_follower_resync_step()
 * reads it. Until it is done, events wait in the socket (see Theory of operation, "Resync"), and
 * nc_ct_follower_take_changes() hands out what the dump found so far. Pending changes are kept:
 * the dump's rows are merged into the shadow, so what was handed out before and is no longer there
 * becomes a deletion at the dump's end.
 *
 * Return: FALSE on error (the follower then still needs a resync)
 */
gboolean nc_ct_follower_resync_begin(NcCtFollower *f, GError **error)
{
    gint64 deadline = g_get_monotonic_time() + NC_CTEV_DISCARD_MAX_US;

    g_return_val_if_fail(!f->dump, FALSE);
    /* Discard what is queued. An ENOBUFS met here is about events the dump covers. */
    f->needs_resync = TRUE;
    for (guint n = 0;; n++) {
        if ((n & 63) == 63 && g_get_monotonic_time() >= deadline)
            break; /* a storm: the events left are applied on top of the dump, which is fine */
        ssize_t len = recv(f->fd, f->buf, MNL_SOCKET_BUFFER_SIZE, MSG_DONTWAIT);
        if (len < 0 && errno != EINTR && errno != ENOBUFS)
            break;
    }
    f->dump = nc_ct_dump_new(f->ct, &f->sel, error);
    if (!f->dump) {
        g_prefix_error(error, "resynchronising the conntrack events: ");
        return FALSE;
    }
    f->needs_resync = FALSE;
    f->dump_read = FALSE;
    f->pass++;
    nc_ctev_watch(f, FALSE);
    return TRUE;
}

/**
 * nc_ct_follower_resync_step() - read the resync's dump on, a buffer at a time
 * @f:     the follower
 * @max:   at most this many rows (at least 1); fewer only at the dump's end
 * @done:  (out): TRUE once the dump is over: nothing is missing any more, and events are read
 *         again
 * @error: as for nc_ct_capture(); the follower then needs a resync again
 *
 * The rows read are dirty: nc_ct_follower_take_changes() hands them out.
 *
 * Return: FALSE on error
 */
gboolean nc_ct_follower_resync_step(NcCtFollower *f, guint max, gboolean *done, GError **error)
{
    guint n = 0;

    max = MAX(max, 1);
    while (f->dump && n < max) {
        if (f->rows_off == f->rows->len) {
            if (f->dump_read)
                break;
            g_array_set_size(f->rows, 0);
            f->rows_off = 0;
            if (!nc_ct_dump_next(f->dump, f->rows, &f->dump_read, error)) {
                g_clear_pointer(&f->dump, nc_ct_dump_free);
                g_array_set_size(f->rows, 0);
                f->rows_off = 0;
                f->needs_resync = TRUE;
                nc_ctev_watch(f, TRUE);
                g_prefix_error(error, "resynchronising the conntrack events: ");
                return FALSE;
            }
            continue;
        }
        /* the rest of a buffer waits for the next step: steps of exactly @max rows */
        guint k = MIN(f->rows->len - f->rows_off, max - n);
        for (guint i = 0; i < k; i++)
            nc_ctev_apply_row(f, &g_array_index(f->rows, NcCtEntry, f->rows_off + i));
        f->rows_off += k;
        n += k;
    }
    if (f->dump && f->dump_read && f->rows_off == f->rows->len)
        nc_ctev_resync_end(f);
    *done = !f->dump;
    return TRUE;
}

/* Whether a resync's dump is under way (nc_ct_follower_resync_begin() without its end yet). */
gboolean nc_ct_follower_resyncing(const NcCtFollower *f)
{
    return f->dump != NULL;
}

/**
 * nc_ct_follower_resync() - re-read the VM's whole state at once and start following from it
 * @f:     the follower
 * @error: as for nc_ct_capture()
 *
 * nc_ct_follower_resync_begin() and its steps to the end. Costs a filtered dump of the whole
 * table: for the start and after a loss, not for routine use.
 *
 * Return: (transfer full): a full set (@full TRUE) with the next generation, or NULL on error
 *         (the follower then still needs a resync)
 */
NcCtChanges *nc_ct_follower_resync(NcCtFollower *f, GError **error)
{
    gboolean done = FALSE;
    NcCtChanges *c;

    /* a stepwise dump under way handed out rows already: what is left would not be whole */
    g_return_val_if_fail(!f->dump, NULL);
    if (!nc_ct_follower_resync_begin(f, error))
        return NULL;
    if (!nc_ct_follower_resync_step(f, G_MAXUINT, &done, error))
        return NULL;
    c = nc_ct_follower_take_changes(f);
    /* every entry was found by this dump, so each is in @upserts: the set is whole */
    c->full = TRUE;
    g_array_set_size(c->deletions, 0);
    return c;
}

/**
 * nc_ct_follower_take_changes() - hand over the changes accumulated since the last set
 * @f: the follower
 *
 * Coalesced: an entry changed many times appears once, in its latest state. Does not read the
 * socket: call nc_ct_follower_flush() first to include what the kernel queued until now. During a
 * resync: what its dump found so far (its deletions come at its end).
 *
 * Return: (transfer full) (nullable): the set (possibly empty) with the next generation, or NULL
 *         if the follower needs a resync (events were lost): call nc_ct_follower_resync()
 */
NcCtChanges *nc_ct_follower_take_changes(NcCtFollower *f)
{
    GHashTableIter it;
    gpointer k;

    if (f->needs_resync)
        return NULL;

    NcCtChanges *c = nc_ct_changes_new();
    g_hash_table_iter_init(&it, f->deleted);
    while (g_hash_table_iter_next(&it, &k, NULL))
        g_array_append_vals(c->deletions, k, 1);
    g_hash_table_remove_all(f->deleted);

    g_array_unref(c->upserts);
    c->upserts = g_array_sized_new(FALSE, FALSE, sizeof(NcCtEntry), g_hash_table_size(f->dirty));
    g_hash_table_iter_init(&it, f->dirty);
    while (g_hash_table_iter_next(&it, &k, NULL)) {
        NcCtRecord *rec = k;
        g_autoptr(GError) err = NULL;

        g_array_append_val(c->upserts, rec->e);
        rec->dirty = FALSE;
        if (rec->sent) {
            nc_digest_remove_share(&f->digest, rec->share);
            f->n_sent--;
        }
        /* a captured or decoded entry always has a canonical form */
        if (!nc_digest_share_of(&nc_ct_class, f->sha256, &rec->e, rec->share, &err)) {
            g_warning("%s: the seal's digest will not match", err->message);
            memset(rec->share, 0, sizeof(rec->share));
        }
        nc_digest_add_share(&f->digest, rec->share);
        f->n_sent++;
        rec->sent = TRUE;
    }
    g_hash_table_remove_all(f->dirty);
    c->generation = ++f->generation;
    return c;
}

/**
 * nc_ct_follower_sent() - what the consumer holds if it applied every set handed out: its count
 * and digest (of nc_ct_class, as an NcItemSet of the same entries would have it)
 * @digest: (out) (optional)
 */
guint nc_ct_follower_sent(const NcCtFollower *f, NcDigest *digest)
{
    if (digest)
        *digest = f->digest;
    return f->n_sent;
}

/**
 * nc_ct_follower_flush() - read every event the kernel has queued now, without the main loop
 * @f:          the follower
 * @timeout_ms: bound on the time spent (events may keep coming)
 * @error:      NC_ERROR_TIMEOUT if the queue was not empty by then (what was read is applied),
 *              NC_ERROR_IO if reading failed
 *
 * The kernel queues an event while it makes the change, so once a change is made (e.g. the VM
 * stopped), a flush followed by nc_ct_follower_take_changes() includes it. Check
 * nc_ct_follower_needs_resync() afterwards: a loss found here needs a resync.
 *
 * Return: TRUE if the queue was drained
 */
gboolean nc_ct_follower_flush(NcCtFollower *f, guint timeout_ms, GError **error)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
    gboolean changed = FALSE, drained = FALSE;

    /* a resync's dump first: the events waiting behind it are applied on top of it */
    if (f->dump && !nc_ct_follower_resync_step(f, G_MAXUINT, &drained, error))
        return FALSE;
    if (!nc_ctev_read(f, 0, deadline, &changed, &drained, error))
        return FALSE;
    if (!drained) {
        g_set_error(error, NC_ERROR, NC_ERROR_TIMEOUT,
                    "conntrack events in network namespace %s were still coming after %u ms; "
                    "the changes read so far are kept",
                    nc_ctev_ns_name(f), timeout_ms);
        return FALSE;
    }
    return TRUE;
}

/* How many entries the follower's copy holds now. */
guint nc_ct_follower_count(const NcCtFollower *f)
{
    return g_hash_table_size(f->shadow);
}

void nc_ct_follower_get_stats(const NcCtFollower *f, NcCtFollowerStats *stats)
{
    *stats = f->stats;
}
