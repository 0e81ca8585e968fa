/* nc-state-driver.h - the seam every class of state goes through: one vtable per class
 *
 * The engine, the bundle, the wire and the report are meant to know classes only through this.
 */
#pragma once

#include <glib.h>

#include "conf/nc-item-set.h"
#include "conf/nc-owner.h"

G_BEGIN_DECLS

/*
 * Theory of operation
 * ===================
 * A class is a kind of state that moves with a VM (conntrack entries, nft set and map elements,
 * named counters and quotas, ...; docs/architecture.md has the table). A class has two halves:
 *
 *  - NcClassOps (conf/nc-item-set.h): what its items are, with no kernel: the canonical key (one
 *    definition of the item's identity, used by every set, diff and wire message of the class),
 *    the canonical bytes (what is digested and sent), a description for messages, a comparison
 *    that knows which fields tick, and ownership (owns(), against an NcOwner, conf/nc-owner.h).
 *    An NcItemSet keeps a class's items under their key with a count and an incremental digest:
 *    the source's "what I sent", the destination's "what I received", a capture, all the same
 *    type.
 *
 *  - NcStateDriver (here): how the class lives in a kernel. A driver handle is opened in a
 *    network namespace (open/close) and then:
 *      probe    at admission, on the destination: can this host take the class at all (the
 *               kernel feature, the target objects), and is there room? @expected (nullable) is
 *               what the source holds, when known, so that the driver can name each target the
 *               items need (the set, its type, its free room). An error names what is missing
 *               and where; the caller decides by policy (refuse, or proceed and report).
 *      capture  on the source: the items that belong to the domain (NcOwner: its addresses,
 *               its MAC, the objects its profile names) into an NcItemSet, and into
 *               @not_carried (nullable; NcNotCarried) what belongs to the domain but cannot be
 *               carried, with the reason, for the report: never silently dropped.
 *      follow   (nullable) where the kernel announces changes, a follower keeps the capture
 *               current during pre-copy. NULL means the class has no usable events (an nft
 *               element added by a packet-path `add @set` rule makes none) or its values change
 *               until the stop anyway (counters): the engine captures it again after the
 *               source's STOP. @at says when the engine takes the class: during pre-copy, or
 *               at the seal only.
 *      install  on the destination: all of the items or none (one kernel transaction, or undo
 *               of what went in), after checking each against the destination's own NcOwner
 *               (ownership is decided by the destination, never by the source's word).
 *               @installed receives, in an NcItemSet, exactly what this call put in, which is
 *               what remove() takes to roll back.
 *      remove   takes exactly the given items away; an item already gone is no error. Used for
 *               the destination's roll-back (the items install returned) and the source's
 *               clean-up after success (the items it sent).
 *
 * Value classes (@values TRUE: named counters and quotas) carry the values of objects that exist
 * on both hosts anyway: install sets the destination's objects to the source's values and returns
 * their values from before; remove puts those back (the roll-back). The source's clean-up skips
 * a value class: an operator's object is not netcarry's to drop or reset.
 *
 * Items the destination holds already (the same key and data: an operator's static element on
 * both hosts) are not the carry's: install accepts them and leaves them out of what it returns,
 * so a roll-back never removes them.
 *      verify   nc_state_driver_verify(): capture again and diff against what was installed,
 *               with the class's own comparison (timeouts tick, counters grow).
 *
 * Every call is synchronous and returns a GError in the NC_ERROR domain naming the object
 * (family/table/name, address) and the namespace. A driver keeps no state about a carry between
 * calls beyond its open handle: the sets are the engine's.
 *
 * Order at the destination: classes whose @at is NC_DRIVER_AT_PRECOPY install as they arrive
 * (bindings, sets, conntrack); NC_DRIVER_AT_SEAL classes (counters and quotas, whose values
 * change until the guest stops) are captured after the source's STOP and installed with the
 * seal, before the gate opens.
 *
 * Conntrack (src/drivers/nc-ct.c with its follower nc-ct-events.c) moves onto this interface
 * through its class ops (src/daemon/nc-ct-class.c); the engine is not rewired yet.
 */

/* When the engine takes a class's items. */
typedef enum {
    NC_DRIVER_AT_PRECOPY, /* while the guest runs, then the changes at the stop */
    NC_DRIVER_AT_SEAL,    /* only after the source's STOP: values change until then */
} NcDriverAt;

/* Called on the main context when a follower has changes to take. */
typedef void (*NcFollowNotify)(gpointer follower, gpointer user_data);

/**
 * NcChanges - what changed since the last take: @deleted keys first, then @upserts
 * @full:    TRUE: @upserts is the whole set (a resync); the receiver drops what is not in it
 * @upserts: (element-type gpointer): items of the class (freed with the class's free)
 * @deleted: (element-type GBytes): canonical keys
 */
typedef struct {
    gboolean full;
    GPtrArray *upserts;
    GPtrArray *deleted;
} NcChanges;

/**
 * NcStateDriver - one class in a kernel (theory of operation above)
 * @ops:    the class
 * @at:     when the engine takes it
 * @values: a value class (install sets existing objects' values; remove restores them)
 * @checked: a checked class (static policy: nwfilter definitions, per-VM chains, the ports'
 *           needs; src/conf/nc-policy.h): captured once when the destination is admitted, its
 *           probe compares with the destination's own and runs even when nothing arrived (the
 *           destination checks what its own XML references); install and remove do nothing
 * @source_cleanup: (nullable) after a completed migration, which of the items the source sent
 *           it removes (the source's clean-up): (transfer full) a set of the class, maybe empty.
 *           NULL: the class leaves nothing to remove there (mdb entries go with the source's
 *           tap, a learned address with its libvirtd, value and checked classes are the
 *           operator's)
 */
typedef struct {
    const NcClassOps *ops;
    NcDriverAt at;
    gboolean values;
    gboolean checked;
    NcItemSet *(*source_cleanup)(const NcItemSet *sent);
    gpointer (*open)(const char *netns, GError **error);
    void (*close)(gpointer handle);
    gboolean (*probe)(gpointer handle, const NcOwner *owner, const NcItemSet *expected,
                      GError **error);
    gboolean (*capture)(gpointer handle, const NcOwner *owner, NcItemSet *out,
                        GPtrArray *not_carried, GError **error);
    gboolean (*install)(gpointer handle, const NcOwner *owner, const NcItemSet *items,
                        NcItemSet **installed, GError **error);
    gboolean (*remove)(gpointer handle, const NcItemSet *items, guint *n_removed, GError **error);
    /* (nullable): no events; capture again at the stop */
    gpointer (*follow)(const char *netns, const NcOwner *owner, NcFollowNotify notify,
                       gpointer user_data, GError **error);
    NcChanges *(*take_changes)(gpointer follower);
    void (*unfollow)(gpointer follower);
} NcStateDriver;

void nc_changes_free(NcChanges *changes);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(NcChanges, nc_changes_free)

gboolean nc_state_driver_verify(const NcStateDriver *driver, gpointer handle, const NcOwner *owner,
                                const NcItemSet *expected, NcItemDiff **diff, GError **error);

/**
 * NcClassCarry - one class's part of an install on one host
 * @driver:    the class
 * @handle:    the driver's handle in the destination's namespace
 * @items:     what to install (an empty or NULL set installs nothing of the class)
 * @installed: (out) (transfer full): set by nc_state_drivers_install_all(): what the class
 *             installed, for nc_state_drivers_remove_all(); free with nc_item_set_free()
 */
typedef struct {
    const NcStateDriver *driver;
    gpointer handle;
    const NcItemSet *items;
    NcItemSet *installed;
} NcClassCarry;

gboolean nc_state_drivers_install_all(NcClassCarry *classes, guint n, const NcOwner *owner,
                                      GError **error);
gboolean nc_state_drivers_remove_all(NcClassCarry *classes, guint n, guint *n_removed,
                                     GError **error);

/* The registry: every driver of libnetcarry, by class name ("nft-set", "nft-object", "mdb", and
 * the checked classes "nwfilter", "nft-chain", "port"). Conntrack's
 * class is in conf/ (nc_ct_class, conf/nc-ct-items.h); its driver (nc_ct_state_driver,
 * src/daemon/nc-ct-class.h) joins the registry once it moves to drivers/ (its follower still
 * lives beside the engine). */
const NcStateDriver *nc_state_driver_lookup(const char *class_name);
const NcStateDriver *const *nc_state_drivers(guint *n);

G_END_DECLS
