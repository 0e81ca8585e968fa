/* nc-libvirt.c - netcarryd's libvirt side: the connection, domain and QMP events into the phase
 * tracker and the carry engine, the rendezvous and report in domain metadata
 *
 * Theory of operation
 * -------------------
 * Connection. One virConnectPtr on libvirt's event loop (libvirt-glib's GLib integration,
 * registered by netcarryd). A close callback notices libvirtd going away; reconnecting is
 * retried from a timer with a backoff of 0.5 s doubling to at most 30 s. On every connect the
 * running domains are taken up again: libvirtd may have changed them while we were away.
 *
 * Taking up a domain: its XML (nc-domain) goes to nc_carry_engine_add_local(), so a destination
 * that asks for it can be served, and the engine's rendezvous profile (this host, the port, the
 * identity, plus whatever the operator wrote in the profile) is written into the LIVE metadata.
 * libvirt hands that metadata to the destination's `migrate begin` hook. Done at daemon
 * (re)connect, when a domain starts, and when one arrived here by migration (after the
 * migration: the incoming job would make virDomainSetMetadata wait).
 *
 * Events into phases. Each witness is fed to the tracker (nc-phase.c decides what it means);
 * which side it is fed to: the destination while a destination migration is open (opened by the
 * `migrate begin` hook), else the source while a source migration is open, else the side the
 * event itself implies (Started/Migrated: destination; migration-iteration, Suspended/Migrated:
 * source). QMP MIGRATION / MIGRATION_PASS / STOP / RESUME are only fed to an OPEN side: `virsh
 * save` and snapshots run QEMU migrations too, and they must not look like one of ours. QMP
 * events carry QEMU's timestamp, which is used.
 * The engine hears: source_stopped at the first source stop witness (QMP STOP or
 * Suspended/Migrated; the tracker keeps the earliest time), resumed at the destination's first
 * resume witness, and finished when the tracker reaches a terminal phase on either side (from an
 * idle callback: the tracker's subscribers must not feed it, and the engine may).
 *
 * Calls that need a libvirt job (virDomainSetMetadata, virDomainResume) run on one worker
 * thread, in order, so that the main loop (hook answers, the carry's deadlines) never waits on
 * a domain job. Queries without a job (XML, lookups) run on the main loop.
 *
 * The source's witness that a migration is real (nc_libvirt_outgoing_job()): when a destination
 * that proved the rendezvous secret asks for a domain's state, and again every second while it
 * is sent, virDomainGetJobStats must report a job whose operation is an outgoing migration. The
 * async job exists from libvirt's Begin phase on the source, before the destination's `migrate
 * begin` hook runs, and ends with the migration. It takes a query job, so it runs on a GLib worker
 * thread (never the main loop), with its own reference on the connection.
 */
#define G_LOG_DOMAIN "netcarry-libvirt"

#include <string.h>

#include <libvirt/libvirt-qemu.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "conf/nc-domain.h"
#include "nc-libvirt.h"
#include "util/nc-error.h"

#define NC_LV_BACKOFF_MIN_MS 500
#define NC_LV_BACKOFF_MAX_MS 30000

struct NcLibvirt {
    char *uri;
    NcPhaseTracker *phases;
    NcCarryEngine *engine;
    guint phase_sub;
    virConnectPtr conn;
    int cb_lifecycle, cb_iteration, cb_job, cb_qmp;
    guint reconnect_id;
    guint backoff_ms;
    GThreadPool *worker;
    gint pending; /* worker tasks queued or running */
};

typedef enum {
    NC_LV_TASK_METADATA,
    NC_LV_TASK_RESUME,
    NC_LV_TASK_FAIL_MIGRATION,
} NcLvTaskKind;

/* One call for the worker; it owns a reference on the connection it was queued for. */
typedef struct {
    NcLvTaskKind kind;
    virConnectPtr conn;
    char *uuid;
    char *xml;    /* METADATA: the element */
    char *key;    /* METADATA: prefix */
    char *ns;     /* METADATA: namespace URI */
    char *secret; /* METADATA of a rendezvous: the secret it publishes */
    char *reason; /* FAIL_MIGRATION: the carry's failure, for the log */
    NcSide side;  /* FAIL_MIGRATION */
    gboolean and_config;
    NcLibvirt *lv;
} NcLvTask;

/* The one boundary where libvirt's error becomes a GError. */
static void lv_set_error(GError **error, const char *what)
{
    const char *msg = virGetLastErrorMessage();

    g_set_error(error, NC_ERROR, NC_ERROR_FAILED, "%s: %s", what, msg ? msg : "unknown error");
}

static void task_free(NcLvTask *t)
{
    if (t->secret)
        explicit_bzero(t->secret, strlen(t->secret));
    g_free(t->secret);
    if (t->conn)
        virConnectClose(t->conn);
    g_free(t->uuid);
    g_free(t->xml);
    g_free(t->key);
    g_free(t->ns);
    g_free(t->reason);
    g_free(t);
}

/* Back on the main loop (the engine is not thread-safe): libvirt holds the task's secret. */
static gboolean secret_published(gpointer data)
{
    NcLvTask *t = data;

    if (t->lv->engine)
        nc_carry_engine_secret_published(t->lv->engine, t->uuid, t->secret);
    task_free(t);
    return G_SOURCE_REMOVE;
}

typedef struct {
    NcLibvirt *lv;
    char *uuid;
    NcSide side;
    NcPhase phase;
    char *reason;
} NcLvFinished;

static gboolean finished_idle(gpointer data);

/* The operation of @dom's current job (VIR_DOMAIN_JOB_OPERATION_*; 0 if libvirt names none), -1
 * for no job, -2 on error (@error set). */
static int job_operation(virDomainPtr dom, GError **error)
{
    virTypedParameterPtr params = NULL;
    int nparams = 0, type = VIR_DOMAIN_JOB_NONE, op = 0;

    if (virDomainGetJobStats(dom, &type, &params, &nparams, 0) < 0) {
        lv_set_error(error, "virDomainGetJobStats");
        return -2;
    }
    if (type != VIR_DOMAIN_JOB_NONE)
        virTypedParamsGetInt(params, nparams, VIR_DOMAIN_JOB_OPERATION, &op);
    virTypedParamsFree(params, nparams);
    return type == VIR_DOMAIN_JOB_NONE ? -1 : op;
}

/* FAIL_MIGRATION: only a migration that is still under way. The source asks for its outgoing
 * job; a destination's libvirt gives no job statistics, so there the domain must still be paused
 * (the main loop checked that QEMU's incoming migration had not completed). */
static void fail_migration(NcLvTask *t, virDomainPtr dom, GError **error)
{
    gboolean src = t->side == NC_SIDE_SOURCE;
    int op = -1, state = VIR_DOMAIN_NOSTATE, reason = 0;

    if (src && (op = job_operation(dom, error)) == -2)
        return;
    if (!src && virDomainGetState(dom, &state, &reason, 0) < 0) {
        lv_set_error(error, "virDomainGetState");
        return;
    }
    /* an incoming domain waits paused, reason "starting up" (libvirt 11; "migration" in some
     * versions), until libvirt resumes it; a guest left paused by `virsh migrate --suspend` has
     * reason "user" */
    if (src ? op != VIR_DOMAIN_JOB_OPERATION_MIGRATION_OUT
            : state != VIR_DOMAIN_PAUSED || (reason != VIR_DOMAIN_PAUSED_STARTING_UP &&
                                             reason != VIR_DOMAIN_PAUSED_MIGRATION)) {
        g_message("%s/%s: the carry failed (%s), but %s (state %d, reason %d): nothing to make "
                  "fail",
                  t->uuid, nc_side_to_string(t->side), t->reason,
                  src ? "libvirt has no outgoing migration job for the domain any more"
                      : "the domain is no incoming migration's any more",
                  state, reason);
        return;
    }
    g_message("%s/%s: %s the migration (admission = refuse): the carry failed: %s", t->uuid,
              nc_side_to_string(t->side),
              src ? "aborting" : "failing the incoming domain of", t->reason);
    if (src ? virDomainAbortJob(dom) < 0 : virDomainDestroy(dom) < 0) {
        lv_set_error(error, src ? "virDomainAbortJob" : "virDomainDestroy");
        return;
    }
    if (!src) {
        /* the migration failed here: the carry ends so, whatever libvirt's events still say
         * (its entries go back with it) */
        NcLvFinished *f = g_new0(NcLvFinished, 1);

        f->lv = t->lv;
        f->uuid = g_strdup(t->uuid);
        f->side = NC_SIDE_DESTINATION;
        f->phase = NC_PHASE_FAILED;
        f->reason = g_strdup_printf("netcarry failed the incoming migration: %s", t->reason);
        g_main_context_invoke(NULL, finished_idle, f);
    }
}

static void worker_run(gpointer data, gpointer user_data)
{
    NcLvTask *t = data;
    virDomainPtr dom = virDomainLookupByUUIDString(t->conn, t->uuid);
    g_autoptr(GError) error = NULL;

    if (!dom) {
        lv_set_error(&error, "lookup");
    } else if (t->kind == NC_LV_TASK_FAIL_MIGRATION) {
        fail_migration(t, dom, &error);
    } else if (t->kind == NC_LV_TASK_RESUME) {
        if (virDomainResume(dom) < 0)
            lv_set_error(&error, "virDomainResume");
        else
            g_message("%s/destination: resumed the guest (gate mode suspend)", t->uuid);
    } else {
        unsigned int flags = VIR_DOMAIN_AFFECT_LIVE;

        if (t->and_config && virDomainIsPersistent(dom) == 1)
            flags |= VIR_DOMAIN_AFFECT_CONFIG;
        if (virDomainSetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, t->xml, t->key, t->ns, flags) <
            0)
            lv_set_error(&error, "virDomainSetMetadata");
        else
            g_debug("%s: metadata %s stored", t->uuid, t->ns);
    }
    if (error)
        g_warning("%s: %s%s", t->uuid, error->message,
                  t->secret ? " (the domain's previous rendezvous secret stays valid)" : "");
    if (dom)
        virDomainFree(dom);
    g_atomic_int_dec_and_test(&t->lv->pending);
    if (!error && t->secret) {
        /* the main loop's context: netcarryd's, which outlives every queued task */
        virConnectClose(t->conn);
        t->conn = NULL;
        g_main_context_invoke(NULL, secret_published, t);
        return;
    }
    task_free(t);
}

static void queue(NcLibvirt *lv, NcLvTask *t)
{
    if (!lv->conn) {
        g_warning("%s: not connected to libvirtd; %s dropped", t->uuid,
                  t->kind == NC_LV_TASK_RESUME           ? "resume"
                  : t->kind == NC_LV_TASK_FAIL_MIGRATION ? "failing the migration"
                                                         : "metadata update");
        task_free(t);
        return;
    }
    t->lv = lv;
    t->conn = lv->conn;
    virConnectRef(t->conn);
    g_atomic_int_inc(&lv->pending);
    g_thread_pool_push(lv->worker, t, NULL);
}

static gboolean side_open(NcLibvirt *lv, const char *uuid, NcSide side)
{
    NcPhase p = nc_phase_tracker_current(lv->phases, uuid, side, NULL);

    return p != NC_PHASE_NONE && !nc_phase_is_terminal(p);
}

/* The earliest time the tracker holds for @phase on @side, or @fallback. */
static gint64 step_time(NcLibvirt *lv, const char *uuid, NcSide side, NcPhase phase,
                        gint64 fallback)
{
    guint n = 0;
    const NcPhaseStep *steps = nc_phase_tracker_steps(lv->phases, uuid, side, &n);

    for (guint i = 0; i < n; i++)
        if (steps[i].phase == phase)
            return steps[i].time_us;
    return fallback;
}

/**
 * take_up() - a running domain: to the engine, and its rendezvous into the live metadata
 * @lv:  the connection's owner
 * @dom: the domain
 */
static void take_up(NcLibvirt *lv, virDomainPtr dom)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(NcDomain) domain = NULL;
    g_autoptr(NcProfile) profile = NULL;
    char *xml = virDomainGetXMLDesc(dom, 0);
    NcLvTask *t;

    if (!xml) {
        lv_set_error(&error, "virDomainGetXMLDesc");
        g_warning("%s: %s", virDomainGetName(dom), error->message);
        return;
    }
    domain = nc_domain_parse_buffer(xml, strlen(xml), virDomainGetName(dom), &error);
    free(xml);
    if (!domain) {
        g_warning("%s: cannot read its XML: %s", virDomainGetName(dom), error->message);
        return;
    }
    if (!lv->engine)
        return;
    if (!nc_carry_engine_add_local(lv->engine, domain, &error))
        g_message("%s/source: its state cannot be carried: %s", domain->uuid, error->message);
    /* a fresh secret every time: at netcarryd's start, a start, an arrival, a failed departure */
    profile = nc_carry_engine_rendezvous_profile(lv->engine, domain->uuid, domain->profile);
    t = g_new0(NcLvTask, 1);
    t->kind = NC_LV_TASK_METADATA;
    t->uuid = g_strdup(domain->uuid);
    t->xml = nc_profile_format(profile);
    t->key = g_strdup(NC_PROFILE_PREFIX);
    t->ns = g_strdup(NC_PROFILE_NS);
    t->secret = g_strdup(profile->rendezvous->secret);
    g_info("%s/source: taken up, rendezvous published", domain->uuid);
    queue(lv, t);
}

static void take_up_uuid(NcLibvirt *lv, const char *uuid)
{
    virDomainPtr dom = lv->conn ? virDomainLookupByUUIDString(lv->conn, uuid) : NULL;

    if (dom) {
        take_up(lv, dom);
        virDomainFree(dom);
    }
}

static void feed(NcLibvirt *lv, NcPhaseEvent *ev)
{
    if (!ev->time_us)
        ev->time_us = g_get_real_time();
    nc_phase_tracker_feed(lv->phases, ev);
}

/* The side an event belongs to: the open one, else what the event itself implies. */
static NcSide side_for(NcLibvirt *lv, const char *uuid, NcSide implied)
{
    if (side_open(lv, uuid, NC_SIDE_DESTINATION))
        return NC_SIDE_DESTINATION;
    if (side_open(lv, uuid, NC_SIDE_SOURCE))
        return NC_SIDE_SOURCE;
    return implied;
}

/* After a stop or resume witness: tell the engine, with the earliest time known. */
static void notify_engine(NcLibvirt *lv, const char *uuid, NcSide side, NcPhaseInput input,
                          gint64 t)
{
    if (!lv->engine)
        return;
    if (side == NC_SIDE_SOURCE &&
        (input == NC_EV_QMP_STOP || input == NC_EV_LV_SUSPENDED_MIGRATED) &&
        side_open(lv, uuid, NC_SIDE_SOURCE))
        nc_carry_engine_source_stopped(lv->engine, uuid,
                                       step_time(lv, uuid, side, NC_PHASE_STOP_AND_COPY, t));
    if (side == NC_SIDE_DESTINATION &&
        (input == NC_EV_QMP_RESUME || input == NC_EV_LV_RESUMED_MIGRATED ||
         input == NC_EV_LV_RESUMED_UNPAUSED))
        nc_carry_engine_resumed(lv->engine, uuid, step_time(lv, uuid, side, NC_PHASE_RESUMED, t));
}

static int on_lifecycle(virConnectPtr conn, virDomainPtr dom, int event, int detail, void *opaque)
{
    NcLibvirt *lv = opaque;
    char uuid[VIR_UUID_STRING_BUFLEN];
    NcPhaseInput input;
    NcSide side;
    NcPhaseEvent ev = {.downtime_ms = -1};

    if (virDomainGetUUIDString(dom, uuid) < 0)
        return 0;
    /* a start, or an arrival once its incoming job ends (the worker waits for that job): whatever
     * became of the carry, the domain runs here now (a source whose migration failed resumes
     * with the same detail: finished_idle() renews its rendezvous) */
    if ((event == VIR_DOMAIN_EVENT_STARTED && detail != VIR_DOMAIN_EVENT_STARTED_MIGRATED) ||
        (event == VIR_DOMAIN_EVENT_RESUMED && detail == VIR_DOMAIN_EVENT_RESUMED_MIGRATED &&
         !side_open(lv, uuid, NC_SIDE_SOURCE)))
        take_up(lv, dom);
    if (event == VIR_DOMAIN_EVENT_STOPPED && lv->engine)
        nc_carry_engine_remove_local(lv->engine, uuid);
    if (!nc_phase_input_from_lifecycle(event, detail, &input))
        return 0;
    side = side_for(lv, uuid,
                    input == NC_EV_LV_STARTED_MIGRATED || input == NC_EV_LV_RESUMED_MIGRATED
                        ? NC_SIDE_DESTINATION
                        : NC_SIDE_SOURCE);
    g_debug("%s/%s: lifecycle %d/%d", uuid, nc_side_to_string(side), event, detail);
    ev.type = input;
    ev.side = side;
    ev.domain = uuid;
    feed(lv, &ev);
    notify_engine(lv, uuid, side, input, ev.time_us);
    return 0;
}

static void on_iteration(virConnectPtr conn, virDomainPtr dom, int iteration, void *opaque)
{
    NcLibvirt *lv = opaque;
    char uuid[VIR_UUID_STRING_BUFLEN];
    NcPhaseEvent ev = {.type = NC_EV_LV_MIGRATION_ITERATION,
                       .side = NC_SIDE_SOURCE,
                       .domain = uuid,
                       .pass = iteration,
                       .downtime_ms = -1};

    if (virDomainGetUUIDString(dom, uuid) == 0 && !side_open(lv, uuid, NC_SIDE_DESTINATION))
        feed(lv, &ev);
}

static void on_job_completed(virConnectPtr conn, virDomainPtr dom, virTypedParameterPtr params,
                             int nparams, void *opaque)
{
    NcLibvirt *lv = opaque;
    char uuid[VIR_UUID_STRING_BUFLEN];
    int op = -1;
    unsigned long long downtime = 0;
    NcPhaseEvent ev = {
        .type = NC_EV_LV_JOB_COMPLETED, .side = NC_SIDE_SOURCE, .domain = uuid, .downtime_ms = -1};

    if (virDomainGetUUIDString(dom, uuid) < 0)
        return;
    virTypedParamsGetInt(params, nparams, VIR_DOMAIN_JOB_OPERATION, &op);
    if (op != VIR_DOMAIN_JOB_OPERATION_MIGRATION_OUT)
        return;
    if (virTypedParamsGetULLong(params, nparams, VIR_DOMAIN_JOB_DOWNTIME, &downtime) == 1)
        ev.downtime_ms = downtime;
    g_info("%s/source: job completed, downtime %" G_GINT64_FORMAT " ms", uuid, ev.downtime_ms);
    feed(lv, &ev);
}

/* The string value of "key" in a flat QMP JSON object, or NULL. (transfer full) */
static char *json_string(const char *json, const char *key)
{
    g_autofree char *pattern = g_strdup_printf("\"%s\"\\s*:\\s*\"([^\"]*)\"", key);
    g_autoptr(GMatchInfo) m = NULL;
    g_autoptr(GRegex) re = g_regex_new(pattern, 0, 0, NULL);

    if (!json || !re || !g_regex_match(re, json, 0, &m))
        return NULL;
    return g_match_info_fetch(m, 1);
}

static guint json_uint(const char *json, const char *key)
{
    g_autofree char *pattern = g_strdup_printf("\"%s\"\\s*:\\s*([0-9]+)", key);
    g_autoptr(GMatchInfo) m = NULL;
    g_autoptr(GRegex) re = g_regex_new(pattern, 0, 0, NULL);
    g_autofree char *num = NULL;

    if (!json || !re || !g_regex_match(re, json, 0, &m))
        return 0;
    num = g_match_info_fetch(m, 1);
    return (guint)g_ascii_strtoull(num, NULL, 10);
}

static void on_qmp(virConnectPtr conn, virDomainPtr dom, const char *event, long long seconds,
                   unsigned int micros, const char *details, void *opaque)
{
    NcLibvirt *lv = opaque;
    char uuid[VIR_UUID_STRING_BUFLEN];
    NcPhaseEvent ev = {
        .domain = uuid, .downtime_ms = -1, .time_us = (gint64)seconds * G_USEC_PER_SEC + micros};

    if (virDomainGetUUIDString(dom, uuid) < 0)
        return;
    if (g_str_equal(event, "MIGRATION")) {
        g_autofree char *status = json_string(details, "status");

        ev.type = NC_EV_QMP_MIGRATION;
        ev.mig_status = nc_qmp_mig_status_from_string(status ? status : "");
    } else if (g_str_equal(event, "MIGRATION_PASS")) {
        ev.type = NC_EV_QMP_MIGRATION_PASS;
        ev.pass = json_uint(details, "pass");
    } else if (g_str_equal(event, "STOP")) {
        ev.type = NC_EV_QMP_STOP;
    } else if (g_str_equal(event, "RESUME")) {
        ev.type = NC_EV_QMP_RESUME;
    } else {
        return;
    }
    /* only for a migration we follow: save and snapshots use QEMU's migration too */
    if (side_open(lv, uuid, NC_SIDE_DESTINATION))
        ev.side = NC_SIDE_DESTINATION;
    else if (side_open(lv, uuid, NC_SIDE_SOURCE))
        ev.side = NC_SIDE_SOURCE;
    else
        return;
    g_debug("%s/%s: QMP %s %s", uuid, nc_side_to_string(ev.side), event, details ? details : "");
    feed(lv, &ev);
    notify_engine(lv, uuid, ev.side, ev.type, ev.time_us);
}

static gboolean finished_idle(gpointer data)
{
    NcLvFinished *f = data;
    NcCarryOutcome outcome = f->phase == NC_PHASE_COMPLETED   ? NC_CARRY_COMPLETED
                             : f->phase == NC_PHASE_CANCELLED ? NC_CARRY_CANCELLED
                                                              : NC_CARRY_FAILED;

    g_message("%s/%s: migration %s%s%s", f->uuid, nc_side_to_string(f->side),
              nc_phase_to_string(f->phase), f->reason ? ": " : "", f->reason ? f->reason : "");
    if (f->lv->engine)
        nc_carry_engine_finished(f->lv->engine, f->uuid, f->side, outcome, f->reason);
    /* the domain runs here now: it may leave again, so publish this host's rendezvous; a
     * departure that failed leaves the domain here with a secret its would-be destination
     * read: renew it too */
    if ((f->side == NC_SIDE_DESTINATION && f->phase == NC_PHASE_COMPLETED) ||
        (f->side == NC_SIDE_SOURCE && f->phase != NC_PHASE_COMPLETED))
        take_up_uuid(f->lv, f->uuid);
    g_free(f->uuid);
    g_free(f->reason);
    g_free(f);
    return G_SOURCE_REMOVE;
}

static void on_phase(const char *domain, NcSide side, const NcPhaseStep *step, gpointer data)
{
    NcLibvirt *lv = data;
    NcLvFinished *f;
    const char *reason;

    g_info("%s/%s: phase %s%s", domain, nc_side_to_string(side), nc_phase_to_string(step->phase),
           step->phase == NC_PHASE_PRECOPY ? " (pass)" : "");
    if (!nc_phase_is_terminal(step->phase))
        return;
    reason = nc_phase_tracker_reason(lv->phases, domain, side);
    f = g_new0(NcLvFinished, 1);
    f->lv = lv;
    f->uuid = g_strdup(domain);
    f->side = side;
    f->phase = step->phase;
    f->reason = step->phase == NC_PHASE_COMPLETED ? NULL : g_strdup(reason);
    g_idle_add(finished_idle, f);
}

static void disconnect(NcLibvirt *lv)
{
    if (!lv->conn)
        return;
    virConnectUnregisterCloseCallback(lv->conn, NULL);
    if (lv->cb_lifecycle >= 0)
        virConnectDomainEventDeregisterAny(lv->conn, lv->cb_lifecycle);
    if (lv->cb_iteration >= 0)
        virConnectDomainEventDeregisterAny(lv->conn, lv->cb_iteration);
    if (lv->cb_job >= 0)
        virConnectDomainEventDeregisterAny(lv->conn, lv->cb_job);
    if (lv->cb_qmp >= 0)
        virConnectDomainQemuMonitorEventDeregister(lv->conn, lv->cb_qmp);
    lv->cb_lifecycle = lv->cb_iteration = lv->cb_job = lv->cb_qmp = -1;
    virConnectClose(lv->conn);
    lv->conn = NULL;
}

static gboolean reconnect(gpointer data);

static void schedule_reconnect(NcLibvirt *lv)
{
    if (lv->reconnect_id)
        return;
    g_message("reconnecting to %s in %u ms", lv->uri, lv->backoff_ms);
    lv->reconnect_id = g_timeout_add(lv->backoff_ms, reconnect, lv);
    lv->backoff_ms = MIN(lv->backoff_ms * 2, NC_LV_BACKOFF_MAX_MS);
}

static gboolean closed_idle(gpointer data)
{
    NcLibvirt *lv = data;

    disconnect(lv);
    schedule_reconnect(lv);
    return G_SOURCE_REMOVE;
}

static void on_close(virConnectPtr conn, int reason, void *opaque)
{
    NcLibvirt *lv = opaque;

    g_warning("the connection to libvirtd (%s) closed (reason %d)", lv->uri, reason);
    /* not from inside libvirt's callback: closing the connection there is not allowed */
    g_idle_add(closed_idle, lv);
}

/* Destination carries that ended (their entries kept) for a domain that does not run here any
 * more: its incoming migration ended while libvirtd (or our connection to it) was away, so no
 * event will say so. End them as failed (their entries go). */
static void end_vanished_arrivals(NcLibvirt *lv)
{
    g_auto(GStrv) uuids = lv->engine ? nc_carry_engine_arrivals(lv->engine) : NULL;

    for (guint i = 0; uuids && uuids[i]; i++) {
        virDomainPtr dom = virDomainLookupByUUIDString(lv->conn, uuids[i]);
        gboolean here = dom && virDomainIsActive(dom) == 1;

        if (dom)
            virDomainFree(dom);
        if (here)
            continue;
        g_message("%s/destination: the domain does not run here any more: its migration ended "
                  "while libvirtd was away",
                  uuids[i]);
        nc_carry_engine_finished(lv->engine, uuids[i], NC_SIDE_DESTINATION, NC_CARRY_FAILED,
                                 "the domain does not run here any more (its migration ended "
                                 "while libvirtd was away)");
    }
}

/**
 * connect_now() - open the connection, subscribe, take up the running domains
 * @lv:    the owner
 * @error: why it failed (libvirtd absent, subscription refused)
 *
 * Return: TRUE when connected
 */
static gboolean connect_now(NcLibvirt *lv, GError **error)
{
    virDomainPtr *doms = NULL;
    int n;

    lv->conn = virConnectOpen(lv->uri);
    if (!lv->conn) {
        lv_set_error(error, lv->uri);
        return FALSE;
    }
    lv->cb_lifecycle =
        virConnectDomainEventRegisterAny(lv->conn, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                         VIR_DOMAIN_EVENT_CALLBACK(on_lifecycle), lv, NULL);
    lv->cb_iteration =
        virConnectDomainEventRegisterAny(lv->conn, NULL, VIR_DOMAIN_EVENT_ID_MIGRATION_ITERATION,
                                         VIR_DOMAIN_EVENT_CALLBACK(on_iteration), lv, NULL);
    lv->cb_job =
        virConnectDomainEventRegisterAny(lv->conn, NULL, VIR_DOMAIN_EVENT_ID_JOB_COMPLETED,
                                         VIR_DOMAIN_EVENT_CALLBACK(on_job_completed), lv, NULL);
    /* all QMP events of all domains; on_qmp keeps four. Subscribing does not taint (README). */
    lv->cb_qmp =
        virConnectDomainQemuMonitorEventRegister(lv->conn, NULL, NULL, on_qmp, lv, NULL, 0);
    /* a driver without QMP (not qemu) still has libvirt's witnesses of every phase */
    if (lv->cb_qmp < 0)
        g_warning("no QMP events from %s (%s): following libvirt's events only", lv->uri,
                  virGetLastErrorMessage());
    if (lv->cb_lifecycle < 0 || lv->cb_iteration < 0 || lv->cb_job < 0 ||
        virConnectRegisterCloseCallback(lv->conn, on_close, lv, NULL) < 0) {
        lv_set_error(error, "subscribing to domain events");
        disconnect(lv);
        return FALSE;
    }
    g_message("connected to %s", lv->uri);
    lv->backoff_ms = NC_LV_BACKOFF_MIN_MS;
    n = virConnectListAllDomains(lv->conn, &doms, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
    for (int i = 0; i < n; i++) {
        take_up(lv, doms[i]);
        virDomainFree(doms[i]);
    }
    free(doms);
    end_vanished_arrivals(lv);
    return TRUE;
}

static gboolean reconnect(gpointer data)
{
    NcLibvirt *lv = data;
    g_autoptr(GError) error = NULL;

    lv->reconnect_id = 0;
    if (!connect_now(lv, &error)) {
        g_warning("cannot connect to libvirtd: %s", error->message);
        schedule_reconnect(lv);
    }
    return G_SOURCE_REMOVE;
}

/**
 * nc_libvirt_new() - the libvirt side, not yet connected
 * @uri:    e.g. qemu:///system
 * @phases: (not owned) the tracker events are fed into; must outlive the object
 *
 * Return: (transfer full)
 */
NcLibvirt *nc_libvirt_new(const char *uri, NcPhaseTracker *phases)
{
    NcLibvirt *lv = g_new0(NcLibvirt, 1);

    lv->uri = g_strdup(uri);
    lv->phases = phases;
    lv->cb_lifecycle = lv->cb_iteration = lv->cb_job = lv->cb_qmp = -1;
    lv->backoff_ms = NC_LV_BACKOFF_MIN_MS;
    lv->worker = g_thread_pool_new(worker_run, lv, 1, FALSE, NULL);
    lv->phase_sub = nc_phase_tracker_subscribe(phases, on_phase, lv);
    return lv;
}

void nc_libvirt_set_engine(NcLibvirt *lv, NcCarryEngine *engine)
{
    lv->engine = engine;
}

void nc_libvirt_start(NcLibvirt *lv)
{
    reconnect(lv);
}

gboolean nc_libvirt_connected(NcLibvirt *lv)
{
    return lv->conn != NULL;
}

void nc_libvirt_resume(NcLibvirt *lv, const char *uuid)
{
    NcLvTask *t = g_new0(NcLvTask, 1);

    t->kind = NC_LV_TASK_RESUME;
    t->uuid = g_strdup(uuid);
    queue(lv, t);
}

gboolean nc_libvirt_fail_migration(NcLibvirt *lv, const char *uuid, NcSide side, const char *reason)
{
    NcLvTask *t;

    if (!lv->conn)
        return FALSE;
    if (side == NC_SIDE_DESTINATION && !side_open(lv, uuid, side)) {
        g_message("%s/destination: the carry failed (%s), but no incoming migration of the "
                  "domain is under way here",
                  uuid, reason);
        return FALSE;
    }
    if (side == NC_SIDE_DESTINATION && nc_phase_tracker_switched_over(lv->phases, uuid, side)) {
        g_message("%s/destination: the carry failed (%s), but the migration switched over to "
                  "this host already: too late to make it fail",
                  uuid, reason);
        return FALSE;
    }
    t = g_new0(NcLvTask, 1);
    t->kind = NC_LV_TASK_FAIL_MIGRATION;
    t->uuid = g_strdup(uuid);
    t->side = side;
    t->reason = g_strdup(reason);
    queue(lv, t);
    return TRUE;
}

void nc_libvirt_store_report(NcLibvirt *lv, const char *uuid, const NcReport *report)
{
    NcLvTask *t = g_new0(NcLvTask, 1);

    t->kind = NC_LV_TASK_METADATA;
    t->uuid = g_strdup(uuid);
    t->xml = nc_report_format_element(report);
    t->key = g_strdup(NC_REPORT_PREFIX);
    t->ns = g_strdup(NC_REPORT_NS);
    t->and_config = TRUE;
    g_message("%s/destination: report stored in the domain's metadata (%s)", uuid, NC_REPORT_NS);
    queue(lv, t);
}

static void conn_unref(gpointer conn)
{
    virConnectClose(conn);
}

static void outgoing_job_thread(GTask *task, gpointer source, gpointer data,
                                GCancellable *cancellable)
{
    virConnectPtr conn = data;
    const char *uuid = g_object_get_data(G_OBJECT(task), "nc-uuid");
    virDomainPtr dom = virDomainLookupByUUIDString(conn, uuid);
    int op = -2;
    g_autoptr(GError) error = NULL;

    if (!dom)
        lv_set_error(&error, "lookup");
    else if ((op = job_operation(dom, &error)) == -1)
        g_set_error(&error, NC_ERROR, NC_ERROR_NOT_FOUND, "libvirt reports no job for it");
    else if (op >= 0 && op != VIR_DOMAIN_JOB_OPERATION_MIGRATION_OUT)
        g_set_error(&error, NC_ERROR, NC_ERROR_NOT_FOUND,
                    "libvirt's job for it is not an outgoing migration (operation %d)", op);
    if (dom)
        virDomainFree(dom);
    if (error)
        g_task_return_error(task, g_steal_pointer(&error));
    else
        g_task_return_boolean(task, TRUE);
}

/**
 * nc_libvirt_outgoing_job() - the engine's NcCarryJobFunc: is @uuid migrating away from here?
 * @lv:   the libvirt side
 * @uuid: the domain
 * @task: (transfer full): completed with TRUE, or an error saying why not
 */
void nc_libvirt_outgoing_job(NcLibvirt *lv, const char *uuid, GTask *task)
{
    if (!lv->conn) {
        g_task_return_new_error(task, NC_ERROR, NC_ERROR_FAILED,
                                "not connected to libvirtd (%s): cannot vouch for a migration",
                                lv->uri);
        g_object_unref(task);
        return;
    }
    virConnectRef(lv->conn);
    g_object_set_data_full(G_OBJECT(task), "nc-uuid", g_strdup(uuid), g_free);
    g_task_set_task_data(task, lv->conn, conn_unref);
    g_task_run_in_thread(task, outgoing_job_thread);
    g_object_unref(task);
}

void nc_libvirt_drain(NcLibvirt *lv, guint timeout_ms)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;

    while (g_atomic_int_get(&lv->pending) > 0 && g_get_monotonic_time() < deadline)
        g_usleep(10000);
}

void nc_libvirt_free(NcLibvirt *lv)
{
    if (!lv)
        return;
    nc_phase_tracker_unsubscribe(lv->phases, lv->phase_sub);
    if (lv->reconnect_id)
        g_source_remove(lv->reconnect_id);
    /* waits for queued tasks: a report being stored is not cut off */
    g_thread_pool_free(lv->worker, FALSE, TRUE);
    disconnect(lv);
    g_free(lv->uri);
    g_free(lv);
}

/* ---- static policy: nwfilter definitions and networks, for the checked classes ---- */

/* libvirt answers these from its own memory in milliseconds; a libvirtd that does not answer in
 * this long makes the class "not available" rather than holding admission (the hook's bound) */
#define NC_LV_POLICY_TIMEOUT_MS 2000

/* One lookup on a thread of its own; the caller waits at most NC_LV_POLICY_TIMEOUT_MS and the
 * thread (holding its own reference on the connection) finishes on its own after that. */
typedef struct {
    gint ref;
    GMutex lock;
    GCond cond;
    gboolean done;
    virConnectPtr conn;
    gboolean network; /* a network's state, else an nwfilter's XML */
    char *name;
    char *xml;
    gboolean active;
    GError *error;
} NcLvQuery;

static void lv_query_unref(NcLvQuery *q)
{
    if (!g_atomic_int_dec_and_test(&q->ref))
        return;
    virConnectClose(q->conn);
    g_free(q->name);
    g_free(q->xml);
    g_clear_error(&q->error);
    g_mutex_clear(&q->lock);
    g_cond_clear(&q->cond);
    g_free(q);
}

/* libvirt could not answer: the checked class cannot be checked here (NC_ERROR_IO), which
 * differs from a filter or network that is not there (NC_ERROR_NOT_FOUND) */
static void lv_policy_error(GError **error, const char *what)
{
    const char *msg = virGetLastErrorMessage();

    g_set_error(error, NC_ERROR, NC_ERROR_IO, "%s: %s", what, msg ? msg : "unknown error");
}

static gpointer lv_query_thread(gpointer data)
{
    NcLvQuery *q = data;
    GError *err = NULL;
    char *xml = NULL;
    gboolean active = FALSE;

    if (q->network) {
        virNetworkPtr n = virNetworkLookupByName(q->conn, q->name);

        if (!n && virGetLastErrorCode() == VIR_ERR_NO_NETWORK) {
            g_set_error(&err, NC_ERROR, NC_ERROR_NOT_FOUND, "no libvirt network %s", q->name);
        } else if (!n) {
            lv_policy_error(&err, "looking up a libvirt network");
        } else {
            int a = virNetworkIsActive(n);

            if (a < 0)
                lv_policy_error(&err, "asking whether a libvirt network is active");
            active = a == 1;
            virNetworkFree(n);
        }
    } else {
        virNWFilterPtr f = virNWFilterLookupByName(q->conn, q->name);

        if (!f && virGetLastErrorCode() == VIR_ERR_NO_NWFILTER) {
            g_set_error(&err, NC_ERROR, NC_ERROR_NOT_FOUND, "no nwfilter %s", q->name);
        } else if (!f) {
            lv_policy_error(&err, "looking up an nwfilter");
        } else {
            char *x = virNWFilterGetXMLDesc(f, 0);

            if (!x)
                lv_policy_error(&err, "reading an nwfilter's definition");
            xml = g_strdup(x);
            free(x);
            virNWFilterFree(f);
        }
    }
    g_mutex_lock(&q->lock);
    q->xml = xml;
    q->active = active;
    q->error = err;
    q->done = TRUE;
    g_cond_signal(&q->cond);
    g_mutex_unlock(&q->lock);
    lv_query_unref(q);
    return NULL;
}

static gboolean lv_query(NcLibvirt *lv, gboolean network, const char *name, char **xml,
                         gboolean *active, GError **error)
{
    NcLvQuery *q;
    gint64 deadline = g_get_monotonic_time() + NC_LV_POLICY_TIMEOUT_MS * G_TIME_SPAN_MILLISECOND;
    gboolean ok;

    if (!lv->conn) {
        g_set_error(error, NC_ERROR, NC_ERROR_IO,
                    "not connected to libvirtd (%s): %s cannot be read", lv->uri,
                    network ? "networks" : "nwfilter definitions");
        return FALSE;
    }
    q = g_new0(NcLvQuery, 1);
    q->ref = 2;
    g_mutex_init(&q->lock);
    g_cond_init(&q->cond);
    virConnectRef(lv->conn);
    q->conn = lv->conn;
    q->network = network;
    q->name = g_strdup(name);
    g_thread_unref(g_thread_new("nc-lv-policy", lv_query_thread, q));
    g_mutex_lock(&q->lock);
    while (!q->done)
        if (!g_cond_wait_until(&q->cond, &q->lock, deadline))
            break;
    ok = q->done && !q->error;
    if (!q->done)
        g_set_error(error, NC_ERROR, NC_ERROR_TIMEOUT,
                    "libvirtd did not answer a lookup of %s %s within %u ms",
                    network ? "network" : "nwfilter", name, NC_LV_POLICY_TIMEOUT_MS);
    else if (q->error)
        g_propagate_error(error, g_steal_pointer(&q->error));
    else if (xml)
        *xml = g_steal_pointer(&q->xml);
    if (ok && active)
        *active = q->active;
    g_mutex_unlock(&q->lock);
    lv_query_unref(q);
    return ok;
}

/* NcPolicyLibvirt's nwfilter_xml (src/drivers/nc-policy-drv.h); on the calling thread's loop */
char *nc_libvirt_nwfilter_xml(gpointer data, const char *name, GError **error)
{
    char *xml = NULL;

    return lv_query(data, FALSE, name, &xml, NULL, error) ? xml : NULL;
}

/* NcPolicyLibvirt's network_active */
gboolean nc_libvirt_network_active(gpointer data, const char *name, GError **error)
{
    gboolean active = FALSE;

    return lv_query(data, TRUE, name, NULL, &active, error) && active;
}
