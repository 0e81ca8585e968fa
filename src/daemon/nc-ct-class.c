/* nc-ct-class.c - conntrack through the state-driver interface (an adapter over nc-ct.c and
 * nc-ct-events.c)
 *
 * The class itself (key, canonical bytes, ownership) is conf/nc-ct-items.c's, whose bytes are
 * the peer protocol's: the engine's conntrack sets are NcItemSets of that class, whose digest is
 * the SEAL's. The engine (nc-carry.c) does not use this driver yet.
 */
#define G_LOG_DOMAIN "nc-ct-class"
#include <string.h>

#include "drivers/nc-ct-events.h"
#include "drivers/nc-ct.h"
#include "nc-ct-class.h"
#include "nc-peer-proto.h"
#include "util/nc-error.h"

/* ---- the driver ---- */

static void nc_ct_class_selector(const NcOwner *owner, NcCtSelector *sel)
{
    memset(sel, 0, sizeof(*sel));
    sel->addresses = owner->addresses;
    sel->has_zone = owner->has_zone;
    sel->zone = owner->zone;
    sel->has_mark = owner->has_mark;
    sel->mark = owner->mark;
}

static gpointer nc_ct_class_open(const char *netns, GError **error)
{
    return nc_ct_open(netns, error);
}

static void nc_ct_class_close(gpointer handle)
{
    nc_ct_close(handle);
}

/* ctnetlink answers (the handle opened); room is the engine's admission check today */
static gboolean nc_ct_class_probe(gpointer handle, const NcOwner *owner, const NcItemSet *expected,
                                  GError **error)
{
    return handle != NULL;
}

static gboolean nc_ct_class_capture(gpointer handle, const NcOwner *owner, NcItemSet *out,
                                    GPtrArray *not_carried, GError **error)
{
    g_autoptr(GArray) entries = g_array_new(FALSE, TRUE, sizeof(NcCtEntry));
    NcCtSelector sel;

    nc_ct_class_selector(owner, &sel);
    if (!nc_ct_capture(handle, &sel, entries, error))
        return FALSE;
    for (guint i = 0; i < entries->len; i++)
        if (!nc_item_set_upsert(out,
                                g_memdup2(&g_array_index(entries, NcCtEntry, i), sizeof(NcCtEntry)),
                                NULL, error))
            return FALSE;
    return TRUE;
}

static GArray *nc_ct_class_entries(const NcItemSet *items)
{
    g_autoptr(GPtrArray) list = nc_item_set_items(items);
    GArray *entries = g_array_sized_new(FALSE, TRUE, sizeof(NcCtEntry), list->len);

    for (guint i = 0; i < list->len; i++)
        g_array_append_vals(entries, list->pdata[i], 1);
    return entries;
}

static gboolean nc_ct_class_install(gpointer handle, const NcOwner *owner, const NcItemSet *items,
                                    NcItemSet **installed, GError **error)
{
    g_autoptr(GArray) entries = NULL;
    g_autoptr(GPtrArray) failures = NULL;

    if (installed)
        *installed = NULL;
    if (owner && !nc_item_set_check_owned(items, owner, error))
        return FALSE;
    entries = nc_ct_class_entries(items);
    if (!nc_ct_install(handle, (const NcCtEntry *)(gpointer)entries->data, entries->len, &failures,
                       error))
        return FALSE;
    if (installed) {
        *installed = nc_item_set_new(&nc_ct_class);
        for (guint i = 0; i < entries->len; i++)
            nc_item_set_upsert(*installed,
                               g_memdup2(&g_array_index(entries, NcCtEntry, i), sizeof(NcCtEntry)),
                               NULL, NULL);
    }
    return TRUE;
}

static gboolean nc_ct_class_remove(gpointer handle, const NcItemSet *items, guint *n_removed,
                                   GError **error)
{
    g_autoptr(GArray) entries = nc_ct_class_entries(items);

    return nc_ct_delete(handle, (const NcCtEntry *)(gpointer)entries->data, entries->len, n_removed,
                        error);
}

/* ---- the follower ---- */

typedef struct {
    NcCtFollower *follower;
    NcFollowNotify notify;
    gpointer user_data;
} NcCtClassFollower;

static void nc_ct_class_on_changes(NcCtFollower *follower, gpointer data)
{
    NcCtClassFollower *f = data;

    if (f->notify)
        f->notify(f, f->user_data);
}

static gpointer nc_ct_class_follow(const char *netns, const NcOwner *owner, NcFollowNotify notify,
                                   gpointer user_data, GError **error)
{
    NcCtSelector sel;
    NcCtClassFollower *f;
    NcCtFollower *follower;

    nc_ct_class_selector(owner, &sel);
    follower = nc_ct_follower_new(netns, &sel, 0, error);
    if (!follower)
        return NULL;
    f = g_new0(NcCtClassFollower, 1);
    f->follower = follower;
    f->notify = notify;
    f->user_data = user_data;
    nc_ct_follower_set_notify(follower, nc_ct_class_on_changes, f);
    return f;
}

/* the follower's changes, or a resync (full) when it lost events */
static NcChanges *nc_ct_class_take_changes(gpointer p)
{
    NcCtClassFollower *f = p;
    g_autoptr(NcCtChanges) ct = NULL;
    NcChanges *out;

    if (nc_ct_follower_needs_resync(f->follower)) {
        g_autoptr(GError) error = NULL;

        ct = nc_ct_follower_resync(f->follower, &error);
        if (!ct) {
            g_warning("conntrack resync failed: %s", error->message);
            return NULL;
        }
    } else {
        ct = nc_ct_follower_take_changes(f->follower);
    }
    if (!ct)
        return NULL;
    out = g_new0(NcChanges, 1);
    out->full = ct->full;
    out->upserts = g_ptr_array_new_with_free_func(g_free);
    out->deleted = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
    for (guint i = 0; i < ct->upserts->len; i++)
        g_ptr_array_add(out->upserts,
                        g_memdup2(&g_array_index(ct->upserts, NcCtEntry, i), sizeof(NcCtEntry)));
    for (guint i = 0; i < ct->deletions->len; i++) {
        const NcCtKey *k = &g_array_index(ct->deletions, NcCtKey, i);
        NcCtKey pk = {.zone = k->zone, .orig = k->orig};
        GBytes *b = nc_peer_ct_key_canonical(&pk, NULL);

        if (b)
            g_ptr_array_add(out->deleted, b);
    }
    return out;
}

static void nc_ct_class_unfollow(gpointer p)
{
    NcCtClassFollower *f = p;

    if (!f)
        return;
    nc_ct_follower_free(f->follower);
    g_free(f);
}

const NcStateDriver nc_ct_state_driver = {
    .ops = &nc_ct_class,
    .at = NC_DRIVER_AT_PRECOPY,
    .open = nc_ct_class_open,
    .close = nc_ct_class_close,
    .probe = nc_ct_class_probe,
    .capture = nc_ct_class_capture,
    .install = nc_ct_class_install,
    .remove = nc_ct_class_remove,
    .follow = nc_ct_class_follow,
    .take_changes = nc_ct_class_take_changes,
    .unfollow = nc_ct_class_unfollow,
};
