/* nc-item-set.c - a keyed set of one class's items with an incremental digest
 *
 * Theory of operation: nc-item-set.h and src/drivers/nc-state-driver.h. The set stores each item
 * under its canonical key bytes; the digest is kept as the items come and go, an upsert adding the
 * new item's hash and subtracting the replaced one's, a removal subtracting.
 */
#include <string.h>

#include "conf/nc-item-set.h"
#include "util/nc-error.h"

/* ---- digest ---- */

void nc_digest_init(NcDigest *digest)
{
    memset(digest, 0, sizeof(*digest));
}

static void nc_digest_hash(const guint8 *data, gsize len, guint8 out[NC_DIGEST_SIZE])
{
    g_autoptr(GChecksum) sum = g_checksum_new(G_CHECKSUM_SHA256);
    gsize n = NC_DIGEST_SIZE;

    g_checksum_update(sum, data, len);
    g_checksum_get_digest(sum, out, &n);
}

void nc_digest_add_bytes(NcDigest *digest, const guint8 *data, gsize len)
{
    guint8 h[NC_DIGEST_SIZE];
    guint carry = 0;

    nc_digest_hash(data, len, h);
    for (int i = NC_DIGEST_SIZE - 1; i >= 0; i--) {
        carry += digest->sum[i] + h[i];
        digest->sum[i] = carry & 0xff;
        carry >>= 8;
    }
}

void nc_digest_remove_bytes(NcDigest *digest, const guint8 *data, gsize len)
{
    guint8 h[NC_DIGEST_SIZE];
    int borrow = 0;

    nc_digest_hash(data, len, h);
    for (int i = NC_DIGEST_SIZE - 1; i >= 0; i--) {
        int d = digest->sum[i] - h[i] - borrow;

        borrow = d < 0;
        digest->sum[i] = (guint8)(d + (borrow ? 256 : 0));
    }
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

typedef struct {
    gpointer item;
    GBytes *encoding; /* what the digest holds for it: subtracted as it was added */
} NcItemSlot;

struct _NcItemSet {
    const NcClassOps *ops;
    GHashTable *items; /* GBytes key -> NcItemSlot* */
    NcDigest digest;
};

static void nc_item_slot_free(gpointer p, gpointer ops)
{
    NcItemSlot *slot = p;

    ((const NcClassOps *)ops)->free(slot->item);
    g_bytes_unref(slot->encoding);
    g_free(slot);
}

NcItemSet *nc_item_set_new(const NcClassOps *ops)
{
    NcItemSet *set = g_new0(NcItemSet, 1);

    set->ops = ops;
    set->items =
        g_hash_table_new_full(g_bytes_hash, g_bytes_equal, (GDestroyNotify)g_bytes_unref, NULL);
    return set;
}

void nc_item_set_free(NcItemSet *set)
{
    GHashTableIter it;
    gpointer slot;

    if (!set)
        return;
    g_hash_table_iter_init(&it, set->items);
    while (g_hash_table_iter_next(&it, NULL, &slot))
        nc_item_slot_free(slot, (gpointer)set->ops);
    g_hash_table_unref(set->items);
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
    g_autoptr(GByteArray) enc = g_byte_array_sized_new(128);
    g_autoptr(GBytes) key = nc_item_set_key_of(set, item, error);
    NcItemSlot *slot, *old;

    if (!key || !set->ops->encode(item, enc, error)) {
        set->ops->free(item);
        return FALSE;
    }
    slot = g_new0(NcItemSlot, 1);
    slot->item = item;
    slot->encoding = g_byte_array_free_to_bytes(g_steal_pointer(&enc));
    nc_digest_add_bytes(&set->digest, g_bytes_get_data(slot->encoding, NULL),
                        g_bytes_get_size(slot->encoding));
    old = g_hash_table_lookup(set->items, key);
    if (old) {
        nc_digest_remove_bytes(&set->digest, g_bytes_get_data(old->encoding, NULL),
                               g_bytes_get_size(old->encoding));
        nc_item_slot_free(old, (gpointer)set->ops);
    }
    if (replaced)
        *replaced = old != NULL;
    g_hash_table_replace(set->items, g_steal_pointer(&key), slot);
    return TRUE;
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
    NcItemSlot *old = g_hash_table_lookup(set->items, key);

    if (removed)
        *removed = old != NULL;
    if (!old)
        return TRUE;
    nc_digest_remove_bytes(&set->digest, g_bytes_get_data(old->encoding, NULL),
                           g_bytes_get_size(old->encoding));
    g_hash_table_remove(set->items, key);
    nc_item_slot_free(old, (gpointer)set->ops);
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
    NcItemSlot *slot = g_hash_table_lookup(set->items, key);

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
        } else if (!g_bytes_equal(((NcItemSlot *)slot)->encoding, other->encoding)) {
            g_ptr_array_add(diff->changed, a->ops->describe(item));
        }
    }
    g_hash_table_iter_init(&it, b->items);
    while (g_hash_table_iter_next(&it, &key, &slot))
        if (!g_hash_table_contains(a->items, key))
            g_ptr_array_add(diff->extra, b->ops->describe(((NcItemSlot *)slot)->item));
    return diff;
}
