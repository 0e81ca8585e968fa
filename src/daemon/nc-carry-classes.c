/* nc-carry-classes.c - one carry's classes beside conntrack, through their state drivers
 * (theory of operation in nc-carry-classes.h and docs/architecture.md)
 */
#define G_LOG_DOMAIN "nc-carry"
#include <string.h>

#include "conf/nc-ip-learn.h"
#include "conf/nc-nft-items.h"
#include "conf/nc-policy.h"
#include "drivers/nc-ip-binding.h"
#include "drivers/nc-state-driver.h"
#include "nc-carry-classes.h"
#include "util/nc-error.h"

/* An ITEMS message stays well below the frame limit (NC_PEER_PROTO_MAX_PAYLOAD) */
#define ITEMS_CHUNK_BYTES (512u * 1024)

typedef struct {
    const NcStateDriver *driver;
    gpointer handle;        /* opened at the first use */
    NcItemSet *set;         /* source: the last capture; destination: what arrived */
    NcItemSet *installed;   /* destination: what the install put in (the roll-back's) */
    GPtrArray *not_carried; /* NcNotCarried: the domain's, and not carried (with why) */
    guint captures;         /* whole sets captured (source) or received (destination) */
    gint64 capture_us;      /* source: how long the last capture took */
    guint precopied, at_stop, installed_n, failed_n, removed;
    gboolean present;  /* sent (source) or received (destination) at least once */
    gboolean skipped;  /* the destination's probe failed under admission = proceed */
    char *failure;     /* why the class was not installed, or NULL */
    gboolean probed;   /* destination, checked class: its probe ran (the report's "checked") */
    char *unavailable; /* why this host cannot take or check the class, or NULL */
    gboolean placed;   /* a state point holds it: @netns, not the carry's namespace */
    char *netns;
} ClassState;

struct _NcCarryClasses {
    char *netns;
    NcOwner *owner;
    ClassState *cls;
    guint n;
};

/*
 * The classes a carry takes: the learned IP bindings first (a migration-only class, pinned in
 * the domain XML at admission: nc-ip-binding.h; its addresses must be the domain's before the
 * items of the others, and the conntrack entries behind them, are checked), then the registry's.
 */
static const NcStateDriver *const *carry_drivers(guint *n)
{
    static gsize table; /* const NcStateDriver ** */
    static guint count;

    if (g_once_init_enter(&table)) {
        guint k = 0;
        const NcStateDriver *const *reg = nc_state_drivers(&k);
        const NcStateDriver **v = g_new0(const NcStateDriver *, k + 2);

        v[0] = &nc_ip_binding_driver;
        for (guint i = 0; i < k; i++)
            v[i + 1] = reg[i];
        count = k + 1;
        g_once_init_leave(&table, (gsize)v);
    }
    *n = count;
    return (const NcStateDriver *const *)table;
}

/**
 * nc_carry_classes_new() - the classes of one carry
 * @netns: (nullable): the namespace the state lives in (the engine's)
 * @owner: (transfer full): the domain as this host derived it (nc_domain_owner())
 */
NcCarryClasses *nc_carry_classes_new(const char *netns, NcOwner *owner)
{
    NcCarryClasses *cc = g_new0(NcCarryClasses, 1);
    const NcStateDriver *const *drivers = carry_drivers(&cc->n);

    cc->netns = g_strdup(netns);
    cc->owner = owner;
    cc->cls = g_new0(ClassState, cc->n);
    for (guint i = 0; i < cc->n; i++) {
        cc->cls[i].driver = drivers[i];
        cc->cls[i].set = nc_item_set_new(drivers[i]->ops);
        cc->cls[i].not_carried = nc_not_carried_list_new();
    }
    return cc;
}

void nc_carry_classes_free(NcCarryClasses *cc)
{
    if (!cc)
        return;
    for (guint i = 0; i < cc->n; i++) {
        ClassState *cs = &cc->cls[i];

        if (cs->handle)
            cs->driver->close(cs->handle);
        nc_item_set_free(cs->set);
        nc_item_set_free(cs->installed);
        g_ptr_array_unref(cs->not_carried);
        g_free(cs->failure);
        g_free(cs->unavailable);
        g_free(cs->netns);
    }
    g_free(cc->cls);
    nc_owner_free(cc->owner);
    g_free(cc->netns);
    g_free(cc);
}

static const char *class_name(const ClassState *cs)
{
    return cs->driver->ops->name;
}

static gpointer class_handle(NcCarryClasses *cc, ClassState *cs, GError **error)
{
    if (!cs->handle)
        cs->handle = cs->driver->open(cs->placed ? cs->netns : cc->netns, error);
    return cs->handle;
}

static ClassState *class_lookup(NcCarryClasses *cc, const char *name)
{
    for (guint i = 0; i < cc->n; i++)
        if (!g_strcmp0(class_name(&cc->cls[i]), name))
            return &cc->cls[i];
    return NULL;
}

/**
 * nc_carry_classes_place() - the class @name lives in the state point of namespace @netns
 * (NULL: netcarryd's own), not in the carry's; before its first use. An unknown name is ignored.
 */
void nc_carry_classes_place(NcCarryClasses *cc, const char *name, const char *netns)
{
    ClassState *cs = class_lookup(cc, name);

    if (!cs || cs->handle)
        return;
    cs->placed = TRUE;
    g_free(cs->netns);
    cs->netns = g_strdup(netns);
}

/* The names of every class beside conntrack this build carries; NULL-terminated, static. */
const char *const *nc_carry_classes_names(void)
{
    static gsize names; /* const char ** */

    if (g_once_init_enter(&names)) {
        guint n = 0;
        const NcStateDriver *const *drivers = carry_drivers(&n);
        const char **v = g_new0(const char *, n + 1);

        for (guint i = 0; i < n; i++)
            v[i] = drivers[i]->ops->name;
        g_once_init_leave(&names, (gsize)v);
    }
    return (const char *const *)names;
}

/* ---- source ---- */

static NcPeerMsg *items_msg(const ClassState *cs, gboolean replace)
{
    NcPeerMsg *m = nc_peer_msg_new(NC_PEER_MSG_ITEMS);

    m->items.klass = g_strdup(class_name(cs));
    m->items.replace = replace;
    return m;
}

/* One class's whole set as ITEMS messages (the first replaces, its not-carried list with it). */
static void class_messages(const ClassState *cs, GPtrArray *out)
{
    g_autoptr(GPtrArray) items = nc_item_set_items(cs->set);
    NcPeerMsg *m = items_msg(cs, TRUE);
    gsize bytes = 0;

    for (guint i = 0; i < cs->not_carried->len; i++) {
        const NcNotCarried *nc = g_ptr_array_index(cs->not_carried, i);

        nc_not_carried_add(m->items.not_carried, nc->class_name, nc->what, "%s", nc->reason);
    }
    for (guint i = 0; i < items->len; i++) {
        g_autoptr(GByteArray) enc = g_byte_array_new();
        g_autoptr(GError) err = NULL;

        /* a captured item always has its canonical form (nc-item-set.h) */
        if (!cs->driver->ops->encode(items->pdata[i], enc, &err)) {
            g_warning("class %s: an item does not encode: %s", class_name(cs), err->message);
            continue;
        }
        if (bytes + enc->len + 4 > ITEMS_CHUNK_BYTES && m->items.items->len) {
            g_ptr_array_add(out, m);
            m = items_msg(cs, FALSE);
            bytes = 0;
        }
        bytes += enc->len + 4;
        g_ptr_array_add(m->items.items, g_byte_array_free_to_bytes(g_steal_pointer(&enc)));
    }
    g_ptr_array_add(out, m);
}

static gboolean is_set_ref(const NcObjectRef *r)
{
    return !g_strcmp0(r->type, "set") || !g_strcmp0(r->type, "map");
}

static gboolean names_sets(const NcOwner *owner)
{
    for (guint i = 0; owner->objects && i < owner->objects->len; i++)
        if (is_set_ref(g_ptr_array_index(owner->objects, i)))
            return TRUE;
    return FALSE;
}

/*
 * set_owners() - the sets the set class reads, one by one, when the profile names them
 *
 * Each named set is read on its own, so that one missing (never declared here, or deleted during
 * the migration) is reported and the others still go. Without named sets the class reads every
 * set of the namespace, at the first capture and again at the stop: the stop's read is downtime
 * (someone else's 20k-element set costs ~130 ms here, bench/bench-nft-set; the log gives each
 * stop's figure), and naming the domain's sets in its profile keeps it to them.
 *
 * Return: (transfer full) (element-type NcOwner): one owner per named set; NULL: read every set
 */
static GPtrArray *set_owners(NcCarryClasses *cc, const ClassState *cs)
{
    GPtrArray *owners;

    if (cs->driver->ops != &nc_nft_set_class || !names_sets(cc->owner))
        return NULL;
    owners = g_ptr_array_new_with_free_func((GDestroyNotify)nc_owner_free);
    for (guint i = 0; i < cc->owner->objects->len; i++) {
        const NcObjectRef *r = g_ptr_array_index(cc->owner->objects, i);
        NcOwner *o;

        if (!is_set_ref(r))
            continue;
        o = nc_owner_copy(cc->owner);
        /* this set only: the other set refs go */
        for (guint j = o->objects->len; j-- > 0;)
            if (is_set_ref(g_ptr_array_index(o->objects, j)))
                g_ptr_array_remove_index(o->objects, j);
        g_ptr_array_add(o->objects, nc_object_ref_new(r->family, r->table, r->name, r->type));
        g_ptr_array_add(owners, o);
    }
    return owners;
}

/* The set class, set by set (set_owners()). */
static void capture_sets(NcCarryClasses *cc, ClassState *cs, gpointer h, GPtrArray *owners,
                         NcItemSet *set, GPtrArray *nc)
{
    for (guint i = 0; i < owners->len; i++) {
        const NcOwner *o = owners->pdata[i];
        const NcObjectRef *r = g_ptr_array_index(o->objects, o->objects->len - 1);
        g_autofree char *what = g_strdup_printf("%s/%s/%s", r->family, r->table, r->name);
        g_autoptr(GError) err = NULL;

        if (cs->driver->capture(h, o, set, nc, &err))
            continue;
        if (g_error_matches(err, NC_ERROR, NC_ERROR_NOT_FOUND))
            nc_not_carried_add(nc, class_name(cs), what,
                               "the domain's profile names this set and the source has none "
                               "(by this name and family) at this point of the migration");
        else
            nc_not_carried_add(nc, class_name(cs), what, "it cannot be read on the source: %s",
                               err->message);
    }
}

/**
 * nc_carry_classes_capture() - capture every class whole, as ITEMS messages to send
 * @cc:       the source's classes
 * @at_stop:  FALSE: when the destination is admitted; TRUE: after the source's STOP
 * @accepted: (nullable): the classes the destination takes (its HELLO); the others are left out
 *
 * A class that cannot be captured here (no nf_tables, say) is not carried and says why (in its
 * not-carried list, which travels with it). A class goes out once it has anything to say, and
 * every time after that (an empty set then replaces what the destination holds).
 *
 * Return: (transfer full) (element-type NcPeerMsg): the messages, in order
 */
GPtrArray *nc_carry_classes_capture(NcCarryClasses *cc, gboolean at_stop,
                                    const char *const *accepted)
{
    GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)nc_peer_msg_free);

    for (guint i = 0; i < cc->n; i++) {
        ClassState *cs = &cc->cls[i];
        g_autoptr(NcItemSet) set = nc_item_set_new(cs->driver->ops);
        g_autoptr(GPtrArray) nc = nc_not_carried_list_new();
        g_autoptr(GPtrArray) owners = set_owners(cc, cs);
        g_autoptr(GError) err = NULL;
        gint64 t0 = g_get_monotonic_time();
        gpointer h;

        if (accepted && !g_strv_contains(accepted, class_name(cs)))
            continue; /* the destination does not take it (nc_carry_classes_refused()) */
        if (at_stop && cs->driver->checked) {
            cs->capture_us = 0; /* policy, compared at admission: not read again in the downtime */
            continue;
        }
        h = class_handle(cc, cs, &err);
        if (h && owners) {
            capture_sets(cc, cs, h, owners, set, nc);
        } else if (!h || !cs->driver->capture(h, cc->owner, set, nc, &err)) {
            g_clear_pointer(&set, nc_item_set_free);
            set = nc_item_set_new(cs->driver->ops);
            nc_not_carried_add(nc, class_name(cs), "the whole class",
                               "it cannot be read on the source: %s", err->message);
        }
        cs->capture_us = g_get_monotonic_time() - t0;
        nc_item_set_free(cs->set);
        cs->set = g_steal_pointer(&set);
        g_ptr_array_unref(cs->not_carried);
        cs->not_carried = g_steal_pointer(&nc);
        cs->captures++;
        if (at_stop)
            cs->at_stop = nc_item_set_count(cs->set);
        else
            cs->precopied = nc_item_set_count(cs->set);
        if (!cs->present && !nc_item_set_count(cs->set) && !cs->not_carried->len)
            continue;
        cs->present = TRUE;
        class_messages(cs, out);
    }
    return out;
}

/**
 * nc_carry_classes_refused() - the classes this host would carry and the destination does not
 * take (an older destination of peer protocol 4), for the log
 *
 * Return: (transfer full): "nft-object, ..." or NULL: none
 */
char *nc_carry_classes_refused(NcCarryClasses *cc, const char *const *accepted)
{
    g_autoptr(GString) s = g_string_new(NULL);

    for (guint i = 0; accepted && i < cc->n; i++)
        if (!g_strv_contains(accepted, class_name(&cc->cls[i])))
            g_string_append_printf(s, "%s%s", s->len ? ", " : "", class_name(&cc->cls[i]));
    return s->len ? g_string_free(g_steal_pointer(&s), FALSE) : NULL;
}

/**
 * nc_carry_classes_sums() - each sent class's count and digest, for the SEAL
 *
 * Return: (transfer full) (element-type NcPeerClassSum)
 */
GArray *nc_carry_classes_sums(NcCarryClasses *cc)
{
    GArray *sums = nc_peer_class_sums_new();

    for (guint i = 0; i < cc->n; i++) {
        const ClassState *cs = &cc->cls[i];

        if (cs->present)
            nc_peer_class_sums_add(sums, class_name(cs), nc_item_set_count(cs->set),
                                   nc_item_set_digest(cs->set)->sum);
    }
    return sums;
}

/**
 * nc_carry_classes_cleanup() - the source's clean-up after a completed migration: the items sent
 * last leave this host (they belong to a guest that runs elsewhere now); value classes (counters,
 * quotas) are the operator's objects and stay as they are
 *
 * Return: (transfer full) (element-type NcPeerClassSum): per class, the items removed
 */
GArray *nc_carry_classes_cleanup(NcCarryClasses *cc)
{
    GArray *sums = nc_peer_class_sums_new();

    for (guint i = 0; i < cc->n; i++) {
        ClassState *cs = &cc->cls[i];
        g_autoptr(GError) err = NULL;
        guint k = 0;

        g_autoptr(NcItemSet) gone = NULL;

        if (!cs->present || !cs->driver->source_cleanup || !nc_item_set_count(cs->set))
            continue;
        gone = cs->driver->source_cleanup(cs->set);
        if (!nc_item_set_count(gone))
            continue;
        if (!cs->handle || !cs->driver->remove(cs->handle, gone, &k, &err)) {
            g_warning("removing the domain's %u items of class %s here failed: %s",
                      nc_item_set_count(gone), class_name(cs), err ? err->message : "no handle");
            continue;
        }
        cs->removed = k;
        nc_peer_class_sums_add(sums, class_name(cs), k, NULL);
    }
    return sums;
}

/* ---- destination ---- */

/* When this host's profile names the sets to carry, an element must be in one of them: the
 * source cannot put the domain's address into another set here (a privileged allow-list). */
static gboolean in_named_set(NcCarryClasses *cc, const ClassState *cs, gconstpointer item,
                             char **why)
{
    const NcNftSetElem *el = item;

    if (cs->driver->ops != &nc_nft_set_class || !names_sets(cc->owner))
        return TRUE;
    for (guint i = 0; i < cc->owner->objects->len; i++) {
        const NcObjectRef *r = g_ptr_array_index(cc->owner->objects, i);

        if (is_set_ref(r) && !g_strcmp0(r->family, nc_nft_family_name(el->family)) &&
            !g_strcmp0(r->table, el->table) && !g_strcmp0(r->name, el->set))
            return TRUE;
    }
    *why = g_strdup("its set is not one the domain's profile names here");
    return FALSE;
}

/**
 * nc_carry_classes_receive() - take one ITEMS message from the source
 * @error: NC_ERROR_INVALID_DATA (a class this host does not know, an item that does not decode),
 *         NC_ERROR_PERMISSION (an item that is not the domain's, by this host's view)
 */
gboolean nc_carry_classes_receive(NcCarryClasses *cc, const NcPeerItems *items, GError **error)
{
    ClassState *cs = class_lookup(cc, items->klass);

    if (!cs) {
        g_set_error(error, NC_ERROR, NC_ERROR_INVALID_DATA,
                    "the source sent items of class %s, which this host does not know",
                    items->klass);
        return FALSE;
    }
    if (items->replace) {
        nc_item_set_free(cs->set);
        cs->set = nc_item_set_new(cs->driver->ops);
        g_ptr_array_set_size(cs->not_carried, 0);
        cs->captures++;
    } else if (!cs->captures) {
        g_set_error(error, NC_ERROR, NC_ERROR_INVALID_DATA,
                    "the source continued a set of class %s it never began", items->klass);
        return FALSE;
    }
    cs->present = TRUE;
    for (guint i = 0; i < items->items->len; i++) {
        gsize len = 0;
        const guint8 *p = g_bytes_get_data(g_ptr_array_index(items->items, i), &len);
        g_autofree char *why = NULL;
        gpointer item = cs->driver->ops->decode(p, len, error);

        if (!item) {
            g_prefix_error(error, "class %s, item %u: ", items->klass, i);
            return FALSE;
        }
        if (cs->driver->ops == &nc_ip_binding_class &&
            !cs->driver->ops->owns(cc->owner, item, &why)) {
            g_autofree char *what = cs->driver->ops->describe(item);

            /* the source's claim alone: refused and reported, the migration goes on (the guest
             * then waits for nwfilter to learn its address here, as without netcarry) */
            g_warning("refused from the source: %s: %s", what, why);
            nc_not_carried_add(cs->not_carried, items->klass, what, "refused here: %s", why);
            cs->driver->ops->free(item);
            continue;
        }
        if (!cs->driver->ops->owns(cc->owner, item, &why) || !in_named_set(cc, cs, item, &why)) {
            g_autofree char *what = cs->driver->ops->describe(item);

            cs->driver->ops->free(item);
            g_set_error(error, NC_ERROR, NC_ERROR_PERMISSION,
                        "the source sent %s, which is not the domain's (%s, by its XML on this "
                        "host)",
                        what, why ? why : "refused");
            return FALSE;
        }
        if (cs->driver->ops == &nc_ip_binding_class) {
            const NcIpBinding *b = item;

            /* the learned address is the domain's from now on: the entries of it that follow
             * (conntrack, set elements) are owned */
            if (!nc_owner_has_addr(cc->owner, &b->addr))
                g_array_append_val(cc->owner->addresses, b->addr);
        }
        if (!nc_item_set_upsert(cs->set, item, NULL, error))
            return FALSE;
    }
    for (guint i = 0; i < items->not_carried->len; i++) {
        const NcNotCarried *nc = g_ptr_array_index(items->not_carried, i);

        nc_not_carried_add(cs->not_carried, items->klass, nc->what, "%s", nc->reason);
    }
    if (cs->captures == 1)
        cs->precopied = nc_item_set_count(cs->set);
    else
        cs->at_stop = nc_item_set_count(cs->set);
    return TRUE;
}

/* Whether this host's view of the domain gives a checked class anything to check (else the
 * report leaves the class out, as a carried class without items). */
static gboolean owner_needs(const NcCarryClasses *cc, const ClassState *cs)
{
    const NcOwner *o = cc->owner;

    if (cs->driver->ops == &nc_nft_chain_class)
        return o->chains && o->chains->len;
    for (guint i = 0; o->ports && i < o->ports->len; i++) {
        const NcOwnerPort *p = o->ports->pdata[i];

        if (cs->driver->ops == &nc_nwfilter_class
                ? p->filter != NULL
                : (p->bridge || p->network || p->vlan || p->bandwidth))
            return TRUE;
    }
    return FALSE;
}

/**
 * nc_carry_classes_probe() - can this host take what the source holds (its first capture)?
 * @skip_on_failure: TRUE (admission = proceed): a class that cannot be taken is left out and
 *                   reported; FALSE: the first such class is the error
 * @error:           the class and what is missing (the driver names the set, its type, its room)
 */
gboolean nc_carry_classes_probe(NcCarryClasses *cc, gboolean skip_on_failure, GError **error)
{
    for (guint i = 0; i < cc->n; i++) {
        ClassState *cs = &cc->cls[i];
        g_autoptr(GError) err = NULL;
        gpointer h;

        /* a checked class is probed even when nothing arrived: the destination checks what its
         * own XML references (a chain missing here), with the source's definitions if it sent
         * them */
        if (!cs->driver->checked && (!cs->present || !nc_item_set_count(cs->set)))
            continue;
        cs->probed = cs->driver->checked && (cs->present || owner_needs(cc, cs));
        h = class_handle(cc, cs, &err);
        if (h && cs->driver->probe(h, cc->owner, cs->set, &err))
            continue;
        /* this host lacks the capability (not a difference in what it holds): the report's
         * "not available", with why */
        if (g_error_matches(err, NC_ERROR, NC_ERROR_UNSUPPORTED) ||
            (cs->driver->checked && (g_error_matches(err, NC_ERROR, NC_ERROR_IO) ||
                                     g_error_matches(err, NC_ERROR, NC_ERROR_TIMEOUT)))) {
            g_free(cs->unavailable);
            cs->unavailable = g_strdup(err->message);
        }
        /* a checked class that could not be checked here (no libvirt connection in this
         * process, libvirtd not answering in time) is reported, never a veto: netcarry refuses
         * for what it finds different or missing, or what this host cannot apply */
        if (cs->driver->checked && !g_error_matches(err, NC_ERROR, NC_ERROR_UNSUPPORTED) &&
            cs->unavailable) {
            g_warning("class %s could not be checked on this host: %s", class_name(cs),
                      err->message);
            continue;
        }
        g_prefix_error(&err, "class %s: ", class_name(cs));
        if (!skip_on_failure) {
            g_propagate_error(error, g_steal_pointer(&err));
            return FALSE;
        }
        g_warning("%s (admission = proceed: the class is %s)", err->message,
                  cs->driver->checked ? "recorded as differing" : "not carried");
        cs->skipped = TRUE;
        g_free(cs->failure);
        cs->failure = g_strdup(err->message);
    }
    return TRUE;
}

/* Whether what arrived is what the source sealed, class by class. */
gboolean nc_carry_classes_check_seal(NcCarryClasses *cc, GArray *sums, GError **error)
{
    for (guint i = 0; sums && i < sums->len; i++) {
        const NcPeerClassSum *s = &g_array_index(sums, NcPeerClassSum, i);
        ClassState *cs = class_lookup(cc, s->klass);
        NcDigest d;

        if (!cs) {
            g_set_error(error, NC_ERROR, NC_ERROR_INVALID_DATA,
                        "the source sealed class %s, which this host does not know", s->klass);
            return FALSE;
        }
        memcpy(d.sum, s->digest, sizeof(d.sum));
        if (!nc_item_set_check_seal(cs->set, s->count, &d, error))
            return FALSE;
    }
    for (guint i = 0; i < cc->n; i++)
        if (cc->cls[i].present && !nc_peer_class_sums_find(sums, class_name(&cc->cls[i]))) {
            g_set_error(error, NC_ERROR, NC_ERROR_INVALID_DATA,
                        "the source sent items of class %s and did not seal them",
                        class_name(&cc->cls[i]));
            return FALSE;
        }
    return TRUE;
}

/**
 * nc_carry_classes_install() - install every class that arrived, all or nothing across classes
 * @error: the class and why; nothing of any class is installed then (each class records it)
 */
/* One attempt over the classes not skipped; FALSE with @error if it installed nothing. */
static gboolean install_once(NcCarryClasses *cc, GError **error)
{
    g_autofree NcClassCarry *carry = g_new0(NcClassCarry, cc->n);
    g_autofree guint *index = g_new0(guint, cc->n);
    guint n = 0;

    for (guint i = 0; i < cc->n; i++) {
        ClassState *cs = &cc->cls[i];

        if (!cs->present || cs->skipped || cs->driver->checked || !nc_item_set_count(cs->set))
            continue;
        carry[n].driver = cs->driver;
        carry[n].handle = class_handle(cc, cs, error);
        if (!carry[n].handle)
            return FALSE;
        carry[n].items = cs->set;
        index[n++] = i;
    }
    if (!nc_state_drivers_install_all(carry, n, cc->owner, error))
        return FALSE;
    for (guint k = 0; k < n; k++) {
        ClassState *cs = &cc->cls[index[k]];

        nc_item_set_free(cs->installed);
        cs->installed = carry[k].installed;
        cs->installed_n = nc_item_set_count(cs->set);
    }
    return TRUE;
}

static void class_failed(ClassState *cs, const char *why)
{
    cs->skipped = TRUE;
    cs->failed_n = nc_item_set_count(cs->set);
    g_free(cs->failure);
    cs->failure = g_strdup_printf("not installed: %s", why);
}

/**
 * nc_carry_classes_install() - install every class that arrived, after the source's stop
 * @error: the first class that could not be installed, and why
 *
 * All classes or none, as one install (nc_state_drivers_install_all()); if that fails, each class
 * is probed alone and the ones that fail are left out (and reported), and the rest go in: after
 * the stop nothing can be refused any more, and a set missing here must not cost the guest its
 * quota. (`netcarry install` keeps all or nothing.)
 *
 * Return: TRUE if every class is installed
 */
gboolean nc_carry_classes_install(NcCarryClasses *cc, GError **error)
{
    g_autoptr(GError) err = NULL;

    if (install_once(cc, &err))
        return TRUE;
    for (guint i = 0; i < cc->n; i++) {
        ClassState *cs = &cc->cls[i];
        g_autoptr(GError) perr = NULL;
        gpointer h;

        if (!cs->present || cs->skipped || cs->driver->checked || !nc_item_set_count(cs->set))
            continue;
        h = class_handle(cc, cs, &perr);
        if (!h || !cs->driver->probe(h, cc->owner, cs->set, &perr))
            class_failed(cs, perr->message);
    }
    {
        g_autoptr(GError) again = NULL;

        if (!install_once(cc, &again))
            for (guint i = 0; i < cc->n; i++) {
                ClassState *cs = &cc->cls[i];

                if (cs->present && !cs->skipped && !cs->driver->checked &&
                    nc_item_set_count(cs->set))
                    class_failed(cs, again->message);
            }
    }
    g_propagate_error(error, g_steal_pointer(&err));
    return FALSE;
}

/* Per class, what was installed: for the ACK. (transfer full) (element-type NcPeerClassSum) */
GArray *nc_carry_classes_installed_sums(NcCarryClasses *cc)
{
    GArray *sums = nc_peer_class_sums_new();

    for (guint i = 0; i < cc->n; i++)
        if (cc->cls[i].present)
            nc_peer_class_sums_add(sums, class_name(&cc->cls[i]), cc->cls[i].installed_n, NULL);
    return sums;
}

/* Take back what the install put in (values: the objects' values from before). */
void nc_carry_classes_rollback(NcCarryClasses *cc)
{
    for (guint i = 0; i < cc->n; i++) {
        ClassState *cs = &cc->cls[i];
        g_autoptr(GError) err = NULL;
        guint k = 0;

        if (!cs->installed)
            continue;
        if (!cs->driver->remove(cs->handle, cs->installed, &k, &err))
            g_warning("roll-back of class %s failed: %s", class_name(cs), err->message);
        else
            g_info("roll-back: class %s: %s %u of %u", class_name(cs),
                   cs->driver->values ? "restored" : "removed", k,
                   nc_item_set_count(cs->installed));
        g_clear_pointer(&cs->installed, nc_item_set_free);
        cs->installed_n = 0;
    }
}

/* The source's FINISHED: what its clean-up removed, per class. */
void nc_carry_classes_source_removed(NcCarryClasses *cc, GArray *sums)
{
    for (guint i = 0; sums && i < sums->len; i++) {
        const NcPeerClassSum *s = &g_array_index(sums, NcPeerClassSum, i);
        ClassState *cs = class_lookup(cc, s->klass);

        if (cs)
            cs->removed = (guint)MIN(s->count, G_MAXUINT32);
    }
}

/**
 * nc_carry_classes_learned() - the learned IP bindings received from the source and accepted
 * here (the destination pins them in the domain XML)
 *
 * Return: (transfer full) (element-type NcIpBinding): possibly empty
 */
GPtrArray *nc_carry_classes_learned(NcCarryClasses *cc)
{
    ClassState *cs = class_lookup(cc, nc_ip_binding_class.name);
    g_autoptr(GPtrArray) items = cs ? nc_item_set_items(cs->set) : NULL;
    GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)nc_ip_binding_free);

    for (guint i = 0; items && i < items->len; i++)
        g_ptr_array_add(out, nc_ip_binding_copy(items->pdata[i]));
    return out;
}

/* ---- both ---- */

/* The classes into the report: counts, failures, what cannot be carried and why. */
void nc_carry_classes_report(NcCarryClasses *cc, NcReport *report)
{
    for (guint i = 0; i < cc->n; i++) {
        const ClassState *cs = &cc->cls[i];
        int k = nc_report_class_from_string(class_name(cs));
        NcReportCarried *rc;

        if (k < 0 || (!cs->present && !cs->not_carried->len && !cs->probed))
            continue;
        rc = &report->carried[k];
        rc->present = TRUE;
        if (cs->unavailable)
            rc->status = NC_REPORT_NOT_AVAILABLE;
        else if (cs->driver->checked)
            rc->status = NC_REPORT_CHECKED;
        g_free(rc->why);
        rc->why = g_strdup(cs->unavailable);
        rc->precopied = cs->precopied;
        rc->changed_at_stop = cs->at_stop;
        rc->installed = cs->installed_n;
        rc->failed = cs->failed_n;
        rc->removed_at_source = cs->removed;
        if (cs->failure && cs->driver->checked && !cs->unavailable) {
            /* a difference the destination accepted (admission = proceed): the risk */
            rc->failed = 1;
            nc_report_add_failure(report, k, "static policy", cs->failure);
        } else if (cs->failure && !cs->unavailable) {
            g_autofree char *what =
                g_strdup_printf("%u items of class %s", nc_item_set_count(cs->set), class_name(cs));

            nc_report_add_failure(report, k, what, cs->failure);
        }
        for (guint j = 0; j < cs->not_carried->len; j++) {
            const NcNotCarried *nc = g_ptr_array_index(cs->not_carried, j);

            nc_report_add_not_carried(report, k, nc->what, nc->reason);
        }
    }
}

/* For log lines: "nft-set 3, nft-object 2 (1 not carried)"; "" when no class has anything.
 * (transfer full) */
char *nc_carry_classes_summary(NcCarryClasses *cc)
{
    GString *s = g_string_new(NULL);

    for (guint i = 0; i < cc->n; i++) {
        const ClassState *cs = &cc->cls[i];

        if (!cs->present)
            continue;
        g_string_append_printf(s, "%s%s %u", s->len ? ", " : "", class_name(cs),
                               nc_item_set_count(cs->set));
        if (cs->capture_us)
            g_string_append_printf(s, " (read in %.1f ms)", cs->capture_us / 1000.0);
        if (cs->not_carried->len)
            g_string_append_printf(s, " (%u not carried)", cs->not_carried->len);
    }
    return g_string_free(s, FALSE);
}
