/* nc-ip-binding.c - the "ip-binding" class's driver: libvirt's lease file in, nothing into a
 * kernel (what and why: nc-ip-binding.h, conf/nc-ip-learn.h)
 */
#include <errno.h>

#include "conf/nc-ip-learn.h"
#include "drivers/nc-ip-binding.h"
#include "util/nc-error.h"

static char *leases_path;

void nc_ip_binding_set_leases_path(const char *path)
{
    g_free(leases_path);
    leases_path = g_strdup(path);
}

/**
 * nc_ip_binding_read() - the live leases libvirt's DHCP snooping holds for @owner's interfaces
 * whose address it learns
 * @owner: the domain (its UUID and learning MACs)
 * @error: the file cannot be read, or a line of it is malformed (named with its number)
 *
 * No lease file (no domain ever snooped on this host) is no lease, not an error.
 *
 * Return: (transfer full) (element-type NcIpBinding): possibly empty, or NULL
 */
GPtrArray *nc_ip_binding_read(const NcOwner *owner, GError **error)
{
    const char *path = leases_path ? leases_path : NC_NWFILTER_LEASES_PATH;
    g_autofree char *data = NULL;
    g_autoptr(GError) err = NULL;
    g_autoptr(GPtrArray) all = NULL;
    GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)nc_ip_binding_free);
    gsize len = 0;

    if (!owner->uuid || !owner->learning_macs || !owner->learning_macs->len)
        return out;
    if (!g_file_get_contents(path, &data, &len, &err)) {
        if (g_error_matches(err, G_FILE_ERROR, G_FILE_ERROR_NOENT))
            return out;
        g_set_error(error, NC_ERROR, NC_ERROR_FAILED, "cannot read libvirt's lease file: %s",
                    err->message);
        g_ptr_array_unref(out);
        return NULL;
    }
    all =
        nc_ip_leases_parse(data, len, path, owner->uuid, g_get_real_time() / G_USEC_PER_SEC, error);
    if (!all) {
        g_ptr_array_unref(out);
        return NULL;
    }
    for (guint i = 0; i < all->len; i++) {
        const NcIpBinding *b = all->pdata[i];

        if (nc_owner_learns_mac(owner, b->mac))
            g_ptr_array_add(out, nc_ip_binding_copy(b));
    }
    return out;
}

/* the handle: nothing to open (the file is read at each capture) */
static gpointer binding_open(const char *netns, GError **error)
{
    (void)netns;
    (void)error;
    return GINT_TO_POINTER(1);
}

static void binding_close(gpointer handle)
{
    (void)handle;
}

/* nothing to check: libvirt takes the pinned XML or refuses the migration itself */
static gboolean binding_probe(gpointer handle, const NcOwner *owner, const NcItemSet *expected,
                              GError **error)
{
    (void)handle;
    (void)owner;
    (void)expected;
    (void)error;
    return TRUE;
}

static gboolean binding_capture(gpointer handle, const NcOwner *owner, NcItemSet *out,
                                GPtrArray *not_carried, GError **error)
{
    g_autoptr(GPtrArray) list = nc_ip_binding_read(owner, error);

    (void)handle;
    (void)not_carried;
    if (!list)
        return FALSE;
    for (guint i = 0; i < list->len; i++)
        if (!nc_item_set_upsert(out, nc_ip_binding_copy(list->pdata[i]), NULL, error))
            return FALSE;
    return TRUE;
}

/* pinned in the domain XML at admission (nc-carry-dest.c): no kernel state, nothing to undo */
static gboolean binding_install(gpointer handle, const NcOwner *owner, const NcItemSet *items,
                                NcItemSet **installed, GError **error)
{
    (void)handle;
    (void)error;
    if (!nc_item_set_check_owned(items, owner, error))
        return FALSE;
    *installed = nc_item_set_new_without_digest(&nc_ip_binding_class);
    return TRUE;
}

static gboolean binding_remove(gpointer handle, const NcItemSet *items, guint *n_removed,
                               GError **error)
{
    (void)handle;
    (void)items;
    (void)error;
    if (n_removed)
        *n_removed = 0;
    return TRUE;
}

const NcStateDriver nc_ip_binding_driver = {
    .ops = &nc_ip_binding_class,
    .at = NC_DRIVER_AT_PRECOPY,
    .values = FALSE,
    .open = binding_open,
    .close = binding_close,
    .probe = binding_probe,
    .capture = binding_capture,
    .install = binding_install,
    .remove = binding_remove,
};
