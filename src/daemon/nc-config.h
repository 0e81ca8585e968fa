/* nc-config.h - /etc/netcarry/netcarry.conf: the daemon's and the hook's settings
 * Every setting has a working default; an unknown or bad key is an error that names it.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#ifndef NC_SYSCONFDIR
#define NC_SYSCONFDIR "/etc"
#endif
#define NC_CONFIG_DEFAULT_PATH NC_SYSCONFDIR "/netcarry/netcarry.conf"

/**
 * NcAdmission - what the destination does at `migrate begin` when it cannot carry a domain's state
 * @NC_ADMISSION_REFUSE:  the hook fails; libvirt cancels the migration and virsh shows why
 * @NC_ADMISSION_PROCEED: the migration goes on; the report records what was not carried
 */
typedef enum {
    NC_ADMISSION_REFUSE,
    NC_ADMISSION_PROCEED,
} NcAdmission;

/**
 * NcGateMode - how the destination keeps the guest's traffic back until its state is installed
 * @NC_GATE_MODE_GATE:    nftables netdev chains on the tap hold IP traffic; ARP/RARP pass
 * @NC_GATE_MODE_SUSPEND: for `virsh migrate --suspend`: netcarry resumes the guest once installed
 */
typedef enum {
    NC_GATE_MODE_GATE,
    NC_GATE_MODE_SUSPEND,
} NcGateMode;

/**
 * NcPointRole - what a state point does with a domain's conntrack entries (bits)
 * @NC_POINT_ROLE_FILTER: stateful filtering on the domain's side of any NAT: it sees the flow as
 *                        the domain sends and receives it (docs/topology.md)
 * @NC_POINT_ROLE_NAT:    address translation: it holds the entries that translate
 */
typedef enum {
    NC_POINT_ROLE_FILTER = 1 << 0,
    NC_POINT_ROLE_NAT = 1 << 1,
} NcPointRole;
#define NC_POINT_ROLE_ALL (NC_POINT_ROLE_FILTER | NC_POINT_ROLE_NAT)

/**
 * NcStatePoint - one place on this host that holds a domain's state ([point NAME])
 * @name:    the group's NAME, for messages and the report
 * @netns:   a name under /run/netns; NULL: netcarryd's own namespace (the engine's)
 * @roles:   NcPointRole bits (conntrack only)
 * @classes: (array zero-terminated=1): the classes it holds: "conntrack" and registry names
 */
typedef struct {
    char *name;
    char *netns;
    guint roles;
    char **classes;
} NcStatePoint;

/**
 * NcValueMap - one site's value of a conntrack zone or mark and this site's ([map])
 */
typedef struct {
    guint32 from; /* as the source sends it */
    guint32 to;   /* as it is installed here */
} NcValueMap;

/**
 * NcSiteMap - the zones and marks of the sources one map group names, as this host has them
 * @site:    [map SITE]'s SITE; NULL for [map], the default for every source no site names
 * @sources: (array zero-terminated=1): the certificate names (CN) of the sources [map SITE]
 *           applies to, as the TLS handshake checked them; NULL for [map]
 * @zone:    NcValueMap; empty: zones installed as sent
 * @mark:    NcValueMap; empty: marks installed as sent
 */
typedef struct {
    char *site;
    char **sources;
    GArray *zone;
    GArray *mark;
} NcSiteMap;

/**
 * NcConfig - the parsed configuration; see src/daemon/netcarry.conf for the meaning of each key
 */
typedef struct {
    char *listen_address;
    guint16 listen_port;
    char *tls_ca_file;
    char *tls_server_cert;
    char *tls_server_key;
    char *tls_client_cert;
    char *tls_client_key;
    char *tls_crl_file; /* honoured when the file exists, as libvirt's cacrl.pem */
    char *tls_priority; /* GnuTLS priority string, as libvirt's tls_priority */
    NcAdmission admission;
    NcGateMode gate_mode;
    gboolean cleanup_source;
    GLogLevelFlags log_level; /* the least severe level that is logged */
    char *hook_socket;
    guint hook_timeout_ms;
    guint admission_max_ms; /* the longest a `migrate begin` waits while the first copy flows */
    guint peer_connect_timeout_ms;
    guint peer_idle_timeout_ms; /* destination: the longest wait for the source's next frame */
    guint seal_timeout_ms;
    guint authenticate_timeout_ms; /* source: a requester's TCP accept -> TLS + HELLO checked */
    char *metrics_textfile_dir;
    guint gate_lapse_ms;
    GPtrArray *points; /* NcStatePoint*, in file order; empty: one point, the engine's netns */
    GPtrArray *maps;   /* NcSiteMap*: [map SITE] and [map] in file order; empty: values as sent */
    GHashTable *map_by_source; /* a source's certificate name -> its NcSiteMap (in @maps) */
    NcSiteMap *default_map;    /* [map] (in @maps), or NULL */
} NcConfig;

NcConfig *nc_config_new_default(void);
NcConfig *nc_config_load(const char *path, GError **error);
void nc_config_free(NcConfig *config);
const char *nc_admission_to_string(NcAdmission admission);
const char *nc_gate_mode_to_string(NcGateMode mode);
gboolean nc_point_holds(const NcStatePoint *point, const char *class_name);
gboolean nc_value_map_apply(const GArray *map, guint32 *value);
NcSiteMap *nc_config_add_map(NcConfig *config, const char *site, const char *const *sources);
gboolean nc_config_source_map(const NcConfig *config, const char *source, const NcSiteMap **map);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(NcConfig, nc_config_free)

G_END_DECLS
