/* nc-nft-items.c - the nftables classes' items: identity, canonical bytes, description,
 * comparison, ownership (no kernel)
 *
 * How an element's fields are found (nft's type ids, 6 bits per field of a concatenation, each
 * field padded to 4 bytes) and when it is the domain's: src/drivers/nc-nft-set.c's theory of
 * operation; the objects: src/drivers/nc-nft-obj.c's.
 */
#include <arpa/inet.h>
#include <string.h>

#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>

#include "conf/nc-nft-items.h"
#include "util/nc-bytes.h"
#include "util/nc-error.h"

static const struct {
    const char *name;
    guint8 family;
} nc_nft_families[] = {
    {"ip", NFPROTO_IPV4}, {"ip6", NFPROTO_IPV6},      {"inet", NFPROTO_INET},
    {"arp", NFPROTO_ARP}, {"bridge", NFPROTO_BRIDGE}, {"netdev", NFPROTO_NETDEV},
};

gboolean nc_nft_family_parse(const char *name, guint8 *family)
{
    for (gsize i = 0; i < G_N_ELEMENTS(nc_nft_families); i++)
        if (g_strcmp0(name, nc_nft_families[i].name) == 0) {
            *family = nc_nft_families[i].family;
            return TRUE;
        }
    return FALSE;
}

const char *nc_nft_family_name(guint8 family)
{
    for (gsize i = 0; i < G_N_ELEMENTS(nc_nft_families); i++)
        if (nc_nft_families[i].family == family)
            return nc_nft_families[i].name;
    return "unknown";
}

/* ---- set and map elements ---- */

/* nft's datatype ids (nftables include/datatype.h): stable, part of nft's set userdata ABI */
#define NC_NFT_TYPE_INTEGER 4
#define NC_NFT_TYPE_IPADDR 7
#define NC_NFT_TYPE_IP6ADDR 8
#define NC_NFT_TYPE_ETHERADDR 9
#define NC_NFT_TYPE_ETHERTYPE 10
#define NC_NFT_TYPE_INET_PROTOCOL 12
#define NC_NFT_TYPE_INET_SERVICE 13
#define NC_NFT_TYPE_MARK 19
#define NC_NFT_TYPE_BITS 6
void nc_nft_set_elem_free(NcNftSetElem *elem)
{
    if (!elem)
        return;
    g_free(elem->table);
    g_free(elem->set);
    if (elem->key)
        g_bytes_unref(elem->key);
    if (elem->data)
        g_bytes_unref(elem->data);
    g_free(elem->objref);
    g_free(elem);
}

NcNftSetElem *nc_nft_set_elem_copy(const NcNftSetElem *elem)
{
    NcNftSetElem *c = g_memdup2(elem, sizeof(*elem));

    c->table = g_strdup(elem->table);
    c->set = g_strdup(elem->set);
    c->key = elem->key ? g_bytes_ref(elem->key) : NULL;
    c->data = elem->data ? g_bytes_ref(elem->data) : NULL;
    c->objref = g_strdup(elem->objref);
    return c;
}

/* ---- fields ---- */

/* The type of field @i of @n in a (possibly concatenated) type id. */
guint32 nc_nft_field_type(guint32 type, guint n, guint i)
{
    guint shift = NC_NFT_TYPE_BITS * (n - 1 - i);

    /* a field beyond the 32 bits (an element of a shape no kernel reports) has no type */
    if (i >= n || shift >= 32)
        return 0;
    return (type >> shift) & ((1u << NC_NFT_TYPE_BITS) - 1);
}

guint nc_nft_type_size(guint32 t)
{
    switch (t) {
    case NC_NFT_TYPE_IPADDR:
        return 4;
    case NC_NFT_TYPE_IP6ADDR:
        return 16;
    case NC_NFT_TYPE_ETHERADDR:
        return 6;
    case NC_NFT_TYPE_ETHERTYPE:
        return 2;
    case NC_NFT_TYPE_INET_PROTOCOL:
        return 1;
    case NC_NFT_TYPE_INET_SERVICE:
        return 2;
    case NC_NFT_TYPE_MARK:
        return 4;
    default:
        return 0;
    }
}

static gboolean nc_nft_type_is_owned_kind(guint32 t)
{
    return t == NC_NFT_TYPE_IPADDR || t == NC_NFT_TYPE_IP6ADDR || t == NC_NFT_TYPE_ETHERADDR;
}

/* How many fields a type id has: 6 bits each, so at most 6 in 32 bits. */
guint nc_nft_type_fields(guint32 type)
{
    guint n = 1;

    while (n < 32 / NC_NFT_TYPE_BITS + 1 && (type >> (NC_NFT_TYPE_BITS * n)))
        n++;
    return n;
}

/* Does the field of type @t at @p (@len bytes) hold one of @owner's addresses or its MAC? */
static gboolean nc_nft_field_owned(const NcOwner *owner, guint32 t, const guint8 *p, guint len)
{
    NcAddr a = {0};

    if (t == NC_NFT_TYPE_ETHERADDR && len >= 6)
        return nc_owner_has_mac(owner, p);
    if (t == NC_NFT_TYPE_IPADDR && len >= 4) {
        a.family = AF_INET;
        memcpy(a.bytes, p, 4);
    } else if (t == NC_NFT_TYPE_IP6ADDR && len >= 16) {
        a.family = AF_INET6;
        memcpy(a.bytes, p, 16);
    } else {
        return FALSE;
    }
    return nc_owner_has_addr(owner, &a);
}

/* Calls @fn on each field of @elem's key, then of its data; stops when @fn returns TRUE. */
typedef gboolean (*NcNftFieldFunc)(guint32 type, const guint8 *p, guint len, gpointer data);

/* Calls @fn on each field of a key @k (@klen bytes), then of a map's data @d (@dlen bytes; NULL:
 * none), shaped as @e says; stops when @fn returns TRUE. */
static gboolean nc_nft_fields(const NcNftSetElem *e, const guint8 *k, gsize klen, const guint8 *d,
                              gsize dlen, NcNftFieldFunc fn, gpointer data)
{
    gsize off = 0;

    for (guint i = 0; i < e->n_fields; i++) {
        guint len = e->field_len[i];

        if (off + len > klen)
            return FALSE;
        if (fn(nc_nft_field_type(e->key_type, e->n_fields, i), k + off, len, data))
            return TRUE;
        off += (len + 3) & ~3u;
    }
    if (d) {
        guint n = nc_nft_type_fields(e->data_type);

        off = 0;
        for (guint i = 0; i < n; i++) {
            guint32 t = nc_nft_field_type(e->data_type, n, i);
            guint len = n == 1 ? (guint)dlen : nc_nft_type_size(t);

            if (!len || off + len > dlen)
                return FALSE;
            if (fn(t, d + off, len, data))
                return TRUE;
            off += (len + 3) & ~3u;
        }
    }
    return FALSE;
}

static gboolean nc_nft_elem_fields(const NcNftSetElem *e, NcNftFieldFunc fn, gpointer data)
{
    gsize klen, dlen = 0;
    const guint8 *k = g_bytes_get_data(e->key, &klen);
    const guint8 *d = e->data ? g_bytes_get_data(e->data, &dlen) : NULL;

    return nc_nft_fields(e, k, klen, d, dlen, fn, data);
}

static void nc_nft_format_field(GString *s, guint32 type, const guint8 *p, guint len);

/*
 * Bindings. An element that holds both an address field and a MAC field binds them: an
 * anti-spoofing set `ip saddr . ether saddr` lets the MAC send from the address. Such an element
 * is the domain's only when every address and every MAC in it is the domain's. One foreign field
 * would let the domain's MAC send from an address that is not its own (`10.0.0.99 . <its MAC>`),
 * or another MAC send from the domain's address (`<its address> . <another MAC>`): the source's
 * word cannot grant either, so the destination refuses such an element and the source, which
 * derives the domain the same way, records it as not carried instead of sending it. Elements
 * without both kinds (an address pair, a MAC pair, an address and a port) need one field of the
 * domain's, since the others are the peers it talks to.
 */
/* A field of an element, where it lies (no copy: a capture looks at every element of a set) */
typedef struct {
    guint32 type;
    const guint8 *p;
    guint len;
} NcNftField;

typedef struct {
    const NcOwner *owner;
    NcNftField what;    /* the first of the domain's fields (p NULL: none) */
    NcNftField foreign; /* the first address or MAC field that is not the domain's */
    gboolean has_addr;  /* an ipv4_addr or ipv6_addr field */
    gboolean has_mac;   /* an ether_addr field */
} NcNftOwnCtx;

static gboolean nc_nft_own_field(guint32 type, const guint8 *p, guint len, gpointer data)
{
    NcNftOwnCtx *c = data;
    NcNftField *slot;

    if (!nc_nft_type_is_owned_kind(type))
        return FALSE;
    if (type == NC_NFT_TYPE_ETHERADDR)
        c->has_mac = TRUE;
    else
        c->has_addr = TRUE;
    slot = nc_nft_field_owned(c->owner, type, p, len) ? &c->what : &c->foreign;
    if (!slot->p)
        *slot = (NcNftField){type, p, len};
    return FALSE; /* every field: a binding needs all of them */
}

static char *nc_nft_field_text(const NcNftField *f)
{
    g_autoptr(GString) s = g_string_new(NULL);

    nc_nft_format_field(s, f->type, f->p, f->len);
    return g_string_free(g_steal_pointer(&s), FALSE);
}

/* Decides from the fields that nc_nft_own_field() saw; @why gets the reason when not owned. */
static NcNftOwnership nc_nft_own_decide(const NcNftOwnCtx *c, char **why)
{
    if (!c->what.p) {
        if (why)
            *why = g_strdup("no field of its key or data holds one of the domain's addresses or "
                            "its MAC");
        return NC_NFT_OWN_NONE;
    }
    if (c->has_addr && c->has_mac && c->foreign.p) {
        if (why) {
            g_autofree char *what = nc_nft_field_text(&c->what);
            g_autofree char *foreign = nc_nft_field_text(&c->foreign);

            *why = g_strdup_printf("it binds the domain's %s to %s, which is not the domain's: "
                                   "an address . MAC binding is carried only if both are",
                                   what, foreign);
        }
        return NC_NFT_OWN_FOREIGN_BINDING;
    }
    return NC_NFT_OWN_YES;
}

static gboolean nc_nft_any_owned_kind(guint32 type, const guint8 *p, guint len, gpointer data)
{
    return nc_nft_type_is_owned_kind(type);
}

/* Can an element shaped like @shape (its types and lengths; the values do not matter) hold an
 * address or a MAC at all? */
gboolean nc_nft_set_elem_may_hold_owner(const NcNftSetElem *shape)
{
    return nc_nft_elem_fields(shape, nc_nft_any_owned_kind, NULL);
}

/**
 * nc_nft_set_ownership() - is the element the owner's, not at all, or a binding of the owner's
 * address or MAC to a foreign one (see "Bindings" above)
 * @owner: the domain as this host derived it
 * @e:     the element
 * @why:   (out) (optional) (transfer full): unless NC_NFT_OWN_YES, why not
 *
 * Return: the verdict
 */
NcNftOwnership nc_nft_set_ownership(const NcOwner *owner, const NcNftSetElem *e, char **why)
{
    NcNftOwnCtx c = {owner};

    nc_nft_elem_fields(e, nc_nft_own_field, &c);
    return nc_nft_own_decide(&c, why);
}

/**
 * nc_nft_set_owns() - is the element the domain's: a field of its key, or of its data for a map,
 * is one of the owner's addresses or its MAC, and, when it binds an address to a MAC, both are
 * @owner: the domain as this host derived it
 * @item:  an NcNftSetElem
 * @why:   (out) (optional) (transfer full): on FALSE, why not (for a refusal message)
 *
 * Return: TRUE if it is the owner's
 */
gboolean nc_nft_set_owns(const NcOwner *owner, gconstpointer item, char **why)
{
    return nc_nft_set_ownership(owner, item, why) == NC_NFT_OWN_YES;
}

/**
 * nc_nft_set_bytes_owned() - nc_nft_set_ownership() on a key and data not yet copied into an
 * element (a capture checks every element of a set; only those that concern the domain are
 * copied)
 * @owner: the domain
 * @shape: an element of the set with no key or data: its types and field lengths
 * @key, @klen: the key
 * @data, @dlen: a map's data, or NULL
 *
 * Return: the verdict
 */
NcNftOwnership nc_nft_set_bytes_owned(const NcOwner *owner, const NcNftSetElem *shape,
                                      const guint8 *key, gsize klen, const guint8 *data, gsize dlen)
{
    NcNftOwnCtx c = {owner};

    nc_nft_fields(shape, key, klen, data, dlen, nc_nft_own_field, &c);
    return nc_nft_own_decide(&c, NULL);
}

/* ---- class ops ---- */

static void nc_nft_put_str(GByteArray *b, const char *s)
{
    g_byte_array_append(b, (const guint8 *)s, strlen(s) + 1);
}

static void nc_nft_put_blob(GByteArray *b, GBytes *blob)
{
    gsize len = blob ? g_bytes_get_size(blob) : 0;

    nc_bytes_put_be(b, len, 2);
    if (len)
        g_byte_array_append(b, g_bytes_get_data(blob, NULL), len);
}

/* ---- reading canonical bytes back (what a peer sent) ---- */

typedef struct {
    const guint8 *p;
    gsize len;
    gsize off;
    const char *bad; /* the first field that did not decode */
} NcNftReader;

static guint64 nc_nft_rd_be(NcNftReader *r, guint n, const char *field)
{
    guint64 v = 0;

    if (r->bad || r->len - r->off < n) {
        r->bad = r->bad ? r->bad : field;
        return 0;
    }
    for (guint i = 0; i < n; i++)
        v = v << 8 | r->p[r->off++];
    return v;
}

static char *nc_nft_rd_str(NcNftReader *r, const char *field)
{
    const guint8 *nul;

    if (r->bad || !(nul = memchr(r->p + r->off, 0, r->len - r->off))) {
        r->bad = r->bad ? r->bad : field;
        return NULL;
    }
    {
        char *s = g_strndup((const char *)r->p + r->off, nul - (r->p + r->off));

        r->off = nul - r->p + 1;
        return s;
    }
}

static GBytes *nc_nft_rd_blob(NcNftReader *r, const char *field)
{
    gsize n = nc_nft_rd_be(r, 2, field);
    GBytes *b;

    if (r->bad || r->len - r->off < n) {
        r->bad = r->bad ? r->bad : field;
        return NULL;
    }
    b = n ? g_bytes_new(r->p + r->off, n) : NULL;
    r->off += n;
    return b;
}

/* A flag byte: 0 or 1, nothing else (the canonical bytes of an item are unique). */
static gboolean nc_nft_rd_bool(NcNftReader *r, const char *field)
{
    guint64 v = nc_nft_rd_be(r, 1, field);

    if (v > 1 && !r->bad)
        r->bad = field;
    return v == 1;
}

/* Ends a decode: every byte used and every field read, else NC_ERROR_INVALID_DATA naming it. */
static gboolean nc_nft_rd_end(NcNftReader *r, const char *class_name, GError **error)
{
    if (!r->bad && r->off != r->len)
        r->bad = "(bytes left over)";
    if (r->bad) {
        g_set_error(error, NC_ERROR, NC_ERROR_INVALID_DATA,
                    "an item of class %s does not decode at %s (%" G_GSIZE_FORMAT
                    " of %" G_GSIZE_FORMAT " bytes read)",
                    class_name, r->bad, r->off, r->len);
        return FALSE;
    }
    return TRUE;
}

static gboolean nc_nft_set_key(gconstpointer item, GByteArray *out, GError **error)
{
    const NcNftSetElem *e = item;

    g_byte_array_append(out, &e->family, 1);
    nc_nft_put_str(out, e->table);
    nc_nft_put_str(out, e->set);
    nc_nft_put_blob(out, e->key);
    return TRUE;
}

/* key, then every carried field in a fixed order (what the digest hashes) */
static gboolean nc_nft_set_encode(gconstpointer item, GByteArray *out, GError **error)
{
    const NcNftSetElem *e = item;

    nc_nft_set_key(item, out, error);
    nc_bytes_put_be(out, e->set_flags, 4);
    nc_bytes_put_be(out, e->key_type, 4);
    nc_bytes_put_be(out, e->key_len, 4);
    nc_bytes_put_be(out, e->data_type, 4);
    nc_bytes_put_be(out, e->data_len, 4);
    g_byte_array_append(out, &e->n_fields, 1);
    g_byte_array_append(out, e->field_len, e->n_fields);
    nc_nft_put_blob(out, e->data);
    nc_nft_put_str(out, e->objref ? e->objref : "");
    nc_bytes_put_be(out, e->has_timeout, 1);
    nc_bytes_put_be(out, e->timeout_ms, 8);
    nc_bytes_put_be(out, e->expires_ms, 8);
    nc_bytes_put_be(out, e->has_counter, 1);
    nc_bytes_put_be(out, e->packets, 8);
    nc_bytes_put_be(out, e->bytes, 8);
    return TRUE;
}

static gboolean nc_nft_describe_field(guint32 type, const guint8 *p, guint len, gpointer data)
{
    GString *s = data;
    NcAddr a = {0};

    if (s->len && s->str[s->len - 1] != ' ')
        g_string_append(s, " . ");
    /* a field shorter than its type (bytes a peer sent) is shown as bytes */
    if (len < nc_nft_type_size(type))
        type = 0;
    if (type == NC_NFT_TYPE_IPADDR || type == NC_NFT_TYPE_IP6ADDR) {
        char buf[NC_ADDR_STRLEN];

        a.family = type == NC_NFT_TYPE_IPADDR ? AF_INET : AF_INET6;
        memcpy(a.bytes, p, type == NC_NFT_TYPE_IPADDR ? 4 : 16);
        nc_addr_format(&a, buf, sizeof(buf));
        g_string_append(s, buf);
    } else if (type == NC_NFT_TYPE_ETHERADDR) {
        {
            g_autofree char *mac = nc_mac_to_string(p);

            g_string_append(s, mac);
        }
    } else {
        g_string_append(s, "0x");
        for (guint i = 0; i < len; i++)
            g_string_append_printf(s, "%02x", p[i]);
    }
    return FALSE;
}

char *nc_nft_set_describe(gconstpointer item)
{
    const NcNftSetElem *e = item;
    GString *s = g_string_new(NULL);
    g_autoptr(GString) fields = g_string_new(NULL);

    nc_nft_elem_fields(e, nc_nft_describe_field, fields);
    g_string_printf(s, "%s/%s/%s element %s", nc_nft_family_name(e->family), e->table, e->set,
                    fields->str);
    if (e->objref)
        g_string_append_printf(s, " : \"%s\"", e->objref);
    return g_string_free(s, FALSE);
}

/* what a re-capture may show differently: the remaining time ticks down, counters grow */
#define NC_NFT_EXPIRES_SLACK_MS 2000
/* the kernel keeps expiry in jiffies: a time given in ms may read back a few ms longer */
#define NC_NFT_JIFFY_SLACK_MS 20

static char *nc_nft_set_compare(gconstpointer pa, gconstpointer pb)
{
    const NcNftSetElem *a = pa, *b = pb;

    if ((a->data == NULL) != (b->data == NULL) || (a->data && !g_bytes_equal(a->data, b->data)))
        return g_strdup("the map's data differs");
    if (g_strcmp0(a->objref, b->objref) != 0)
        return g_strdup_printf("object \"%s\" expected, \"%s\" found", a->objref ? a->objref : "",
                               b->objref ? b->objref : "");
    if (a->has_timeout != b->has_timeout || a->timeout_ms != b->timeout_ms)
        return g_strdup_printf("timeout %" G_GUINT64_FORMAT " ms expected, %" G_GUINT64_FORMAT
                               " ms found",
                               a->timeout_ms, b->timeout_ms);
    if (a->has_timeout && (b->expires_ms > a->expires_ms + NC_NFT_JIFFY_SLACK_MS ||
                           a->expires_ms > b->expires_ms + NC_NFT_EXPIRES_SLACK_MS))
        return g_strdup_printf("%" G_GUINT64_FORMAT " ms remaining expected, %" G_GUINT64_FORMAT
                               " ms found",
                               a->expires_ms, b->expires_ms);
    if (a->has_counter && (!b->has_counter || b->packets < a->packets || b->bytes < a->bytes))
        return g_strdup_printf("counter at least %" G_GUINT64_FORMAT " packets %" G_GUINT64_FORMAT
                               " bytes expected, %" G_GUINT64_FORMAT " packets %" G_GUINT64_FORMAT
                               " bytes found",
                               a->packets, a->bytes, b->packets, b->bytes);
    return NULL;
}

/* the inverse of nc_nft_set_encode() */
static gpointer nc_nft_set_decode(const guint8 *data, gsize len, GError **error)
{
    NcNftReader r = {data, len, 0, NULL};
    g_autoptr(NcNftSetElem) e = g_new0(NcNftSetElem, 1);
    g_autofree char *objref = NULL;

    e->family = (guint8)nc_nft_rd_be(&r, 1, "family");
    e->table = nc_nft_rd_str(&r, "table");
    e->set = nc_nft_rd_str(&r, "set");
    e->key = nc_nft_rd_blob(&r, "key");
    e->set_flags = (guint32)nc_nft_rd_be(&r, 4, "set flags");
    e->key_type = (guint32)nc_nft_rd_be(&r, 4, "key type");
    e->key_len = (guint32)nc_nft_rd_be(&r, 4, "key length");
    e->data_type = (guint32)nc_nft_rd_be(&r, 4, "data type");
    e->data_len = (guint32)nc_nft_rd_be(&r, 4, "data length");
    e->n_fields = (guint8)nc_nft_rd_be(&r, 1, "fields");
    if (e->n_fields > NC_NFT_SET_FIELDS_MAX && !r.bad)
        r.bad = "fields";
    for (guint i = 0; i < e->n_fields && !r.bad; i++)
        e->field_len[i] = (guint8)nc_nft_rd_be(&r, 1, "field length");
    e->data = nc_nft_rd_blob(&r, "data");
    objref = nc_nft_rd_str(&r, "object");
    e->has_timeout = nc_nft_rd_bool(&r, "timeout flag");
    e->timeout_ms = nc_nft_rd_be(&r, 8, "timeout");
    e->expires_ms = nc_nft_rd_be(&r, 8, "expires");
    e->has_counter = nc_nft_rd_bool(&r, "counter flag");
    e->packets = nc_nft_rd_be(&r, 8, "packets");
    e->bytes = nc_nft_rd_be(&r, 8, "bytes");
    if (!r.bad && !e->key)
        r.bad = "key";
    if (!nc_nft_rd_end(&r, "nft-set", error))
        return NULL;
    if (objref && *objref)
        e->objref = g_steal_pointer(&objref);
    return g_steal_pointer(&e);
}

/* ---- the readable form of keys and data (the bundle's) ---- */

/* The fields of an element's key (@data FALSE) or of a map's data, as its shape gives them.
 * Return: how many (0: the shape gives no typed fields, e.g. a verdict or a type of unknown size)
 */
static guint nc_nft_value_fields(const NcNftSetElem *e, gboolean data, guint32 *types, guint *lens)
{
    guint n;

    if (!data) {
        n = MIN(e->n_fields, NC_NFT_SET_FIELDS_MAX);
        for (guint i = 0; i < n; i++) {
            types[i] = nc_nft_field_type(e->key_type, n, i);
            lens[i] = e->field_len[i];
            if (!lens[i])
                return 0;
        }
        return n;
    }
    n = nc_nft_type_fields(e->data_type);
    if (n > NC_NFT_SET_FIELDS_MAX)
        return 0;
    for (guint i = 0; i < n; i++) {
        types[i] = nc_nft_field_type(e->data_type, n, i);
        lens[i] = n == 1 ? e->data_len : nc_nft_type_size(types[i]);
        if (!lens[i] || lens[i] > 255) /* a field is at most 255 bytes (NFTA_SET_FIELD_LEN) */
            return 0;
    }
    return n;
}

static void nc_nft_format_field(GString *s, guint32 type, const guint8 *p, guint len)
{
    NcAddr a = {0};
    char buf[NC_ADDR_STRLEN];

    if ((type == NC_NFT_TYPE_IPADDR && len == 4) || (type == NC_NFT_TYPE_IP6ADDR && len == 16)) {
        a.family = len == 4 ? AF_INET : AF_INET6;
        memcpy(a.bytes, p, len);
        nc_addr_format(&a, buf, sizeof(buf));
        g_string_append(s, buf);
    } else if (type == NC_NFT_TYPE_ETHERADDR && len == 6) {
        {
            g_autofree char *mac = nc_mac_to_string(p);

            g_string_append(s, mac);
        }
    } else if (type == NC_NFT_TYPE_INET_SERVICE && len == 2) {
        g_string_append_printf(s, "%u", (guint)p[0] << 8 | p[1]);
    } else if (type == NC_NFT_TYPE_INET_PROTOCOL && len == 1) {
        g_string_append_printf(s, "%u", p[0]);
    } else {
        g_string_append(s, "0x");
        for (guint i = 0; i < len; i++)
            g_string_append_printf(s, "%02x", p[i]);
    }
}

static gboolean nc_nft_parse_field(const char *text, guint32 type, guint len, guint8 *out)
{
    NcAddr a;
    guint64 v;

    if ((type == NC_NFT_TYPE_IPADDR && len == 4) || (type == NC_NFT_TYPE_IP6ADDR && len == 16)) {
        if (!nc_addr_parse(text, &a, NULL) || a.family != (len == 4 ? AF_INET : AF_INET6))
            return FALSE;
        memcpy(out, a.bytes, len);
        return TRUE;
    }
    if (type == NC_NFT_TYPE_ETHERADDR && len == 6)
        return nc_mac_parse(text, out);
    if ((type == NC_NFT_TYPE_INET_SERVICE && len == 2) ||
        (type == NC_NFT_TYPE_INET_PROTOCOL && len == 1)) {
        if (!g_ascii_string_to_unsigned(text, 10, 0, len == 2 ? G_MAXUINT16 : G_MAXUINT8, &v, NULL))
            return FALSE;
        if (len == 2)
            out[0] = (guint8)(v >> 8);
        out[len - 1] = (guint8)v;
        return TRUE;
    }
    if (!g_str_has_prefix(text, "0x") || strlen(text) != 2 + 2 * (gsize)len)
        return FALSE;
    for (guint i = 0; i < len; i++) {
        int hi = g_ascii_xdigit_value(text[2 + 2 * i]), lo = g_ascii_xdigit_value(text[3 + 2 * i]);

        if (hi < 0 || lo < 0)
            return FALSE;
        out[i] = (guint8)(hi << 4 | lo);
    }
    return TRUE;
}

/**
 * nc_nft_value_from_string() - the bytes of a key (@data FALSE) or a map's data from the
 * readable form nc_nft_value_to_string() writes
 * @e:     the element's shape (types, field lengths)
 * @data:  whether the value is a map's data
 * @text:  the fields, joined by " . "
 * @error: NC_ERROR_INVALID_DATA naming the field that does not fit the shape
 *
 * Each field is as long as the shape says; in a concatenation (several fields) each is padded
 * with zeros to 4 bytes, as the kernel holds it.
 *
 * Return: (transfer full): the bytes, or NULL
 */
GBytes *nc_nft_value_from_string(const NcNftSetElem *e, gboolean data, const char *text,
                                 GError **error)
{
    guint32 types[NC_NFT_SET_FIELDS_MAX];
    guint lens[NC_NFT_SET_FIELDS_MAX];
    guint n = nc_nft_value_fields(e, data, types, lens);
    g_auto(GStrv) parts = g_strsplit(text, " . ", -1);
    g_autoptr(GByteArray) b = g_byte_array_new();

    if (!n || g_strv_length(parts) != n) {
        g_set_error(error, NC_ERROR, NC_ERROR_INVALID_DATA,
                    "'%s' has %u field%s, the set's %s has %u; write it with encoding=\"hex\" "
                    "when its type has no readable form",
                    text, g_strv_length(parts), g_strv_length(parts) == 1 ? "" : "s",
                    data ? "data" : "key", n);
        return NULL;
    }
    for (guint i = 0; i < n; i++) {
        guint8 field[256] = {0};
        guint padded = n > 1 ? (lens[i] + 3) & ~3u : lens[i];

        if (!nc_nft_parse_field(parts[i], types[i], lens[i], field)) {
            g_set_error(error, NC_ERROR, NC_ERROR_INVALID_DATA,
                        "field %u '%s' is not a value of %u byte%s of its type (an address, a "
                        "MAC, a port or protocol number, or 0x and %u hexadecimal digits)",
                        i + 1, parts[i], lens[i], lens[i] == 1 ? "" : "s", 2 * lens[i]);
            return NULL;
        }
        g_byte_array_append(b, field, padded);
    }
    return g_byte_array_free_to_bytes(g_steal_pointer(&b));
}

/**
 * nc_nft_value_to_string() - a key (@data FALSE) or a map's data as nft prints it: its fields
 * joined by " . ", each by its type
 * @e:     the element's shape
 * @data:  whether @value is a map's data
 * @value: the bytes
 *
 * Return: (transfer full) (nullable): the text, or NULL when the readable form would not give
 * back exactly @value (padding that is not zero, a length the shape does not give, a type
 * without fields): the caller writes the bytes instead
 */
char *nc_nft_value_to_string(const NcNftSetElem *e, gboolean data, GBytes *value)
{
    guint32 types[NC_NFT_SET_FIELDS_MAX];
    guint lens[NC_NFT_SET_FIELDS_MAX];
    guint n = nc_nft_value_fields(e, data, types, lens);
    gsize len, off = 0;
    const guint8 *p = g_bytes_get_data(value, &len);
    g_autoptr(GString) s = g_string_new(NULL);
    g_autoptr(GBytes) back = NULL;

    for (guint i = 0; i < n; i++) {
        guint padded = n > 1 ? (lens[i] + 3) & ~3u : lens[i];

        if (off + padded > len)
            return NULL;
        if (i)
            g_string_append(s, " . ");
        nc_nft_format_field(s, types[i], p + off, lens[i]);
        off += padded;
    }
    if (!n || off != len)
        return NULL;
    back = nc_nft_value_from_string(e, data, s->str, NULL);
    if (!back || !g_bytes_equal(back, value))
        return NULL;
    return g_string_free(g_steal_pointer(&s), FALSE);
}

const NcClassOps nc_nft_set_class = {
    .name = "nft-set",
    .key = nc_nft_set_key,
    .encode = nc_nft_set_encode,
    .decode = nc_nft_set_decode,
    .describe = nc_nft_set_describe,
    .compare = nc_nft_set_compare,
    .owns = nc_nft_set_owns,
    .free = (GDestroyNotify)nc_nft_set_elem_free,
};

/* ---- named counters and quotas ---- */

void nc_nft_obj_free(NcNftObj *obj)
{
    if (!obj)
        return;
    g_free(obj->table);
    g_free(obj->name);
    g_free(obj);
}

const char *nc_nft_obj_type_name(guint32 type)
{
    switch (type) {
    case NFT_OBJECT_COUNTER:
        return "counter";
    case NFT_OBJECT_QUOTA:
        return "quota";
    case NFT_OBJECT_LIMIT:
        return "limit";
    case NFT_OBJECT_CONNLIMIT:
        return "ct count";
    default:
        return "object";
    }
}

gboolean nc_nft_obj_type_parse(const char *name, guint32 *type)
{
    if (g_strcmp0(name, "counter") == 0)
        *type = NFT_OBJECT_COUNTER;
    else if (g_strcmp0(name, "quota") == 0)
        *type = NFT_OBJECT_QUOTA;
    else if (g_strcmp0(name, "limit") == 0)
        *type = NFT_OBJECT_LIMIT;
    else if (g_strcmp0(name, "connlimit") == 0 || g_strcmp0(name, "ct count") == 0)
        *type = NFT_OBJECT_CONNLIMIT;
    else
        return FALSE;
    return TRUE;
}

/* ---- class ops ---- */

static gboolean nc_nft_obj_key(gconstpointer item, GByteArray *out, GError **error)
{
    const NcNftObj *o = item;

    g_byte_array_append(out, &o->family, 1);
    nc_nft_put_str(out, o->table);
    nc_nft_put_str(out, o->name);
    nc_bytes_put_be(out, o->type, 4);
    return TRUE;
}

static gboolean nc_nft_obj_encode(gconstpointer item, GByteArray *out, GError **error)
{
    const NcNftObj *o = item;

    nc_nft_obj_key(item, out, error);
    nc_bytes_put_be(out, o->packets, 8);
    nc_bytes_put_be(out, o->bytes, 8);
    nc_bytes_put_be(out, o->consumed, 8);
    nc_bytes_put_be(out, o->flags, 4);
    return TRUE;
}

char *nc_nft_obj_describe(gconstpointer item)
{
    const NcNftObj *o = item;

    if (o->type == NFT_OBJECT_QUOTA)
        return g_strdup_printf(
            "quota %s/%s/%s (%s %" G_GUINT64_FORMAT " bytes, used %" G_GUINT64_FORMAT ")",
            nc_nft_family_name(o->family), o->table, o->name,
            o->flags & NFT_QUOTA_F_INV ? "over" : "until", o->bytes, o->consumed);
    return g_strdup_printf("%s %s/%s/%s (packets %" G_GUINT64_FORMAT " bytes %" G_GUINT64_FORMAT
                           ")",
                           nc_nft_obj_type_name(o->type), nc_nft_family_name(o->family), o->table,
                           o->name, o->packets, o->bytes);
}

/* a value found again may only have grown since it was applied */
static char *nc_nft_obj_compare(gconstpointer pa, gconstpointer pb)
{
    const NcNftObj *a = pa, *b = pb;

    if (b->packets < a->packets || b->bytes < a->bytes || b->consumed < a->consumed)
        return g_strdup_printf("below the carried value (packets %" G_GUINT64_FORMAT
                               " bytes %" G_GUINT64_FORMAT " used %" G_GUINT64_FORMAT ")",
                               a->packets, a->bytes, a->consumed);
    return NULL;
}

/* objects are named by the domain's profile: being named is being the domain's */
gboolean nc_nft_obj_owns(const NcOwner *owner, gconstpointer item, char **why)
{
    const NcNftObj *o = item;

    for (guint i = 0; owner->objects && i < owner->objects->len; i++) {
        const NcObjectRef *r = g_ptr_array_index(owner->objects, i);
        guint8 family;

        if (nc_nft_family_parse(r->family, &family) && family == o->family &&
            g_strcmp0(r->table, o->table) == 0 && g_strcmp0(r->name, o->name) == 0)
            return TRUE;
    }
    if (why)
        *why = g_strdup("the domain's profile does not name it");
    return FALSE;
}

/* the inverse of nc_nft_obj_encode() */
static gpointer nc_nft_obj_decode(const guint8 *data, gsize len, GError **error)
{
    NcNftReader r = {data, len, 0, NULL};
    g_autoptr(NcNftObj) o = g_new0(NcNftObj, 1);

    o->family = (guint8)nc_nft_rd_be(&r, 1, "family");
    o->table = nc_nft_rd_str(&r, "table");
    o->name = nc_nft_rd_str(&r, "name");
    o->type = (guint32)nc_nft_rd_be(&r, 4, "type");
    o->packets = nc_nft_rd_be(&r, 8, "packets");
    o->bytes = nc_nft_rd_be(&r, 8, "bytes");
    o->consumed = nc_nft_rd_be(&r, 8, "consumed");
    o->flags = (guint32)nc_nft_rd_be(&r, 4, "flags");
    if (!r.bad && o->type != NFT_OBJECT_COUNTER && o->type != NFT_OBJECT_QUOTA)
        r.bad = "type";
    if (!nc_nft_rd_end(&r, "nft-object", error))
        return NULL;
    return g_steal_pointer(&o);
}

const NcClassOps nc_nft_obj_class = {
    .name = "nft-object",
    .key = nc_nft_obj_key,
    .encode = nc_nft_obj_encode,
    .decode = nc_nft_obj_decode,
    .describe = nc_nft_obj_describe,
    .compare = nc_nft_obj_compare,
    .owns = nc_nft_obj_owns,
    .free = (GDestroyNotify)nc_nft_obj_free,
};
