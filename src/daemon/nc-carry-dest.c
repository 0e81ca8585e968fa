/* nc-carry-dest.c - the carry engine's destination: admission (kernel facts, dialling the
 * source's rendezvous), install and roll-back, the gate, the messages from the source, the report
 *
 * Theory of operation: nc-carry.c (its "Destination." paragraph, and the source's end in the
 * destination's report).
 */
#define G_LOG_DOMAIN "nc-carry"

#include <errno.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/netfilter/nf_conntrack_common.h>

#include "conf/nc-ip-learn.h"
#include "drivers/nc-gate.h"
#include "nc-carry-private.h"
#include "util/nc-error.h"
#include "util/nc-netns.h"

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

static gboolean check_kernel_in(NcCarryEngine *e, const char *netns, CtTimeouts *timeouts,
                                GError **error)
{
    KernelFacts k = {.netns = netns, .count = -1, .max = -1, .events = -1};
    g_autoptr(NcCt) ct = NULL;
    g_autoptr(GError) err = NULL;
    GThread *t;

    ct = nc_ct_open(netns, &err);
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

/* Room and events in a state point's conntrack table too (its timeouts are not used: an entry's
 * margin is capped by the engine's namespace's) */
static gboolean check_point_kernel(NcCarryEngine *e, const char *netns, GError **error)
{
    CtTimeouts unused;

    return check_kernel_in(e, netns, &unused, error);
}

/* ---- destination: install, roll back, report ---- */

/* The destination's conntrack points, their handles opened once per carry (not per STATE chunk:
 * the last chunk and the seal are in the guest's downtime). */
static GPtrArray *dest_points(Carry *c)
{
    if (!c->points)
        c->points = carry_points_new(c->e);
    return c->points;
}

/*
 * What this carry installed: derived, not kept. The destination holds each carried entry once, in
 * c->received (the source's set as the chunks so far make it: the seal's count and digest). What
 * it installed for a received entry is that entry as it is here: its zone and mark mapped (the
 * source's [map SITE] or [map], dest_installed_form(); the source is fixed at its HELLO); the
 * timeout only matters at the install. So the installed set is c->received less
 * c->not_installed: the received entries this carry did not (or no longer) put in the kernel,
 * kept by the source's key (the kernel's refusals, an EEXIST entry that is someone else's, a chunk
 * the kernel refused; normally empty). dest_apply() keeps this true at every return: the kernel is
 * changed first, and c->received only after, so that a failed deletion leaves the entries it could
 * not delete in c->received (a roll-back tries them again), and what a failed install did not put
 * in is marked. ~150 bytes an entry (one NcCtEntry in place, its index bucket) instead of two sets
 * of ~256.
 * One edge differs from keeping the installed entries apart: a map whose zone list sends two
 * source zones to one zone here can make two received entries one kernel entry; the second is
 * then refused (EEXIST, reported) instead of replacing the first.
 */

/* the entry this carry installs for @en as received: its zone and mark as they are here (checked
 * when it came) */
static NcCtEntry dest_installed_form(Carry *c, const NcCtEntry *en)
{
    NcCtEntry here = *en;

    carry_ct_map(c->e->opt.config, c->source_cn, &here);
    return here;
}

/* Whether this carry installed the received entry under @key (the source's form). */
static gboolean dest_holds(Carry *c, GBytes *key)
{
    return !c->not_installed || !nc_item_set_lookup_key(c->not_installed, key);
}

/* How many entries this carry has installed. */
static guint dest_installed_count(Carry *c)
{
    guint received = nc_item_set_count(c->received);
    guint not_in = c->not_installed ? nc_item_set_count(c->not_installed) : 0;

    return received > not_in ? received - not_in : 0;
}

#define DEST_ROLLBACK_BATCH 4096

/* Delete every entry this carry installed; nothing is installed afterwards (a second call deletes
 * nothing). */
static void dest_rollback(Carry *c)
{
    guint n = c->received ? dest_installed_count(c) : 0;

    if (n) {
        g_autoptr(GArray) batch =
            g_array_sized_new(FALSE, FALSE, sizeof(NcCtEntry), MIN(n, DEST_ROLLBACK_BATCH));
        g_autoptr(GError) first = NULL;
        guint removed = 0;
        NcItemSetIter it;
        gconstpointer item;
        gboolean more = TRUE;

        nc_item_set_iter_init(&it, c->received);
        while (more) {
            g_autoptr(GError) err = NULL;
            guint k = 0;

            more = nc_item_set_iter_next(&it, &item);
            if (more && c->not_installed && nc_item_set_count(c->not_installed)) {
                g_autoptr(GBytes) key = nc_item_set_key_of(c->received, item, NULL);

                if (!key || !dest_holds(c, key))
                    continue;
            }
            if (more) {
                NcCtEntry here = dest_installed_form(c, item);

                g_array_append_val(batch, here);
            }
            if (!batch->len || (more && batch->len < DEST_ROLLBACK_BATCH))
                continue;
            if (!carry_points_delete(dest_points(c), (NcCtEntry *)batch->data, batch->len, &k,
                                     &err) &&
                !first)
                first = g_steal_pointer(&err);
            removed += k;
            g_array_set_size(batch, 0);
        }
        if (first)
            CLOG(G_LOG_LEVEL_WARNING, c, "roll-back: removing %u installed entries failed: %s", n,
                 first->message);
        else
            CLOG(G_LOG_LEVEL_INFO, c, "roll-back: removed %u of %u installed entries", removed, n);
    }
    /* nothing of it is installed now */
    if (c->received && nc_item_set_count(c->received)) {
        nc_item_set_free(c->received);
        c->received = nc_item_set_new(&nc_ct_class);
    }
    g_clear_pointer(&c->not_installed, nc_item_set_free);
    if (c->classes)
        nc_carry_classes_rollback(c->classes);
}

/* Opens (removes) the domain's gate if it is closed; @what: "opening" or "removing", for the log.
 * Idempotent: every end of a destination carry calls it again, so a failed attempt is retried. */
void dest_remove_gate(Carry *c, const char *what)
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

/* The daemon's phase as the report's: the same names in the same order without "none"
 * (nc-report.h); -1 for none and for a value no phase has (a peer's byte). */
static int report_phase(guint phase)
{
    G_STATIC_ASSERT(NC_PHASE_CANCELLED - NC_PHASE_PREPARE == NC_REPORT_PHASE_CANCELLED);
    G_STATIC_ASSERT(NC_PHASE_LAST - NC_PHASE_PREPARE == NC_REPORT_PHASE_LAST);

    return phase >= NC_PHASE_PREPARE && phase < NC_PHASE_LAST ? (int)(phase - NC_PHASE_PREPARE)
                                                              : -1;
}

static void report_steps_from_tracker(NcReport *r, NcPhaseTracker *t, const char *uuid, NcSide side)
{
    const NcPhaseStep *steps;
    guint n = 0;

    if (!t)
        return;
    steps = nc_phase_tracker_steps(t, uuid, side, &n);
    for (guint i = 0; i < n; i++) {
        int p = report_phase(steps[i].phase);

        if (p >= 0)
            nc_report_add_step(r, side == NC_SIDE_SOURCE ? NC_REPORT_SOURCE : NC_REPORT_DESTINATION,
                               p, steps[i].pass, steps[i].time_us,
                               nc_phase_input_to_string(steps[i].cause));
    }
}

void dest_report(Carry *c, NcReportOutcome outcome, const char *reason)
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
        int p = report_phase(s->phase);

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
void dest_fail(Carry *c, const char *reason, gboolean cancelled)
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
            carry_feed(c, NC_EV_CARRY_FAILED, 0, reason);
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
    kept = c->received ? dest_installed_count(c) : 0;
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
    carry_feed(c, NC_EV_CARRY_ABANDONED, 0, c->failure);
    /* gate mode suspend: the guest waits paused for netcarry, which will not install more */
    if (!fail && cfg->gate_mode == NC_GATE_MODE_SUSPEND && c->e->opt.resume_func)
        c->e->opt.resume_func(c->uuid, c->e->opt.user_data);
}

/* If this carry installed the received entry under @key (the source's form), it goes into @del
 * (in its installed form) to be deleted before what replaces it, or as deleted. */
static void installed_to_delete(Carry *c, GBytes *key, GArray *del)
{
    const NcCtEntry *old = nc_item_set_lookup_key(c->received, key);

    if (old && dest_holds(c, key)) {
        NcCtEntry here = dest_installed_form(c, old);

        g_array_append_val(del, here);
    }
}

/* Marks the received entry under @key (the source's form) as installed by this carry or not. */
static void dest_mark(Carry *c, GBytes *key, const NcCtEntry *en, gboolean installed)
{
    if (installed) {
        if (c->not_installed)
            nc_item_set_remove_key(c->not_installed, key, NULL);
        return;
    }
    if (!c->not_installed)
        c->not_installed = nc_item_set_new_without_digest(&nc_ct_class);
    nc_item_set_upsert_copy(c->not_installed, en, NULL, NULL);
}

/* Install one chunk's changes; FALSE (with @error: one line) if the carry must stop. Whatever it
 * returns, c->received less c->not_installed is what this carry has in the kernel (above). */
static gboolean dest_apply(Carry *c, const NcPeerState *st, GError **error)
{
    g_autoptr(GArray) del = g_array_new(FALSE, FALSE, sizeof(NcCtEntry));
    g_autoptr(GArray) ups = g_array_new(FALSE, FALSE, sizeof(NcCtEntry));
    g_autoptr(GPtrArray) del_keys = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
    g_autoptr(GPtrArray) up_keys = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
    g_autoptr(GPtrArray) fails = NULL;
    g_autoptr(GError) err = NULL;
    g_autofree gboolean *bad = NULL;
    gboolean ok = TRUE, maybe_in = FALSE; /* maybe_in: the kernel may hold some of @ups */
    guint foreign = 0;

    for (guint i = 0; i < st->upserts->len; i++) {
        const NcCtEntry *en = &g_array_index(st->upserts, NcCtEntry, i);
        NcCtEntry here = *en;

        /* the zone and mark as they are here ([map]): one the map does not list is foreign */
        if (!carry_ct_map(c->e->opt.config, c->source_cn, &here)) {
            g_autofree char *what = nc_ct_entry_describe(en);

            if (foreign++ < 3)
                CLOG(G_LOG_LEVEL_WARNING, c,
                     "refusing entry %s: its zone %u or mark 0x%x is not in this host's [map]",
                     what, en->zone, en->mark);
            add_failure(c, en, "zone or mark not mapped here");
        } else if (!nc_ct_entry_belongs_to(en, c->sel.addresses) ||
                   (c->sel.has_zone && here.zone != c->sel.zone)) {
            g_autofree char *what = nc_ct_entry_describe(en);

            if (foreign++ < 3)
                CLOG(G_LOG_LEVEL_WARNING, c, "refusing entry %s: not the domain's addresses", what);
            add_failure(c, en, "address not the domain's");
        }
    }
    if (foreign) {
        g_set_error(error, NC_ERROR, NC_ERROR_PERMISSION,
                    "the source sent %u conntrack entries that do not belong to the domain "
                    "(its addresses from its XML on this host, zones and marks mapped by [map])",
                    foreign);
        return FALSE;
    }
    /* what this carry installed under a deleted or replaced key is deleted first (an update
     * cannot change NAT or clear status bits); the keys are the source's, as c->received has
     * them */
    for (guint i = 0; i < st->deletes->len; i++) {
        GBytes *k = nc_peer_ct_key_canonical(&g_array_index(st->deletes, NcCtKey, i), error);

        if (!k)
            return FALSE;
        g_ptr_array_add(del_keys, k);
        installed_to_delete(c, k, del);
    }
    for (guint i = 0; i < st->upserts->len; i++) {
        const NcCtEntry *en = &g_array_index(st->upserts, NcCtEntry, i);
        GBytes *k = nc_item_set_key_of(c->received, en, error);
        NcCtEntry here;

        if (!k)
            return FALSE;
        g_ptr_array_add(up_keys, k);
        installed_to_delete(c, k, del);
        here = dest_installed_form(c, en);
        here.timeout = installed_timeout(&c->timeouts, &here);
        g_array_append_val(ups, here);
    }
    /* a failed deletion changes nothing here: what it could not delete is still installed */
    if (del->len &&
        !carry_points_delete(dest_points(c), (NcCtEntry *)del->data, del->len, NULL, error))
        return FALSE;
    bad = g_new0(gboolean, MAX(ups->len, 1));
    if (ups->len &&
        !carry_points_install(dest_points(c), (NcCtEntry *)ups->data, ups->len, &fails, &err)) {
        /* NC_ERROR_PARTIAL: the kernel refused some and the batch was taken out again, so none
         * of @ups is in. Any other failure (a send or an answer lost, the batch's own roll-back
         * failed) leaves the outcome unknown: they count as installed, so that a roll-back
         * deletes them (a delete of an entry that is not there is no error) */
        const NcCtFailure *lost = NULL;
        guint n_lost = 0;

        if (!g_error_matches(err, NC_ERROR, NC_ERROR_PARTIAL) || !fails) {
            g_propagate_error(error, g_steal_pointer(&err));
            ok = FALSE;
            maybe_in = TRUE;
            goto received;
        }
        /* some entries were refused: one the destination has already (EEXIST) passes its
         * traffic anyway; any other refusal is a connection that dies here, which admission =
         * refuse does not accept (the migration fails); under proceed, carry the rest */
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
            ok = FALSE;
            goto received;
        }
        {
            g_autoptr(GArray) rest = g_array_new(FALSE, FALSE, sizeof(NcCtEntry));

            for (guint i = 0; i < ups->len; i++)
                if (!bad[i])
                    g_array_append_vals(rest, &g_array_index(ups, NcCtEntry, i), 1);
            g_autoptr(GError) rest_err = NULL;

            if (rest->len && !carry_points_install(dest_points(c), (NcCtEntry *)rest->data,
                                                   rest->len, NULL, &rest_err)) {
                maybe_in = !g_error_matches(rest_err, NC_ERROR, NC_ERROR_PARTIAL);
                g_propagate_error(error, g_steal_pointer(&rest_err));
                ok = FALSE;
                goto received;
            }
        }
    }
received:
    /* the source's set as this chunk makes it, then which of its entries are not installed:
     * deleted ones are gone; an upsert is, unless the kernel refused it or its batch */
    if (!nc_peer_state_apply(c->received, st, error)) {
        /* not for decoded entries (one family in all four addresses); were it so, what this
         * chunk installed would be unknown to a roll-back: out with it now */
        g_autoptr(GArray) in = g_array_new(FALSE, FALSE, sizeof(NcCtEntry));

        for (guint i = 0; (ok || maybe_in) && i < ups->len; i++)
            if (!bad[i])
                g_array_append_vals(in, &g_array_index(ups, NcCtEntry, i), 1);
        if (in->len)
            carry_points_delete(dest_points(c), (NcCtEntry *)in->data, in->len, NULL, NULL);
        return FALSE;
    }
    for (guint i = 0; i < del_keys->len; i++)
        dest_mark(c, g_ptr_array_index(del_keys, i), NULL, TRUE);
    for (guint i = 0; i < up_keys->len; i++)
        dest_mark(c, g_ptr_array_index(up_keys, i), &g_array_index(st->upserts, NcCtEntry, i),
                  (ok || maybe_in) && !bad[i]);
    return ok;
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
    carry_finished_free(c->source_end);
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

/* The learned addresses the source sent (and this host accepted) join the addresses whose
 * conntrack entries are the domain's: a DHCP-learned address is in no XML. */
static void dest_learned_addresses(Carry *c)
{
    g_autoptr(GPtrArray) learned = nc_carry_classes_learned(c->classes);

    for (guint i = 0; i < learned->len; i++) {
        const NcIpBinding *b = learned->pdata[i];
        gboolean known = FALSE;

        for (guint j = 0; j < c->sel.addresses->len; j++)
            known = known || nc_addr_equal(&g_array_index(c->sel.addresses, NcAddr, j), &b->addr);
        if (!known) {
            char a[NC_ADDR_STRLEN];

            g_array_append_val(c->sel.addresses, b->addr);
            nc_addr_format(&b->addr, a, sizeof(a));
            CLOG(G_LOG_LEVEL_INFO, c,
                 "learned address %s (from the source's nwfilter) is the "
                 "domain's here",
                 a);
        }
    }
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
            carry_log_refusal(c->e, NC_REFUSAL_IDENTITY, nc_peer_session_get_remote(session),
                              subject, c->uuid, why);
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
            carry_log_refusal(c->e, NC_REFUSAL_IDENTITY, nc_peer_session_get_remote(session),
                              subject, c->uuid, why);
            dest_fail(c, why, FALSE);
            return nc_peer_msg_new_abort(NC_PEER_ABORT_REFUSED, why);
        }
        /* zones and marks: the source's [map SITE] (by the CN checked above), else [map]; with
         * maps configured, a source no map is for numbers them in a way this host does not know
         * (docs/topology.md) */
        {
            const NcSiteMap *map;

            if (!nc_config_source_map(c->e->opt.config, cn, &map)) {
                g_autofree char *why = g_strdup_printf(
                    "the source's certificate names %s: no [map SITE] of this host's "
                    "netcarry.conf lists it in its sources, and there is no default [map], so "
                    "its zones and marks mean nothing here",
                    cn ? cn : "nobody");

                carry_log_refusal(c->e, NC_REFUSAL_IDENTITY, nc_peer_session_get_remote(session),
                                  subject, c->uuid, why);
                dest_fail(c, why, FALSE);
                return nc_peer_msg_new_abort(NC_PEER_ABORT_REFUSED, why);
            }
            if (map)
                CLOG(G_LOG_LEVEL_INFO, c, "zones and marks of source %s mapped by [map%s%s]",
                     cn ? cn : "(no CN)", map->site ? " " : "", map->site ? map->site : "");
            g_free(c->source_cn);
            c->source_cn = g_strdup(cn);
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
            carry_feed(c, NC_EV_PEER_CONNECTED, 0, NULL);
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
        if (!g_strcmp0(msg->items.klass, nc_ip_binding_class.name))
            dest_learned_addresses(c);
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
        carry_feed(c, NC_EV_PEER_STOPPED, stop_us, NULL);
        carry_feed(c, NC_EV_SEALED, 0, NULL);
        if (!nc_peer_seal_check(c->received, &msg->seal, nc_peer_session_get_chunks(session),
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
        c->installed_n = dest_installed_count(c);
        c->installed_us = g_get_real_time();
        c->state = CARRY_INSTALLED;
        g_clear_handle_id(&c->seal_timer, g_source_remove);
        carry_feed(c, NC_EV_INSTALLED, c->installed_us, NULL);
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

/* One admission in progress (the GTask's data): its carry, its bounds, and the poll that sees it
 * end.
 *
 * Bounds: reaching the source (dial, TLS, HELLO, the source's first chunk) within
 * min(3 x peer-connect-ms + the peer's I/O bound, admission-max-ms) as each step's own bound
 * adds up; then the first copy for as long as it progresses: it ends when no chunk came within
 * 90 % of hook-ms (a stalled source: admitted with the rest still coming, as before), when
 * admission-max-ms ran out since the start, or when the hook cannot wait longer
 * (nc_carry_engine_admit_hurry(): a hook without progress reports, still bound by hook-ms). */
typedef struct {
    Carry *c;
    char *uuid;
    gint64 start_us;
    gint64 handshake_us; /* the source's first chunk by then */
    gint64 cap_us;       /* start + admission-max-ms */
    guint silence_ms;    /* the longest the first copy may stall */
    gint64 progress_us;  /* when the first copy last grew */
    guint32 seen;        /* c->precopied then */
    gboolean streaming;  /* admitted: the first copy's chunks are coming */
    gboolean hurry;      /* end at the next poll */
    guint poll;
} Admission;

static void admission_free(Admission *a)
{
    g_clear_handle_id(&a->poll, g_source_remove);
    if (a->c)
        carry_unref(a->c);
    g_free(a->uuid);
    g_free(a);
}

/* The carry's side of admission is over: the source refused or failed, or it accepted and its
 * first copy is installed (or the carry ended or was replaced meanwhile). */
static gboolean admission_ready(Carry *c)
{
    return (c->admit_done && (!c->admitted || c->first_copy || c->state == CARRY_ENDED)) ||
           c->forgotten;
}

/* Settles the admission once the carry is ready or its bound ran out: the classes' probe, the
 * verdict, the GTask's result. */
static void admission_end(GTask *task)
{
    Admission *a = g_task_get_task_data(task);
    Carry *c = a->c;
    const NcConfig *cfg = c->e->opt.config;
    g_autoptr(GError) err = NULL;

    c->admitting = FALSE;
    if (c->admitted && !c->first_copy && c->state != CARRY_ENDED)
        CLOG(G_LOG_LEVEL_INFO, c, "admitted with the first copy still coming (%u entries so far)",
             c->precopied);
    /* the classes beside conntrack came before the first copy: can this host take them (their
     * sets there, of the same type, with room)? refuse: the migration is refused, naming what is
     * missing; proceed: the class is left out and reported */
    if (c->admitted && c->state != CARRY_ENDED && !c->forgotten &&
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
        gint64 now = g_get_monotonic_time();
        g_autofree char *why =
            g_strdup_printf("%s: no HELLO within %u ms%s", who, (guint)((now - a->start_us) / 1000),
                            now >= a->cap_us ? " ([timeouts] admission-max-ms)" : "");
        dest_fail(c, why, FALSE);
    }
    if (c->admitted && !c->forgotten && c->state != CARRY_ENDED) {
        g_task_return_boolean(task, TRUE);
        return;
    }
    if (c->admit_error)
        g_task_return_error(task, g_steal_pointer(&c->admit_error));
    else
        g_task_return_new_error(task, NC_ERROR, NC_ERROR_FAILED,
                                "admission of %s ended: a newer migration of the domain replaced it",
                                a->uuid);
    carry_forget(c); /* no migration happened: nothing to report */
}

/* Whether admission @a waits on at @now (its bounds: Admission). */
static gboolean admission_waits(Admission *a, gint64 now)
{
    Carry *c = a->c;

    if (admission_ready(c) || a->hurry || now >= a->cap_us)
        return FALSE;
    if (!c->admit_done)
        return now < a->handshake_us;
    if (!a->streaming || c->precopied != a->seen) {
        a->streaming = TRUE;
        a->seen = c->precopied;
        a->progress_us = now;
    }
    return now - a->progress_us < a->silence_ms * (gint64)1000;
}

static gboolean admission_poll(gpointer data)
{
    GTask *task = data;
    Admission *a = g_task_get_task_data(task);
    NcCarryEngine *e = a->c->e;

    if (admission_waits(a, g_get_monotonic_time()))
        return G_SOURCE_CONTINUE;
    a->poll = 0;
    g_ptr_array_remove(e->admissions, task);
    admission_end(task);
    g_object_unref(task);
    return G_SOURCE_REMOVE;
}

/* The engine goes away with admissions in progress: each answers "shutting down" now (its carry
 * is the engine's to free). */
void carry_admissions_end(NcCarryEngine *e)
{
    while (e->admissions && e->admissions->len) {
        GTask *task = g_ptr_array_steal_index(e->admissions, e->admissions->len - 1);
        Admission *a = g_task_get_task_data(task);

        g_clear_handle_id(&a->poll, g_source_remove);
        a->c->refs--; /* the engine frees the carry itself */
        a->c = NULL;
        g_task_return_new_error(task, NC_ERROR, NC_ERROR_FAILED, "netcarryd is shutting down");
        g_object_unref(task);
    }
}

/**
 * nc_carry_engine_admit_async() - the destination's admission at `migrate begin`, without
 * holding the main loop
 * @engine:    the engine
 * @domain:    the domain XML as the hook received it
 * @callback:  called on the thread-default main context once the source accepted and its first
 *             copy is installed, or it refused, or a bound ran out (Admission: reaching the
 *             source, a first copy that stalls, admission-max-ms), or the hook server hurried
 *             it (nc_carry_engine_admit_hurry())
 * @user_data: for @callback
 *
 * Admissions of several domains run side by side: each answers when its own carry is ready,
 * never after another's (a source that does not answer delays only its own domain's hook).
 */
void nc_carry_engine_admit_async(NcCarryEngine *engine, const NcDomain *domain,
                                 GAsyncReadyCallback callback, gpointer user_data)
{
    NcCarryEngine *e = engine;
    g_autoptr(GError) err = NULL;
    g_autoptr(GArray) addrs = NULL;
    g_autoptr(GTask) task = g_task_new(NULL, NULL, callback, user_data);
    const NcConfig *cfg = e->opt.config;
    Admission *a;
    Carry *c;
    CtTimeouts timeouts;
    g_autoptr(NcOwner) owner = NULL;

    g_task_set_source_tag(task, nc_carry_engine_admit_async);
    addrs = nc_domain_addresses(domain, &err);
    if (!addrs || !(owner = nc_domain_owner(domain, &err))) {
        g_task_return_error(task, g_steal_pointer(&err));
        return;
    }
    if (!domain->profile || !domain->profile->rendezvous) {
        g_task_return_new_error(task, NC_ERROR, NC_ERROR_NOT_FOUND,
                                "the source host runs no netcarryd (no rendezvous in the domain's "
                                "netcarry profile)");
        return;
    }
    if (!domain->profile->rendezvous->secret) {
        g_task_return_new_error(task, NC_ERROR, NC_ERROR_UNSUPPORTED,
                                "the domain's rendezvous carries no secret: the source host's "
                                "netcarryd is older than this one and cannot be asked safely "
                                "(update it)");
        return;
    }
    if (!check_kernel_in(e, e->netns, &timeouts, &err) ||
        !carry_points_check(e, check_point_kernel, &err)) {
        g_task_return_error(task, g_steal_pointer(&err));
        return;
    }
    c = carry_new(e, NC_SIDE_DESTINATION, domain->uuid, domain->name);
    c->timeouts = timeouts;
    carry_selector_from_domain(&c->sel, domain, g_steal_pointer(&addrs));
    c->rv = nc_rendezvous_copy(domain->profile->rendezvous);
    c->received = nc_item_set_new(&nc_ct_class);
    c->classes = nc_carry_classes_new(e->netns, g_steal_pointer(&owner));
    carry_points_place_classes(e, c->classes);
    c->server =
        nc_peer_server_new(cfg->tls_ca_file, cfg->tls_server_cert, cfg->tls_server_key, &err);
    if (c->server)
        nc_peer_server_set_crl(c->server, cfg->tls_crl_file, cfg->tls_ca_file, &err);
    if (err) {
        dest_fail(c, err->message, FALSE);
        g_task_return_error(task, g_steal_pointer(&err));
        carry_forget(c);
        return;
    }
    nc_peer_server_set_timeouts(c->server, cfg->peer_connect_timeout_ms,
                                NC_PEER_DEFAULT_IO_TIMEOUT_MS, e->idle_ms);
    nc_peer_server_set_host_name(c->server, e->host_name);
    nc_peer_server_set_handlers(c->server, dest_on_message, dest_on_closed, c);
    CLOG(G_LOG_LEVEL_INFO, c, "admitting: dialling the source's netcarryd at %s:%u", c->rv->host,
         c->rv->port);
    if (!dest_dial(c, &err)) {
        dest_fail(c, err->message, FALSE);
        g_task_return_error(task, g_steal_pointer(&err));
        carry_forget(c);
        return;
    }
    /* Each step has its own bound; the whole is bounded as Admission says. Once admitted, it
     * waits for the source's first copy to be installed while it progresses: the hook holds back
     * the migration's start, never its downtime, and what is installed now is not left for the
     * stop (a large table would otherwise still be streaming then). The hook server keeps the
     * hook waiting meanwhile, or hurries this admission for a hook that cannot wait. The main
     * loop runs on meanwhile (other domains' admissions and carries; a newer admission of this
     * domain may replace @c). */
    a = g_new0(Admission, 1);
    a->c = c;
    c->refs++;
    c->admitting = TRUE;
    a->uuid = g_strdup(domain->uuid);
    a->start_us = g_get_monotonic_time();
    a->cap_us = a->start_us + cfg->admission_max_ms * (gint64)1000;
    a->handshake_us =
        MIN(a->start_us +
                (3 * cfg->peer_connect_timeout_ms + NC_PEER_DEFAULT_IO_TIMEOUT_MS) * (gint64)1000,
            a->cap_us);
    a->silence_ms = MAX(cfg->hook_timeout_ms - cfg->hook_timeout_ms / 10, 1);
    g_task_set_task_data(task, a, (GDestroyNotify)admission_free);
    a->poll = g_timeout_add(NC_CARRY_ADMIT_POLL_MS, admission_poll, g_object_ref(task));
    g_ptr_array_add(e->admissions, task); /* the poll's reference */
}

/**
 * nc_carry_engine_admit_hurry() - the hook of @uuid's admission cannot wait longer (it reports no
 * progress: an older hook, bound by hook-ms alone): end the admission now with what it has
 * @engine: the engine
 * @uuid:   the domain
 *
 * As when its bound runs out: admitted with the first copy still coming, or refused if the
 * source did not answer yet. Nothing happens if no admission of @uuid is in progress.
 */
void nc_carry_engine_admit_hurry(NcCarryEngine *engine, const char *uuid)
{
    for (guint i = 0; engine->admissions && i < engine->admissions->len; i++) {
        Admission *a = g_task_get_task_data(g_ptr_array_index(engine->admissions, i));

        if (g_str_equal(a->uuid, uuid))
            a->hurry = TRUE;
    }
}

/* nc_carry_engine_admit_finish() - Return: TRUE if the carry is under way (pre-copy); FALSE with
 * one line of reason in @error (naming the source host) */
gboolean nc_carry_engine_admit_finish(NcCarryEngine *engine, GAsyncResult *result, GError **error)
{
    g_return_val_if_fail(g_task_is_valid(result, NULL), FALSE);
    return g_task_propagate_boolean(G_TASK(result), error);
}

static void admit_sync_done(GObject *source, GAsyncResult *result, gpointer data)
{
    GAsyncResult **out = data;

    *out = g_object_ref(result);
}

/**
 * nc_carry_engine_admit() - nc_carry_engine_admit_async(), waited for: iterates the
 * thread-default main context until it answers (tests; a caller that nests admissions this way
 * makes the outer one wait for the inner one, which netcarryd's hook server does not)
 * @engine: the engine
 * @domain: the domain XML as the hook received it
 * @error:  one line: why this host cannot carry the domain's state (naming the source host)
 *
 * Return: TRUE if the carry is under way (pre-copy)
 */
gboolean nc_carry_engine_admit(NcCarryEngine *engine, const NcDomain *domain, GError **error)
{
    g_autoptr(GAsyncResult) result = NULL;
    GMainContext *ctx = g_main_context_get_thread_default();

    nc_carry_engine_admit_async(engine, domain, admit_sync_done, &result);
    while (!result)
        g_main_context_iteration(ctx, TRUE);
    return nc_carry_engine_admit_finish(engine, result, error);
}

/**
 * nc_carry_engine_pin_learned() - after an admission: the domain XML with the learned addresses
 * the source sent, and this host accepted, pinned as IP parameters of their interfaces'
 * filterrefs, so that libvirt here instantiates the filter with them instead of learning again
 * (which, under CTRL_IP_LEARNING=dhcp, lasts until the guest's next DHCP renewal)
 * @engine: the engine
 * @uuid:   the admitted domain
 * @xml:    the XML libvirt gave the `migrate begin` hook
 * @error:  why pinning failed (the XML then stays as it is)
 *
 * Return: (transfer full): the new XML, or NULL: nothing to pin, or @error
 */
char *nc_carry_engine_pin_learned(NcCarryEngine *engine, const char *uuid, const char *xml,
                                  GError **error)
{
    Carry *c = carry_lookup(engine, NC_SIDE_DESTINATION, uuid);
    g_autoptr(GPtrArray) learned = NULL;
    char *out;

    if (!c || !c->classes)
        return NULL;
    learned = nc_carry_classes_learned(c->classes);
    if (!learned->len)
        return NULL;
    out = nc_ip_learn_pin_xml(xml, strlen(xml), c->name ? c->name : uuid, learned, error);
    if (out)
        CLOG(G_LOG_LEVEL_INFO, c,
             "%u learned address%s pinned in the domain XML for libvirt (no learning here)",
             learned->len, learned->len == 1 ? "" : "es");
    return out;
}

void nc_carry_engine_admit_anyway(NcCarryEngine *engine, const NcDomain *domain, const char *reason)
{
    Carry *c = carry_new(engine, NC_SIDE_DESTINATION, domain->uuid, domain->name);
    g_autofree char *why = g_strdup_printf("admitted without carrying: %s", reason);

    c->risk = TRUE;
    c->failure = g_strdup(why);
    c->received = nc_item_set_new(&nc_ct_class);
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

/**
 * dest_finished() - the destination's part of nc_carry_engine_finished()
 * @c:       the destination carry, not told before
 * @outcome: how libvirt says the migration ended
 * @reason:  (nullable): libvirt's reason
 *
 * Return: TRUE if the carry is over now (the caller logs it and forgets it); FALSE if its end is
 * under way (the report waits for the source's end) or done here already
 */
gboolean dest_finished(Carry *c, NcCarryOutcome outcome, const char *reason)
{
    NcCarryEngine *engine = c->e;

    if (outcome == NC_CARRY_COMPLETED && c->state == CARRY_INSTALLED) {
        c->state = CARRY_ENDED;
        c->awaiting_source = TRUE;
        if (!c->source_end && !c->source_lost && c->server) {
            c->finish_timer = g_timeout_add(engine->finish_wait_ms, dest_finish_timeout, c);
            CLOG(G_LOG_LEVEL_INFO, c,
                 "completed here; the report waits at most %u ms for the source's end",
                 engine->finish_wait_ms);
            return FALSE;
        }
        if (!c->source_end && !c->source_lost)
            c->source_lost = g_strdup("the link to the source's netcarryd is gone");
        dest_report_completed(c); /* forgets @c */
        return FALSE;
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
            carry_feed(c, NC_EV_CARRY_FAILED, 0, why);
        }
        dest_report(c, c->risk ? NC_REPORT_COMPLETED : NC_REPORT_FAILED, why);
    } else {
        gboolean cancelled = outcome == NC_CARRY_CANCELLED;
        const char *ended = cancelled ? "the migration was cancelled" : "the migration failed";
        /* the carry's own failure first: it may be why the migration failed (refuse) */
        g_autofree char *why = c->failure
                                   ? g_strdup_printf("%s (%s%s%s)", c->failure, ended,
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
    return TRUE;
}
