/* nc-policy-drv.h - the checked classes' drivers: nwfilter definitions (through libvirt), per-VM
 * static nftables chains, and what the domain's ports need of the host (bridge, VLAN, bandwidth)
 *
 * Theory of operation: src/conf/nc-policy.h; the drivers' part in nc-policy-drv.c.
 */
#pragma once

#include <glib.h>

#include "drivers/nc-state-driver.h"

G_BEGIN_DECLS

/**
 * NcPolicyLibvirt - how the checked classes ask libvirt (nwfilter definitions and networks are
 * libvirt's, not the kernel's): netcarryd registers its connection's lookups at start
 * (nc_policy_set_libvirt()). Each call must return within a bound of its own.
 * @nwfilter_xml:   (transfer full): the XML of nwfilter @name (virNWFilterGetXMLDesc), or NULL
 *                  with NC_ERROR_NOT_FOUND if there is none, another code if libvirt could not
 *                  be asked
 * @network_active: whether libvirt network @name exists and is active (NC_ERROR_NOT_FOUND: none)
 * @data:           passed to both
 */
typedef struct {
    char *(*nwfilter_xml)(gpointer data, const char *name, GError **error);
    gboolean (*network_active)(gpointer data, const char *name, GError **error);
    gpointer data;
} NcPolicyLibvirt;

/* (nullable): none (the command line, the kernel tests): a domain that references an nwfilter or
 * a libvirt network cannot be checked here, and says so. The struct is copied. */
void nc_policy_set_libvirt(const NcPolicyLibvirt *lv);

extern const NcStateDriver nc_nwfilter_driver;  /* "nwfilter" */
extern const NcStateDriver nc_nft_chain_driver; /* "nft-chain" */
extern const NcStateDriver nc_port_driver;      /* "port" */

G_END_DECLS
