/* nc-nft-obj.c - the named counters and quotas driver, and the list of what cannot be carried
 *
 * Speaks nf_tables netlink through nc-nft-nl.c.
 */
#define _GNU_SOURCE
#define G_LOG_DOMAIN "nc-nft-obj"
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>

#include "drivers/nc-nft-obj.h"
#include "drivers/nc-nft-set.h"
#include "util/nc-error.h"

/*
 * Theory of operation
 * ===================
 * Which objects: those the domain's profile names (`<netcarry:object family= table= type=
 * name=/>`) or the command line's `--object FAMILY/TABLE/NAME`. Their values change until the
 * guest stops, so the class is taken at the seal (NC_DRIVER_AT_SEAL): read after the source's
 * STOP, applied on the destination before its gate opens.
 *
 * Capture: one GETOBJ per object: a counter's packets and bytes, a quota's limit, flags and used
 * bytes. A named `limit` or `ct count` (connlimit) object is listed as not carried: the kernel
 * takes no token-bucket level or connection list from userspace.
 *
 * Apply: what the kernel accepts (docs/kernel-facts.md, re-checked on 6.18): a NEWOBJ for an
 * object that exists changes nothing of a counter and only the limit of a quota, never its used
 * bytes; the value can be given only when the object is created. An object referenced by a rule
 * cannot be deleted (EBUSY), not even in the batch that deletes the rule. An object referenced
 * only through object maps (`counter name ip saddr map @vmc`) can be swapped in one transaction:
 * delete the map elements that name it, delete it, add it with the source's value, add the
 * elements back (with their remaining timeout); packets see the old object or the new one. So:
 *   - the destination's object must exist, of the same type (the probe says which is missing);
 *   - its references (NFTA_OBJ_USE) must all be object-map elements; a direct reference from a
 *     rule makes it impossible to set, and the probe says so, naming the object and the remedy;
 *   - a counter takes the source's packets and bytes; a quota keeps the destination's own limit
 *     and `over`/`until` flag (the operator's configuration there) and takes the source's used
 *     bytes, so the quota is not reset by migrating.
 * Install returns the destination's values from before, and nc_nft_obj_restore() (the class's
 * remove) swaps those back: the roll-back of a failed migration. The source keeps its objects
 * (its clean-up removes nothing of this class): an operator's counter is not netcarry's to drop.
 *
 * What cannot be carried (nc_nft_not_carried(), for the report): the set elements' expressions
 * other than counters (the set driver lists them), named limit/connlimit objects of the profile,
 * and rules with a `limit`, `ct count` or anonymous `quota` that compare with one of the domain's
 * addresses or its MAC (found by a rule dump and each rule's cmp data).
 */

/* ---- reading ---- */

typedef struct {
    NcNftObj *obj;
    guint32 use;
} NcNftObjGetCtx;

static int nc_nft_obj_cb(const struct nlmsghdr *nlh, void *data)
{
    NcNftObjGetCtx *c = data;
    const struct nlattr *tb[NFTA_OBJ_MAX + 1];
    NcNftObj *o = c->obj;

    if (!nc_nft_msg_attrs(nlh, tb, NFTA_OBJ_MAX) || !tb[NFTA_OBJ_TYPE])
        return MNL_CB_ERROR;
    o->type = nc_nft_attr_be32(tb[NFTA_OBJ_TYPE]);
    c->use = nc_nft_attr_be32(tb[NFTA_OBJ_USE]);
    if (o->type == NFT_OBJECT_COUNTER) {
        const struct nlattr *d[NFTA_COUNTER_MAX + 1];

        if (!nc_nft_attr_nested(tb[NFTA_OBJ_DATA], d, NFTA_COUNTER_MAX))
            return MNL_CB_ERROR;
        o->packets = nc_nft_attr_be64(d[NFTA_COUNTER_PACKETS]);
        o->bytes = nc_nft_attr_be64(d[NFTA_COUNTER_BYTES]);
    } else if (o->type == NFT_OBJECT_QUOTA) {
        const struct nlattr *d[NFTA_QUOTA_MAX + 1];

        if (!nc_nft_attr_nested(tb[NFTA_OBJ_DATA], d, NFTA_QUOTA_MAX))
            return MNL_CB_ERROR;
        o->bytes = nc_nft_attr_be64(d[NFTA_QUOTA_BYTES]);
        o->consumed = nc_nft_attr_be64(d[NFTA_QUOTA_CONSUMED]);
        o->flags = nc_nft_attr_be32(d[NFTA_QUOTA_FLAGS]) & NFT_QUOTA_F_INV;
    }
    return MNL_CB_OK;
}

/* Reads object @ref of @type on @nl; @use gets its reference count. */
static NcNftObj *nc_nft_obj_get(NcNftNl *nl, guint8 family, const char *table, const char *name,
                                guint32 type, guint32 *use, GError **error)
{
    char buf[MNL_SOCKET_BUFFER_SIZE];
    struct nlmsghdr *nlh = nc_nft_nl_request(buf, NFT_MSG_GETOBJ, family, 0, 0);
    g_autoptr(NcNftObj) o = g_new0(NcNftObj, 1);
    NcNftObjGetCtx c = {o, 0};
    g_autofree char *what = g_strdup_printf("%s %s/%s/%s", nc_nft_obj_type_name(type),
                                            nc_nft_family_name(family), table, name);

    o->family = family;
    o->table = g_strdup(table);
    o->name = g_strdup(name);
    mnl_attr_put_strz(nlh, NFTA_OBJ_TABLE, table);
    mnl_attr_put_strz(nlh, NFTA_OBJ_NAME, name);
    mnl_attr_put_u32(nlh, NFTA_OBJ_TYPE, htonl(type));
    if (!nc_nft_nl_query(nl, nlh, nc_nft_obj_cb, &c, what, NULL, error))
        return NULL;
    if (use)
        *use = c.use;
    return g_steal_pointer(&o);
}

/* The profile's objects of @owner that this class handles (type counter, quota, or unset). */
static gboolean nc_nft_obj_ref_of(const NcObjectRef *r, guint8 *family, guint32 *type,
                                  gboolean *known_type, GError **error)
{
    if (r->type && (g_str_equal(r->type, "set") || g_str_equal(r->type, "map")))
        return FALSE;
    if (!nc_nft_family_parse(r->family, family)) {
        g_set_error(error, NC_ERROR, NC_ERROR_INVALID_ARG,
                    "'%s' in %s/%s/%s is not an nftables family (ip, ip6, inet, arp, bridge, "
                    "netdev)",
                    r->family, r->family, r->table, r->name);
        return FALSE;
    }
    *known_type = r->type != NULL;
    if (r->type && !nc_nft_obj_type_parse(r->type, type)) {
        g_set_error(error, NC_ERROR, NC_ERROR_INVALID_ARG,
                    "object %s/%s/%s: type '%s' is not one of counter, quota, limit, connlimit",
                    r->family, r->table, r->name, r->type);
        return FALSE;
    }
    return TRUE;
}

/* Reads @r's object: of its type, or (untyped) a counter, else a quota. */
static NcNftObj *nc_nft_obj_read_ref(NcNftNl *nl, const NcObjectRef *r, guint8 family, guint32 type,
                                     gboolean known_type, guint32 *use, GError **error)
{
    static const guint32 tries[] = {NFT_OBJECT_COUNTER, NFT_OBJECT_QUOTA, NFT_OBJECT_LIMIT,
                                    NFT_OBJECT_CONNLIMIT};

    if (known_type)
        return nc_nft_obj_get(nl, family, r->table, r->name, type, use, error);
    for (gsize i = 0; i < G_N_ELEMENTS(tries); i++) {
        g_autoptr(GError) local = NULL;
        NcNftObj *o = nc_nft_obj_get(nl, family, r->table, r->name, tries[i], use, &local);

        if (o)
            return o;
        if (!g_error_matches(local, NC_ERROR, NC_ERROR_NOT_FOUND)) {
            g_propagate_error(error, g_steal_pointer(&local));
            return NULL;
        }
    }
    g_set_error(error, NC_ERROR, NC_ERROR_NOT_FOUND,
                "no counter, quota, limit or ct count object %s/%s/%s in network namespace %s",
                r->family, r->table, r->name, nc_nft_nl_netns(nl));
    return NULL;
}

/**
 * nc_nft_obj_capture() - the current values of the domain's named counters and quotas
 * @nl:          an nf_tables socket in the source's namespace
 * @owner:       the domain: @owner->objects names them (sets and maps are the set driver's)
 * @out:         an NcItemSet of nc_nft_obj_class
 * @not_carried: (nullable): named limit and ct count objects, with the reason
 * @error:       NC_ERROR_NOT_FOUND naming an object that is not there, ...
 *
 * Return: TRUE on success
 */
gboolean nc_nft_obj_capture(NcNftNl *nl, const NcOwner *owner, NcItemSet *out,
                            GPtrArray *not_carried, GError **error)
{
    for (guint i = 0; owner->objects && i < owner->objects->len; i++) {
        const NcObjectRef *r = g_ptr_array_index(owner->objects, i);
        guint8 family;
        guint32 type = 0;
        gboolean known_type;
        g_autoptr(GError) local = NULL;
        NcNftObj *o;

        if (!nc_nft_obj_ref_of(r, &family, &type, &known_type, &local)) {
            if (!local)
                continue; /* a set: not this class */
            g_propagate_error(error, g_steal_pointer(&local));
            return FALSE;
        }
        o = nc_nft_obj_read_ref(nl, r, family, type, known_type, NULL, error);
        if (!o)
            return FALSE;
        if (o->type != NFT_OBJECT_COUNTER && o->type != NFT_OBJECT_QUOTA) {
            g_autofree char *what = g_strdup_printf("%s %s/%s/%s", nc_nft_obj_type_name(o->type),
                                                    r->family, r->table, r->name);

            nc_not_carried_add(not_carried, nc_nft_obj_class.name, what, "%s",
                               o->type == NFT_OBJECT_LIMIT
                                   ? "a limit's token-bucket level cannot be written from "
                                     "userspace; the destination's starts full"
                                   : "a ct count object's connection list cannot be written "
                                     "from userspace; the destination counts its own conntrack "
                                     "entries (carried by the conntrack class)");
            nc_nft_obj_free(o);
            continue;
        }
        if (!nc_item_set_upsert(out, o, NULL, error))
            return FALSE;
    }
    return TRUE;
}

/* ---- applying ---- */

/* The destination's object for @src, with how many of its references are object-map elements
 * (@refs gets those elements): fails naming the object if it is missing, of another type, or
 * referenced by a rule directly. */
static NcNftObj *nc_nft_obj_target(NcNftNl *nl, const NcNftObj *src, GPtrArray *refs,
                                   GError **error)
{
    g_autoptr(GError) local = NULL;
    guint32 use = 0;
    g_autoptr(NcNftObj) d =
        nc_nft_obj_get(nl, src->family, src->table, src->name, src->type, &use, &local);

    if (!d) {
        if (g_error_matches(local, NC_ERROR, NC_ERROR_NOT_FOUND))
            g_set_error(error, NC_ERROR, NC_ERROR_NOT_FOUND,
                        "%s %s/%s/%s is missing in network namespace %s: declare it alike on "
                        "both hosts",
                        nc_nft_obj_type_name(src->type), nc_nft_family_name(src->family),
                        src->table, src->name, nc_nft_nl_netns(nl));
        else
            g_propagate_error(error, g_steal_pointer(&local));
        return NULL;
    }
    if (!nc_nft_set_find_objrefs(nl, src->family, src->table, src->type, src->name, refs, error))
        return NULL;
    if (use > refs->len) {
        g_set_error(error, NC_ERROR, NC_ERROR_UNSUPPORTED,
                    "%s %s/%s/%s in network namespace %s is referenced by %u rule(s) directly, "
                    "and the kernel neither sets an existing object's value nor deletes a "
                    "referenced one: reference it through an object map (`%s name ip saddr map "
                    "@m`, element `ADDR : \"%s\"`) so that it can be swapped",
                    nc_nft_obj_type_name(src->type), nc_nft_family_name(src->family), src->table,
                    src->name, nc_nft_nl_netns(nl), use - refs->len,
                    nc_nft_obj_type_name(src->type), src->name);
        return NULL;
    }
    return g_steal_pointer(&d);
}

static void nc_nft_obj_put_new(NcNftBatch *batch, const NcNftObj *o)
{
    g_autofree char *desc = nc_nft_obj_describe(o);
    g_autofree char *what = g_strdup_printf("creating %s", desc);
    struct nlmsghdr *nlh =
        nc_nft_batch_add(batch, NFT_MSG_NEWOBJ, o->family, NLM_F_CREATE | NLM_F_EXCL, what);
    struct nlattr *d;

    mnl_attr_put_strz(nlh, NFTA_OBJ_TABLE, o->table);
    mnl_attr_put_strz(nlh, NFTA_OBJ_NAME, o->name);
    mnl_attr_put_u32(nlh, NFTA_OBJ_TYPE, htonl(o->type));
    d = mnl_attr_nest_start(nlh, NFTA_OBJ_DATA);
    if (o->type == NFT_OBJECT_COUNTER) {
        mnl_attr_put_u64(nlh, NFTA_COUNTER_BYTES, GUINT64_TO_BE(o->bytes));
        mnl_attr_put_u64(nlh, NFTA_COUNTER_PACKETS, GUINT64_TO_BE(o->packets));
    } else {
        mnl_attr_put_u64(nlh, NFTA_QUOTA_BYTES, GUINT64_TO_BE(o->bytes));
        mnl_attr_put_u32(nlh, NFTA_QUOTA_FLAGS, htonl(o->flags));
        mnl_attr_put_u64(nlh, NFTA_QUOTA_CONSUMED, GUINT64_TO_BE(o->consumed));
    }
    mnl_attr_nest_end(nlh, d);
}

static void nc_nft_obj_put_del(NcNftBatch *batch, const NcNftObj *o)
{
    g_autofree char *desc = nc_nft_obj_describe(o);
    g_autofree char *what = g_strdup_printf("deleting %s", desc);
    struct nlmsghdr *nlh = nc_nft_batch_add(batch, NFT_MSG_DELOBJ, o->family, 0, what);

    mnl_attr_put_strz(nlh, NFTA_OBJ_TABLE, o->table);
    mnl_attr_put_strz(nlh, NFTA_OBJ_NAME, o->name);
    mnl_attr_put_u32(nlh, NFTA_OBJ_TYPE, htonl(o->type));
}

/* Sets every object of @items to its value, in one transaction; @previous (nullable) gets the
 * values replaced. @keep_limit: a quota keeps the destination's limit and flags. */
static gboolean nc_nft_obj_apply(NcNftNl *nl, const NcItemSet *items, gboolean keep_limit,
                                 NcItemSet **previous, GError **error)
{
    g_autoptr(GPtrArray) list = nc_item_set_items(items);
    g_autoptr(NcNftBatch) batch = nc_nft_batch_new(nl);
    g_autoptr(NcItemSet) before = nc_item_set_new(&nc_nft_obj_class);
    g_autoptr(GPtrArray) all_refs =
        g_ptr_array_new_with_free_func((GDestroyNotify)nc_nft_set_elem_free);
    g_autoptr(GPtrArray) values = g_ptr_array_new_with_free_func((GDestroyNotify)nc_nft_obj_free);

    for (guint i = 0; i < list->len; i++) {
        const NcNftObj *src = list->pdata[i];
        NcNftObj *d, *v;

        d = nc_nft_obj_target(nl, src, all_refs, error);
        if (!d)
            return FALSE;
        v = g_memdup2(src, sizeof(*src));
        v->table = g_strdup(src->table);
        v->name = g_strdup(src->name);
        if (keep_limit && src->type == NFT_OBJECT_QUOTA) {
            v->bytes = d->bytes;
            v->flags = d->flags;
        }
        g_ptr_array_add(values, v);
        nc_item_set_upsert(before, d, NULL, NULL);
    }
    /* map elements out, objects swapped, map elements back: one transaction */
    nc_nft_set_batch_elems(batch, FALSE, all_refs);
    for (guint i = 0; i < values->len; i++)
        nc_nft_obj_put_del(batch, values->pdata[i]);
    for (guint i = 0; i < values->len; i++)
        nc_nft_obj_put_new(batch, values->pdata[i]);
    nc_nft_set_batch_elems(batch, TRUE, all_refs);
    if (!nc_nft_batch_commit(batch, NULL, error))
        return FALSE;
    if (previous)
        *previous = g_steal_pointer(&before);
    return TRUE;
}

/**
 * nc_nft_obj_probe() - can this host set the source's objects
 * @nl:       an nf_tables socket in the destination's namespace
 * @owner:    the domain (unused)
 * @expected: (nullable): the source's objects; NULL checks only that nf_tables answers
 * @error:    NC_ERROR_NOT_FOUND (an object is missing), NC_ERROR_UNSUPPORTED (referenced by a
 *            rule directly), naming the object
 *
 * Return: TRUE if each exists and can be swapped
 */
gboolean nc_nft_obj_probe(NcNftNl *nl, const NcOwner *owner, const NcItemSet *expected,
                          GError **error)
{
    g_autoptr(GPtrArray) list = NULL;

    if (!expected) {
        char buf[MNL_SOCKET_BUFFER_SIZE];
        struct nlmsghdr *nlh = nc_nft_nl_request(buf, NFT_MSG_GETGEN, NFPROTO_UNSPEC, 0, 0);

        return nc_nft_nl_query(nl, nlh, NULL, NULL, "the ruleset generation", NULL, error);
    }
    list = nc_item_set_items(expected);
    for (guint i = 0; i < list->len; i++) {
        g_autoptr(GPtrArray) refs =
            g_ptr_array_new_with_free_func((GDestroyNotify)nc_nft_set_elem_free);
        g_autoptr(NcNftObj) d = nc_nft_obj_target(nl, list->pdata[i], refs, error);

        if (!d)
            return FALSE;
    }
    return TRUE;
}

/**
 * nc_nft_obj_install() - make the destination's objects continue from the source's values
 * @nl:       an nf_tables socket in the destination's namespace
 * @owner:    the domain (objects are named by its profile; nothing to check per item)
 * @items:    the source's values (nc_nft_obj_class)
 * @previous: (out) (optional) (transfer full): the destination's values before, for
 *            nc_nft_obj_restore()
 * @error:    the probe's errors, or the kernel's refusal; nothing is changed then
 *
 * Return: TRUE if every object now holds the source's value
 */
gboolean nc_nft_obj_install(NcNftNl *nl, const NcOwner *owner, const NcItemSet *items,
                            NcItemSet **previous, GError **error)
{
    if (previous)
        *previous = NULL;
    return nc_nft_obj_apply(nl, items, TRUE, previous, error);
}

/**
 * nc_nft_obj_restore() - put back the values nc_nft_obj_install() replaced (the roll-back)
 * @nl:         an nf_tables socket in the namespace
 * @previous:   what install returned
 * @n_restored: (out) (optional): how many objects
 * @error:      the kernel's refusal
 *
 * Return: TRUE on success
 */
gboolean nc_nft_obj_restore(NcNftNl *nl, const NcItemSet *previous, guint *n_restored,
                            GError **error)
{
    if (n_restored)
        *n_restored = nc_item_set_count(previous);
    return nc_nft_obj_apply(nl, previous, FALSE, NULL, error);
}

/* ---- what cannot be carried ---- */

typedef struct {
    const NcOwner *owner;
    GPtrArray *not_carried;
} NcNftRuleCtx;

/* Collects a rule's expression names and the values its cmp expressions compare with. */
static void nc_nft_rule_exprs(const struct nlattr *list, GPtrArray *names, GPtrArray *values)
{
    const struct nlattr *x;

    mnl_attr_for_each_nested(x, list)
    {
        const struct nlattr *tb[NFTA_EXPR_MAX + 1], *cmp[NFTA_CMP_MAX + 1], *dv[NFTA_DATA_MAX + 1];
        const char *name;

        if (!nc_nft_attr_nested(x, tb, NFTA_EXPR_MAX) || !tb[NFTA_EXPR_NAME])
            continue;
        name = mnl_attr_get_str(tb[NFTA_EXPR_NAME]);
        g_ptr_array_add(names, (gpointer)name);
        if (g_str_equal(name, "cmp") && nc_nft_attr_nested(tb[NFTA_EXPR_DATA], cmp, NFTA_CMP_MAX) &&
            nc_nft_attr_nested(cmp[NFTA_CMP_DATA], dv, NFTA_DATA_MAX) && dv[NFTA_DATA_VALUE])
            g_ptr_array_add(values, (gpointer)dv[NFTA_DATA_VALUE]);
    }
}

static gboolean nc_nft_value_is_owner(const NcOwner *owner, const struct nlattr *v)
{
    guint16 len = mnl_attr_get_payload_len(v);
    const guint8 *p = mnl_attr_get_payload(v);
    NcAddr a = {0};

    if (len == 6)
        return nc_owner_has_mac(owner, p);
    if (len != 4 && len != 16)
        return FALSE;
    a.family = len == 4 ? AF_INET : AF_INET6;
    memcpy(a.bytes, p, len);
    return nc_owner_has_addr(owner, &a);
}

static int nc_nft_rule_cb(const struct nlmsghdr *nlh, void *data)
{
    NcNftRuleCtx *c = data;
    const struct nlattr *tb[NFTA_RULE_MAX + 1];
    g_autoptr(GPtrArray) names = g_ptr_array_new();
    g_autoptr(GPtrArray) values = g_ptr_array_new();
    gboolean owned = FALSE;

    if (!nc_nft_msg_attrs(nlh, tb, NFTA_RULE_MAX) || !tb[NFTA_RULE_EXPRESSIONS])
        return MNL_CB_OK;
    nc_nft_rule_exprs(tb[NFTA_RULE_EXPRESSIONS], names, values);
    for (guint i = 0; i < values->len && !owned; i++)
        owned = nc_nft_value_is_owner(c->owner, values->pdata[i]);
    if (!owned)
        return MNL_CB_OK;
    for (guint i = 0; i < names->len; i++) {
        const char *n = names->pdata[i];
        const char *reason = NULL;

        if (g_str_equal(n, "limit"))
            reason = "a limit's token-bucket level cannot be written from userspace; the "
                     "destination's starts full";
        else if (g_str_equal(n, "connlimit"))
            reason = "a ct count's connection list cannot be written from userspace; the "
                     "destination counts its own conntrack entries (carried by the conntrack "
                     "class)";
        else if (g_str_equal(n, "quota"))
            reason = "an anonymous quota's used bytes can only be set at creation: make it a "
                     "named quota referenced through an object map and name it in the profile";
        if (reason) {
            g_autofree char *what = g_strdup_printf(
                "%s in rule %" G_GUINT64_FORMAT " of chain %s/%s/%s",
                g_str_equal(n, "connlimit") ? "ct count" : n,
                nc_nft_attr_be64(tb[NFTA_RULE_HANDLE]), nc_nft_family_name(nc_nft_msg_family(nlh)),
                tb[NFTA_RULE_TABLE] ? mnl_attr_get_str(tb[NFTA_RULE_TABLE]) : "?",
                tb[NFTA_RULE_CHAIN] ? mnl_attr_get_str(tb[NFTA_RULE_CHAIN]) : "?");

            nc_not_carried_add(c->not_carried, "nft-rule", what, "%s", reason);
        }
    }
    return MNL_CB_OK;
}

/**
 * nc_nft_not_carried() - what of the domain's nftables state cannot be carried, with why
 * @nl:          an nf_tables socket in the source's namespace
 * @owner:       the domain
 * @not_carried: (element-type NcNotCarried): receives one entry per thing: per-element state
 *               other than counters in the domain's set elements, named limit and ct count
 *               objects of the profile, rules comparing with the domain's address or MAC that
 *               keep a limit, a ct count or an anonymous quota
 * @error:       a capture's error
 *
 * Return: TRUE on success
 */
gboolean nc_nft_not_carried(NcNftNl *nl, const NcOwner *owner, GPtrArray *not_carried,
                            GError **error)
{
    g_autoptr(NcItemSet) elems = nc_item_set_new(&nc_nft_set_class);
    g_autoptr(NcItemSet) objs = nc_item_set_new(&nc_nft_obj_class);
    char buf[MNL_SOCKET_BUFFER_SIZE];
    struct nlmsghdr *nlh;
    NcNftRuleCtx c = {owner, not_carried};

    if (!nc_nft_set_capture(nl, owner, elems, not_carried, error) ||
        !nc_nft_obj_capture(nl, owner, objs, not_carried, error))
        return FALSE;
    nlh = nc_nft_nl_request(buf, NFT_MSG_GETRULE, NFPROTO_UNSPEC, NLM_F_DUMP, 0);
    return nc_nft_nl_query(nl, nlh, nc_nft_rule_cb, &c, "the list of rules", NULL, error);
}

/* ---- the driver ---- */

static gpointer nc_nft_obj_open_cb(const char *netns, GError **error)
{
    return nc_nft_nl_open(netns, error);
}

static void nc_nft_obj_close_cb(gpointer handle)
{
    nc_nft_nl_close(handle);
}

static gboolean nc_nft_obj_probe_cb(gpointer h, const NcOwner *owner, const NcItemSet *expected,
                                    GError **error)
{
    return nc_nft_obj_probe(h, owner, expected, error);
}

static gboolean nc_nft_obj_capture_cb(gpointer h, const NcOwner *owner, NcItemSet *out,
                                      GPtrArray *not_carried, GError **error)
{
    return nc_nft_obj_capture(h, owner, out, not_carried, error);
}

static gboolean nc_nft_obj_install_cb(gpointer h, const NcOwner *owner, const NcItemSet *items,
                                      NcItemSet **installed, GError **error)
{
    if (owner && !nc_item_set_check_owned(items, owner, error))
        return FALSE;
    return nc_nft_obj_install(h, owner, items, installed, error);
}

static gboolean nc_nft_obj_remove_cb(gpointer h, const NcItemSet *items, guint *n_removed,
                                     GError **error)
{
    return nc_nft_obj_restore(h, items, n_removed, error);
}

/* values change until the guest stops: taken at the seal, with no follower */
const NcStateDriver nc_nft_obj_driver = {
    .ops = &nc_nft_obj_class,
    .at = NC_DRIVER_AT_SEAL,
    .values = TRUE,
    .open = nc_nft_obj_open_cb,
    .close = nc_nft_obj_close_cb,
    .probe = nc_nft_obj_probe_cb,
    .capture = nc_nft_obj_capture_cb,
    .install = nc_nft_obj_install_cb,
    .remove = nc_nft_obj_remove_cb,
};
