/* nc-ct-items.h - conntrack as a class of items, with no kernel: an entry's identity and canonical
 * bytes (those of the peer protocol's STATE and SEAL), description, comparison and ownership
 *
 * The one definition of a conntrack entry's identity: the peer protocol (src/daemon/
 * nc-peer-proto.c), the bundle's per-class digest (nc-bundle.c) and the state driver
 * (src/daemon/nc-ct-class.c) all encode through here.
 */
#pragma once

#include <glib.h>

#include "conf/nc-bundle.h"
#include "conf/nc-item-set.h"

G_BEGIN_DECLS

/* the flags byte of an entry's canonical bytes */
#define NC_CT_ENTRY_FLAG_LABELS 0x01u
#define NC_CT_ENTRY_FLAG_TCP 0x02u

gboolean nc_ct_entry_append_canonical(GByteArray *out, const NcCtEntry *entry, GError **error);
gboolean nc_ct_key_append_canonical(GByteArray *out, guint16 zone, const NcCtTuple *orig,
                                    GError **error);

void nc_ct_key_of(const NcCtEntry *entry, NcCtKey *key);

/* An entry's identity (zone + original tuple) for hash tables, field by field (struct padding
 * never counts): FNV-1a, which spreads the sequential ports of one VM's flows to one server
 * (h * 33 + byte gave 100k such entries 13k distinct hashes) */
guint nc_ct_identity_hash(guint16 zone, const NcCtTuple *orig);
gboolean nc_ct_tuple_equal(const NcCtTuple *a, const NcCtTuple *b);
/* GHashFunc/GEqualFunc over NcCtKey* and over NcCtEntry* (its zone and original tuple) */
guint nc_ct_key_hash(gconstpointer key);
gboolean nc_ct_key_equal(gconstpointer a, gconstpointer b);
guint nc_ct_entry_identity_hash(gconstpointer entry);
gboolean nc_ct_entry_identity_equal(gconstpointer a, gconstpointer b);

/* items are NcCtEntry, each allocated with g_new/g_memdup2 and freed with g_free */
extern const NcClassOps nc_ct_class;

G_END_DECLS
