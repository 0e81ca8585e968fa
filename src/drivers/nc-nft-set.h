/* nc-nft-set.h - the nft set and map element driver: a domain's elements of dynamic sets and maps
 * (dynamic ACLs, sticky tables), with their remaining timeout and counters
 */
#pragma once

#include <glib.h>

#include "conf/nc-nft-items.h"
#include "drivers/nc-nft-nl.h"
#include "drivers/nc-state-driver.h"

G_BEGIN_DECLS

extern const NcStateDriver nc_nft_set_driver;

gboolean nc_nft_set_probe(NcNftNl *nl, const NcOwner *owner, const NcItemSet *expected,
                          GError **error);
gboolean nc_nft_set_capture(NcNftNl *nl, const NcOwner *owner, NcItemSet *out,
                            GPtrArray *not_carried, GError **error);
gboolean nc_nft_set_owns(const NcOwner *owner, gconstpointer item, char **why);
gboolean nc_nft_set_install(NcNftNl *nl, const NcOwner *owner, const NcItemSet *items,
                            NcItemSet **installed, GError **error);
gboolean nc_nft_set_remove(NcNftNl *nl, const NcItemSet *items, guint *n_removed, GError **error);

/* For the object driver's swap: the elements of the object maps of @family/@table (of objects of
 * @obj_type, NFT_OBJECT_*) whose object is @name, as NcNftSetElem; and batch messages that add
 * (with their data, timeout and remaining time) or delete such elements. */
gboolean nc_nft_set_find_objrefs(NcNftNl *nl, guint8 family, const char *table, guint32 obj_type,
                                 const char *name, GPtrArray *out, GError **error);
void nc_nft_set_batch_elems(NcNftBatch *batch, gboolean add, GPtrArray *elems);

G_END_DECLS
