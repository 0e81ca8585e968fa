/* nc-carry.c - the carry engine: one migration's state moved from the source host's conntrack to
 * the destination's, over the peer link, behind the gate
 *
 * Theory of operation
 * ===================
 * One engine per netcarryd. It knows the domains that run here (nc_carry_engine_add_local()) and
 * keeps one carry record per (domain, side) while a migration is under way.
 *
 * Who dials whom. The destination learns from the domain XML at `migrate begin` where the
 * source's netcarryd listens (the profile's rendezvous, published by the source), so the
 * destination dials: state is only ever accepted on a link the destination opened, for a domain
 * it admitted, to that domain's rendezvous. The peer link (nc-peer.c) is built the other way
 * round (its TLS server receives state), so the roles are decoupled from the TCP direction:
 *   1. destination -> source, plain TCP: a 64-byte rendezvous request
 *      "NETCARRY-RV 1 <domain uuid>" (space padded). The UUID travels in the clear: it only says
 *      which domain's state to send, and everything after it is authenticated.
 *   2. source -> destination: a 64-byte answer, "OK" to every well-formed request, whether the
 *      domain runs here or not and whatever is under way: before authentication a requester
 *      learns nothing, and reserves nothing.
 *   3. TLS over the same connection: the destination is the TLS *server*
 *      (nc_peer_server_adopt(): its server certificate, the source's client certificate
 *      required); the source is the TLS *client* (nc_peer_client_connect_stream_async(); it
 *      checks that the destination's certificate chains to the CA and is not revoked). The source
 *      sends HELLO; the destination accepts it only for the domain it asked for and only if the
 *      certificate's CN is the rendezvous identity, and answers with its HELLO, which carries the
 *      rendezvous secret from the domain XML libvirt gave its `migrate begin` hook.
 *   4. The source serves the request only if (a) the secret is the one it published for this
 *      domain (compared in constant time; an unknown domain and a wrong secret get the same
 *      refusal), and (b) libvirt has an outgoing migration job for the domain (job_func). Else it
 *      sends ABORT refused and closes; nothing of the domain's state has left. Only now does a
 *      carry exist: a newer authenticated request for the domain replaces an older one (its
 *      link is closed), so a stale or stolen link cannot hold a migration back. The first STATE
 *      chunk tells the destination it was accepted; the source sends its first copy of the
 *      domain's entries and then an empty chunk, which ends the destination's admission (a
 *      refusal, or a failure before it, reaches virsh as the migration's refusal).
 *   Requesters that have not passed (a) are bounded: at most NC_CARRY_UNAUTH_MAX at once
 *   (NC_CARRY_UNAUTH_PER_ADDRESS per address; at the limit the oldest is dropped for the newer
 *   one), each with authenticate_timeout_ms from its TCP accept to its HELLO. Every refusal is
 *   logged with the requester's address, certificate subject when known, and why, and counted
 *   by reason for `netcarry status`.
 *   4. STATE chunks source -> destination, SEAL (with the source's timeline), ACK, and (peer
 *      protocol version 2) FINISHED when the source's migration has ended.
 *
 * Destination. admit() checks the kernel (ctnetlink usable, conntrack table below 90 % full,
 * nf_conntrack_events not 0), then dials within the connect timeout, and is TRUE once the
 * source accepted and its first copy is installed, or the admission's bound ran out with the
 * source accepted (it iterates the thread-default main context meanwhile, every step bounded;
 * the caller is a hook request that waits for the answer anyway: the wait delays the
 * migration's start, never its downtime, and leaves only changes for the stop). Each STATE chunk is
 * checked first: every upsert must belong to the addresses the DESTINATION derived from the
 * domain XML (nc_ct_entry_belongs_to()), never the source's claim; one foreign entry aborts the
 * carry (ABORT refused), nothing more is installed, and what was installed is removed. Otherwise
 * deletions and replaced entries are deleted first (an upsert of a present entry is delete +
 * create: the kernel's update cannot change NAT or clear status bits), then the upserts are
 * installed in one batch; keys of what this carry installed are kept for roll-back. Timeouts are
 * installed as captured plus NC_CARRY_TIMEOUT_MARGIN_S, capped at this kernel's own timeout for
 * the entry's state (installed_timeout()): a copied timeout is a lower bound
 * (traffic that refreshes a timeout makes no event). The SEAL is checked against the
 * destination's own copy (nc_peer_set_check_seal()); then INSTALLED is fed to the phase tracker,
 * the gate opens (its held counters go to the report), in gate mode "suspend" resume_func runs,
 * and the ACK goes back. Waits: the source must send something at least every idle_ms (it sends
 * an empty chunk once idle_ms/4 passed without one), and once the guest resumed here the SEAL must arrive within
 * seal_timeout_ms. A link lost, a wait exceeded or an entry refused before the seal ends the carry
 * (dest_give_up()): under admission = refuse, while the guest has not resumed here, the engine
 * makes the migration fail (fail_func: netcarryd destroys the incoming domain) and removes what it
 * installed, so no migration completes without its state and the guest stays on the source with
 * its connections; under proceed, or once the guest runs here, it keeps what it installed (the
 * domain's own entries, nearly current), opens the gate, and the report says what may be
 * missing. An untrusted source (a foreign entry) loses what it installed either way. Giving up
 * is no phase (NC_EV_CARRY_ABANDONED): libvirt's events still end the migration, so the domain
 * is taken up wherever it runs afterwards. On finished(): COMPLETED builds the report once the
 * source's FINISHED is there (below); FAILED/CANCELLED close the link, remove every entry this
 * carry installed (kept ones too) and the gate, and report at once.
 *
 * Source. A request is served only for a domain added with add_local(), under the checks of step 4.
 * While it sends pre-copy, it asks job_func again every NC_CARRY_JOB_POLL_MS, and stops (ABORT
 * cancelled, no more state) once libvirt has no outgoing migration job for the domain. Once
 * served, a follower (nc-ct-events) for the domain's addresses is started; its first (resync) set
 * goes out, then its change sets as they come. The source keeps the set it has sent and its
 * digest incrementally (so the seal is O(1) at the stop); a resync is turned into deletions of
 * what the destination holds and is no longer there, plus upserts. At source_stopped() the
 * follower is flushed (bounded by NC_CARRY_FLUSH_MS), the last changes are sent, then the SEAL
 * with this host's timeline; the ACK must come within seal_timeout_ms. On finished(COMPLETED)
 * the domain's entries here are removed if cleanup_source. The source never changes its kernel
 * otherwise, so failure needs no roll-back there. A carry that fails before this host's stop
 * (the link lost, the destination's ABORT, the follower) makes the migration fail under
 * admission = refuse (fail_func: netcarryd aborts libvirt's outgoing job); the end of libvirt's
 * job itself, or a newer request that replaced the carry, does not.
 *
 * The source's end, in the destination's report. The SEAL leaves at the source's STOP, but the
 * source's libvirt says "completed" only ~2 s after the destination's resume
 * (docs/libvirt-migration.md: the stopped hook, Stopped/Migrated and job-completed with the
 * downtime come last), and the clean-up runs after that. So after a good ACK the source keeps the
 * link, and at finished() it runs its clean-up, waits at most NC_CARRY_DOWNTIME_WAIT_MS for
 * job-completed's downtime in the phase tracker (it usually comes some 30-90 ms after the stopped
 * hook that completes the source), and sends FINISHED: outcome, its whole timeline (completed step
 * included), libvirt's downtime, entries removed. The destination, at its own finished(COMPLETED),
 * stores the report once FINISHED is there, or when the link ends without it, or after
 * finish_wait_ms; the report then says in its reason that the source's end is unknown (the
 * migration is not failed for that). A source speaking peer protocol version 1 closes at the ACK:
 * its end is unknown at once.
 *
 * The nf_conntrack_events blind spot (nc-ct-events.c): with the default value 2, an entry created
 * while no ctnetlink listener existed never sends events, not even DESTROY. The engine does not
 * change the sysctl (it is the host's, and 1 costs every connection an event extension); it keeps
 * one listener subscribed in its namespace from start-up (a netlink socket with a drop-all BPF
 * filter: it costs nothing but makes the kernel attach the extension). Entries created before
 * netcarryd started remain blind: they are carried by the resync but a later change of theirs is
 * missed until the next resync. The destination's admission refuses nf_conntrack_events=0.
 *
 * Logs (G_LOG_DOMAIN "nc-carry") name the domain UUID, the side and the phase in every message.
 */
#define G_LOG_DOMAIN "nc-carry"

#include <errno.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gio/gio.h>
#include <linux/filter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_conntrack_tcp.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>

#include "conf/nc-ct-diff.h"
#include "drivers/nc-ct-events.h"
#include "drivers/nc-ct.h"
#include "drivers/nc-gate.h"
#include "nc-carry.h"
#include "nc-carry-classes.h"
#include "nc-peer.h"
#include "util/nc-error.h"
#include "util/nc-netns.h"

#define NC_CARRY_RV_SIZE 64
#define NC_CARRY_RV_MAGIC "NETCARRY-RV 1 "
/* added to a carried entry's timeout: the copy is a lower bound */
#define NC_CARRY_TIMEOUT_MARGIN_S 30
/* bound on the follower's flush at the source's stop */
#define NC_CARRY_FLUSH_MS 50
/* admission refuses above this fill of the conntrack table, in percent */
#define NC_CARRY_TABLE_FULL_PCT 90
/* source: the longest wait, after its finished(), for libvirt's downtime (job-completed) */
#define NC_CARRY_DOWNTIME_WAIT_MS 1000
#define NC_CARRY_DOWNTIME_POLL_MS 10
/* destination: the default longest wait, after its finished(COMPLETED), for the source's
 * FINISHED. The source completes ~2 s after the destination (docs/libvirt-migration.md), then waits
 * up to NC_CARRY_DOWNTIME_WAIT_MS; 10 s leaves room for a loaded host. No config key fits: the
 * [timeouts] ones bound steps of the carry itself, and this wait delays only the report. */
#define NC_CARRY_FINISH_WAIT_MS 10000
/* ended carries kept for nc_carry_engine_status() */
#define NC_CARRY_ENDED_MAX 16
/* requesters that have not proved the rendezvous secret yet, at once: in all, and per address
 * (one address cannot take every place; at the limit the oldest is dropped, so a flood must
 * outpace a real destination's ~20 ms handshake to keep it out) */
#define NC_CARRY_UNAUTH_MAX 16
#define NC_CARRY_UNAUTH_PER_ADDRESS 4
/* source: the longest a change waits during pre-copy to be sent with the next ones */
#define NC_CARRY_COALESCE_MS 10
/* source: how often libvirt is asked again during pre-copy whether the job is still there */
#define NC_CARRY_JOB_POLL_MS 1000

/**
 * NcCarryRefusal - why a requester (or, on the destination, a source) was refused; counted
 */
typedef enum {
    NC_REFUSAL_MALFORMED,     /* not a rendezvous request */
    NC_REFUSAL_LIMIT,         /* too many unauthenticated requesters */
    NC_REFUSAL_TIMEOUT,       /* no TLS + HELLO within authenticate_timeout_ms */
    NC_REFUSAL_TLS,           /* handshake failed: no, untrusted, revoked certificate; bad HELLO */
    NC_REFUSAL_SECRET,        /* no valid rendezvous secret for the domain (or no such domain) */
    NC_REFUSAL_NOT_MIGRATING, /* libvirt has no outgoing migration job for the domain */
    NC_REFUSAL_IDENTITY,      /* destination: the source's certificate is not the rendezvous's */
    NC_REFUSAL_LAST
} NcCarryRefusal;

static const char *const refusal_names[] = {"malformed", "limit",         "timeout", "tls",
                                            "secret",    "not-migrating", "identity"};
G_STATIC_ASSERT(G_N_ELEMENTS(refusal_names) == NC_REFUSAL_LAST);

typedef enum {
    CARRY_CONNECTING, /* destination: dialling, rendezvous, TLS, HELLO */
    CARRY_PRECOPY,    /* link up, state flowing */
    CARRY_SEALING,    /* source: SEAL sent, waiting for the ACK */
    CARRY_INSTALLED,  /* destination: sealed state installed; source: ACK received */
    CARRY_ENDED,      /* finished or failed; nothing more happens */
} CarryState;

static const char *const carry_state_names[] = {"connecting", "pre-copy", "sealing", "installed",
                                                "ended"};
G_STATIC_ASSERT(G_N_ELEMENTS(carry_state_names) == CARRY_ENDED + 1);

typedef struct _Local {
    char *uuid;
    char *name;
    NcCtSelector sel; /* addresses owned */
    NcOwner *owner;   /* what else is the domain's (MACs, the profile's objects) */
} Local;

/* the destination's own timeouts, per protocol and state (-1: unknown): a carried entry's margin
 * never takes it past them */
typedef struct {
    gint64 tcp[TCP_CONNTRACK_TIMEOUT_MAX];
    gint64 udp, udp_stream, icmp, icmpv6, generic;
} CtTimeouts;

typedef struct _Carry Carry;

struct NcCarryEngine {
    NcCarryOptions opt;
    char *netns;
    char *host_name;
    guint idle_ms;
    GSocketService *service;
    guint16 port;
    int sentinel_fd;
    GHashTable *locals;  /* uuid -> Local */
    GHashTable *secrets; /* uuid -> the rendezvous secret libvirt's live metadata holds */
    GHashTable *pending; /* uuid -> a fresh secret on its way into the metadata (not yet known) */
    GHashTable *carries; /* "s:uuid" / "d:uuid" -> Carry */
    GQueue requesters;   /* Requester*: accepted, not yet served or refused; oldest first */
    guint refused[NC_REFUSAL_LAST];
    guint finish_wait_ms;
    GQueue ended; /* char *, status lines of ended carries */
};

struct _Carry {
    NcCarryEngine *e;
    NcSide side;
    char *uuid;
    char *name;
    CarryState state;
    char *failure;      /* why it ended badly, or NULL */
    guint refs;         /* the table's (until forgotten) and a waiting admission's */
    gboolean forgotten; /* out of the engine's table: a newer carry may hold its key */

    /* both: counts for the report and status */
    guint32 precopied, changed_at_stop, installed_n, failed_n, removed_at_source;
    NcCarryClasses *classes; /* the classes beside conntrack (nc-carry-classes.h) */
    GArray *classes_removed; /* source: NcPeerClassSum, what its clean-up removed */

    /* destination */
    NcCtSelector sel; /* the domain's entries (destination: from the XML here; source: a copy) */
    NcRendezvous *rv;
    char *tap;
    gboolean gate_closed;
    guint gate_timer; /* renews the gate (every lapse/3) while the carry lives */
    gboolean admitted, admit_done, risk;
    gboolean first_copy; /* the first empty chunk came: the source's first copy is all here */
    CtTimeouts timeouts; /* this kernel's, read at admission */
    gboolean admitting;  /* admit() waits for the first copy: a failure now refuses */
    GError *admit_error;
    GSocket *dial_socket;
    GSource *dial_source;
    GSocketConnection *conn;
    guint8 rvbuf[NC_CARRY_RV_SIZE];
    GCancellable *io_cancel;
    guint io_timer;
    NcPeerServer *server;
    NcPeerSet *set;
    GHashTable *installed;      /* GBytes key -> NcCtEntry* as installed */
    GPtrArray *report_failures; /* "entry\treason" */
    NcPeerSealStep *source_steps;
    guint n_source_steps;
    gint64 resumed_us, installed_us, gate_opened_us;
    guint64 held_packets;
    guint seal_timer;
    gboolean reported;
    NcPeerFinished *source_end; /* the source's FINISHED, or NULL */
    char *source_lost;          /* why FINISHED will not come, or NULL */
    gboolean awaiting_source;   /* completed here; the report waits for the source's end */
    guint finish_timer;

    /* source */
    NcPeerClient *client;
    NcCtFollower *follower;
    NcCt *ct;         /* destination: the kernel's table here, opened at the first install */
    GHashTable *sent; /* GBytes key -> NcCtEntry*: the destination's copy as sent */
    NcPeerDigest digest;
    guint keepalive;
    guint pump_timer; /* pre-copy: the pending changes go out when it fires */
    gint64 last_send_us;
    gboolean stopped;
    gint64 stopped_us;
    GCancellable *seal_cancel;
    gboolean acked;        /* the destination installed: FINISHED goes at finished() */
    NcPeerOutcome outcome; /* as finished() was told */
    char *outcome_reason;
    gboolean cleanup_ran;
    guint downtime_timer; /* polling the tracker for libvirt's downtime */
    gint64 downtime_deadline_us;
    guint job_timer;          /* asking libvirt again whether the outgoing job is still there */
    gboolean replaced;        /* a newer authenticated request for the domain took over */
    GCancellable *job_cancel; /* the question under way */
};

/* ---- logging: every line names the domain, the side and the phase ---- */

static const char *carry_phase(Carry *c)
{
    if (!c->e->opt.phases)
        return carry_state_names[c->state];
    return nc_phase_to_string(nc_phase_tracker_current(c->e->opt.phases, c->uuid, c->side, NULL));
}

#define CLOG(level, c, fmt, ...)                                                                   \
    g_log(G_LOG_DOMAIN, level, "domain %s (%s, phase %s): " fmt, (c)->uuid,                        \
          nc_side_to_string((c)->side), carry_phase(c), ##__VA_ARGS__)

static void feed(Carry *c, NcPhaseInput type, gint64 time_us, const char *reason)
{
    NcPhaseEvent ev = {.type = type,
                       .side = c->side,
                       .domain = c->uuid,
                       .time_us = time_us ? time_us : g_get_real_time(),
                       .downtime_ms = -1,
                       .reason = reason};

    if (c->e->opt.phases)
        nc_phase_tracker_feed(c->e->opt.phases, &ev);
}

/* Count and log one refusal: who asked (address, certificate subject), for what, and why. */
static void log_refusal(NcCarryEngine *e, NcCarryRefusal why, const char *remote,
                        const char *subject, const char *uuid, const char *detail)
{
    e->refused[why]++;
    g_message("domain %s (%s, phase none): refused %s%s%s%s: %s (%s)", uuid ? uuid : "(none)",
              why == NC_REFUSAL_IDENTITY ? "destination" : "source", remote ? remote : "(unknown)",
              subject ? " (certificate subject " : "", subject ? subject : "", subject ? ")" : "",
              detail, refusal_names[why]);
}

/* ---- small helpers ---- */

/* "192.0.2.1:5000", "[2001:db8::1]:5000", or without the port. (transfer full) */
static char *describe_socket_address(GSocketAddress *addr, gboolean with_port)
{
    GInetSocketAddress *in;
    g_autofree char *ip = NULL;

    if (!G_IS_INET_SOCKET_ADDRESS(addr))
        return g_strdup("(unknown)");
    in = G_INET_SOCKET_ADDRESS(addr);
    ip = g_inet_address_to_string(g_inet_socket_address_get_address(in));
    if (!with_port)
        return g_steal_pointer(&ip);
    return strchr(ip, ':') ? g_strdup_printf("[%s]:%u", ip, g_inet_socket_address_get_port(in))
                           : g_strdup_printf("%s:%u", ip, g_inet_socket_address_get_port(in));
}

static void selector_clear(NcCtSelector *sel)
{
    g_clear_pointer(&sel->addresses, g_array_unref);
}

static void selector_copy(NcCtSelector *to, const NcCtSelector *from)
{
    *to = *from;
    to->addresses = g_array_ref(from->addresses);
}

static void selector_from_domain(NcCtSelector *sel, const NcDomain *domain, GArray *addresses)
{
    sel->addresses = addresses;
    if (domain->profile) {
        sel->has_zone = domain->profile->has_zone;
        sel->zone = domain->profile->zone;
        sel->has_mark = domain->profile->has_mark;
        sel->mark = domain->profile->mark;
    }
}

static GBytes *entry_key(const NcCtEntry *entry)
{
    NcPeerCtKey key;

    memset(&key, 0, sizeof(key));
    nc_peer_ct_key_of(entry, &key);
    return nc_peer_ct_key_canonical(&key, NULL);
}

static GBytes *key_bytes(const NcPeerCtKey *key)
{
    return nc_peer_ct_key_canonical(key, NULL);
}

static GHashTable *entry_table_new(void)
{
    return g_hash_table_new_full(g_bytes_hash, g_bytes_equal, (GDestroyNotify)g_bytes_unref,
                                 g_free);
}

static char *carry_key(NcSide side, const char *uuid)
{
    return g_strdup_printf("%c:%s", side == NC_SIDE_SOURCE ? 's' : 'd', uuid);
}

static Carry *carry_lookup(NcCarryEngine *e, NcSide side, const char *uuid)
{
    g_autofree char *key = carry_key(side, uuid);

    return g_hash_table_lookup(e->carries, key);
}

/* Cancels what @cancel guards and forgets it. */
static void cancel_clear(GCancellable **cancel)
{
    if (*cancel)
        g_cancellable_cancel(*cancel);
    g_clear_object(cancel);
}

static void carry_stop_io(Carry *c)
{
    g_clear_handle_id(&c->io_timer, g_source_remove);
    cancel_clear(&c->io_cancel);
    if (c->dial_source) {
        g_source_destroy(c->dial_source);
        g_clear_pointer(&c->dial_source, g_source_unref);
    }
    g_clear_handle_id(&c->seal_timer, g_source_remove);
    g_clear_handle_id(&c->keepalive, g_source_remove);
    g_clear_handle_id(&c->pump_timer, g_source_remove);
    cancel_clear(&c->seal_cancel);
    g_clear_handle_id(&c->finish_timer, g_source_remove);
    g_clear_handle_id(&c->downtime_timer, g_source_remove);
    g_clear_handle_id(&c->job_timer, g_source_remove);
    cancel_clear(&c->job_cancel);
    g_clear_handle_id(&c->gate_timer, g_source_remove); /* an ended carry's gate may lapse */
}

static void finished_free(NcPeerFinished *f)
{
    if (!f)
        return;
    g_free(f->steps);
    g_free(f->reason);
    g_free(f);
}

static void carry_free(Carry *c)
{
    carry_stop_io(c);
    g_clear_pointer(&c->follower, nc_ct_follower_free);
    g_clear_pointer(&c->ct, nc_ct_close);
    g_clear_pointer(&c->client, nc_peer_client_free);
    g_clear_pointer(&c->server, nc_peer_server_free);
    g_clear_object(&c->conn);
    g_clear_object(&c->dial_socket);
    g_clear_pointer(&c->set, nc_peer_set_free);
    g_clear_pointer(&c->installed, g_hash_table_unref);
    g_clear_pointer(&c->classes, nc_carry_classes_free);
    g_clear_pointer(&c->classes_removed, g_array_unref);
    g_clear_pointer(&c->sent, g_hash_table_unref);
    g_clear_pointer(&c->report_failures, g_ptr_array_unref);
    g_clear_pointer(&c->rv, nc_rendezvous_free);
    g_clear_error(&c->admit_error);
    selector_clear(&c->sel);
    g_free(c->source_steps);
    finished_free(c->source_end);
    g_free(c->source_lost);
    g_free(c->outcome_reason);
    g_free(c->tap);
    g_free(c->failure);
    g_free(c->uuid);
    g_free(c->name);
    g_free(c);
}

static char *carry_status_line(Carry *c)
{
    return g_strdup_printf("%s %s %s %s precopied=%u at-stop=%u installed=%u failed=%u%s%s",
                           c->uuid, c->name ? c->name : "-", nc_side_to_string(c->side),
                           carry_phase(c), c->precopied, c->changed_at_stop, c->installed_n,
                           c->failed_n, c->failure ? " reason=" : "", c->failure ? c->failure : "");
}

static void carry_unref(Carry *c)
{
    if (--c->refs == 0)
        carry_free(c);
}

/* Drop the table's reference (from an idle: callbacks of its link may be on the stack). */
static gboolean carry_free_idle(gpointer data)
{
    carry_unref(data);
    return G_SOURCE_REMOVE;
}

static void dest_remove_gate(Carry *c, const char *what);

static void carry_forget(Carry *c)
{
    g_autofree char *key = carry_key(c->side, c->uuid);

    if (c->forgotten)
        return;
    c->forgotten = TRUE;
    g_queue_push_tail(&c->e->ended, carry_status_line(c));
    while (g_queue_get_length(&c->e->ended) > NC_CARRY_ENDED_MAX)
        g_free(g_queue_pop_head(&c->e->ended));
    g_hash_table_remove(c->e->carries, key); /* frees the table's copy of the key, not @c */
    carry_stop_io(c);
    if (c->side == NC_SIDE_DESTINATION)
        dest_remove_gate(c, "removing"); /* a gate never outlives its carry */
    g_idle_add(carry_free_idle, c);
}

static void carry_settle(Carry *c);

static Carry *carry_new(NcCarryEngine *e, NcSide side, const char *uuid, const char *name)
{
    Carry *c = g_new0(Carry, 1);
    Carry *old = carry_lookup(e, side, uuid);

    if (old) {
        CLOG(G_LOG_LEVEL_INFO, old, "a new migration replaces this carry");
        carry_settle(old);
        old->state = CARRY_ENDED;
        carry_forget(old);
    }
    c->e = e;
    c->side = side;
    c->uuid = g_strdup(uuid);
    c->name = g_strdup(name);
    c->refs = 1;
    c->report_failures = g_ptr_array_new_with_free_func(g_free);
    g_hash_table_insert(e->carries, carry_key(side, uuid), c);
    return c;
}

/* ---- kernel facts for admission (read inside the namespace, on a worker thread) ---- */

typedef struct {
    const char *netns;
    gint64 count, max, events;
    CtTimeouts timeouts;
    GError *error;
} KernelFacts;

static gint64 read_sysctl(const char *path)
{
    g_autofree char *text = NULL;

    if (!g_file_get_contents(path, &text, NULL, NULL))
        return -1;
    return g_ascii_strtoll(text, NULL, 10);
}

static gpointer kernel_facts_thread(gpointer data, GError *entered)
{
    KernelFacts *k = data;

    if ((k->error = entered))
        return NULL;
    k->count = read_sysctl("/proc/sys/net/netfilter/nf_conntrack_count");
    k->max = read_sysctl("/proc/sys/net/netfilter/nf_conntrack_max");
    k->events = read_sysctl("/proc/sys/net/netfilter/nf_conntrack_events");
    for (guint i = 0; i < G_N_ELEMENTS(k->timeouts.tcp); i++) {
        static const char *const names[TCP_CONNTRACK_TIMEOUT_MAX] = {
            [TCP_CONNTRACK_SYN_SENT] = "syn_sent",     [TCP_CONNTRACK_SYN_RECV] = "syn_recv",
            [TCP_CONNTRACK_ESTABLISHED] = "established", [TCP_CONNTRACK_FIN_WAIT] = "fin_wait",
            [TCP_CONNTRACK_CLOSE_WAIT] = "close_wait", [TCP_CONNTRACK_LAST_ACK] = "last_ack",
            [TCP_CONNTRACK_TIME_WAIT] = "time_wait",   [TCP_CONNTRACK_CLOSE] = "close",
            [TCP_CONNTRACK_SYN_SENT2] = "syn_sent",
        };
        g_autofree char *path =
            names[i] ? g_strdup_printf("/proc/sys/net/netfilter/nf_conntrack_tcp_timeout_%s",
                                       names[i])
                     : NULL;

        k->timeouts.tcp[i] = path ? read_sysctl(path) : -1;
    }
    k->timeouts.udp = read_sysctl("/proc/sys/net/netfilter/nf_conntrack_udp_timeout");
    k->timeouts.udp_stream = read_sysctl("/proc/sys/net/netfilter/nf_conntrack_udp_timeout_stream");
    k->timeouts.icmp = read_sysctl("/proc/sys/net/netfilter/nf_conntrack_icmp_timeout");
    k->timeouts.icmpv6 = read_sysctl("/proc/sys/net/netfilter/nf_conntrack_icmpv6_timeout");
    k->timeouts.generic = read_sysctl("/proc/sys/net/netfilter/nf_conntrack_generic_timeout");
    return NULL;
}

/* The timeout a carried entry gets here: as captured plus NC_CARRY_TIMEOUT_MARGIN_S (traffic that
 * refreshes a timeout makes no event, so the copy is a lower bound), but not past this kernel's
 * own timeout for the entry's state (a closed connection's TIME_WAIT entry would otherwise gain
 * the margin at every migration and outlive the 4-tuple's reuse), and never below the copy. */
static guint32 installed_timeout(const CtTimeouts *t, const NcCtEntry *en)
{
    gint64 cap = -1, want = (gint64)en->timeout + NC_CARRY_TIMEOUT_MARGIN_S;

    switch (en->orig.proto) {
    case IPPROTO_TCP:
        if (en->has_tcp && en->tcp_state < G_N_ELEMENTS(t->tcp))
            cap = t->tcp[en->tcp_state];
        break;
    case IPPROTO_UDP:
        cap = (en->status & IPS_ASSURED) ? t->udp_stream : t->udp;
        break;
    case IPPROTO_ICMP:
        cap = t->icmp;
        break;
    case IPPROTO_ICMPV6:
        cap = t->icmpv6;
        break;
    default:
        cap = t->generic;
        break;
    }
    if (cap > 0 && want > cap)
        want = MAX(cap, (gint64)en->timeout);
    return (guint32)MIN(want, (gint64)G_MAXUINT32);
}

static gboolean check_kernel(NcCarryEngine *e, CtTimeouts *timeouts, GError **error)
{
    KernelFacts k = {.netns = e->netns, .count = -1, .max = -1, .events = -1};
    g_autoptr(NcCt) ct = NULL;
    g_autoptr(GError) err = NULL;
    GThread *t;

    ct = nc_ct_open(e->netns, &err);
    if (!ct) {
        g_set_error(error, NC_ERROR, NC_ERROR_UNSUPPORTED, "ctnetlink is not usable here: %s",
                    err->message);
        return FALSE;
    }
    t = nc_netns_thread_new("nc-carry-sysctl", k.netns, kernel_facts_thread, &k, error);
    if (!t)
        return FALSE;
    g_thread_join(t);
    if (k.error) {
        g_propagate_error(error, k.error);
        return FALSE;
    }
    if (k.count < 0 || k.max <= 0) {
        g_set_error(error, NC_ERROR, NC_ERROR_UNSUPPORTED,
                    "conntrack is not loaded here (no net.netfilter.nf_conntrack_count): load "
                    "nf_conntrack");
        return FALSE;
    }
    if (k.count * 100 > k.max * NC_CARRY_TABLE_FULL_PCT) {
        g_set_error(error, NC_ERROR, NC_ERROR_UNSUPPORTED,
                    "the conntrack table is %" G_GINT64_FORMAT " of %" G_GINT64_FORMAT
                    " full (above %d %%): raise net.netfilter.nf_conntrack_max",
                    k.count, k.max, NC_CARRY_TABLE_FULL_PCT);
        return FALSE;
    }
    if (k.events == 0) {
        g_set_error(error, NC_ERROR, NC_ERROR_UNSUPPORTED,
                    "conntrack events are off (net.netfilter.nf_conntrack_events=0): set it to 1 "
                    "or 2");
        return FALSE;
    }
    *timeouts = k.timeouts;
    return TRUE;
}

/* ---- destination: install, roll back, report ---- */

/* Delete every entry this carry installed. */
/* The destination's conntrack handle, opened once per carry (not per STATE chunk: the last
 * chunk and the seal are in the guest's downtime). */
static NcCt *dest_ct(Carry *c, GError **error)
{
    if (!c->ct)
        c->ct = nc_ct_open(c->e->netns, error);
    return c->ct;
}

static void dest_rollback(Carry *c)
{
    g_autoptr(GArray) all = g_array_new(FALSE, FALSE, sizeof(NcCtEntry));
    NcCt *ct;
    g_autoptr(GError) err = NULL;
    GHashTableIter it;
    gpointer v;
    guint removed = 0;

    if (c->installed && g_hash_table_size(c->installed)) {
        g_hash_table_iter_init(&it, c->installed);
        while (g_hash_table_iter_next(&it, NULL, &v))
            g_array_append_vals(all, v, 1);
        ct = dest_ct(c, &err);
        if (!ct || !nc_ct_delete(ct, (NcCtEntry *)all->data, all->len, &removed, &err))
            CLOG(G_LOG_LEVEL_WARNING, c, "roll-back: removing %u installed entries failed: %s",
                 all->len, err->message);
        else
            CLOG(G_LOG_LEVEL_INFO, c, "roll-back: removed %u of %u installed entries", removed,
                 all->len);
        g_hash_table_remove_all(c->installed);
    }
    if (c->classes)
        nc_carry_classes_rollback(c->classes);
}

/* Opens (removes) the domain's gate if it is closed; @what: "opening" or "removing", for the log.
 * Idempotent: every end of a destination carry calls it again, so a failed attempt is retried. */
static void dest_remove_gate(Carry *c, const char *what)
{
    g_autoptr(GError) err = NULL;
    NcGateHeld held = {0};

    if (!c->gate_closed)
        return;
    /* from here on the gate opens now or, if that fails, lapses by itself (nc-gate.c) */
    g_clear_handle_id(&c->gate_timer, g_source_remove);
    if (!nc_gate_open(c->e->netns, c->uuid, &held, &err)) {
        CLOG(G_LOG_LEVEL_WARNING, c, "%s the gate on %s failed: %s", what, c->tap, err->message);
        return;
    }
    c->gate_closed = FALSE;
    c->held_packets = held.packets_from_vm + held.packets_to_vm;
    c->gate_opened_us = g_get_real_time();
}

static void report_steps_from_tracker(NcReport *r, NcPhaseTracker *t, const char *uuid, NcSide side)
{
    const NcPhaseStep *steps;
    guint n = 0;

    if (!t)
        return;
    steps = nc_phase_tracker_steps(t, uuid, side, &n);
    for (guint i = 0; i < n; i++) {
        int p = nc_report_phase_from_string(nc_phase_to_string(steps[i].phase));

        if (p >= 0)
            nc_report_add_step(r, side == NC_SIDE_SOURCE ? NC_REPORT_SOURCE : NC_REPORT_DESTINATION,
                               p, steps[i].pass, steps[i].time_us,
                               nc_phase_input_to_string(steps[i].cause));
    }
}

static void dest_report(Carry *c, NcReportOutcome outcome, const char *reason)
{
    g_autoptr(NcReport) r = nc_report_new();
    NcReportFigures fig;

    if (c->reported)
        return;
    c->reported = TRUE;
    r->domain_uuid = g_strdup(c->uuid);
    r->domain_name = g_strdup(c->name);
    r->migration_id = g_strdup(c->rv ? c->rv->migration_id : NULL);
    r->source_host = g_strdup(c->rv ? c->rv->identity ? c->rv->identity : c->rv->host : NULL);
    r->destination_host = g_strdup(c->e->host_name);
    r->outcome = outcome;
    if (reason || c->failure || c->risk)
        r->reason = g_strdup(reason ? reason : c->failure);
    else if (outcome == NC_REPORT_COMPLETED && c->source_lost)
        r->reason = g_strdup_printf("the source's end is unknown: %s", c->source_lost);
    else if (outcome == NC_REPORT_COMPLETED && c->source_end &&
             c->source_end->outcome != NC_PEER_OUTCOME_COMPLETED)
        r->reason = g_strdup_printf("the source says the migration %s%s%s",
                                    nc_peer_outcome_to_string(c->source_end->outcome),
                                    *c->source_end->reason ? ": " : "", c->source_end->reason);
    if (c->source_end && c->source_end->has_downtime) {
        r->has_downtime = TRUE;
        r->downtime_ms = c->source_end->downtime_ms;
    }
    /* the source's whole timeline from FINISHED, else what the seal carried */
    const NcPeerSealStep *src_steps = c->source_end ? c->source_end->steps : c->source_steps;
    guint n_src_steps = c->source_end ? c->source_end->n_steps : c->n_source_steps;

    for (guint i = 0; i < n_src_steps; i++) {
        const NcPeerSealStep *s = &src_steps[i];
        int p = s->phase < NC_PHASE_LAST ? nc_report_phase_from_string(nc_phase_to_string(s->phase))
                                         : -1;

        if (p >= 0)
            nc_report_add_step(r, NC_REPORT_SOURCE, p, s->pass, s->time_us,
                               s->cause < NC_EV_LAST ? nc_phase_input_to_string(s->cause) : NULL);
    }
    report_steps_from_tracker(r, c->e->opt.phases, c->uuid, NC_SIDE_DESTINATION);
    /* the engine's own witnesses, if the tracker has none (no tracker, or fed elsewhere) */
    if (c->installed_us &&
        !nc_report_find_step(r, NC_REPORT_DESTINATION, NC_REPORT_PHASE_INSTALLED, 0))
        nc_report_add_step(r, NC_REPORT_DESTINATION, NC_REPORT_PHASE_INSTALLED, 0, c->installed_us,
                           "netcarry installed");
    if (c->resumed_us && !nc_report_find_step(r, NC_REPORT_DESTINATION, NC_REPORT_PHASE_RESUMED, 0))
        nc_report_add_step(r, NC_REPORT_DESTINATION, NC_REPORT_PHASE_RESUMED, 0, c->resumed_us,
                           "resumed");
    r->carried[NC_REPORT_CLASS_CONNTRACK].present = TRUE;
    r->carried[NC_REPORT_CLASS_CONNTRACK].precopied = c->precopied;
    r->carried[NC_REPORT_CLASS_CONNTRACK].changed_at_stop = c->changed_at_stop;
    r->carried[NC_REPORT_CLASS_CONNTRACK].installed = c->installed_n;
    r->carried[NC_REPORT_CLASS_CONNTRACK].failed = c->failed_n;
    if (c->source_end && c->source_end->has_removed)
        r->carried[NC_REPORT_CLASS_CONNTRACK].removed_at_source = c->source_end->removed;
    /* where the stop fell in the stream only the source knows; without it, all counts as
     * pre-copied */
    if (c->source_end) {
        r->carried[NC_REPORT_CLASS_CONNTRACK].precopied = c->source_end->precopied;
        r->carried[NC_REPORT_CLASS_CONNTRACK].changed_at_stop = c->source_end->changed_at_stop;
    }
    for (guint i = 0; i < c->report_failures->len; i++) {
        g_auto(GStrv) parts = g_strsplit(g_ptr_array_index(c->report_failures, i), "\t", 2);

        nc_report_add_failure(r, NC_REPORT_CLASS_CONNTRACK, parts[0],
                              parts[1] ? parts[1] : "unknown");
    }
    if (c->classes)
        nc_carry_classes_report(c->classes, r);
    r->has_gate = c->tap != NULL;
    r->gate_mode = g_strdup(nc_gate_mode_to_string(c->e->opt.config->gate_mode));
    r->held_packets = c->held_packets;
    r->gate_opened_us = c->gate_opened_us;
    nc_report_figures(r, &fig);
    CLOG(G_LOG_LEVEL_MESSAGE, c,
         "report: %s, %u installed, %u failed, margin %s%" G_GINT64_FORMAT " us, source's end %s",
         nc_report_outcome_to_string(outcome), c->installed_n, c->failed_n,
         fig.has_margin ? "" : "(unknown) ", fig.has_margin ? fig.margin_us : 0,
         c->source_end ? nc_peer_outcome_to_string(c->source_end->outcome) : "unknown");
    if (c->e->opt.report_func)
        c->e->opt.report_func(c->uuid, r, c->e->opt.user_data);
}

static void add_failure(Carry *c, const NcCtEntry *entry, const char *reason)
{
    g_autofree char *what = nc_ct_entry_describe(entry);

    c->failed_n++;
    if (c->report_failures->len < 100)
        g_ptr_array_add(c->report_failures, g_strdup_printf("%s\t%s", what, reason));
}

/* The carry ends here and takes back what it installed: the migration failed or was cancelled,
 * the source is not trusted, or admission failed. Removes the installed entries and the gate,
 * tells the tracker (except for a cancellation, which libvirt's events tell). Idempotent, and
 * also after dest_give_up() kept the entries: a migration that fails later takes them back. */
static void dest_fail(Carry *c, const char *reason, gboolean cancelled)
{
    if (c->state != CARRY_ENDED) {
        CLOG(G_LOG_LEVEL_WARNING, c, "carry %s: %s", cancelled ? "cancelled" : "failed", reason);
        g_free(c->failure);
        c->failure = g_strdup(reason);
        if (!c->admit_done) {
            c->admit_done = TRUE;
            if (!c->admit_error)
                c->admit_error = g_error_new(NC_ERROR, NC_ERROR_FAILED, "%s", reason);
        }
        c->state = CARRY_ENDED;
        carry_stop_io(c);
        g_clear_pointer(&c->server, nc_peer_server_free);
        g_clear_object(&c->conn);
        if (!cancelled)
            feed(c, NC_EV_CARRY_FAILED, 0, reason);
    }
    dest_rollback(c);
    dest_remove_gate(c, "removing");
}

/*
 * dest_give_up() - the carry cannot complete, but the migration goes on (the link lost, a wait
 * exceeded, an entry refused, a seal that does not match)
 * @trusted: FALSE when the source sent what it must not (an entry foreign to the domain): what it
 *           installed is taken back whatever happens
 *
 * While admission still runs (the hook waits, also for the source's first copy), the hook's
 * answer carries the failure (dest_fail()): the migration is refused or proceeds by policy.
 * Afterwards, the entries installed stay (the domain's own, checked against its addresses, and
 * nearly current: rolling them back would only guarantee that its connections die) and the gate
 * opens, so the guest is never cut off; and:
 * - under admission = refuse, while the source has not stopped for the switchover as far as this
 *   host knows (no seal, guest not resumed here; fail_func also checks QEMU's incoming side), the
 *   migration is made to fail: netcarryd destroys the incoming domain and then ends the carry as
 *   failed, which takes the entries back. The guest stays on the source with its connections. If
 *   the destroy does not happen after all, the guest arrives with the entries kept.
 * - otherwise (proceed, or too late) the report says what may be missing.
 * A migration that fails later still takes the entries back (finished()).
 */
static void dest_give_up(Carry *c, const char *reason, gboolean trusted)
{
    const NcConfig *cfg = c->e->opt.config;
    gboolean fail;
    guint kept;

    if (c->state == CARRY_ENDED)
        return;
    if (!c->admit_done || c->admitting) {
        g_clear_error(&c->admit_error);
        c->admit_error = g_error_new(NC_ERROR, NC_ERROR_FAILED, "%s", reason);
        c->admit_done = TRUE;
        dest_fail(c, reason, FALSE);
        return;
    }
    g_free(c->failure);
    c->state = CARRY_ENDED;
    carry_stop_io(c);
    g_clear_pointer(&c->server, nc_peer_server_free);
    g_clear_object(&c->conn);
    if (!trusted)
        dest_rollback(c);
    fail = cfg->admission == NC_ADMISSION_REFUSE && !c->resumed_us && !c->source_steps &&
           c->e->opt.fail_func &&
           c->e->opt.fail_func(c->uuid, NC_SIDE_DESTINATION, reason, c->e->opt.user_data);
    kept = c->installed ? g_hash_table_size(c->installed) : 0;
    c->installed_n = kept;
    if (fail || !trusted)
        c->failure = g_strdup(reason);
    else
        c->failure = g_strdup_printf("%s; kept the %u entries installed before it (changes at "
                                     "the source's stop may be missing)",
                                     reason, kept);
    CLOG(G_LOG_LEVEL_WARNING, c, "carry failed: %s; %s", c->failure,
         fail       ? "failing the incoming migration (admission = refuse)"
         : !trusted ? "its entries removed, the gate opens"
                    : c->resumed_us ? "the gate opens (the guest already runs here)"
                                    : "the gate opens");
    dest_remove_gate(c, "opening");
    feed(c, NC_EV_CARRY_ABANDONED, 0, c->failure);
    /* gate mode suspend: the guest waits paused for netcarry, which will not install more */
    if (!fail && cfg->gate_mode == NC_GATE_MODE_SUSPEND && c->e->opt.resume_func)
        c->e->opt.resume_func(c->uuid, c->e->opt.user_data);
}

/* Install one chunk's changes; FALSE (with @error: one line) if the carry must stop. */
static gboolean dest_apply(Carry *c, const NcPeerState *st, GError **error)
{
    g_autoptr(GArray) del = g_array_new(FALSE, FALSE, sizeof(NcCtEntry));
    g_autoptr(GArray) ups = g_array_new(FALSE, FALSE, sizeof(NcCtEntry));
    g_autoptr(GPtrArray) del_keys = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
    g_autoptr(GPtrArray) fails = NULL;
    NcCt *ct;
    g_autoptr(GError) err = NULL;
    guint foreign = 0;

    for (guint i = 0; i < st->upserts->len; i++) {
        const NcCtEntry *en = &g_array_index(st->upserts, NcCtEntry, i);

        if (!nc_ct_entry_belongs_to(en, c->sel.addresses) ||
            (c->sel.has_zone && en->zone != c->sel.zone)) {
            g_autofree char *what = nc_ct_entry_describe(en);

            if (foreign++ < 3)
                CLOG(G_LOG_LEVEL_WARNING, c, "refusing entry %s: not the domain's addresses", what);
            add_failure(c, en, "address not the domain's");
        }
    }
    if (foreign) {
        g_set_error(error, NC_ERROR, NC_ERROR_PERMISSION,
                    "the source sent %u conntrack entries that do not belong to the domain's "
                    "addresses (from its XML on this host)",
                    foreign);
        return FALSE;
    }
    if (!nc_peer_set_apply(c->set, st, error))
        return FALSE;
    /* what is replaced or deleted stays in c->installed until the kernel let it go: a roll-back
     * after a failed delete still knows it */
    for (guint i = 0; i < st->deletes->len; i++) {
        GBytes *k = key_bytes(&g_array_index(st->deletes, NcPeerCtKey, i));
        NcCtEntry *old = g_hash_table_lookup(c->installed, k);

        if (old) {
            g_array_append_vals(del, old, 1);
            g_ptr_array_add(del_keys, g_steal_pointer(&k));
        }
        g_clear_pointer(&k, g_bytes_unref);
    }
    for (guint i = 0; i < st->upserts->len; i++) {
        NcCtEntry en = g_array_index(st->upserts, NcCtEntry, i);
        GBytes *k = entry_key(&en);
        NcCtEntry *old = g_hash_table_lookup(c->installed, k);

        if (old) {
            g_array_append_vals(del, old, 1);
            g_ptr_array_add(del_keys, g_steal_pointer(&k));
        }
        g_clear_pointer(&k, g_bytes_unref);
        en.timeout = installed_timeout(&c->timeouts, &en);
        g_array_append_val(ups, en);
    }
    if (!del->len && !ups->len)
        return TRUE;
    ct = dest_ct(c, error);
    if (!ct)
        return FALSE;
    if (del->len && !nc_ct_delete(ct, (NcCtEntry *)del->data, del->len, NULL, error))
        return FALSE;
    for (guint i = 0; i < del_keys->len; i++)
        g_hash_table_remove(c->installed, g_ptr_array_index(del_keys, i));
    if (!ups->len)
        return TRUE;
    if (!nc_ct_install(ct, (NcCtEntry *)ups->data, ups->len, &fails, &err)) {
        g_autoptr(GArray) rest = NULL;
        g_autofree gboolean *bad = NULL;

        if (!g_error_matches(err, NC_ERROR, NC_ERROR_PARTIAL) || !fails) {
            g_propagate_error(error, g_steal_pointer(&err));
            return FALSE;
        }
        /* some entries were refused: one the destination has already (EEXIST) passes its
         * traffic anyway; any other refusal is a connection that dies here, which admission =
         * refuse does not accept (the migration fails); under proceed, carry the rest */
        const NcCtFailure *lost = NULL;
        guint n_lost = 0;

        bad = g_new0(gboolean, ups->len);
        for (guint i = 0; i < fails->len; i++) {
            const NcCtFailure *f = g_ptr_array_index(fails, i);

            if (f->index < ups->len) {
                bad[f->index] = TRUE;
                add_failure(c, &g_array_index(ups, NcCtEntry, f->index), f->message);
            }
            if (f->errnum != EEXIST && !n_lost++)
                lost = f;
        }
        CLOG(G_LOG_LEVEL_WARNING, c, "%u of %u entries refused by the kernel: %s", fails->len,
             ups->len, err->message);
        if (lost && c->e->opt.config->admission == NC_ADMISSION_REFUSE) {
            g_set_error(error, NC_ERROR, NC_ERROR_FAILED,
                        "the kernel here refused %u of the domain's entries (%s)", n_lost,
                        lost->message);
            return FALSE;
        }
        rest = g_array_new(FALSE, FALSE, sizeof(NcCtEntry));
        for (guint i = 0; i < ups->len; i++)
            if (!bad[i])
                g_array_append_vals(rest, &g_array_index(ups, NcCtEntry, i), 1);
        g_array_unref(ups);
        ups = g_steal_pointer(&rest);
        g_clear_error(&err);
        if (ups->len && !nc_ct_install(ct, (NcCtEntry *)ups->data, ups->len, NULL, error))
            return FALSE;
    }
    for (guint i = 0; i < ups->len; i++) {
        const NcCtEntry *en = &g_array_index(ups, NcCtEntry, i);

        g_hash_table_insert(c->installed, entry_key(en), g_memdup2(en, sizeof(*en)));
    }
    return TRUE;
}

static gboolean dest_seal_timeout(gpointer data)
{
    Carry *c = data;
    g_autofree char *why =
        g_strdup_printf("no seal from the source within %u ms of the guest's resume here",
                        c->e->opt.config->seal_timeout_ms);

    c->seal_timer = 0;
    dest_give_up(c, why, TRUE);
    return G_SOURCE_REMOVE;
}

/* The certificate subject's CN (RFC 4514 string "CN=x,O=y" as GnuTLS prints it). */
static char *subject_cn(const char *subject)
{
    const char *p = subject;

    while (p && *p) {
        while (*p == ' ' || *p == ',')
            p++;
        if (g_ascii_strncasecmp(p, "CN=", 3) == 0) {
            const char *end = strchr(p + 3, ',');

            return end ? g_strndup(p + 3, end - p - 3) : g_strdup(p + 3);
        }
        p = strchr(p, ',');
    }
    return NULL;
}

/* The report of a migration that completed here, now that the source's end is known (or will not
 * be); then the carry is over. */
static void dest_report_completed(Carry *c)
{
    g_clear_handle_id(&c->finish_timer, g_source_remove);
    if (!c->awaiting_source)
        return;
    c->awaiting_source = FALSE;
    dest_report(c, NC_REPORT_COMPLETED, NULL);
    CLOG(G_LOG_LEVEL_INFO, c, "finished (completed)");
    carry_forget(c);
}

static gboolean dest_finish_timeout(gpointer data)
{
    Carry *c = data;

    c->finish_timer = 0;
    if (!c->source_lost)
        c->source_lost = g_strdup_printf("no word from the source's netcarryd within %u ms of "
                                         "the migration's completion here",
                                         c->e->finish_wait_ms);
    CLOG(G_LOG_LEVEL_WARNING, c, "%s", c->source_lost);
    dest_report_completed(c);
    return G_SOURCE_REMOVE;
}

static void dest_on_finished(Carry *c, const NcPeerFinished *f)
{
    NcPeerFinished *copy = g_memdup2(f, sizeof(*f));

    copy->steps = g_memdup2(f->steps, MAX(f->n_steps, 1) * sizeof(NcPeerSealStep));
    copy->reason = g_strdup(f->reason ? f->reason : "");
    finished_free(c->source_end);
    c->source_end = copy;
    copy->classes = NULL; /* not kept: taken into the classes below */
    if (c->classes)
        nc_carry_classes_source_removed(c->classes, f->classes);
    CLOG(G_LOG_LEVEL_INFO, c,
         "the source's migration %s (%u timeline steps, downtime %s%u ms, %u entries removed "
         "there)",
         nc_peer_outcome_to_string(f->outcome), f->n_steps, f->has_downtime ? "" : "unknown ",
         f->downtime_ms, f->removed);
    dest_report_completed(c);
}

static NcPeerMsg *dest_on_message(NcPeerSession *session, const NcPeerMsg *msg, gpointer data)
{
    Carry *c = data;
    g_autoptr(GError) err = NULL;

    /* the source's last word comes after the ACK, usually once the migration ended here */
    if (msg->type == NC_PEER_MSG_FINISHED) {
        dest_on_finished(c, &msg->finished);
        return NULL;
    }
    if (c->state == CARRY_ENDED)
        return nc_peer_msg_new_abort(NC_PEER_ABORT_CANCELLED, "the migration ended here");
    switch (msg->type) {
    case NC_PEER_MSG_HELLO: {
        const char *subject = nc_peer_session_get_peer_subject(session);
        g_autofree char *cn = subject_cn(subject);

        if (g_strcmp0(msg->hello.domain_uuid, c->uuid) != 0) {
            g_autofree char *why =
                g_strdup_printf("the source answered for domain %s", msg->hello.domain_uuid);
            log_refusal(c->e, NC_REFUSAL_IDENTITY, nc_peer_session_get_remote(session), subject,
                        c->uuid, why);
            dest_fail(c, why, FALSE);
            return nc_peer_msg_new_abort(NC_PEER_ABORT_REFUSED, why);
        }
        /* the identity is a certificate name (CN) or the whole subject; the secret below goes
         * only to that host */
        if (c->rv->identity && g_strcmp0(cn, c->rv->identity) != 0 &&
            g_strcmp0(subject, c->rv->identity) != 0) {
            g_autofree char *why =
                g_strdup_printf("the source's certificate names %s, not the rendezvous identity %s",
                                cn ? cn : "nobody", c->rv->identity);
            log_refusal(c->e, NC_REFUSAL_IDENTITY, nc_peer_session_get_remote(session), subject,
                        c->uuid, why);
            dest_fail(c, why, FALSE);
            return nc_peer_msg_new_abort(NC_PEER_ABORT_REFUSED, why);
        }
        nc_peer_session_set_secret(session, c->rv->secret);
        nc_peer_session_set_classes(session, nc_carry_classes_names());
        CLOG(G_LOG_LEVEL_INFO, c, "source %s (%s) authenticated; proving the rendezvous secret",
             msg->hello.host, nc_peer_session_get_remote(session));
        return NULL;
    }
    case NC_PEER_MSG_STATE: {
        guint n = msg->state.upserts->len;

        if (!c->admitted) {
            /* the source's first chunk: it accepted our secret and libvirt's job vouched */
            c->admitted = TRUE;
            c->admit_done = TRUE;
            c->state = CARRY_PRECOPY;
            feed(c, NC_EV_PEER_CONNECTED, 0, NULL);
            CLOG(G_LOG_LEVEL_INFO, c, "the source (%s) accepted; pre-copy",
                 nc_peer_session_get_remote(session));
        }

        if (!dest_apply(c, &msg->state, &err)) {
            NcPeerAbortCode code = g_error_matches(err, NC_ERROR, NC_ERROR_PERMISSION)
                                       ? NC_PEER_ABORT_REFUSED
                                       : NC_PEER_ABORT_INTERNAL;
            NcPeerMsg *abort_ = nc_peer_msg_new_abort(code, err->message);

            dest_give_up(c, err->message, code != NC_PEER_ABORT_REFUSED);
            return abort_;
        }
        if (n || msg->state.deletes->len)
            CLOG(G_LOG_LEVEL_DEBUG, c, "chunk %u: %u upserts, %u deletions installed",
                 msg->state.seq, n, msg->state.deletes->len);
        else if (!c->first_copy) {
            c->first_copy = TRUE;
            CLOG(G_LOG_LEVEL_INFO, c, "the source's first copy is installed: %u entries",
                 c->precopied + n);
        }
        c->precopied += n;
        return NULL;
    }
    case NC_PEER_MSG_ITEMS:
        /* a class beside conntrack, whole (protocol 4): checked now, installed with the seal */
        if (!nc_carry_classes_receive(c->classes, &msg->items, &err)) {
            gboolean foreign = g_error_matches(err, NC_ERROR, NC_ERROR_PERMISSION);
            NcPeerMsg *abort_ = nc_peer_msg_new_abort(
                foreign ? NC_PEER_ABORT_REFUSED : NC_PEER_ABORT_PROTOCOL, err->message);

            dest_give_up(c, err->message, !foreign);
            return abort_;
        }
        CLOG(G_LOG_LEVEL_DEBUG, c, "%s %u items of class %s arrived",
             msg->items.replace ? "the set:" : "more:", msg->items.items->len, msg->items.klass);
        return NULL;
    case NC_PEER_MSG_SEAL: {
        gint64 stop_us = 0;
        NcPeerMsg *ack;

        g_free(c->source_steps);
        c->source_steps = g_memdup2(msg->seal.steps, msg->seal.n_steps * sizeof(NcPeerSealStep));
        c->n_source_steps = msg->seal.n_steps;
        for (guint i = 0; i < c->n_source_steps; i++)
            if (c->source_steps[i].phase == NC_PHASE_STOP_AND_COPY)
                stop_us = c->source_steps[i].time_us;
        feed(c, NC_EV_PEER_STOPPED, stop_us, NULL);
        feed(c, NC_EV_SEALED, 0, NULL);
        if (!nc_peer_set_check_seal(c->set, &msg->seal, nc_peer_session_get_chunks(session),
                                    &err)) {
            ack = nc_peer_msg_new_ack(FALSE, 0, err->message);
            dest_give_up(c, err->message, TRUE);
            return ack;
        }
        if (nc_peer_session_get_version(session) >= NC_PEER_PROTO_CLASSES_VERSION &&
            !nc_carry_classes_check_seal(c->classes, msg->seal.classes, &err)) {
            ack = nc_peer_msg_new_ack(FALSE, 0, err->message);
            dest_give_up(c, err->message, TRUE);
            return ack;
        }
        /* the other classes, all or nothing, before the gate opens; what cannot be installed
         * now (after the source's stop) is reported, and the guest gets its connections */
        if (!nc_carry_classes_install(c->classes, &err)) {
            CLOG(G_LOG_LEVEL_WARNING, c, "%s", err->message);
            g_clear_error(&err);
        }
        c->installed_n = g_hash_table_size(c->installed);
        c->installed_us = g_get_real_time();
        c->state = CARRY_INSTALLED;
        g_clear_handle_id(&c->seal_timer, g_source_remove);
        feed(c, NC_EV_INSTALLED, c->installed_us, NULL);
        dest_remove_gate(c, "opening");
        if (c->e->opt.config->gate_mode == NC_GATE_MODE_SUSPEND && c->e->opt.resume_func)
            c->e->opt.resume_func(c->uuid, c->e->opt.user_data);
        {
            g_autofree char *others = nc_carry_classes_summary(c->classes);

            CLOG(G_LOG_LEVEL_MESSAGE, c,
                 "sealed state installed: %u entries (%u failed)%s%s, gate %s", c->installed_n,
                 c->failed_n, *others ? "; " : "", others,
                 c->gate_closed ? "still closed" : (c->tap ? "open" : "none"));
        }
        ack = nc_peer_msg_new_ack(TRUE, c->installed_n, NULL);
        ack->ack.classes = nc_carry_classes_installed_sums(c->classes);
        return ack;
    }
    default:
        return nc_peer_msg_new_abort(NC_PEER_ABORT_PROTOCOL, "unexpected message");
    }
}

static void dest_dial_fail(Carry *c, const char *what);

static void dest_on_closed(NcPeerSession *session, const GError *error, gpointer data)
{
    Carry *c = data;

    if (c->state == CARRY_INSTALLED || c->awaiting_source) {
        /* after a good ACK: only the report's view of the source's end is at stake */
        if (!c->source_end && !c->source_lost)
            c->source_lost = g_strdup_printf(
                "the link to the source's netcarryd ended after the seal without its FINISHED: "
                "%s",
                error ? error->message : "closed (it speaks peer protocol version 1)");
        dest_report_completed(c);
        return;
    }
    if (c->state == CARRY_ENDED)
        return;
    if (!c->admit_done) {
        /* during admission: the source refused us (its reason is in its ABORT), or the link or
         * the handshake failed; virsh shows this line */
        g_autofree char *what = g_strdup_printf("did not accept the carry: %s",
                                                error ? error->message : "it closed the link");
        dest_dial_fail(c, what);
        return;
    }
    {
        g_autofree char *why =
            g_strdup_printf("the link to the source's netcarryd ended before the seal: %s",
                            error ? error->message : "it closed the connection");
        dest_give_up(c, why, TRUE);
    }
}

/* ---- destination: dial the rendezvous ---- */

static char *rv_describe(const NcRendezvous *rv)
{
    return g_strdup_printf("netcarryd at %s%s%s:%u%s%s%s", strchr(rv->host, ':') ? "[" : "",
                           rv->host, strchr(rv->host, ':') ? "]" : "", rv->port,
                           rv->identity ? " (" : "", rv->identity ? rv->identity : "",
                           rv->identity ? ")" : "");
}

static void dest_dial_fail(Carry *c, const char *what)
{
    g_autofree char *who = rv_describe(c->rv);
    g_autofree char *why = g_strdup_printf("%s %s", who, what);

    g_clear_error(&c->admit_error);
    c->admit_error = g_error_new(NC_ERROR, NC_ERROR_NOT_FOUND, "%s", why);
    dest_fail(c, why, FALSE);
}

static gboolean dest_io_timeout(gpointer data)
{
    Carry *c = data;
    g_autofree char *what =
        g_strdup_printf("did not answer within %u ms", c->e->opt.config->peer_connect_timeout_ms);

    c->io_timer = 0;
    dest_dial_fail(c, what);
    return G_SOURCE_REMOVE;
}

static void dest_answer_read(GObject *src, GAsyncResult *res, gpointer data)
{
    Carry *c = data;
    g_autoptr(GError) err = NULL;
    gsize n = 0;
    g_autofree char *answer = NULL;

    g_input_stream_read_all_finish(G_INPUT_STREAM(src), res, &n, &err);
    if (g_error_matches(err, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return; /* timed out or ended: already handled */
    g_clear_handle_id(&c->io_timer, g_source_remove);
    if (err || n < NC_CARRY_RV_SIZE) {
        g_autofree char *what =
            g_strdup_printf("closed the connection: %s", err ? err->message : "short answer");
        dest_dial_fail(c, what);
        return;
    }
    answer = g_strstrip(g_strndup((char *)c->rvbuf, NC_CARRY_RV_SIZE));
    if (g_str_has_prefix(answer, "NO")) {
        g_autofree char *what = g_strdup_printf("refused: %s", answer + 2 + (answer[2] == ' '));
        dest_dial_fail(c, what);
        return;
    }
    if (strcmp(answer, "OK") != 0) {
        dest_dial_fail(c, "gave an answer that is not netcarry's");
        return;
    }
    /* the TLS handshake and the HELLO are bounded by the peer server's timeouts */
    nc_peer_server_adopt(c->server, c->conn);
}

static void dest_connected(Carry *c)
{
    char req[NC_CARRY_RV_SIZE];
    g_autoptr(GError) err = NULL;
    GOutputStream *out;

    c->conn = g_socket_connection_factory_create_connection(c->dial_socket);
    memset(req, ' ', sizeof(req));
    memcpy(req, NC_CARRY_RV_MAGIC, strlen(NC_CARRY_RV_MAGIC));
    memcpy(req + strlen(NC_CARRY_RV_MAGIC), c->uuid, strlen(c->uuid));
    req[sizeof(req) - 1] = '\n';
    out = g_io_stream_get_output_stream(G_IO_STREAM(c->conn));
    /* 64 bytes into an empty socket buffer: does not block */
    if (!g_output_stream_write_all(out, req, sizeof(req), NULL, NULL, &err)) {
        g_autofree char *what = g_strdup_printf("cannot be written to: %s", err->message);
        dest_dial_fail(c, what);
        return;
    }
    c->io_cancel = g_cancellable_new();
    c->io_timer = g_timeout_add(c->e->opt.config->peer_connect_timeout_ms, dest_io_timeout, c);
    g_input_stream_read_all_async(g_io_stream_get_input_stream(G_IO_STREAM(c->conn)), c->rvbuf,
                                  sizeof(c->rvbuf), G_PRIORITY_DEFAULT, c->io_cancel,
                                  dest_answer_read, c);
}

static gboolean dest_dial_ready(GSocket *sock, GIOCondition cond, gpointer data)
{
    Carry *c = data;
    g_autoptr(GError) err = NULL;

    g_clear_pointer(&c->dial_source, g_source_unref);
    g_clear_handle_id(&c->io_timer, g_source_remove);
    if (!g_socket_check_connect_result(sock, &err)) {
        g_autofree char *what = g_strdup_printf(
            "is unreachable: %s (is netcarryd running there, and its port open?)", err->message);
        dest_dial_fail(c, what);
        return G_SOURCE_REMOVE;
    }
    dest_connected(c);
    return G_SOURCE_REMOVE;
}

static gboolean dest_dial_address(Carry *c, GInetAddress *ia, GError **error)
{
    g_autoptr(GSocketAddress) sa = g_inet_socket_address_new(ia, c->rv->port);
    g_autoptr(GError) err = NULL;
    int fd;

    fd = nc_netns_socket(c->e->netns,
                         g_inet_address_get_family(ia) == G_SOCKET_FAMILY_IPV6 ? AF_INET6 : AF_INET,
                         SOCK_STREAM | SOCK_CLOEXEC, 0, error);
    if (fd < 0)
        return FALSE;
    c->dial_socket = g_socket_new_from_fd(fd, error);
    if (!c->dial_socket) {
        close(fd);
        return FALSE;
    }
    g_socket_set_blocking(c->dial_socket, FALSE);
    if (!g_socket_connect(c->dial_socket, sa, NULL, &err) &&
        !g_error_matches(err, G_IO_ERROR, G_IO_ERROR_PENDING)) {
        g_autofree char *who = rv_describe(c->rv);
        g_set_error(error, NC_ERROR, NC_ERROR_NOT_FOUND,
                    "%s is unreachable: %s (is netcarryd running there, and its port open?)", who,
                    err->message);
        return FALSE;
    }
    c->dial_source = g_socket_create_source(c->dial_socket, G_IO_OUT, NULL);
    g_source_set_callback(c->dial_source, (GSourceFunc)(GCallback)dest_dial_ready, c, NULL);
    g_source_attach(c->dial_source, g_main_context_get_thread_default());
    c->io_timer = g_timeout_add(c->e->opt.config->peer_connect_timeout_ms, dest_io_timeout, c);
    return TRUE;
}

static gboolean dest_resolve_timeout(gpointer data)
{
    Carry *c = data;
    g_autofree char *what = g_strdup_printf("cannot be resolved within %u ms",
                                            c->e->opt.config->peer_connect_timeout_ms);

    c->io_timer = 0;
    dest_dial_fail(c, what);
    return G_SOURCE_REMOVE;
}

static void dest_resolved(GObject *src, GAsyncResult *res, gpointer data)
{
    g_autoptr(GError) err = NULL;
    GList *list = g_resolver_lookup_by_name_finish(G_RESOLVER(src), res, &err);
    Carry *c = data;

    /* not through @c first: a cancelled carry may be gone */
    if (g_error_matches(err, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
    g_clear_handle_id(&c->io_timer, g_source_remove);
    if (!list) {
        g_autofree char *what = g_strdup_printf("cannot be resolved: %s", err->message);

        dest_dial_fail(c, what);
        return;
    }
    g_clear_object(&c->io_cancel); /* the next step makes its own */
    if (!dest_dial_address(c, list->data, &err))
        dest_dial_fail(c, err->message);
    g_resolver_free_addresses(list);
}

/* Dials the rendezvous; a host name is resolved asynchronously, within the connect timeout (a
 * slow resolver must not stall the main loop, which serves every carry and the hook). */
static gboolean dest_dial(Carry *c, GError **error)
{
    g_autoptr(GInetAddress) ia = g_inet_address_new_from_string(c->rv->host);
    g_autoptr(GResolver) resolver = NULL;

    if (ia)
        return dest_dial_address(c, ia, error);
    resolver = g_resolver_get_default();
    c->io_cancel = g_cancellable_new();
    c->io_timer = g_timeout_add(c->e->opt.config->peer_connect_timeout_ms, dest_resolve_timeout, c);
    g_resolver_lookup_by_name_async(resolver, c->rv->host, c->io_cancel, dest_resolved, c);
    return TRUE;
}

static gboolean admit_deadline(gpointer data)
{
    gboolean *expired = data;

    *expired = TRUE;
    return G_SOURCE_REMOVE;
}

/**
 * nc_carry_engine_admit() - the destination's admission at `migrate begin`
 * @engine: the engine
 * @domain: the domain XML as the hook received it
 * @error:  one line: why this host cannot carry the domain's state (naming the source host)
 *
 * Iterates the thread-default main context until the source accepted and its first copy is
 * installed, or a bound runs out (connect, then TLS + HELLO: each within
 * peer_connect_timeout_ms; the whole within 90 % of the hook's timeout).
 *
 * Return: TRUE if the carry is under way (pre-copy)
 */
gboolean nc_carry_engine_admit(NcCarryEngine *engine, const NcDomain *domain, GError **error)
{
    NcCarryEngine *e = engine;
    g_autoptr(GError) err = NULL;
    g_autoptr(GArray) addrs = NULL;
    GMainContext *ctx = g_main_context_get_thread_default();
    const NcConfig *cfg = e->opt.config;
    gboolean expired = FALSE, ok;
    guint deadline, bound_ms;
    Carry *c;
    CtTimeouts timeouts;
    g_autofree char *uuid = g_strdup(domain->uuid);
    g_autoptr(NcOwner) owner = NULL;

    addrs = nc_domain_addresses(domain, &err);
    if (!addrs || !(owner = nc_domain_owner(domain, &err))) {
        g_propagate_error(error, g_steal_pointer(&err));
        return FALSE;
    }
    if (!domain->profile || !domain->profile->rendezvous) {
        g_set_error(error, NC_ERROR, NC_ERROR_NOT_FOUND,
                    "the source host runs no netcarryd (no rendezvous in the domain's netcarry "
                    "profile)");
        return FALSE;
    }
    if (!domain->profile->rendezvous->secret) {
        g_set_error(error, NC_ERROR, NC_ERROR_UNSUPPORTED,
                    "the domain's rendezvous carries no secret: the source host's netcarryd is "
                    "older than this one and cannot be asked safely (update it)");
        return FALSE;
    }
    if (!check_kernel(e, &timeouts, error))
        return FALSE;
    c = carry_new(e, NC_SIDE_DESTINATION, domain->uuid, domain->name);
    c->timeouts = timeouts;
    selector_from_domain(&c->sel, domain, g_steal_pointer(&addrs));
    c->rv = nc_rendezvous_copy(domain->profile->rendezvous);
    c->set = nc_peer_set_new();
    c->installed = entry_table_new();
    c->classes = nc_carry_classes_new(e->netns, g_steal_pointer(&owner));
    c->server =
        nc_peer_server_new(cfg->tls_ca_file, cfg->tls_server_cert, cfg->tls_server_key, &err);
    if (!c->server) {
        dest_fail(c, err->message, FALSE);
        g_propagate_error(error, g_steal_pointer(&err));
        carry_forget(c);
        return FALSE;
    }
    if (!nc_peer_server_set_crl(c->server, cfg->tls_crl_file, cfg->tls_ca_file, &err)) {
        dest_fail(c, err->message, FALSE);
        g_propagate_error(error, g_steal_pointer(&err));
        carry_forget(c);
        return FALSE;
    }
    nc_peer_server_set_timeouts(c->server, cfg->peer_connect_timeout_ms,
                                NC_PEER_DEFAULT_IO_TIMEOUT_MS, e->idle_ms);
    nc_peer_server_set_host_name(c->server, e->host_name);
    nc_peer_server_set_handlers(c->server, dest_on_message, dest_on_closed, c);
    CLOG(G_LOG_LEVEL_INFO, c, "admitting: dialling the source's netcarryd at %s:%u", c->rv->host,
         c->rv->port);
    if (!dest_dial(c, &err)) {
        dest_fail(c, err->message, FALSE);
        g_propagate_error(error, g_steal_pointer(&err));
        carry_forget(c);
        return FALSE;
    }
    /* Each step has its own bound; this one keeps the whole within the hook's, which otherwise
     * gives up first and decides by policy while this admission goes on. */
    bound_ms = MIN(3 * cfg->peer_connect_timeout_ms + NC_PEER_DEFAULT_IO_TIMEOUT_MS,
                   cfg->hook_timeout_ms - cfg->hook_timeout_ms / 10);
    deadline = g_timeout_add(bound_ms, admit_deadline, &expired);
    /* the loop runs the hook server too: a newer admission of the domain may replace @c. Once
     * admitted, it waits (within the same bound) for the source's first copy to be installed:
     * the hook holds back the migration's start, never its downtime, and what is installed now
     * is not left for the stop (a large table would otherwise still be streaming then). */
    c->refs++;
    c->admitting = TRUE;
    while (!(c->admit_done && (!c->admitted || c->first_copy || c->state == CARRY_ENDED)) &&
           !expired && !c->forgotten)
        g_main_context_iteration(ctx, TRUE);
    c->admitting = FALSE;
    if (c->admitted && !c->first_copy && c->state != CARRY_ENDED)
        CLOG(G_LOG_LEVEL_INFO, c, "admitted with the first copy still coming (%u entries so far)",
             c->precopied);
    if (!expired)
        g_source_remove(deadline);
    /* the classes beside conntrack came with the first copy: can this host take them (their
     * sets there, of the same type, with room)? refuse: the migration is refused, naming what is
     * missing; proceed: the class is left out and reported */
    if (c->admitted && c->first_copy && c->state != CARRY_ENDED && !c->forgotten &&
        !nc_carry_classes_probe(c->classes, cfg->admission != NC_ADMISSION_REFUSE, &err)) {
        g_autofree char *why = g_strdup_printf("this host cannot take the domain's state: %s",
                                               err->message);

        g_clear_error(&err);
        g_clear_error(&c->admit_error);
        c->admit_error = g_error_new(NC_ERROR, NC_ERROR_UNSUPPORTED, "%s", why);
        dest_fail(c, why, FALSE);
    }
    if (!c->admit_done && !c->forgotten) {
        g_autofree char *who = rv_describe(c->rv);
        g_autofree char *why = g_strdup_printf("%s: no HELLO within %u ms", who, bound_ms);
        dest_fail(c, why, FALSE);
    }
    ok = c->admitted && !c->forgotten && c->state != CARRY_ENDED;
    if (!ok) {
        if (c->admit_error)
            g_propagate_error(error, g_steal_pointer(&c->admit_error));
        else
            g_set_error(error, NC_ERROR, NC_ERROR_FAILED,
                        "admission of %s ended: a newer migration of the domain replaced it", uuid);
        carry_forget(c); /* no migration happened: nothing to report */
    }
    carry_unref(c);
    return ok;
}

void nc_carry_engine_admit_anyway(NcCarryEngine *engine, const NcDomain *domain, const char *reason)
{
    Carry *c = carry_new(engine, NC_SIDE_DESTINATION, domain->uuid, domain->name);
    g_autofree char *why = g_strdup_printf("admitted without carrying: %s", reason);

    c->risk = TRUE;
    c->failure = g_strdup(why);
    c->installed = entry_table_new();
    c->set = nc_peer_set_new();
    c->state = CARRY_ENDED;
    CLOG(G_LOG_LEVEL_WARNING, c, "%s", why);
}

/* Keeps a closed gate closed for another lapse bound; the gate lapses if this stops running. */
static gboolean dest_renew_gate(gpointer data)
{
    Carry *c = data;
    g_autoptr(GError) err = NULL;
    guint lapse_ms = c->e->opt.config->gate_lapse_ms;

    if (!nc_gate_renew(c->e->netns, c->uuid, lapse_ms, &err))
        CLOG(G_LOG_LEVEL_WARNING, c, "renewing the gate on %s failed: %s (it lapses within %u ms)",
             c->tap, err->message, lapse_ms);
    return G_SOURCE_CONTINUE;
}

gboolean nc_carry_engine_set_tap(NcCarryEngine *engine, const char *uuid, const char *ifname,
                                 GError **error)
{
    Carry *c = carry_lookup(engine, NC_SIDE_DESTINATION, uuid);

    if (!c || c->state == CARRY_ENDED || c->state == CARRY_INSTALLED) {
        if (c) {
            g_free(c->tap);
            c->tap = g_strdup(ifname);
        }
        return TRUE; /* nothing to hold back (not carried, or already installed) */
    }
    if (engine->opt.config->gate_mode != NC_GATE_MODE_GATE) {
        g_free(c->tap);
        c->tap = g_strdup(ifname);
        return TRUE;
    }
    if (!nc_gate_close(engine->netns, uuid, ifname, engine->opt.config->gate_lapse_ms, error))
        return FALSE;
    g_free(c->tap);
    c->tap = g_strdup(ifname);
    c->gate_closed = TRUE;
    g_clear_handle_id(&c->gate_timer, g_source_remove);
    c->gate_timer = g_timeout_add(engine->opt.config->gate_lapse_ms / 3, dest_renew_gate, c);
    CLOG(G_LOG_LEVEL_INFO, c, "gate closed on %s", ifname);
    return TRUE;
}

void nc_carry_engine_resumed(NcCarryEngine *engine, const char *uuid, gint64 time_us)
{
    Carry *c = carry_lookup(engine, NC_SIDE_DESTINATION, uuid);

    if (!c)
        return;
    c->resumed_us = time_us;
    if (c->state == CARRY_PRECOPY && !c->seal_timer) {
        c->seal_timer = g_timeout_add(engine->opt.config->seal_timeout_ms, dest_seal_timeout, c);
        CLOG(G_LOG_LEVEL_INFO, c, "guest resumed before the seal; waiting at most %u ms",
             engine->opt.config->seal_timeout_ms);
    }
}

/* ---- source ---- */

/*
 * src_fail() - the carry ends here without the destination's ACK
 * @fail_migration: the failure is the carry's own (the link, the destination, the follower), not
 *                  the migration's end: under admission = refuse, and before this host's stop,
 *                  the migration is made to fail (fail_func) rather than complete without its
 *                  state. After the stop it is too late for that: the destination keeps what it
 *                  has and opens its gate.
 *
 * The migration's own end comes from libvirt (NC_EV_CARRY_ABANDONED is no phase), so the
 * source's clean-up still runs when it completes.
 */
static gboolean src_job_poll(gpointer data);

static void src_fail(Carry *c, const char *reason, gboolean fail_migration)
{
    NcCarryEngine *e = c->e;

    if (c->state == CARRY_ENDED)
        return;
    fail_migration = fail_migration && !c->stopped && !c->replaced && e->opt.fail_func &&
                     e->opt.config->admission == NC_ADMISSION_REFUSE;
    CLOG(G_LOG_LEVEL_WARNING, c, "carry failed: %s%s", reason,
         fail_migration ? "; aborting the migration (admission = refuse)" : "");
    g_free(c->failure);
    c->failure = g_strdup(reason);
    c->state = CARRY_ENDED;
    carry_stop_io(c);
    g_clear_pointer(&c->follower, nc_ct_follower_free);
    /* the destination learns why at once (a no-op on a link that failed already) */
    if (c->client)
        nc_peer_client_abort(c->client, NC_PEER_ABORT_CANCELLED, reason);
    feed(c, NC_EV_CARRY_ABANDONED, 0, reason);
    if (fail_migration)
        e->opt.fail_func(c->uuid, NC_SIDE_SOURCE, reason, e->opt.user_data);
    /* watch libvirt's job until it ends: its end before the stop ends the record (below) */
    if (!c->stopped)
        c->job_timer = g_timeout_add(NC_CARRY_JOB_POLL_MS, src_job_poll, c);
}

/* Send @upserts/@deletes in chunks; keeps the sent copy and its digest. */
static gboolean src_send(Carry *c, GArray *upserts, GArray *deletes, GError **error)
{
    g_autoptr(GArray) ups = g_array_new(FALSE, FALSE, sizeof(NcCtEntry));
    g_autoptr(GArray) dels = g_array_new(FALSE, FALSE, sizeof(NcPeerCtKey));

    for (guint i = 0; deletes && i < deletes->len; i++) {
        const NcCtEntryKey *k = &g_array_index(deletes, NcCtEntryKey, i);
        NcPeerCtKey pk;
        g_autoptr(GBytes) kb = NULL;
        NcCtEntry *old;

        memset(&pk, 0, sizeof(pk));
        pk.zone = k->zone;
        pk.orig = k->orig;
        kb = key_bytes(&pk);
        old = g_hash_table_lookup(c->sent, kb);
        if (!old)
            continue;
        nc_peer_digest_remove(&c->digest, old, NULL);
        g_hash_table_remove(c->sent, kb);
        g_array_append_val(dels, pk);
    }
    for (guint i = 0; upserts && i < upserts->len; i++) {
        const NcCtEntry *en = &g_array_index(upserts, NcCtEntry, i);
        GBytes *kb = entry_key(en);
        NcCtEntry *old = g_hash_table_lookup(c->sent, kb);

        if (old)
            nc_peer_digest_remove(&c->digest, old, NULL);
        nc_peer_digest_add(&c->digest, en, NULL);
        g_hash_table_insert(c->sent, kb, g_memdup2(en, sizeof(*en)));
        g_array_append_vals(ups, en, 1);
    }
    /* deletions first, in their own chunks, then upserts: the receiver applies a chunk's
     * deletions before its upserts, so this order is the same */
    for (guint off = 0; off < dels->len || off == 0; off += NC_PEER_CHUNK_ENTRIES) {
        g_autoptr(GArray) part = g_array_new(FALSE, FALSE, sizeof(NcPeerCtKey));

        if (!dels->len)
            break;
        g_array_append_vals(part, &g_array_index(dels, NcPeerCtKey, off),
                            MIN(NC_PEER_CHUNK_ENTRIES, dels->len - off));
        if (!nc_peer_client_send_state(c->client, NULL, part, error))
            return FALSE;
    }
    for (guint off = 0; off < ups->len; off += NC_PEER_CHUNK_ENTRIES) {
        g_autoptr(GArray) part = g_array_new(FALSE, FALSE, sizeof(NcCtEntry));

        g_array_append_vals(part, &g_array_index(ups, NcCtEntry, off),
                            MIN(NC_PEER_CHUNK_ENTRIES, ups->len - off));
        if (!nc_peer_client_send_state(c->client, part, NULL, error))
            return FALSE;
    }
    if (c->stopped)
        c->changed_at_stop += ups->len + dels->len;
    else
        c->precopied += ups->len;
    c->last_send_us = g_get_monotonic_time();
    return TRUE;
}

/* Turn a follower's set into what the destination needs and send it. */
static gboolean src_send_changes(Carry *c, NcCtChanges *ch, GError **error)
{
    if (ch->full) {
        /* a resync: whatever the destination holds and the new set lacks is gone */
        g_autoptr(GHashTable) now =
            g_hash_table_new_full(g_bytes_hash, g_bytes_equal, (GDestroyNotify)g_bytes_unref, NULL);
        g_autoptr(GArray) gone = g_array_new(FALSE, FALSE, sizeof(NcCtEntryKey));
        GHashTableIter it;
        gpointer v;

        for (guint i = 0; i < ch->upserts->len; i++)
            g_hash_table_add(now, entry_key(&g_array_index(ch->upserts, NcCtEntry, i)));
        g_hash_table_iter_init(&it, c->sent);
        while (g_hash_table_iter_next(&it, NULL, &v)) {
            g_autoptr(GBytes) k = entry_key(v);

            if (!g_hash_table_contains(now, k)) {
                NcCtEntryKey ek = {((NcCtEntry *)v)->orig, ((NcCtEntry *)v)->zone};

                g_array_append_val(gone, ek);
            }
        }
        return src_send(c, ch->upserts, gone, error);
    }
    return src_send(c, ch->upserts, ch->deletions, error);
}

static gboolean src_pump(Carry *c, GError **error)
{
    g_autoptr(NcCtChanges) ch = NULL;

    if (nc_ct_follower_needs_resync(c->follower)) {
        ch = nc_ct_follower_resync(c->follower, error);
        if (!ch)
            return FALSE;
    } else {
        ch = nc_ct_follower_take_changes(c->follower);
    }
    if (!ch)
        return TRUE;
    return src_send_changes(c, ch, error);
}

static gboolean src_pump_due(gpointer data)
{
    Carry *c = data;
    g_autoptr(GError) err = NULL;

    c->pump_timer = 0;
    if (c->state == CARRY_PRECOPY && !src_pump(c, &err))
        src_fail(c, err->message, TRUE);
    return G_SOURCE_REMOVE;
}

/* Changes are sent at most every NC_CARRY_COALESCE_MS during pre-copy, as one chunk: one message
 * per change (a busy guest makes thousands a second) left the destination installing one entry
 * per netlink exchange, up to seconds behind, so that the seal waited behind the backlog. The
 * stop sends what is pending at once (src_seal()). */
static void src_on_follower(NcCtFollower *f, gpointer data)
{
    Carry *c = data;

    if (c->state != CARRY_PRECOPY || c->pump_timer)
        return;
    c->pump_timer = g_timeout_add(NC_CARRY_COALESCE_MS, src_pump_due, c);
}

static gboolean src_keepalive(gpointer data)
{
    Carry *c = data;
    g_autoptr(GError) err = NULL;

    if (c->state != CARRY_PRECOPY)
        return G_SOURCE_CONTINUE;
    /* ticks every idle/4 and sends once idle/4 passed without a chunk: the longest silence is
     * about idle/2, half the destination's bound, whatever the phase of the last chunk */
    if (g_get_monotonic_time() - c->last_send_us < (gint64)c->e->idle_ms * 1000 / 4)
        return G_SOURCE_CONTINUE;
    if (!nc_peer_client_send_state(c->client, NULL, NULL, &err)) {
        src_fail(c, err->message, TRUE);
        return G_SOURCE_CONTINUE;
    }
    c->last_send_us = g_get_monotonic_time();
    return G_SOURCE_CONTINUE;
}

static void src_seal_done(GObject *src, GAsyncResult *res, gpointer data)
{
    Carry *c = data;
    g_autoptr(GError) err = NULL;
    g_autoptr(NcPeerAck) ack = g_task_propagate_pointer(G_TASK(res), &err);

    if (g_error_matches(err, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
    if (!ack) {
        src_fail(c, err->message, TRUE);
        return;
    }
    if (!ack->ok) {
        g_autofree char *why = g_strdup_printf("the destination did not install: %s", ack->reason);
        src_fail(c, why, TRUE);
        return;
    }
    c->state = CARRY_INSTALLED;
    c->installed_n = ack->installed;
    c->acked = TRUE;
    {
        g_autoptr(GString) others = g_string_new(NULL);

        for (guint i = 0; ack->classes && i < ack->classes->len; i++) {
            const NcPeerClassSum *cs = &g_array_index(ack->classes, NcPeerClassSum, i);

            g_string_append_printf(others, ", %s %" G_GUINT64_FORMAT, cs->klass, cs->count);
        }
        CLOG(G_LOG_LEVEL_MESSAGE, c, "the destination installed %" G_GUINT64_FORMAT " entries%s",
             ack->installed, others->str);
    }
}

static NcPeerOutcome peer_outcome(NcCarryOutcome outcome)
{
    return outcome == NC_CARRY_COMPLETED   ? NC_PEER_OUTCOME_COMPLETED
           : outcome == NC_CARRY_CANCELLED ? NC_PEER_OUTCOME_CANCELLED
                                           : NC_PEER_OUTCOME_FAILED;
}

static NcPhase terminal_phase(NcPeerOutcome outcome)
{
    return outcome == NC_PEER_OUTCOME_COMPLETED   ? NC_PHASE_COMPLETED
           : outcome == NC_PEER_OUTCOME_CANCELLED ? NC_PHASE_CANCELLED
                                                  : NC_PHASE_FAILED;
}

/* The source's timeline for the wire: the tracker's steps, or without a tracker (tests) the
 * engine's own witness, the stop (then *@witnessed is TRUE). */
static GArray *src_timeline(Carry *c, gboolean *witnessed)
{
    GArray *steps = g_array_new(FALSE, TRUE, sizeof(NcPeerSealStep));
    const NcPhaseStep *ps = NULL;
    guint n = 0;

    if (c->e->opt.phases)
        ps = nc_phase_tracker_steps(c->e->opt.phases, c->uuid, NC_SIDE_SOURCE, &n);
    for (guint i = 0; i < n; i++) {
        NcPeerSealStep st = {ps[i].phase, ps[i].cause, ps[i].pass, ps[i].time_us};

        g_array_append_val(steps, st);
    }
    *witnessed = n == 0;
    if (!n) {
        NcPeerSealStep stop = {NC_PHASE_STOP_AND_COPY, NC_EV_PEER_STOPPED, 0, c->stopped_us};

        g_array_append_val(steps, stop);
    }
    return steps;
}

/**
 * src_send_finished() - the source's FINISHED: outcome, whole timeline, downtime, clean-up
 * @c: a source carry whose seal the destination acknowledged, finished here
 *
 * The timeline is the tracker's (its terminal step included); without a tracker (tests) the
 * engine's own witnesses: the stop and the end, now. Then the carry is over.
 */
static void src_send_finished(Carry *c)
{
    g_autoptr(GArray) steps = NULL;
    g_autoptr(GError) err = NULL;
    NcPhaseTracker *t = c->e->opt.phases;
    NcPeerFinished f = {.outcome = c->outcome, .reason = c->outcome_reason};
    gint64 downtime = t ? nc_phase_tracker_downtime_ms(t, c->uuid, NC_SIDE_SOURCE) : -1;
    gboolean witnessed;

    g_clear_handle_id(&c->downtime_timer, g_source_remove);
    if (!c->acked)
        return;
    c->acked = FALSE;
    steps = src_timeline(c, &witnessed);
    if (witnessed) {
        /* 0xff: no NcPhaseInput witnessed it; the report then names no cause */
        NcPeerSealStep end = {terminal_phase(c->outcome), 0xff, 0, g_get_real_time()};

        g_array_append_val(steps, end);
    }
    f.steps = (NcPeerSealStep *)steps->data;
    f.n_steps = steps->len;
    f.has_downtime = downtime >= 0 && downtime <= G_MAXUINT32;
    f.downtime_ms = f.has_downtime ? (guint32)downtime : 0;
    f.has_removed = c->cleanup_ran;
    f.removed = c->removed_at_source;
    f.precopied = c->precopied;
    f.changed_at_stop = c->changed_at_stop;
    f.classes = c->classes_removed;
    if (!nc_peer_client_send_finished(c->client, &f, &err))
        CLOG(G_LOG_LEVEL_WARNING, c, "cannot tell the destination how the migration ended: %s",
             err->message);
    else
        CLOG(G_LOG_LEVEL_INFO, c,
             "FINISHED sent: %s, %u steps, downtime %s%u ms, %u entries removed here",
             nc_peer_outcome_to_string(f.outcome), f.n_steps, f.has_downtime ? "" : "unknown ",
             f.downtime_ms, f.removed);
}

/* Wait for job-completed's downtime (it follows the source's completion by tens of ms). */
static gboolean src_downtime_poll(gpointer data)
{
    Carry *c = data;

    if (nc_phase_tracker_downtime_ms(c->e->opt.phases, c->uuid, NC_SIDE_SOURCE) < 0 &&
        g_get_monotonic_time() < c->downtime_deadline_us)
        return G_SOURCE_CONTINUE;
    c->downtime_timer = 0;
    src_send_finished(c);
    carry_forget(c);
    return G_SOURCE_REMOVE;
}

/* A carry replaced or shut down while it waits for the source's or the destination's end:
 * say what is known now. */
static void carry_settle(Carry *c)
{
    if (c->side == NC_SIDE_SOURCE && c->downtime_timer)
        src_send_finished(c);
    if (c->side == NC_SIDE_DESTINATION && c->awaiting_source) {
        if (!c->source_lost)
            c->source_lost = g_strdup("a new migration of the domain began before the source's "
                                      "netcarryd said how the previous one ended");
        c->awaiting_source = FALSE;
        dest_report(c, NC_REPORT_COMPLETED, NULL);
    }
}

/*
 * src_send_classes() - capture the classes beside conntrack whole and send them (protocol 4)
 * @at_stop: FALSE: with the first copy (the destination probes against it); TRUE: after the
 *           STOP (what the destination installs), with their sums for the seal
 *
 * A destination of protocol 3 takes conntrack only: what these classes hold is then logged as not
 * carried (its report cannot know).
 */
static gboolean src_send_classes(Carry *c, gboolean at_stop, GError **error)
{
    g_autoptr(GPtrArray) msgs = NULL;
    g_autofree char *what = NULL;
    guint32 version = nc_peer_client_get_version(c->client);

    if (!c->classes)
        return TRUE;
    msgs = nc_carry_classes_capture(c->classes, at_stop);
    what = nc_carry_classes_summary(c->classes);
    if (version < NC_PEER_PROTO_CLASSES_VERSION) {
        if (msgs->len && !at_stop)
            CLOG(G_LOG_LEVEL_WARNING, c,
                 "not carried: %s (the destination speaks peer protocol %u, which carries "
                 "conntrack only: update netcarry there)",
                 what, version);
        return TRUE;
    }
    for (guint i = 0; i < msgs->len; i++)
        if (!nc_peer_client_send_items(c->client, &((NcPeerMsg *)msgs->pdata[i])->items, error))
            return FALSE;
    if (at_stop) {
        g_autoptr(GArray) sums = nc_carry_classes_sums(c->classes);

        nc_peer_client_set_seal_classes(c->client, sums);
    }
    if (*what)
        CLOG(G_LOG_LEVEL_INFO, c, "%s: %s", at_stop ? "other classes at the stop" : "other classes",
             what);
    return TRUE;
}

/* The last changes, then SEAL with this host's timeline. */
static void src_seal(Carry *c)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GArray) steps = NULL;
    gboolean witnessed;

    if (!nc_ct_follower_flush(c->follower, NC_CARRY_FLUSH_MS, &err)) {
        CLOG(G_LOG_LEVEL_WARNING, c, "flush: %s (sending what was read)", err->message);
        g_clear_error(&err);
    }
    g_clear_handle_id(&c->pump_timer, g_source_remove); /* what it waited for goes now */
    if (!src_pump(c, &err) || !src_send_classes(c, TRUE, &err)) {
        src_fail(c, err->message, TRUE);
        return;
    }
    feed(c, NC_EV_SEALED, 0, NULL);
    steps = src_timeline(c, &witnessed);
    nc_peer_client_set_seal_steps(c->client, (NcPeerSealStep *)steps->data, steps->len);
    c->state = CARRY_SEALING;
    c->seal_cancel = g_cancellable_new();
    CLOG(G_LOG_LEVEL_INFO, c, "seal: %u entries, %u changed at the stop",
         g_hash_table_size(c->sent), c->changed_at_stop);
    nc_peer_client_seal_async(c->client, g_hash_table_size(c->sent), &c->digest,
                              c->e->opt.config->seal_timeout_ms, c->seal_cancel, src_seal_done, c);
}

/* ---- source: requesters, from the TCP accept until they are served or refused ---- */

/* Whether @presented is the domain's secret: the one libvirt's metadata holds, or a fresh one on
 * its way there (known to nobody before libvirt shows it). */
static gboolean secret_valid(NcCarryEngine *e, const char *uuid, const char *presented)
{
    return nc_peer_secret_equal(g_hash_table_lookup(e->secrets, uuid), presented) ||
           nc_peer_secret_equal(g_hash_table_lookup(e->pending, uuid), presented);
}

typedef struct {
    NcCarryEngine *e;
    guint refs;    /* the engine's queue's, and one per GIO operation under way */
    gboolean gone; /* served or refused: callbacks only drop their reference */
    GSocketConnection *conn;
    char *remote;  /* address:port, for the log */
    char *address; /* the address alone, for the per-address bound */
    char *uuid;    /* once the request is read */
    guint8 buf[NC_CARRY_RV_SIZE];
    GCancellable *cancel; /* the read, the handshake, the job question */
    guint deadline;       /* authenticate_timeout_ms from the accept, until the secret is checked */
    guint job_deadline;   /* the job question's bound */
    gboolean proven;      /* proved the secret: no longer counted, nor dropped, as a stranger */
    NcPeerClient *client;
} Requester;

static Requester *requester_ref(Requester *r)
{
    r->refs++;
    return r;
}

static void requester_unref(Requester *r)
{
    if (--r->refs)
        return;
    g_clear_object(&r->cancel);
    g_clear_object(&r->conn);
    g_free(r->remote);
    g_free(r->address);
    g_free(r->uuid);
    g_free(r);
}

/* In every callback that holds a reference: FALSE (and the reference dropped) if @r is gone. */
static gboolean requester_alive(Requester *r)
{
    if (!r->gone)
        return TRUE;
    requester_unref(r);
    return FALSE;
}

/* Out of the queue; its timers, operations, client and connection end here. */
static void requester_forget(Requester *r)
{
    if (r->gone)
        return;
    r->gone = TRUE;
    g_queue_remove(&r->e->requesters, r);
    g_clear_handle_id(&r->deadline, g_source_remove);
    g_clear_handle_id(&r->job_deadline, g_source_remove);
    if (r->cancel)
        g_cancellable_cancel(r->cancel);
    g_clear_pointer(&r->client, nc_peer_client_free);
    if (r->conn && !g_io_stream_is_closed(G_IO_STREAM(r->conn)))
        g_io_stream_close_async(G_IO_STREAM(r->conn), G_PRIORITY_DEFAULT, NULL, NULL, NULL);
    requester_unref(r); /* the queue's */
}

/**
 * requester_refuse() - count, log, tell the requester if it authenticated, close, forget
 * @r:      the requester
 * @why:    the counted reason
 * @detail: the log's reason, with everything this host knows
 * @told:   (nullable): what an authenticated requester reads in the ABORT; NULL: @detail
 */
static void requester_refuse(Requester *r, NcCarryRefusal why, const char *detail, const char *told)
{
    const char *subject = r->client ? nc_peer_client_get_peer_subject(r->client) : NULL;

    log_refusal(r->e, why, r->remote, subject, r->uuid, detail);
    if (r->client && nc_peer_client_get_peer_hello(r->client))
        nc_peer_client_abort(r->client, NC_PEER_ABORT_REFUSED, told ? told : detail);
    requester_forget(r);
}

static gboolean requester_timeout(gpointer data)
{
    Requester *r = data;
    g_autofree char *why = g_strdup_printf(
        "no rendezvous request, TLS handshake and HELLO within %u ms of its connect",
        r->e->opt.config->authenticate_timeout_ms);

    r->deadline = 0;
    requester_refuse(r, NC_REFUSAL_TIMEOUT, why, NULL);
    return G_SOURCE_REMOVE;
}

static void src_client_failed(NcPeerClient *client, const GError *error, gpointer data)
{
    Carry *c = data;

    if (c->acked || c->state == CARRY_INSTALLED) {
        /* the state is installed there: only FINISHED is lost, not the carry */
        CLOG(G_LOG_LEVEL_INFO, c, "the link to the destination ended after its ACK: %s",
             error->message);
        c->acked = FALSE;
        return;
    }
    src_fail(c, error->message, TRUE);
}

static void src_job_done(GObject *src, GAsyncResult *res, gpointer data);

/* Ask libvirt (job_func) whether @uuid has an outgoing migration job; @callback gets a GTask. */
static void ask_job(NcCarryEngine *e, const char *uuid, GCancellable *cancel,
                    GAsyncReadyCallback callback, gpointer data)
{
    GTask *task = g_task_new(NULL, cancel, callback, data);

    if (!e->opt.job_func) {
        g_task_return_new_error(task, NC_ERROR, NC_ERROR_UNSUPPORTED,
                                "this netcarryd cannot ask libvirt about migration jobs");
        g_object_unref(task);
        return;
    }
    e->opt.job_func(uuid, task, e->opt.user_data);
}

static gboolean src_job_poll(gpointer data);

/* While pre-copy runs, the job is asked about again; the answer came. */
static void src_job_done(GObject *src, GAsyncResult *res, gpointer data)
{
    g_autoptr(GError) err = NULL;
    gboolean ok = g_task_propagate_boolean(G_TASK(res), &err);
    Carry *c;

    if (g_error_matches(err, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return; /* the carry went on or away: @data may be gone */
    c = data;
    g_clear_object(&c->job_cancel);
    if ((c->state != CARRY_PRECOPY && c->state != CARRY_ENDED) || c->stopped)
        return; /* at the stop the job is there by definition; the seal decides now */
    if (!ok) {
        g_autofree char *why = g_strdup_printf(
            "libvirt has no outgoing migration job for the domain any more (%s)%s", err->message,
            c->state == CARRY_PRECOPY ? ": stopped sending" : "");

        src_fail(c, why, FALSE);
        /* the migration ended before its stop, whether libvirt's events say so or not (an
         * abort before QEMU's migration began, a failed Prepare, libvirtd restarted): the
         * record ends, and the domain is taken up again here */
        feed(c, NC_EV_CARRY_FAILED, 0, why);
        return;
    }
    c->job_timer = g_timeout_add(NC_CARRY_JOB_POLL_MS, src_job_poll, c);
}

static gboolean src_job_poll(gpointer data)
{
    Carry *c = data;

    c->job_timer = 0;
    if ((c->state != CARRY_PRECOPY && c->state != CARRY_ENDED) || c->stopped)
        return G_SOURCE_REMOVE;
    c->job_cancel = g_cancellable_new();
    ask_job(c->e, c->uuid, c->job_cancel, src_job_done, c);
    return G_SOURCE_REMOVE;
}

/**
 * requester_serve() - the requester proved the secret and libvirt vouched: start the carry
 * @r: the requester (consumed)
 *
 * A carry of the domain that exists already is replaced: this request is the newer of two
 * authenticated ones for the same migration, and the older link is closed.
 */
static void requester_serve(Requester *r)
{
    NcCarryEngine *e = r->e;
    Local *l = g_hash_table_lookup(e->locals, r->uuid);
    Carry *old = carry_lookup(e, NC_SIDE_SOURCE, r->uuid);
    g_autoptr(GError) err = NULL;
    Carry *c;

    if (!l) { /* it stopped while libvirt was asked */
        requester_refuse(r, NC_REFUSAL_NOT_MIGRATING, "the domain stopped running here", NULL);
        return;
    }
    /* a renewal published while libvirt was asked voids the secret it proved */
    if (!secret_valid(e, r->uuid, nc_peer_client_get_peer_hello(r->client)->secret)) {
        requester_refuse(r, NC_REFUSAL_SECRET,
                         "its rendezvous secret was renewed while libvirt was asked",
                         "not authorised: no valid rendezvous secret for this domain here");
        return;
    }
    if (old && old->client) {
        CLOG(G_LOG_LEVEL_MESSAGE, old, "a newer authenticated request from %s replaces this carry",
             r->remote);
        old->replaced = TRUE; /* its end is not the migration's failure */
        nc_peer_client_abort(old->client, NC_PEER_ABORT_CANCELLED,
                             "a newer authenticated request for this migration replaced this link");
    }
    c = carry_new(e, NC_SIDE_SOURCE, r->uuid, l->name);
    /* the carry's own copy: the domain leaves the locals when it stops (Stopped/Migrated may
     * come before the migration's end, when the clean-up needs it) */
    selector_copy(&c->sel, &l->sel);
    c->classes = nc_carry_classes_new(e->netns, nc_owner_copy(l->owner));
    c->sent = entry_table_new();
    nc_peer_digest_init(&c->digest);
    c->client = g_steal_pointer(&r->client);
    nc_peer_client_set_failed_func(c->client, src_client_failed, c);
    /* the client now owns the link: forget @r without cancelling what the client watches (its
     * connect's cancellable) or closing the connection under it */
    g_clear_object(&r->cancel);
    g_clear_object(&r->conn);
    requester_forget(r);
    c->follower = nc_ct_follower_new(e->netns, &c->sel, 0, &err);
    if (!c->follower) {
        src_fail(c, err->message, TRUE);
        return;
    }
    c->state = CARRY_PRECOPY;
    feed(c, NC_EV_PEER_CONNECTED, 0, NULL);
    CLOG(G_LOG_LEVEL_INFO, c,
         "destination %s (%s, certificate subject %s) proved the secret; "
         "libvirt has the outgoing job: pre-copy",
         nc_peer_client_get_peer_hello(c->client)->host, nc_peer_client_get_remote(c->client),
         nc_peer_client_get_peer_subject(c->client));
    nc_ct_follower_set_notify(c->follower, src_on_follower, c);
    if (!src_pump(c, &err) || !src_send_classes(c, FALSE, &err)) {
        src_fail(c, err->message, TRUE);
        return;
    }
    /* the first copy is queued: an empty chunk marks its end (the destination's admission waits
     * for it, so the bulk is installed before libvirt starts the migration) */
    if (!nc_peer_client_send_state(c->client, NULL, NULL, &err)) {
        src_fail(c, err->message, TRUE);
        return;
    }
    c->last_send_us = g_get_monotonic_time();
    c->keepalive = g_timeout_add(MAX(e->idle_ms / 4, 10), src_keepalive, c);
    c->job_timer = g_timeout_add(NC_CARRY_JOB_POLL_MS, src_job_poll, c);
    /* the guest stopped while the destination was being checked */
    if (e->opt.phases && nc_phase_tracker_current(e->opt.phases, c->uuid, NC_SIDE_SOURCE, NULL) ==
                             NC_PHASE_STOP_AND_COPY) {
        c->stopped = TRUE;
        c->stopped_us = g_get_real_time();
        src_seal(c);
    }
}

static gboolean requester_job_timeout(gpointer data)
{
    Requester *r = data;
    g_autofree char *why = g_strdup_printf("libvirt did not say within %u ms whether the domain "
                                           "is migrating away",
                                           r->e->opt.config->peer_connect_timeout_ms);

    r->job_deadline = 0;
    requester_refuse(r, NC_REFUSAL_NOT_MIGRATING, why, NULL);
    return G_SOURCE_REMOVE;
}

static void requester_job_done(GObject *src, GAsyncResult *res, gpointer data)
{
    g_autoptr(GError) err = NULL;
    gboolean ok = g_task_propagate_boolean(G_TASK(res), &err);
    Requester *r = data;

    if (!requester_alive(r))
        return;
    requester_unref(r); /* the queue's reference remains */
    g_clear_handle_id(&r->job_deadline, g_source_remove);
    if (!ok) {
        g_autofree char *why =
            g_strdup_printf("no outgoing migration of the domain is under way on %s (%s)",
                            r->e->host_name, err->message);

        requester_refuse(r, NC_REFUSAL_NOT_MIGRATING, why, NULL);
        return;
    }
    requester_serve(r);
}

/* TLS and HELLO done: check the secret, then ask libvirt. */
static void requester_connected(GObject *src, GAsyncResult *res, gpointer data)
{
    g_autoptr(GError) err = NULL;
    Requester *r = data;
    const NcPeerHello *hello;

    g_task_propagate_boolean(G_TASK(res), &err);
    if (!requester_alive(r))
        return;
    requester_unref(r); /* the queue's reference remains */
    if (err) {
        requester_refuse(r, NC_REFUSAL_TLS, err->message, NULL);
        return;
    }
    hello = nc_peer_client_get_peer_hello(r->client);
    /* an unknown domain and a wrong secret look the same to the requester */
    if (!g_hash_table_contains(r->e->locals, r->uuid) ||
        !secret_valid(r->e, r->uuid, hello->secret)) {
        const char *why = !g_hash_table_contains(r->e->locals, r->uuid)
                              ? "the domain does not run here"
                          : !hello->secret || !*hello->secret
                              ? "it presented no rendezvous secret"
                              : "it presented a rendezvous secret that is not the domain's";

        requester_refuse(r, NC_REFUSAL_SECRET, why,
                         "not authorised: no valid rendezvous secret for this domain here");
        return;
    }
    g_clear_handle_id(&r->deadline, g_source_remove);
    r->proven = TRUE;
    r->job_deadline =
        g_timeout_add(r->e->opt.config->peer_connect_timeout_ms, requester_job_timeout, r);
    ask_job(r->e, r->uuid, r->cancel, requester_job_done, requester_ref(r));
}

/* "OK" or "NO <reason>" (at most 60 characters: the answer is fixed-size). */
static void rv_answer(Requester *r, const char *text)
{
    char ans[NC_CARRY_RV_SIZE];

    memset(ans, ' ', sizeof(ans));
    memcpy(ans, text, MIN(strlen(text), sizeof(ans) - 1));
    ans[sizeof(ans) - 1] = '\n';
    /* 64 bytes into a fresh socket's empty buffer: does not block */
    g_output_stream_write_all(g_io_stream_get_output_stream(G_IO_STREAM(r->conn)), ans, sizeof(ans),
                              NULL, NULL, NULL);
}

static void requester_read(GObject *src, GAsyncResult *res, gpointer data)
{
    g_autoptr(GError) err = NULL;
    gsize n = 0;
    g_autofree char *req = NULL;
    const NcConfig *cfg;
    NcCarryEngine *e;
    Requester *r;

    g_input_stream_read_all_finish(G_INPUT_STREAM(src), res, &n, &err);
    r = data;
    if (!requester_alive(r))
        return;
    requester_unref(r); /* the queue's reference remains */
    e = r->e;
    cfg = e->opt.config;
    if (err || n < NC_CARRY_RV_SIZE) {
        g_autofree char *why = g_strdup_printf("the rendezvous request was not completed: %s",
                                               err ? err->message : "closed");
        requester_refuse(r, NC_REFUSAL_MALFORMED, why, NULL);
        return;
    }
    req = g_strstrip(g_strndup((char *)r->buf, NC_CARRY_RV_SIZE));
    if (!g_str_has_prefix(req, NC_CARRY_RV_MAGIC) ||
        !g_uuid_string_is_valid(req + strlen(NC_CARRY_RV_MAGIC))) {
        requester_refuse(r, NC_REFUSAL_MALFORMED, "not a netcarry rendezvous request", NULL);
        return;
    }
    r->uuid = g_ascii_strdown(req + strlen(NC_CARRY_RV_MAGIC), -1);
    r->client =
        nc_peer_client_new(cfg->tls_ca_file, cfg->tls_client_cert, cfg->tls_client_key, &err);
    if (!r->client ||
        !nc_peer_client_set_crl(r->client, cfg->tls_crl_file, cfg->tls_ca_file, &err)) {
        g_warning("cannot serve a rendezvous request from %s: %s", r->remote, err->message);
        rv_answer(r, "NO this host cannot load its TLS files");
        requester_forget(r);
        return;
    }
    /* the same answer for every well-formed request: nothing here says what runs on this host */
    rv_answer(r, "OK");
    nc_peer_client_set_timeouts(r->client, cfg->peer_connect_timeout_ms,
                                NC_PEER_DEFAULT_IO_TIMEOUT_MS);
    nc_peer_client_set_host_name(r->client, e->host_name);
    nc_peer_client_connect_stream_async(r->client, r->conn, r->uuid, r->cancel, requester_connected,
                                        requester_ref(r));
}

static gboolean src_incoming(GSocketService *service, GSocketConnection *conn,
                             GObject *source_object, gpointer data)
{
    NcCarryEngine *e = data;
    g_autoptr(GSocketAddress) addr = g_socket_connection_get_remote_address(conn, NULL);
    Requester *r = g_new0(Requester, 1);
    guint same = 0;

    r->e = e;
    r->refs = 1;
    r->conn = g_object_ref(conn);
    r->remote = addr ? describe_socket_address(addr, TRUE) : g_strdup("(unknown)");
    r->address = addr ? describe_socket_address(addr, FALSE) : g_strdup("(unknown)");
    Requester *oldest = NULL;
    guint strangers = 0;

    /* the bounds hold strangers only: a requester that proved the secret is no longer one */
    for (GList *l = e->requesters.head; l; l = l->next) {
        Requester *q = l->data;

        if (q->proven)
            continue;
        strangers++;
        if (!oldest)
            oldest = q;
        if (g_str_equal(q->address, r->address))
            same++;
    }
    if (same >= NC_CARRY_UNAUTH_PER_ADDRESS) {
        g_autofree char *why =
            g_strdup_printf("%u requesters from this address are unauthenticated already", same);

        log_refusal(e, NC_REFUSAL_LIMIT, r->remote, NULL, NULL, why);
        g_io_stream_close(G_IO_STREAM(conn), NULL, NULL);
        requester_unref(r);
        return TRUE;
    }
    if (strangers >= NC_CARRY_UNAUTH_MAX)
        requester_refuse(oldest, NC_REFUSAL_LIMIT,
                         "dropped, the oldest of " G_STRINGIFY(
                             NC_CARRY_UNAUTH_MAX) " unauthenticated requesters, for a newer one",
                         NULL);
    g_queue_push_tail(&e->requesters, r);
    r->cancel = g_cancellable_new();
    r->deadline = g_timeout_add(e->opt.config->authenticate_timeout_ms, requester_timeout, r);
    g_input_stream_read_all_async(g_io_stream_get_input_stream(G_IO_STREAM(conn)), r->buf,
                                  sizeof(r->buf), G_PRIORITY_DEFAULT, r->cancel, requester_read,
                                  requester_ref(r));
    return TRUE;
}

gboolean nc_carry_engine_add_local(NcCarryEngine *engine, const NcDomain *domain, GError **error)
{
    g_autoptr(GArray) addrs = nc_domain_addresses(domain, error);
    g_autoptr(NcOwner) owner = addrs ? nc_domain_owner(domain, error) : NULL;
    Local *l;

    if (!owner)
        return FALSE;
    l = g_new0(Local, 1);
    l->owner = g_steal_pointer(&owner);
    l->uuid = g_strdup(domain->uuid);
    l->name = g_strdup(domain->name);
    selector_from_domain(&l->sel, domain, g_steal_pointer(&addrs));
    g_hash_table_replace(engine->locals, l->uuid, l);
    g_debug("domain %s (source, phase none): runs here with %u addresses", l->uuid,
            l->sel.addresses->len);
    return TRUE;
}

/* The domain no longer runs here (or left by migration): no request for it can be served, and
 * its secret is void. */
void nc_carry_engine_remove_local(NcCarryEngine *engine, const char *uuid)
{
    g_hash_table_remove(engine->locals, uuid);
    g_hash_table_remove(engine->secrets, uuid);
    g_hash_table_remove(engine->pending, uuid);
}

static void secret_free(char *secret)
{
    explicit_bzero(secret, strlen(secret));
    g_free(secret);
}

NcProfile *nc_carry_engine_rendezvous_profile(NcCarryEngine *engine, const char *uuid,
                                              const NcProfile *current)
{
    NcProfile *p = current ? nc_profile_copy(current) : nc_profile_new();
    g_autofree char *mig = g_uuid_string_random();
    const char *host = engine->opt.config->listen_address;
    char *secret = nc_peer_secret_new();

    /* a wildcard listen address is no place to dial: name the host instead */
    if (!host || !strcmp(host, "0.0.0.0") || !strcmp(host, "::"))
        host = engine->host_name;
    g_clear_pointer(&p->rendezvous, nc_rendezvous_free);
    p->rendezvous = nc_rendezvous_new(host, engine->port, engine->host_name, mig);
    p->rendezvous->secret = g_strdup(secret);
    /* The previous secret stays valid until libvirt holds this one
     * (nc_carry_engine_secret_published): the metadata write waits for libvirt's job lock and
     * may fail, and until it lands every destination still reads the previous one. The fresh
     * one is valid at once too: nobody knows it before libvirt shows it. */
    g_hash_table_replace(engine->pending, g_strdup(uuid), secret);
    return p;
}

void nc_carry_engine_secret_published(NcCarryEngine *engine, const char *uuid, const char *secret)
{
    const char *fresh = g_hash_table_lookup(engine->pending, uuid);

    /* a newer renewal may be on its way already: only that one's write may void the others */
    if (!fresh || !nc_peer_secret_equal(fresh, secret))
        return;
    /* from now on the previous secret is void: whoever read it cannot use it */
    g_hash_table_replace(engine->secrets, g_strdup(uuid), g_strdup(secret));
    g_hash_table_remove(engine->pending, uuid);
}

void nc_carry_engine_source_stopped(NcCarryEngine *engine, const char *uuid, gint64 time_us)
{
    Carry *c = carry_lookup(engine, NC_SIDE_SOURCE, uuid);

    if (!c || c->state == CARRY_ENDED || c->stopped)
        return;
    c->stopped = TRUE;
    c->stopped_us = time_us ? time_us : g_get_real_time();
    CLOG(G_LOG_LEVEL_INFO, c, "the guest stopped: sealing");
    if (c->state == CARRY_PRECOPY)
        src_seal(c);
}

/* ---- both sides ---- */

void nc_carry_engine_finished(NcCarryEngine *engine, const char *uuid, NcSide side,
                              NcCarryOutcome outcome, const char *reason)
{
    Carry *c = carry_lookup(engine, side, uuid);

    if (!c)
        return;
    if (c->awaiting_source || c->downtime_timer)
        return; /* told twice: the first call's end is under way */
    if (side == NC_SIDE_DESTINATION) {
        if (outcome == NC_CARRY_COMPLETED && c->state == CARRY_INSTALLED) {
            c->state = CARRY_ENDED;
            c->awaiting_source = TRUE;
            if (!c->source_end && !c->source_lost && c->server) {
                c->finish_timer = g_timeout_add(engine->finish_wait_ms, dest_finish_timeout, c);
                CLOG(G_LOG_LEVEL_INFO, c,
                     "completed here; the report waits at most %u ms for the source's end",
                     engine->finish_wait_ms);
                return;
            }
            if (!c->source_end && !c->source_lost)
                c->source_lost = g_strdup("the link to the source's netcarryd is gone");
            dest_report_completed(c); /* forgets @c */
            return;
        } else if (outcome == NC_CARRY_COMPLETED) {
            g_autofree char *why =
                g_strdup_printf("the migration completed but the state was not sealed%s%s",
                                c->failure ? ": " : "", c->failure ? c->failure : "");

            if (c->state != CARRY_ENDED) {
                /* keep the pre-copied entries (the domain's own); never keep the guest cut off */
                c->state = CARRY_ENDED;
                carry_stop_io(c);
                g_clear_pointer(&c->server, nc_peer_server_free);
                dest_remove_gate(c, "removing");
                feed(c, NC_EV_CARRY_FAILED, 0, why);
            }
            dest_report(c, c->risk ? NC_REPORT_COMPLETED : NC_REPORT_FAILED, why);
        } else {
            gboolean cancelled = outcome == NC_CARRY_CANCELLED;
            const char *ended = cancelled ? "the migration was cancelled" : "the migration failed";
            /* the carry's own failure first: it may be why the migration failed (refuse) */
            g_autofree char *why = c->failure ? g_strdup_printf("%s (%s%s%s)", c->failure, ended,
                                                                reason ? ": " : "", reason ? reason : "")
                                              : g_strdup(reason ? reason : ended);
            /* a carry that already installed is rolled back too: the guest is not here */
            if (c->state == CARRY_INSTALLED) {
                c->state = CARRY_PRECOPY;
                g_clear_pointer(&c->failure, g_free);
            }
            dest_fail(c, why, cancelled);
            dest_report(c, cancelled ? NC_REPORT_CANCELLED : NC_REPORT_FAILED, why);
        }
    } else {
        if (outcome == NC_CARRY_COMPLETED && engine->opt.config->cleanup_source) {
            g_autoptr(GError) err = NULL;
            g_autoptr(NcCt) ct = NULL;
            guint n = 0;

            if ((ct = nc_ct_open(engine->netns, &err)) != NULL &&
                nc_ct_remove(ct, &c->sel, &n, &err)) {
                c->removed_at_source = n;
                c->cleanup_ran = TRUE;
                CLOG(G_LOG_LEVEL_INFO, c, "removed the domain's %u entries here", n);
            } else if (err) {
                CLOG(G_LOG_LEVEL_WARNING, c, "removing the domain's entries here failed: %s",
                     err->message);
            }
            if (c->acked && c->classes)
                c->classes_removed = nc_carry_classes_cleanup(c->classes);
        }
        if (outcome == NC_CARRY_COMPLETED)
            nc_carry_engine_remove_local(engine, uuid);
        c->state = CARRY_ENDED;
        carry_stop_io(c);
        g_clear_pointer(&c->follower, nc_ct_follower_free);
        c->outcome = peer_outcome(outcome);
        g_free(c->outcome_reason);
        c->outcome_reason = g_strdup(outcome == NC_CARRY_COMPLETED ? "" : reason ? reason : "");
        if (c->acked && outcome == NC_CARRY_COMPLETED && engine->opt.phases &&
            nc_phase_tracker_downtime_ms(engine->opt.phases, uuid, NC_SIDE_SOURCE) < 0) {
            c->downtime_deadline_us =
                g_get_monotonic_time() + NC_CARRY_DOWNTIME_WAIT_MS * (gint64)1000;
            c->downtime_timer = g_timeout_add(NC_CARRY_DOWNTIME_POLL_MS, src_downtime_poll, c);
            CLOG(G_LOG_LEVEL_INFO, c, "finished (completed); FINISHED waits for the downtime");
            return;
        }
        src_send_finished(c);
    }
    CLOG(G_LOG_LEVEL_INFO, c, "finished (%s)",
         outcome == NC_CARRY_COMPLETED ? "completed"
         : outcome == NC_CARRY_FAILED  ? "failed"
                                       : "cancelled");
    carry_forget(c);
}

char **nc_carry_engine_arrivals(NcCarryEngine *engine)
{
    g_autoptr(GStrvBuilder) b = g_strv_builder_new();
    GHashTableIter it;
    gpointer v;

    g_hash_table_iter_init(&it, engine->carries);
    while (g_hash_table_iter_next(&it, NULL, &v)) {
        Carry *c = v;

        if (c->side == NC_SIDE_DESTINATION && c->state == CARRY_ENDED && !c->awaiting_source)
            g_strv_builder_add(b, c->uuid);
    }
    return g_strv_builder_end(b);
}

char *nc_carry_engine_status(NcCarryEngine *engine)
{
    GString *s = g_string_new(NULL);
    GHashTableIter it;
    gpointer v;

    g_hash_table_iter_init(&it, engine->carries);
    while (g_hash_table_iter_next(&it, NULL, &v)) {
        g_autofree char *line = carry_status_line(v);

        g_string_append_printf(s, "%s\n", line);
    }
    for (GList *l = engine->ended.head; l; l = l->next)
        g_string_append_printf(s, "%s (ended)\n", (char *)l->data);
    {
        guint total = 0;

        for (guint i = 0; i < NC_REFUSAL_LAST; i++)
            total += engine->refused[i];
        g_string_append_printf(s, "refused: %u (", total);
        for (guint i = 0; i < NC_REFUSAL_LAST; i++)
            g_string_append_printf(s, "%s%s=%u", i ? " " : "", refusal_names[i],
                                   engine->refused[i]);
        g_string_append_printf(s, "), unauthenticated now: %u\n",
                               g_queue_get_length(&engine->requesters));
    }
    return g_string_free(s, FALSE);
}

gboolean nc_carry_engine_sweep_gates(NcCarryEngine *engine, GError **error)
{
    g_autoptr(GPtrArray) gates = nc_gate_list(engine->netns, error);

    if (!gates)
        return FALSE;
    for (guint i = 0; i < gates->len; i++) {
        NcGate *g = g_ptr_array_index(gates, i);
        Carry *c = carry_lookup(engine, NC_SIDE_DESTINATION, g->domain_uuid);

        if (c && c->gate_closed)
            continue;
        g_message("domain %s (destination, phase none): removing a gate on %s that belongs to no "
                  "carry",
                  g->domain_uuid, g->ifname ? g->ifname : "(no device)");
        if (!nc_gate_open(engine->netns, g->domain_uuid, NULL, error))
            return FALSE;
    }
    return TRUE;
}

/* ---- the engine ---- */

/* One ctnetlink listener for the engine's lifetime (see the blind spot above): subscribed to
 * conntrack events, with a socket filter that drops every message, so it never reads anything. */
static int open_sentinel(const char *netns, GError **error)
{
    struct sock_filter drop = BPF_STMT(BPF_RET | BPF_K, 0);
    struct sock_fprog prog = {1, &drop};
    struct sockaddr_nl sa = {.nl_family = AF_NETLINK,
                             .nl_groups = NF_NETLINK_CONNTRACK_NEW | NF_NETLINK_CONNTRACK_UPDATE |
                                          NF_NETLINK_CONNTRACK_DESTROY};
    int fd = nc_netns_socket(netns, AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER, error);

    if (fd < 0)
        return -1;
    if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) < 0 ||
        bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        int errsv = errno;

        close(fd);
        g_set_error(error, NC_ERROR, NC_ERROR_NETLINK,
                    "cannot subscribe to conntrack events in network namespace %s: %s",
                    netns ? netns : "(own)", g_strerror(errsv));
        return -1;
    }
    return fd;
}

static void local_free(Local *l)
{
    selector_clear(&l->sel);
    nc_owner_free(l->owner);
    g_free(l->uuid);
    g_free(l->name);
    g_free(l);
}

NcCarryEngine *nc_carry_engine_new(const NcCarryOptions *options, GError **error)
{
    g_autoptr(NcCarryEngine) e = g_new0(NcCarryEngine, 1);
    const NcConfig *cfg = options->config;
    g_autoptr(GInetAddress) ia = NULL;
    g_autoptr(GSocketAddress) sa = NULL;
    g_autoptr(GSocketAddress) bound = NULL;
    g_autoptr(GSocket) sock = NULL;
    g_autoptr(GError) err = NULL;
    int fd;

    e->opt = *options;
    e->netns = g_strdup(options->netns);
    e->host_name = g_strdup(options->host_name ? options->host_name : g_get_host_name());
    e->opt.netns = e->netns;
    e->opt.host_name = e->host_name;
    e->idle_ms = options->peer_idle_ms ? options->peer_idle_ms : NC_PEER_DEFAULT_IDLE_TIMEOUT_MS;
    e->finish_wait_ms = options->finish_wait_ms ? options->finish_wait_ms : NC_CARRY_FINISH_WAIT_MS;
    e->sentinel_fd = -1;
    e->locals = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify)local_free);
    e->secrets =
        g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)secret_free);
    e->pending =
        g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)secret_free);
    g_queue_init(&e->requesters);
    e->carries = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    g_queue_init(&e->ended);
    e->sentinel_fd = open_sentinel(e->netns, error);
    if (e->sentinel_fd < 0)
        return NULL;

    ia = g_inet_address_new_from_string(cfg->listen_address);
    if (!ia) {
        g_set_error(error, NC_ERROR, NC_ERROR_INVALID_ARG,
                    "listen address '%s' is not an IPv4 or IPv6 address: fix [listen] address in "
                    "netcarry.conf",
                    cfg->listen_address);
        return NULL;
    }
    sa = g_inet_socket_address_new(ia, cfg->listen_port);
    fd = nc_netns_socket(e->netns,
                         g_inet_address_get_family(ia) == G_SOCKET_FAMILY_IPV6 ? AF_INET6 : AF_INET,
                         SOCK_STREAM | SOCK_CLOEXEC, 0, error);
    if (fd < 0)
        return NULL;
    sock = g_socket_new_from_fd(fd, error);
    if (!sock) {
        close(fd);
        return NULL;
    }
    g_socket_set_option(sock, SOL_SOCKET, SO_REUSEADDR, 1, NULL);
    if (!g_socket_bind(sock, sa, TRUE, &err) || !g_socket_listen(sock, &err)) {
        g_set_error(error, NC_ERROR, NC_ERROR_IO, "cannot listen on %s port %u: %s",
                    cfg->listen_address, cfg->listen_port, err->message);
        return NULL;
    }
    bound = g_socket_get_local_address(sock, NULL);
    e->port = bound ? g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(bound)) : 0;
    e->service = g_socket_service_new();
    if (!g_socket_listener_add_socket(G_SOCKET_LISTENER(e->service), sock, NULL, &err)) {
        g_set_error(error, NC_ERROR, NC_ERROR_IO, "cannot listen on %s port %u: %s",
                    cfg->listen_address, cfg->listen_port, err->message);
        return NULL;
    }
    g_signal_connect(e->service, "incoming", G_CALLBACK(src_incoming), e);
    g_socket_service_start(e->service);
    g_info("listening for netcarry peers on %s port %u%s%s", cfg->listen_address, e->port,
           e->netns ? " in network namespace " : "", e->netns ? e->netns : "");
    return g_steal_pointer(&e);
}

guint16 nc_carry_engine_port(NcCarryEngine *engine)
{
    return engine->port;
}

void nc_carry_engine_free(NcCarryEngine *engine)
{
    GHashTableIter it;
    gpointer v;

    if (!engine)
        return;
    if (engine->service) {
        g_socket_service_stop(engine->service);
        g_socket_listener_close(G_SOCKET_LISTENER(engine->service));
        g_signal_handlers_disconnect_by_data(engine->service, engine);
        g_clear_object(&engine->service);
    }
    /* carries in progress end as failed, and the destination's roll back */
    if (engine->carries) {
        g_hash_table_iter_init(&it, engine->carries);
        while (g_hash_table_iter_next(&it, NULL, &v)) {
            Carry *c = v;

            /* an ended carry's entries stay: the guest runs here (completed, or kept) */
            if (c->side == NC_SIDE_DESTINATION && c->state != CARRY_ENDED &&
                c->state != CARRY_INSTALLED)
                dest_fail(c, "netcarryd is shutting down", FALSE);
            if (c->awaiting_source)
                CLOG(G_LOG_LEVEL_WARNING, c,
                     "shutting down: the report of the completed "
                     "migration is not stored (it waited for the "
                     "source's end)");
            carry_free(c);
        }
        g_hash_table_unref(engine->carries);
    }
    while (!g_queue_is_empty(&engine->requesters))
        requester_forget(g_queue_peek_head(&engine->requesters));
    g_clear_pointer(&engine->locals, g_hash_table_unref);
    g_clear_pointer(&engine->secrets, g_hash_table_unref);
    g_clear_pointer(&engine->pending, g_hash_table_unref);
    g_queue_clear_full(&engine->ended, g_free);
    if (engine->sentinel_fd >= 0)
        close(engine->sentinel_fd);
    g_free(engine->netns);
    g_free(engine->host_name);
    g_free(engine);
}
