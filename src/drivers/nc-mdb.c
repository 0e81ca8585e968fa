/* nc-mdb.c - the bridge multicast database driver: a domain's IGMP/MLD snooping memberships on
 * its bridge port, captured and re-created over rtnetlink (RTM_GETMDB, RTM_NEWMDB, RTM_DELMDB)
 */
#define _GNU_SOURCE
#define G_LOG_DOMAIN "nc-mdb"
#include <errno.h>
#include <string.h>

#include "conf/nc-mdb-items.h"
#include "drivers/nc-mdb.h"
#include "util/nc-error.h"
#include "util/nc-mnl.h"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/if_bridge.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>

/*
 * Theory of operation
 * ===================
 * A bridge that snoops IGMP/MLD forwards a group only to the ports whose mdb holds it (with
 * `mcast_flood off` on a port, an unregistered group does not reach it either). A guest reports
 * its groups when it joins and when a querier asks (every 125 s by default), so after a migration
 * the destination's port would get none of its groups until the next query. This driver re-creates
 * the source port's entries on the destination's port before the gate opens.
 *
 * Which port. A port's name differs between hosts (vnet3 on the source, vnet0 on the
 * destination), so an item names its interface by MAC (NcMdbEntry.mac, the guest's, from the
 * domain XML on each host) and the driver finds the port from it: libvirt gives a bridged
 * interface's tap the guest's MAC with the first byte made 0xfe (0xfa when the guest's is 0xfe;
 * nc_mdb_port_mac_matches() cites libvirt), and the port is that tap among the ports of a bridge.
 * This needs nothing from the engine (it never learns tap names) and holds on both hosts; the
 * alternatives were worse: the domain XML's <target dev> is not known on the destination when
 * admission runs and the engine would have to carry it to the driver at the seal, and the
 * bridge's fdb learns the guest's MAC on the port only once the guest has sent a frame, which a
 * paused guest has not. A port named explicitly (NcOwnerPort.ifname: `netcarry capture|install
 * --port`) is taken by name. Install remembers each port it used, so that a roll-back finds it
 * again; a port that has gone (the guest's tap, with its entries) leaves nothing to remove.
 *
 * What is carried. The dump lists every port group of every bridge; the port's are taken:
 *  - (*,G) entries in EXCLUDE mode (IGMPv2/MLDv1 joins, IGMPv3/MLDv2 EXCLUDE {}) and (S,G)
 *    entries (IGMPv3/MLDv2 INCLUDE {S...} joins, or an operator's `src` entries): each as an
 *    item with its group, its source, and permanent or temporary.
 *  - a (*,G) in INCLUDE mode is not an item: its sources are, as (S,G) entries (what the kernel
 *    forwards by); (S,G) entries flagged STAR_EXCL are the kernel's own copies of a (*,G) EXCLUDE
 *    entry (re-made with it): not items either.
 *  - (S,G) entries flagged BLOCKED (a source an EXCLUDE-mode report excluded) are not carried,
 *    and listed as such: the destination forwards that source until the guest's next report.
 *  - layer-2 (MAC) group entries are listed as not carried.
 * The port's entries, permanent or temporary, are re-created as they were: a learned
 * (temporary) one gets the kernel's full membership interval (260 s by default; the time left
 * cannot be set from userspace) and is refreshed by the guest's next report or left to expire
 * once the guest leaves, as on the source; a permanent one is an operator's static entry and stays
 * permanent. Installing a learned entry as permanent would outlive the membership.
 *
 * Admission (probe). The destination's tap may not exist yet: the bridge is then the one the
 * domain XML names (`<source bridge=.../>`, NcOwnerPort.bridge), else the port's own bridge. The
 * bridge must snoop (IFLA_BR_MCAST_SNOOPING), and its mdb must have room: the kernel turns
 * snooping off for the whole bridge when a new group would take it beyond mcast_hash_max
 * (br_multicast_new_group(), E2BIG), which would flood every group to every port. So the groups
 * the bridge holds plus the carried ones it lacks must stay at or below IFLA_BR_MCAST_HASH_MAX.
 *
 * Install: one RTM_NEWMDB per entry with NLM_F_CREATE | NLM_F_EXCL, pipelined (nc_mdb_pipeline():
 * 32 KiB of requests per sendmsg(), each ACKed; 205 entries beside 3,000 went in in 2-3 ms,
 * /mdb/scale in tests/kernel/test-mdb.c). An entry the port holds already (EEXIST: the guest
 * reported again, or an operator's entry) is not the install's and is left out of what it returns;
 * any other refusal removes what this install added and fails naming the entry. Remove: RTM_DELMDB
 * per entry, pipelined alike; one that is gone already (ENOENT, or its port has gone) is no error.
 *
 * An (S,G) entry steers forwarding only on a bridge that snoops IGMPv3/MLDv2 (mcast_igmp_version 3,
 * mcast_mld_version 2; br_mdb_get() looks (S,G) up only then): the destination's bridge is
 * expected to be configured as the source's, as for every other bridge setting.
 *
 * The source keeps its entries: its tap goes with the guest, and the entries with the tap.
 * This kernel has no bridge VLAN filtering: entries carry no VLAN (vid 0).
 */

#define NC_MDB_TIMEOUT_MS 10000
#define NC_MDB_RBUF_SIZE (64 * 1024)
#define NC_MDB_IFNAMSIZ 16

/* IGMPv3/MLDv2 filter modes as MDBA_MDB_EATTR_GROUP_MODE gives them (linux/in.h's MCAST_*) */
#define NC_MDB_MODE_EXCLUDE 0
#define NC_MDB_MODE_INCLUDE 1

struct NcMdb {
    struct mnl_socket *nl;
    guint32 portid;
    guint32 seq;
    char *netns;
    char *rbuf;
    GHashTable *used_ports; /* MAC (6 bytes, GBytes) -> port name: what install used */
};

static const char *nc_mdb_netns(const NcMdb *m)
{
    return m->netns ? m->netns : "(own)";
}

/**
 * nc_mdb_open() - an rtnetlink socket in a network namespace
 * @netns: a name under /run/netns, or NULL for the caller's namespace
 * @error: NC_ERROR_NOT_FOUND (no such namespace), NC_ERROR_PERMISSION, ...
 *
 * Return: (transfer full): the handle, or NULL
 */
NcMdb *nc_mdb_open(const char *netns, GError **error)
{
    int rcvbuf = 1024 * 1024;
    g_autoptr(NcMdb) m = g_new0(NcMdb, 1);

    m->netns = g_strdup(netns);
    m->rbuf = g_malloc(NC_MDB_RBUF_SIZE);
    m->used_ports =
        g_hash_table_new_full(g_bytes_hash, g_bytes_equal, (GDestroyNotify)g_bytes_unref, g_free);
    m->nl = nc_mnl_open(netns, NETLINK_ROUTE, &rcvbuf, error);
    if (!m->nl)
        return NULL;
    m->portid = mnl_socket_get_portid(m->nl);
    m->seq = (guint32)g_get_monotonic_time();
    return g_steal_pointer(&m);
}

void nc_mdb_close(NcMdb *m)
{
    if (!m)
        return;
    if (m->nl)
        mnl_socket_close(m->nl);
    g_hash_table_unref(m->used_ports);
    g_free(m->netns);
    g_free(m->rbuf);
    g_free(m);
}

/* One request (a dump with NLM_F_DUMP); every answer to @cb until NLMSG_DONE or the ACK.
 * @errnum gets the kernel's errno on a refusal. */
static gboolean nc_mdb_query(NcMdb *m, struct nlmsghdr *nlh, mnl_cb_t cb, gpointer data,
                             const char *what, int *errnum, GError **error)
{
    NcMnlQuery q = {m->nl,       m->portid, m->rbuf, NC_MDB_RBUF_SIZE, NC_MDB_TIMEOUT_MS,
                    "rtnetlink", m->netns};

    return nc_mnl_query(&q, ++m->seq, nlh, cb, data, what, errnum, error);
}

/* A dump of @type (RTM_GETLINK, RTM_GETMDB) with an empty family header of @hdr_len bytes whose
 * first byte is @family: every message to @cb. */
static gboolean nc_mdb_dump_all(NcMdb *m, guint16 type, guint8 family, gsize hdr_len, mnl_cb_t cb,
                                gpointer data, const char *what, GError **error)
{
    char buf[MNL_SOCKET_BUFFER_SIZE];
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
    guint8 *hdr;
    int errnum;

    nlh->nlmsg_type = type;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    hdr = mnl_nlmsg_put_extra_header(nlh, hdr_len);
    hdr[0] = family;
    return nc_mdb_query(m, nlh, cb, data, what, &errnum, error);
}

typedef struct {
    const struct nlattr **tb;
    int max;
} NcMdbTb;

static int nc_mdb_attr_cb(const struct nlattr *a, void *data)
{
    NcMdbTb *t = data;
    int type = mnl_attr_get_type(a);

    if (type <= t->max)
        t->tb[type] = a;
    return MNL_CB_OK;
}

static gboolean nc_mdb_nested(const struct nlattr *nest, const struct nlattr **tb, int max)
{
    NcMdbTb t = {tb, max};

    memset(tb, 0, sizeof(*tb) * (max + 1));
    return nest && mnl_attr_parse_nested(nest, nc_mdb_attr_cb, &t) >= MNL_CB_STOP;
}

/* ---- links ---- */

typedef struct {
    guint32 index;
    char name[NC_MDB_IFNAMSIZ];
    gboolean has_mac;
    guint8 mac[6];
    guint32 master;
    gboolean bridge; /* a bridge: @snooping and @hash_max are its */
    guint8 snooping;
    guint32 hash_max;
} NcMdbLink;

static int nc_mdb_link_cb(const struct nlmsghdr *nlh, void *data)
{
    GArray *links = data;
    const struct ifinfomsg *ifm = mnl_nlmsg_get_payload(nlh);
    const struct nlattr *tb[IFLA_MAX + 1] = {NULL}, *li[IFLA_INFO_MAX + 1], *br[IFLA_BR_MAX + 1];
    NcMdbTb t = {tb, IFLA_MAX};
    NcMdbLink l = {0};

    if (nlh->nlmsg_type != RTM_NEWLINK)
        return MNL_CB_OK;
    if (mnl_attr_parse(nlh, sizeof(*ifm), nc_mdb_attr_cb, &t) < MNL_CB_STOP)
        return MNL_CB_ERROR;
    l.index = ifm->ifi_index;
    if (tb[IFLA_IFNAME])
        g_strlcpy(l.name, mnl_attr_get_str(tb[IFLA_IFNAME]), sizeof(l.name));
    if (tb[IFLA_ADDRESS] && mnl_attr_get_payload_len(tb[IFLA_ADDRESS]) == 6) {
        l.has_mac = TRUE;
        memcpy(l.mac, mnl_attr_get_payload(tb[IFLA_ADDRESS]), 6);
    }
    if (tb[IFLA_MASTER])
        l.master = mnl_attr_get_u32(tb[IFLA_MASTER]);
    if (nc_mdb_nested(tb[IFLA_LINKINFO], li, IFLA_INFO_MAX) && li[IFLA_INFO_KIND] &&
        g_strcmp0(mnl_attr_get_str(li[IFLA_INFO_KIND]), "bridge") == 0) {
        l.bridge = TRUE;
        if (nc_mdb_nested(li[IFLA_INFO_DATA], br, IFLA_BR_MAX)) {
            if (br[IFLA_BR_MCAST_SNOOPING])
                l.snooping = mnl_attr_get_u8(br[IFLA_BR_MCAST_SNOOPING]);
            if (br[IFLA_BR_MCAST_HASH_MAX])
                l.hash_max = mnl_attr_get_u32(br[IFLA_BR_MCAST_HASH_MAX]);
        }
    }
    g_array_append_val(links, l);
    return MNL_CB_OK;
}

/* (transfer full) (element-type NcMdbLink): every link of the namespace */
static GArray *nc_mdb_links(NcMdb *m, GError **error)
{
    g_autoptr(GArray) links = g_array_new(FALSE, TRUE, sizeof(NcMdbLink));

    if (!nc_mdb_dump_all(m, RTM_GETLINK, AF_UNSPEC, sizeof(struct ifinfomsg), nc_mdb_link_cb, links,
                         "the list of links", error))
        return NULL;
    return g_steal_pointer(&links);
}

static const NcMdbLink *nc_mdb_link_by_index(GArray *links, guint32 index)
{
    for (guint i = 0; i < links->len; i++)
        if (g_array_index(links, NcMdbLink, i).index == index)
            return &g_array_index(links, NcMdbLink, i);
    return NULL;
}

static const NcMdbLink *nc_mdb_link_by_name(GArray *links, const char *name)
{
    for (guint i = 0; i < links->len; i++)
        if (g_strcmp0(g_array_index(links, NcMdbLink, i).name, name) == 0)
            return &g_array_index(links, NcMdbLink, i);
    return NULL;
}

/* the bridge @l is a port of, or NULL */
static const NcMdbLink *nc_mdb_bridge_of(GArray *links, const NcMdbLink *l)
{
    const NcMdbLink *b = l->master ? nc_mdb_link_by_index(links, l->master) : NULL;

    return b && b->bridge ? b : NULL;
}

/**
 * nc_mdb_find_port() - the bridge port that stands for interface @mac here
 * @links: the namespace's links
 * @owner: (nullable): its NcOwnerPort for @mac, if any, may name the port
 * @named: (nullable): a port name remembered by install (for the roll-back)
 * @error: NC_ERROR_NOT_FOUND naming the MAC (or the port) and the namespace; NC_ERROR_FAILED for
 *         two ports that could both be the interface's
 *
 * Return: the port (a link whose master is a bridge), or NULL
 */
static const NcMdbLink *nc_mdb_find_port(NcMdb *m, GArray *links, const NcOwner *owner,
                                         const guint8 *mac, const char *named, GError **error)
{
    const NcOwnerPort *op = owner ? nc_owner_find_port(owner, mac) : NULL;
    const char *ifname = op && op->ifname ? op->ifname : named;
    const NcMdbLink *found = NULL;
    g_autofree char *mac_text = nc_mac_to_string(mac);

    if (ifname) {
        found = nc_mdb_link_by_name(links, ifname);
        if (!found || !nc_mdb_bridge_of(links, found)) {
            g_set_error(error, NC_ERROR, NC_ERROR_NOT_FOUND,
                        "%s (the port of interface %s) %s in network namespace %s", ifname,
                        mac_text, found ? "is not a port of a bridge" : "does not exist",
                        nc_mdb_netns(m));
            return NULL;
        }
        return found;
    }
    for (guint i = 0; i < links->len; i++) {
        const NcMdbLink *l = &g_array_index(links, NcMdbLink, i);

        if (!l->has_mac || !nc_mdb_port_mac_matches(mac, l->mac) || !nc_mdb_bridge_of(links, l))
            continue;
        if (found) {
            g_set_error(error, NC_ERROR, NC_ERROR_FAILED,
                        "both %s and %s in network namespace %s could be the bridge port of "
                        "interface %s (by their MACs): name the port",
                        found->name, l->name, nc_mdb_netns(m), mac_text);
            return NULL;
        }
        found = l;
    }
    if (!found)
        g_set_error(error, NC_ERROR, NC_ERROR_NOT_FOUND,
                    "no bridge port in network namespace %s is interface %s's (libvirt's tap "
                    "has its MAC with the first byte fe)",
                    nc_mdb_netns(m), mac_text);
    return found;
}

/**
 * nc_mdb_port_mac() - the MAC of bridge port @ifname (what `netcarry capture --port` keys the
 * port's entries by)
 * @error: NC_ERROR_NOT_FOUND: no such link, or not a port of a bridge
 *
 * Return: TRUE with @mac set
 */
gboolean nc_mdb_port_mac(NcMdb *m, const char *ifname, guint8 *mac, GError **error)
{
    g_autoptr(GArray) links = nc_mdb_links(m, error);
    const NcMdbLink *l;

    if (!links)
        return FALSE;
    l = nc_mdb_link_by_name(links, ifname);
    if (!l || !l->has_mac || !nc_mdb_bridge_of(links, l)) {
        g_set_error(error, NC_ERROR, NC_ERROR_NOT_FOUND, "%s %s in network namespace %s", ifname,
                    l ? "is not a port of a bridge" : "does not exist", nc_mdb_netns(m));
        return FALSE;
    }
    memcpy(mac, l->mac, 6);
    return TRUE;
}

/* ---- the mdb ---- */

/* one port group as the dump lists it */
typedef struct {
    guint32 bridge;
    struct br_mdb_entry e;
    NcAddr group; /* family 0: a layer-2 group */
    NcAddr source;
    gboolean has_mode;
    guint8 mode;
} NcMdbRaw;

static void nc_mdb_addr_from(NcAddr *a, guint16 proto, const void *p, gsize len)
{
    memset(a, 0, sizeof(*a));
    if (proto == ETH_P_IP && len >= 4) {
        a->family = AF_INET;
        memcpy(a->bytes, p, 4);
    } else if (proto == ETH_P_IPV6 && len >= 16) {
        a->family = AF_INET6;
        memcpy(a->bytes, p, 16);
    }
}

static void nc_mdb_entry_info(GArray *out, guint32 bridge, const struct nlattr *info)
{
    gsize len = mnl_attr_get_payload_len(info);
    const guint8 *p = mnl_attr_get_payload(info);
    gsize hdr = MNL_ALIGN(sizeof(struct br_mdb_entry));
    const struct nlattr *tb[MDBA_MDB_EATTR_MAX + 1] = {NULL};
    NcMdbTb t = {tb, MDBA_MDB_EATTR_MAX};
    NcMdbRaw r = {0};
    guint16 proto;

    if (len < sizeof(struct br_mdb_entry))
        return;
    r.bridge = bridge;
    memcpy(&r.e, p, sizeof(r.e));
    if (len > hdr)
        mnl_attr_parse_payload(p + hdr, len - hdr, nc_mdb_attr_cb, &t);
    proto = ntohs(r.e.addr.proto);
    nc_mdb_addr_from(&r.group, proto, &r.e.addr.u, sizeof(r.e.addr.u));
    if (tb[MDBA_MDB_EATTR_SOURCE])
        nc_mdb_addr_from(&r.source, proto, mnl_attr_get_payload(tb[MDBA_MDB_EATTR_SOURCE]),
                         mnl_attr_get_payload_len(tb[MDBA_MDB_EATTR_SOURCE]));
    if (tb[MDBA_MDB_EATTR_GROUP_MODE]) {
        r.has_mode = TRUE;
        r.mode = mnl_attr_get_u8(tb[MDBA_MDB_EATTR_GROUP_MODE]);
    }
    g_array_append_val(out, r);
}

static int nc_mdb_dump_cb(const struct nlmsghdr *nlh, void *data)
{
    GArray *out = data;
    const struct br_port_msg *bpm = mnl_nlmsg_get_payload(nlh);
    const struct nlattr *tb[MDBA_MAX + 1] = {NULL}, *a, *b;
    NcMdbTb t = {tb, MDBA_MAX};

    /* a dump answers with RTM_GETMDB messages (br_mdb_dump()), a notification is RTM_NEWMDB */
    if (nlh->nlmsg_type != RTM_GETMDB && nlh->nlmsg_type != RTM_NEWMDB)
        return MNL_CB_OK;
    if (mnl_attr_parse(nlh, sizeof(*bpm), nc_mdb_attr_cb, &t) < MNL_CB_STOP)
        return MNL_CB_ERROR;
    if (!tb[MDBA_MDB])
        return MNL_CB_OK;
    mnl_attr_for_each_nested(a, tb[MDBA_MDB])
    {
        if (mnl_attr_get_type(a) != MDBA_MDB_ENTRY)
            continue;
        mnl_attr_for_each_nested(b, a)
        {
            if (mnl_attr_get_type(b) == MDBA_MDB_ENTRY_INFO)
                nc_mdb_entry_info(out, bpm->ifindex, b);
        }
    }
    return MNL_CB_OK;
}

/* (transfer full) (element-type NcMdbRaw): every port group of every bridge */
static GArray *nc_mdb_dump(NcMdb *m, GError **error)
{
    g_autoptr(GArray) out = g_array_new(FALSE, TRUE, sizeof(NcMdbRaw));

    if (!nc_mdb_dump_all(m, RTM_GETMDB, AF_BRIDGE, sizeof(struct br_port_msg), nc_mdb_dump_cb, out,
                         "the bridges' mdb", error))
        return NULL;
    return g_steal_pointer(&out);
}

/* ---- capture ---- */

typedef struct {
    guint32 port;
    guint8 mac[6];
} NcMdbPortOf;

/* The ports of @owner's interfaces that exist here (a missing one is not an error unless the
 * owner names it: an interface need not be bridged). */
static GArray *nc_mdb_owner_ports(NcMdb *m, GArray *links, const NcOwner *owner, GError **error)
{
    g_autoptr(GArray) ports = g_array_new(FALSE, TRUE, sizeof(NcMdbPortOf));
    g_autoptr(GArray) macs = g_array_new(FALSE, TRUE, 6);

    g_array_append_vals(macs, owner->macs->data, owner->macs->len);
    for (guint i = 0; owner->ports && i < owner->ports->len; i++) {
        const NcOwnerPort *op = owner->ports->pdata[i];

        if (!nc_owner_has_mac(owner, op->mac))
            g_array_append_vals(macs, op->mac, 1);
    }
    for (guint i = 0; i < macs->len; i++) {
        const guint8 *mac = (const guint8 *)macs->data + 6 * i;
        const NcOwnerPort *op = nc_owner_find_port(owner, mac);
        g_autoptr(GError) local = NULL;
        const NcMdbLink *l = nc_mdb_find_port(m, links, owner, mac, NULL, &local);
        NcMdbPortOf p;

        if (!l) {
            if ((op && op->ifname) || !g_error_matches(local, NC_ERROR, NC_ERROR_NOT_FOUND)) {
                g_propagate_error(error, g_steal_pointer(&local));
                return NULL;
            }
            g_debug("%s", local->message);
            continue;
        }
        p.port = l->index;
        memcpy(p.mac, mac, 6);
        g_array_append_val(ports, p);
    }
    return g_steal_pointer(&ports);
}

/**
 * nc_mdb_capture() - the mdb entries of the domain's bridge ports
 * @owner:       the domain: its interfaces' MACs, ports named explicitly
 * @out:         an NcItemSet of nc_mdb_class
 * @not_carried: (nullable): excluded sources and layer-2 groups, with why
 *
 * Return: TRUE on success
 */
static gboolean nc_mdb_capture(NcMdb *m, const NcOwner *owner, NcItemSet *out,
                               GPtrArray *not_carried, GError **error)
{
    g_autoptr(GArray) links = nc_mdb_links(m, error);
    g_autoptr(GArray) ports = NULL;
    g_autoptr(GArray) raw = NULL;

    if (!links || !(ports = nc_mdb_owner_ports(m, links, owner, error)))
        return FALSE;
    if (!ports->len)
        return TRUE;
    if (!(raw = nc_mdb_dump(m, error)))
        return FALSE;
    for (guint i = 0; i < raw->len; i++) {
        const NcMdbRaw *r = &g_array_index(raw, NcMdbRaw, i);
        const NcMdbPortOf *p = NULL;
        const NcMdbLink *pl;
        g_autoptr(NcMdbEntry) e = NULL;

        for (guint j = 0; j < ports->len && !p; j++)
            if (g_array_index(ports, NcMdbPortOf, j).port == r->e.ifindex)
                p = &g_array_index(ports, NcMdbPortOf, j);
        if (!p)
            continue; /* another port's: not the domain's */
        pl = nc_mdb_link_by_index(links, p->port);
        if (!r->group.family) {
            g_autofree char *what = g_strdup_printf(
                "layer-2 group %02x:%02x:%02x:%02x:%02x:%02x on port %s", r->e.addr.u.mac_addr[0],
                r->e.addr.u.mac_addr[1], r->e.addr.u.mac_addr[2], r->e.addr.u.mac_addr[3],
                r->e.addr.u.mac_addr[4], r->e.addr.u.mac_addr[5], pl ? pl->name : "?");

            nc_not_carried_add(not_carried, nc_mdb_class.name, what, "%s",
                               "only IPv4 and IPv6 groups are carried");
            continue;
        }
        if (r->e.flags & MDB_FLAGS_STAR_EXCL)
            continue; /* the kernel's copy of this port's (*,G) EXCLUDE: made again with it */
        if (!r->source.family && r->has_mode && r->mode == NC_MDB_MODE_INCLUDE)
            continue; /* its sources are the (S,G) entries */
        e = g_new0(NcMdbEntry, 1);
        memcpy(e->mac, p->mac, 6);
        e->group = r->group;
        e->source = r->source;
        e->permanent = r->e.state == MDB_PERMANENT;
        if (r->e.flags & MDB_FLAGS_BLOCKED) {
            g_autofree char *what = nc_mdb_entry_describe(e);

            nc_not_carried_add(not_carried, nc_mdb_class.name, what, "%s",
                               "a source the guest excluded (IGMPv3/MLDv2 EXCLUDE mode): the "
                               "kernel takes no blocked source from userspace, so the "
                               "destination forwards it to the guest until its next report");
            continue;
        }
        if (!nc_item_set_upsert(out, g_steal_pointer(&e), NULL, error))
            return FALSE;
    }
    return TRUE;
}

/* ---- probe ---- */

/* An mdb group's identity on a bridge, as mcast_hash_max counts them: (bridge, protocol, group,
 * source); a layer-2 group by its MAC. */
static GBytes *nc_mdb_group_key(guint32 bridge, guint16 proto, const guint8 *group,
                                const NcAddr *source)
{
    guint8 k[4 + 2 + 16 + sizeof(NcAddr)] = {0};

    memcpy(k, &bridge, 4);
    memcpy(k + 4, &proto, 2);
    memcpy(k + 6, group, 16);
    memcpy(k + 22, source, sizeof(NcAddr));
    return g_bytes_new(k, sizeof(k));
}

static GBytes *nc_mdb_raw_key(const NcMdbRaw *r)
{
    guint8 l2[16] = {0};

    if (!r->group.family)
        memcpy(l2, r->e.addr.u.mac_addr, ETH_ALEN);
    return nc_mdb_group_key(r->bridge, ntohs(r->e.addr.proto),
                            r->group.family ? r->group.bytes : l2, &r->source);
}

static GBytes *nc_mdb_entry_key(guint32 bridge, const NcMdbEntry *e)
{
    return nc_mdb_group_key(bridge, e->group.family == AF_INET ? ETH_P_IP : ETH_P_IPV6,
                            e->group.bytes, &e->source);
}

/* Counts one more group of @bridge in @counts (bridge ifindex -> count). */
static void nc_mdb_count(GHashTable *counts, guint32 bridge)
{
    guint n = GPOINTER_TO_UINT(g_hash_table_lookup(counts, GUINT_TO_POINTER(bridge)));

    g_hash_table_insert(counts, GUINT_TO_POINTER(bridge), GUINT_TO_POINTER(n + 1));
}

/* The bridge interface @mac's entries go to: its port's, else the one the domain XML names;
 * NULL and no error: neither is known yet (nothing to check). */
static const NcMdbLink *nc_mdb_target_bridge(NcMdb *m, GArray *links, const NcOwner *owner,
                                             const guint8 *mac, GError **error)
{
    g_autoptr(GError) local = NULL;
    const NcMdbLink *port = nc_mdb_find_port(m, links, owner, mac, NULL, &local);
    const NcOwnerPort *op = owner ? nc_owner_find_port(owner, mac) : NULL;
    const NcMdbLink *b;

    if (port)
        return nc_mdb_bridge_of(links, port);
    if (!g_error_matches(local, NC_ERROR, NC_ERROR_NOT_FOUND) || (op && op->ifname)) {
        g_propagate_error(error, g_steal_pointer(&local));
        return NULL;
    }
    if (!op || !op->bridge)
        return NULL;
    b = nc_mdb_link_by_name(links, op->bridge);
    if (!b || !b->bridge) {
        g_autofree char *mac_text = nc_mac_to_string(mac);

        g_set_error(error, NC_ERROR, NC_ERROR_NOT_FOUND,
                    "bridge %s (interface %s's <source bridge> in the domain XML) %s in network "
                    "namespace %s",
                    op->bridge, mac_text, b ? "is not a bridge" : "does not exist",
                    nc_mdb_netns(m));
        return NULL;
    }
    return b;
}

/**
 * nc_mdb_probe() - can this host's bridges take the source's entries
 * @owner:    the domain (its interfaces' bridges from the XML, ports named explicitly)
 * @expected: (nullable): the source's entries; NULL checks only that rtnetlink answers
 * @error:    NC_ERROR_UNSUPPORTED (a bridge does not snoop), NC_ERROR_FAILED (no room below
 *            mcast_hash_max), NC_ERROR_NOT_FOUND (a bridge or named port missing), naming it
 *
 * Return: TRUE if every bridge that can be known now snoops and has room
 */
static gboolean nc_mdb_probe(NcMdb *m, const NcOwner *owner, const NcItemSet *expected,
                             GError **error)
{
    g_autoptr(GArray) links = nc_mdb_links(m, error);
    g_autoptr(GPtrArray) items = NULL;
    g_autoptr(GArray) raw = NULL;
    /* what the bridges hold, and what the carried entries add: keys, and counts per bridge */
    g_autoptr(GHashTable) groups =
        g_hash_table_new_full(g_bytes_hash, g_bytes_equal, (GDestroyNotify)g_bytes_unref, NULL);
    g_autoptr(GHashTable) have = g_hash_table_new(g_direct_hash, g_direct_equal);
    g_autoptr(GHashTable) add = g_hash_table_new(g_direct_hash, g_direct_equal);
    GHashTableIter it;
    gpointer k, v;

    if (!links)
        return FALSE;
    if (!expected || !nc_item_set_count(expected))
        return TRUE;
    if (!(raw = nc_mdb_dump(m, error)))
        return FALSE;
    for (guint i = 0; i < raw->len; i++) {
        const NcMdbRaw *r = &g_array_index(raw, NcMdbRaw, i);

        if (g_hash_table_add(groups, nc_mdb_raw_key(r)))
            nc_mdb_count(have, r->bridge);
    }
    items = nc_item_set_items(expected);
    for (guint i = 0; i < items->len; i++) {
        const NcMdbEntry *e = items->pdata[i];
        g_autoptr(GError) local = NULL;
        const NcMdbLink *b = nc_mdb_target_bridge(m, links, owner, e->mac, &local);

        if (!b) {
            if (local) {
                g_propagate_error(error, g_steal_pointer(&local));
                return FALSE;
            }
            continue;
        }
        if (!b->snooping) {
            g_set_error(error, NC_ERROR, NC_ERROR_UNSUPPORTED,
                        "bridge %s in network namespace %s does not snoop IGMP/MLD "
                        "(multicast_snooping 0): the domain's %u multicast groups cannot be "
                        "registered on its port",
                        b->name, nc_mdb_netns(m), nc_item_set_count(expected));
            return FALSE;
        }
        /* a (G,S) the bridge holds already (another port's, a second interface's) takes no room */
        if (g_hash_table_add(groups, nc_mdb_entry_key(b->index, e)))
            nc_mdb_count(add, b->index);
    }
    g_hash_table_iter_init(&it, add);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        const NcMdbLink *b = nc_mdb_link_by_index(links, GPOINTER_TO_UINT(k));
        guint n_have = GPOINTER_TO_UINT(g_hash_table_lookup(have, k)), n_add = GPOINTER_TO_UINT(v);

        if (b->hash_max && n_have + n_add > b->hash_max) {
            g_set_error(error, NC_ERROR, NC_ERROR_FAILED,
                        "bridge %s in network namespace %s has no room for the domain's "
                        "multicast groups: it holds %u, %u more would exceed its mcast_hash_max "
                        "%u, and beyond it the kernel turns snooping off for the whole bridge",
                        b->name, nc_mdb_netns(m), n_have, n_add, b->hash_max);
            return FALSE;
        }
    }
    return TRUE;
}

/* ---- install and remove ---- */

/* Writes into @buf (NC_MDB_MSG_MAX bytes) the RTM_NEWMDB (@add) or RTM_DELMDB of @e on @port. */
#define NC_MDB_MSG_MAX 256
static struct nlmsghdr *nc_mdb_put(char *buf, gboolean add, const NcMdbEntry *e,
                                   const NcMdbLink *port)
{
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
    struct br_port_msg *bpm;
    struct br_mdb_entry be = {0};

    nlh->nlmsg_type = add ? RTM_NEWMDB : RTM_DELMDB;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | (add ? NLM_F_CREATE | NLM_F_EXCL : 0);
    bpm = mnl_nlmsg_put_extra_header(nlh, sizeof(*bpm));
    bpm->family = AF_BRIDGE;
    bpm->ifindex = port->master;
    be.ifindex = port->index;
    be.state = e->permanent ? MDB_PERMANENT : MDB_TEMPORARY;
    be.addr.proto = htons(e->group.family == AF_INET ? ETH_P_IP : ETH_P_IPV6);
    memcpy(&be.addr.u, e->group.bytes, e->group.family == AF_INET ? 4 : 16);
    mnl_attr_put(nlh, MDBA_SET_ENTRY, sizeof(be), &be);
    if (e->source.family) {
        struct nlattr *nest = mnl_attr_nest_start(nlh, MDBA_SET_ENTRY_ATTRS);

        mnl_attr_put(nlh, MDBE_ATTR_SOURCE, e->source.family == AF_INET ? 4 : 16, e->source.bytes);
        mnl_attr_nest_end(nlh, nest);
    }
    return nlh;
}

/* Reads answers until every request of sequence @base .. @base + @n - 1 has its ACK; @errnums[i]
 * (-1 until then) gets request i's errno (0: done). */
static gboolean nc_mdb_read_acks(NcMdb *m, guint32 base, guint n, int *errnums, GError **error)
{
    guint pending = n;

    while (pending) {
        const struct nlmsghdr *nlh;
        ssize_t got;
        int len;

        if (!nc_mnl_wait_readable(m->nl, NC_MDB_TIMEOUT_MS, "rtnetlink", m->netns, error))
            return FALSE;
        got = mnl_socket_recvfrom(m->nl, m->rbuf, NC_MDB_RBUF_SIZE);
        if (got < 0) {
            int saved = errno;

            g_set_error(error, NC_ERROR, NC_ERROR_IO,
                        "reading rtnetlink's answers to mdb changes in network namespace %s: %s",
                        nc_mdb_netns(m), g_strerror(saved));
            return FALSE;
        }
        len = (int)got;
        for (nlh = (const struct nlmsghdr *)m->rbuf; mnl_nlmsg_ok(nlh, len);
             nlh = mnl_nlmsg_next(nlh, &len)) {
            guint32 i = nlh->nlmsg_seq - base;
            const struct nlmsgerr *err;

            if (nlh->nlmsg_type != NLMSG_ERROR || i >= n || errnums[i] != -1 ||
                nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*err)))
                continue;
            err = mnl_nlmsg_get_payload(nlh);
            errnums[i] = -err->error;
            pending--;
        }
    }
    return TRUE;
}

/*
 * nc_mdb_pipeline() - RTM_NEWMDB (@add) or RTM_DELMDB of each entry on its port, pipelined
 * @entries, @ports: (element-type NcMdbEntry, NcMdbLink): entry i goes to port i
 * @errnums: (out caller-allocates): entry i's errno (0: done; -1: no answer, the socket failed)
 *
 * rtnetlink handles a datagram's messages one after the other and answers each with its own ACK,
 * so as many requests as fit in NC_MDB_BATCH_BYTES go out in one sendmsg() and their answers are
 * read before the next datagram (a refusal stops nothing: each entry has its answer).
 *
 * Return: FALSE only when the socket failed (@error); the kernel's refusals are in @errnums
 */
#define NC_MDB_BATCH_BYTES (32 * 1024)
static gboolean nc_mdb_pipeline(NcMdb *m, gboolean add, GPtrArray *entries, GPtrArray *ports,
                                int *errnums, GError **error)
{
    g_autoptr(GByteArray) out = g_byte_array_sized_new(NC_MDB_BATCH_BYTES);
    guint i = 0;

    for (guint j = 0; j < entries->len; j++)
        errnums[j] = -1;
    while (i < entries->len) {
        guint start = i;
        guint32 base = m->seq + 1;

        g_byte_array_set_size(out, 0);
        while (i < entries->len && out->len + NC_MDB_MSG_MAX <= NC_MDB_BATCH_BYTES) {
            char buf[NC_MDB_MSG_MAX];
            struct nlmsghdr *nlh = nc_mdb_put(buf, add, entries->pdata[i], ports->pdata[i]);

            nlh->nlmsg_seq = base + (i - start);
            g_byte_array_append(out, (const guint8 *)buf, nlh->nlmsg_len);
            i++;
        }
        m->seq = base + (i - start) - 1;
        if (mnl_socket_sendto(m->nl, out->data, out->len) < 0) {
            int saved = errno;

            g_set_error(error, NC_ERROR, nc_error_code_from_errno(saved),
                        "cannot send %u mdb changes to rtnetlink in network namespace %s: %s",
                        i - start, nc_mdb_netns(m), g_strerror(saved));
            return FALSE;
        }
        if (!nc_mdb_read_acks(m, base, i - start, errnums + start, error))
            return FALSE;
    }
    return TRUE;
}

/* The kernel's refusal of entry @e on @port, as an error. */
static void nc_mdb_refused(NcMdb *m, gboolean add, const NcMdbEntry *e, const NcMdbLink *port,
                           int errnum, GError **error)
{
    g_autofree char *desc = nc_mdb_entry_describe(e);

    g_set_error(error, NC_ERROR, nc_error_code_from_errno(errnum),
                "%s %s on port %s in network namespace %s: %s", add ? "adding" : "removing", desc,
                port->name, nc_mdb_netns(m), g_strerror(errnum));
}

static GBytes *nc_mdb_mac_key(const guint8 *mac)
{
    return g_bytes_new(mac, 6);
}

static gboolean nc_mdb_remove(NcMdb *m, const NcItemSet *items, guint *n_removed, GError **error);

/**
 * nc_mdb_install() - re-create the entries on the domain's ports here, all or nothing
 * @owner:     the domain as this host derived it (each entry's MAC must be one of its own)
 * @items:     the source's entries
 * @installed: (out) (transfer full): the entries this call added (not those there already)
 * @error:     the port that is missing, or the kernel's refusal naming the entry; nothing added
 *             stays then
 *
 * Return: TRUE if every entry is on its port
 */
static gboolean nc_mdb_install(NcMdb *m, const NcOwner *owner, const NcItemSet *items,
                               NcItemSet **installed, GError **error)
{
    g_autoptr(GArray) links = nc_mdb_links(m, error);
    g_autoptr(GPtrArray) list = nc_item_set_items(items);
    g_autoptr(GPtrArray) ports = g_ptr_array_new();
    g_autoptr(NcItemSet) done = nc_item_set_new(&nc_mdb_class);
    g_autofree int *errnums = NULL;
    g_autoptr(GError) local = NULL;
    int refused = -1;

    *installed = NULL;
    if (!links)
        return FALSE;
    /* every port first: a missing one changes nothing */
    for (guint i = 0; i < list->len; i++) {
        const NcMdbEntry *e = list->pdata[i];
        const NcMdbLink *p = nc_mdb_find_port(m, links, owner, e->mac, NULL, error);

        if (!p)
            return FALSE;
        g_ptr_array_add(ports, (gpointer)p);
    }
    errnums = g_new0(int, list->len);
    for (guint i = 0; i < list->len; i++) {
        const NcMdbLink *p = ports->pdata[i];

        g_hash_table_replace(m->used_ports,
                             nc_mdb_mac_key(((const NcMdbEntry *)list->pdata[i])->mac),
                             g_strdup(p->name));
    }
    nc_mdb_pipeline(m, TRUE, list, ports, errnums, &local);
    for (guint i = 0; i < list->len; i++) {
        /* -1: no answer (the socket failed): perhaps added, so taken away too */
        if (!errnums[i] || errnums[i] == -1)
            nc_item_set_upsert(done, nc_mdb_entry_copy(list->pdata[i]), NULL, NULL);
        /* EEXIST: the port's already (a report since, an operator's): not the install's */
        else if (errnums[i] != EEXIST && refused < 0 && !local)
            refused = (int)i;
    }
    if (local || refused >= 0) {
        g_autoptr(GError) undo = NULL;

        if (!local)
            nc_mdb_refused(m, TRUE, list->pdata[refused], ports->pdata[refused], errnums[refused],
                           &local);
        if (nc_item_set_count(done) && !nc_mdb_remove(m, done, NULL, &undo))
            g_prefix_error(&local, "(and removing the %u entries it added failed: %s) ",
                           nc_item_set_count(done), undo->message);
        g_propagate_error(error, g_steal_pointer(&local));
        return FALSE;
    }
    *installed = g_steal_pointer(&done);
    return TRUE;
}

/**
 * nc_mdb_remove() - take exactly @items away (a roll-back; an entry or a port gone already is
 * no error)
 * @n_removed: (out) (optional): how many were removed
 *
 * Return: TRUE on success
 */
static gboolean nc_mdb_remove(NcMdb *m, const NcItemSet *items, guint *n_removed, GError **error)
{
    g_autoptr(GArray) links = nc_mdb_links(m, error);
    g_autoptr(GPtrArray) list = nc_item_set_items(items);
    g_autoptr(GPtrArray) entries = g_ptr_array_new();
    g_autoptr(GPtrArray) ports = g_ptr_array_new();
    g_autofree int *errnums = NULL;
    guint k = 0;

    if (n_removed)
        *n_removed = 0;
    if (!links)
        return FALSE;
    /* the entries whose port is still there, with it */
    for (guint i = 0; i < list->len; i++) {
        const NcMdbEntry *e = list->pdata[i];
        g_autoptr(GBytes) key = nc_mdb_mac_key(e->mac);
        const char *named = g_hash_table_lookup(m->used_ports, key);
        g_autoptr(GError) local = NULL;
        const NcMdbLink *p = nc_mdb_find_port(m, links, NULL, e->mac, named, &local);

        if (!p) {
            if (g_error_matches(local, NC_ERROR, NC_ERROR_NOT_FOUND))
                continue; /* the port went, and its entries with it */
            g_propagate_error(error, g_steal_pointer(&local));
            return FALSE;
        }
        g_ptr_array_add(entries, (gpointer)e);
        g_ptr_array_add(ports, (gpointer)p);
    }
    errnums = g_new0(int, entries->len + 1);
    if (!nc_mdb_pipeline(m, FALSE, entries, ports, errnums, error))
        return FALSE;
    for (guint i = 0; i < entries->len; i++) {
        if (!errnums[i]) {
            k++;
        } else if (errnums[i] != ENOENT && errnums[i] != EINVAL) {
            /* ENOENT, EINVAL: gone already (the kernel's answers for a group the port lacks) */
            nc_mdb_refused(m, FALSE, entries->pdata[i], ports->pdata[i], errnums[i], error);
            return FALSE;
        }
    }
    if (n_removed)
        *n_removed = k;
    return TRUE;
}

/* ---- the driver ---- */

static gpointer nc_mdb_open_cb(const char *netns, GError **error)
{
    return nc_mdb_open(netns, error);
}

static void nc_mdb_close_cb(gpointer handle)
{
    nc_mdb_close(handle);
}

static gboolean nc_mdb_probe_cb(gpointer h, const NcOwner *owner, const NcItemSet *expected,
                                GError **error)
{
    return nc_mdb_probe(h, owner, expected, error);
}

static gboolean nc_mdb_capture_cb(gpointer h, const NcOwner *owner, NcItemSet *out,
                                  GPtrArray *not_carried, GError **error)
{
    return nc_mdb_capture(h, owner, out, not_carried, error);
}

static gboolean nc_mdb_install_cb(gpointer h, const NcOwner *owner, const NcItemSet *items,
                                  NcItemSet **installed, GError **error)
{
    if (owner && !nc_item_set_check_owned(items, owner, error))
        return FALSE;
    return nc_mdb_install(h, owner, items, installed, error);
}

static gboolean nc_mdb_remove_cb(gpointer h, const NcItemSet *items, guint *n_removed,
                                 GError **error)
{
    return nc_mdb_remove(h, items, n_removed, error);
}

/* no follower: the kernel announces mdb changes (RTNLGRP_MDB), but a VM's groups are few and a
 * capture is one dump (a whole bridge's), so the engine captures the class again at the stop */
const NcStateDriver nc_mdb_driver = {
    .ops = &nc_mdb_class,
    .at = NC_DRIVER_AT_PRECOPY,
    .values = FALSE,
    .open = nc_mdb_open_cb,
    .close = nc_mdb_close_cb,
    .probe = nc_mdb_probe_cb,
    .capture = nc_mdb_capture_cb,
    .install = nc_mdb_install_cb,
    .remove = nc_mdb_remove_cb,
};
