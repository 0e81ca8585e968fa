/* nc-peer-proto.h - the wire format between two netcarryd: hello, state chunks, seal, ack,
 * finished, abort
 * Pure encode/decode, and a STATE chunk and the SEAL against the receiver's NcItemSet; theory of
 * operation in nc-peer-proto.c.
 */
#pragma once

#include <glib.h>

#include "conf/nc-bundle.h"
#include "conf/nc-item-set.h"
#include "conf/nc-owner.h"

G_BEGIN_DECLS

#define NC_PEER_PROTO_MAGIC 0x4e435052u /* "NCPR" */
/* the newest version this build speaks, and the oldest one it can still speak (version 1, whose
 * SEAL had no timeline and which had no FINISHED, was never released; version 2's destination
 * proved nothing to the source, so a version 3 source cannot serve it) */
#define NC_PEER_PROTO_VERSION 4
#define NC_PEER_PROTO_COMPAT_VERSION 3
/* the first version with classes beside conntrack (ITEMS, per-class sums in SEAL, ACK, FINISHED) */
#define NC_PEER_PROTO_CLASSES_VERSION 4
/* the most classes a HELLO or a per-class list may name (there are a handful) */
#define NC_PEER_CLASSES_MAX 64
/* the most not-carried lines an ITEMS message takes (the report keeps 100 failures too) */
#define NC_PEER_NOT_CARRIED_MAX 100
/* the rendezvous secret: 32 random bytes as 64 lower-case hex digits */
#define NC_PEER_SECRET_HEX_LEN 64
#define NC_PEER_PROTO_HEADER_SIZE 12
#define NC_PEER_PROTO_MAX_PAYLOAD (1024u * 1024)
#define NC_PEER_DIGEST_SIZE 32
/* STATE chunks a sender should build: ~50-130 bytes per entry keeps a chunk far below the limit */
#define NC_PEER_CHUNK_ENTRIES 1024

typedef enum {
    NC_PEER_MSG_HELLO = 1,
    NC_PEER_MSG_STATE = 2,
    NC_PEER_MSG_SEAL = 3,
    NC_PEER_MSG_ACK = 4,
    NC_PEER_MSG_ABORT = 5,
    NC_PEER_MSG_FINISHED = 6,
    NC_PEER_MSG_ITEMS = 7, /* version 4 */
    NC_PEER_MSG_LAST
} NcPeerMsgType;

const char *nc_peer_msg_type_to_string(NcPeerMsgType type); /* "HELLO", ... or "unknown" */

/**
 * NcPeerAbortCode - why a side gives up; sent in ABORT
 * @NC_PEER_ABORT_PROTOCOL:  the other side sent a malformed or out-of-order message
 * @NC_PEER_ABORT_VERSION:   no protocol version both sides speak
 * @NC_PEER_ABORT_REFUSED:   the receiver does not accept this state (domain not migrating here,
 *                           not from this peer, entries outside the domain's addresses)
 * @NC_PEER_ABORT_CANCELLED: the migration was cancelled or failed
 * @NC_PEER_ABORT_INTERNAL:  the receiver could not install, or another local failure
 * @NC_PEER_ABORT_TIMEOUT:   a bounded wait ran out
 */
typedef enum {
    NC_PEER_ABORT_PROTOCOL = 1,
    NC_PEER_ABORT_VERSION,
    NC_PEER_ABORT_REFUSED,
    NC_PEER_ABORT_CANCELLED,
    NC_PEER_ABORT_INTERNAL,
    NC_PEER_ABORT_TIMEOUT,
    NC_PEER_ABORT_LAST
} NcPeerAbortCode;

const char *nc_peer_abort_code_to_string(NcPeerAbortCode code); /* "protocol", ... */

/**
 * NcPeerHello - the first message each way
 * @version:        the newest protocol version the sender speaks
 * @compat_version: the oldest one it still speaks
 * @domain_uuid:    the migrating domain (client -> server); the server echoes it
 * @host:           the sender's host name
 * @secret:         version 3, server -> client: the rendezvous secret the destination read in the
 *                  domain XML that libvirt handed its `migrate begin` hook (proof that libvirt
 *                  chose it); "" from the client, and from a peer that sends none
 * @classes:        version 4, server -> client: the classes beside conntrack this destination
 *                  takes (NcClassOps names), NULL-terminated; NULL: none said (a client's HELLO,
 *                  which must be readable by a version 3 server, never carries the list)
 */
typedef struct {
    guint32 version;
    guint32 compat_version;
    char *domain_uuid;
    char *host;
    char *secret;
    char **classes;
} NcPeerHello;

/**
 * NcPeerClassSum - one class's figures in a version 4 SEAL (@count items, @digest of the class's
 * set: NcItemSet's), ACK (@count installed) or FINISHED (@count removed at the source); the
 * digest travels in the SEAL only
 */
typedef struct {
    char *klass;
    guint64 count;
    guint8 digest[NC_PEER_DIGEST_SIZE];
} NcPeerClassSum;

/**
 * NcPeerItems - version 4: items of one class beside conntrack (nft set elements, named
 * counters and quotas, ...), as the class's canonical encoding (NcClassOps encode/decode)
 * @klass:       the class name
 * @replace:     TRUE: the first chunk of the class's whole set: the receiver drops what it held
 *               of the class; FALSE: more of the same set
 * @items:       (element-type GBytes): canonical encodings
 * @not_carried: (element-type NcNotCarried): what of the class belongs to the domain and cannot
 *               be carried, with why (for the destination's report)
 */
typedef struct {
    char *klass;
    gboolean replace;
    GPtrArray *items;
    GPtrArray *not_carried;
} NcPeerItems;

/**
 * NcPeerState - one chunk of changes to the receiver's copy of the domain's set
 * @seq:     0 for the first chunk of a connection, then +1 per chunk
 * @upserts: (element-type NcCtEntry): entries to create or replace (by NcCtKey)
 * @deletes: (element-type NcCtKey): entries to remove; applied before @upserts
 */
typedef struct {
    guint32 seq;
    GArray *upserts;
    GArray *deletes;
} NcPeerState;

/**
 * NcPeerSealStep - one step of the source's migration timeline, sent with the seal and again
 * (whole) with FINISHED, so that the destination's report holds both hosts' timelines
 * @phase:   the daemon's NcPhase value (src/daemon/nc-phase.h)
 * @cause:   the NcPhaseInput that made the step
 * @pass:    the pre-copy pass, else 0
 * @time_us: when, by the source's clock
 */
typedef struct {
    guint8 phase;
    guint8 cause;
    guint32 pass;
    gint64 time_us;
} NcPeerSealStep;

/* a source timeline longer than this (a migration has ~10 steps; each pre-copy pass is one) is
 * sent as its first and last halves: pre-copy passes from the middle are dropped, never the end */
#define NC_PEER_SEAL_STEPS_MAX 256

/**
 * NcPeerSeal - the source's final word: this is the whole set
 * @chunks:  how many STATE chunks were sent before it (so a lost chunk is seen)
 * @count:   entries in the final set
 * @digest:  the final set's digest (NcItemSet's of nc_ct_class)
 * @n_steps: entries in @steps
 * @steps:   (array length=n_steps) (nullable): the source's timeline so far
 * @classes: (element-type NcPeerClassSum): version 4: each other class's whole set as the
 *           source sent it in ITEMS (a class not listed carries nothing)
 */
typedef struct {
    guint32 chunks;
    guint64 count;
    guint8 digest[NC_PEER_DIGEST_SIZE];
    guint n_steps;
    NcPeerSealStep *steps;
    GArray *classes;
} NcPeerSeal;

/**
 * NcPeerAck - the destination's answer to the seal
 * @ok:        TRUE if the whole set is installed and the digest matched
 * @installed: entries installed
 * @reason:    if !@ok, one line saying why (never NULL then); else ""
 * @classes:   (element-type NcPeerClassSum): version 4: per other class, the items installed
 */
typedef struct {
    gboolean ok;
    guint64 installed;
    char *reason;
    GArray *classes;
} NcPeerAck;

typedef struct {
    NcPeerAbortCode code;
    char *reason;
} NcPeerAbort;

/**
 * NcPeerOutcome - how the source's libvirt says the migration ended (sent in FINISHED)
 */
typedef enum {
    NC_PEER_OUTCOME_COMPLETED = 0,
    NC_PEER_OUTCOME_FAILED = 1,
    NC_PEER_OUTCOME_CANCELLED = 2,
    NC_PEER_OUTCOME_LAST
} NcPeerOutcome;

const char *nc_peer_outcome_to_string(NcPeerOutcome outcome); /* "completed", ... */

/**
 * NcPeerFinished - the source's last word (protocol version 2), sent after the ACK once the
 * source's migration ended, so that the destination's report has the source's whole story
 * @outcome:        how the source's libvirt says it ended
 * @has_downtime:   whether @downtime_ms is known (libvirt's job-completed event on the source)
 * @downtime_ms:    libvirt's reported downtime
 * @has_removed:    whether the source's clean-up ran
 * @removed:        entries the clean-up removed from the source's conntrack table
 * @precopied:      entries the source sent while the guest ran
 * @changed_at_stop: changes (upserts and deletions) it sent after the guest stopped; only the
 *                  source knows where its stop fell in the stream
 * @n_steps, @steps: (array length=n_steps) (nullable): the source's WHOLE timeline, completed
 *                  (or failed) step included; it replaces the one the seal carried
 * @reason:         why it failed or was cancelled; "" when completed
 * @classes:        (element-type NcPeerClassSum) (nullable): version 4: per other class, the
 *                  items the source's clean-up removed
 */
typedef struct {
    NcPeerOutcome outcome;
    gboolean has_downtime;
    guint32 downtime_ms;
    gboolean has_removed;
    guint32 removed;
    guint32 precopied;
    guint32 changed_at_stop;
    guint n_steps;
    NcPeerSealStep *steps;
    char *reason;
    GArray *classes;
} NcPeerFinished;

/**
 * NcPeerMsg - one decoded message; @type says which member is valid
 */
typedef struct {
    NcPeerMsgType type;
    union {
        NcPeerHello hello;
        NcPeerState state;
        NcPeerSeal seal;
        NcPeerAck ack;
        NcPeerAbort abort;
        NcPeerFinished finished;
        NcPeerItems items;
    };
} NcPeerMsg;

NcPeerMsg *nc_peer_msg_new(NcPeerMsgType type);
NcPeerMsg *nc_peer_msg_new_hello(const char *domain_uuid, const char *host);
NcPeerMsg *nc_peer_msg_new_ack(gboolean ok, guint64 installed, const char *reason);
NcPeerMsg *nc_peer_msg_new_abort(NcPeerAbortCode code, const char *reason);
void nc_peer_msg_free(NcPeerMsg *msg);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(NcPeerMsg, nc_peer_msg_free)

GArray *nc_peer_class_sums_new(void); /* (element-type NcPeerClassSum), frees its members */
void nc_peer_class_sums_add(GArray *sums, const char *klass, guint64 count, const guint8 *digest);
const NcPeerClassSum *nc_peer_class_sums_find(GArray *sums, const char *klass);

/* The codec of one session's version (nc_peer_hello_negotiate()); the plain forms speak
 * NC_PEER_PROTO_VERSION. A message or field the version lacks is an error. */
GBytes *nc_peer_msg_encode(const NcPeerMsg *msg, GError **error);
GBytes *nc_peer_msg_encode_version(const NcPeerMsg *msg, guint32 version, GError **error);
gboolean nc_peer_header_parse(const guint8 *header, NcPeerMsgType *type, guint32 *payload_len,
                              GError **error);
NcPeerMsg *nc_peer_msg_decode(NcPeerMsgType type, const guint8 *payload, gsize len, GError **error);
NcPeerMsg *nc_peer_msg_decode_version(guint32 version, NcPeerMsgType type, const guint8 *payload,
                                      gsize len, GError **error);
NcPeerMsg *nc_peer_frame_decode(const guint8 *frame, gsize len, GError **error);

gboolean nc_peer_secret_equal(const char *expected, const char *presented);
char *nc_peer_secret_new(void);

gboolean nc_peer_hello_negotiate(const NcPeerHello *peer, guint32 my_version,
                                 guint32 my_compat_version, guint32 *session_version,
                                 GError **error);

/* The canonical encodings (what is hashed and sent); (transfer full) */
GBytes *nc_peer_ct_entry_canonical(const NcCtEntry *entry, GError **error);
GBytes *nc_peer_ct_key_canonical(const NcCtKey *key, GError **error);

/* The SEAL's conntrack digest is NcItemSet's of nc_ct_class (conf/nc-ct-items.h), byte for byte:
 * the sum the theory of operation defines. A receiver keeps the chunks in one such set. */
G_STATIC_ASSERT(NC_PEER_DIGEST_SIZE == NC_DIGEST_SIZE);

gboolean nc_peer_state_apply(NcItemSet *set, const NcPeerState *state, GError **error);
gboolean nc_peer_seal_check(const NcItemSet *set, const NcPeerSeal *seal, guint32 chunks_seen,
                            GError **error);

G_END_DECLS
