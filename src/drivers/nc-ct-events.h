/* nc-ct-events.h - the pre-copy follower: keeps a VM's conntrack state current from ctnetlink
 * events
 *
 * Instead of re-dumping during pre-copy, the source follows conntrack events filtered in the kernel
 * to the VM's addresses and hands the consumer coalesced change sets to send.
 */
#pragma once

#include <glib.h>

#include "conf/nc-item-set.h"
#include "drivers/nc-ct.h"

G_BEGIN_DECLS

typedef struct NcCtFollower NcCtFollower;

/**
 * NcCtChanges - a set of changes to apply to the destination's copy
 * @generation: increases by one with every set handed out (take or resync), so a receiver can
 *              tell a missing set
 * @full:       TRUE for nc_ct_follower_resync()'s set: @upserts is the whole current set, and
 *              the receiver drops whatever it holds for the VM that is not in it; @deletions is
 *              then empty (a resync in steps hands out ordinary sets: its deletions at its end)
 * @upserts:    (element-type NcCtEntry): entries to create, or to update if present; each is the
 *              latest known complete state of that entry
 * @deletions:  (element-type NcCtKey): entries that are gone (or no longer selected)
 *
 * A receiver applies @deletions before @upserts: a key may be in both when an entry was
 * deleted and re-created between two sets.
 */
typedef struct {
    guint64 generation;
    gboolean full;
    GArray *upserts;
    GArray *deletions;
} NcCtChanges;

void nc_ct_changes_free(NcCtChanges *changes);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(NcCtChanges, nc_ct_changes_free)

/**
 * NcCtFollowerStats - counters, for logs and tests
 * @received:       event messages read from the socket (what passed the kernel's filter)
 * @ignored:        decoded but not the VM's (the userspace re-check; 0 while the BPF filter works)
 * @bad:            messages that could not be decoded
 * @overflows:      times the socket reported lost events (ENOBUFS)
 * @resyncs:        full captures done (nc_ct_follower_resync(), or begin + steps to the end)
 * @incomplete:     updates for an unknown entry without the TCP state needed to install it
 *                  (each forces a resync)
 * @kernel_filter:  whether the BPF socket filter is attached (else userspace filters alone)
 */
typedef struct {
    guint64 received;
    guint64 ignored;
    guint64 bad;
    guint64 overflows;
    guint64 resyncs;
    guint64 incomplete;
    gboolean kernel_filter;
} NcCtFollowerStats;

/* Called from the follower's GSource after it read events that changed something, or when it
 * found that it needs a resync. */
typedef void (*NcCtFollowerNotify)(NcCtFollower *follower, gpointer user_data);

/* receive buffer asked for when the caller passes 0 */
#define NC_CT_FOLLOWER_RCVBUF (32 * 1024 * 1024)

NcCtFollower *nc_ct_follower_new(const char *netns, const NcCtSelector *sel, gsize rcvbuf,
                                 GError **error);
void nc_ct_follower_free(NcCtFollower *follower);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(NcCtFollower, nc_ct_follower_free)

void nc_ct_follower_set_notify(NcCtFollower *follower, NcCtFollowerNotify notify,
                               gpointer user_data);
gboolean nc_ct_follower_needs_resync(const NcCtFollower *follower);
NcCtChanges *nc_ct_follower_resync(NcCtFollower *follower, GError **error);
gboolean nc_ct_follower_resync_begin(NcCtFollower *follower, GError **error);
gboolean nc_ct_follower_resync_step(NcCtFollower *follower, guint max, gboolean *done,
                                    GError **error);
gboolean nc_ct_follower_resyncing(const NcCtFollower *follower);
NcCtChanges *nc_ct_follower_take_changes(NcCtFollower *follower);
guint nc_ct_follower_sent(const NcCtFollower *follower, NcDigest *digest);
gboolean nc_ct_follower_flush(NcCtFollower *follower, guint timeout_ms, GError **error);
guint nc_ct_follower_count(const NcCtFollower *follower);
void nc_ct_follower_get_stats(const NcCtFollower *follower, NcCtFollowerStats *stats);

G_END_DECLS
