/* nc-carry-src.c - the carry engine's source: the domains that run here and their rendezvous
 * secrets, the requesters (the rendezvous's server side), the pump, the seal and FINISHED
 *
 * Theory of operation: nc-carry.c (the rendezvous steps, its "Source." paragraph and the source's
 * end in the destination's report).
 */
#define G_LOG_DOMAIN "nc-carry"

#include <string.h>

#include "conf/nc-ip-learn.h"
#include "drivers/nc-ip-binding.h"
#include "nc-carry-private.h"
#include "util/nc-error.h"

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

static void selector_copy(NcCtSelector *to, const NcCtSelector *from)
{
    *to = *from;
    to->addresses = g_array_ref(from->addresses);
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
    g_clear_pointer(&c->src_points, carry_src_points_free);
    /* the destination learns why at once (a no-op on a link that failed already) */
    if (c->client)
        nc_peer_client_abort(c->client, NC_PEER_ABORT_CANCELLED, reason);
    carry_feed(c, NC_EV_CARRY_ABANDONED, 0, reason);
    if (fail_migration)
        e->opt.fail_func(c->uuid, NC_SIDE_SOURCE, reason, e->opt.user_data);
    /* watch libvirt's job until it ends: its end before the stop ends the record (below) */
    if (!c->stopped)
        c->job_timer = g_timeout_add(NC_CARRY_JOB_POLL_MS, src_job_poll, c);
}

/* Several points: the sent set takes @upserts and @deletes; @dels gets the deletions of what it
 * held (what the destination must delete). */
static gboolean src_sent_apply(Carry *c, GArray *upserts, GArray *deletes, GArray *dels,
                               GError **error)
{
    for (guint i = 0; deletes && i < deletes->len; i++) {
        const NcCtKey *k = &g_array_index(deletes, NcCtKey, i);
        NcCtKey pk;
        g_autoptr(GBytes) kb = NULL;
        gboolean removed = FALSE;

        memset(&pk, 0, sizeof(pk));
        pk.zone = k->zone;
        pk.orig = k->orig;
        kb = nc_peer_ct_key_canonical(&pk, error);
        if (!kb)
            return FALSE;
        nc_item_set_remove_key(c->sent, kb, &removed);
        if (removed)
            g_array_append_val(dels, pk);
    }
    for (guint i = 0; upserts && i < upserts->len; i++) {
        const NcCtEntry *en = &g_array_index(upserts, NcCtEntry, i);

        if (!nc_item_set_upsert(c->sent, g_memdup2(en, sizeof(*en)), NULL, error))
            return FALSE;
    }
    return TRUE;
}

/* Send @upserts/@deletes in chunks. With several points, keeps the sent set (its count and
 * digest go in the seal); the single follower keeps them itself (nc_ct_follower_sent()) and
 * hands out deletions only of what it handed out. */
static gboolean src_send(Carry *c, GArray *upserts, GArray *deletes, GError **error)
{
    g_autoptr(GArray) dels = NULL;
    guint n_ups = upserts ? upserts->len : 0;

    if (!c->sent) {
        dels = deletes ? g_array_ref(deletes) : g_array_new(FALSE, FALSE, sizeof(NcCtKey));
    } else {
        dels = g_array_new(FALSE, FALSE, sizeof(NcCtKey));
        if (!src_sent_apply(c, upserts, deletes, dels, error))
            return FALSE;
    }
    /* deletions first, in their own chunks, then upserts: the receiver applies a chunk's
     * deletions before its upserts, so this order is the same */
    for (guint off = 0; off < dels->len || off == 0; off += NC_PEER_CHUNK_ENTRIES) {
        g_autoptr(GArray) part = g_array_new(FALSE, FALSE, sizeof(NcCtKey));

        if (!dels->len)
            break;
        g_array_append_vals(part, &g_array_index(dels, NcCtKey, off),
                            MIN(NC_PEER_CHUNK_ENTRIES, dels->len - off));
        if (!nc_peer_client_send_state(c->client, NULL, part, error))
            return FALSE;
    }
    /* the upserts go as they are, a chunk at a time (no copy of a 100k first copy) */
    for (guint off = 0; off < n_ups; off += NC_PEER_CHUNK_ENTRIES) {
        g_autoptr(GArray) part = g_array_sized_new(FALSE, FALSE, sizeof(NcCtEntry),
                                                   MIN(NC_PEER_CHUNK_ENTRIES, n_ups - off));

        g_array_append_vals(part, &g_array_index(upserts, NcCtEntry, off),
                            MIN(NC_PEER_CHUNK_ENTRIES, n_ups - off));
        if (!nc_peer_client_send_state(c->client, part, NULL, error))
            return FALSE;
    }
    if (c->stopped)
        c->changed_at_stop += n_ups + dels->len;
    else
        c->precopied += n_ups;
    c->last_send_us = g_get_monotonic_time();
    return TRUE;
}

static gboolean src_pump_due(gpointer data);

/* The empty chunk that ends the first copy (the destination's admission waits for it), once. */
static gboolean src_mark_first_copy(Carry *c, GError **error)
{
    if (c->first_copy_marked)
        return TRUE;
    if (!nc_peer_client_send_state(c->client, NULL, NULL, error))
        return FALSE;
    c->first_copy_marked = TRUE;
    c->last_send_us = g_get_monotonic_time();
    return TRUE;
}

/* Whether the first copy (the follower's first dump) is still under way: changes wait behind it. */
static gboolean src_first_copy_streaming(Carry *c)
{
    return c->follower && nc_ct_follower_resyncing(c->follower);
}

/* The follower's changes so far (during a dump: the rows it read) go out. */
static gboolean src_send_taken(Carry *c, GError **error)
{
    g_autoptr(NcCtChanges) ch = nc_ct_follower_take_changes(c->follower);

    return !ch || src_send(c, ch->upserts, ch->deletions, error);
}

/*
 * src_stream_step() - read a chunk's worth more of the follower's dump and send it (@to_end: all
 * the rest, a chunk at a time)
 *
 * The first copy streams from the kernel's dump: a chunk per main-loop turn (src_stream_idle()),
 * read and sent, so the source holds no array of the whole table, the link writes chunk k while
 * chunk k+1 is read, and the destination starts installing after one chunk (a resync after lost
 * events is read to its end at once: src_pump()). The follower reads no events until the dump ends,
 * and changes wait behind it (src_pump()): an entry's change never overtakes its first copy. At its
 * end: the first copy's mark, and the changes that waited.
 */
static gboolean src_stream_step(Carry *c, gboolean to_end, GError **error)
{
    gboolean done = FALSE;

    do {
        if (!nc_ct_follower_resync_step(c->follower, NC_PEER_CHUNK_ENTRIES, &done, error) ||
            !src_send_taken(c, error))
            return FALSE;
    } while (to_end && !done);
    if (!done)
        return TRUE;
    g_clear_handle_id(&c->stream_idle, g_source_remove);
    if (!src_mark_first_copy(c, error))
        return FALSE;
    if (!c->stopped && !c->pump_timer) /* what changed meanwhile */
        c->pump_timer = g_timeout_add(NC_CARRY_COALESCE_MS, src_pump_due, c);
    return TRUE;
}

/* Each turn schedules the next: at once (idle) while the link keeps up, else after a pause, so
 * that a slow link leaves the rest of the table in the kernel's dump rather than in its queue. */
static gboolean src_stream_idle(gpointer data)
{
    Carry *c = data;
    g_autoptr(GError) err = NULL;

    c->stream_idle = 0; /* this source ends with this turn */
    if (c->state != CARRY_PRECOPY || !src_first_copy_streaming(c))
        return G_SOURCE_REMOVE;
    if (nc_peer_client_backlog(c->client) <= NC_CARRY_STREAM_BACKLOG &&
        !src_stream_step(c, FALSE, &err)) {
        src_fail(c, err->message, TRUE);
        return G_SOURCE_REMOVE;
    }
    if (!src_first_copy_streaming(c))
        return G_SOURCE_REMOVE;
    c->stream_idle = nc_peer_client_backlog(c->client) <= NC_CARRY_STREAM_BACKLOG
                         ? g_idle_add(src_stream_idle, c)
                         : g_timeout_add(NC_CARRY_STREAM_WAIT_MS, src_stream_idle, c);
    return G_SOURCE_REMOVE;
}

static gboolean src_pump(Carry *c, GError **error)
{
    /* changes wait behind the dump; at the stop it is read to its end at once, then they go */
    if (src_first_copy_streaming(c) && !c->stopped)
        return TRUE;

    if (c->src_points) {
        g_autoptr(GArray) ups = NULL, gone = NULL;

        if (!carry_src_points_take(c->src_points, c->sent, &ups, &gone, error))
            return FALSE;
        return !ups->len && !gone->len ? TRUE : src_send(c, ups, gone, error);
    }

    if (nc_ct_follower_needs_resync(c->follower)) {
        if (!nc_ct_follower_resync_begin(c->follower, error))
            return FALSE;
        /* only the first copy is paced by the link: while a dump runs the follower's events wait
         * in its socket, and a resync after lost events paced by a slow link could lose them
         * again, and again; a later resync is read at once (its chunks wait in the link's queue) */
        if (!c->stopped && !c->first_copy_marked) {
            c->stream_idle = g_idle_add(src_stream_idle, c);
            return src_stream_step(c, FALSE, error);
        }
    }
    if (src_first_copy_streaming(c))
        return src_stream_step(c, TRUE, error);
    return src_send_taken(c, error) && src_mark_first_copy(c, error);
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

    if (c->state != CARRY_PRECOPY || c->stream_idle) /* the first copy's chunks are flowing */
        return G_SOURCE_CONTINUE;
    /* ticks every idle/4 and sends once idle/4 passed without a chunk: the longest silence is
     * about idle/2, half the destination's bound, whatever the phase of the last chunk */
    if (g_get_monotonic_time() - c->last_send_us < (gint64)c->e->idle_ms * 1000 / 4)
        return G_SOURCE_CONTINUE;
    if (!nc_peer_client_send_state(c->client, NULL, NULL, &err)) {
        src_fail(c, err->message, TRUE);
        return G_SOURCE_CONTINUE;
    }
    CLOG(G_LOG_LEVEL_DEBUG, c, "keepalive sent (%" G_GINT64_FORMAT " ms after the last chunk)",
         (g_get_monotonic_time() - c->last_send_us) / 1000);
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
void src_send_finished(Carry *c)
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

/*
 * src_send_classes() - capture the classes beside conntrack whole and send them (protocol 4)
 * @at_stop: FALSE: before the first copy (the destination probes against it at its admission);
 *           TRUE: after the STOP (what the destination installs), with their sums for the seal
 *
 * Only the classes the destination takes (its HELLO) go. A destination of protocol 3 takes
 * conntrack only: nothing is captured (not even at the stop, which is downtime), and the log says
 * so (the destination's report cannot know).
 */
static gboolean src_send_classes(Carry *c, gboolean at_stop, GError **error)
{
    g_autoptr(GPtrArray) msgs = NULL;
    g_autofree char *what = NULL;
    g_autofree char *refused = NULL;
    guint32 version = nc_peer_client_get_version(c->client);
    static const char *const none[] = {NULL};
    const char *const *accepted =
        (const char *const *)nc_peer_client_get_peer_hello(c->client)->classes;

    if (!c->classes)
        return TRUE;
    if (version < NC_PEER_PROTO_CLASSES_VERSION) {
        if (!at_stop)
            CLOG(G_LOG_LEVEL_WARNING, c,
                 "the destination speaks peer protocol %u, which carries conntrack only: the "
                 "domain's nftables set elements, counters and quotas are not carried (update "
                 "netcarry there)",
                 version);
        return TRUE;
    }
    if (!accepted)
        accepted = none; /* a destination that names no class takes none */
    if (!at_stop && (refused = nc_carry_classes_refused(c->classes, accepted)))
        CLOG(G_LOG_LEVEL_WARNING, c, "the destination does not take class %s: not carried",
             refused);
    msgs = nc_carry_classes_capture(c->classes, at_stop, accepted);
    what = nc_carry_classes_summary(c->classes);
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
    NcDigest digest;
    guint n;

    /* the rest of the first copy, a chunk at a time, before the events behind it are read */
    if (src_first_copy_streaming(c) && !src_stream_step(c, TRUE, &err)) {
        src_fail(c, err->message, TRUE);
        return;
    }
    if (c->src_points ? !carry_src_points_flush(c->src_points, NC_CARRY_FLUSH_MS, &err)
                      : !nc_ct_follower_flush(c->follower, NC_CARRY_FLUSH_MS, &err)) {
        CLOG(G_LOG_LEVEL_WARNING, c, "flush: %s (sending what was read)", err->message);
        g_clear_error(&err);
    }
    g_clear_handle_id(&c->pump_timer, g_source_remove); /* what it waited for goes now */
    if (!src_pump(c, &err) || !src_send_classes(c, TRUE, &err)) {
        src_fail(c, err->message, TRUE);
        return;
    }
    carry_feed(c, NC_EV_SEALED, 0, NULL);
    steps = src_timeline(c, &witnessed);
    nc_peer_client_set_seal_steps(c->client, (NcPeerSealStep *)steps->data, steps->len);
    c->state = CARRY_SEALING;
    c->seal_cancel = g_cancellable_new();
    if (c->sent) {
        n = nc_item_set_count(c->sent);
        digest = *nc_item_set_digest(c->sent);
    } else {
        n = nc_ct_follower_sent(c->follower, &digest);
    }
    CLOG(G_LOG_LEVEL_INFO, c, "seal: %u entries, %u changed at the stop", n, c->changed_at_stop);
    nc_peer_client_seal_async(c->client, n, &digest, c->e->opt.config->seal_timeout_ms,
                              c->seal_cancel, src_seal_done, c);
}

/* ---- source: requesters, from the TCP accept until they are served or refused ---- */

/* Whether @presented is the domain's secret: the one libvirt's metadata holds, or a fresh one on
 * its way there (known to nobody before libvirt shows it). */
static gboolean secret_valid(NcCarryEngine *e, const char *uuid, const char *presented)
{
    return nc_peer_secret_equal(g_hash_table_lookup(e->secrets, uuid), presented) ||
           nc_peer_secret_equal(g_hash_table_lookup(e->pending, uuid), presented);
}

struct _Requester {
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
};

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
void src_requester_forget(Requester *r)
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

    carry_log_refusal(r->e, why, r->remote, subject, r->uuid, detail);
    if (r->client && nc_peer_client_get_peer_hello(r->client))
        nc_peer_client_abort(r->client, NC_PEER_ABORT_REFUSED, told ? told : detail);
    src_requester_forget(r);
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
        carry_feed(c, NC_EV_CARRY_FAILED, 0, why);
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

/*
 * src_owner_learned() - the carry's view of the domain: its local one (its XML), plus the
 * addresses libvirt's DHCP snooping learned for its interfaces (the lease file, read now). A
 * learned address is in no XML, so without this the domain's connections of it would not be
 * captured at all. (Addresses learned under CTRL_IP_LEARNING=any live only in libvirtd's memory:
 * docs/nwfilter.md.) The carry's selector gets them too.
 *
 * Return: (transfer full): the owner for the carry's classes
 */
static NcOwner *src_owner_learned(Carry *c, const NcOwner *local)
{
    NcOwner *o = nc_owner_copy(local);
    g_autoptr(GError) err = NULL;
    g_autoptr(GPtrArray) learned = nc_ip_binding_read(o, &err);
    GArray *own = g_array_new(FALSE, TRUE, sizeof(NcAddr));

    /* the carry's own array from here on: the local one is shared with the domain's entry */
    g_array_append_vals(own, c->sel.addresses->data, c->sel.addresses->len);
    g_array_unref(c->sel.addresses);
    c->sel.addresses = own;
    if (!learned) {
        CLOG(G_LOG_LEVEL_WARNING, c, "learned addresses not read: %s", err->message);
        return o;
    }
    for (guint i = 0; i < learned->len; i++) {
        const NcIpBinding *b = learned->pdata[i];
        char a[NC_ADDR_STRLEN];

        if (nc_owner_has_addr(o, &b->addr))
            continue;
        g_array_append_val(o->addresses, b->addr);
        g_array_append_val(c->sel.addresses, b->addr);
        nc_addr_format(&b->addr, a, sizeof(a));
        CLOG(G_LOG_LEVEL_INFO, c, "learned address %s (libvirt's DHCP snooping) is the domain's",
             a);
    }
    return o;
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
    g_autofree char *single_netns = NULL;
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
    c->classes = nc_carry_classes_new(e->netns, src_owner_learned(c, l->owner));
    carry_points_place_classes(e, c->classes);
    c->client = g_steal_pointer(&r->client);
    nc_peer_client_set_failed_func(c->client, src_client_failed, c);
    /* the client now owns the link: forget @r without cancelling what the client watches (its
     * connect's cancellable) or closing the connection under it */
    g_clear_object(&r->cancel);
    g_clear_object(&r->conn);
    src_requester_forget(r);
    if (!c->sel.addresses->len) {
        src_fail(c,
                 "the domain has no address yet: its interfaces' addresses are learned by "
                 "libvirt's nwfilter (CTRL_IP_LEARNING) and libvirt has learned none",
                 TRUE);
        return;
    }
    /* several conntrack points on this host ([point NAME]): one follower each, merged */
    c->src_points = carry_src_points_new(e, &c->sel, src_on_follower, c, &single_netns, &err);
    if (!c->src_points && err) {
        src_fail(c, err->message, TRUE);
        return;
    }
    if (!c->src_points && !(c->follower = nc_ct_follower_new(single_netns, &c->sel, 0, &err))) {
        src_fail(c, err->message, TRUE);
        return;
    }
    /* several points are merged against what was sent; one follower keeps that itself */
    if (c->src_points)
        c->sent = nc_item_set_new(&nc_ct_class);
    c->state = CARRY_PRECOPY;
    carry_feed(c, NC_EV_PEER_CONNECTED, 0, NULL);
    CLOG(G_LOG_LEVEL_INFO, c,
         "destination %s (%s, certificate subject %s) proved the secret; "
         "libvirt has the outgoing job: pre-copy",
         nc_peer_client_get_peer_hello(c->client)->host, nc_peer_client_get_remote(c->client),
         nc_peer_client_get_peer_subject(c->client));
    if (c->follower)
        nc_ct_follower_set_notify(c->follower, src_on_follower, c);
    /* the other classes first (small): the destination probes them when it admits, even if the
     * conntrack bulk behind them outlasts its admission's bound */
    if (!src_send_classes(c, FALSE, &err) || !src_pump(c, &err)) {
        src_fail(c, err->message, TRUE);
        return;
    }
    /* an empty chunk marks the first copy's end (the destination's admission waits for it, so
     * the bulk is installed before libvirt starts the migration): now, or once it streamed
     * (src_stream_step()) */
    if (!src_first_copy_streaming(c) && !src_mark_first_copy(c, &err)) {
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
        src_requester_forget(r);
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

gboolean src_incoming(GSocketService *service, GSocketConnection *conn, GObject *source_object,
                      gpointer data)
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

        carry_log_refusal(e, NC_REFUSAL_LIMIT, r->remote, NULL, NULL, why);
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
    carry_selector_from_domain(&l->sel, domain, g_steal_pointer(&addrs));
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

/**
 * src_finished() - the source's part of nc_carry_engine_finished(): the clean-up, then FINISHED
 * @c:       the source carry, not told before
 * @outcome: how libvirt says the migration ended
 * @reason:  (nullable): libvirt's reason
 *
 * Return: TRUE if the carry is over now (the caller logs it and forgets it); FALSE if FINISHED
 * waits for libvirt's downtime (src_downtime_poll() ends the carry)
 */
gboolean src_finished(Carry *c, NcCarryOutcome outcome, const char *reason)
{
    NcCarryEngine *engine = c->e;
    const char *uuid = c->uuid;

    /* the follower's table goes before the clean-up reads the kernel's: the two are never held
     * at once (the peak of a 250k-entry source), and the clean-up's deletions are no events to
     * read */
    g_clear_pointer(&c->follower, nc_ct_follower_free);
    g_clear_pointer(&c->src_points, carry_src_points_free);
    if (outcome == NC_CARRY_COMPLETED && engine->opt.config->cleanup_source) {
        g_autoptr(GError) err = NULL;
        guint n = 0;

        if (carry_points_remove(engine, &c->sel, &n, &err)) {
            c->removed_at_source = n;
            c->cleanup_ran = TRUE;
            CLOG(G_LOG_LEVEL_INFO, c, "removed the domain's %u entries here", n);
        } else if (err) {
            CLOG(G_LOG_LEVEL_WARNING, c, "removing the domain's entries here failed: %s",
                 err->message);
        }
        if (c->acked && c->classes &&
            nc_peer_client_get_version(c->client) >= NC_PEER_PROTO_CLASSES_VERSION)
            c->classes_removed = nc_carry_classes_cleanup(c->classes);
    }
    if (outcome == NC_CARRY_COMPLETED)
        nc_carry_engine_remove_local(engine, uuid);
    c->state = CARRY_ENDED;
    carry_stop_io(c);
    g_clear_pointer(&c->follower, nc_ct_follower_free);
    g_clear_pointer(&c->src_points, carry_src_points_free);
    c->outcome = peer_outcome(outcome);
    g_free(c->outcome_reason);
    c->outcome_reason = g_strdup(outcome == NC_CARRY_COMPLETED ? "" : reason ? reason : "");
    if (c->acked && outcome == NC_CARRY_COMPLETED && engine->opt.phases &&
        nc_phase_tracker_downtime_ms(engine->opt.phases, uuid, NC_SIDE_SOURCE) < 0) {
        c->downtime_deadline_us = g_get_monotonic_time() + NC_CARRY_DOWNTIME_WAIT_MS * (gint64)1000;
        c->downtime_timer = g_timeout_add(NC_CARRY_DOWNTIME_POLL_MS, src_downtime_poll, c);
        CLOG(G_LOG_LEVEL_INFO, c, "finished (completed); FINISHED waits for the downtime");
        return FALSE;
    }
    src_send_finished(c);
    return TRUE;
}
