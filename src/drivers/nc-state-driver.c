/* nc-state-driver.c - what every state driver shares: the domain's owner view, named object
 * references, the not-carried list, verification, ownership checks and the registry
 *
 * Theory of operation: nc-state-driver.h.
 */
#include "drivers/nc-mdb.h"
#include "drivers/nc-nft-obj.h"
#include "drivers/nc-nft-set.h"
#include "drivers/nc-policy-drv.h"
#include "drivers/nc-state-driver.h"
#include "util/nc-error.h"

void nc_changes_free(NcChanges *changes)
{
    if (!changes)
        return;
    if (changes->upserts)
        g_ptr_array_unref(changes->upserts);
    if (changes->deleted)
        g_ptr_array_unref(changes->deleted);
    g_free(changes);
}

/* ---- checks ---- */

/**
 * nc_state_driver_verify() - capture the class again and compare with what was installed
 * @driver:   the class
 * @handle:   the driver's handle in the namespace
 * @owner:    the domain
 * @expected: what was installed
 * @diff:     (out) (transfer full): the differences (missing, extra, changed), with the class's
 *            tolerance for fields that tick
 * @error:    the capture's error
 *
 * Return: TRUE if the capture ran (look at @diff for the answer)
 */
gboolean nc_state_driver_verify(const NcStateDriver *driver, gpointer handle, const NcOwner *owner,
                                const NcItemSet *expected, NcItemDiff **diff, GError **error)
{
    g_autoptr(NcItemSet) found = nc_item_set_new(driver->ops);

    if (!driver->capture(handle, owner, found, NULL, error))
        return FALSE;
    *diff = nc_item_set_diff(expected, found);
    return TRUE;
}

/* ---- all classes at once ---- */

/**
 * nc_state_drivers_install_all() - install every class, all or nothing across classes
 * @classes: the classes, in the order they install (sets before conntrack, ...)
 * @n:       how many
 * @owner:   the domain as this host derived it
 * @error:   the first class that cannot take its items (its probe) or that failed, prefixed with
 *           the class's name; nothing of any class is installed then
 *
 * Every class with items is probed first, so a target missing in one class (a set) stops the
 * install before any class changed anything. If an install still fails, the classes installed
 * before it are removed again, in reverse order.
 *
 * Return: TRUE if every class is installed (@classes[i].installed say what)
 */
gboolean nc_state_drivers_install_all(NcClassCarry *classes, guint n, const NcOwner *owner,
                                      GError **error)
{
    for (guint i = 0; i < n; i++) {
        NcClassCarry *c = &classes[i];

        c->installed = NULL;
        if (!c->items || !nc_item_set_count(c->items))
            continue;
        if (!c->driver->probe(c->handle, owner, c->items, error)) {
            g_prefix_error(error, "class %s: ", c->driver->ops->name);
            return FALSE;
        }
    }
    for (guint i = 0; i < n; i++) {
        NcClassCarry *c = &classes[i];

        if (!c->items || !nc_item_set_count(c->items))
            continue;
        if (!c->driver->install(c->handle, owner, c->items, &c->installed, error)) {
            g_autoptr(GError) undo = NULL;

            g_prefix_error(error, "class %s: ", c->driver->ops->name);
            if (!nc_state_drivers_remove_all(classes, i, NULL, &undo))
                g_prefix_error(error,
                               "(and removing what the classes before it installed "
                               "failed: %s) ",
                               undo->message);
            return FALSE;
        }
    }
    return TRUE;
}

/**
 * nc_state_drivers_remove_all() - remove what nc_state_drivers_install_all() installed (the
 * roll-back), in reverse order; every class is tried even when one fails
 * @classes:   the classes (their @installed); each @installed is freed and reset
 * @n:         how many
 * @n_removed: (out) (optional): items removed (or, for value classes, restored)
 * @error:     the first failure, prefixed with the class's name
 *
 * Return: TRUE if every class's removal succeeded
 */
gboolean nc_state_drivers_remove_all(NcClassCarry *classes, guint n, guint *n_removed,
                                     GError **error)
{
    gboolean ok = TRUE;

    if (n_removed)
        *n_removed = 0;
    for (guint i = n; i-- > 0;) {
        NcClassCarry *c = &classes[i];
        g_autoptr(GError) local = NULL;
        guint k = 0;

        if (!c->installed)
            continue;
        if (!c->driver->remove(c->handle, c->installed, &k, &local)) {
            if (ok)
                g_propagate_prefixed_error(error, g_steal_pointer(&local),
                                           "class %s: ", c->driver->ops->name);
            ok = FALSE;
        }
        if (n_removed)
            *n_removed += k;
        g_clear_pointer(&c->installed, nc_item_set_free);
    }
    return ok;
}

/* ---- registry ---- */

static const NcStateDriver *const nc_state_driver_table[] = {
    &nc_nft_set_driver,
    &nc_nft_obj_driver,
    &nc_mdb_driver,
    &nc_nft_chain_driver,
    &nc_nwfilter_driver,
    &nc_port_driver,
};

const NcStateDriver *const *nc_state_drivers(guint *n)
{
    *n = G_N_ELEMENTS(nc_state_driver_table);
    return nc_state_driver_table;
}

const NcStateDriver *nc_state_driver_lookup(const char *class_name)
{
    for (gsize i = 0; i < G_N_ELEMENTS(nc_state_driver_table); i++)
        if (g_strcmp0(nc_state_driver_table[i]->ops->name, class_name) == 0)
            return nc_state_driver_table[i];
    return NULL;
}
