/* nc-ct-items.c - conntrack entries as a class of items: canonical key and bytes, description,
 * comparison, ownership (no kernel)
 *
 * The canonical bytes are the peer protocol's entry encoding (src/daemon/nc-peer-proto.c
 * documents the wire layout): big-endian, the family as 4 or 6, then the flags, zone, both
 * tuples, status, timeout, mark, and the optional labels and TCP state. The key is the same
 * header and the original tuple alone.
 */
#include <string.h>
#include <sys/socket.h>

#include "conf/nc-ct-diff.h"
#include "conf/nc-ct-items.h"
#include "util/nc-bytes.h"
#include "util/nc-error.h"

static guint8 nc_ct_wire_family(guint8 af)
{
    return af == AF_INET ? 4 : af == AF_INET6 ? 6 : 0;
}

/* The canonical bytes are built in a buffer on the stack and appended at once: appending field by
 * field (~30 appends per entry) was most of the cost of encoding a STATE chunk and of keying an
 * entry in an NcItemSet, which the carry does several times per entry. */
#define NC_CT_CANONICAL_MAX (4 + 2 * (2 * 16 + 9) + 12 + 16 + 5)

static guint8 *nc_ct_put_tuple(guint8 *p, const NcCtTuple *t, gsize alen)
{
    memcpy(p, t->src.bytes, alen);
    memcpy(p + alen, t->dst.bytes, alen);
    p += 2 * alen;
    p = nc_bytes_write_be(p, t->proto, 1);
    p = nc_bytes_write_be(p, t->sport, 2);
    p = nc_bytes_write_be(p, t->dport, 2);
    p = nc_bytes_write_be(p, t->icmp_id, 2);
    p = nc_bytes_write_be(p, t->icmp_type, 1);
    return nc_bytes_write_be(p, t->icmp_code, 1);
}

/* The encoding relies on one thing: one family in all four addresses. */
static gboolean nc_ct_check_family(const NcCtTuple *orig, const NcCtTuple *reply, guint8 *fam,
                                   GError **error)
{
    guint8 af = orig->src.family;

    if (!nc_ct_wire_family(af) || orig->dst.family != af ||
        (reply && (reply->src.family != af || reply->dst.family != af))) {
        g_set_error(error, NC_ERROR, NC_ERROR_INVALID_ARG,
                    "conntrack entry with unset or mixed address families (%u/%u/%u/%u) cannot "
                    "be sent",
                    orig->src.family, orig->dst.family, reply ? reply->src.family : af,
                    reply ? reply->dst.family : af);
        return FALSE;
    }
    *fam = nc_ct_wire_family(af);
    return TRUE;
}

/**
 * nc_ct_entry_append_canonical() - append the bytes that represent @entry on the wire and in
 * every digest
 * @out:   where to append
 * @entry: the entry
 * @error: NC_ERROR_INVALID_ARG if its addresses have no or mixed families
 *
 * Return: TRUE on success (nothing is appended on failure)
 */
gboolean nc_ct_entry_append_canonical(GByteArray *out, const NcCtEntry *e, GError **error)
{
    guint8 buf[NC_CT_CANONICAL_MAX], *p = buf;
    guint8 fam;
    gsize alen;

    if (!nc_ct_check_family(&e->orig, &e->reply, &fam, error))
        return FALSE;
    alen = fam == 4 ? 4 : 16;
    p = nc_bytes_write_be(p, fam, 1);
    p = nc_bytes_write_be(
        p, (e->has_labels ? NC_CT_ENTRY_FLAG_LABELS : 0) | (e->has_tcp ? NC_CT_ENTRY_FLAG_TCP : 0),
        1);
    p = nc_bytes_write_be(p, e->zone, 2);
    p = nc_ct_put_tuple(p, &e->orig, alen);
    p = nc_ct_put_tuple(p, &e->reply, alen);
    p = nc_bytes_write_be(p, e->status, 4);
    p = nc_bytes_write_be(p, e->timeout, 4);
    p = nc_bytes_write_be(p, e->mark, 4);
    if (e->has_labels) {
        memcpy(p, e->labels, 16);
        p += 16;
    }
    if (e->has_tcp) {
        p = nc_bytes_write_be(p, e->tcp_state, 1);
        p = nc_bytes_write_be(p, e->tcp_wscale[0], 1);
        p = nc_bytes_write_be(p, e->tcp_wscale[1], 1);
        p = nc_bytes_write_be(p, e->tcp_flags[0], 1);
        p = nc_bytes_write_be(p, e->tcp_flags[1], 1);
    }
    g_byte_array_append(out, buf, (guint)(p - buf));
    return TRUE;
}

/**
 * nc_ct_key_append_canonical() - append an entry's identity: its zone and original tuple
 * @out:   where to append
 * @zone:  the entry's zone
 * @orig:  its original tuple
 * @error: NC_ERROR_INVALID_ARG if the tuple's addresses have no or mixed families
 *
 * Return: TRUE on success (nothing is appended on failure)
 */
gboolean nc_ct_key_append_canonical(GByteArray *out, guint16 zone, const NcCtTuple *orig,
                                    GError **error)
{
    guint8 buf[NC_CT_CANONICAL_MAX], *p = buf;
    guint8 fam;

    if (!nc_ct_check_family(orig, NULL, &fam, error))
        return FALSE;
    p = nc_bytes_write_be(p, fam, 1);
    p = nc_bytes_write_be(p, 0, 1);
    p = nc_bytes_write_be(p, zone, 2);
    p = nc_ct_put_tuple(p, orig, fam == 4 ? 4 : 16);
    g_byte_array_append(out, buf, (guint)(p - buf));
    return TRUE;
}

/* ---- class ops ---- */

static gboolean nc_ct_class_key(gconstpointer item, GByteArray *out, GError **error)
{
    const NcCtEntry *e = item;

    return nc_ct_key_append_canonical(out, e->zone, &e->orig, error);
}

static gboolean nc_ct_class_encode(gconstpointer item, GByteArray *out, GError **error)
{
    return nc_ct_entry_append_canonical(out, item, error);
}

static char *nc_ct_class_describe(gconstpointer item)
{
    return nc_ct_entry_describe(item);
}

/* nc-ct-diff's judgement: what the firewall and NAT act on, timeouts not compared */
static char *nc_ct_class_compare(gconstpointer a, gconstpointer b)
{
    g_autoptr(NcCtDiff) d = nc_ct_diff(a, 1, b, 1);

    return d->changed->len ? g_strdup(g_ptr_array_index(d->changed, 0)) : NULL;
}

static gboolean nc_ct_class_owns(const NcOwner *owner, gconstpointer item, char **why)
{
    const NcCtEntry *e = item;

    if (owner->has_zone && e->zone != owner->zone) {
        if (why)
            *why = g_strdup_printf("zone %u, not the profile's %u", e->zone, owner->zone);
        return FALSE;
    }
    if (nc_ct_entry_belongs_to(e, owner->addresses))
        return TRUE;
    if (why)
        *why = g_strdup("neither its original nor its reply source is one of the domain's "
                        "addresses");
    return FALSE;
}

const NcClassOps nc_ct_class = {
    .name = "conntrack",
    .key = nc_ct_class_key,
    .encode = nc_ct_class_encode,
    .describe = nc_ct_class_describe,
    .compare = nc_ct_class_compare,
    .owns = nc_ct_class_owns,
    .free = g_free,
    .item_size = sizeof(NcCtEntry), /* flat: a set holds its entries in place */
};

/* @entry's key, padding zeroed (NcCtKey). */
void nc_ct_key_of(const NcCtEntry *entry, NcCtKey *key)
{
    memset(key, 0, sizeof(*key));
    key->zone = entry->zone;
    key->orig = entry->orig;
}

static void nc_ct_hash_mix(guint *h, const void *data, gsize len)
{
    const guint8 *p = data;

    for (gsize i = 0; i < len; i++)
        *h = (*h ^ p[i]) * 16777619u;
}

static void nc_ct_hash_addr(guint *h, const NcAddr *a)
{
    nc_ct_hash_mix(h, &a->family, 1);
    nc_ct_hash_mix(h, a->bytes, nc_addr_len(a));
}

guint nc_ct_identity_hash(guint16 zone, const NcCtTuple *t)
{
    guint h = 2166136261u;

    nc_ct_hash_mix(&h, &zone, sizeof(zone));
    nc_ct_hash_addr(&h, &t->src);
    nc_ct_hash_addr(&h, &t->dst);
    nc_ct_hash_mix(&h, &t->proto, 1);
    nc_ct_hash_mix(&h, &t->sport, sizeof(t->sport));
    nc_ct_hash_mix(&h, &t->dport, sizeof(t->dport));
    nc_ct_hash_mix(&h, &t->icmp_id, sizeof(t->icmp_id));
    nc_ct_hash_mix(&h, &t->icmp_type, 1);
    nc_ct_hash_mix(&h, &t->icmp_code, 1);
    return h;
}

gboolean nc_ct_tuple_equal(const NcCtTuple *a, const NcCtTuple *b)
{
    return nc_addr_equal(&a->src, &b->src) && nc_addr_equal(&a->dst, &b->dst) &&
           a->proto == b->proto && a->sport == b->sport && a->dport == b->dport &&
           a->icmp_id == b->icmp_id && a->icmp_type == b->icmp_type && a->icmp_code == b->icmp_code;
}

guint nc_ct_key_hash(gconstpointer key)
{
    const NcCtKey *k = key;

    return nc_ct_identity_hash(k->zone, &k->orig);
}

gboolean nc_ct_key_equal(gconstpointer a, gconstpointer b)
{
    const NcCtKey *x = a, *y = b;

    return x->zone == y->zone && nc_ct_tuple_equal(&x->orig, &y->orig);
}

guint nc_ct_entry_identity_hash(gconstpointer entry)
{
    const NcCtEntry *e = entry;

    return nc_ct_identity_hash(e->zone, &e->orig);
}

gboolean nc_ct_entry_identity_equal(gconstpointer a, gconstpointer b)
{
    const NcCtEntry *x = a, *y = b;

    return x->zone == y->zone && nc_ct_tuple_equal(&x->orig, &y->orig);
}
