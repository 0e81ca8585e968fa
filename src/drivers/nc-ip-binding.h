/* nc-ip-binding.h - the "ip-binding" class's driver: the addresses libvirt's nwfilter learned for
 * a domain, read from libvirt's DHCP-snooping lease file; "installed" by the destination's
 * `migrate begin` hook, which pins them in the domain XML (conf/nc-ip-learn.h, docs/nwfilter.md)
 */
#pragma once

#include "drivers/nc-state-driver.h"

G_BEGIN_DECLS

/* A migration-only class: the engine carries it (nc-carry-classes.c) and the destination pins
 * it at admission; it puts nothing into a kernel, so `netcarry capture` leaves it out of
 * bundles and it is not in the registry of kernel classes (nc_state_drivers()). */
extern const NcStateDriver nc_ip_binding_driver;

/* Reads @path instead of NC_NWFILTER_LEASES_PATH from now on (tests); NULL: the default. */
void nc_ip_binding_set_leases_path(const char *path);

GPtrArray *nc_ip_binding_read(const NcOwner *owner, GError **error);

G_END_DECLS
