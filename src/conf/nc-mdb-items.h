/* nc-mdb-items.h - the bridge multicast database class's items, with no kernel: one IGMP/MLD
 * snooping membership of a domain's interface (its identity, canonical bytes, description,
 * comparison, ownership)
 *
 * The driver (src/drivers/nc-mdb.c) reads and writes them in a bridge; a bundle or a peer can hold
 * them without one.
 */
#pragma once

#include <glib.h>

#include "conf/nc-item-set.h"
#include "util/nc-addr.h"

G_BEGIN_DECLS

/**
 * NcMdbEntry - one mdb entry of the bridge port that stands for a domain's interface
 * @mac:       the interface's MAC (the guest's, as in the domain XML; with `netcarry capture
 *             --port`, the port's own): the port's identity on both hosts, since the port's name
 *             (vnet3 here, vnet0 there) differs
 * @group:     the multicast group (IPv4 or IPv6)
 * @source:    an IGMPv3/MLDv2 (S,G) entry's source, of the group's family; family 0: (*,G)
 * @permanent: MDB_PERMANENT (an operator's static entry) rather than a learned, timed one
 *
 * The key (class identity) is (mac, group, source). A temporary entry's remaining time is not
 * carried: the kernel re-arms it to the full membership interval (docs/kernel-facts.md).
 */
typedef struct {
    guint8 mac[6];
    NcAddr group;
    NcAddr source;
    gboolean permanent;
} NcMdbEntry;

void nc_mdb_entry_free(NcMdbEntry *entry);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(NcMdbEntry, nc_mdb_entry_free)
NcMdbEntry *nc_mdb_entry_copy(const NcMdbEntry *entry);

extern const NcClassOps nc_mdb_class;
char *nc_mdb_entry_describe(gconstpointer item);
gboolean nc_mdb_entry_owns(const NcOwner *owner, gconstpointer item, char **why);
gboolean nc_mdb_entry_check(const NcMdbEntry *entry, GError **error);

gboolean nc_mdb_port_mac_matches(const guint8 *iface_mac, const guint8 *port_mac);

G_END_DECLS
