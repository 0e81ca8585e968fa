/* nc-nft-obj.h - the named counters and quotas driver: a domain's cumulative data continues on
 * the destination from the source's values
 */
#pragma once

#include <glib.h>

#include "drivers/nc-nft-nl.h"
#include "drivers/nc-state-driver.h"

G_BEGIN_DECLS

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
