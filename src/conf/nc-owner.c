/* nc-owner.c - what belongs to a domain, and what of it is not carried
 */
#include <string.h>

#include "conf/nc-owner.h"
#include "util/nc-error.h"

/* ---- named objects ---- */

NcObjectRef *nc_object_ref_new(const char *family, const char *table, const char *name,
                               const char *type)
{
    NcObjectRef *r = g_new0(NcObjectRef, 1);

    r->family = g_strdup(family);
    r->table = g_strdup(table);
    r->name = g_strdup(name);
    r->type = g_strdup(type);
    return r;
}

void nc_object_ref_free(NcObjectRef *ref)
{
    if (!ref)
        return;
    g_free(ref->family);
    g_free(ref->table);
    g_free(ref->name);
    g_free(ref->type);
    g_free(ref);
}

/**
 * nc_object_ref_parse() - FAMILY/TABLE/NAME, as `--object` takes it
 * @text:  the reference
 * @type:  (nullable): what it must be ("counter", "quota", "set"), NULL for any
 * @error: NC_ERROR_INVALID_ARG naming the text and the expected form
 *
 * Return: (transfer full): the reference, or NULL
 */
NcObjectRef *nc_object_ref_parse(const char *text, const char *type, GError **error)
{
    g_auto(GStrv) parts = g_strsplit(text ? text : "", "/", -1);

    if (g_strv_length(parts) != 3 || !*parts[0] || !*parts[1] || !*parts[2]) {
        g_set_error(error, NC_ERROR, NC_ERROR_INVALID_ARG,
                    "'%s' is not an nftables object: expected FAMILY/TABLE/NAME, e.g. "
                    "inet/fw/vm50",
                    text ? text : "");
        return NULL;
    }
    return nc_object_ref_new(parts[0], parts[1], parts[2], type);
}

/* ---- owner ---- */

void nc_owner_port_free(NcOwnerPort *port)
{
    if (!port)
        return;
    g_free(port->ifname);
    g_free(port->bridge);
    g_free(port->network);
    g_free(port->filter);
    g_free(port->vlan);
    g_free(port);
}

NcOwner *nc_owner_new(void)
{
    NcOwner *o = g_new0(NcOwner, 1);

    o->addresses = g_array_new(FALSE, TRUE, sizeof(NcAddr));
    o->macs = g_array_new(FALSE, TRUE, 6);
    o->learning_macs = g_array_new(FALSE, TRUE, 6);
    o->learn_prefixes = g_array_new(FALSE, TRUE, sizeof(NcPrefix));
    o->objects = g_ptr_array_new_with_free_func((GDestroyNotify)nc_object_ref_free);
    o->ports = g_ptr_array_new_with_free_func((GDestroyNotify)nc_owner_port_free);
    o->chains = g_ptr_array_new_with_free_func((GDestroyNotify)nc_object_ref_free);
    return o;
}

/* (transfer full): a deep copy */
NcOwner *nc_owner_copy(const NcOwner *owner)
{
    NcOwner *o = nc_owner_new();

    g_array_append_vals(o->addresses, owner->addresses->data, owner->addresses->len);
    g_array_append_vals(o->macs, owner->macs->data, owner->macs->len);
    if (owner->learning_macs)
        g_array_append_vals(o->learning_macs, owner->learning_macs->data,
                            owner->learning_macs->len);
    if (owner->learn_prefixes)
        g_array_append_vals(o->learn_prefixes, owner->learn_prefixes->data,
                            owner->learn_prefixes->len);
    o->uuid = g_strdup(owner->uuid);
    for (guint i = 0; owner->objects && i < owner->objects->len; i++) {
        const NcObjectRef *r = owner->objects->pdata[i];

        g_ptr_array_add(o->objects, nc_object_ref_new(r->family, r->table, r->name, r->type));
    }
    o->has_zone = owner->has_zone;
    o->zone = owner->zone;
    o->has_mark = owner->has_mark;
    o->mark = owner->mark;
    for (guint i = 0; owner->ports && i < owner->ports->len; i++) {
        const NcOwnerPort *p = owner->ports->pdata[i];

        NcOwnerPort *c;

        nc_owner_add_port(o, p->mac, p->ifname, p->bridge);
        c = o->ports->pdata[o->ports->len - 1];
        c->network = g_strdup(p->network);
        c->filter = g_strdup(p->filter);
        c->vlan = g_strdup(p->vlan);
        c->bandwidth = p->bandwidth;
    }
    for (guint i = 0; owner->chains && i < owner->chains->len; i++) {
        const NcObjectRef *r = owner->chains->pdata[i];

        g_ptr_array_add(o->chains, nc_object_ref_new(r->family, r->table, r->name, r->type));
    }
    return o;
}

void nc_owner_free(NcOwner *owner)
{
    if (!owner)
        return;
    g_array_unref(owner->addresses);
    g_array_unref(owner->macs);
    if (owner->learning_macs)
        g_array_unref(owner->learning_macs);
    if (owner->learn_prefixes)
        g_array_unref(owner->learn_prefixes);
    g_free(owner->uuid);
    if (owner->objects)
        g_ptr_array_unref(owner->objects);
    if (owner->ports)
        g_ptr_array_unref(owner->ports);
    if (owner->chains)
        g_ptr_array_unref(owner->chains);
    g_free(owner);
}

gboolean nc_owner_has_addr(const NcOwner *owner, const NcAddr *addr)
{
    for (guint i = 0; owner->addresses && i < owner->addresses->len; i++)
        if (nc_addr_equal(&g_array_index(owner->addresses, NcAddr, i), addr))
            return TRUE;
    return FALSE;
}

/* Whether @mac is one of the owner's interfaces whose address nwfilter learns. */
gboolean nc_owner_learns_mac(const NcOwner *owner, const guint8 *mac)
{
    for (guint i = 0; owner->learning_macs && i < owner->learning_macs->len; i++)
        if (memcmp(owner->learning_macs->data + 6 * i, mac, 6) == 0)
            return TRUE;
    return FALSE;
}

gboolean nc_owner_has_mac(const NcOwner *owner, const guint8 *mac)
{
    for (guint i = 0; owner->macs && i < owner->macs->len; i++)
        if (memcmp(owner->macs->data + 6 * i, mac, 6) == 0)
            return TRUE;
    return FALSE;
}

/* nc_owner_add_port() - records where the interface @mac meets a bridge (copies the strings) */
void nc_owner_add_port(NcOwner *owner, const guint8 *mac, const char *ifname, const char *bridge)
{
    NcOwnerPort *p = g_new0(NcOwnerPort, 1);

    memcpy(p->mac, mac, 6);
    p->ifname = g_strdup(ifname);
    p->bridge = g_strdup(bridge);
    g_ptr_array_add(owner->ports, p);
}

/* (nullable): the first port recorded for @mac */
const NcOwnerPort *nc_owner_find_port(const NcOwner *owner, const guint8 *mac)
{
    for (guint i = 0; owner->ports && i < owner->ports->len; i++) {
        const NcOwnerPort *p = owner->ports->pdata[i];

        if (memcmp(p->mac, mac, 6) == 0)
            return p;
    }
    return NULL;
}

/* ---- not carried ---- */

void nc_not_carried_free(NcNotCarried *nc)
{
    if (!nc)
        return;
    g_free(nc->class_name);
    g_free(nc->what);
    g_free(nc->reason);
    g_free(nc);
}

GPtrArray *nc_not_carried_list_new(void)
{
    return g_ptr_array_new_with_free_func((GDestroyNotify)nc_not_carried_free);
}

/**
 * nc_not_carried_add() - record something of the domain that is not carried, and why
 * @list:       (nullable) (element-type NcNotCarried): the list; NULL records nothing
 * @class_name: the class that found it
 * @what:       what it is
 * @reason_fmt: printf format of the reason
 */
void nc_not_carried_add(GPtrArray *list, const char *class_name, const char *what,
                        const char *reason_fmt, ...)
{
    NcNotCarried *nc;
    va_list ap;

    if (!list)
        return;
    nc = g_new0(NcNotCarried, 1);
    nc->class_name = g_strdup(class_name);
    nc->what = g_strdup(what);
    va_start(ap, reason_fmt);
    nc->reason = g_strdup_vprintf(reason_fmt, ap);
    va_end(ap);
    g_ptr_array_add(list, nc);
}
