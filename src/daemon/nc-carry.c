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
 * Destination. admit_async() checks the kernel (ctnetlink usable, conntrack table below 90 % full,
 * nf_conntrack_events not 0), then dials within the connect timeout, and answers TRUE once the
 * source accepted and its first copy is installed, or with the source accepted when the first
 * copy stalled (90 % of hook-ms without a chunk), admission-max-ms ran out, or the hook server
 * hurried it for a hook that cannot wait (every step bounded; the caller is a hook request that
 * waits for the answer anyway: the wait delays the migration's start, never its downtime, and
 * leaves only changes for the stop). The main loop runs on meanwhile: admissions of several domains
 * proceed side by side, each answered when its own carry is ready (admit() waits for one, for
 * tests). Each STATE chunk is checked first: every upsert must belong to the addresses the
 * DESTINATION derived from the domain XML (nc_ct_entry_belongs_to()), never the source's claim; one
 * foreign entry aborts the carry (ABORT refused), nothing more is installed, and what was installed
 * is removed. Otherwise deletions and replaced entries are deleted first (an upsert of a present
 * entry is delete + create: the kernel's update cannot change NAT or clear status bits), then the
 * upserts are installed in one batch. What this carry installed is known for roll-back without a
 * second copy of it: the received set (the source's entries, the seal's count and digest), each
 * entry's zone and mark mapped, less the received entries the kernel refused (nc-carry-dest.c,
 * above dest_installed_form()); the kernel is changed first and the received set after, so a failed
 * deletion leaves its entries known.
 * Timeouts are installed as captured plus NC_CARRY_TIMEOUT_MARGIN_S, capped at this kernel's own
 * timeout for the entry's state (installed_timeout()): a copied timeout is a lower bound
 * (traffic that refreshes a timeout makes no event). The SEAL is checked against the
 * destination's own copy (nc_peer_seal_check()); then INSTALLED is fed to the phase tracker,
 * the gate opens (its held counters go to the report), in gate mode "suspend" resume_func runs,
 * and the ACK goes back. Waits: the source must send something at least every idle_ms (it sends
 * an empty chunk once idle_ms/4 passed without one), and once the guest resumed here the SEAL must
 * arrive within seal_timeout_ms. A link lost, a wait exceeded or an entry refused before the seal
 * ends the carry (dest_give_up()): under admission = refuse, while the guest has not resumed here,
 * the engine makes the migration fail (fail_func: netcarryd destroys the incoming domain) and
 * removes what it installed, so no migration completes without its state and the guest stays on the
 * source with its connections; under proceed, or once the guest runs here, it keeps what it
 * installed (the domain's own entries, nearly current), opens the gate, and the report says what
 * may be missing. An untrusted source (a foreign entry) loses what it installed either way. Giving
 * up is no phase (NC_EV_CARRY_ABANDONED): libvirt's events still end the migration, so the domain
 * is taken up wherever it runs afterwards. On finished(): COMPLETED builds the report once the
 * source's FINISHED is there (below); FAILED/CANCELLED close the link, remove every entry this
 * carry installed (kept ones too) and the gate, and report at once.
 *
 * Source. A request is served only for a domain added with add_local(), under the checks of step 4.
 * While it sends pre-copy, it asks job_func again every NC_CARRY_JOB_POLL_MS, and stops (ABORT
 * cancelled, no more state) once libvirt has no outgoing migration job for the domain. Once
 * served, a follower (nc-ct-events) for the domain's addresses is started, and its first copy
 * streams from the kernel's dump (nc-carry-src.c, src_stream_step()): a chunk's worth of rows is
 * read and sent per main-loop turn, so the destination hears after one chunk that it was accepted
 * and installs while the rest is read, and the source never holds an array of the whole table.
 * The follower reads no events while its dump runs (they wait in its socket), so changes wait
 * behind the first copy and an entry's change never overtakes it; the stop reads and sends what is
 * left of the dump, a chunk at a time, before the seal. Then its change sets go as they come. The
 * source holds each carried entry once: the follower's shadow is the only table, and it keeps the
 * count and the digest of what it handed out (the shadow minus what is dirty; each record keeps
 * its share of the digest, so the seal is O(1) at the stop: nc_ct_follower_sent()). A resync after
 * lost events is read to its end at once (not paced by the link: its events wait in the socket
 * meanwhile, and pacing them by a slow link could lose them again) and merged into the shadow:
 * what it no longer finds becomes a deletion at its end. With several conntrack points the engine
 * merges the points' followers against an NcItemSet of what it sent (nc-carry-points.c) and seals
 * that instead. At source_stopped() the follower is flushed (bounded by NC_CARRY_FLUSH_MS), the
 * last changes are sent, then the SEAL with this host's timeline; the ACK must come within
 * seal_timeout_ms. On finished(COMPLETED) the domain's entries here are removed if cleanup_source.
 * The source never changes its kernel otherwise, so failure needs no roll-back there. A carry that
 * fails before this host's stop (the link lost, the destination's ABORT, the follower) makes the
 * migration fail under admission = refuse (fail_func: netcarryd aborts libvirt's outgoing job);
 * the end of libvirt's job itself, or a newer request that replaced the carry, does not.
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
 * filter, which makes the kernel attach the extension). It subscribes to the DESTROY group only:
 * any of the three conntrack groups makes the kernel attach the extension (nfnetlink_bind()), but
 * the kernel builds an event message for every group that has a listener before the filter drops
 * it, and a NEW listener made every entry the destination installs cost a NEW message as well
 * (a third of the destination's CPU time in a 100k-entry first copy, measured with perf).
 * Entries created before netcarryd started remain blind: they are carried by the resync but a
 * later change of theirs is missed until the next resync. The destination's admission refuses
 * nf_conntrack_events=0.
 *
 * Files. This one: the engine, its carry table (one record per domain and side), logging, status
 * and finished(), which hands each side's end to dest_finished() or src_finished();
 * nc-carry-dest.c: the destination (admission, dialling, install, gate, report); nc-carry-src.c:
 * the source (local domains and secrets, the requesters, pump, seal, FINISHED);
 * nc-carry-private.h: what the three share.
 *
 * Logs (G_LOG_DOMAIN "nc-carry") name the domain UUID, the side and the phase in every message.
 */
#define G_LOG_DOMAIN "nc-carry"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/filter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>

#include "drivers/nc-gate.h"
#include "nc-carry-private.h"
#include "util/nc-error.h"
#include "util/nc-netns.h"

static const char *const refusal_names[] = {"malformed", "limit",         "timeout", "tls",
                                            "secret",    "not-migrating", "identity"};
G_STATIC_ASSERT(G_N_ELEMENTS(refusal_names) == NC_REFUSAL_LAST);

static const char *const carry_state_names[] = {"connecting", "pre-copy", "sealing", "installed",
                                                "ended"};
G_STATIC_ASSERT(G_N_ELEMENTS(carry_state_names) == CARRY_ENDED + 1);

/* ---- logging: every line names the domain, the side and the phase ---- */

const char *carry_phase(Carry *c)
{
    if (!c->e->opt.phases)
        return carry_state_names[c->state];
    return nc_phase_to_string(nc_phase_tracker_current(c->e->opt.phases, c->uuid, c->side, NULL));
}

void carry_feed(Carry *c, NcPhaseInput type, gint64 time_us, const char *reason)
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
void carry_log_refusal(NcCarryEngine *e, NcCarryRefusal why, const char *remote,
                       const char *subject, const char *uuid, const char *detail)
{
    e->refused[why]++;
    g_message("domain %s (%s, phase none): refused %s%s%s%s: %s (%s)", uuid ? uuid : "(none)",
              why == NC_REFUSAL_IDENTITY ? "destination" : "source", remote ? remote : "(unknown)",
              subject ? " (certificate subject " : "", subject ? subject : "", subject ? ")" : "",
              detail, refusal_names[why]);
}

/* ---- small helpers ---- */

static void selector_clear(NcCtSelector *sel)
{
    g_clear_pointer(&sel->addresses, g_array_unref);
}

void carry_selector_from_domain(NcCtSelector *sel, const NcDomain *domain, GArray *addresses)
{
    sel->addresses = addresses;
    if (domain->profile) {
        sel->has_zone = domain->profile->has_zone;
        sel->zone = domain->profile->zone;
        sel->has_mark = domain->profile->has_mark;
        sel->mark = domain->profile->mark;
    }
}

static char *carry_key(NcSide side, const char *uuid)
{
    return g_strdup_printf("%c:%s", side == NC_SIDE_SOURCE ? 's' : 'd', uuid);
}

Carry *carry_lookup(NcCarryEngine *e, NcSide side, const char *uuid)
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

void carry_stop_io(Carry *c)
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
    g_clear_handle_id(&c->stream_idle, g_source_remove);
    cancel_clear(&c->seal_cancel);
    g_clear_handle_id(&c->finish_timer, g_source_remove);
    g_clear_handle_id(&c->downtime_timer, g_source_remove);
    g_clear_handle_id(&c->job_timer, g_source_remove);
    cancel_clear(&c->job_cancel);
    g_clear_handle_id(&c->gate_timer, g_source_remove); /* an ended carry's gate may lapse */
}

void carry_finished_free(NcPeerFinished *f)
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
    g_clear_pointer(&c->src_points, carry_src_points_free);
    g_clear_pointer(&c->points, g_ptr_array_unref);
    g_clear_pointer(&c->client, nc_peer_client_free);
    g_clear_pointer(&c->server, nc_peer_server_free);
    g_clear_object(&c->conn);
    g_clear_object(&c->dial_socket);
    g_clear_pointer(&c->received, nc_item_set_free);
    g_clear_pointer(&c->not_installed, nc_item_set_free);
    g_clear_pointer(&c->classes, nc_carry_classes_free);
    g_clear_pointer(&c->classes_removed, g_array_unref);
    g_clear_pointer(&c->sent, nc_item_set_free);
    g_clear_pointer(&c->report_failures, g_ptr_array_unref);
    g_clear_pointer(&c->rv, nc_rendezvous_free);
    g_free(c->source_cn);
    g_clear_error(&c->admit_error);
    selector_clear(&c->sel);
    g_free(c->source_steps);
    carry_finished_free(c->source_end);
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

void carry_unref(Carry *c)
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

void carry_forget(Carry *c)
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

Carry *carry_new(NcCarryEngine *e, NcSide side, const char *uuid, const char *name)
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

/* ---- both sides ---- */

void nc_carry_engine_finished(NcCarryEngine *engine, const char *uuid, NcSide side,
                              NcCarryOutcome outcome, const char *reason)
{
    Carry *c = carry_lookup(engine, side, uuid);

    if (!c)
        return;
    if (c->awaiting_source || c->downtime_timer)
        return; /* told twice: the first call's end is under way */
    if (side == NC_SIDE_DESTINATION ? !dest_finished(c, outcome, reason)
                                    : !src_finished(c, outcome, reason))
        return; /* its end is under way (the report, or FINISHED, waits) or done */
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
 * conntrack DESTROY events only, with a socket filter that drops every message, so it never reads
 * anything. */
static int open_sentinel(const char *netns, GError **error)
{
    struct sock_filter drop = BPF_STMT(BPF_RET | BPF_K, 0);
    struct sock_fprog prog = {1, &drop};
    struct sockaddr_nl sa = {.nl_family = AF_NETLINK,
                             .nl_groups = NF_NETLINK_CONNTRACK_DESTROY};
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

static void secret_free(char *secret)
{
    explicit_bzero(secret, strlen(secret));
    g_free(secret);
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
    e->admissions = g_ptr_array_new();
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
    /* admissions in progress answer first (their carries are freed below) */
    carry_admissions_end(engine);
    g_clear_pointer(&engine->admissions, g_ptr_array_unref);
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
        src_requester_forget(g_queue_peek_head(&engine->requesters));
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
