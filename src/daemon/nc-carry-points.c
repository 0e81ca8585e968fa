/* nc-carry-points.c - the destination's conntrack state points: which form of an entry each
 * point holds by its role, and install / delete across the points as one step
 *
 * Theory of operation (docs/topology.md has the user's view)
 *
 * netcarry.conf names a host's state points ([point NAME]): network namespaces, each with its
 * roles. The source sends one entry per flow, as its kernel holds it (with its NAT, if any). The
 * destination derives, per point, the form that point must hold:
 *   - a point with both roles (and the implicit single point) holds the entry as sent;
 *   - a NAT-only point holds the entries that translate (reply tuple is not the inverse of the
 *     original), as sent; a flow that is not translated is none of its business (it does not
 *     filter, so a new entry it makes for such a flow drops nothing);
 *   - a filter-only point sits on the domain's side of any NAT (the host's firewall at the tap,
 *     a per-host virtual firewall): it sees the flow untranslated, as the domain sends and
 *     receives it. Its form keeps the domain's side of both tuples and replaces the far side by
 *     what the far end really is: original = (orig.src:sport -> reply.src:sport), reply = its
 *     inverse. For SNAT that is the original tuple and its inverse; for DNAT (a port forwarded
 *     to the domain), the client -> domain tuple. An entry without NAT is unchanged.
 * Zones and marks are mapped before any of this ([map SITE] of the source's certificate name,
 * else [map]): the forms are the installed ones.
 *
 * Install is all or nothing across the points, as nc_ct_install() is within one: a point that
 * refuses an entry rolls back what the earlier points took in the same call, and the failures
 * come back with their index in the caller's array, so the caller's retry (the entries that did
 * not fail) is again one step over every point.
 */
#define G_LOG_DOMAIN "nc-carry"

#include <linux/netfilter/nf_conntrack_common.h>
#include <netinet/in.h>
#include <string.h>

#include "nc-carry-private.h"
#include "util/nc-error.h"

struct _CarryPoint {
    char *name;
    char *netns;
    guint roles;
    NcCt *ct;
};

static void point_free(CarryPoint *p)
{
    g_free(p->name);
    g_free(p->netns);
    g_clear_pointer(&p->ct, nc_ct_close);
    g_free(p);
}

static gboolean is_icmp(guint8 proto)
{
    return proto == IPPROTO_ICMP || proto == IPPROTO_ICMPV6;
}

/**
 * nc_carry_ct_entry_translated() - does @en translate (NAT): is its reply tuple not the inverse
 * of its original one?
 */
gboolean nc_carry_ct_entry_translated(const NcCtEntry *en)
{
    if (!nc_addr_equal(&en->reply.src, &en->orig.dst) ||
        !nc_addr_equal(&en->reply.dst, &en->orig.src))
        return TRUE;
    if (is_icmp(en->orig.proto))
        return en->reply.icmp_id != en->orig.icmp_id;
    return en->reply.sport != en->orig.dport || en->reply.dport != en->orig.sport;
}

/**
 * nc_carry_ct_point_form() - the form of @en that a point with @roles holds (theory above)
 * @out: (out caller-allocates): the form
 *
 * Return: FALSE if the point holds no form of @en
 */
gboolean nc_carry_ct_point_form(guint roles, const NcCtEntry *en, NcCtEntry *out)
{
    gboolean nat = nc_carry_ct_entry_translated(en);

    *out = *en;
    if ((roles & NC_POINT_ROLE_ALL) == NC_POINT_ROLE_ALL)
        return TRUE;
    if (roles & NC_POINT_ROLE_NAT)
        return nat;
    if (!nat)
        return TRUE;
    out->orig.dst = en->reply.src;
    out->reply.dst = en->orig.src;
    if (is_icmp(en->orig.proto)) {
        out->reply.icmp_id = en->orig.icmp_id;
    } else {
        out->orig.dport = en->reply.sport;
        out->reply.dport = en->orig.sport;
    }
    out->status &= ~(guint32)(IPS_NAT_MASK | IPS_NAT_DONE_MASK);
    return TRUE;
}

/**
 * carry_ct_map() - @en's zone and mark as this host has them: the map of @source ([map SITE]
 * naming it, else [map]; nc_config_source_map())
 * @source: the CN of the source's certificate, checked at the TLS handshake; NULL: none known
 *
 * Return: FALSE if maps are configured and none is @source's, or @source's does not list @en's
 * zone or mark: the entry is foreign here
 */
gboolean carry_ct_map(const NcConfig *config, const char *source, NcCtEntry *en)
{
    const NcSiteMap *m;
    guint32 zone = en->zone;

    if (!nc_config_source_map(config, source, &m))
        return FALSE;
    if (!m)
        return TRUE;
    if (!nc_value_map_apply(m->zone, &zone) || !nc_value_map_apply(m->mark, &en->mark))
        return FALSE;
    en->zone = zone;
    return TRUE;
}

/**
 * carry_points_new() - the destination's conntrack points: every configured point that holds
 * conntrack, or (none configured) one point with both roles in the engine's namespace
 *
 * Return: (transfer full) (element-type CarryPoint): not opened yet
 */
GPtrArray *carry_points_new(NcCarryEngine *e)
{
    GPtrArray *points = g_ptr_array_new_with_free_func((GDestroyNotify)point_free);
    const GPtrArray *conf = e->opt.config->points;

    for (guint i = 0; conf && i < conf->len; i++) {
        const NcStatePoint *sp = g_ptr_array_index(conf, i);
        CarryPoint *p;

        if (!nc_point_holds(sp, nc_ct_class.name))
            continue;
        p = g_new0(CarryPoint, 1);
        p->name = g_strdup(sp->name);
        /* no netns: the engine's (netcarryd's own in production; a test's namespace) */
        p->netns = g_strdup(sp->netns ? sp->netns : e->netns);
        p->roles = sp->roles;
        g_ptr_array_add(points, p);
    }
    if (!points->len) {
        CarryPoint *p = g_new0(CarryPoint, 1);

        p->name = g_strdup("host");
        p->netns = g_strdup(e->netns);
        p->roles = NC_POINT_ROLE_ALL;
        g_ptr_array_add(points, p);
    }
    return points;
}

/* Open every point's conntrack (once per carry); the error names the point. */
static gboolean points_open(GPtrArray *points, GError **error)
{
    for (guint i = 0; i < points->len; i++) {
        CarryPoint *p = g_ptr_array_index(points, i);
        g_autoptr(GError) err = NULL;

        if (p->ct)
            continue;
        p->ct = nc_ct_open(p->netns, &err);
        if (!p->ct) {
            g_set_error(error, NC_ERROR, NC_ERROR_UNSUPPORTED,
                        "state point '%s' (network namespace %s): conntrack is not usable: %s",
                        p->name, p->netns ? p->netns : "(netcarryd's own)", err->message);
            return FALSE;
        }
    }
    return TRUE;
}

/**
 * carry_points_check() - admission: every conntrack point exists, its conntrack is usable, and
 * @check (the engine's kernel check: room in the table, events) passes there; the error names
 * the point
 */
gboolean carry_points_check(NcCarryEngine *e, CarryPointCheck check, GError **error)
{
    g_autoptr(GPtrArray) points = carry_points_new(e);

    if (!points_open(points, error))
        return FALSE;
    for (guint i = 0; i < points->len; i++) {
        CarryPoint *p = g_ptr_array_index(points, i);

        if (g_strcmp0(p->netns, e->netns) != 0 && !check(e, p->netns, error)) {
            g_prefix_error(error, "state point '%s' (network namespace %s): ", p->name,
                           p->netns ? p->netns : "(netcarryd's own)");
            return FALSE;
        }
    }
    return TRUE;
}

/* @entries in @p's form: @entries themselves for a point with both roles (the common single
 * point: no copy on the install path), else a copy in @forms with, in @from, the index of the
 * entry each came from. @m: how many. */
static const NcCtEntry *point_forms(const CarryPoint *p, const NcCtEntry *entries, guint n,
                                    GArray **forms, GArray **from, guint *m)
{
    *forms = NULL;
    *from = NULL;
    *m = n;
    if ((p->roles & NC_POINT_ROLE_ALL) == NC_POINT_ROLE_ALL)
        return entries;
    *forms = g_array_sized_new(FALSE, FALSE, sizeof(NcCtEntry), n);
    *from = g_array_new(FALSE, FALSE, sizeof(guint));
    for (guint i = 0; i < n; i++) {
        NcCtEntry f;

        if (nc_carry_ct_point_form(p->roles, &entries[i], &f)) {
            g_array_append_val(*forms, f);
            g_array_append_val(*from, i);
        }
    }
    *m = (*forms)->len;
    return (const NcCtEntry *)(*forms)->data;
}

/* Delete @entries from @p, in its form. */
static gboolean point_delete(CarryPoint *p, const NcCtEntry *entries, guint n, guint *removed,
                             GError **error)
{
    g_autoptr(GArray) forms = NULL;
    g_autoptr(GArray) from = NULL;
    guint m;
    const NcCtEntry *v = point_forms(p, entries, n, &forms, &from, &m);

    *removed = 0;
    return !m || nc_ct_delete(p->ct, v, m, removed, error);
}

/**
 * carry_points_delete() - delete @entries (as sent, mapped) from every point, each in its form
 * @n_removed: (out) (optional): the most any one point removed
 */
gboolean carry_points_delete(GPtrArray *points, const NcCtEntry *entries, guint n, guint *n_removed,
                             GError **error)
{
    guint most = 0, removed;

    if (!points_open(points, error))
        return FALSE;
    for (guint i = 0; i < points->len; i++) {
        if (!point_delete(g_ptr_array_index(points, i), entries, n, &removed, error))
            return FALSE;
        most = MAX(most, removed);
    }
    if (n_removed)
        *n_removed = most;
    return TRUE;
}

/**
 * carry_points_install() - install @entries into every point, each in its form; all or nothing
 * @failures: (out) (optional): on NC_ERROR_PARTIAL, NcCtFailure with indexes into @entries
 */
gboolean carry_points_install(GPtrArray *points, const NcCtEntry *entries, guint n,
                              GPtrArray **failures, GError **error)
{
    if (failures)
        *failures = NULL;
    if (!points_open(points, error))
        return FALSE;
    for (guint i = 0; i < points->len; i++) {
        CarryPoint *p = g_ptr_array_index(points, i);
        g_autoptr(GArray) forms = NULL;
        g_autoptr(GArray) from = NULL;
        g_autoptr(GPtrArray) fails = NULL;
        g_autoptr(GError) err = NULL;
        guint m;
        const NcCtEntry *v = point_forms(p, entries, n, &forms, &from, &m);

        if (!m || nc_ct_install(p->ct, v, m, failures ? &fails : NULL, &err))
            continue;
        /* the earlier points give back what they took in this call */
        for (guint j = 0; j < i; j++) {
            CarryPoint *q = g_ptr_array_index(points, j);
            g_autoptr(GError) derr = NULL;
            guint removed;

            if (!point_delete(q, entries, n, &removed, &derr))
                g_warning("state point '%s': removing this step's entries again failed: %s",
                          q->name, derr->message);
        }
        for (guint k = 0; fails && k < fails->len; k++) {
            NcCtFailure *f = g_ptr_array_index(fails, k);

            if (from)
                f->index = g_array_index(from, guint, f->index);
        }
        g_prefix_error(&err, "state point '%s': ", p->name);
        if (failures)
            *failures = g_steal_pointer(&fails);
        g_propagate_error(error, g_steal_pointer(&err));
        return FALSE;
    }
    return TRUE;
}

/* ---- the source: capture from every point, one entry per flow ----
 *
 * With one point the engine's follower path runs unchanged. With several, each point has its
 * follower and a table of what it holds now; after every change the points' tables are merged
 * into the one set the destination should have, and the difference to what was sent goes out.
 * The merge keeps one entry per flow, the most telling one: every translating entry (a NAT
 * point's); an untranslated entry unless a translating one describes the same flow, i.e. its key
 * is the key of a translating entry's domain-side form (theory above): a filter point's copy of
 * a NATed flow is what the destination derives again from the NAT entry. The destination then
 * installs by its own roles, whatever the source's split was (n:1, n:m).
 * The merge walks every point's table: its cost grows with the domain's entries, on each pump
 * (every NC_CARRY_COALESCE_MS at most during pre-copy); hosts with one point do not pay it.
 */

struct _CarrySrcPoints {
    GPtrArray *followers; /* NcCtFollower*, per point */
    GArray *roles;        /* guint, per point */
    GPtrArray *held;      /* GHashTable* per point: canonical key -> NcCtEntry* */
};

void carry_src_points_free(CarrySrcPoints *sp)
{
    if (!sp)
        return;
    g_ptr_array_unref(sp->followers);
    g_array_unref(sp->roles);
    g_ptr_array_unref(sp->held);
    g_free(sp);
}

/**
 * carry_src_points_new() - follow the domain's entries in every conntrack point of this host
 * @sel: the domain's entries
 *
 * @single_netns: (out): if this host has one point, its namespace (NULL: netcarryd's own)
 *
 * Return: (transfer full): NULL with @error set if a point cannot be followed (the error names
 * it), and also NULL without @error if this host has one point (the caller's single follower)
 */
CarrySrcPoints *carry_src_points_new(NcCarryEngine *e, const NcCtSelector *sel,
                                     NcCtFollowerNotify notify, gpointer data, char **single_netns,
                                     GError **error)
{
    g_autoptr(GPtrArray) points = carry_points_new(e);
    CarrySrcPoints *sp;

    if (points->len < 2) {
        *single_netns = g_strdup(((CarryPoint *)g_ptr_array_index(points, 0))->netns);
        return NULL;
    }
    sp = g_new0(CarrySrcPoints, 1);
    sp->followers = g_ptr_array_new_with_free_func((GDestroyNotify)nc_ct_follower_free);
    sp->roles = g_array_new(FALSE, FALSE, sizeof(guint));
    sp->held = g_ptr_array_new_with_free_func((GDestroyNotify)g_hash_table_unref);
    for (guint i = 0; i < points->len; i++) {
        CarryPoint *p = g_ptr_array_index(points, i);
        g_autoptr(GError) err = NULL;
        NcCtFollower *f = nc_ct_follower_new(p->netns, sel, 0, &err);

        if (!f) {
            g_set_error(error, NC_ERROR, NC_ERROR_UNSUPPORTED,
                        "state point '%s' (network namespace %s): cannot follow conntrack: %s",
                        p->name, p->netns ? p->netns : "(netcarryd's own)", err->message);
            carry_src_points_free(sp);
            return NULL;
        }
        nc_ct_follower_set_notify(f, notify, data);
        g_ptr_array_add(sp->followers, f);
        g_array_append_val(sp->roles, p->roles);
        g_ptr_array_add(sp->held, g_hash_table_new_full(g_bytes_hash, g_bytes_equal,
                                                        (GDestroyNotify)g_bytes_unref, g_free));
    }
    return sp;
}

/* Wait (bounded) for every point's pending events; the first error is kept. */
gboolean carry_src_points_flush(CarrySrcPoints *sp, guint timeout_ms, GError **error)
{
    gboolean ok = TRUE;

    for (guint i = 0; i < sp->followers->len; i++)
        if (!nc_ct_follower_flush(g_ptr_array_index(sp->followers, i), timeout_ms,
                                  ok ? error : NULL))
            ok = FALSE;
    return ok;
}

static GBytes *ct_key(const NcItemSet *set, const NcCtEntry *en, GError **error)
{
    return nc_item_set_key_of(set, en, error);
}

static gboolean same_entry(const NcCtEntry *a, const NcCtEntry *b)
{
    g_autoptr(GByteArray) x = g_byte_array_new(), y = g_byte_array_new();

    return nc_ct_class.encode(a, x, NULL) && nc_ct_class.encode(b, y, NULL) && x->len == y->len &&
           memcmp(x->data, y->data, x->len) == 0;
}

/**
 * carry_src_points_take() - read every point's changes and say what the destination's set
 * lacks or holds too much, against @sent (what it was sent so far)
 * @ups:  (out) (transfer full) (element-type NcCtEntry)
 * @gone: (out) (transfer full) (element-type NcCtKey)
 *
 * Return: FALSE with @error set if a point's resync failed
 */
gboolean carry_src_points_take(CarrySrcPoints *sp, const NcItemSet *sent, GArray **ups,
                               GArray **gone, GError **error)
{
    g_autoptr(GHashTable) merged =
        g_hash_table_new_full(g_bytes_hash, g_bytes_equal, (GDestroyNotify)g_bytes_unref, NULL);
    g_autoptr(GHashTable) shadow =
        g_hash_table_new_full(g_bytes_hash, g_bytes_equal, (GDestroyNotify)g_bytes_unref, NULL);
    g_autoptr(GPtrArray) sent_items = nc_item_set_items(sent);

    *ups = g_array_new(FALSE, FALSE, sizeof(NcCtEntry));
    *gone = g_array_new(FALSE, FALSE, sizeof(NcCtKey));
    for (guint i = 0; i < sp->followers->len; i++) {
        NcCtFollower *f = g_ptr_array_index(sp->followers, i);
        GHashTable *held = g_ptr_array_index(sp->held, i);
        g_autoptr(NcCtChanges) ch = NULL;

        if (nc_ct_follower_needs_resync(f)) {
            ch = nc_ct_follower_resync(f, error);
            if (!ch)
                return FALSE;
        } else {
            ch = nc_ct_follower_take_changes(f);
        }
        if (!ch)
            continue;
        if (ch->full)
            g_hash_table_remove_all(held);
        for (guint k = 0; ch->deletions && k < ch->deletions->len; k++) {
            NcCtKey key = g_array_index(ch->deletions, NcCtKey, k);
            NcCtKey pk;
            g_autoptr(GBytes) kb = NULL;

            memset(&pk, 0, sizeof(pk));
            pk.zone = key.zone;
            pk.orig = key.orig;
            kb = nc_peer_ct_key_canonical(&pk, error);
            if (!kb)
                return FALSE;
            g_hash_table_remove(held, kb);
        }
        for (guint k = 0; ch->upserts && k < ch->upserts->len; k++) {
            const NcCtEntry *en = &g_array_index(ch->upserts, NcCtEntry, k);
            GBytes *kb = ct_key(sent, en, error);

            if (!kb)
                return FALSE;
            g_hash_table_replace(held, kb, g_memdup2(en, sizeof(*en)));
        }
    }
    /* translating entries first, and the keys of their domain-side forms */
    for (guint pass = 0; pass < 2; pass++) {
        for (guint i = 0; i < sp->held->len; i++) {
            GHashTableIter it;
            gpointer kb, v;

            g_hash_table_iter_init(&it, g_ptr_array_index(sp->held, i));
            while (g_hash_table_iter_next(&it, &kb, &v)) {
                const NcCtEntry *en = v;
                gboolean nat = nc_carry_ct_entry_translated(en);

                if ((pass == 0) != nat || g_hash_table_contains(merged, kb))
                    continue;
                if (nat) {
                    NcCtEntry side;
                    GBytes *sk;

                    nc_carry_ct_point_form(NC_POINT_ROLE_FILTER, en, &side);
                    sk = ct_key(sent, &side, error);
                    if (!sk)
                        return FALSE;
                    g_hash_table_add(shadow, sk);
                } else if (g_hash_table_contains(shadow, kb)) {
                    continue;
                }
                g_hash_table_insert(merged, g_bytes_ref(kb), v);
            }
        }
    }
    /* the difference to what the destination was sent */
    for (guint i = 0; i < sent_items->len; i++) {
        const NcCtEntry *en = g_ptr_array_index(sent_items, i);
        g_autoptr(GBytes) kb = ct_key(sent, en, NULL);

        if (kb && !g_hash_table_contains(merged, kb)) {
            NcCtKey k;

            nc_ct_key_of(en, &k);
            g_array_append_val(*gone, k);
        }
    }
    {
        GHashTableIter it;
        gpointer kb, v;

        g_hash_table_iter_init(&it, merged);
        while (g_hash_table_iter_next(&it, &kb, &v)) {
            const NcCtEntry *old = nc_item_set_lookup_key(sent, kb);

            if (!old || !same_entry(old, v))
                g_array_append_vals(*ups, v, 1);
        }
    }
    return TRUE;
}

/**
 * carry_points_remove() - the source's clean-up: remove the domain's entries from every point
 * @n_removed: (out): in all
 */
gboolean carry_points_remove(NcCarryEngine *e, const NcCtSelector *sel, guint *n_removed,
                             GError **error)
{
    g_autoptr(GPtrArray) points = carry_points_new(e);

    *n_removed = 0;
    if (!points_open(points, error))
        return FALSE;
    for (guint i = 0; i < points->len; i++) {
        CarryPoint *p = g_ptr_array_index(points, i);
        guint n = 0;

        if (!nc_ct_remove(p->ct, sel, &n, error)) {
            g_prefix_error(error, "state point '%s': ", p->name);
            return FALSE;
        }
        *n_removed += n;
    }
    return TRUE;
}

/**
 * carry_points_place_classes() - every class beside conntrack that a state point names lives in
 * that point's namespace (netcarry.conf allows one point per such class)
 */
void carry_points_place_classes(NcCarryEngine *e, NcCarryClasses *cc)
{
    const GPtrArray *conf = e->opt.config->points;

    for (guint i = 0; conf && i < conf->len; i++) {
        const NcStatePoint *sp = g_ptr_array_index(conf, i);

        for (guint k = 0; sp->classes && sp->classes[k]; k++)
            if (!g_str_equal(sp->classes[k], nc_ct_class.name))
                nc_carry_classes_place(cc, sp->classes[k], sp->netns ? sp->netns : e->netns);
    }
}
