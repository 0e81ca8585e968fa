/* nc-mdb-items.c - the bridge multicast database class's items: identity, canonical bytes,
 * description, comparison, ownership (no kernel)
 *
 * How the driver finds a domain's bridge port and what it carries: src/drivers/nc-mdb.c.
 */
#include <string.h>

#include "conf/nc-mdb-items.h"
#include "util/nc-bytes.h"
#include "util/nc-error.h"

/* canonical bytes: mac (6), group (family 1 + 16), source (family 1 + 16), then permanent (1) */
#define NC_MDB_KEY_LEN (6 + 17 + 17)
#define NC_MDB_ENC_LEN (NC_MDB_KEY_LEN + 1)

void nc_mdb_entry_free(NcMdbEntry *entry)
{
    g_free(entry);
}

NcMdbEntry *nc_mdb_entry_copy(const NcMdbEntry *entry)
{
    return g_memdup2(entry, sizeof(*entry));
}

/**
 * nc_mdb_port_mac_matches() - is @port_mac the MAC of the bridge port for interface @iface_mac
 * @iface_mac: the interface's MAC (the guest's)
 * @port_mac:  a bridge port's own MAC
 *
 * libvirt gives the tap of a bridged interface the guest's MAC with its first byte made 0xFE
 * (0xFA if the guest's first byte is 0xFE), so that the bridge never takes the tap's address as
 * its own and the kernel does not see the guest's frames as its own address
 * (virNetDevTapCreateInBridgePort, and qemuInterfaceEthernetConnect for type='ethernet'); with
 * VIR_NETDEV_TAP_CREATE_USE_MAC_FOR_BRIDGE, and for a port the command line named, the port has
 * the interface's MAC itself.
 *
 * Return: TRUE if @port_mac is one of those
 */
gboolean nc_mdb_port_mac_matches(const guint8 *iface_mac, const guint8 *port_mac)
{
    if (memcmp(iface_mac, port_mac, 6) == 0)
        return TRUE;
    if (memcmp(iface_mac + 1, port_mac + 1, 5) != 0)
        return FALSE;
    return port_mac[0] == (iface_mac[0] == 0xfe ? 0xfa : 0xfe);
}

static void nc_mdb_put_addr(GByteArray *out, const NcAddr *a)
{
    g_byte_array_append(out, &a->family, 1);
    g_byte_array_append(out, a->bytes, 16);
}

static gboolean nc_mdb_key(gconstpointer item, GByteArray *out, GError **error)
{
    const NcMdbEntry *e = item;

    if (e->group.family != AF_INET && e->group.family != AF_INET6) {
        g_set_error_literal(error, NC_ERROR, NC_ERROR_INVALID_ARG,
                            "an mdb entry without a group address has no canonical form");
        return FALSE;
    }
    g_byte_array_append(out, e->mac, 6);
    nc_mdb_put_addr(out, &e->group);
    nc_mdb_put_addr(out, &e->source);
    return TRUE;
}

static gboolean nc_mdb_encode(gconstpointer item, GByteArray *out, GError **error)
{
    const NcMdbEntry *e = item;

    if (!nc_mdb_key(item, out, error))
        return FALSE;
    nc_bytes_put_be(out, e->permanent ? 1 : 0, 1);
    return TRUE;
}

static gboolean nc_mdb_is_multicast(const NcAddr *a)
{
    return a->family == AF_INET ? (a->bytes[0] & 0xf0) == 0xe0 : a->bytes[0] == 0xff;
}

/**
 * nc_mdb_entry_check() - an entry the kernel could hold: a multicast group of IPv4 or IPv6, a
 * source (if any) of the group's family that is not multicast, address bytes beyond the family's
 * length zero
 * @error: NC_ERROR_INVALID_DATA naming what is wrong
 *
 * Return: TRUE if it is one
 */
gboolean nc_mdb_entry_check(const NcMdbEntry *e, GError **error)
{
    const char *bad = NULL;
    static const guint8 zero[16] = {0};

    if (e->group.family != AF_INET && e->group.family != AF_INET6)
        bad = "the group is neither IPv4 nor IPv6";
    else if (!nc_mdb_is_multicast(&e->group))
        bad = "the group is not a multicast address";
    else if (e->group.family == AF_INET && memcmp(e->group.bytes + 4, zero, 12) != 0)
        bad = "the group's bytes beyond its 4 are not zero";
    else if (e->source.family && e->source.family != e->group.family)
        bad = "the source is not of the group's family";
    else if (e->source.family && nc_mdb_is_multicast(&e->source))
        bad = "the source is a multicast address";
    else if (!e->source.family && memcmp(e->source.bytes, zero, 16) != 0)
        bad = "a (*,G) entry has source bytes";
    else if (e->source.family == AF_INET && memcmp(e->source.bytes + 4, zero, 12) != 0)
        bad = "the source's bytes beyond its 4 are not zero";
    if (bad) {
        g_set_error(error, NC_ERROR, NC_ERROR_INVALID_DATA, "not an mdb entry: %s", bad);
        return FALSE;
    }
    return TRUE;
}

/* the inverse of nc_mdb_encode(); a peer's bytes are untrusted */
static gpointer nc_mdb_decode(const guint8 *data, gsize len, GError **error)
{
    g_autoptr(NcMdbEntry) e = g_new0(NcMdbEntry, 1);

    if (len != NC_MDB_ENC_LEN) {
        g_set_error(error, NC_ERROR, NC_ERROR_INVALID_DATA,
                    "an item of class mdb has %" G_GSIZE_FORMAT " bytes, not %u", len,
                    NC_MDB_ENC_LEN);
        return NULL;
    }
    memcpy(e->mac, data, 6);
    e->group.family = data[6];
    memcpy(e->group.bytes, data + 7, 16);
    e->source.family = data[23];
    memcpy(e->source.bytes, data + 24, 16);
    if (data[40] > 1) {
        g_set_error_literal(error, NC_ERROR, NC_ERROR_INVALID_DATA,
                            "an item of class mdb does not decode at permanent (not 0 or 1)");
        return NULL;
    }
    e->permanent = data[40];
    if (!nc_mdb_entry_check(e, error)) {
        g_prefix_error(error, "an item of class mdb does not decode: ");
        return NULL;
    }
    return g_steal_pointer(&e);
}

char *nc_mdb_entry_describe(gconstpointer item)
{
    const NcMdbEntry *e = item;
    g_autofree char *mac = nc_mac_to_string(e->mac);
    g_autofree char *group = nc_addr_to_string(&e->group);
    g_autofree char *source = e->source.family ? nc_addr_to_string(&e->source) : NULL;

    return g_strdup_printf("mdb entry of interface %s group %s%s%s (%s)", mac, group,
                           source ? " source " : "", source ? source : "",
                           e->permanent ? "permanent" : "temp");
}

static char *nc_mdb_compare(gconstpointer pa, gconstpointer pb)
{
    const NcMdbEntry *a = pa, *b = pb;

    if (a->permanent != b->permanent)
        return g_strdup_printf("%s expected, %s found", a->permanent ? "permanent" : "temp",
                               b->permanent ? "permanent" : "temp");
    return NULL;
}

/**
 * nc_mdb_entry_owns() - is the entry's interface one of the domain's
 * @owner: the domain as this host derived it (its MACs; the command line's ports)
 * @item:  an NcMdbEntry
 * @why:   (out) (optional) (transfer full): on FALSE, why not
 *
 * Return: TRUE if its MAC is one of the domain's interfaces'
 */
gboolean nc_mdb_entry_owns(const NcOwner *owner, gconstpointer item, char **why)
{
    const NcMdbEntry *e = item;

    if (nc_owner_has_mac(owner, e->mac) || nc_owner_find_port(owner, e->mac))
        return TRUE;
    if (why)
        *why = g_strdup("its interface's MAC is not one of the domain's");
    return FALSE;
}

const NcClassOps nc_mdb_class = {
    .name = "mdb",
    .key = nc_mdb_key,
    .encode = nc_mdb_encode,
    .decode = nc_mdb_decode,
    .describe = nc_mdb_entry_describe,
    .compare = nc_mdb_compare,
    .owns = nc_mdb_entry_owns,
    .free = (GDestroyNotify)nc_mdb_entry_free,
};
