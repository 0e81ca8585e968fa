/* nc-ct.h - the conntrack state driver: capture, install, remove a VM's entries
 *
 * Talks ctnetlink through libmnl, in the network namespace the handle was
 * opened in. Capture filters in the kernel (CTA_FILTER), never by dumping the
 * whole table into userspace; install is batched and all or nothing.
 */
#pragma once

#include <glib.h>

#include "conf/nc-bundle.h"

G_BEGIN_DECLS

typedef struct NcCt NcCt;

/**
 * NcCtSelector - which entries belong to a VM
 * @addresses: (element-type NcAddr): an entry matches if any of these is the
 *             original source or the reply source (so both the VM's own flows
 *             and flows to it, NATed or not, are found)
 * @has_zone, @zone: also require this conntrack zone
 * @has_mark, @mark: also require this connmark
 */
typedef struct {
    GArray *addresses;
    gboolean has_zone;
    guint16 zone;
    gboolean has_mark;
    guint32 mark;
} NcCtSelector;

/**
 * NcCtFailure - one entry the kernel refused during an install
 * @index:   position of the entry in the array given to nc_ct_install()
 * @errnum:  positive errno the kernel answered
 * @message: what failed: "entry N (TUPLE): reason", N counting from 1 as a reader of the bundle does
 */
typedef struct {
    guint index;
    int errnum;
    char *message;
} NcCtFailure;

void nc_ct_failure_free(NcCtFailure *failure);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(NcCtFailure, nc_ct_failure_free)

/* @netns: a name under /run/netns, or NULL for the caller's own namespace */
NcCt *nc_ct_open(const char *netns, GError **error);
void nc_ct_close(NcCt *ct);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(NcCt, nc_ct_close)

gboolean nc_ct_capture(NcCt *ct, const NcCtSelector *sel, GArray *out, GError **error);
gboolean nc_ct_selector_check(const NcCtSelector *sel, GError **error);

/* nc_ct_capture() in pieces (a buffer of rows per call): see nc_ct_dump_new() */
typedef struct NcCtDump NcCtDump;
NcCtDump *nc_ct_dump_new(NcCt *ct, const NcCtSelector *sel, GError **error);
gboolean nc_ct_dump_next(NcCtDump *dump, GArray *out, gboolean *done, GError **error);
void nc_ct_dump_free(NcCtDump *dump);
void nc_ct_dump_abandon(NcCtDump *dump);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(NcCtDump, nc_ct_dump_free)

gboolean nc_ct_install(NcCt *ct, const NcCtEntry *entries, guint n_entries, GPtrArray **failures,
                       GError **error);
gboolean nc_ct_remove(NcCt *ct, const NcCtSelector *sel, guint *n_removed, GError **error);
/* Deletes exactly these entries (by zone + original tuple); one already gone is no error. */
gboolean nc_ct_delete(NcCt *ct, const NcCtEntry *entries, guint n_entries, guint *n_removed,
                      GError **error);

/* Room one encoded conntrack message may need (real ones are ~100-300 bytes). */
#define NC_CT_MSG_MAX 1024

/* Encodes the IPCTNL_MSG_CT_NEW message nc_ct_install() sends for @entry (at most NC_CT_MSG_MAX
 * bytes into @buf), with NLM_F_REQUEST | @nlmsg_flags; returns its length. For benchmarks and
 * tools that drive the socket themselves. */
gsize nc_ct_msg_put_new(char *buf, const NcCtEntry *entry, guint32 seq, guint16 nlmsg_flags);

struct nlmsghdr;

/**
 * nc_ct_parse_entry() - decode one ctnetlink conntrack message into @e
 * @nlh: an IPCTNL_MSG_CT_NEW or IPCTNL_MSG_CT_DELETE message (a dump row or an event)
 * @e:   (out): the entry; fields the message does not carry are 0 (an event may omit the TCP
 *       state and labels when they did not change: see has_tcp, has_labels)
 *
 * Return: FALSE if the message lacks its tuples or has an unknown family
 */
gboolean nc_ct_parse_entry(const struct nlmsghdr *nlh, NcCtEntry *e);

G_END_DECLS
