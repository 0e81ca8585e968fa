/* nc-ip-learn.h - the addresses libvirt's nwfilter learned for a domain (CTRL_IP_LEARNING): the
 * "ip-binding" class, libvirt's DHCP-snooping lease file, and the domain XML that pins them
 *
 * Where libvirt keeps what it learned (docs/nwfilter.md has the whole story):
 *   CTRL_IP_LEARNING=dhcp  libvirtd's DHCP snooping appends one line per lease event to
 *                          $runstatedir/libvirt/network/nwfilter.leases and rewrites the file
 *                          from time to time: "EXPIRY UUID-MAC IP SERVER" (EXPIRY in Unix
 *                          seconds; 0 deletes the lease; a later line replaces an earlier one).
 *                          libvirt reads the file only when its nwfilter driver starts.
 *   CTRL_IP_LEARNING=any   only in libvirtd's memory (and in the rules it instantiated).
 * An <interface>'s filterref with an IP parameter learns nothing: libvirt instantiates the
 * filter with that address at once. That is how a destination gets the binding before the
 * guest's first packet: its `migrate begin` hook answers the domain XML with the learned
 * address added as <parameter name='IP' value='...'/> (nc_ip_learn_pin_xml()).
 *
 * Pure: no kernel; the lease file is read by the class's driver (drivers/nc-ip-binding.h).
 */
#pragma once

#include <glib.h>

#include "conf/nc-item-set.h"
#include "util/nc-addr.h"

G_BEGIN_DECLS

/* libvirt's lease file (LEASEFILE in libvirt's src/nwfilter/nwfilter_dhcpsnoop.c), as seen from
 * libvirtd's mount namespace, where netcarryd runs */
#define NC_NWFILTER_LEASES_PATH "/run/libvirt/network/nwfilter.leases"

/**
 * NcIpBinding - one address nwfilter learned for one interface of a domain
 * @mac:     the interface's MAC
 * @addr:    the learned address (IPv4: libvirt learns no IPv6)
 * @expires: when the lease ends, in Unix seconds; 0 when unknown
 */
typedef struct {
    guint8 mac[6];
    NcAddr addr;
    gint64 expires;
} NcIpBinding;

extern const NcClassOps nc_ip_binding_class;

NcIpBinding *nc_ip_binding_new(const guint8 *mac, const NcAddr *addr, gint64 expires);
NcIpBinding *nc_ip_binding_copy(const NcIpBinding *b);
void nc_ip_binding_free(NcIpBinding *b);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(NcIpBinding, nc_ip_binding_free)

GPtrArray *nc_ip_leases_parse(const char *data, gsize len, const char *name, const char *uuid,
                              gint64 now, GError **error);

char *nc_ip_learn_pin_xml(const char *xml, gsize len, const char *name, GPtrArray *bindings,
                          GError **error);

G_END_DECLS
