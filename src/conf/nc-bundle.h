/* nc-bundle.h - the state bundle: a VM's network state, captured on one host
 *
 * A bundle says whose state it is (domain UUID and name), where and when it
 * was captured and in which migration phase, which addresses and named objects selected it,
 * and then one section per state class captured (docs/architecture.md): conntrack, nft-set,
 * nft-object, mdb, each with its items, their count and digest, and what was not carried.
 * Format 1 (conntrack only) is still read; format 2 is written (xml/bundle.rng).
 */
#pragma once

#include <glib.h>

#include "conf/nc-item-set.h"
#include "conf/nc-owner.h"
#include "util/nc-addr.h"

G_BEGIN_DECLS

#define NC_BUNDLE_VERSION 2     /* the format nc_bundle_format() writes */
#define NC_BUNDLE_VERSION_MIN 1 /* the oldest format read */
#define NC_BUNDLE_NS "https://netcarry.dev/xmlns/bundle/1"

/**
 * NcCapturePhase - when in a migration a bundle was captured (the daemon's
 * migration phases are NcPhase, src/daemon/nc-phase.h)
 * @NC_CAPTURE_MANUAL:         by an operator (netcarry capture), outside a migration
 * @NC_CAPTURE_PRECOPY:        while the VM still ran (pre-copy)
 * @NC_CAPTURE_STOP_AND_COPY:  after the source VM stopped
 */
typedef enum {
    NC_CAPTURE_MANUAL,
    NC_CAPTURE_PRECOPY,
    NC_CAPTURE_STOP_AND_COPY,
    NC_CAPTURE_LAST
} NcCapturePhase;

const char *nc_capture_phase_to_string(NcCapturePhase phase);
int nc_capture_phase_from_string(const char *str); /* -1 if unknown */

/**
 * NcCtTuple - one direction of a conntrack entry
 * @src, @dst:     addresses (same family in both tuples of an entry)
 * @proto:         IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP, IPPROTO_ICMPV6, ...
 * @sport, @dport: ports in host byte order (TCP, UDP, SCTP, UDPLITE, DCCP)
 * @icmp_id, @icmp_type, @icmp_code: for ICMP and ICMPv6
 */
typedef struct {
    NcAddr src;
    NcAddr dst;
    guint8 proto;
    guint16 sport;
    guint16 dport;
    guint16 icmp_id;
    guint8 icmp_type;
    guint8 icmp_code;
} NcCtTuple;

/**
 * NcCtEntry - one conntrack entry, as ctnetlink reports and accepts it
 * @orig, @reply:   the two tuples; NAT is the difference between them
 * @zone:           conntrack zone id
 * @status:         IPS_* bits as the kernel reported them
 * @timeout:        seconds left when captured
 * @mark:           connmark
 * @has_labels:     whether @labels was reported
 * @labels:         128 connlabel bits, network order
 * @has_tcp:        whether the tcp_* fields are set (TCP only)
 * @tcp_state:      TCP_CONNTRACK_* (linux/netfilter/nf_conntrack_tcp.h)
 * @tcp_wscale:     window scale, [0] original direction, [1] reply
 * @tcp_flags:      IP_CT_TCP_FLAG_* per direction, as the kernel reported them
 */
typedef struct {
    NcCtTuple orig;
    NcCtTuple reply;
    guint16 zone;
    guint32 status;
    guint32 timeout;
    guint32 mark;
    gboolean has_labels;
    guint8 labels[16];
    gboolean has_tcp;
    guint8 tcp_state;
    guint8 tcp_wscale[2];
    guint8 tcp_flags[2];
} NcCtEntry;

/**
 * NcCtKey - what identifies a conntrack entry: its zone and original-direction tuple. The one
 * key type: the follower's deletions, the peer protocol's, a capture's duplicate check; its
 * canonical bytes are nc_ct_key_append_canonical()'s (conf/nc-ct-items.h). Zero it before filling
 * it in (nc_ct_key_of()): some code hashes its bytes.
 */
typedef struct {
    guint16 zone;
    NcCtTuple orig;
} NcCtKey;

/**
 * NcBundle - the unit netcarry captures, sends, stores and installs
 * @domain_uuid:  the VM's libvirt UUID, or NULL for an operator's capture
 * @domain_name:  the VM's name, or NULL
 * @host:         the host that captured it (its hostname)
 * @captured_us:  capture time, microseconds since the epoch (UTC)
 * @phase:        see NcCapturePhase
 * @zone:         if @has_zone, capture was restricted to this conntrack zone
 * @mark:         if @has_mark, capture was restricted to this connmark
 * @addresses:    (element-type NcAddr): the addresses that selected the entries
 * @macs:         (element-type guint8[6]): the VM's MAC addresses (format 2; may be
 *                empty): with @addresses, what decides which set elements are the VM's
 * @version:      the format it was read from (NC_BUNDLE_VERSION for a new bundle)
 * @objects:      (element-type NcObjectRef): the named objects asked for (--object; format 2)
 * @has_conntrack: whether the conntrack class was captured (a format-1 bundle always has it)
 * @conntrack:    (element-type NcCtEntry): the conntrack class
 * @nft_sets:     (nullable): the nft-set class (nc_nft_set_class); NULL: not captured
 * @nft_objects:  (nullable): the nft-object class (nc_nft_obj_class); NULL: not captured
 * @ports:        (element-type NcOwnerPort): the bridge ports asked for (--port; format 2): each
 *                port's MAC (the mdb entries' identity) and its name on the capturing host
 * @mdb:          (nullable): the mdb class (nc_mdb_class); NULL: not captured
 * @not_carried:  (element-type NcNotCarried): what the classes found of the domain's and could
 *                not carry, each naming its class
 *
 * A class's section is written when the class was captured or has something not carried.
 */
typedef struct {
    char *domain_uuid;
    char *domain_name;
    char *host;
    gint64 captured_us;
    NcCapturePhase phase;
    gboolean has_zone;
    guint16 zone;
    gboolean has_mark;
    guint32 mark;
    GArray *addresses;
    GArray *macs;
    guint version;
    GPtrArray *objects;
    gboolean has_conntrack;
    GArray *conntrack;
    NcItemSet *nft_sets;
    NcItemSet *nft_objects;
    GPtrArray *ports;
    NcItemSet *mdb;
    GPtrArray *not_carried;
} NcBundle;

/* The address rule: an entry belongs to a VM when its original source (the
 * VM's own flows) or its reply source (flows to the VM, NATed or not) is one
 * of the VM's @addresses (element-type NcAddr). Capture selects by it, the
 * event follower filters by it, and install refuses entries that break it. */
gboolean nc_ct_entry_belongs_to(const NcCtEntry *entry, const GArray *addresses);

NcBundle *nc_bundle_new(void);
void nc_bundle_free(NcBundle *bundle);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(NcBundle, nc_bundle_free)

/* The classes (by NcClassOps, conf/nc-item-set.h) */
gboolean nc_bundle_has_class(const NcBundle *bundle, const char *class_name);
NcItemSet *nc_bundle_class_items(const NcBundle *bundle, const NcClassOps *ops, GError **error);
void nc_bundle_take_class_items(NcBundle *bundle, NcItemSet *items);

/* The domain as the bundle describes it: its addresses, MACs, zone, mark and named objects.
 * (transfer full) */
NcOwner *nc_bundle_owner(const NcBundle *bundle);

/* A bundle read from @path (or a buffer) is validated against xml/bundle.rng
 * first; a failure names the file, the line and what was expected. A format-2 section whose
 * items do not give its count and digest is refused (NC_ERROR_INVALID_DATA: damaged). */
NcBundle *nc_bundle_parse_file(const char *path, GError **error);
NcBundle *nc_bundle_parse_buffer(const char *data, gsize len, const char *name, GError **error);
char *nc_bundle_format(const NcBundle *bundle);
gboolean nc_bundle_save(const NcBundle *bundle, const char *path, GError **error);

/* Tables shared by the XML form, the diff and messages (nc-bundle.c). */

/* "tcp", "udp", ... or NULL for a protocol without a name here */
const char *nc_ct_proto_to_string(guint8 proto);
/* a name or a decimal number 0-255; -1 if neither */
int nc_ct_proto_from_string(const char *str);
/* whether tuples of @proto carry ports (TCP, UDP, UDPLITE, SCTP, DCCP, GRE keys) */
gboolean nc_ct_proto_has_ports(guint8 proto);
/* whether tuples of @proto carry ICMP id/type/code (ICMP, ICMPv6) */
gboolean nc_ct_proto_is_icmp(guint8 proto);
/* IPS_* bits as space-separated names in bit order ("seen-reply assured ..."),
 * unknown bits as "bit-N"; "" for 0. (transfer full) */
char *nc_ct_status_to_string(guint32 status);
/* "established", ... or NULL for a value outside TCP_CONNTRACK_* */
const char *nc_ct_tcp_state_to_string(guint8 state);
int nc_ct_tcp_state_from_string(const char *str); /* -1 if unknown */

/* Bundles with more entries than this are validated against bundle.rng without
 * their entries (libxml2's RelaxNG costs ~35 us per entry); every entry is
 * still checked by the reader, which enforces the same rules as the schema. */
#define NC_BUNDLE_FULL_VALIDATION_MAX 1000

G_END_DECLS
