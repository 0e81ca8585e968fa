/* nc-policy.h - static policy a domain relies on, checked (never carried) at admission: nwfilter
 * definitions and per-VM nftables chains in a canonical form, their classes, their comparison
 *
 * Pure: no libvirt, no kernel. The drivers (src/drivers/nc-policy-drv.c) read the definitions.
 */
#pragma once

#include <glib.h>

#include "conf/nc-item-set.h"

G_BEGIN_DECLS

/*
 * Theory of operation
 * ===================
 * libvirt moves the domain XML, so a migrated guest names the same nwfilters, bridge, VLAN and
 * bandwidth on the destination, and the operator's per-VM nftables chains are expected there
 * too. Nothing of this is state to carry: it is policy the destination must already hold, the
 * same as the source's. A difference is found at admission and refuses the migration (admission =
 * refuse) or is recorded in the report (proceed).
 *
 * A definition (NcPolicyDef) is a name and canonical lines, so that two hosts compare meaning,
 * not text: for an nwfilter, a header line (its chain and priority) and one line per rule or
 * filterref, in document order (nwfilter applies them by priority, ties in that order), each
 * element written as its name, its attributes sorted, and its children in order; the filter's
 * uuid and all formatting are left out. For an nftables chain, the lines of `nft --stateless
 * list chain` inside the chain's block: no handles, no counter or quota values.
 *
 * The "checked" classes carry such definitions from the source to the destination (peer protocol
 * 4 ITEMS, like any class): "nwfilter" (key: the filter's name; the whole tree of filterrefs the
 * domain's interfaces reference) and "nft-chain" (key: family/table/chain, the chains the profile
 * names). The destination compares them with its own (nc_policy_def_compare()) and installs
 * nothing. "port" sends nothing: the destination checks its own interfaces' needs (bridge or
 * network, VLAN, bandwidth) against its host.
 */

/**
 * NcPolicyDef - one definition in canonical form
 * @name:  the filter's name, or the chain as "family/table/name"
 * @lines: (element-type utf8): the canonical lines; for an nwfilter, line 0 is the header and
 *         line N (N >= 1) the N-th rule or filterref
 */
typedef struct {
    char *name;
    GPtrArray *lines;
} NcPolicyDef;

NcPolicyDef *nc_policy_def_new(const char *name);
NcPolicyDef *nc_policy_def_copy(const NcPolicyDef *def);
void nc_policy_def_free(NcPolicyDef *def);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(NcPolicyDef, nc_policy_def_free)

NcPolicyDef *nc_nwfilter_def_parse(const char *xml, gsize len, const char *what, GError **error);
GPtrArray *nc_nwfilter_def_refs(const NcPolicyDef *def);
NcPolicyDef *nc_nft_chain_def_parse(const char *name, const char *listing, GError **error);
char *nc_policy_def_compare(const char *kind, const NcPolicyDef *source, const NcPolicyDef *here);

extern const NcClassOps nc_nwfilter_class;  /* "nwfilter" */
extern const NcClassOps nc_nft_chain_class; /* "nft-chain" */
extern const NcClassOps nc_port_class;      /* "port": no items; checked from the XML alone */

G_END_DECLS
