/* nc-peer-proto.c - encode and decode netcarryd <-> netcarryd messages; a STATE chunk and the SEAL
 * against the receiver's set
 * Pure functions over buffers: nc-peer.c carries the frames over TLS; the daemon applies them.
 *
 * Theory of operation
 * -------------------
 * During a live migration the source netcarryd streams the domain's conntrack state to the
 * destination netcarryd, as QEMU streams RAM: first the whole set while the guest runs
 * (pre-copy), then changes as they happen, and at the source's STOP the last changes and a seal.
 * The destination installs as it receives and answers the seal. One TLS connection carries one
 * domain's migration; the client (TLS) is the source, the server the destination:
 *
 *   source                                   destination
 *   HELLO  (versions, domain UUID, host) -->
 *                                        <-- HELLO (its versions, same UUID, host, the
 *                                                   rendezvous secret)              or ABORT
 *   (the source checks the secret, and that the domain is migrating away, before anything else)
 *   STATE seq 0 (upserts, deletions)     -->
 *   STATE seq 1 ...                      -->                     (any time: <-- ABORT)
 *   SEAL   (chunks sent, count, digest)  -->
 *                                        <-- ACK (installed count, or failure reason) or ABORT
 *   (version 1: both close here)
 *   ... the source's migration ends (libvirt: ~2 s after the destination's resume) ...
 *   FINISHED (outcome, whole timeline, libvirt's downtime, entries removed at the source) -->
 *   both close
 *
 * Why FINISHED: the SEAL leaves at the source's STOP, long before the source's libvirt says the
 * migration completed (its `completed` step), reports the downtime (job-completed) and before
 * the source's clean-up ran. The destination's report needs all three, so after a good ACK the
 * link stays open until the source sends FINISHED. The destination waits for it a bounded time
 * (nc-carry.c); without it the report says the source's end is unknown, and the migration is
 * not failed for that. FINISHED exists only in version 2 sessions: with a version 1 peer the
 * exchange ends at the ACK as before.
 *
 * Versions, as passt's migration stream does it: each HELLO carries the newest version its
 * sender speaks and the oldest one it still speaks (compat-version). Two sides talk if the
 * ranges overlap, in the newest common version; otherwise the destination answers ABORT
 * "version" and the source reports which versions each side speaks. A change that an old reader
 * would misread bumps the version; the compat-version moves only when old code is dropped.
 *
 * Every message is a frame; every integer is big-endian (network order); nothing is a raw struct:
 *
 *   offset 0  u32 magic     0x4e435052 ("NCPR"): a stream that is not netcarry's stops at once
 *          4  u16 type      NcPeerMsgType
 *          6  u16 reserved  0
 *          8  u32 length    of the payload, at most NC_PEER_PROTO_MAX_PAYLOAD (1 MiB)
 *
 * A string is u16 length + UTF-8 bytes without NUL. Payloads (v2):
 *   HELLO  u32 version, u32 compat-version, string domain UUID, string host (non-empty),
 *          string secret (version 3; may be empty; a HELLO that ends after the host, as version 2
 *          sent it, has an empty secret, so that version negotiation can still say what is wrong)
 *   STATE  u32 seq, u32 n-upserts, u32 n-deletes, n-upserts entries, n-deletes keys
 *   SEAL   u32 chunks, u64 count, 32 bytes digest, u16 n-steps, n-steps times the source's
 *          timeline step (u8 phase, u8 cause, u32 pass, u64 time_us)
 *   ACK    u8 result (0 installed, 1 failed), u64 installed, string reason (non-empty if failed)
 *   ABORT  u16 code (NcPeerAbortCode), string reason
 *   FINISHED u8 outcome (NcPeerOutcome), u8 flags (bit 0 downtime known, bit 1 clean-up ran;
 *          other bits 0), u32 downtime-ms (0 if unknown), u32 removed (0 if no clean-up),
 *          u32 precopied, u32 changed-at-stop, u16 n-steps, n-steps timeline steps as in SEAL
 *          (the whole timeline), string reason
 * Version 4 adds the classes beside conntrack (src/drivers/nc-state-driver.h), whose items
 * travel as their class's canonical encoding (NcClassOps encode; the receiver decodes and checks
 * them with the class's own code):
 *   HELLO  server -> client only, after the secret: u16 n, n strings: the classes the
 *          destination takes (a client's HELLO stays readable by a version 3 server)
 *   ITEMS  (type 7) string class, u8 flags (bit 0 replace: the first chunk of the class's whole
 *          set), u32 n-items, n-items times (u32 length, bytes), u16 n-not-carried,
 *          n-not-carried times (string what, string reason)
 *   SEAL   ..., then u16 n-classes, n-classes times (string class, u64 count, 32 bytes digest)
 *   ACK    ..., then u16 n-classes, n-classes times (string class, u64 installed)
 *   FINISHED ..., then u16 n-classes, n-classes times (string class, u64 removed)
 * The source sends each class's whole set (it is small: elements and objects, not connections)
 * once at the start, for the destination's admission to probe against, and again after its
 * STOP, captured anew (a packet-path `add @set` makes no event; counters count until the stop);
 * the destination installs it with the seal, before its gate opens. A class name is 1-32
 * characters of a-z, 0-9 and '-'.
 * An entry (its canonical encoding, also what the digest hashes):
 *   u8 family (4 or 6), u8 flags (bit 0 labels, bit 1 tcp; other bits 0), u16 zone,
 *   orig tuple, reply tuple, u32 status, u32 timeout, u32 mark,
 *   [16 bytes labels if flag 0], [u8 tcp-state, u8 wscale[2], u8 tcp-flags[2] if flag 1]
 * A tuple: src address, dst address (4 or 16 bytes, per the family), u8 proto, u16 sport,
 *   u16 dport, u16 icmp-id, u8 icmp-type, u8 icmp-code. Every field is always there (zero
 *   where the protocol has none), so an entry's size follows from family and flags alone:
 *   50 bytes for IPv4, 98 for IPv6, +16 with labels, +5 with TCP.
 * A key (a deletion): u8 family, u8 reserved 0, u16 zone, orig tuple.
 * A decoder accepts nothing else: unknown types, flags or codes, non-zero reserved bits, a
 * length or count that overruns, and bytes left over are errors that name the message, the
 * entry and the field.
 *
 * Chunk semantics: the receiver holds a set keyed by (zone, orig tuple). A chunk's deletions
 * apply first, then its upserts (create, or replace the entry with the same key). Deleting a
 * key that is not there is not an error (the entry may have expired on both sides).
 *
 * The seal's digest is the sum modulo 2^256 of SHA-256(canonical encoding) over the final set's
 * entries (the 32-byte hashes read as big-endian integers). Why a sum:
 *  - order-independent: source and destination build their sets in different orders (dump
 *    order, event order, hash table order), and neither should sort 100k entries at the stop;
 *  - incremental both ways: an upsert adds a hash, a replace or delete subtracts the old one, so
 *    both sides keep the digest current during pre-copy and the seal costs O(1) at the stop;
 *  - unlike XOR, a sum does not cancel an entry counted twice (h + h != 0), so a duplicated
 *    entry changes the digest as well as the count.
 * Both sides keep their set as an NcItemSet of nc_ct_class (conf/nc-item-set.c keeps this digest
 * for every class): the source what it sent, the destination what it received.
 * It guards against bugs and lost or mangled state, not against an attacker: TLS with mutual
 * certificates authenticates the sender, who could send any state anyway. (Additive set hashes
 * can be forged with effort, e.g. by Wagner's generalized birthday attack; irrelevant here.)
 */
#include <errno.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>

#include "conf/nc-ct-items.h"
#include "nc-peer-proto.h"
#include "util/nc-error.h"

#define ENTRY_FLAG_LABELS NC_CT_ENTRY_FLAG_LABELS
#define ENTRY_FLAG_TCP NC_CT_ENTRY_FLAG_TCP
#define TUPLE_FIXED_SIZE 9 /* proto, sport, dport, icmp id, type, code */
#define ENTRY_MIN_SIZE (4 + 2 * (8 + TUPLE_FIXED_SIZE) + 12)
#define KEY_MIN_SIZE (4 + 8 + TUPLE_FIXED_SIZE)

static const char *const msg_type_names[] = {
    [0] = "unknown",
    [NC_PEER_MSG_HELLO] = "HELLO",
    [NC_PEER_MSG_STATE] = "STATE",
    [NC_PEER_MSG_SEAL] = "SEAL",
    [NC_PEER_MSG_ACK] = "ACK",
    [NC_PEER_MSG_ABORT] = "ABORT",
    [NC_PEER_MSG_FINISHED] = "FINISHED",
    [NC_PEER_MSG_ITEMS] = "ITEMS",
};
G_STATIC_ASSERT(G_N_ELEMENTS(msg_type_names) == NC_PEER_MSG_LAST);

static const char *const abort_code_names[] = {
    [0] = "unknown",
    [NC_PEER_ABORT_PROTOCOL] = "protocol",
    [NC_PEER_ABORT_VERSION] = "version",
    [NC_PEER_ABORT_REFUSED] = "refused",
    [NC_PEER_ABORT_CANCELLED] = "cancelled",
    [NC_PEER_ABORT_INTERNAL] = "internal",
    [NC_PEER_ABORT_TIMEOUT] = "timeout",
};
G_STATIC_ASSERT(G_N_ELEMENTS(abort_code_names) == NC_PEER_ABORT_LAST);

static const char *const outcome_names[] = {
    [NC_PEER_OUTCOME_COMPLETED] = "completed",
    [NC_PEER_OUTCOME_FAILED] = "failed",
    [NC_PEER_OUTCOME_CANCELLED] = "cancelled",
};
G_STATIC_ASSERT(G_N_ELEMENTS(outcome_names) == NC_PEER_OUTCOME_LAST);

#define ITEMS_FLAG_REPLACE 0x01u
#define FINISHED_FLAG_DOWNTIME 0x01u
#define FINISHED_FLAG_REMOVED 0x02u
#define STEP_SIZE 14 /* u8 phase, u8 cause, u32 pass, u64 time */

const char *nc_peer_outcome_to_string(NcPeerOutcome outcome)
{
    return outcome < NC_PEER_OUTCOME_LAST ? outcome_names[outcome] : "unknown";
}

const char *nc_peer_msg_type_to_string(NcPeerMsgType type)
{
    return type > 0 && type < NC_PEER_MSG_LAST ? msg_type_names[type] : msg_type_names[0];
}

const char *nc_peer_abort_code_to_string(NcPeerAbortCode code)
{
    return code > 0 && code < NC_PEER_ABORT_LAST ? abort_code_names[code] : abort_code_names[0];
}

/* ---- messages ---- */

NcPeerMsg *nc_peer_msg_new(NcPeerMsgType type)
{
    NcPeerMsg *msg = g_new0(NcPeerMsg, 1);

    msg->type = type;
    if (type == NC_PEER_MSG_STATE) {
        msg->state.upserts = g_array_new(FALSE, TRUE, sizeof(NcCtEntry));
        msg->state.deletes = g_array_new(FALSE, TRUE, sizeof(NcCtKey));
    } else if (type == NC_PEER_MSG_ITEMS) {
        msg->items.items = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
        msg->items.not_carried = nc_not_carried_list_new();
    }
    return msg;
}

static void class_sum_clear(gpointer p)
{
    g_free(((NcPeerClassSum *)p)->klass);
}

GArray *nc_peer_class_sums_new(void)
{
    GArray *a = g_array_new(FALSE, TRUE, sizeof(NcPeerClassSum));

    g_array_set_clear_func(a, class_sum_clear);
    return a;
}

/* @digest: (nullable): NC_PEER_DIGEST_SIZE bytes, or none (zero) */
void nc_peer_class_sums_add(GArray *sums, const char *klass, guint64 count, const guint8 *digest)
{
    NcPeerClassSum s = {.klass = g_strdup(klass), .count = count};

    if (digest)
        memcpy(s.digest, digest, NC_PEER_DIGEST_SIZE);
    g_array_append_val(sums, s);
}

const NcPeerClassSum *nc_peer_class_sums_find(GArray *sums, const char *klass)
{
    for (guint i = 0; sums && i < sums->len; i++)
        if (!g_strcmp0(g_array_index(sums, NcPeerClassSum, i).klass, klass))
            return &g_array_index(sums, NcPeerClassSum, i);
    return NULL;
}

/**
 * nc_peer_msg_new_hello() - a HELLO with this build's versions
 * @domain_uuid: the migrating domain's UUID
 * @host:        this host's name
 *
 * Return: (transfer full): the message
 */
NcPeerMsg *nc_peer_msg_new_hello(const char *domain_uuid, const char *host)
{
    NcPeerMsg *msg = nc_peer_msg_new(NC_PEER_MSG_HELLO);

    msg->hello.version = NC_PEER_PROTO_VERSION;
    msg->hello.compat_version = NC_PEER_PROTO_COMPAT_VERSION;
    msg->hello.domain_uuid = g_strdup(domain_uuid);
    msg->hello.host = g_strdup(host);
    return msg;
}

NcPeerMsg *nc_peer_msg_new_ack(gboolean ok, guint64 installed, const char *reason)
{
    NcPeerMsg *msg = nc_peer_msg_new(NC_PEER_MSG_ACK);

    msg->ack.ok = ok;
    msg->ack.installed = installed;
    msg->ack.reason = g_strdup(ok ? "" : reason && *reason ? reason : "no reason given");
    return msg;
}

NcPeerMsg *nc_peer_msg_new_abort(NcPeerAbortCode code, const char *reason)
{
    NcPeerMsg *msg = nc_peer_msg_new(NC_PEER_MSG_ABORT);

    msg->abort.code = code;
    msg->abort.reason = g_strdup(reason && *reason ? reason : "no reason given");
    return msg;
}

void nc_peer_msg_free(NcPeerMsg *msg)
{
    if (!msg)
        return;
    switch (msg->type) {
    case NC_PEER_MSG_HELLO:
        g_free(msg->hello.domain_uuid);
        g_free(msg->hello.host);
        g_free(msg->hello.secret);
        g_strfreev(msg->hello.classes);
        break;
    case NC_PEER_MSG_ITEMS:
        g_free(msg->items.klass);
        g_clear_pointer(&msg->items.items, g_ptr_array_unref);
        g_clear_pointer(&msg->items.not_carried, g_ptr_array_unref);
        break;
    case NC_PEER_MSG_STATE:
        if (msg->state.upserts)
            g_array_unref(msg->state.upserts);
        if (msg->state.deletes)
            g_array_unref(msg->state.deletes);
        break;
    case NC_PEER_MSG_ACK:
        g_free(msg->ack.reason);
        g_clear_pointer(&msg->ack.classes, g_array_unref);
        break;
    case NC_PEER_MSG_ABORT:
        g_free(msg->abort.reason);
        break;
    case NC_PEER_MSG_SEAL:
        g_free(msg->seal.steps);
        g_clear_pointer(&msg->seal.classes, g_array_unref);
        break;
    case NC_PEER_MSG_FINISHED:
        g_free(msg->finished.steps);
        g_free(msg->finished.reason);
        g_clear_pointer(&msg->finished.classes, g_array_unref);
        break;
    default:
        break;
    }
    g_free(msg);
}

/* ---- writing ---- */

static void put_u8(GByteArray *b, guint8 v)
{
    g_byte_array_append(b, &v, 1);
}

static void put_u16(GByteArray *b, guint16 v)
{
    guint8 p[2] = {v >> 8, v};

    g_byte_array_append(b, p, 2);
}

static void put_u32(GByteArray *b, guint32 v)
{
    guint8 p[4] = {v >> 24, v >> 16, v >> 8, v};

    g_byte_array_append(b, p, 4);
}

static void put_u64(GByteArray *b, guint64 v)
{
    put_u32(b, v >> 32);
    put_u32(b, (guint32)v);
}

/* One line, at most 65535 bytes, cut at a character boundary: strings only carry names and
 * reasons, so flattening them is better than failing the message. */
static void put_str(GByteArray *b, const char *s)
{
    g_autofree char *line = g_strdup(s ? s : "");
    gsize n;

    g_strdelimit(line, "\r\n\t", ' ');
    n = strlen(line);
    if (n > G_MAXUINT16) {
        const char *end = g_utf8_find_prev_char(line, line + G_MAXUINT16 + 1);

        n = end ? (gsize)(end - line) : 0;
    }
    put_u16(b, n);
    g_byte_array_append(b, (const guint8 *)line, n);
}

/* A timeline: u16 count, then the steps; a longer one is cut (a migration has ~10 steps). */
static void put_steps(GByteArray *b, const NcPeerSealStep *steps, guint n)
{
    guint head, sent = steps ? MIN(n, NC_PEER_SEAL_STEPS_MAX) : 0;

    head = n > sent ? sent / 2 : sent; /* too long: the first half, then the last */
    put_u16(b, sent);
    for (guint k = 0; k < sent; k++) {
        const NcPeerSealStep *s = &steps[k < head ? k : n - (sent - k)];

        put_u8(b, s->phase);
        put_u8(b, s->cause);
        put_u32(b, s->pass);
        put_u64(b, (guint64)s->time_us);
    }
}

/* A class name as the wire allows it (1-32 of a-z, 0-9, '-'). */
static gboolean class_name_valid(const char *k)
{
    gsize n = k ? strlen(k) : 0;

    if (n < 1 || n > 32)
        return FALSE;
    for (gsize i = 0; i < n; i++)
        if (!g_ascii_islower(k[i]) && !g_ascii_isdigit(k[i]) && k[i] != '-')
            return FALSE;
    return TRUE;
}

/* Version 4's per-class sums: u16 n, then (string class, u64 count[, 32 bytes digest]). */
static gboolean put_sums(GByteArray *b, const char *msg, GArray *sums, gboolean digest,
                         GError **error)
{
    guint n = sums ? sums->len : 0;

    if (n > NC_PEER_CLASSES_MAX) {
        g_set_error(error, NC_ERROR, NC_ERROR_INVALID_ARG, "peer %s message: %u classes", msg, n);
        return FALSE;
    }
    put_u16(b, n);
    for (guint i = 0; i < n; i++) {
        const NcPeerClassSum *cs = &g_array_index(sums, NcPeerClassSum, i);

        if (!class_name_valid(cs->klass)) {
            g_set_error(error, NC_ERROR, NC_ERROR_INVALID_ARG,
                        "peer %s message: '%s' is no class name", msg, cs->klass);
            return FALSE;
        }
        put_str(b, cs->klass);
        put_u64(b, cs->count);
        if (digest)
            g_byte_array_append(b, cs->digest, NC_PEER_DIGEST_SIZE);
    }
    return TRUE;
}

static gboolean put_items(GByteArray *b, const NcPeerItems *it, GError **error)
{
    guint n = it->items ? it->items->len : 0;
    guint nn = it->not_carried ? it->not_carried->len : 0;

    if (!class_name_valid(it->klass)) {
        g_set_error(error, NC_ERROR, NC_ERROR_INVALID_ARG,
                    "peer ITEMS message: '%s' is no class name", it->klass ? it->klass : "");
        return FALSE;
    }
    put_str(b, it->klass);
    put_u8(b, it->replace ? ITEMS_FLAG_REPLACE : 0);
    put_u32(b, n);
    for (guint i = 0; i < n; i++) {
        gsize len = 0;
        const guint8 *p = g_bytes_get_data(g_ptr_array_index(it->items, i), &len);

        put_u32(b, len);
        g_byte_array_append(b, p, len);
    }
    /* what cannot be carried is for the report: the first NC_PEER_NOT_CARRIED_MAX say enough */
    nn = MIN(nn, NC_PEER_NOT_CARRIED_MAX);
    put_u16(b, nn);
    for (guint i = 0; i < nn; i++) {
        const NcNotCarried *nc = g_ptr_array_index(it->not_carried, i);

        put_str(b, nc->what);
        put_str(b, nc->reason);
    }
    return TRUE;
}

/* The entry and key encodings are conntrack's canonical bytes (conf/nc-ct-items.c). */
static gboolean put_entry(GByteArray *b, const NcCtEntry *e, GError **error)
{
    return nc_ct_entry_append_canonical(b, e, error);
}

static gboolean put_key(GByteArray *b, const NcCtKey *k, GError **error)
{
    return nc_ct_key_append_canonical(b, k->zone, &k->orig, error);
}

/**
 * nc_peer_ct_entry_canonical() - the bytes that represent @entry on the wire and in the digest
 * @entry: the entry
 * @error: NC_ERROR_INVALID_ARG if its addresses have no or mixed families
 *
 * Return: (transfer full): the encoding, or NULL
 */
GBytes *nc_peer_ct_entry_canonical(const NcCtEntry *entry, GError **error)
{
    g_autoptr(GByteArray) b = g_byte_array_sized_new(128);

    if (!put_entry(b, entry, error))
        return NULL;
    return g_byte_array_free_to_bytes(g_steal_pointer(&b));
}

GBytes *nc_peer_ct_key_canonical(const NcCtKey *key, GError **error)
{
    g_autoptr(GByteArray) b = g_byte_array_sized_new(64);

    if (!put_key(b, key, error))
        return NULL;
    return g_byte_array_free_to_bytes(g_steal_pointer(&b));
}

/**
 * nc_peer_msg_encode() - a message as one complete frame
 * @msg:   the message (a HELLO's strings may be NULL: sent as "")
 * @error: NC_ERROR_INVALID_ARG for an entry that cannot be encoded (no or mixed families), an
 *         unknown type, or a payload over NC_PEER_PROTO_MAX_PAYLOAD (send smaller chunks)
 *
 * Return: (transfer full): header + payload, or NULL
 */
GBytes *nc_peer_msg_encode(const NcPeerMsg *msg, GError **error)
{
    return nc_peer_msg_encode_version(msg, NC_PEER_PROTO_VERSION, error);
}

/**
 * nc_peer_msg_encode_version() - nc_peer_msg_encode() in a session of @version
 *
 * An ITEMS message, or a HELLO's class list, in a session older than version 4 is
 * NC_ERROR_UNSUPPORTED; the per-class sums of SEAL, ACK and FINISHED are left out.
 */
GBytes *nc_peer_msg_encode_version(const NcPeerMsg *msg, guint32 version, GError **error)
{
    g_autoptr(GByteArray) b = g_byte_array_sized_new(256);
    gboolean classes = version >= NC_PEER_PROTO_CLASSES_VERSION;
    guint32 len;

    put_u32(b, NC_PEER_PROTO_MAGIC);
    put_u16(b, msg->type);
    put_u16(b, 0);
    put_u32(b, 0); /* length, filled in below */
    switch (msg->type) {
    case NC_PEER_MSG_HELLO:
        put_u32(b, msg->hello.version);
        put_u32(b, msg->hello.compat_version);
        put_str(b, msg->hello.domain_uuid);
        put_str(b, msg->hello.host);
        put_str(b, msg->hello.secret);
        if (msg->hello.classes && classes) {
            guint n = g_strv_length(msg->hello.classes);

            if (n > NC_PEER_CLASSES_MAX) {
                g_set_error(error, NC_ERROR, NC_ERROR_INVALID_ARG, "peer HELLO message: %u classes",
                            n);
                return NULL;
            }
            put_u16(b, n);
            for (guint i = 0; i < n; i++) {
                if (!class_name_valid(msg->hello.classes[i])) {
                    g_set_error(error, NC_ERROR, NC_ERROR_INVALID_ARG,
                                "peer HELLO message: '%s' is no class name", msg->hello.classes[i]);
                    return NULL;
                }
                put_str(b, msg->hello.classes[i]);
            }
        }
        break;
    case NC_PEER_MSG_ITEMS:
        if (!classes) {
            g_set_error(error, NC_ERROR, NC_ERROR_UNSUPPORTED,
                        "peer protocol version %u has no ITEMS message", version);
            return NULL;
        }
        if (!put_items(b, &msg->items, error))
            return NULL;
        break;
    case NC_PEER_MSG_STATE: {
        guint nu = msg->state.upserts ? msg->state.upserts->len : 0;
        guint nd = msg->state.deletes ? msg->state.deletes->len : 0;

        put_u32(b, msg->state.seq);
        put_u32(b, nu);
        put_u32(b, nd);
        for (guint i = 0; i < nu; i++)
            if (!put_entry(b, &g_array_index(msg->state.upserts, NcCtEntry, i), error))
                return NULL;
        for (guint i = 0; i < nd; i++)
            if (!put_key(b, &g_array_index(msg->state.deletes, NcCtKey, i), error))
                return NULL;
        break;
    }
    case NC_PEER_MSG_SEAL:
        put_u32(b, msg->seal.chunks);
        put_u64(b, msg->seal.count);
        g_byte_array_append(b, msg->seal.digest, NC_PEER_DIGEST_SIZE);
        put_steps(b, msg->seal.steps, msg->seal.n_steps);
        if (classes && !put_sums(b, "SEAL", msg->seal.classes, TRUE, error))
            return NULL;
        break;
    case NC_PEER_MSG_FINISHED:
        if (msg->finished.outcome >= NC_PEER_OUTCOME_LAST) {
            g_set_error(error, NC_ERROR, NC_ERROR_INVALID_ARG,
                        "peer FINISHED message: outcome %d does not exist", msg->finished.outcome);
            return NULL;
        }
        put_u8(b, msg->finished.outcome);
        put_u8(b, (msg->finished.has_downtime ? FINISHED_FLAG_DOWNTIME : 0) |
                      (msg->finished.has_removed ? FINISHED_FLAG_REMOVED : 0));
        put_u32(b, msg->finished.has_downtime ? msg->finished.downtime_ms : 0);
        put_u32(b, msg->finished.has_removed ? msg->finished.removed : 0);
        put_u32(b, msg->finished.precopied);
        put_u32(b, msg->finished.changed_at_stop);
        put_steps(b, msg->finished.steps, msg->finished.n_steps);
        put_str(b, msg->finished.reason);
        if (classes && !put_sums(b, "FINISHED", msg->finished.classes, FALSE, error))
            return NULL;
        break;
    case NC_PEER_MSG_ACK:
        put_u8(b, msg->ack.ok ? 0 : 1);
        put_u64(b, msg->ack.installed);
        put_str(b, msg->ack.ok                           ? ""
                   : msg->ack.reason && *msg->ack.reason ? msg->ack.reason
                                                         : "no reason given");
        if (classes && !put_sums(b, "ACK", msg->ack.classes, FALSE, error))
            return NULL;
        break;
    case NC_PEER_MSG_ABORT:
        put_u16(b, msg->abort.code);
        put_str(b, msg->abort.reason && *msg->abort.reason ? msg->abort.reason : "no reason given");
        break;
    default:
        g_set_error(error, NC_ERROR, NC_ERROR_INVALID_ARG, "peer message type %d does not exist",
                    msg->type);
        return NULL;
    }
    if (b->len - NC_PEER_PROTO_HEADER_SIZE > NC_PEER_PROTO_MAX_PAYLOAD) {
        g_set_error(error, NC_ERROR, NC_ERROR_INVALID_ARG,
                    "peer %s message of %u bytes exceeds the limit of %u: send smaller chunks",
                    nc_peer_msg_type_to_string(msg->type), b->len - NC_PEER_PROTO_HEADER_SIZE,
                    NC_PEER_PROTO_MAX_PAYLOAD);
        return NULL;
    }
    len = GUINT32_TO_BE(b->len - NC_PEER_PROTO_HEADER_SIZE);
    memcpy(b->data + 8, &len, 4);
    return g_byte_array_free_to_bytes(g_steal_pointer(&b));
}

/* ---- reading ---- */

/* A cursor over one payload that names what it was reading when something is wrong. */
typedef struct {
    const guint8 *p;
    gsize len;
    gsize off;
    const char *msg;  /* "STATE" */
    const char *item; /* "upsert", "delete" or NULL */
    guint index;
    const char *prefix; /* "orig.", "reply." or "" */
    GError **error;
} Reader;

static void rd_where(Reader *r, char *buf, gsize size, const char *field)
{
    if (r->item)
        g_snprintf(buf, size, "%s %u field %s%s", r->item, r->index, r->prefix, field);
    else
        g_snprintf(buf, size, "field %s%s", r->prefix, field);
}

static G_GNUC_PRINTF(3, 4) gboolean rd_fail(Reader *r, const char *field, const char *fmt, ...)
{
    char where[96];
    g_autofree char *what = NULL;
    va_list ap;

    va_start(ap, fmt);
    what = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    rd_where(r, where, sizeof(where), field);
    g_set_error(r->error, NC_ERROR, NC_ERROR_INVALID_DATA, "peer %s message: %s: %s", r->msg, where,
                what);
    return FALSE;
}

static gboolean rd_take(Reader *r, gsize n, const char *field, const guint8 **out)
{
    if (r->len - r->off < n)
        return rd_fail(r, field, "truncated (needs %zu bytes at offset %zu of a %zu-byte payload)",
                       n, r->off, r->len);
    *out = r->p + r->off;
    r->off += n;
    return TRUE;
}

static gboolean rd_u8(Reader *r, const char *field, guint8 *v)
{
    const guint8 *p = NULL;

    if (!rd_take(r, 1, field, &p))
        return FALSE;
    *v = p[0];
    return TRUE;
}

static gboolean rd_u16(Reader *r, const char *field, guint16 *v)
{
    const guint8 *p = NULL;

    if (!rd_take(r, 2, field, &p))
        return FALSE;
    *v = (guint16)(p[0] << 8 | p[1]);
    return TRUE;
}

static gboolean rd_u32(Reader *r, const char *field, guint32 *v)
{
    const guint8 *p = NULL;

    if (!rd_take(r, 4, field, &p))
        return FALSE;
    *v = (guint32)p[0] << 24 | (guint32)p[1] << 16 | (guint32)p[2] << 8 | p[3];
    return TRUE;
}

static gboolean rd_u64(Reader *r, const char *field, guint64 *v)
{
    guint32 hi, lo;

    if (!rd_u32(r, field, &hi) || !rd_u32(r, field, &lo))
        return FALSE;
    *v = (guint64)hi << 32 | lo;
    return TRUE;
}

static gboolean rd_str(Reader *r, const char *field, char **out)
{
    guint16 n;
    const guint8 *p = NULL;

    if (!rd_u16(r, field, &n) || !rd_take(r, n, field, &p))
        return FALSE;
    if (memchr(p, 0, n) || !g_utf8_validate((const char *)p, n, NULL))
        return rd_fail(r, field, "not UTF-8 text");
    *out = g_strndup((const char *)p, n);
    return TRUE;
}

static gboolean rd_family(Reader *r, guint8 *af, gsize *alen)
{
    guint8 fam;

    if (!rd_u8(r, "family", &fam))
        return FALSE;
    if (fam != 4 && fam != 6)
        return rd_fail(r, "family", "%u is neither 4 nor 6", fam);
    *af = fam == 4 ? AF_INET : AF_INET6;
    *alen = fam == 4 ? 4 : 16;
    return TRUE;
}

static gboolean rd_tuple(Reader *r, const char *prefix, guint8 af, gsize alen, NcCtTuple *t)
{
    const guint8 *p = NULL;

    r->prefix = prefix;
    if (!rd_take(r, alen, "src", &p))
        return FALSE;
    t->src.family = af;
    memcpy(t->src.bytes, p, alen);
    if (!rd_take(r, alen, "dst", &p))
        return FALSE;
    t->dst.family = af;
    memcpy(t->dst.bytes, p, alen);
    if (!rd_u8(r, "proto", &t->proto) || !rd_u16(r, "sport", &t->sport) ||
        !rd_u16(r, "dport", &t->dport) || !rd_u16(r, "icmp_id", &t->icmp_id) ||
        !rd_u8(r, "icmp_type", &t->icmp_type) || !rd_u8(r, "icmp_code", &t->icmp_code))
        return FALSE;
    r->prefix = "";
    return TRUE;
}

static gboolean rd_entry(Reader *r, NcCtEntry *e)
{
    guint8 af, flags;
    gsize alen;
    const guint8 *p = NULL;

    memset(e, 0, sizeof(*e));
    if (!rd_family(r, &af, &alen) || !rd_u8(r, "flags", &flags))
        return FALSE;
    if (flags & ~(ENTRY_FLAG_LABELS | ENTRY_FLAG_TCP))
        return rd_fail(r, "flags", "unknown bits 0x%02x", flags);
    if (!rd_u16(r, "zone", &e->zone) || !rd_tuple(r, "orig.", af, alen, &e->orig) ||
        !rd_tuple(r, "reply.", af, alen, &e->reply) || !rd_u32(r, "status", &e->status) ||
        !rd_u32(r, "timeout", &e->timeout) || !rd_u32(r, "mark", &e->mark))
        return FALSE;
    if (flags & ENTRY_FLAG_LABELS) {
        if (!rd_take(r, 16, "labels", &p))
            return FALSE;
        e->has_labels = TRUE;
        memcpy(e->labels, p, 16);
    }
    if (flags & ENTRY_FLAG_TCP) {
        if (!rd_u8(r, "tcp_state", &e->tcp_state) || !rd_u8(r, "tcp_wscale", &e->tcp_wscale[0]) ||
            !rd_u8(r, "tcp_wscale", &e->tcp_wscale[1]) ||
            !rd_u8(r, "tcp_flags", &e->tcp_flags[0]) || !rd_u8(r, "tcp_flags", &e->tcp_flags[1]))
            return FALSE;
        e->has_tcp = TRUE;
    }
    return TRUE;
}

static gboolean rd_key(Reader *r, NcCtKey *k)
{
    guint8 af, reserved;
    gsize alen;

    memset(k, 0, sizeof(*k));
    if (!rd_family(r, &af, &alen) || !rd_u8(r, "reserved", &reserved))
        return FALSE;
    if (reserved)
        return rd_fail(r, "reserved", "0x%02x is not 0", reserved);
    return rd_u16(r, "zone", &k->zone) && rd_tuple(r, "orig.", af, alen, &k->orig);
}

/* A timeline (SEAL, FINISHED): its count must fit in what is left, so a forged one never makes
 * the reader allocate more than the payload's size. @steps is never NULL afterwards. */
static gboolean rd_steps(Reader *r, NcPeerSealStep **steps, guint *n)
{
    guint16 n_steps;

    if (!rd_u16(r, "n_steps", &n_steps))
        return FALSE;
    if (n_steps > NC_PEER_SEAL_STEPS_MAX || (gsize)n_steps * STEP_SIZE > r->len - r->off)
        return rd_fail(r, "n_steps", "%u timeline steps cannot fit in %zu bytes", n_steps,
                       r->len - r->off);
    *n = n_steps;
    *steps = g_new0(NcPeerSealStep, n_steps ? n_steps : 1);
    for (guint i = 0; i < n_steps; i++) {
        NcPeerSealStep *st = &(*steps)[i];
        guint64 t;

        if (!rd_u8(r, "step phase", &st->phase) || !rd_u8(r, "step cause", &st->cause) ||
            !rd_u32(r, "step pass", &st->pass) || !rd_u64(r, "step time_us", &t))
            return FALSE;
        st->time_us = (gint64)t;
    }
    return TRUE;
}

/* A count of items of at least @min_size bytes each must fit in what is left, so a forged count
 * never makes the reader allocate more than the payload's size. */
static gboolean rd_count(Reader *r, const char *field, gsize min_size, guint32 *n)
{
    if (!rd_u32(r, field, n))
        return FALSE;
    if (*n > (r->len - r->off) / min_size)
        return rd_fail(r, field, "%u items cannot fit in the %zu bytes left", *n, r->len - r->off);
    return TRUE;
}

static gboolean rd_class(Reader *r, const char *field, char **out)
{
    if (!rd_str(r, field, out))
        return FALSE;
    if (!class_name_valid(*out))
        return rd_fail(r, field, "'%s' is not a class name (1-32 of a-z, 0-9, '-')", *out);
    return TRUE;
}

/* Version 4's per-class sums (put_sums()); a class named twice is an error. */
static gboolean rd_sums(Reader *r, gboolean digest, GArray **out)
{
    guint16 n;
    gsize min = 2 + 1 + 8 + (digest ? NC_PEER_DIGEST_SIZE : 0);

    if (!rd_u16(r, "n_classes", &n))
        return FALSE;
    if (n > NC_PEER_CLASSES_MAX)
        return rd_fail(r, "n_classes", "%u classes (at most %u)", n, NC_PEER_CLASSES_MAX);
    if ((gsize)n * min > r->len - r->off)
        return rd_fail(r, "n_classes", "%u classes cannot fit in %zu bytes", n, r->len - r->off);
    *out = nc_peer_class_sums_new();
    for (guint i = 0; i < n; i++) {
        NcPeerClassSum cs = {0};
        const guint8 *p = NULL;

        if (!rd_class(r, "class", &cs.klass)) {
            g_free(cs.klass);
            return FALSE;
        }
        if (nc_peer_class_sums_find(*out, cs.klass)) {
            rd_fail(r, "class", "%s listed twice", cs.klass);
            g_free(cs.klass);
            return FALSE;
        }
        g_array_append_val(*out, cs);
        if (!rd_u64(r, "class count", &g_array_index(*out, NcPeerClassSum, i).count))
            return FALSE;
        if (digest) {
            if (!rd_take(r, NC_PEER_DIGEST_SIZE, "class digest", &p))
                return FALSE;
            memcpy(g_array_index(*out, NcPeerClassSum, i).digest, p, NC_PEER_DIGEST_SIZE);
        }
    }
    return TRUE;
}

static gboolean rd_items(Reader *r, NcPeerItems *it)
{
    guint8 flags;
    guint32 n;
    guint16 nn;

    if (!rd_class(r, "class", &it->klass) || !rd_u8(r, "flags", &flags))
        return FALSE;
    if (flags & ~ITEMS_FLAG_REPLACE)
        return rd_fail(r, "flags", "unknown bits 0x%02x", flags);
    it->replace = (flags & ITEMS_FLAG_REPLACE) != 0;
    if (!rd_count(r, "n_items", 4, &n))
        return FALSE;
    r->item = "item";
    for (r->index = 0; r->index < n; r->index++) {
        guint32 len;
        const guint8 *p = NULL;

        if (!rd_u32(r, "length", &len) || !rd_take(r, len, "bytes", &p))
            return FALSE;
        if (!len)
            return rd_fail(r, "length", "an item of no bytes");
        g_ptr_array_add(it->items, g_bytes_new(p, len));
    }
    r->item = NULL;
    if (!rd_u16(r, "n_not_carried", &nn))
        return FALSE;
    if ((gsize)nn * 4 > r->len - r->off)
        return rd_fail(r, "n_not_carried", "%u entries cannot fit in %zu bytes", nn,
                       r->len - r->off);
    for (guint i = 0; i < nn; i++) {
        g_autofree char *what = NULL, *reason = NULL;

        if (!rd_str(r, "not_carried what", &what) || !rd_str(r, "not_carried reason", &reason))
            return FALSE;
        nc_not_carried_add(it->not_carried, it->klass, what, "%s", reason);
    }
    return TRUE;
}

/**
 * nc_peer_header_parse() - check a frame header
 * @header:      NC_PEER_PROTO_HEADER_SIZE bytes
 * @type:        (out): the message type
 * @payload_len: (out): the payload's length
 * @error:       NC_ERROR_INVALID_DATA for a bad magic, type, reserved field or length
 *
 * Return: TRUE if the payload may be read
 */
gboolean nc_peer_header_parse(const guint8 *header, NcPeerMsgType *type, guint32 *payload_len,
                              GError **error)
{
    Reader r = {.p = header,
                .len = NC_PEER_PROTO_HEADER_SIZE,
                .msg = "frame",
                .prefix = "",
                .error = error};
    guint32 magic = 0, len = 0;
    guint16 t = 0, reserved = 0;

    rd_u32(&r, "magic", &magic);
    if (magic != NC_PEER_PROTO_MAGIC)
        return rd_fail(&r, "magic",
                       "0x%08x is not netcarry's 0x%08x: the other side does not speak the "
                       "netcarry peer protocol",
                       magic, NC_PEER_PROTO_MAGIC);
    rd_u16(&r, "type", &t);
    if (t == 0 || t >= NC_PEER_MSG_LAST)
        return rd_fail(&r, "type", "%u is not a known message type", t);
    rd_u16(&r, "reserved", &reserved);
    if (reserved)
        return rd_fail(&r, "reserved", "0x%04x is not 0", reserved);
    rd_u32(&r, "length", &len);
    if (len > NC_PEER_PROTO_MAX_PAYLOAD)
        return rd_fail(&r, "length", "%u bytes exceed the limit of %u", len,
                       NC_PEER_PROTO_MAX_PAYLOAD);
    *type = t;
    *payload_len = len;
    return TRUE;
}

/**
 * nc_peer_msg_decode() - parse one payload
 * @type:    from the header
 * @payload: the bytes after the header
 * @len:     their number
 * @error:   NC_ERROR_INVALID_DATA naming the message, entry and field that is wrong
 *
 * Return: (transfer full): the message, or NULL
 */
NcPeerMsg *nc_peer_msg_decode(NcPeerMsgType type, const guint8 *payload, gsize len, GError **error)
{
    return nc_peer_msg_decode_version(NC_PEER_PROTO_VERSION, type, payload, len, error);
}

/**
 * nc_peer_msg_decode_version() - nc_peer_msg_decode() in a session of @version
 *
 * A HELLO is read whatever the session (it says its own version): a class list may follow the
 * secret when it says version 4 or newer. ITEMS before version 4 is an error; SEAL, ACK and
 * FINISHED carry their per-class sums from version 4 on.
 */
NcPeerMsg *nc_peer_msg_decode_version(guint32 version, NcPeerMsgType type, const guint8 *payload,
                                      gsize len, GError **error)
{
    g_autoptr(NcPeerMsg) msg = NULL;
    gboolean classes = version >= NC_PEER_PROTO_CLASSES_VERSION;
    Reader r = {.p = payload,
                .len = len,
                .msg = nc_peer_msg_type_to_string(type),
                .prefix = "",
                .error = error};

    if (type <= 0 || type >= NC_PEER_MSG_LAST) {
        g_set_error(error, NC_ERROR, NC_ERROR_INVALID_DATA, "peer message type %d is unknown",
                    type);
        return NULL;
    }
    msg = nc_peer_msg_new(type);
    switch (type) {
    case NC_PEER_MSG_HELLO:
        if (!rd_u32(&r, "version", &msg->hello.version) ||
            !rd_u32(&r, "compat_version", &msg->hello.compat_version) ||
            !rd_str(&r, "domain_uuid", &msg->hello.domain_uuid) ||
            !rd_str(&r, "host", &msg->hello.host))
            return NULL;
        if (r.off == len)
            msg->hello.secret = g_strdup(""); /* a version 2 HELLO: negotiation refuses it */
        else if (!rd_str(&r, "secret", &msg->hello.secret))
            return NULL;
        if (r.off < len && msg->hello.version >= NC_PEER_PROTO_CLASSES_VERSION) {
            guint16 n;
            g_autoptr(GStrvBuilder) sb = g_strv_builder_new();

            if (!rd_u16(&r, "n_classes", &n))
                return NULL;
            if (n > NC_PEER_CLASSES_MAX) {
                rd_fail(&r, "n_classes", "%u classes (at most %u)", n, NC_PEER_CLASSES_MAX);
                return NULL;
            }
            for (guint i = 0; i < n; i++) {
                g_autofree char *k = NULL;

                if (!rd_class(&r, "class", &k))
                    return NULL;
                g_strv_builder_add(sb, k);
            }
            msg->hello.classes = g_strv_builder_end(sb);
        }
        if (msg->hello.compat_version > msg->hello.version) {
            rd_fail(&r, "compat_version", "%u is newer than version %u", msg->hello.compat_version,
                    msg->hello.version);
            return NULL;
        }
        if (!g_uuid_string_is_valid(msg->hello.domain_uuid)) {
            rd_fail(&r, "domain_uuid", "'%s' is not a UUID", msg->hello.domain_uuid);
            return NULL;
        }
        if (!*msg->hello.host) {
            rd_fail(&r, "host", "empty");
            return NULL;
        }
        break;
    case NC_PEER_MSG_STATE: {
        guint32 nu, nd;

        if (!rd_u32(&r, "seq", &msg->state.seq) ||
            !rd_count(&r, "n_upserts", ENTRY_MIN_SIZE, &nu) ||
            !rd_count(&r, "n_deletes", KEY_MIN_SIZE, &nd))
            return NULL;
        if ((guint64)nu * ENTRY_MIN_SIZE + (guint64)nd * KEY_MIN_SIZE > len - r.off) {
            rd_fail(&r, "n_deletes", "%u upserts and %u deletions cannot fit in %zu bytes", nu, nd,
                    len - r.off);
            return NULL;
        }
        g_array_set_size(msg->state.upserts, nu);
        g_array_set_size(msg->state.deletes, nd);
        r.item = "upsert";
        for (r.index = 0; r.index < nu; r.index++)
            if (!rd_entry(&r, &g_array_index(msg->state.upserts, NcCtEntry, r.index)))
                return NULL;
        r.item = "delete";
        for (r.index = 0; r.index < nd; r.index++)
            if (!rd_key(&r, &g_array_index(msg->state.deletes, NcCtKey, r.index)))
                return NULL;
        r.item = NULL;
        break;
    }
    case NC_PEER_MSG_SEAL: {
        const guint8 *p = NULL;

        if (!rd_u32(&r, "chunks", &msg->seal.chunks) || !rd_u64(&r, "count", &msg->seal.count) ||
            !rd_take(&r, NC_PEER_DIGEST_SIZE, "digest", &p))
            return NULL;
        memcpy(msg->seal.digest, p, NC_PEER_DIGEST_SIZE);
        if (!rd_steps(&r, &msg->seal.steps, &msg->seal.n_steps))
            return NULL;
        if (classes && !rd_sums(&r, TRUE, &msg->seal.classes))
            return NULL;
        break;
    }
    case NC_PEER_MSG_ITEMS: {
        if (!classes) {
            g_set_error(error, NC_ERROR, NC_ERROR_INVALID_DATA,
                        "peer ITEMS message in a version %u session (it came in version %u)",
                        version, NC_PEER_PROTO_CLASSES_VERSION);
            return NULL;
        }
        if (!rd_items(&r, &msg->items))
            return NULL;
        break;
    }
    case NC_PEER_MSG_FINISHED: {
        guint8 outcome, flags;

        if (!rd_u8(&r, "outcome", &outcome) || !rd_u8(&r, "flags", &flags) ||
            !rd_u32(&r, "downtime_ms", &msg->finished.downtime_ms) ||
            !rd_u32(&r, "removed", &msg->finished.removed) ||
            !rd_u32(&r, "precopied", &msg->finished.precopied) ||
            !rd_u32(&r, "changed_at_stop", &msg->finished.changed_at_stop) ||
            !rd_steps(&r, &msg->finished.steps, &msg->finished.n_steps) ||
            !rd_str(&r, "reason", &msg->finished.reason))
            return NULL;
        if (classes && !rd_sums(&r, FALSE, &msg->finished.classes))
            return NULL;
        if (outcome >= NC_PEER_OUTCOME_LAST) {
            rd_fail(&r, "outcome", "%u is not a known outcome", outcome);
            return NULL;
        }
        if (flags & ~(FINISHED_FLAG_DOWNTIME | FINISHED_FLAG_REMOVED)) {
            rd_fail(&r, "flags", "unknown bits 0x%02x", flags);
            return NULL;
        }
        msg->finished.outcome = outcome;
        msg->finished.has_downtime = (flags & FINISHED_FLAG_DOWNTIME) != 0;
        msg->finished.has_removed = (flags & FINISHED_FLAG_REMOVED) != 0;
        break;
    }
    case NC_PEER_MSG_ACK: {
        guint8 result;

        if (!rd_u8(&r, "result", &result) || !rd_u64(&r, "installed", &msg->ack.installed) ||
            !rd_str(&r, "reason", &msg->ack.reason))
            return NULL;
        if (classes && !rd_sums(&r, FALSE, &msg->ack.classes))
            return NULL;
        if (result > 1) {
            rd_fail(&r, "result", "%u is neither 0 (installed) nor 1 (failed)", result);
            return NULL;
        }
        msg->ack.ok = result == 0;
        if (!msg->ack.ok && !*msg->ack.reason) {
            rd_fail(&r, "reason", "a failed ACK must say why");
            return NULL;
        }
        break;
    }
    case NC_PEER_MSG_ABORT: {
        guint16 code;

        if (!rd_u16(&r, "code", &code) || !rd_str(&r, "reason", &msg->abort.reason))
            return NULL;
        if (code == 0 || code >= NC_PEER_ABORT_LAST) {
            rd_fail(&r, "code", "%u is not a known abort code", code);
            return NULL;
        }
        msg->abort.code = code;
        break;
    }
    default:
        g_assert_not_reached();
    }
    if (r.off != len) {
        g_set_error(error, NC_ERROR, NC_ERROR_INVALID_DATA,
                    "peer %s message: %zu bytes after the last field", r.msg, len - r.off);
        return NULL;
    }
    return g_steal_pointer(&msg);
}

/**
 * nc_peer_frame_decode() - parse one whole frame (header and payload, nothing after it)
 * @frame: the bytes
 * @len:   their number
 * @error: NC_ERROR_INVALID_DATA naming what is wrong
 *
 * Return: (transfer full): the message, or NULL
 */
NcPeerMsg *nc_peer_frame_decode(const guint8 *frame, gsize len, GError **error)
{
    NcPeerMsgType type;
    guint32 plen;

    if (len < NC_PEER_PROTO_HEADER_SIZE) {
        g_set_error(error, NC_ERROR, NC_ERROR_INVALID_DATA,
                    "peer frame: header truncated (%zu of %u bytes)", len,
                    NC_PEER_PROTO_HEADER_SIZE);
        return NULL;
    }
    if (!nc_peer_header_parse(frame, &type, &plen, error))
        return NULL;
    if (plen != len - NC_PEER_PROTO_HEADER_SIZE) {
        g_set_error(error, NC_ERROR, NC_ERROR_INVALID_DATA,
                    "peer frame: field length says %u payload bytes, %zu are there", plen,
                    len - NC_PEER_PROTO_HEADER_SIZE);
        return NULL;
    }
    return nc_peer_msg_decode(type, frame + NC_PEER_PROTO_HEADER_SIZE, plen, error);
}

/**
 * nc_peer_secret_new() - a fresh rendezvous secret: 32 bytes from the kernel's CSPRNG, in hex
 *
 * Return: (transfer full): NC_PEER_SECRET_HEX_LEN lower-case hex digits
 */
char *nc_peer_secret_new(void)
{
    guint8 raw[NC_PEER_SECRET_HEX_LEN / 2];
    gsize got = 0;
    GString *hex = g_string_sized_new(NC_PEER_SECRET_HEX_LEN);

    /* getrandom() blocks only before the kernel's pool is seeded (early boot), never after */
    while (got < sizeof(raw)) {
        ssize_t n = getrandom(raw + got, sizeof(raw) - got, 0);

        if (n < 0 && errno == EINTR)
            continue;
        /* no randomness at all: nothing netcarry does is safe then */
        if (n <= 0)
            g_error("getrandom: %s", g_strerror(errno));
        got += (gsize)n;
    }
    for (gsize i = 0; i < sizeof(raw); i++)
        g_string_append_printf(hex, "%02x", raw[i]);
    explicit_bzero(raw, sizeof(raw));
    return g_string_free(hex, FALSE);
}

/**
 * nc_peer_secret_equal() - does @presented match @expected, in time independent of where they
 *                          differ (a timing oracle would let a requester guess it digit by digit)
 * @expected:  the secret this host published (NC_PEER_SECRET_HEX_LEN digits), or NULL: none
 * @presented: what the peer sent, or NULL
 *
 * Return: TRUE only if both are set, of the published length, and equal
 */
gboolean nc_peer_secret_equal(const char *expected, const char *presented)
{
    guint8 diff = 0;

    if (!expected || !presented || strlen(expected) != NC_PEER_SECRET_HEX_LEN ||
        strlen(presented) != NC_PEER_SECRET_HEX_LEN)
        return FALSE;
    for (gsize i = 0; i < NC_PEER_SECRET_HEX_LEN; i++)
        diff |= (guint8)(expected[i] ^ presented[i]);
    return diff == 0;
}

/**
 * nc_peer_hello_negotiate() - the version two sides will speak
 * @peer:              the other side's HELLO
 * @my_version:        the newest version this side speaks (NC_PEER_PROTO_VERSION)
 * @my_compat_version: the oldest (NC_PEER_PROTO_COMPAT_VERSION)
 * @session_version:   (out): the newest version both speak
 * @error:             NC_ERROR_UNSUPPORTED naming both ranges if they do not overlap
 *
 * Return: TRUE if the two can talk
 */
gboolean nc_peer_hello_negotiate(const NcPeerHello *peer, guint32 my_version,
                                 guint32 my_compat_version, guint32 *session_version,
                                 GError **error)
{
    if (peer->compat_version > my_version || peer->version < my_compat_version) {
        g_set_error(error, NC_ERROR, NC_ERROR_UNSUPPORTED,
                    "netcarryd on %s speaks peer protocol versions %u-%u, this host %u-%u: "
                    "install compatible netcarry versions on both hosts",
                    peer->host ? peer->host : "the peer", peer->compat_version, peer->version,
                    my_compat_version, my_version);
        return FALSE;
    }
    *session_version = MIN(peer->version, my_version);
    return TRUE;
}

/* ---- the receiver's set ---- */

/**
 * nc_peer_state_apply() - apply one STATE chunk to the receiver's set: its deletions, then its
 * upserts (create, or replace the entry with the same key); a deleted key that is not there is
 * no error (the entry may have expired on both sides)
 * @set:   the receiver's set, of nc_ct_class
 * @state: the chunk
 * @error: NC_ERROR_INVALID_ARG for an entry or key that cannot be encoded (never after decoding)
 *
 * Return: TRUE on success
 */
gboolean nc_peer_state_apply(NcItemSet *set, const NcPeerState *state, GError **error)
{
    for (guint i = 0; i < state->deletes->len; i++) {
        g_autoptr(GBytes) key =
            nc_peer_ct_key_canonical(&g_array_index(state->deletes, NcCtKey, i), error);

        if (!key)
            return FALSE;
        nc_item_set_remove_key(set, key, NULL);
    }
    for (guint i = 0; i < state->upserts->len; i++) {
        const NcCtEntry *e = &g_array_index(state->upserts, NcCtEntry, i);

        if (!nc_item_set_upsert_copy(set, e, NULL, error))
            return FALSE;
    }
    return TRUE;
}

/**
 * nc_peer_seal_check() - whether the receiver's set is exactly what the source sealed
 * @set:         the receiver's set after every chunk
 * @seal:        the source's seal
 * @chunks_seen: STATE chunks received on this connection
 * @error:       NC_ERROR_INVALID_DATA saying what differs (chunks, count or digest)
 *
 * Return: TRUE if chunks, count and digest all match
 */
gboolean nc_peer_seal_check(const NcItemSet *set, const NcPeerSeal *seal, guint32 chunks_seen,
                            GError **error)
{
    NcDigest theirs;

    if (seal->chunks != chunks_seen) {
        g_set_error(error, NC_ERROR, NC_ERROR_INVALID_DATA,
                    "seal: the source sent %u state chunks, %u arrived", seal->chunks, chunks_seen);
        return FALSE;
    }
    memcpy(theirs.sum, seal->digest, NC_DIGEST_SIZE);
    return nc_item_set_check_seal(set, seal->count, &theirs, error);
}
