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
 * Zones and marks are mapped ([map]) before any of this: the forms are the installed ones.
 *
 * Install is all or nothing across the points, as nc_ct_install() is within one: a point that
 * refuses an entry rolls back what the earlier points took in the same call, and the failures
 * come back with their index in the caller's array, so the caller's retry (the entries that did
 * not fail) is again one step over every point.
 */
#define G_LOG_DOMAIN "nc-carry"

#include <linux/netfilter/nf_conntrack_common.h>
#include <netinet/in.h>

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
 * carry_ct_map() - @en's zone and mark as this host has them ([map] of @config)
 *
 * Return: FALSE if a map is configured and does not list @en's value: the entry is foreign here
 */
gboolean carry_ct_map(const NcConfig *config, NcCtEntry *en)
{
    guint32 zone = en->zone;

    if (!nc_value_map_apply(config->zone_map, &zone) ||
        !nc_value_map_apply(config->mark_map, &en->mark))
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
        p->netns = g_strdup(sp->netns);
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
 * carry_points_check() - admission: every conntrack point exists and its conntrack is usable
 */
gboolean carry_points_check(NcCarryEngine *e, GError **error)
{
    g_autoptr(GPtrArray) points = carry_points_new(e);

    return points_open(points, error);
}

/* @entries in @p's form, and for each the index of the entry it came from */
static GArray *point_forms(const CarryPoint *p, const NcCtEntry *entries, guint n, GArray *from)
{
    GArray *forms = g_array_sized_new(FALSE, FALSE, sizeof(NcCtEntry), n);

    for (guint i = 0; i < n; i++) {
        NcCtEntry f;

        if (nc_carry_ct_point_form(p->roles, &entries[i], &f)) {
            g_array_append_val(forms, f);
            g_array_append_val(from, i);
        }
    }
    return forms;
}

/**
 * carry_points_delete() - delete @entries (as sent, mapped) from every point, each in its form
 * @n_removed: (out) (optional): the most any one point removed
 */
gboolean carry_points_delete(GPtrArray *points, const NcCtEntry *entries, guint n,
                             guint *n_removed, GError **error)
{
    guint most = 0;

    if (!points_open(points, error))
        return FALSE;
    for (guint i = 0; i < points->len; i++) {
        CarryPoint *p = g_ptr_array_index(points, i);
        g_autoptr(GArray) from = g_array_new(FALSE, FALSE, sizeof(guint));
        g_autoptr(GArray) forms = point_forms(p, entries, n, from);
        guint removed = 0;

        if (forms->len &&
            !nc_ct_delete(p->ct, (NcCtEntry *)forms->data, forms->len, &removed, error))
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
        g_autoptr(GArray) from = g_array_new(FALSE, FALSE, sizeof(guint));
        g_autoptr(GArray) forms = point_forms(p, entries, n, from);
        g_autoptr(GPtrArray) fails = NULL;
        g_autoptr(GError) err = NULL;

        if (!forms->len || nc_ct_install(p->ct, (NcCtEntry *)forms->data, forms->len,
                                         failures ? &fails : NULL, &err))
            continue;
        /* the earlier points give back what they took in this call */
        for (guint j = 0; j < i; j++) {
            CarryPoint *q = g_ptr_array_index(points, j);
            g_autoptr(GArray) qfrom = g_array_new(FALSE, FALSE, sizeof(guint));
            g_autoptr(GArray) qforms = point_forms(q, entries, n, qfrom);
            g_autoptr(GError) derr = NULL;

            if (qforms->len &&
                !nc_ct_delete(q->ct, (NcCtEntry *)qforms->data, qforms->len, NULL, &derr))
                g_warning("state point '%s': removing %u entries again failed: %s", q->name,
                          qforms->len, derr->message);
        }
        for (guint k = 0; fails && k < fails->len; k++) {
            NcCtFailure *f = g_ptr_array_index(fails, k);

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
