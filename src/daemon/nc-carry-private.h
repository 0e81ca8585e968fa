/* nc-carry-private.h - what the carry engine's parts share: nc-carry.c (the engine, its carry
 * table, logging, status), nc-carry-dest.c (the destination) and nc-carry-src.c (the source)
 *
 * Not an API: only these three files include it, each with G_LOG_DOMAIN "nc-carry" defined first
 * (CLOG logs in it). Theory of operation: nc-carry.c.
 */
#pragma once

#include <gio/gio.h>
#include <linux/netfilter/nf_conntrack_tcp.h>

#include "conf/nc-ct-diff.h"
#include "conf/nc-ct-items.h"
#include "drivers/nc-ct-events.h"
#include "drivers/nc-ct.h"
#include "nc-carry.h"
#include "nc-carry-classes.h"
#include "nc-peer.h"

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
/* source: the first copy reads on from the dump only while at most this many chunks wait to be
 * written (the link is slower than the dump: the rest stays in the kernel, not in memory here),
 * and looks again this often while more do */
#define NC_CARRY_STREAM_BACKLOG 4
#define NC_CARRY_STREAM_WAIT_MS 1
/* source: how often libvirt is asked again during pre-copy whether the job is still there */
#define NC_CARRY_JOB_POLL_MS 1000
/* how often an admission looks whether its carry is ready (the link's handlers set its flags;
 * a poll keeps every one of them out of the admission's business): at most this much added to a
 * hook call */
#define NC_CARRY_ADMIT_POLL_MS 2

void carry_admissions_end(NcCarryEngine *e);

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

typedef enum {
    CARRY_CONNECTING, /* destination: dialling, rendezvous, TLS, HELLO */
    CARRY_PRECOPY,    /* link up, state flowing */
    CARRY_SEALING,    /* source: SEAL sent, waiting for the ACK */
    CARRY_INSTALLED,  /* destination: sealed state installed; source: ACK received */
    CARRY_ENDED,      /* finished or failed; nothing more happens */
} CarryState;

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
typedef struct _CarryPoint CarryPoint;         /* nc-carry-points.c */
typedef struct _CarrySrcPoints CarrySrcPoints; /* nc-carry-points.c */
typedef struct _Requester Requester;

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
    GPtrArray *admissions; /* GTask* of admissions in progress (nc_carry_engine_admit_async()) */
    GQueue requesters;   /* Requester*: accepted, not yet served or refused; oldest first */
    guint refused[NC_REFUSAL_LAST];
    guint finish_wait_ms;
    GQueue ended; /* char *, status lines of ended carries */
};

/* One migration on one side: the engine's table holds it under "s:uuid" or "d:uuid". The fields
 * are grouped by the side that uses them. */
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
    NcCtSelector sel; /* the domain's entries (destination: from the XML here; source: a copy) */

    /* destination */
    NcRendezvous *rv;
    char *source_cn; /* the CN of the source's certificate (HELLO): picks its [map SITE] */
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
    GPtrArray *points;          /* CarryPoint*: the conntrack points here (nc-carry-points.c) */
    NcItemSet *received;        /* nc_ct_class: the source's set as the chunks so far make it */
    NcItemSet *not_installed;   /* nc_ct_class, no digest, or NULL: received entries this carry
                                 * has not in the kernel (the rest it has; nc-carry-dest.c) */
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
    CarrySrcPoints *src_points; /* several conntrack points here: they replace @follower */
    NcItemSet *sent; /* nc_ct_class, several points only: the destination's copy as sent; the
                      * seal's count and digest (one follower keeps them: nc_ct_follower_sent()) */
    guint keepalive;
    guint pump_timer;  /* pre-copy: the pending changes go out when it fires */
    guint stream_idle; /* the first copy streams from the follower's dump, a chunk per turn */
    gboolean first_copy_marked; /* the empty chunk that ends the first copy went */
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

G_GNUC_INTERNAL const char *carry_phase(Carry *c);

#define CLOG(level, c, fmt, ...)                                                                   \
    g_log(G_LOG_DOMAIN, level, "domain %s (%s, phase %s): " fmt, (c)->uuid,                        \
          nc_side_to_string((c)->side), carry_phase(c), ##__VA_ARGS__)

/* ---- nc-carry.c: the carry table, shared helpers ---- */

G_GNUC_INTERNAL void carry_feed(Carry *c, NcPhaseInput type, gint64 time_us, const char *reason);
G_GNUC_INTERNAL void carry_log_refusal(NcCarryEngine *e, NcCarryRefusal why, const char *remote,
                                       const char *subject, const char *uuid, const char *detail);
G_GNUC_INTERNAL void carry_selector_from_domain(NcCtSelector *sel, const NcDomain *domain,
                                                GArray *addresses);
G_GNUC_INTERNAL Carry *carry_lookup(NcCarryEngine *e, NcSide side, const char *uuid);
G_GNUC_INTERNAL void carry_stop_io(Carry *c);
G_GNUC_INTERNAL void carry_finished_free(NcPeerFinished *f);
G_GNUC_INTERNAL void carry_unref(Carry *c);
G_GNUC_INTERNAL void carry_forget(Carry *c);
G_GNUC_INTERNAL Carry *carry_new(NcCarryEngine *e, NcSide side, const char *uuid, const char *name);

/* ---- nc-carry-dest.c ---- */

G_GNUC_INTERNAL void dest_remove_gate(Carry *c, const char *what);
G_GNUC_INTERNAL void dest_report(Carry *c, NcReportOutcome outcome, const char *reason);
G_GNUC_INTERNAL void dest_fail(Carry *c, const char *reason, gboolean cancelled);
G_GNUC_INTERNAL gboolean dest_finished(Carry *c, NcCarryOutcome outcome, const char *reason);

/* ---- nc-carry-points.c ---- */

G_GNUC_INTERNAL gboolean nc_carry_ct_entry_translated(const NcCtEntry *en);
G_GNUC_INTERNAL gboolean nc_carry_ct_point_form(guint roles, const NcCtEntry *en, NcCtEntry *out);
G_GNUC_INTERNAL gboolean carry_ct_map(const NcConfig *config, const char *source, NcCtEntry *en);
G_GNUC_INTERNAL GPtrArray *carry_points_new(NcCarryEngine *e);
typedef gboolean (*CarryPointCheck)(NcCarryEngine *e, const char *netns, GError **error);
G_GNUC_INTERNAL gboolean carry_points_check(NcCarryEngine *e, CarryPointCheck check,
                                            GError **error);
G_GNUC_INTERNAL gboolean carry_points_delete(GPtrArray *points, const NcCtEntry *entries, guint n,
                                             guint *n_removed, GError **error);
G_GNUC_INTERNAL gboolean carry_points_install(GPtrArray *points, const NcCtEntry *entries, guint n,
                                              GPtrArray **failures, GError **error);
G_GNUC_INTERNAL CarrySrcPoints *carry_src_points_new(NcCarryEngine *e, const NcCtSelector *sel,
                                                     NcCtFollowerNotify notify, gpointer data,
                                                     char **single_netns, GError **error);
G_GNUC_INTERNAL void carry_points_place_classes(NcCarryEngine *e, NcCarryClasses *cc);
G_GNUC_INTERNAL gboolean carry_points_remove(NcCarryEngine *e, const NcCtSelector *sel,
                                             guint *n_removed, GError **error);
G_GNUC_INTERNAL void carry_src_points_free(CarrySrcPoints *sp);
G_GNUC_INTERNAL gboolean carry_src_points_flush(CarrySrcPoints *sp, guint timeout_ms,
                                                GError **error);
G_GNUC_INTERNAL gboolean carry_src_points_take(CarrySrcPoints *sp, const NcItemSet *sent,
                                               GArray **ups, GArray **gone, GError **error);

/* ---- nc-carry-src.c ---- */

G_GNUC_INTERNAL void src_send_finished(Carry *c);
G_GNUC_INTERNAL gboolean src_finished(Carry *c, NcCarryOutcome outcome, const char *reason);
G_GNUC_INTERNAL void src_requester_forget(Requester *r);
G_GNUC_INTERNAL gboolean src_incoming(GSocketService *service, GSocketConnection *conn,
                                      GObject *source_object, gpointer data);
