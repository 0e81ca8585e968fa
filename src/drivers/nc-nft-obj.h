/* nc-nft-obj.h - the named counters and quotas driver: a domain's cumulative data continues on
 * the destination from the source's values
 */
#pragma once

#include <glib.h>

#include "conf/nc-nft-items.h"
#include "drivers/nc-nft-nl.h"
#include "drivers/nc-state-driver.h"

G_BEGIN_DECLS

extern const NcStateDriver nc_nft_obj_driver;

gboolean nc_nft_obj_probe(NcNftNl *nl, const NcOwner *owner, const NcItemSet *expected,
                          GError **error);
gboolean nc_nft_obj_capture(NcNftNl *nl, const NcOwner *owner, NcItemSet *out,
                            GPtrArray *not_carried, GError **error);
gboolean nc_nft_obj_install(NcNftNl *nl, const NcOwner *owner, const NcItemSet *items,
                            NcItemSet **previous, GError **error);
gboolean nc_nft_obj_restore(NcNftNl *nl, const NcItemSet *previous, guint *n_restored,
                            GError **error);

/* What of the domain's named objects and set elements cannot be carried (a `ct count` list, a
 * `limit` token bucket, ...), with the reason: for the report. */
gboolean nc_nft_not_carried(NcNftNl *nl, const NcOwner *owner, GPtrArray *not_carried,
                            GError **error);

G_END_DECLS
