/* nc-gate.h - the gate: hold a migrating VM's IP traffic on its tap until its state is installed
 *
 * On the destination, from prepare until the VM's carried state is installed, a per-domain
 * nftables netdev table drops the VM's IPv4/IPv6 frames both ways on its tap while ARP, RARP and
 * everything else pass, so the fabric learns the VM's new location before any of its IP packets
 * can meet the destination's firewall. The gate lapses in the kernel unless it is renewed.
 * Theory of operation: nc-gate.c.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Every gate is the netdev table NC_GATE_TABLE_PREFIX + the domain UUID's 32 hex digits. */
#define NC_GATE_TABLE_PREFIX "netcarry_gate_"

/**
 * NcGate - one gate found by nc_gate_list()
 * @domain_uuid: the domain's UUID, lower case, with dashes
 * @ifname:      (nullable): the device the gate's chains hook, NULL if it has no chain (a table
 *               left half-made by someone else; it holds nothing but should go)
 * @table:       the nftables table's name (family netdev)
 */
typedef struct {
    char *domain_uuid;
    char *ifname;
    char *table;
} NcGate;

void nc_gate_free(NcGate *gate);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(NcGate, nc_gate_free)

/**
 * NcGateHeld - what a gate held back since it was closed (its named counters)
 * @packets_from_vm, @bytes_from_vm: IP frames the VM sent (the tap's ingress)
 * @packets_to_vm, @bytes_to_vm:     IP frames on their way to the VM (the tap's egress)
 */
typedef struct {
    guint64 packets_from_vm;
    guint64 bytes_from_vm;
    guint64 packets_to_vm;
    guint64 bytes_to_vm;
} NcGateHeld;

/* A closed gate lapses (lets IP through again) by itself, in the kernel, @lapse_ms after it was
 * closed or last renewed, so that it never outlives a netcarryd that died or hangs for long. */
#define NC_GATE_LAPSE_DEFAULT_MS 10000
#define NC_GATE_LAPSE_MIN_MS 1000
#define NC_GATE_LAPSE_MAX_MS 10000

/* In every call @netns is a name under /run/netns, or NULL for the caller's own namespace. */

gboolean nc_gate_close(const char *netns, const char *domain_uuid, const char *ifname,
                       guint lapse_ms, GError **error);
gboolean nc_gate_renew(const char *netns, const char *domain_uuid, guint lapse_ms, GError **error);
gboolean nc_gate_open(const char *netns, const char *domain_uuid, NcGateHeld *held, GError **error);
gboolean nc_gate_held(const char *netns, const char *domain_uuid, NcGateHeld *held, GError **error);
GPtrArray *nc_gate_list(const char *netns, GError **error);

/* Checks that don't touch the kernel (NC_ERROR_INVALID_ARG naming the value). */
gboolean nc_gate_check_uuid(const char *domain_uuid, GError **error);
gboolean nc_gate_check_ifname(const char *ifname, GError **error);
gboolean nc_gate_check_lapse(guint lapse_ms, GError **error);

/* One nft listing in @netns with NFT_CTX_OUTPUT_STATELESS (the static chain check's reader). */
gboolean nc_nft_list_stateless(const char *netns, const char *cmd, char **out, GError **error);

G_END_DECLS
