/* nc-item-set.h - one class of state as the engine sees it: its items' identity and canonical
 * bytes (NcClassOps), and a keyed set of its items with an incremental digest (NcItemSet)
 *
 * Pure: no kernel, no I/O. The drivers (src/drivers/nc-state-driver.h) fill and read these sets.
 */
#pragma once

#include <glib.h>

#include "conf/nc-owner.h"

G_BEGIN_DECLS

/**
 * NcClassOps - what one class's items are, independent of any kernel
 * @name:     stable name: the report's and the bundle's class name ("conntrack", "nft-set", ...)
 * @key:      appends the item's canonical identity to @out: two items with the same key are the
 *            same item in two states (a later one replaces an earlier one in a set)
 * @encode:   appends the item's canonical bytes (every field that is carried) to @out: what the
 *            digest hashes and what a peer would send
 * @decode:   (nullable): the inverse of @encode: (transfer full) an item from its canonical
 *            bytes, or NULL with NC_ERROR_INVALID_DATA naming the field that does not decode (a
 *            peer's bytes are untrusted: every length is checked, nothing may be left over)
 * @describe: (transfer full): one line naming the item for messages, e.g. "inet/fw/authed
 *            element 10.0.0.5"
 * @compare:  (nullable): NULL if @a (expected) and @b (found in a kernel) agree on what the
 *            kernel acts on, else (transfer full) one line saying what differs; fields that tick
 *            (timeouts) or grow (counters) are compared with the tolerance the class needs
 * @owns:     whether the item belongs to the domain as @owner describes it; if not, (transfer
 *            full) @why says why (for a refusal)
 * @free:     frees one item
 * @item_size: (optional) for a class whose items are flat, the size of one: no pointer inside,
 *            copied with memcpy, freed by @free (g_free) as one block. A set then holds each item
 *            in place, copied in (NcItemSet: no allocation per item); 0: a set keeps pointers.
 *
 * @key and @encode fail (NC_ERROR_INVALID_ARG) only for an item that has no canonical form (an
 * address without a family, say); a decoded or captured item always has one.
 */
typedef struct {
    const char *name;
    gboolean (*key)(gconstpointer item, GByteArray *out, GError **error);
    gboolean (*encode)(gconstpointer item, GByteArray *out, GError **error);
    gpointer (*decode)(const guint8 *data, gsize len, GError **error);
    char *(*describe)(gconstpointer item);
    char *(*compare)(gconstpointer a, gconstpointer b);
    gboolean (*owns)(const NcOwner *owner, gconstpointer item, char **why);
    GDestroyNotify free;
    gsize item_size;
} NcClassOps;

#define NC_DIGEST_SIZE 32

/**
 * NcDigest - an order-independent, incremental digest of a set of items: the sum modulo 2^256 of
 * SHA-256(canonical encoding) over the items, the 32-byte hashes read as big-endian integers.
 * All-zero is the empty set's. It is the digest the peer protocol's SEAL carries for conntrack
 * (nc-peer-proto.c explains why a sum: order-independent, O(1) per change both ways, and an item
 * counted twice changes it, unlike XOR), computed here for any class.
 */
typedef struct {
    guint8 sum[NC_DIGEST_SIZE];
} NcDigest;

void nc_digest_init(NcDigest *digest);
void nc_digest_add_bytes(NcDigest *digest, const guint8 *data, gsize len);
void nc_digest_remove_bytes(NcDigest *digest, const guint8 *data, gsize len);
gboolean nc_digest_equal(const NcDigest *a, const NcDigest *b);
char *nc_digest_to_string(const NcDigest *digest); /* 64 hex digits; (transfer full) */

/**
 * NcItemSet - the items of one class, keyed by @ops->key, with their count and digest kept
 * current on every change (so checking a seal costs nothing at the stop). Both sides of a carry
 * keep one per class: the source what it sent, the destination what it received. A set made
 * without a digest (what a carry installed, kept for its roll-back) keeps items and count only.
 * An item the set returns (lookup, items, iteration) is the set's: valid until it is removed or
 * replaced, or the set freed. How it is held: nc-item-set.c ("the set"), docs/architecture.md.
 */
typedef struct _NcItemSet NcItemSet;

/* NcItemSetIter - a walk over a set's items (on the stack; no allocation) */
typedef struct {
    const NcItemSet *set;
    guint32 bucket;
} NcItemSetIter;

NcItemSet *nc_item_set_new(const NcClassOps *ops);
NcItemSet *nc_item_set_new_without_digest(const NcClassOps *ops);
void nc_item_set_free(NcItemSet *set);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(NcItemSet, nc_item_set_free)

const NcClassOps *nc_item_set_ops(const NcItemSet *set);
gboolean nc_item_set_upsert(NcItemSet *set, gpointer item, gboolean *replaced, GError **error);
gboolean nc_item_set_upsert_copy(NcItemSet *set, gconstpointer item, gboolean *replaced,
                                 GError **error);
gboolean nc_item_set_remove(NcItemSet *set, gconstpointer item_or_key_of, gboolean *removed,
                            GError **error);
gboolean nc_item_set_remove_key(NcItemSet *set, GBytes *key, gboolean *removed);
gconstpointer nc_item_set_lookup(const NcItemSet *set, gconstpointer item_with_key);
gconstpointer nc_item_set_lookup_key(const NcItemSet *set, GBytes *key);
guint nc_item_set_count(const NcItemSet *set);
const NcDigest *nc_item_set_digest(const NcItemSet *set);
GPtrArray *nc_item_set_items(const NcItemSet *set);
void nc_item_set_iter_init(NcItemSetIter *iter, const NcItemSet *set);
gboolean nc_item_set_iter_next(NcItemSetIter *iter, gconstpointer *item);
GBytes *nc_item_set_key_of(const NcItemSet *set, gconstpointer item, GError **error);
gboolean nc_item_set_check_owned(const NcItemSet *set, const NcOwner *owner, GError **error);
gboolean nc_item_set_check_seal(const NcItemSet *set, guint64 count, const NcDigest *digest,
                                GError **error);

/**
 * NcItemDiff - how a set found in a kernel (@b) differs from the expected one (@a)
 * @missing: (element-type utf8): descriptions of items of a that b lacks
 * @extra:   (element-type utf8): descriptions of items of b that a lacks
 * @changed: (element-type utf8): one line per item in both that @ops->compare finds different
 */
typedef struct {
    GPtrArray *missing;
    GPtrArray *extra;
    GPtrArray *changed;
} NcItemDiff;

NcItemDiff *nc_item_set_diff(const NcItemSet *a, const NcItemSet *b);
gboolean nc_item_diff_is_empty(const NcItemDiff *diff);
void nc_item_diff_free(NcItemDiff *diff);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(NcItemDiff, nc_item_diff_free)

/* an item's share of a digest, for a table kept outside an NcItemSet (nc-item-set.c) */
gboolean nc_digest_share_of(const NcClassOps *ops, GChecksum *sha256, gconstpointer item,
                            guint8 out[NC_DIGEST_SIZE], GError **error);
void nc_digest_add_share(NcDigest *digest, const guint8 share[NC_DIGEST_SIZE]);
void nc_digest_remove_share(NcDigest *digest, const guint8 share[NC_DIGEST_SIZE]);

G_END_DECLS
