/* nc-ct-diff.h - compare two sets of conntrack entries
 *
 * Entries are matched by (zone, original tuple). Of a matched pair, the reply
 * tuple (so NAT), status bits that matter for the firewall, mark, labels and
 * TCP state/window scale are compared; timeouts are not (they tick).
 */
#pragma once

#include <glib.h>

#include "conf/nc-bundle.h"

G_BEGIN_DECLS

/**
 * NcCtDiff - how @b differs from @a
 * @missing: (element-type NcCtEntry): in a, not in b
 * @extra:   (element-type NcCtEntry): in b, not in a
 * @changed: (element-type utf8): one line per matched pair that differs, naming
 *           the tuple and each differing field with both values
 */
typedef struct {
    GArray *missing;
    GArray *extra;
    GPtrArray *changed;
} NcCtDiff;

NcCtDiff *nc_ct_diff(const NcCtEntry *a, guint n_a, const NcCtEntry *b, guint n_b);
gboolean nc_ct_diff_is_empty(const NcCtDiff *diff);
void nc_ct_diff_free(NcCtDiff *diff);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(NcCtDiff, nc_ct_diff_free)

/* One-line text form of an entry's original tuple, e.g.
 * "tcp 10.0.0.1:40000 -> 10.0.0.5:7 zone 0", for messages and diffs. */
char *nc_ct_entry_describe(const NcCtEntry *entry);

G_END_DECLS
