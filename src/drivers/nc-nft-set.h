/* nc-nft-set.h - the nft set and map element driver: a domain's elements of dynamic sets and maps
 * (dynamic ACLs, sticky tables), with their remaining timeout and counters
 */
#pragma once

#include <glib.h>

#include "drivers/nc-nft-nl.h"
#include "drivers/nc-state-driver.h"

G_BEGIN_DECLS

#define NC_NFT_SET_FIELDS_MAX 16

/**
 * NcNftSetElem - one element of a set or map, and the shape of the set it came from
 * @family, @table, @set:  the set (same family, table and name on the destination)
 * @set_flags:             NFT_SET_* of the source's set (MAP, OBJECT, TIMEOUT, ...)
 * @key_type, @key_len:    nft's key type id (concatenations: 6 bits per field) and length
 * @data_type, @data_len:  for a map, its data type id and length, else 0
 * @n_fields, @field_len:  the key's fields (a concatenation has several), bytes each
 * @key:                   the key, as the kernel holds it (each field padded to 4 bytes)
 * @data:                  (nullable): a map's data value
 * @objref:                (nullable): an object map's object name
 * @has_timeout:           whether the element expires
 * @timeout_ms:            its timeout
 * @expires_ms:            what remained of it when captured
 * @has_counter:           whether the element has a counter (@packets, @bytes)
 *
 * The key (class identity) is (family, table, set, key).
 */
typedef struct {
    guint8 family;
    char *table;
    char *set;
    guint32 set_flags;
    guint32 key_type;
    guint32 key_len;
    guint32 data_type;
    guint32 data_len;
    guint8 n_fields;
    guint8 field_len[NC_NFT_SET_FIELDS_MAX];
    GBytes *key;
    GBytes *data;
    char *objref;
    gboolean has_timeout;
    guint64 timeout_ms;
    guint64 expires_ms;
    gboolean has_counter;
    guint64 packets;
    guint64 bytes;
} NcNftSetElem;

void nc_nft_set_elem_free(NcNftSetElem *elem);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(NcNftSetElem, nc_nft_set_elem_free)
NcNftSetElem *nc_nft_set_elem_copy(const NcNftSetElem *elem);

extern const NcClassOps nc_nft_set_class;
extern const NcStateDriver nc_nft_set_driver;

gboolean nc_nft_set_probe(NcNftNl *nl, const NcOwner *owner, const NcItemSet *expected,
                          GError **error);
gboolean nc_nft_set_capture(NcNftNl *nl, const NcOwner *owner, NcItemSet *out,
                            GPtrArray *not_carried, GError **error);
gboolean nc_nft_set_owns(const NcOwner *owner, gconstpointer item, char **why);
gboolean nc_nft_set_install(NcNftNl *nl, const NcOwner *owner, const NcItemSet *items,
                            NcItemSet **installed, GError **error);
gboolean nc_nft_set_remove(NcNftNl *nl, const NcItemSet *items, guint *n_removed,
                           GError **error);

/* For the object driver's swap: the elements of the object maps of @family/@table (of objects of
 * @obj_type, NFT_OBJECT_*) whose object is @name, as NcNftSetElem; and batch messages that add
 * (with their data, timeout and remaining time) or delete such elements. */
gboolean nc_nft_set_find_objrefs(NcNftNl *nl, guint8 family, const char *table, guint32 obj_type,
                                 const char *name, GPtrArray *out, GError **error);
void nc_nft_set_batch_elems(NcNftBatch *batch, gboolean add, GPtrArray *elems);

G_END_DECLS
