/* nc-carry-classes.h - one carry's classes beside conntrack (nft set and map elements, named
 * counters and quotas): captured on the source, checked, probed, installed and rolled back on the
 * destination, all through their state drivers (src/drivers/nc-state-driver.h)
 *
 * Theory of operation: docs/architecture.md, "Classes beside conntrack". In short: these classes
 * are small (a VM's elements and objects, not its connections), and an element added by a
 * packet-path `add @set` rule makes no event while counters count until the guest stops, so the
 * source captures each class whole twice: when the destination is admitted (for the destination's
 * probe: a missing or other-typed set refuses the migration by policy, naming the set) and after
 * the source's STOP; it sends each capture as ITEMS (peer protocol 4), and the per-class count and
 * digest with the SEAL. The destination decodes each item with its class's code, checks it
 * against the domain's addresses as it derived them itself, and installs every class all or
 * nothing with the seal, before its gate opens.
 */
#pragma once

#include <glib.h>

#include "conf/nc-owner.h"
#include "conf/nc-report.h"
#include "nc-peer-proto.h"

G_BEGIN_DECLS

typedef struct _NcCarryClasses NcCarryClasses;

NcCarryClasses *nc_carry_classes_new(const char *netns, NcOwner *owner);
void nc_carry_classes_place(NcCarryClasses *cc, const char *name, const char *netns);
void nc_carry_classes_free(NcCarryClasses *cc);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(NcCarryClasses, nc_carry_classes_free)

/* source */
GPtrArray *nc_carry_classes_capture(NcCarryClasses *cc, gboolean at_stop,
                                    const char *const *accepted);
char *nc_carry_classes_refused(NcCarryClasses *cc, const char *const *accepted);
GArray *nc_carry_classes_sums(NcCarryClasses *cc);
GArray *nc_carry_classes_cleanup(NcCarryClasses *cc);

/* destination */
const char *const *nc_carry_classes_names(void);
gboolean nc_carry_classes_receive(NcCarryClasses *cc, const NcPeerItems *items, GError **error);
gboolean nc_carry_classes_probe(NcCarryClasses *cc, gboolean skip_on_failure, GError **error);
gboolean nc_carry_classes_check_seal(NcCarryClasses *cc, GArray *sums, GError **error);
gboolean nc_carry_classes_install(NcCarryClasses *cc, GError **error);
GArray *nc_carry_classes_installed_sums(NcCarryClasses *cc);
void nc_carry_classes_rollback(NcCarryClasses *cc);
void nc_carry_classes_source_removed(NcCarryClasses *cc, GArray *sums);
GPtrArray *nc_carry_classes_learned(NcCarryClasses *cc);

/* both */
void nc_carry_classes_report(NcCarryClasses *cc, NcReport *report);
char *nc_carry_classes_summary(NcCarryClasses *cc);

G_END_DECLS
