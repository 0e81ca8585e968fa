/* nc-domain.h - what netcarry needs from a libvirt domain XML: identity, interfaces, addresses,
 * and netcarry's own per-domain profile in <metadata> (xml/profile.rng), read and rewritten
 *
 * Which addresses a domain has (the rule the daemon, the CLI and README follow):
 *   a domain's addresses are the union, in this order and without duplicates, of
 *   1. the <address> elements of netcarry's profile in the domain's <metadata>
 *      (<profile xmlns="https://netcarry.dev/xmlns/profile/1">), and
 *   2. the nwfilter parameters of every <interface>'s <filterref>: each
 *      <parameter name='IP' value='...'/> (IPv4; repeat the parameter for several) and each
 *      <parameter name='IPV6' value='...'/> (IPv6).
 *   Nothing else in the XML counts: an interface's <ip> element describes the host side of
 *   some interface types, not the guest. Addresses that nwfilter learns at run time
 *   (CTRL_IP_LEARNING, nc_domain_iface_learns()) are not in the XML: the daemon adds them from
 *   what libvirt learned (conf/nc-ip-learn.h). A domain with no address at all is an error that
 *   names it and says what to add, unless one of its interfaces learns its address by DHCP
 *   snooping (CTRL_IP_LEARNING=dhcp: nc_domain_learns()). A malformed address (or an IP parameter
 * that is not IPv4, an IPV6 one that is not IPv6) is an error naming the domain and the interface's
 * MAC, never silently skipped: carrying state for the wrong set of addresses would let one VM's
 * entries reach another.
 *
 * The profile's rendezvous (<rendezvous host= port= identity= migration= secret=/>) is written by
 * the source daemon into the live domain's metadata when a migration starts; libvirt carries it in
 * the XML it gives the destination's `migrate begin` hook, so the destination learns where the
 * source daemon listens and which identity (the name in its TLS certificate) to insist on.
 */
#pragma once

#include <glib.h>

#include "conf/nc-owner.h"
#include "util/nc-addr.h"

G_BEGIN_DECLS

#define NC_PROFILE_NS "https://netcarry.dev/xmlns/profile/1"
/* the prefix netcarry asks libvirt to store its metadata under (virDomainSetMetadata's key) */
#define NC_PROFILE_PREFIX "netcarry"

/**
 * NcRendezvous - where a migrating domain's source daemon waits for the destination
 * @host:         host name or IP address (IPv6 without brackets) the source daemon listens on
 * @port:         its TCP port (1-65535)
 * @identity:     the source host's identity: the name its TLS certificate must carry (CN or
 *                DNS subjectAltName); the destination refuses a peer that presents another
 * @migration_id: a UUID the source chose for this migration, or NULL; both reports carry it
 * @secret:       the source's per-domain rendezvous secret (64 hex digits), or NULL: the
 *                destination proves with it, inside TLS, that libvirt handed it this XML; the
 *                source renews it after every migration and when netcarryd starts
 */
typedef struct {
    char *host;
    guint16 port;
    char *identity;
    char *migration_id;
    char *secret;
} NcRendezvous;

/**
 * NcProfile - netcarry's per-domain settings, kept in the domain's <metadata>
 * @addresses:  (element-type NcAddr): the VM's addresses, stated explicitly (may be empty when
 *              nwfilter parameters name them)
 * @has_zone:   whether @zone is set
 * @zone:       the conntrack zone the VM's connections live in
 * @has_mark:   whether @mark is set
 * @mark:       the connmark that tags the VM's connections
 * @rendezvous: the current migration's rendezvous, or NULL
 * @learn:      (element-type NcPrefix): the prefixes within which an address that libvirt's
 *              nwfilter learned for the domain elsewhere is accepted here (<learn prefix=.../>);
 *              empty: any address
 */
typedef struct {
    GArray *addresses;
    gboolean has_zone;
    guint16 zone;
    gboolean has_mark;
    guint32 mark;
    NcRendezvous *rendezvous;
    GPtrArray *objects;
    GPtrArray *chains;
    GArray *learn;
} NcProfile;

/**
 * NcDomainIface - one <interface> of a domain
 * @type:           its type attribute ("bridge", "network", "direct", ...)
 * @mac:            <mac address=...>, lowercased; NULL if absent (libvirt always fills it in)
 * @target_dev:     <target dev=...>: the host-side device, e.g. the tap "vnet3"; NULL until
 *                  libvirt has assigned one (a defined, not running, domain)
 * @source_bridge:  <source bridge=...> or NULL
 * @source_network: <source network=...> or NULL
 * @filter:         <filterref filter=...> or NULL
 * @filter_ips:     (element-type NcAddr): the filterref's IP and IPV6 parameters, in order
 * @learning:       the filterref's CTRL_IP_LEARNING parameter, lowercased, or NULL
 */
typedef struct {
    char *type;
    char *mac;
    char *target_dev;
    char *source_bridge;
    char *source_network;
    char *filter;
    GArray *filter_ips;
    char *vlan;
    gboolean bandwidth;
    char *learning;
} NcDomainIface;

/**
 * NcDomain - the parts of a libvirt domain that netcarry uses
 * @uuid:       <uuid>, lowercased
 * @name:       <name>
 * @interfaces: (element-type NcDomainIface): in document order
 * @profile:    netcarry's profile from <metadata>, or NULL if the domain has none
 */
typedef struct {
    char *uuid;
    char *name;
    GPtrArray *interfaces;
    NcProfile *profile;
} NcDomain;

NcRendezvous *nc_rendezvous_new(const char *host, guint16 port, const char *identity,
                                const char *migration_id);
NcRendezvous *nc_rendezvous_copy(const NcRendezvous *rv);
void nc_rendezvous_free(NcRendezvous *rv);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(NcRendezvous, nc_rendezvous_free)

NcProfile *nc_profile_new(void);
NcProfile *nc_profile_copy(const NcProfile *profile);
void nc_profile_free(NcProfile *profile);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(NcProfile, nc_profile_free)

/* A standalone profile document (e.g. a file an operator validates); errors "@name:LINE: ...". */
NcProfile *nc_profile_parse_buffer(const char *data, gsize len, const char *name, GError **error);
NcProfile *nc_profile_parse_file(const char *path, GError **error);
/* The canonical element, default namespace, no XML declaration, no trailing newline: the
 * fragment virDomainSetMetadata(VIR_DOMAIN_METADATA_ELEMENT, key NC_PROFILE_PREFIX,
 * uri NC_PROFILE_NS) takes, and a valid profile.rng document. (transfer full) */
char *nc_profile_format(const NcProfile *profile);

void nc_domain_iface_free(NcDomainIface *iface);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(NcDomainIface, nc_domain_iface_free)
void nc_domain_free(NcDomain *domain);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(NcDomain, nc_domain_free)

NcDomain *nc_domain_parse_buffer(const char *data, gsize len, const char *name, GError **error);
NcDomain *nc_domain_parse_file(const char *path, GError **error);

/* "name (uuid)" for messages and logs. (transfer full) */
char *nc_domain_describe(const NcDomain *domain);

/* The domain's addresses by the rule at the top of this file. (transfer full) */
GArray *nc_domain_addresses(const NcDomain *domain, GError **error);

/* What belongs to the domain, as this host derives it: its addresses (the rule above), the MACs
 * of its interfaces, its profile's objects, zone and mark. (transfer full) */
NcOwner *nc_domain_owner(const NcDomain *domain, GError **error);

const char *nc_domain_iface_learns(const NcDomainIface *iface);
gboolean nc_domain_learns(const NcDomain *domain);

/* The interface whose MAC is @mac (any case), or NULL. (transfer none) */
const NcDomainIface *nc_domain_find_iface(const NcDomain *domain, const char *mac);

char *nc_domain_xml_set_profile(const char *data, gsize len, const char *name,
                                const NcProfile *profile, GError **error);

G_END_DECLS
