/* nc-owner.h - what belongs to a domain as one host derived it (addresses, MAC, named objects),
 * and what of it cannot be carried, with the reason
 *
 * Pure: the classes (nc-item-set.h) decide ownership against it, the drivers capture by it.
 */
#pragma once

#include <glib.h>

#include "util/nc-addr.h"

G_BEGIN_DECLS

/**
 * NcObjectRef - an nftables object named in a domain's profile or on the command line
 * @family: nftables family name: "ip", "ip6", "inet", "bridge", "netdev", "arp"
 * @table:  table name
 * @name:   object (or set) name
 * @type:   "counter", "quota", "set", ...; NULL: whatever it is
 */
typedef struct {
    char *family;
    char *table;
    char *name;
    char *type;
} NcObjectRef;

NcObjectRef *nc_object_ref_new(const char *family, const char *table, const char *name,
                               const char *type);
NcObjectRef *nc_object_ref_parse(const char *text, const char *type, GError **error);
void nc_object_ref_free(NcObjectRef *ref);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(NcObjectRef, nc_object_ref_free)

/**
 * NcOwnerPort - where one of the domain's interfaces meets a bridge (the mdb class's)
 * @mac:    the interface's MAC (as in @macs); the mdb class's items are keyed by it
 * @ifname: (nullable): the bridge port that stands for it here, when it is known by name (the
 *          command line's --port); NULL: the driver finds the port by the MAC
 *          (src/drivers/nc-mdb.c says how)
 * @bridge: (nullable): the bridge the port joins, from the domain XML's `<source bridge=.../>` of
 *          a type='bridge' interface (a network's bridge is each host's own): what the admission
 *          probe checks before the port exists
 *
 * What the interface needs of the host it runs on, the static policy checked at admission and
 * never carried (src/conf/nc-policy.h; NULL / FALSE from the command line, which has no XML):
 * @network:   (nullable): its `<source network=>` (a libvirt network)
 * @filter:    (nullable): the nwfilter its `<filterref filter=>` names
 * @vlan:      (nullable): the tags of its `<vlan>` ("10", "10,20")
 * @bandwidth: whether it has a `<bandwidth>` element (tc qdiscs on the tap)
 */
typedef struct {
    guint8 mac[6];
    char *ifname;
    char *bridge;
    char *network;
    char *filter;
    char *vlan;
    gboolean bandwidth;
} NcOwnerPort;

/**
 * NcOwner - what belongs to a domain, as one host derived it
 * @addresses: (element-type NcAddr): its addresses
 * @uuid:      (nullable): the domain's UUID, lowercased (libvirt keys learned addresses by it)
 * @macs:      (element-type guint8[6]): its interfaces' MAC addresses
 * @learning_macs: (element-type guint8[6]) (nullable): those of @macs whose interface has its
 *             IPv4 address learned by libvirt's nwfilter (nc_domain_iface_learns())
 * @learn_prefixes: (element-type NcPrefix) (nullable): where a learned address may lie (the
 *             profile's <learn prefix=.../>); empty: anywhere
 * @objects:   (element-type NcObjectRef) (nullable): the named objects of its profile; those of
 *             type "set" or "map" are the sets the set class looks at (none: every set of the
 *             namespace); the others (counter, quota, untyped) are the object class's
 * @has_zone, @zone, @has_mark, @mark: the profile's conntrack narrowing (conntrack class only)
 * @ports:     (element-type NcOwnerPort): its interfaces' bridges and ports, where known, and
 *             what each needs of the host (network, nwfilter, VLAN, bandwidth: checked at
 *             admission, not carried)
 * @chains:    (element-type NcObjectRef): the per-VM static nftables chains its profile names
 *             (<netcarry:chain>; type "chain"): checked at admission, not carried
 */
typedef struct {
    GArray *addresses;
    char *uuid;
    GArray *macs;
    GArray *learning_macs;
    GArray *learn_prefixes;
    GPtrArray *objects;
    gboolean has_zone;
    guint16 zone;
    gboolean has_mark;
    guint32 mark;
    GPtrArray *ports;
    GPtrArray *chains;
} NcOwner;

NcOwner *nc_owner_new(void);
NcOwner *nc_owner_copy(const NcOwner *owner);
void nc_owner_free(NcOwner *owner);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(NcOwner, nc_owner_free)
gboolean nc_owner_has_addr(const NcOwner *owner, const NcAddr *addr);
gboolean nc_owner_has_mac(const NcOwner *owner, const guint8 *mac);
gboolean nc_owner_learns_mac(const NcOwner *owner, const guint8 *mac);
void nc_owner_port_free(NcOwnerPort *port);
void nc_owner_add_port(NcOwner *owner, const guint8 *mac, const char *ifname, const char *bridge);
const NcOwnerPort *nc_owner_find_port(const NcOwner *owner, const guint8 *mac);

/**
 * NcNotCarried - something that belongs to the domain and cannot be carried
 * @class_name: the class that found it ("nft-set", "nft-object", ...)
 * @what:       what it is: "inet/fw/perip element 10.0.0.5 (ct count)"
 * @reason:     why: what the kernel cannot take, and what the operator can do
 */
typedef struct {
    char *class_name;
    char *what;
    char *reason;
} NcNotCarried;

void nc_not_carried_add(GPtrArray *list, const char *class_name, const char *what,
                        const char *reason_fmt, ...) G_GNUC_PRINTF(4, 5);
void nc_not_carried_free(NcNotCarried *nc);
GPtrArray *nc_not_carried_list_new(void); /* (element-type NcNotCarried) */

G_END_DECLS
