/* nc-mdb.h - the bridge multicast database driver: a domain's IGMP/MLD snooping memberships on
 * its bridge port, over rtnetlink (RTM_GETMDB, RTM_NEWMDB, RTM_DELMDB)
 */
#pragma once

#include <glib.h>

#include "conf/nc-mdb-items.h"
#include "drivers/nc-state-driver.h"

G_BEGIN_DECLS

typedef struct NcMdb NcMdb;

NcMdb *nc_mdb_open(const char *netns, GError **error);
void nc_mdb_close(NcMdb *mdb);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(NcMdb, nc_mdb_close)

gboolean nc_mdb_port_mac(NcMdb *mdb, const char *ifname, guint8 *mac, GError **error);

extern const NcStateDriver nc_mdb_driver;

G_END_DECLS
