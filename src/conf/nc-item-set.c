/* nc-item-set.c - a keyed set of one class's items with an incremental digest
 *
 * Theory of operation: nc-item-set.h and src/drivers/nc-state-driver.h for what a set is; the set's
 * own below ("the set"): how it holds 100k-250k conntrack entries in ~150 bytes each. The digest
 * is kept as the items come and go, an upsert adding the new item's hash and subtracting the
 * replaced one's, a removal subtracting.
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

/* ---- the set ----
 *
 * Theory of operation. A set is an index and a store of records.
 *
 * The store holds one record per item: the item itself, copied in, for a class that declares its
 * items flat (NcClassOps.item_size: conntrack's 136-byte NcCtEntry), else a pointer to it. Records
 * live in blocks that never move, so an item's address stays valid until it is removed or
 * replaced (a replacement with an inline item writes the new one into the same record). Block b
 * holds 16 << b records up to 1024 per block (a set of three items costs one small block, one of
 * 250k entries ~250 blocks); a removed record goes onto a free list and is reused, so a set keeps
 * its high-water mark of records until it is freed.
 *
 * The index is open addressing with linear probing over a power-of-two array of buckets, each the
 * key's 32-bit hash and its record's number (8 bytes), at most 3/4 full; removal shifts the
 * following run back, so there are no tombstones. Keys are not stored: a bucket whose hash matches
 * is confirmed by encoding the record's key again (NcClassOps.key), which a 32-bit hash makes
 * rare beyond the one right record. Nor are the items' digest hashes: an upsert hashes the new
 * item's canonical bytes and adds them, and a replacement or removal hashes the old item's again
 * to subtract them (the first copy only adds). For a conntrack entry this is 136 + ~11-22 bytes
 * an item (the buckets at 3/8-3/4 load), against ~256 with GHashTable, a slot with the key and
 * hash, and the item malloc'd apart.
 *
 * Nothing here is shared between threads: a set is one thread's at a time; lookups, which take a
 * const set, encode keys into a buffer of the calling thread's.
 */

#define NC_ITEM_BLOCK_MIN_SHIFT 4  /* block 0: 16 records */
#define NC_ITEM_BLOCK_MAX_SHIFT 10 /* from block 6: 1,024 records */
#define NC_ITEM_BLOCK_GROWS (NC_ITEM_BLOCK_MAX_SHIFT - NC_ITEM_BLOCK_MIN_SHIFT)
/* records in the blocks that grow (0 .. NC_ITEM_BLOCK_GROWS) */
#define NC_ITEM_SMALL_RECORDS (((2u << NC_ITEM_BLOCK_GROWS) - 1) << NC_ITEM_BLOCK_MIN_SHIFT)
#define NC_ITEM_MIN_BUCKETS 16

/* One bucket of the index: the key's hash and its record's number + 1 (0: the bucket is empty). */
typedef struct {
    guint32 hash;
    guint32 rec;
} NcItemBucket;

struct _NcItemSet {
    const NcClassOps *ops;
    gboolean keeps_digest;
    gboolean inline_items; /* ops->item_size: records hold the items, not pointers to them */
    gsize rec_size;
    NcDigest digest;
    NcItemBucket *buckets; /* NULL until the first item */
    guint32 mask;          /* buckets - 1 */
    guint32 count;
    guint8 **blocks;
    guint32 n_blocks;
    guint32 n_recs;      /* records handed out: live, or on the free list */
    guint32 free_rec;    /* the free list's first record + 1 (0: empty); each holds the next */
    GByteArray *scratch; /* an upsert's key and canonical bytes, reused */
    GChecksum *sha256;   /* reused likewise */
};

/* a thread's buffer for the keys and canonical bytes of items already in a set */
static void nc_item_buf_free(gpointer p)
{
    g_byte_array_unref(p);
}

static GPrivate nc_item_buf_key = G_PRIVATE_INIT(nc_item_buf_free);

static GByteArray *nc_item_buf(void)
{
    GByteArray *b = g_private_get(&nc_item_buf_key);

    if (!b) {
        b = g_byte_array_sized_new(256);
        g_private_set(&nc_item_buf_key, b);
    }
    g_byte_array_set_size(b, 0);
    return b;
}

/* FNV-1a, then murmur3's finaliser: linear probing needs the low bits well mixed */
static guint32 nc_item_key_hash(const guint8 *p, gsize len)
{
    guint32 h = 2166136261u;

    for (gsize i = 0; i < len; i++)
        h = (h ^ p[i]) * 16777619u;
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    h ^= h >> 16;
    return h;
}

/* where record @rec (numbered from 0) lives: block @b, record @off in it */
static void nc_item_rec_place(guint32 rec, guint *b, guint *off)
{
    if (rec < NC_ITEM_SMALL_RECORDS) {
        *b = g_bit_storage((rec >> NC_ITEM_BLOCK_MIN_SHIFT) + 1) - 1;
        *off = rec - (((1u << *b) - 1) << NC_ITEM_BLOCK_MIN_SHIFT);
    } else {
        *b = NC_ITEM_BLOCK_GROWS + 1 + ((rec - NC_ITEM_SMALL_RECORDS) >> NC_ITEM_BLOCK_MAX_SHIFT);
        *off = (rec - NC_ITEM_SMALL_RECORDS) & ((1u << NC_ITEM_BLOCK_MAX_SHIFT) - 1);
    }
}

static guint8 *nc_item_rec(const NcItemSet *set, guint32 rec)
{
    guint b, off;

    nc_item_rec_place(rec, &b, &off);
    return set->blocks[b] + (gsize)off * set->rec_size;
}

/* the item a record holds (a bucket's rec is its number + 1) */
static gpointer nc_item_at(const NcItemSet *set, guint32 rec_plus_1)
{
    guint8 *r = nc_item_rec(set, rec_plus_1 - 1);

    return set->inline_items ? (gpointer)r : *(gpointer *)r;
}

/* A record for a new item (its number + 1): the free list's first, or the store's next. (2^32
 * records would be hundreds of GB: the numbers do not overflow before memory runs out.) */
static guint32 nc_item_rec_alloc(NcItemSet *set)
{
    guint32 rec;
    guint b, off;

    if (set->free_rec) {
        rec = set->free_rec;
        memcpy(&set->free_rec, nc_item_rec(set, rec - 1), sizeof(guint32));
        return rec;
    }
    rec = set->n_recs++;
    nc_item_rec_place(rec, &b, &off);
    if (b == set->n_blocks) {
        set->blocks = g_renew(guint8 *, set->blocks, b + 1);
        set->blocks[b] =
            g_malloc(set->rec_size << (NC_ITEM_BLOCK_MIN_SHIFT + MIN(b, NC_ITEM_BLOCK_GROWS)));
        set->n_blocks = b + 1;
    }
    return rec + 1;
}

static void nc_item_rec_release(NcItemSet *set, guint32 rec_plus_1)
{
    memcpy(nc_item_rec(set, rec_plus_1 - 1), &set->free_rec, sizeof(guint32));
    set->free_rec = rec_plus_1;
}

/* the SHA-256 of @item's canonical bytes: what the digest holds for it */
static gboolean nc_item_set_hash_item(const NcItemSet *set, GChecksum *sha256, gconstpointer item,
                                      guint8 out[NC_DIGEST_SIZE], GError **error)
{
    return nc_digest_share_of(set->ops, sha256, item, out, error);
}

/* Whether the item in record @rec_plus_1 has the key @key. */
static gboolean nc_item_set_key_is(const NcItemSet *set, guint32 rec_plus_1, const guint8 *key,
                                   gsize len)
{
    GByteArray *b = nc_item_buf();

    return set->ops->key(nc_item_at(set, rec_plus_1), b, NULL) && b->len == len &&
           memcmp(b->data, key, len) == 0;
}

/* The bucket holding @key (TRUE), or the empty one where it would go (FALSE); the set has buckets.
 */
static gboolean nc_item_set_find(const NcItemSet *set, const guint8 *key, gsize len, guint32 hash,
                                 guint32 *bucket)
{
    guint32 i = hash & set->mask;

    for (;; i = (i + 1) & set->mask) {
        const NcItemBucket *bk = &set->buckets[i];

        if (!bk->rec)
            break;
        if (bk->hash == hash && nc_item_set_key_is(set, bk->rec, key, len)) {
            *bucket = i;
            return TRUE;
        }
    }
    *bucket = i;
    return FALSE;
}

/* Room for one more item: the buckets double at 3/4 full (the hashes kept, no key encoded). */
static void nc_item_set_reserve(NcItemSet *set)
{
    guint32 n = set->buckets ? set->mask + 1 : 0, m;
    NcItemBucket *old = set->buckets;

    if (old && (gsize)(set->count + 1) * 4 <= (gsize)n * 3)
        return;
    m = n ? n * 2 : NC_ITEM_MIN_BUCKETS;
    set->buckets = g_new0(NcItemBucket, m);
    set->mask = m - 1;
    for (guint32 j = 0; j < n; j++) {
        guint32 i;

        if (!old[j].rec)
            continue;
        for (i = old[j].hash & set->mask; set->buckets[i].rec; i = (i + 1) & set->mask)
            ;
        set->buckets[i] = old[j];
    }
    g_free(old);
}

/* Empties bucket @i and moves back the entries after it that may sit there (linear probing). */
static void nc_item_set_unlink(NcItemSet *set, guint32 i)
{
    guint32 j = i;

    for (;;) {
        guint32 home;

        j = (j + 1) & set->mask;
        if (!set->buckets[j].rec)
            break;
        home = set->buckets[j].hash & set->mask;
        /* the entry at j stays if its home lies cyclically in (i, j] */
        if (i <= j ? (home > i && home <= j) : (home > i || home <= j))
            continue;
        set->buckets[i] = set->buckets[j];
        i = j;
    }
    set->buckets[i].rec = 0;
    set->count--;
}

/* frees what record @rec_plus_1's item owns (an inline item owns nothing) */
static void nc_item_set_drop_item(NcItemSet *set, guint32 rec_plus_1)
{
    if (!set->inline_items)
        set->ops->free(nc_item_at(set, rec_plus_1));
}

static NcItemSet *nc_item_set_new_full(const NcClassOps *ops, gboolean keeps_digest)
{
    NcItemSet *set = g_new0(NcItemSet, 1);

    set->ops = ops;
    set->keeps_digest = keeps_digest;
    set->inline_items = ops->item_size > 0;
    /* a record also links the free list (4 bytes); items are copied 8-aligned */
    set->rec_size = set->inline_items ? (MAX(ops->item_size, sizeof(guint32)) + 7) & ~(gsize)7
                                      : sizeof(gpointer);
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
 * For a set that is never sealed: an upsert then costs no hash. nc_item_set_digest() and
 * nc_item_set_check_seal() are not for it.
 *
 * Return: (transfer full): the empty set
 */
NcItemSet *nc_item_set_new_without_digest(const NcClassOps *ops)
{
    return nc_item_set_new_full(ops, FALSE);
}

void nc_item_set_free(NcItemSet *set)
{
    if (!set)
        return;
    if (!set->inline_items && set->buckets)
        for (guint32 i = 0; i <= set->mask; i++)
            if (set->buckets[i].rec)
                nc_item_set_drop_item(set, set->buckets[i].rec);
    for (guint32 b = 0; b < set->n_blocks; b++)
        g_free(set->blocks[b]);
    g_free(set->blocks);
    g_free(set->buckets);
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

/* The upsert of @item, which the set does not own: copied in if the class's items are inline. */
static gboolean nc_item_set_put(NcItemSet *set, gconstpointer item, gpointer owned,
                                gboolean *replaced, GError **error)
{
    GByteArray *b = set->scratch;
    guint8 h[NC_DIGEST_SIZE];
    guint32 key_len, hash, i;
    gboolean found;

    g_byte_array_set_size(b, 0);
    if (!set->ops->key(item, b, error))
        return FALSE;
    key_len = b->len;
    if (set->keeps_digest) {
        if (!set->ops->encode(item, b, error))
            return FALSE;
        nc_digest_hash(set->sha256, b->data + key_len, b->len - key_len, h);
    }
    hash = nc_item_key_hash(b->data, key_len);
    nc_item_set_reserve(set);
    found = nc_item_set_find(set, b->data, key_len, hash, &i);
    if (found) {
        guint32 rec = set->buckets[i].rec;

        if (set->keeps_digest) {
            guint8 old[NC_DIGEST_SIZE];

            /* its canonical bytes encoded when it came in: it has them */
            if (!nc_item_set_hash_item(set, set->sha256, nc_item_at(set, rec), old, error))
                return FALSE;
            nc_digest_remove_hash(&set->digest, old);
        }
        nc_item_set_drop_item(set, rec);
    } else {
        set->buckets[i].hash = hash;
        set->buckets[i].rec = nc_item_rec_alloc(set);
        set->count++;
    }
    if (set->inline_items)
        memcpy(nc_item_rec(set, set->buckets[i].rec - 1), item, set->ops->item_size);
    else
        *(gpointer *)nc_item_rec(set, set->buckets[i].rec - 1) = owned;
    if (set->keeps_digest)
        nc_digest_add_hash(&set->digest, h);
    if (replaced)
        *replaced = found;
    return TRUE;
}

/**
 * nc_item_set_upsert() - add @item, replacing the item with the same key if there is one
 * @set:      the set
 * @item:     (transfer full): the item; freed with the class's free even on failure (an inline
 *            class's item is copied into the set and freed at once)
 * @replaced: (out) (optional): whether an item with the same key was there
 * @error:    NC_ERROR_INVALID_ARG if the item has no canonical form (the set is unchanged)
 *
 * Return: TRUE on success
 */
gboolean nc_item_set_upsert(NcItemSet *set, gpointer item, gboolean *replaced, GError **error)
{
    gboolean ok = nc_item_set_put(set, item, item, replaced, error);

    if (!ok || set->inline_items)
        set->ops->free(item);
    return ok;
}

/**
 * nc_item_set_upsert_copy() - nc_item_set_upsert() of a copy of @item, for a class whose items
 * are inline (NcClassOps.item_size): no allocation beyond the set's own
 * @set:      the set
 * @item:     the item, copied
 * @replaced: (out) (optional): whether an item with the same key was there
 * @error:    NC_ERROR_INVALID_ARG if the item has no canonical form (the set is unchanged)
 *
 * Return: TRUE on success
 */
gboolean nc_item_set_upsert_copy(NcItemSet *set, gconstpointer item, gboolean *replaced,
                                 GError **error)
{
    g_return_val_if_fail(set->inline_items, FALSE);
    return nc_item_set_put(set, item, NULL, replaced, error);
}

/* The bucket of @key, or FALSE. */
static gboolean nc_item_set_bucket_of(const NcItemSet *set, GBytes *key, guint32 *bucket)
{
    gsize len;
    const guint8 *data = g_bytes_get_data(key, &len);

    return set->buckets && nc_item_set_find(set, data, len, nc_item_key_hash(data, len), bucket);
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
    guint32 i, rec;
    gboolean found = nc_item_set_bucket_of(set, key, &i);

    if (removed)
        *removed = found;
    if (!found)
        return TRUE;
    rec = set->buckets[i].rec;
    if (set->keeps_digest) {
        guint8 old[NC_DIGEST_SIZE];

        /* an item in the set has its canonical bytes (encoded when it came in) */
        if (nc_item_set_hash_item(set, set->sha256, nc_item_at(set, rec), old, NULL))
            nc_digest_remove_hash(&set->digest, old);
    }
    nc_item_set_drop_item(set, rec);
    nc_item_rec_release(set, rec);
    nc_item_set_unlink(set, i);
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
    guint32 i;

    return nc_item_set_bucket_of(set, key, &i) ? nc_item_at(set, set->buckets[i].rec) : NULL;
}

gconstpointer nc_item_set_lookup(const NcItemSet *set, gconstpointer item_with_key)
{
    g_autoptr(GBytes) key = nc_item_set_key_of(set, item_with_key, NULL);

    return key ? nc_item_set_lookup_key(set, key) : NULL;
}

guint nc_item_set_count(const NcItemSet *set)
{
    return set->count;
}

const NcDigest *nc_item_set_digest(const NcItemSet *set)
{
    g_return_val_if_fail(set->keeps_digest, NULL);
    return &set->digest;
}

/**
 * nc_item_set_iter_init() - walk a set's items (nc_item_set_iter_next()); the set must not
 * change meanwhile
 */
void nc_item_set_iter_init(NcItemSetIter *iter, const NcItemSet *set)
{
    iter->set = set;
    iter->bucket = 0;
}

/* Return: FALSE after the last; else the next item, owned by the set, in no particular order */
gboolean nc_item_set_iter_next(NcItemSetIter *iter, gconstpointer *item)
{
    const NcItemSet *set = iter->set;

    for (; set->buckets && iter->bucket <= set->mask; iter->bucket++) {
        guint32 rec = set->buckets[iter->bucket].rec;

        if (rec) {
            iter->bucket++;
            *item = nc_item_at(set, rec);
            return TRUE;
        }
    }
    return FALSE;
}

/* Return: (transfer container): the items, owned by the set, in no particular order */
GPtrArray *nc_item_set_items(const NcItemSet *set)
{
    GPtrArray *out = g_ptr_array_sized_new(set->count);
    NcItemSetIter it;
    gconstpointer item;

    nc_item_set_iter_init(&it, set);
    while (nc_item_set_iter_next(&it, &item))
        g_ptr_array_add(out, (gpointer)item);
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
/* the item of @set under @item's key (@item of the same class), or NULL */
static gconstpointer nc_item_set_other(const NcItemSet *set, gconstpointer item, GByteArray *key)
{
    guint32 i;

    g_byte_array_set_size(key, 0);
    if (!set->buckets || !set->ops->key(item, key, NULL))
        return NULL;
    return nc_item_set_find(set, key->data, key->len, nc_item_key_hash(key->data, key->len), &i)
               ? nc_item_at(set, set->buckets[i].rec)
               : NULL;
}

NcItemDiff *nc_item_set_diff(const NcItemSet *a, const NcItemSet *b)
{
    NcItemDiff *diff = g_new0(NcItemDiff, 1);
    g_autoptr(GByteArray) key = g_byte_array_sized_new(64);
    NcItemSetIter it;
    gconstpointer item;

    diff->missing = g_ptr_array_new_with_free_func(g_free);
    diff->extra = g_ptr_array_new_with_free_func(g_free);
    diff->changed = g_ptr_array_new_with_free_func(g_free);
    nc_item_set_iter_init(&it, a);
    while (nc_item_set_iter_next(&it, &item)) {
        gconstpointer other = nc_item_set_other(b, item, key);

        if (!other) {
            g_ptr_array_add(diff->missing, a->ops->describe(item));
        } else if (a->ops->compare) {
            g_autofree char *why = a->ops->compare(item, other);

            if (why) {
                g_autofree char *what = a->ops->describe(item);

                g_ptr_array_add(diff->changed, g_strdup_printf("%s: %s", what, why));
            }
        } else if (!nc_item_same_bytes(a->ops, item, other)) {
            g_ptr_array_add(diff->changed, a->ops->describe(item));
        }
    }
    nc_item_set_iter_init(&it, b);
    while (nc_item_set_iter_next(&it, &item))
        if (!nc_item_set_other(a, item, key))
            g_ptr_array_add(diff->extra, b->ops->describe(item));
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
    GByteArray *b = nc_item_buf(); /* the follower's every entry: no allocation */

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
