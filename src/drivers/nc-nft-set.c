/* nc-nft-set.c - the nft set and map element driver: capture a domain's elements with their
 * remaining timeout and counters, install them into the same set on the destination
 *
 * Speaks nf_tables netlink through nc-nft-nl.c.
 */
#define _GNU_SOURCE
#define G_LOG_DOMAIN "nc-nft-set"
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>

#include "drivers/nc-nft-set.h"
#include "util/nc-error.h"

/*
 * Theory of operation
 * ===================
 * Which elements are the domain's. An element belongs to the domain when a field of its key, or
 * for a map a field of its data, holds one of the domain's addresses (an ipv4_addr or ipv6_addr
 * field) or its MAC (an ether_addr field). A key is a concatenation of fields, each padded to 4
 * bytes: their lengths come from the set's NFTA_SET_DESC_CONCAT (one field of the key's length
 * without it), their types from the key type id, 6 bits per field, the first field in the
 * highest bits (nft's TYPE_BITS encoding: ipv4_addr . ether_addr is 7 << 6 | 9). The type ids are
 * nft's datatypes (ipv4_addr 7, ipv6_addr 8, ether_addr 9); a set declared with `typeof ip saddr`
 * has the same ids. Map data is split by the known sizes of its field types; a data
 * concatenation with a field of unknown size is not searched (only its key is). An element that
 * holds an address and a MAC (an anti-spoofing binding, `ip saddr . ether saddr`) is the
 * domain's only if every address and MAC in it is (src/conf/nc-nft-items.c, "Bindings"); one
 * that binds the domain's address or MAC to a foreign one is listed as not carried.
 *
 * Capture: the sets to look at are those the domain's profile names, else every named set of
 * the namespace (one GETSET dump); of those, the ones with an address or MAC field. Anonymous
 * sets are rule constants and interval sets are written by the operator as ranges: neither is
 * dynamic per-VM state, both are skipped. Each candidate's elements come from one GETSETELEM
 * dump. An element keeps: key, data or object name, timeout and remaining time (`expires`), and
 * its counter. Its timeout is the element's own, or the set's default when the kernel omits it
 * (it does when they are equal). Other per-element state (a `limit` token bucket, a `ct count`
 * connection list, a quota) cannot be written from userspace: the element is carried without it
 * (the destination's set gives it a fresh one, as for any new element) and the loss is listed as
 * not carried. Verdict-map elements are policy (a jump to a chain) and not carried, also listed.
 *
 * Install: the destination's set must exist with the same key type and length, the same map
 * data, a timeout flag if the elements expire, and room (its `size` minus its elements, counting
 * only the elements it does not hold yet). Then one nf_tables transaction: NEWSETELEM (CREATE,
 * not EXCL) messages of up to NC_NFT_MSG_MAX bytes per set, each element with its key, data,
 * timeout and EXPIRATION set to the remaining time, which the kernel accepts from userspace
 * (docs/kernel-facts.md), and its counter's values. Any refusal aborts the whole transaction:
 * nothing is installed. An element the destination holds already with the same data (an
 * operator's static element declared on both hosts, an object map's entry) is accepted by the
 * kernel as it is (it takes the new timeout and remaining time, keeps its counter); it is left
 * out of what install() returns, so a roll-back leaves it in place. The same key with other data
 * is a clash the kernel refuses, naming the set.
 * Counters are sent only when every expression of the destination's set is a counter (the
 * kernel wants an element's expressions to match the set's); else the element takes the set's.
 *
 * Remove: one transaction of DESTROYSETELEM (kernel >= 6.3; missing elements are no error), so
 * a roll-back after some elements expired still removes the rest.
 *
 * Why netlink and not libnftables' JSON: measured by bench/bench-nft-set (10k elements): the
 * netlink capture and install run next to libnftables doing the same work as one batch; and nft
 * 1.0.6's JSON prints `timeout` and `expires` in whole seconds (`"expires": 11` for 11.964 s),
 * which would cost up to a second of every element's remaining time. Netlink also needs no
 * thread in the target namespace (the socket is made there) and no JSON parser.
 */

/* NFT_MSG_DESTROYSETELEM, kernel >= 6.3; Debian 12's uapi headers predate it */
#define NC_NFT_MSG_DESTROYSETELEM 30

/* ---- sets ---- */

typedef struct {
    guint8 family;
    char *table;
    char *name;
    guint32 flags;
    guint32 key_type, key_len, data_type, data_len;
    guint8 n_fields;
    guint8 field_len[NC_NFT_SET_FIELDS_MAX];
    guint32 obj_type; /* an object map's NFT_OBJECT_* */
    guint32 size;     /* 0: unbounded */
    guint64 timeout_ms;
    guint n_exprs;
    gboolean exprs_all_counters;
    GPtrArray *expr_names; /* the set's per-element expressions, by name */
} NcNftSetInfo;

static void nc_nft_set_info_free(NcNftSetInfo *s)
{
    if (!s)
        return;
    g_free(s->table);
    g_free(s->name);
    g_ptr_array_unref(s->expr_names);
    g_free(s);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(NcNftSetInfo, nc_nft_set_info_free)

static char *nc_nft_set_info_name(const NcNftSetInfo *s)
{
    return g_strdup_printf("set %s/%s/%s", nc_nft_family_name(s->family), s->table, s->name);
}

static void nc_nft_expr_name(const struct nlattr *expr, GPtrArray *names)
{
    const struct nlattr *tb[NFTA_EXPR_MAX + 1];

    if (nc_nft_attr_nested(expr, tb, NFTA_EXPR_MAX) && tb[NFTA_EXPR_NAME])
        g_ptr_array_add(names, g_strdup(mnl_attr_get_str(tb[NFTA_EXPR_NAME])));
}

static NcNftSetInfo *nc_nft_set_info_parse(const struct nlmsghdr *nlh)
{
    const struct nlattr *tb[NFTA_SET_MAX + 1];
    g_autoptr(NcNftSetInfo) s = g_new0(NcNftSetInfo, 1);

    if (!nc_nft_msg_attrs(nlh, tb, NFTA_SET_MAX) || !tb[NFTA_SET_TABLE] || !tb[NFTA_SET_NAME])
        return NULL;
    s->family = nc_nft_msg_family(nlh);
    s->table = g_strdup(mnl_attr_get_str(tb[NFTA_SET_TABLE]));
    s->name = g_strdup(mnl_attr_get_str(tb[NFTA_SET_NAME]));
    s->flags = nc_nft_attr_be32(tb[NFTA_SET_FLAGS]);
    s->key_type = nc_nft_attr_be32(tb[NFTA_SET_KEY_TYPE]);
    s->key_len = nc_nft_attr_be32(tb[NFTA_SET_KEY_LEN]);
    s->data_type = nc_nft_attr_be32(tb[NFTA_SET_DATA_TYPE]);
    s->data_len = nc_nft_attr_be32(tb[NFTA_SET_DATA_LEN]);
    s->timeout_ms = nc_nft_attr_be64(tb[NFTA_SET_TIMEOUT]);
    s->obj_type = nc_nft_attr_be32(tb[NFTA_SET_OBJ_TYPE]);
    s->expr_names = g_ptr_array_new_with_free_func(g_free);
    if (tb[NFTA_SET_DESC]) {
        const struct nlattr *desc[NFTA_SET_DESC_MAX + 1];

        if (nc_nft_attr_nested(tb[NFTA_SET_DESC], desc, NFTA_SET_DESC_MAX)) {
            s->size = nc_nft_attr_be32(desc[NFTA_SET_DESC_SIZE]);
            if (desc[NFTA_SET_DESC_CONCAT]) {
                const struct nlattr *f;

                mnl_attr_for_each_nested(f, desc[NFTA_SET_DESC_CONCAT])
                {
                    const struct nlattr *ftb[NFTA_SET_FIELD_MAX + 1];

                    if (s->n_fields < NC_NFT_SET_FIELDS_MAX &&
                        nc_nft_attr_nested(f, ftb, NFTA_SET_FIELD_MAX))
                        s->field_len[s->n_fields++] =
                            (guint8)nc_nft_attr_be32(ftb[NFTA_SET_FIELD_LEN]);
                }
            }
        }
    }
    if (!s->n_fields) {
        /* nft sends the concatenation's field lengths only for interval sets: derive them from
         * the field types (every type that can be in a concatenation has a fixed size there) */
        guint n = nc_nft_type_fields(s->key_type), total = 0;

        for (guint i = 0; i < n && n > 1 && n <= NC_NFT_SET_FIELDS_MAX; i++) {
            guint len = nc_nft_type_size(nc_nft_field_type(s->key_type, n, i));

            if (!len) {
                total = 0;
                break;
            }
            s->field_len[i] = (guint8)len;
            total += (len + 3) & ~3u;
        }
        if (n > 1 && total == s->key_len) {
            s->n_fields = (guint8)n;
        } else {
            s->n_fields = 1;
            s->field_len[0] = (guint8)MIN(s->key_len, 255);
        }
    }
    if (tb[NFTA_SET_EXPR])
        nc_nft_expr_name(tb[NFTA_SET_EXPR], s->expr_names);
    if (tb[NFTA_SET_EXPRESSIONS]) {
        const struct nlattr *x;

        mnl_attr_for_each_nested(x, tb[NFTA_SET_EXPRESSIONS]) nc_nft_expr_name(x, s->expr_names);
    }
    s->n_exprs = s->expr_names->len;
    s->exprs_all_counters = TRUE;
    for (guint i = 0; i < s->expr_names->len; i++)
        if (g_strcmp0(g_ptr_array_index(s->expr_names, i), "counter") != 0)
            s->exprs_all_counters = FALSE;
    return g_steal_pointer(&s);
}

static int nc_nft_set_list_cb(const struct nlmsghdr *nlh, void *data)
{
    NcNftSetInfo *s = nc_nft_set_info_parse(nlh);

    if (!s)
        return MNL_CB_ERROR;
    g_ptr_array_add(data, s);
    return MNL_CB_OK;
}

/* The sets of the namespace (@ref NULL: all of them), as NcNftSetInfo. */
static gboolean nc_nft_set_list(NcNftNl *nl, guint8 family, const char *table, const char *name,
                                GPtrArray *out, GError **error)
{
    char buf[MNL_SOCKET_BUFFER_SIZE];
    struct nlmsghdr *nlh;
    g_autofree char *what = NULL;

    if (name) {
        nlh = nc_nft_nl_request(buf, NFT_MSG_GETSET, family, 0, 0);
        mnl_attr_put_strz(nlh, NFTA_SET_TABLE, table);
        mnl_attr_put_strz(nlh, NFTA_SET_NAME, name);
        what = g_strdup_printf("set %s/%s/%s", nc_nft_family_name(family), table, name);
    } else {
        nlh = nc_nft_nl_request(buf, NFT_MSG_GETSET, NFPROTO_UNSPEC, NLM_F_DUMP, 0);
        what = g_strdup("the list of sets");
    }
    return nc_nft_nl_query(nl, nlh, nc_nft_set_list_cb, out, what, NULL, error);
}

static NcNftSetInfo *nc_nft_set_get(NcNftNl *nl, guint8 family, const char *table, const char *name,
                                    GError **error)
{
    g_autoptr(GPtrArray) one = g_ptr_array_new_with_free_func((GDestroyNotify)nc_nft_set_info_free);

    if (!nc_nft_set_list(nl, family, table, name, one, error))
        return NULL;
    if (one->len != 1) {
        g_set_error(error, NC_ERROR, NC_ERROR_INVALID_DATA,
                    "nf_tables answered %u sets for set %s/%s/%s in network namespace %s", one->len,
                    nc_nft_family_name(family), table, name, nc_nft_nl_netns(nl));
        return NULL;
    }
    return g_ptr_array_steal_index(one, 0);
}

/* ---- elements ---- */

typedef struct {
    const NcNftSetInfo *set;
    const NcOwner *owner; /* NULL: count only (or @all) */
    NcItemSet *out;
    GPtrArray *not_carried;
    guint count;
    gboolean bad;
    NcItemSet *all; /* (nullable): receives every element @match accepts, owner or not */
    gboolean (*match)(const NcNftSetElem *e, gpointer data);
    gpointer match_data;
} NcNftElemDumpCtx;

static GBytes *nc_nft_data_value(const struct nlattr *nest)
{
    const struct nlattr *tb[NFTA_DATA_MAX + 1];

    if (!nc_nft_attr_nested(nest, tb, NFTA_DATA_MAX) || !tb[NFTA_DATA_VALUE])
        return NULL;
    return g_bytes_new(mnl_attr_get_payload(tb[NFTA_DATA_VALUE]),
                       mnl_attr_get_payload_len(tb[NFTA_DATA_VALUE]));
}

/* Reads one element's expressions: its counter into @e, the names of the others into @lost. */
static void nc_nft_elem_expr(const struct nlattr *expr, NcNftSetElem *e, GPtrArray *lost)
{
    const struct nlattr *tb[NFTA_EXPR_MAX + 1], *ctb[NFTA_COUNTER_MAX + 1];
    const char *name;

    if (!nc_nft_attr_nested(expr, tb, NFTA_EXPR_MAX) || !tb[NFTA_EXPR_NAME])
        return;
    name = mnl_attr_get_str(tb[NFTA_EXPR_NAME]);
    if (g_strcmp0(name, "counter") == 0 &&
        nc_nft_attr_nested(tb[NFTA_EXPR_DATA], ctb, NFTA_COUNTER_MAX)) {
        e->has_counter = TRUE;
        e->packets = nc_nft_attr_be64(ctb[NFTA_COUNTER_PACKETS]);
        e->bytes = nc_nft_attr_be64(ctb[NFTA_COUNTER_BYTES]);
    } else {
        g_ptr_array_add(lost, g_strdup(name));
    }
}

static const char *nc_nft_expr_reason(const char *name)
{
    if (g_strcmp0(name, "connlimit") == 0)
        return "a `ct count` list holds the element's live connections and cannot be written "
               "from userspace; the destination's element starts counting from its own "
               "conntrack entries";
    if (g_strcmp0(name, "limit") == 0)
        return "a `limit` token bucket's level cannot be written from userspace; the "
               "destination's element starts with a full bucket";
    if (g_strcmp0(name, "quota") == 0)
        return "a per-element quota's used bytes cannot be written from userspace; the "
               "destination's element starts from zero";
    return "the kernel takes no value for this expression from userspace";
}

/* Reads the element's timeout (its own, or the set's when the kernel omits it because they are
 * equal) and remaining time; FALSE if it has expired. */
static gboolean nc_nft_elem_timing(const NcNftSetInfo *set, const struct nlattr **et,
                                   NcNftSetElem *e)
{
    if (!et[NFTA_SET_ELEM_EXPIRATION] && !et[NFTA_SET_ELEM_TIMEOUT])
        return TRUE;
    e->has_timeout = TRUE;
    e->timeout_ms =
        et[NFTA_SET_ELEM_TIMEOUT] ? nc_nft_attr_be64(et[NFTA_SET_ELEM_TIMEOUT]) : set->timeout_ms;
    e->expires_ms = nc_nft_attr_be64(et[NFTA_SET_ELEM_EXPIRATION]);
    return e->expires_ms > 0;
}

/* Does the element in @et concern the owner (its own, or a binding of its address or MAC to a
 * foreign one, which is reported), judged on the message's bytes? */
static gboolean nc_nft_elem_owned(const NcNftElemDumpCtx *c, const struct nlattr **et)
{
    const struct nlattr *k[NFTA_DATA_MAX + 1], *d[NFTA_DATA_MAX + 1];
    NcNftSetElem shape = {0};
    gboolean has_data;

    if (!nc_nft_attr_nested(et[NFTA_SET_ELEM_KEY], k, NFTA_DATA_MAX) || !k[NFTA_DATA_VALUE])
        return FALSE;
    has_data = et[NFTA_SET_ELEM_DATA] &&
               nc_nft_attr_nested(et[NFTA_SET_ELEM_DATA], d, NFTA_DATA_MAX) && d[NFTA_DATA_VALUE];
    shape.key_type = c->set->key_type;
    shape.data_type = c->set->data_type;
    shape.n_fields = c->set->n_fields;
    memcpy(shape.field_len, c->set->field_len, sizeof(shape.field_len));
    return nc_nft_set_bytes_owned(c->owner, &shape, mnl_attr_get_payload(k[NFTA_DATA_VALUE]),
                                  mnl_attr_get_payload_len(k[NFTA_DATA_VALUE]),
                                  has_data ? mnl_attr_get_payload(d[NFTA_DATA_VALUE]) : NULL,
                                  has_data ? mnl_attr_get_payload_len(d[NFTA_DATA_VALUE]) : 0) !=
           NC_NFT_OWN_NONE;
}

static int nc_nft_elem_cb(const struct nlmsghdr *nlh, void *data)
{
    NcNftElemDumpCtx *c = data;
    const struct nlattr *tb[NFTA_SET_ELEM_LIST_MAX + 1], *a;

    if (!nc_nft_msg_attrs(nlh, tb, NFTA_SET_ELEM_LIST_MAX) || !tb[NFTA_SET_ELEM_LIST_ELEMENTS])
        return MNL_CB_OK;
    mnl_attr_for_each_nested(a, tb[NFTA_SET_ELEM_LIST_ELEMENTS])
    {
        const struct nlattr *et[NFTA_SET_ELEM_MAX + 1];
        g_autoptr(NcNftSetElem) e = NULL;
        g_autoptr(GPtrArray) lost = NULL;
        guint32 flags;

        if (!nc_nft_attr_nested(a, et, NFTA_SET_ELEM_MAX)) {
            c->bad = TRUE;
            continue;
        }
        flags = nc_nft_attr_be32(et[NFTA_SET_ELEM_FLAGS]);
        if (flags & (NFT_SET_ELEM_INTERVAL_END | NFT_SET_ELEM_CATCHALL) || !et[NFTA_SET_ELEM_KEY])
            continue;
        c->count++;
        if (!c->owner && !c->all)
            continue;
        if (c->owner && !nc_nft_elem_owned(c, et))
            continue; /* another's: nothing copied */

        e = g_new0(NcNftSetElem, 1);
        e->family = c->set->family;
        e->table = g_strdup(c->set->table);
        e->set = g_strdup(c->set->name);
        e->set_flags = c->set->flags;
        e->key_type = c->set->key_type;
        e->key_len = c->set->key_len;
        e->data_type = c->set->data_type;
        e->data_len = c->set->data_len;
        e->n_fields = c->set->n_fields;
        memcpy(e->field_len, c->set->field_len, sizeof(e->field_len));
        e->key = nc_nft_data_value(et[NFTA_SET_ELEM_KEY]);
        if (!e->key) {
            c->bad = TRUE;
            continue;
        }
        if (et[NFTA_SET_ELEM_DATA])
            e->data = nc_nft_data_value(et[NFTA_SET_ELEM_DATA]);
        if (et[NFTA_SET_ELEM_OBJREF])
            e->objref = g_strdup(mnl_attr_get_str(et[NFTA_SET_ELEM_OBJREF]));
        if (c->all) {
            nc_nft_elem_timing(c->set, et, e);
            if (c->match(e, c->match_data))
                nc_item_set_upsert(c->all, g_steal_pointer(&e), NULL, NULL);
            continue;
        }
        {
            g_autofree char *why = NULL;
            NcNftOwnership own = nc_nft_set_ownership(c->owner, e, &why);

            if (own == NC_NFT_OWN_FOREIGN_BINDING && nc_nft_elem_timing(c->set, et, e)) {
                g_autofree char *what = nc_nft_set_describe(e);

                nc_not_carried_add(c->not_carried, nc_nft_set_class.name, what, "%s", why);
            }
            if (own != NC_NFT_OWN_YES)
                continue;
        }
        if ((c->set->flags & NFT_SET_MAP) && c->set->data_type == NFT_DATA_VERDICT) {
            g_autofree char *what = nc_nft_set_describe(e);

            nc_not_carried_add(c->not_carried, nc_nft_set_class.name, what,
                               "a verdict map's element is policy (a verdict or a jump to a "
                               "chain), not state: write it on both hosts");
            continue;
        }
        if (!nc_nft_elem_timing(c->set, et, e))
            continue; /* expired, waiting for the garbage collector */
        lost = g_ptr_array_new_with_free_func(g_free);
        if (et[NFTA_SET_ELEM_EXPR])
            nc_nft_elem_expr(et[NFTA_SET_ELEM_EXPR], e, lost);
        if (et[NFTA_SET_ELEM_EXPRESSIONS]) {
            const struct nlattr *x;

            mnl_attr_for_each_nested(x, et[NFTA_SET_ELEM_EXPRESSIONS]) nc_nft_elem_expr(x, e, lost);
        }
        for (guint i = 0; i < lost->len; i++) {
            g_autofree char *what = nc_nft_set_describe(e);
            g_autofree char *w = g_strdup_printf("%s (%s)", what, (char *)lost->pdata[i]);

            nc_not_carried_add(c->not_carried, nc_nft_set_class.name, w, "%s",
                               nc_nft_expr_reason(lost->pdata[i]));
        }
        if (!nc_item_set_upsert(c->out, g_steal_pointer(&e), NULL, NULL))
            c->bad = TRUE;
    }
    return MNL_CB_OK;
}

static gboolean nc_nft_set_dump_elems(NcNftNl *nl, NcNftElemDumpCtx *c, GError **error)
{
    char buf[MNL_SOCKET_BUFFER_SIZE];
    struct nlmsghdr *nlh =
        nc_nft_nl_request(buf, NFT_MSG_GETSETELEM, c->set->family, NLM_F_DUMP, 0);
    g_autofree char *what = nc_nft_set_info_name(c->set);

    mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_TABLE, c->set->table);
    mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_SET, c->set->name);
    if (!nc_nft_nl_query(nl, nlh, nc_nft_elem_cb, c, what, NULL, error))
        return FALSE;
    if (c->bad) {
        g_set_error(error, NC_ERROR, NC_ERROR_INVALID_DATA,
                    "an element of %s in network namespace %s does not decode", what,
                    nc_nft_nl_netns(nl));
        return FALSE;
    }
    return TRUE;
}

/* Can an element of this set hold an address or a MAC at all? */
static gboolean nc_nft_set_may_hold_owner(const NcNftSetInfo *s)
{
    NcNftSetElem shape = {0};
    g_autoptr(GBytes) key = NULL, data = NULL;
    g_autofree guint8 *zeros = g_malloc0(MAX(s->key_len, s->data_len) + 1);

    shape.key_type = s->key_type;
    shape.n_fields = s->n_fields;
    memcpy(shape.field_len, s->field_len, sizeof(shape.field_len));
    shape.key = key = g_bytes_new(zeros, s->key_len);
    if ((s->flags & NFT_SET_MAP) && s->data_type != NFT_DATA_VERDICT) {
        shape.data_type = s->data_type;
        shape.data = data = g_bytes_new(zeros, s->data_len);
    }
    return nc_nft_set_elem_may_hold_owner(&shape);
}

static gboolean nc_nft_ref_is_set(const NcObjectRef *r)
{
    return r->type && (g_str_equal(r->type, "set") || g_str_equal(r->type, "map"));
}

/**
 * nc_nft_set_capture() - the domain's elements of the namespace's sets and maps
 * @nl:          an nf_tables socket in the source's namespace
 * @owner:       the domain: addresses, MAC, and the sets to look at (@owner->objects of type
 *               "set" or "map"; none: every set of the namespace)
 * @out:         an NcItemSet of nc_nft_set_class: receives the elements
 * @not_carried: (nullable) (element-type NcNotCarried): what belongs to the domain and is not
 *               carried, with the reason
 * @error:       NC_ERROR_NOT_FOUND for a named set that does not exist, ...
 *
 * Return: TRUE on success
 */
gboolean nc_nft_set_capture(NcNftNl *nl, const NcOwner *owner, NcItemSet *out,
                            GPtrArray *not_carried, GError **error)
{
    g_autoptr(GPtrArray) sets =
        g_ptr_array_new_with_free_func((GDestroyNotify)nc_nft_set_info_free);
    gboolean named = FALSE;

    for (guint i = 0; owner->objects && i < owner->objects->len; i++) {
        const NcObjectRef *r = g_ptr_array_index(owner->objects, i);
        guint8 family;

        if (!nc_nft_ref_is_set(r))
            continue;
        named = TRUE;
        if (!nc_nft_family_parse(r->family, &family)) {
            g_set_error(error, NC_ERROR, NC_ERROR_INVALID_ARG,
                        "'%s' in %s/%s/%s is not an nftables family (ip, ip6, inet, arp, bridge, "
                        "netdev)",
                        r->family, r->family, r->table, r->name);
            return FALSE;
        }
        if (!nc_nft_set_list(nl, family, r->table, r->name, sets, error))
            return FALSE;
    }
    if (!named && !nc_nft_set_list(nl, NFPROTO_UNSPEC, NULL, NULL, sets, error))
        return FALSE;

    for (guint i = 0; i < sets->len; i++) {
        const NcNftSetInfo *s = g_ptr_array_index(sets, i);
        NcNftElemDumpCtx c = {s, owner, out, not_carried, 0, FALSE};

        if (s->flags & (NFT_SET_ANONYMOUS | NFT_SET_INTERVAL))
            continue;
        if (!nc_nft_set_may_hold_owner(s))
            continue;
        if (!nc_nft_set_dump_elems(nl, &c, error))
            return FALSE;
    }
    return TRUE;
}

/* ---- probe and install ---- */

/* The distinct sets @items go into, each with how many elements go there. */
static GHashTable *nc_nft_items_by_set(GPtrArray *items)
{
    GHashTable *by =
        g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)g_ptr_array_unref);

    for (guint i = 0; i < items->len; i++) {
        const NcNftSetElem *e = g_ptr_array_index(items, i);
        char *k = g_strdup_printf("%s/%s/%s", nc_nft_family_name(e->family), e->table, e->set);
        GPtrArray *list = g_hash_table_lookup(by, k);

        if (!list) {
            list = g_ptr_array_new();
            g_hash_table_insert(by, k, list);
        } else {
            g_free(k);
        }
        g_ptr_array_add(list, (gpointer)e);
    }
    return by;
}

/* Does the destination's set @d take @n elements shaped like @e? */
static gboolean nc_nft_match_all(const NcNftSetElem *e, gpointer data)
{
    return TRUE;
}

/* Does the destination's set @d take the elements @list (shaped like their first)? @existing
 * gets the elements @d holds already (all of them: an element of @list among them is no new
 * element, and is not the carry's to remove). */
static gboolean nc_nft_set_check_target(NcNftNl *nl, const NcNftSetInfo *d, GPtrArray *list,
                                        NcItemSet *existing, gboolean *send_counters,
                                        GError **error)
{
    g_autofree char *name = nc_nft_set_info_name(d);
    const NcNftSetElem *e = g_ptr_array_index(list, 0);
    NcNftElemDumpCtx c = {d, NULL, NULL, NULL, 0, FALSE, existing, nc_nft_match_all, NULL};
    guint n = 0;

    if (d->key_type != e->key_type || d->key_len != e->key_len ||
        (d->flags & NFT_SET_MAP) != (e->set_flags & NFT_SET_MAP) ||
        (d->flags & NFT_SET_OBJECT) != (e->set_flags & NFT_SET_OBJECT) ||
        d->data_type != e->data_type || d->data_len != e->data_len) {
        g_set_error(error, NC_ERROR, NC_ERROR_UNSUPPORTED,
                    "%s in network namespace %s has another type than on the source (key type "
                    "0x%x length %u, data type 0x%x length %u, flags 0x%x; the source's: key type "
                    "0x%x length %u, data type 0x%x length %u, flags 0x%x): declare it alike on "
                    "both hosts",
                    name, nc_nft_nl_netns(nl), d->key_type, d->key_len, d->data_type, d->data_len,
                    d->flags, e->key_type, e->key_len, e->data_type, e->data_len, e->set_flags);
        return FALSE;
    }
    if (e->has_timeout && !(d->flags & NFT_SET_TIMEOUT)) {
        g_set_error(error, NC_ERROR, NC_ERROR_UNSUPPORTED,
                    "%s in network namespace %s has no `flags timeout`, and the source's elements "
                    "expire: declare it alike on both hosts",
                    name, nc_nft_nl_netns(nl));
        return FALSE;
    }
    if (!nc_nft_set_dump_elems(nl, &c, error))
        return FALSE;
    for (guint i = 0; i < list->len; i++)
        if (!nc_item_set_lookup(existing, list->pdata[i]))
            n++;
    if (d->size) {
        if (c.count + n > d->size) {
            g_set_error(error, NC_ERROR, NC_ERROR_UNSUPPORTED,
                        "%s in network namespace %s has no room: size %u, %u elements in it, %u "
                        "to carry",
                        name, nc_nft_nl_netns(nl), d->size, c.count, n);
            return FALSE;
        }
    }
    if (send_counters)
        *send_counters = d->n_exprs > 0 && d->exprs_all_counters;
    return TRUE;
}

/* Looks up each target set of @by on the destination and checks it; @targets gets the infos. */
static gboolean nc_nft_set_check_targets(NcNftNl *nl, GHashTable *by, GHashTable *counters,
                                         NcItemSet *existing, GError **error)
{
    GHashTableIter it;
    gpointer k, v;

    g_hash_table_iter_init(&it, by);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        GPtrArray *list = v;
        const NcNftSetElem *e = g_ptr_array_index(list, 0);
        g_autoptr(NcNftSetInfo) d = NULL;
        g_autoptr(GError) local = NULL;
        gboolean send_counters = FALSE;

        d = nc_nft_set_get(nl, e->family, e->table, e->set, &local);
        if (!d) {
            if (g_error_matches(local, NC_ERROR, NC_ERROR_NOT_FOUND))
                g_set_error(error, NC_ERROR, NC_ERROR_NOT_FOUND,
                            "set %s is missing in network namespace %s (the source carries %u "
                            "of its elements): declare it alike on both hosts",
                            (char *)k, nc_nft_nl_netns(nl), list->len);
            else
                g_propagate_error(error, g_steal_pointer(&local));
            return FALSE;
        }
        if (!nc_nft_set_check_target(nl, d, list, existing, &send_counters, error))
            return FALSE;
        if (counters)
            g_hash_table_insert(counters, g_strdup(k), GINT_TO_POINTER(send_counters));
    }
    return TRUE;
}

/**
 * nc_nft_set_probe() - can this host take the source's elements
 * @nl:       an nf_tables socket in the destination's namespace
 * @owner:    the domain (unused: ownership is checked at install)
 * @expected: (nullable): the source's elements; NULL checks only that nf_tables answers
 * @error:    NC_ERROR_NOT_FOUND (a set is missing), NC_ERROR_UNSUPPORTED (another type, no
 *            timeout flag, no room), naming the set
 *
 * Return: TRUE if every target set exists alike with room
 */
gboolean nc_nft_set_probe(NcNftNl *nl, const NcOwner *owner, const NcItemSet *expected,
                          GError **error)
{
    g_autoptr(GPtrArray) items = NULL;
    g_autoptr(GHashTable) by = NULL;

    if (!expected) {
        g_autoptr(GPtrArray) sets =
            g_ptr_array_new_with_free_func((GDestroyNotify)nc_nft_set_info_free);

        return nc_nft_set_list(nl, NFPROTO_UNSPEC, NULL, NULL, sets, error);
    }
    items = nc_item_set_items(expected);
    by = nc_nft_items_by_set(items);
    {
        g_autoptr(NcItemSet) existing = nc_item_set_new(&nc_nft_set_class);

        return nc_nft_set_check_targets(nl, by, NULL, existing, error);
    }
}

static void nc_nft_put_data(struct nlmsghdr *nlh, guint16 type, GBytes *value)
{
    struct nlattr *nest = mnl_attr_nest_start(nlh, type);

    mnl_attr_put(nlh, NFTA_DATA_VALUE, g_bytes_get_size(value), g_bytes_get_data(value, NULL));
    mnl_attr_nest_end(nlh, nest);
}

static void nc_nft_put_elem(struct nlmsghdr *nlh, const NcNftSetElem *e, gboolean full,
                            gboolean counters)
{
    struct nlattr *nest = mnl_attr_nest_start(nlh, NFTA_LIST_ELEM);

    nc_nft_put_data(nlh, NFTA_SET_ELEM_KEY, e->key);
    if (full) {
        if (e->data)
            nc_nft_put_data(nlh, NFTA_SET_ELEM_DATA, e->data);
        if (e->objref)
            mnl_attr_put_strz(nlh, NFTA_SET_ELEM_OBJREF, e->objref);
        if (e->has_timeout) {
            mnl_attr_put_u64(nlh, NFTA_SET_ELEM_TIMEOUT, GUINT64_TO_BE(e->timeout_ms));
            mnl_attr_put_u64(nlh, NFTA_SET_ELEM_EXPIRATION,
                             GUINT64_TO_BE(MIN(e->expires_ms, e->timeout_ms)));
        }
        if (counters && e->has_counter) {
            struct nlattr *list = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_EXPRESSIONS);
            struct nlattr *x = mnl_attr_nest_start(nlh, NFTA_LIST_ELEM);
            struct nlattr *d;

            mnl_attr_put_strz(nlh, NFTA_EXPR_NAME, "counter");
            d = mnl_attr_nest_start(nlh, NFTA_EXPR_DATA);
            mnl_attr_put_u64(nlh, NFTA_COUNTER_BYTES, GUINT64_TO_BE(e->bytes));
            mnl_attr_put_u64(nlh, NFTA_COUNTER_PACKETS, GUINT64_TO_BE(e->packets));
            mnl_attr_nest_end(nlh, d);
            mnl_attr_nest_end(nlh, x);
            mnl_attr_nest_end(nlh, list);
        }
    }
    mnl_attr_nest_end(nlh, nest);
}

/* upper bound of one element's attributes */
static gsize nc_nft_elem_room(const NcNftSetElem *e)
{
    return 256 + g_bytes_get_size(e->key) + (e->data ? g_bytes_get_size(e->data) : 0) +
           (e->objref ? strlen(e->objref) : 0);
}

/* Adds messages of @type for @list (one set's elements) to @batch. */
static void nc_nft_batch_elems(NcNftBatch *batch, guint16 type, guint16 flags, GPtrArray *list,
                               const char *set_name, gboolean full, gboolean counters)
{
    struct nlmsghdr *nlh = NULL;
    struct nlattr *nest = NULL;
    guint first = 0;

    for (guint i = 0; i <= list->len; i++) {
        const NcNftSetElem *e = i < list->len ? g_ptr_array_index(list, i) : NULL;

        if (nlh && (!e || nlh->nlmsg_len + nc_nft_elem_room(e) > NC_NFT_MSG_MAX)) {
            mnl_attr_nest_end(nlh, nest);
            nlh = NULL;
        }
        if (!e)
            break;
        if (!nlh) {
            g_autofree char *what = NULL;

            first = i;
            what = g_strdup_printf("%s elements %u.. of set %s",
                                   type == NFT_MSG_NEWSETELEM ? "adding" : "removing", first + 1,
                                   set_name);
            nlh = nc_nft_batch_add(batch, type, e->family, flags, what);
            mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_TABLE, e->table);
            mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_SET, e->set);
            nest = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_LIST_ELEMENTS);
        }
        nc_nft_put_elem(nlh, e, full, counters);
    }
}

/**
 * nc_nft_set_install() - install elements, all or nothing, into the destination's sets
 * @nl:        an nf_tables socket in the destination's namespace
 * @owner:     the domain as the destination derived it: every element must be its own
 * @items:     the elements (nc_nft_set_class)
 * @installed: (out) (optional) (transfer full): on success, what was installed (for remove())
 * @error:     NC_ERROR_INVALID_DATA for an element that is not the domain's, the probe's errors
 *             for a target set, or the kernel's refusal naming the set; nothing is installed then
 *
 * Return: TRUE if every element is installed
 */
gboolean nc_nft_set_install(NcNftNl *nl, const NcOwner *owner, const NcItemSet *items,
                            NcItemSet **installed, GError **error)
{
    g_autoptr(GPtrArray) list = nc_item_set_items(items);
    g_autoptr(GHashTable) by = NULL;
    g_autoptr(GHashTable) counters = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    g_autoptr(NcNftBatch) batch = NULL;
    g_autoptr(NcItemSet) existing = nc_item_set_new(&nc_nft_set_class);
    GHashTableIter it;
    gpointer k, v;

    if (installed)
        *installed = NULL;
    if (owner && !nc_item_set_check_owned(items, owner, error))
        return FALSE;
    by = nc_nft_items_by_set(list);
    if (!nc_nft_set_check_targets(nl, by, counters, existing, error))
        return FALSE;
    batch = nc_nft_batch_new(nl);
    g_hash_table_iter_init(&it, by);
    while (g_hash_table_iter_next(&it, &k, &v))
        nc_nft_batch_elems(batch, NFT_MSG_NEWSETELEM, NLM_F_CREATE, v, k, TRUE,
                           GPOINTER_TO_INT(g_hash_table_lookup(counters, k)));
    if (!nc_nft_batch_commit(batch, NULL, error))
        return FALSE;
    if (installed) {
        *installed = nc_item_set_new(&nc_nft_set_class);
        for (guint i = 0; i < list->len; i++)
            if (!nc_item_set_lookup(existing, list->pdata[i]))
                nc_item_set_upsert(*installed, nc_nft_set_elem_copy(list->pdata[i]), NULL, NULL);
    }
    return TRUE;
}

/**
 * nc_nft_set_remove() - remove exactly these elements (by set and key); one already gone, or
 * whose set is gone, is no error
 * @nl:        an nf_tables socket in the namespace
 * @items:     the elements
 * @n_removed: (out) (optional): how many were asked to go
 * @error:     the kernel's refusal
 *
 * Return: TRUE on success
 */
gboolean nc_nft_set_remove(NcNftNl *nl, const NcItemSet *items, guint *n_removed, GError **error)
{
    g_autoptr(GPtrArray) list = nc_item_set_items(items);
    g_autoptr(GHashTable) by = nc_nft_items_by_set(list);
    g_autoptr(NcNftBatch) batch = nc_nft_batch_new(nl);
    GHashTableIter it;
    gpointer k, v;

    if (n_removed)
        *n_removed = 0;
    g_hash_table_iter_init(&it, by);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        const NcNftSetElem *e = g_ptr_array_index((GPtrArray *)v, 0);
        g_autoptr(NcNftSetInfo) d = NULL;
        g_autoptr(GError) local = NULL;

        d = nc_nft_set_get(nl, e->family, e->table, e->set, &local);
        if (!d) {
            if (g_error_matches(local, NC_ERROR, NC_ERROR_NOT_FOUND))
                continue; /* the set went, and its elements with it */
            g_propagate_error(error, g_steal_pointer(&local));
            return FALSE;
        }
        nc_nft_batch_elems(batch, NC_NFT_MSG_DESTROYSETELEM, 0, v, k, FALSE, FALSE);
        if (n_removed)
            *n_removed += ((GPtrArray *)v)->len;
    }
    return nc_nft_batch_commit(batch, NULL, error);
}

static gboolean nc_nft_objref_elem(const NcNftSetElem *e, gpointer name)
{
    return g_strcmp0(e->objref, name) == 0;
}

gboolean nc_nft_set_find_objrefs(NcNftNl *nl, guint8 family, const char *table, guint32 obj_type,
                                 const char *name, GPtrArray *out, GError **error)
{
    g_autoptr(GPtrArray) sets =
        g_ptr_array_new_with_free_func((GDestroyNotify)nc_nft_set_info_free);

    if (!nc_nft_set_list(nl, NFPROTO_UNSPEC, NULL, NULL, sets, error))
        return FALSE;
    for (guint i = 0; i < sets->len; i++) {
        const NcNftSetInfo *s = g_ptr_array_index(sets, i);
        NcNftElemDumpCtx c = {s, NULL, NULL, NULL, 0, FALSE};

        if (s->family != family || g_strcmp0(s->table, table) != 0 ||
            !(s->flags & NFT_SET_OBJECT) || s->obj_type != obj_type)
            continue;
        c.all = nc_item_set_new(&nc_nft_set_class);
        c.match = nc_nft_objref_elem;
        c.match_data = (gpointer)name;
        if (!nc_nft_set_dump_elems(nl, &c, error)) {
            nc_item_set_free(c.all);
            return FALSE;
        }
        {
            g_autoptr(GPtrArray) found = nc_item_set_items(c.all);

            for (guint j = 0; j < found->len; j++)
                g_ptr_array_add(out, nc_nft_set_elem_copy(found->pdata[j]));
        }
        nc_item_set_free(c.all);
    }
    return TRUE;
}

void nc_nft_set_batch_elems(NcNftBatch *batch, gboolean add, GPtrArray *elems)
{
    g_autoptr(GHashTable) by = nc_nft_items_by_set(elems);
    GHashTableIter it;
    gpointer k, v;

    g_hash_table_iter_init(&it, by);
    while (g_hash_table_iter_next(&it, &k, &v))
        nc_nft_batch_elems(batch, add ? NFT_MSG_NEWSETELEM : NFT_MSG_DELSETELEM,
                           add ? NLM_F_CREATE | NLM_F_EXCL : 0, v, k, add, FALSE);
}

/* ---- the driver ---- */

static gpointer nc_nft_set_open_cb(const char *netns, GError **error)
{
    return nc_nft_nl_open(netns, error);
}

static void nc_nft_set_close_cb(gpointer handle)
{
    nc_nft_nl_close(handle);
}

static gboolean nc_nft_set_probe_cb(gpointer h, const NcOwner *owner, const NcItemSet *expected,
                                    GError **error)
{
    return nc_nft_set_probe(h, owner, expected, error);
}

static gboolean nc_nft_set_capture_cb(gpointer h, const NcOwner *owner, NcItemSet *out,
                                      GPtrArray *not_carried, GError **error)
{
    return nc_nft_set_capture(h, owner, out, not_carried, error);
}

static gboolean nc_nft_set_install_cb(gpointer h, const NcOwner *owner, const NcItemSet *items,
                                      NcItemSet **installed, GError **error)
{
    return nc_nft_set_install(h, owner, items, installed, error);
}

static gboolean nc_nft_set_remove_cb(gpointer h, const NcItemSet *items, guint *n_removed,
                                     GError **error)
{
    return nc_nft_set_remove(h, items, n_removed, error);
}

/* no follower: an element a packet-path `add @set` rule adds makes no netlink event
 * (docs/kernel-facts.md), so the engine captures the class again at the stop */
/* An element with a timeout was the carry's (authorisations, sticky entries) and goes from the
 * source once the guest left; one without is an operator's, declared alike on both hosts (the
 * destination's install found it there): it stays. */
static NcItemSet *nc_nft_set_source_cleanup_cb(const NcItemSet *sent)
{
    NcItemSet *gone = nc_item_set_new(&nc_nft_set_class);
    g_autoptr(GPtrArray) items = nc_item_set_items(sent);

    for (guint i = 0; i < items->len; i++) {
        const NcNftSetElem *el = items->pdata[i];

        if (el->has_timeout)
            nc_item_set_upsert(gone, nc_nft_set_elem_copy(el), NULL, NULL);
    }
    return gone;
}

const NcStateDriver nc_nft_set_driver = {
    .ops = &nc_nft_set_class,
    .at = NC_DRIVER_AT_PRECOPY,
    .source_cleanup = nc_nft_set_source_cleanup_cb,
    .open = nc_nft_set_open_cb,
    .close = nc_nft_set_close_cb,
    .probe = nc_nft_set_probe_cb,
    .capture = nc_nft_set_capture_cb,
    .install = nc_nft_set_install_cb,
    .remove = nc_nft_set_remove_cb,
};
