/* nc-item-set.c - a keyed set of one class's items with an incremental digest
 *
 * Theory of operation: nc-item-set.h and src/drivers/nc-state-driver.h. The set stores each item
 * under its canonical key bytes; the digest is kept as the items come and go, an upsert adding the
 * new item's hash and subtracting the replaced one's, a removal subtracting. Each slot keeps its
 * item's hash, so that nothing is hashed twice, and its key bytes inline: the engine streams
 * 100k conntrack entries through these sets, and an upsert allocates one slot and nothing else.
 */
#include <string.h>

#include "conf/nc-item-set.h"
#include "util/nc-error.h"

/* ---- digest ---- */

void nc_digest_init(NcDigest *digest)
{
    memset(digest, 0, sizeof(*digest));
}

static void nc_digest_hash(GChecksum *sum, const guint8 *data, gsize len,
                           guint8 out[NC_DIGEST_SIZE])
{
    gsize n = NC_DIGEST_SIZE;

    g_checksum_reset(sum);
    g_checksum_update(sum, data, len);
    g_checksum_get_digest(sum, out, &n);
}

static void nc_digest_add_hash(NcDigest *digest, const guint8 h[NC_DIGEST_SIZE])
{
    guint carry = 0;

    for (int i = NC_DIGEST_SIZE - 1; i >= 0; i--) {
        carry += digest->sum[i] + h[i];
        digest->sum[i] = carry & 0xff;
        carry >>= 8;
    }
}

static void nc_digest_remove_hash(NcDigest *digest, const guint8 h[NC_DIGEST_SIZE])
{
    int borrow = 0;

    for (int i = NC_DIGEST_SIZE - 1; i >= 0; i--) {
        int d = digest->sum[i] - h[i] - borrow;

        borrow = d < 0;
        digest->sum[i] = (guint8)(d + (borrow ? 256 : 0));
    }
}

void nc_digest_add_bytes(NcDigest *digest, const guint8 *data, gsize len)
{
    g_autoptr(GChecksum) sum = g_checksum_new(G_CHECKSUM_SHA256);
    guint8 h[NC_DIGEST_SIZE];

    nc_digest_hash(sum, data, len, h);
    nc_digest_add_hash(digest, h);
}

void nc_digest_remove_bytes(NcDigest *digest, const guint8 *data, gsize len)
{
    g_autoptr(GChecksum) sum = g_checksum_new(G_CHECKSUM_SHA256);
    guint8 h[NC_DIGEST_SIZE];

    nc_digest_hash(sum, data, len, h);
    nc_digest_remove_hash(digest, h);
}

gboolean nc_digest_equal(const NcDigest *a, const NcDigest *b)
{
    return memcmp(a->sum, b->sum, NC_DIGEST_SIZE) == 0;
}

char *nc_digest_to_string(const NcDigest *digest)
{
    GString *s = g_string_sized_new(2 * NC_DIGEST_SIZE);

    for (gsize i = 0; i < NC_DIGEST_SIZE; i++)
        g_string_append_printf(s, "%02x", digest->sum[i]);
    return g_string_free(s, FALSE);
}

/* ---- the set ---- */

/* A key as the table sees it: a slot's own bytes, or a caller's for a lookup (on the stack). */
typedef struct {
    const guint8 *data;
    gsize len;
    guint hash;
} NcItemKey;

/* One item, with its key bytes inline: an upsert allocates the slot and nothing else. */
typedef struct {
    NcItemKey key; /* first: the table's key is the slot itself */
    gpointer item;
    guint8 hash[NC_DIGEST_SIZE]; /* what the digest holds for the item: subtracted as added */
    guint8 bytes[];
} NcItemSlot;

struct _NcItemSet {
    const NcClassOps *ops;
    GHashTable *items; /* NcItemKey* (the slot) -> NcItemSlot*, the same pointer */
    gboolean keeps_digest;
    NcDigest digest;
    GByteArray *scratch; /* an upsert's key and canonical bytes, reused */
    GChecksum *sha256;   /* reused likewise */
};

static guint nc_item_key_hash_bytes(const guint8 *p, gsize len)
{
    guint h = 5381; /* g_bytes_hash()'s */

    for (gsize i = 0; i < len; i++)
        h = (h << 5) + h + p[i];
    return h;
}

static NcItemKey nc_item_key_of_bytes(const guint8 *data, gsize len)
{
    NcItemKey k = {data, len, nc_item_key_hash_bytes(data, len)};

    return k;
}

static guint nc_item_key_hash(gconstpointer p)
{
    return ((const NcItemKey *)p)->hash;
}

static gboolean nc_item_key_equal(gconstpointer pa, gconstpointer pb)
{
    const NcItemKey *a = pa, *b = pb;

    return a->hash == b->hash && a->len == b->len && memcmp(a->data, b->data, a->len) == 0;
}

static void nc_item_slot_free(NcItemSlot *slot, const NcClassOps *ops)
{
    ops->free(slot->item);
    g_free(slot);
}

static NcItemSet *nc_item_set_new_full(const NcClassOps *ops, gboolean keeps_digest)
{
    NcItemSet *set = g_new0(NcItemSet, 1);

    set->ops = ops;
    set->items = g_hash_table_new(nc_item_key_hash, nc_item_key_equal);
    set->keeps_digest = keeps_digest;
    set->scratch = g_byte_array_sized_new(256);
    set->sha256 = g_checksum_new(G_CHECKSUM_SHA256);
    return set;
}

NcItemSet *nc_item_set_new(const NcClassOps *ops)
{
    return nc_item_set_new_full(ops, TRUE);
}

/**
 * nc_item_set_new_without_digest() - a set that keeps its items and count but no digest
 * @ops: the class
 *
 * For a set that is never sealed (what a carry installed, for its roll-back): an upsert then
 * costs no hash. nc_item_set_digest() and nc_item_set_check_seal() are not for it.
 *
 * Return: (transfer full): the empty set
 */
NcItemSet *nc_item_set_new_without_digest(const NcClassOps *ops)
{
    return nc_item_set_new_full(ops, FALSE);
}

void nc_item_set_free(NcItemSet *set)
{
    GHashTableIter it;
    gpointer slot;

    if (!set)
        return;
    g_hash_table_iter_init(&it, set->items);
    while (g_hash_table_iter_next(&it, NULL, &slot))
        nc_item_slot_free(slot, set->ops);
    g_hash_table_unref(set->items);
    g_byte_array_unref(set->scratch);
    g_checksum_free(set->sha256);
    g_free(set);
}

const NcClassOps *nc_item_set_ops(const NcItemSet *set)
{
    return set->ops;
}

/**
 * nc_item_set_key_of() - the canonical key of @item, as the set stores it
 * @set:   the set (its class says how to key)
 * @item:  an item of the set's class
 * @error: NC_ERROR_INVALID_ARG if the item has no canonical key
 *
 * Return: (transfer full): the key, or NULL
 */
GBytes *nc_item_set_key_of(const NcItemSet *set, gconstpointer item, GError **error)
{
    g_autoptr(GByteArray) b = g_byte_array_sized_new(64);

    if (!set->ops->key(item, b, error))
        return NULL;
    return g_byte_array_free_to_bytes(g_steal_pointer(&b));
}

/**
 * nc_item_set_upsert() - add @item, replacing the item with the same key if there is one
 * @set:      the set
 * @item:     (transfer full): the item; freed with the class's free even on failure
 * @replaced: (out) (optional): whether an item with the same key was there
 * @error:    NC_ERROR_INVALID_ARG if the item has no canonical form (the set is unchanged)
 *
 * Return: TRUE on success
 */
gboolean nc_item_set_upsert(NcItemSet *set, gpointer item, gboolean *replaced, GError **error)
{
    GByteArray *b = set->scratch;
    NcItemSlot *slot, *old;
    guint key_len;

    g_byte_array_set_size(b, 0);
    if (!set->ops->key(item, b, error)) {
        set->ops->free(item);
        return FALSE;
    }
    key_len = b->len;
    if (set->keeps_digest && !set->ops->encode(item, b, error)) {
        set->ops->free(item);
        return FALSE;
    }
    slot = g_malloc(sizeof(NcItemSlot) + key_len);
    memcpy(slot->bytes, b->data, key_len);
    slot->key = nc_item_key_of_bytes(slot->bytes, key_len);
    slot->item = item;
    if (set->keeps_digest) {
        nc_digest_hash(set->sha256, b->data + key_len, b->len - key_len, slot->hash);
        nc_digest_add_hash(&set->digest, slot->hash);
    }
    old = g_hash_table_lookup(set->items, &slot->key);
    g_hash_table_add(set->items, slot); /* takes the place of @old's key and value */
    if (old) {
        if (set->keeps_digest)
            nc_digest_remove_hash(&set->digest, old->hash);
        nc_item_slot_free(old, set->ops);
    }
    if (replaced)
        *replaced = old != NULL;
    return TRUE;
}

static NcItemSlot *nc_item_set_slot(const NcItemSet *set, GBytes *key)
{
    gsize len;
    const guint8 *data = g_bytes_get_data(key, &len);
    NcItemKey k = nc_item_key_of_bytes(data, len);

    return g_hash_table_lookup(set->items, &k);
}

/**
 * nc_item_set_remove_key() - remove the item stored under @key; a key not there is no error (the
 * item may have expired on both sides)
 * @set:     the set
 * @key:     a canonical key (nc_item_set_key_of(), or as received from a peer)
 * @removed: (out) (optional): whether it was there
 *
 * Return: TRUE
 */
gboolean nc_item_set_remove_key(NcItemSet *set, GBytes *key, gboolean *removed)
{
    NcItemSlot *old = nc_item_set_slot(set, key);

    if (removed)
        *removed = old != NULL;
    if (!old)
        return TRUE;
    if (set->keeps_digest)
        nc_digest_remove_hash(&set->digest, old->hash);
    g_hash_table_remove(set->items, &old->key);
    nc_item_slot_free(old, set->ops);
    return TRUE;
}

gboolean nc_item_set_remove(NcItemSet *set, gconstpointer item_or_key_of, gboolean *removed,
                            GError **error)
{
    g_autoptr(GBytes) key = nc_item_set_key_of(set, item_or_key_of, error);

    return key && nc_item_set_remove_key(set, key, removed);
}

gconstpointer nc_item_set_lookup_key(const NcItemSet *set, GBytes *key)
{
    NcItemSlot *slot = nc_item_set_slot(set, key);

    return slot ? slot->item : NULL;
}

gconstpointer nc_item_set_lookup(const NcItemSet *set, gconstpointer item_with_key)
{
    g_autoptr(GBytes) key = nc_item_set_key_of(set, item_with_key, NULL);

    return key ? nc_item_set_lookup_key(set, key) : NULL;
}

guint nc_item_set_count(const NcItemSet *set)
{
    return g_hash_table_size(set->items);
}

const NcDigest *nc_item_set_digest(const NcItemSet *set)
{
    g_return_val_if_fail(set->keeps_digest, NULL);
    return &set->digest;
}

/* Return: (transfer container): the items, owned by the set, in no particular order */
GPtrArray *nc_item_set_items(const NcItemSet *set)
{
    GPtrArray *out = g_ptr_array_sized_new(g_hash_table_size(set->items));
    GHashTableIter it;
    gpointer slot;

    g_hash_table_iter_init(&it, set->items);
    while (g_hash_table_iter_next(&it, NULL, &slot))
        g_ptr_array_add(out, ((NcItemSlot *)slot)->item);
    return out;
}

/**
 * nc_item_set_check_owned() - is every item the domain's, by the destination's own view
 * @set:   the items to install
 * @owner: the domain as this host derived it
 * @error: NC_ERROR_INVALID_DATA naming the first item that is not the domain's, and why
 *
 * Return: TRUE if all are
 */
gboolean nc_item_set_check_owned(const NcItemSet *set, const NcOwner *owner, GError **error)
{
    g_autoptr(GPtrArray) list = nc_item_set_items(set);

    for (guint i = 0; i < list->len; i++) {
        g_autofree char *why = NULL;

        if (!set->ops->owns(owner, list->pdata[i], &why)) {
            g_autofree char *what = set->ops->describe(list->pdata[i]);

            g_set_error(error, NC_ERROR, NC_ERROR_INVALID_DATA,
                        "%s is not the domain's (%s): nothing of class %s is installed", what,
                        why ? why : "refused", set->ops->name);
            return FALSE;
        }
    }
    return TRUE;
}

/**
 * nc_item_set_check_seal() - whether the set is exactly what a sender sealed
 * @set:    the receiver's set
 * @count:  items in the sender's set
 * @digest: the sender's digest
 * @error:  NC_ERROR_INVALID_DATA naming the class and what differs
 *
 * Return: TRUE if count and digest match
 */
gboolean nc_item_set_check_seal(const NcItemSet *set, guint64 count, const NcDigest *digest,
                                GError **error)
{
    g_return_val_if_fail(set->keeps_digest, FALSE);
    if (count != nc_item_set_count(set)) {
        g_set_error(error, NC_ERROR, NC_ERROR_INVALID_DATA,
                    "seal of class %s: the source's set has %" G_GUINT64_FORMAT
                    " items, this host's %u",
                    set->ops->name, count, nc_item_set_count(set));
        return FALSE;
    }
    if (!nc_digest_equal(digest, &set->digest)) {
        g_autofree char *a = nc_digest_to_string(digest);
        g_autofree char *b = nc_digest_to_string(&set->digest);

        g_set_error(error, NC_ERROR, NC_ERROR_INVALID_DATA,
                    "seal of class %s: digest of the source's set %.16s... differs from this "
                    "host's %.16s... (same count %u): some item arrived changed",
                    set->ops->name, a, b, nc_item_set_count(set));
        return FALSE;
    }
    return TRUE;
}

/* ---- diff ---- */

void nc_item_diff_free(NcItemDiff *diff)
{
    if (!diff)
        return;
    g_ptr_array_unref(diff->missing);
    g_ptr_array_unref(diff->extra);
    g_ptr_array_unref(diff->changed);
    g_free(diff);
}

gboolean nc_item_diff_is_empty(const NcItemDiff *diff)
{
    return !diff->missing->len && !diff->extra->len && !diff->changed->len;
}

/* whether @a and @b have the same canonical bytes (items that cannot be encoded do not) */
static gboolean nc_item_same_bytes(const NcClassOps *ops, gconstpointer a, gconstpointer b)
{
    g_autoptr(GByteArray) ea = g_byte_array_new();
    g_autoptr(GByteArray) eb = g_byte_array_new();

    return ops->encode(a, ea, NULL) && ops->encode(b, eb, NULL) && ea->len == eb->len &&
           memcmp(ea->data, eb->data, ea->len) == 0;
}

/**
 * nc_item_set_diff() - how @b differs from @a, item by item (matched by key)
 * @a: the expected set (what was installed)
 * @b: the set found (captured again), of the same class
 *
 * Return: (transfer full): the differences, each a line naming the item
 */
NcItemDiff *nc_item_set_diff(const NcItemSet *a, const NcItemSet *b)
{
    NcItemDiff *diff = g_new0(NcItemDiff, 1);
    GHashTableIter it;
    gpointer key, slot;

    diff->missing = g_ptr_array_new_with_free_func(g_free);
    diff->extra = g_ptr_array_new_with_free_func(g_free);
    diff->changed = g_ptr_array_new_with_free_func(g_free);
    g_hash_table_iter_init(&it, a->items);
    while (g_hash_table_iter_next(&it, &key, &slot)) {
        NcItemSlot *other = g_hash_table_lookup(b->items, key);
        gconstpointer item = ((NcItemSlot *)slot)->item;

        if (!other) {
            g_ptr_array_add(diff->missing, a->ops->describe(item));
        } else if (a->ops->compare) {
            g_autofree char *why = a->ops->compare(item, other->item);

            if (why) {
                g_autofree char *what = a->ops->describe(item);

                g_ptr_array_add(diff->changed, g_strdup_printf("%s: %s", what, why));
            }
        } else if (!nc_item_same_bytes(a->ops, item, other->item)) {
            g_ptr_array_add(diff->changed, a->ops->describe(item));
        }
    }
    g_hash_table_iter_init(&it, b->items);
    while (g_hash_table_iter_next(&it, &key, &slot))
        if (!g_hash_table_contains(a->items, key))
            g_ptr_array_add(diff->extra, b->ops->describe(((NcItemSlot *)slot)->item));
    return diff;
}

/* ---- an item's share of a digest, for a table kept outside an NcItemSet ---- */

/**
 * nc_digest_share_of() - what @item adds to a digest (SHA-256 of its canonical bytes), the same
 * share nc_item_set_upsert() adds: a table that keeps the share beside the item can keep a digest
 * equal to an NcItemSet's of the same items with nc_digest_add_share()/nc_digest_remove_share()
 * @ops:    the item's class
 * @sha256: a G_CHECKSUM_SHA256 to reuse
 * @item:   the item
 * @out:    (out): the share
 * @error:  as @ops->encode
 */
gboolean nc_digest_share_of(const NcClassOps *ops, GChecksum *sha256, gconstpointer item,
                            guint8 out[NC_DIGEST_SIZE], GError **error)
{
    g_autoptr(GByteArray) b = g_byte_array_sized_new(256);

    if (!ops->encode(item, b, error))
        return FALSE;
    nc_digest_hash(sha256, b->data, b->len, out);
    return TRUE;
}

void nc_digest_add_share(NcDigest *digest, const guint8 share[NC_DIGEST_SIZE])
{
    nc_digest_add_hash(digest, share);
}

void nc_digest_remove_share(NcDigest *digest, const guint8 share[NC_DIGEST_SIZE])
{
    nc_digest_remove_hash(digest, share);
}
