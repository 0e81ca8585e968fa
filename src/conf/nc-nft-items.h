/* nc-nft-items.h - the nftables classes' items, with no kernel: set and map elements, named
 * counters and quotas; their identity, canonical bytes, description, comparison and ownership
 *
 * The drivers (src/drivers/nc-nft-set.c, nc-nft-obj.c) read and write them in a kernel; a bundle
 * or a peer can hold them without one.
 */
#pragma once

#include <glib.h>

#include "conf/nc-item-set.h"

G_BEGIN_DECLS

/* nftables family names <-> NFPROTO_* */
gboolean nc_nft_family_parse(const char *name, guint8 *family);
const char *nc_nft_family_name(guint8 family);

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

/**
 * NcNftOwnership - whose an element is (src/conf/nc-nft-items.c, "Bindings")
 * @NC_NFT_OWN_NONE:            no field is one of the domain's addresses or its MAC
 * @NC_NFT_OWN_YES:             the domain's
 * @NC_NFT_OWN_FOREIGN_BINDING: it binds one of the domain's addresses or its MAC to an address
 *                              or MAC that is not the domain's: never carried
 */
typedef enum {
    NC_NFT_OWN_NONE,
    NC_NFT_OWN_YES,
    NC_NFT_OWN_FOREIGN_BINDING,
} NcNftOwnership;

gboolean nc_nft_set_owns(const NcOwner *owner, gconstpointer item, char **why);
NcNftOwnership nc_nft_set_ownership(const NcOwner *owner, const NcNftSetElem *e, char **why);
char *nc_nft_set_describe(gconstpointer item);
gboolean nc_nft_set_elem_may_hold_owner(const NcNftSetElem *shape);
NcNftOwnership nc_nft_set_bytes_owned(const NcOwner *owner, const NcNftSetElem *shape,
                                      const guint8 *key, gsize klen, const guint8 *data,
                                      gsize dlen);

/* a key or a map's data in the bundle's readable form (nft's: fields joined by " . ") */
char *nc_nft_value_to_string(const NcNftSetElem *e, gboolean data, GBytes *value);
GBytes *nc_nft_value_from_string(const NcNftSetElem *e, gboolean data, const char *text,
                                 GError **error);

/* nft's type ids: the type of field @i of @n in a (concatenated) type id, how many fields it has,
 * and a field type's size in bytes (0: unknown) */
guint32 nc_nft_field_type(guint32 type, guint n, guint i);
guint nc_nft_type_fields(guint32 type);
guint nc_nft_type_size(guint32 t);

/**
 * NcNftObj - the value of one named nftables object
 * @family, @table, @name: the object (the same on both hosts)
 * @type:      NFT_OBJECT_COUNTER or NFT_OBJECT_QUOTA
 * @packets:   a counter's packets
 * @bytes:     a counter's bytes; a quota's limit
 * @consumed:  a quota's used bytes
 * @flags:     a quota's NFT_QUOTA_F_* (INV: `over`)
 *
 * The key (class identity) is (family, table, name, type).
 */
typedef struct {
    guint8 family;
    char *table;
    char *name;
    guint32 type;
    guint64 packets;
    guint64 bytes;
    guint64 consumed;
    guint32 flags;
} NcNftObj;

void nc_nft_obj_free(NcNftObj *obj);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(NcNftObj, nc_nft_obj_free)

extern const NcClassOps nc_nft_obj_class;
gboolean nc_nft_obj_owns(const NcOwner *owner, gconstpointer item, char **why);
char *nc_nft_obj_describe(gconstpointer item);
const char *nc_nft_obj_type_name(guint32 type);
gboolean nc_nft_obj_type_parse(const char *name, guint32 *type);

G_END_DECLS
