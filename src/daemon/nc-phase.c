/* nc-phase.c - the migration-state listener's core: events in, phases per domain and side out
 * Pure: the daemon feeds it what libvirt, QEMU, the hook and the peer say; it records and notifies.
 *
 * Theory of operation
 * -------------------
 * During a libvirt live migration no single source says where the migration is.
 * libvirt's lifecycle events, its migration-iteration and job-completed events,
 * QEMU's MIGRATION / MIGRATION_PASS / STOP / RESUME events (received through
 * libvirt, which does not taint the domain), the qemu hook's calls and
 * netcarry's own milestones each witness part of it, on one host each
 * (docs/libvirt-migration.md). This tracker folds them
 * into one sequence of phases per (domain, side):
 *
 *   prepare -> precopy(pass 1..n) -> stop-and-copy -> sealed -> installed -> resumed
 *           -> completed | failed | cancelled
 *
 * Rules, chosen so that the daemon can feed every witness blindly:
 * - Phases move forward only. Several witnesses of one moment (QMP STOP and
 *   libvirt Suspended/Migrated; QMP RESUME and Resumed/Migrated) produce one
 *   step: the first to arrive makes the transition and a later one is a
 *   duplicate, logged at debug level and ignored, except that the step keeps the
 *   earliest time any witness reported (QMP events carry QEMU's own timestamp,
 *   so arrival order need not be time order).
 * - Exception to "forward only": sealed and installed are netcarry's, not the
 *   guest's, and on the destination the guest may resume before the state is
 *   installed (libvirt has no hook at resume; the gate is what makes that safe).
 *   So sealed and installed are recorded whenever they happen before a terminal
 *   phase, even after resumed; the current phase then stays resumed. The report
 *   reads the margin (resume minus installed) from the timeline.
 * - A migration opens only on an input that means "a migration starts"
 *   (anything that maps to prepare or pre-copy); a user's pause, resume or a
 *   plain shutdown of a domain that is not migrating is ignored. After a terminal
 *   phase only a prepare-class input opens a new migration, which replaces the
 *   old timeline (subscribers have seen the terminal step and kept what they
 *   need); late pass or resume events of the old one are ignored.
 * - Terminal phases, per side:
 *   source: completed on Stopped/Migrated, job-completed, or the stopped/release
 *     hook after QMP reported completed; failed on QMP failed, any other stop,
 *     or the guest running again after it had stopped for the switchover
 *     (libvirt resumes the source when the destination's Finish fails; it
 *     reports that as Resumed/Migrated); cancelled on QMP cancelled.
 *   destination: completed once both resumed and installed are recorded (the
 *     guest runs and its state is there, in whichever order), or resumed and
 *     NC_EV_CARRY_ABANDONED (netcarry gave up on the state while the migration
 *     went on: no phase of its own, only the end of the wait); failed on QMP
 *     failed, Stopped/Failed or any stop before completion (libvirt kills the
 *     incoming QEMU when the source cancels, so a cancelled migration looks
 *     failed here unless the peer says otherwise), or when netcarry refused it
 *     at admission (NC_EV_CARRY_FAILED).
 * - The destination sees no pass or stop events of its own: QEMU's incoming side
 *   goes setup -> active -> completed. Its stop-and-copy step comes from the
 *   source's daemon (NC_EV_PEER_STOPPED). Under `virsh migrate --suspend` it
 *   sees Suspended/Paused after completion; that is not a transition, and
 *   resumed waits for whoever resumes the guest (netcarry in suspend gate mode).
 * - The caller should feed QMP MIGRATION / STOP events only for domains whose
 *   libvirt job is a migration: `virsh save`, managedsave and snapshots use
 *   QEMU's migration too, and would otherwise look like a source migration.
 * Illegal or duplicate inputs never fail: they are logged at debug level with
 * the domain, side and phase, and nc_phase_tracker_feed() returns FALSE.
 */
#define G_LOG_DOMAIN "netcarry-phase"

#include <string.h>

#include <libvirt/libvirt.h>

#include "nc-phase.h"

typedef struct {
    NcPhase phase;
    guint pass;
    gboolean have[NC_PHASE_LAST];
    gboolean qmp_completed;
    gboolean abandoned; /* netcarry gave up on the state while the migration went on */
    gboolean postcopy;  /* QEMU reported postcopy-active */
    gint64 downtime_ms;
    char *reason;
    GArray *steps; /* NcPhaseStep */
} NcMigration;

typedef struct {
    guint id;
    NcPhaseFunc func;
    gpointer user_data;
} NcSubscriber;

struct _NcPhaseTracker {
    GHashTable *migrations[NC_SIDE_LAST]; /* domain key -> NcMigration */
    GArray *subscribers;                  /* NcSubscriber */
    guint next_id;
};

static const char *const side_names[] = {"source", "destination"};
G_STATIC_ASSERT(G_N_ELEMENTS(side_names) == NC_SIDE_LAST);

static const char *const phase_names[] = {
    "none",      "prepare", "precopy",   "stop-and-copy", "sealed",
    "installed", "resumed", "completed", "failed",        "cancelled",
};
G_STATIC_ASSERT(G_N_ELEMENTS(phase_names) == NC_PHASE_LAST);

static const char *const input_names[] = {
    "libvirt Started/Migrated",
    "libvirt Suspended/Migrated",
    "libvirt Suspended/Paused",
    "libvirt Resumed/Migrated",
    "libvirt Resumed/Unpaused",
    "libvirt Stopped/Migrated",
    "libvirt Stopped/Failed",
    "libvirt Stopped (other)",
    "libvirt post-copy failed",
    "libvirt migration-iteration",
    "libvirt job-completed",
    "QMP MIGRATION",
    "QMP MIGRATION_PASS",
    "QMP STOP",
    "QMP RESUME",
    "hook migrate begin",
    "hook prepare begin",
    "hook start begin",
    "hook started begin",
    "hook stopped end",
    "hook release end",
    "peer connected",
    "peer stopped",
    "sealed",
    "installed",
    "carry failed",
    "carry abandoned",
};
G_STATIC_ASSERT(G_N_ELEMENTS(input_names) == NC_EV_LAST);

static const char *const qmp_mig_names[] = {
    "setup",  "active",     "pre-switchover", "device", "completed",
    "failed", "cancelling", "cancelled",      "postcopy-active", "other",
};
G_STATIC_ASSERT(G_N_ELEMENTS(qmp_mig_names) == NC_QMP_MIG_LAST);

const char *nc_side_to_string(NcSide side)
{
    return side < NC_SIDE_LAST ? side_names[side] : "?";
}

const char *nc_phase_to_string(NcPhase phase)
{
    return phase < NC_PHASE_LAST ? phase_names[phase] : "?";
}

const char *nc_phase_input_to_string(NcPhaseInput input)
{
    return input < NC_EV_LAST ? input_names[input] : "?";
}

gboolean nc_phase_is_terminal(NcPhase phase)
{
    return phase == NC_PHASE_COMPLETED || phase == NC_PHASE_FAILED || phase == NC_PHASE_CANCELLED;
}

/**
 * nc_qmp_mig_status_from_string() - parse the "status" member of QEMU's MIGRATION event
 * @status: e.g. "pre-switchover"
 *
 * Return: the status, NC_QMP_MIG_OTHER for one netcarry does not act on (postcopy-paused,
 *         postcopy-recover, wait-unplug, ...)
 */
NcQmpMigStatus nc_qmp_mig_status_from_string(const char *status)
{
    for (guint i = 0; i < NC_QMP_MIG_OTHER; i++) {
        if (g_strcmp0(status, qmp_mig_names[i]) == 0)
            return i;
    }
    return NC_QMP_MIG_OTHER;
}

/**
 * nc_phase_input_from_lifecycle() - map a libvirt lifecycle event to a tracker input
 * @event:  virDomainEventType
 * @detail: the matching vir*DetailType value
 * @input:  set to the input on success
 *
 * Return: FALSE if the event says nothing about a migration (Defined, PMSuspended, ...)
 */
gboolean nc_phase_input_from_lifecycle(int event, int detail, NcPhaseInput *input)
{
    switch (event) {
    case VIR_DOMAIN_EVENT_STARTED:
        if (detail != VIR_DOMAIN_EVENT_STARTED_MIGRATED)
            return FALSE;
        *input = NC_EV_LV_STARTED_MIGRATED;
        return TRUE;
    case VIR_DOMAIN_EVENT_SUSPENDED:
        if (detail == VIR_DOMAIN_EVENT_SUSPENDED_MIGRATED)
            *input = NC_EV_LV_SUSPENDED_MIGRATED;
        else if (detail == VIR_DOMAIN_EVENT_SUSPENDED_PAUSED)
            *input = NC_EV_LV_SUSPENDED_PAUSED;
        else if (detail == VIR_DOMAIN_EVENT_SUSPENDED_POSTCOPY_FAILED)
            *input = NC_EV_LV_POSTCOPY_FAILED;
        else
            return FALSE;
        return TRUE;
    case VIR_DOMAIN_EVENT_RESUMED:
        if (detail == VIR_DOMAIN_EVENT_RESUMED_MIGRATED)
            *input = NC_EV_LV_RESUMED_MIGRATED;
        else if (detail == VIR_DOMAIN_EVENT_RESUMED_UNPAUSED)
            *input = NC_EV_LV_RESUMED_UNPAUSED;
        else if (detail == VIR_DOMAIN_EVENT_RESUMED_POSTCOPY_FAILED)
            *input = NC_EV_LV_POSTCOPY_FAILED;
        else
            return FALSE;
        return TRUE;
    case VIR_DOMAIN_EVENT_STOPPED:
        if (detail == VIR_DOMAIN_EVENT_STOPPED_MIGRATED)
            *input = NC_EV_LV_STOPPED_MIGRATED;
        else if (detail == VIR_DOMAIN_EVENT_STOPPED_FAILED)
            *input = NC_EV_LV_STOPPED_FAILED;
        else
            *input = NC_EV_LV_STOPPED_OTHER;
        return TRUE;
    case VIR_DOMAIN_EVENT_CRASHED:
        *input = NC_EV_LV_STOPPED_OTHER;
        return TRUE;
    default:
        return FALSE;
    }
}

/**
 * nc_phase_input_from_hook() - map a qemu hook call to a tracker input
 * @op:     the hook's OPERATION argument ("migrate", "prepare", ...)
 * @sub_op: its SUB-OPERATION argument ("begin", "end")
 * @input:  set to the input on success
 *
 * Return: FALSE for calls that say nothing about a migration (reconnect, attach, restore, ...)
 */
gboolean nc_phase_input_from_hook(const char *op, const char *sub_op, NcPhaseInput *input)
{
    static const struct {
        const char *op, *sub_op;
        NcPhaseInput input;
    } map[] = {
        {"migrate", "begin", NC_EV_HOOK_MIGRATE_BEGIN},
        {"prepare", "begin", NC_EV_HOOK_PREPARE_BEGIN},
        {"start", "begin", NC_EV_HOOK_START_BEGIN},
        {"started", "begin", NC_EV_HOOK_STARTED_BEGIN},
        {"stopped", "end", NC_EV_HOOK_STOPPED_END},
        {"release", "end", NC_EV_HOOK_RELEASE_END},
    };

    for (gsize i = 0; i < G_N_ELEMENTS(map); i++) {
        if (g_strcmp0(op, map[i].op) == 0 && g_strcmp0(sub_op, map[i].sub_op) == 0) {
            *input = map[i].input;
            return TRUE;
        }
    }
    return FALSE;
}

static void migration_free(gpointer data)
{
    NcMigration *m = data;

    g_array_unref(m->steps);
    g_free(m->reason);
    g_free(m);
}

static NcMigration *migration_new(void)
{
    NcMigration *m = g_new0(NcMigration, 1);

    m->steps = g_array_new(FALSE, FALSE, sizeof(NcPhaseStep));
    m->downtime_ms = -1;
    return m;
}

NcPhaseTracker *nc_phase_tracker_new(void)
{
    NcPhaseTracker *t = g_new0(NcPhaseTracker, 1);

    for (guint s = 0; s < NC_SIDE_LAST; s++)
        t->migrations[s] = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, migration_free);
    t->subscribers = g_array_new(FALSE, FALSE, sizeof(NcSubscriber));
    t->next_id = 1;
    return t;
}

void nc_phase_tracker_free(NcPhaseTracker *tracker)
{
    if (!tracker)
        return;
    for (guint s = 0; s < NC_SIDE_LAST; s++)
        g_hash_table_unref(tracker->migrations[s]);
    g_array_unref(tracker->subscribers);
    g_free(tracker);
}

/**
 * nc_phase_tracker_subscribe() - be told of every transition of every domain
 * @tracker:   the tracker
 * @func:      called after each recorded step
 * @user_data: passed to @func
 *
 * Return: an id for nc_phase_tracker_unsubscribe(), never 0
 */
guint nc_phase_tracker_subscribe(NcPhaseTracker *tracker, NcPhaseFunc func, gpointer user_data)
{
    NcSubscriber sub = {tracker->next_id++, func, user_data};

    g_array_append_val(tracker->subscribers, sub);
    return sub.id;
}

void nc_phase_tracker_unsubscribe(NcPhaseTracker *tracker, guint id)
{
    for (guint i = 0; i < tracker->subscribers->len; i++) {
        if (g_array_index(tracker->subscribers, NcSubscriber, i).id == id) {
            g_array_remove_index(tracker->subscribers, i);
            return;
        }
    }
}

/* QEMU's MIGRATION status means the same phase on either side. */
static NcPhase map_qmp_migration(NcMigration *m, const NcPhaseEvent *ev, guint *pass)
{
    switch (ev->mig_status) {
    case NC_QMP_MIG_SETUP:
        return NC_PHASE_PREPARE;
    case NC_QMP_MIG_ACTIVE:
        *pass = 1;
        return NC_PHASE_PRECOPY;
    case NC_QMP_MIG_PRE_SWITCHOVER:
    case NC_QMP_MIG_DEVICE:
        return NC_PHASE_STOP_AND_COPY;
    case NC_QMP_MIG_COMPLETED:
        if (m)
            m->qmp_completed = TRUE;
        return NC_PHASE_NONE;
    case NC_QMP_MIG_POSTCOPY_ACTIVE:
        /* the guest runs on the destination from here on, its memory still arriving */
        if (m)
            m->postcopy = TRUE;
        return NC_PHASE_NONE;
    case NC_QMP_MIG_FAILED:
        return NC_PHASE_FAILED;
    case NC_QMP_MIG_CANCELLED:
        return NC_PHASE_CANCELLED;
    default:
        return NC_PHASE_NONE;
    }
}

/* Which phase an input witnesses on the source; NC_PHASE_NONE = none (flags may still change). */
static NcPhase map_source(NcMigration *m, const NcPhaseEvent *ev, guint *pass)
{
    gboolean stopped = m && m->have[NC_PHASE_STOP_AND_COPY];

    switch (ev->type) {
    case NC_EV_PEER_CONNECTED:
        return NC_PHASE_PREPARE;
    case NC_EV_LV_MIGRATION_ITERATION:
    case NC_EV_QMP_MIGRATION_PASS:
        *pass = ev->pass;
        return NC_PHASE_PRECOPY;
    case NC_EV_QMP_MIGRATION:
        return map_qmp_migration(m, ev, pass);
    case NC_EV_QMP_STOP:
    case NC_EV_LV_SUSPENDED_MIGRATED:
        return NC_PHASE_STOP_AND_COPY;
    case NC_EV_SEALED:
        return NC_PHASE_SEALED;
    case NC_EV_INSTALLED:
        return NC_PHASE_INSTALLED;
    case NC_EV_QMP_RESUME:
    case NC_EV_LV_RESUMED_MIGRATED:
    case NC_EV_LV_RESUMED_UNPAUSED:
        /* running again after the switchover stop: libvirt rolled the migration back */
        return stopped ? NC_PHASE_FAILED : NC_PHASE_NONE;
    case NC_EV_LV_STOPPED_MIGRATED:
    case NC_EV_LV_JOB_COMPLETED:
        return NC_PHASE_COMPLETED;
    case NC_EV_HOOK_STOPPED_END:
    case NC_EV_HOOK_RELEASE_END:
        return m && m->qmp_completed ? NC_PHASE_COMPLETED : NC_PHASE_FAILED;
    case NC_EV_LV_STOPPED_FAILED:
    case NC_EV_LV_STOPPED_OTHER:
    case NC_EV_LV_POSTCOPY_FAILED:
        return NC_PHASE_FAILED;
    case NC_EV_CARRY_FAILED:
        /* the job ended before the stop (after it, libvirt's own events decide) */
        return stopped ? NC_PHASE_NONE : NC_PHASE_FAILED;
    default:
        return NC_PHASE_NONE;
    }
}

/* Which phase an input witnesses on the destination; NC_PHASE_NONE = none. */
static NcPhase map_destination(NcMigration *m, const NcPhaseEvent *ev, guint *pass)
{
    switch (ev->type) {
    case NC_EV_HOOK_MIGRATE_BEGIN:
    case NC_EV_HOOK_PREPARE_BEGIN:
    case NC_EV_HOOK_START_BEGIN:
    case NC_EV_HOOK_STARTED_BEGIN:
    case NC_EV_LV_STARTED_MIGRATED:
    case NC_EV_PEER_CONNECTED:
        return NC_PHASE_PREPARE;
    case NC_EV_QMP_MIGRATION:
        return map_qmp_migration(m, ev, pass);
    case NC_EV_PEER_STOPPED:
        return NC_PHASE_STOP_AND_COPY;
    case NC_EV_SEALED:
        return NC_PHASE_SEALED;
    case NC_EV_INSTALLED:
        return NC_PHASE_INSTALLED;
    case NC_EV_QMP_RESUME:
    case NC_EV_LV_RESUMED_MIGRATED:
    case NC_EV_LV_RESUMED_UNPAUSED:
        return NC_PHASE_RESUMED;
    case NC_EV_LV_STOPPED_FAILED:
    case NC_EV_LV_STOPPED_OTHER:
    case NC_EV_LV_STOPPED_MIGRATED:
    case NC_EV_LV_POSTCOPY_FAILED:
    case NC_EV_HOOK_STOPPED_END:
    case NC_EV_HOOK_RELEASE_END:
    case NC_EV_CARRY_FAILED:
        return NC_PHASE_FAILED;
    default:
        return NC_PHASE_NONE;
    }
}

static NcPhaseStep *find_step(NcMigration *m, NcPhase phase, guint pass)
{
    for (guint i = 0; i < m->steps->len; i++) {
        NcPhaseStep *s = &g_array_index(m->steps, NcPhaseStep, i);

        if (s->phase == phase && s->pass == pass)
            return s;
    }
    return NULL;
}

static void record(NcPhaseTracker *t, NcMigration *m, const NcPhaseEvent *ev, NcPhase phase,
                   guint pass)
{
    NcPhaseStep step = {phase, phase == NC_PHASE_PRECOPY ? pass : 0, ev->time_us, ev->type};

    g_array_append_val(m->steps, step);
    m->have[phase] = TRUE;
    /* sealed/installed may land after resumed; the current phase never moves back */
    if (phase > m->phase || nc_phase_is_terminal(phase)) {
        m->phase = phase;
        m->pass = step.pass;
    }
    if (nc_phase_is_terminal(phase) && !m->reason)
        m->reason = g_strdup(ev->reason ? ev->reason : nc_phase_input_to_string(ev->type));
    g_debug("%s/%s: -> %s %u (%s)", ev->domain, nc_side_to_string(ev->side),
            nc_phase_to_string(phase), step.pass, nc_phase_input_to_string(ev->type));
    for (guint i = 0; i < t->subscribers->len; i++) {
        NcSubscriber *sub = &g_array_index(t->subscribers, NcSubscriber, i);

        sub->func(ev->domain, ev->side, &step, sub->user_data);
    }
}

/* The destination completes once the guest runs there and its state is installed, or netcarry
 * gave up on the state (the gate opened without it): in whichever order. */
static gboolean complete_destination(NcPhaseTracker *tracker, NcMigration *m,
                                     const NcPhaseEvent *ev)
{
    if (ev->side != NC_SIDE_DESTINATION || nc_phase_is_terminal(m->phase) ||
        !m->have[NC_PHASE_RESUMED] || !(m->have[NC_PHASE_INSTALLED] || m->abandoned))
        return FALSE;
    record(tracker, m, ev, NC_PHASE_COMPLETED, 0);
    return TRUE;
}

/**
 * nc_phase_tracker_feed() - apply one input
 * @tracker: the tracker
 * @ev:      the input; @ev->domain must be set
 *
 * Return: TRUE if the input recorded at least one step; FALSE if it was ignored (no phase,
 *         duplicate, late, or illegal here: logged at debug level)
 */
gboolean nc_phase_tracker_feed(NcPhaseTracker *tracker, const NcPhaseEvent *ev)
{
    const char *dom = ev->domain;
    const char *side = nc_side_to_string(ev->side);
    NcMigration *m;
    NcPhase target;
    guint pass = 0;

    g_return_val_if_fail(ev->domain && ev->side < NC_SIDE_LAST && ev->type < NC_EV_LAST, FALSE);
    m = g_hash_table_lookup(tracker->migrations[ev->side], dom);
    if (ev->type == NC_EV_CARRY_ABANDONED) {
        /* not a phase: the migration goes on, and libvirt's events end it */
        if (!m || nc_phase_is_terminal(m->phase) || m->abandoned)
            return FALSE;
        m->abandoned = TRUE;
        g_debug("%s/%s: carry abandoned: %s", dom, side, ev->reason ? ev->reason : "");
        return complete_destination(tracker, m, ev);
    }
    /* job-completed may come after the stopped hook already completed the migration */
    if (ev->type == NC_EV_LV_JOB_COMPLETED && m)
        m->downtime_ms = ev->downtime_ms;
    target = ev->side == NC_SIDE_SOURCE ? map_source(m, ev, &pass) : map_destination(m, ev, &pass);
    if (target == NC_PHASE_NONE) {
        g_debug("%s/%s: %s: no phase change", dom, side, nc_phase_input_to_string(ev->type));
        return FALSE;
    }

    if (!m || nc_phase_is_terminal(m->phase)) {
        gboolean opens = target == NC_PHASE_PREPARE || (!m && target == NC_PHASE_PRECOPY);

        if (!opens) {
            g_debug("%s/%s: %s: ignored, no migration in progress (%s)", dom, side,
                    nc_phase_input_to_string(ev->type), m ? nc_phase_to_string(m->phase) : "none");
            return FALSE;
        }
        m = migration_new();
        g_hash_table_replace(tracker->migrations[ev->side], g_strdup(dom), m);
    }

    NcPhaseStep *seen = find_step(m, target, target == NC_PHASE_PRECOPY ? pass : 0);
    if (seen) {
        if (ev->time_us < seen->time_us)
            seen->time_us = ev->time_us;
        g_debug("%s/%s: %s: duplicate of %s", dom, side, nc_phase_input_to_string(ev->type),
                nc_phase_to_string(target));
        return FALSE;
    }

    gboolean late_ok = (target == NC_PHASE_SEALED || target == NC_PHASE_INSTALLED);
    gboolean legal = target > m->phase || late_ok ||
                     (target == NC_PHASE_PRECOPY && m->phase == NC_PHASE_PRECOPY && pass > m->pass);
    if (!legal) {
        g_debug("%s/%s: %s: illegal %s -> %s, ignored", dom, side,
                nc_phase_input_to_string(ev->type), nc_phase_to_string(m->phase),
                nc_phase_to_string(target));
        return FALSE;
    }
    record(tracker, m, ev, target, pass);
    complete_destination(tracker, m, ev);
    return TRUE;
}

static NcMigration *lookup(NcPhaseTracker *t, const char *domain, NcSide side)
{
    g_return_val_if_fail(side < NC_SIDE_LAST, NULL);
    return g_hash_table_lookup(t->migrations[side], domain);
}

/**
 * nc_phase_tracker_current() - where a domain's migration is
 * @tracker: the tracker
 * @domain:  domain key
 * @side:    side
 * @pass:    (out) (optional): the pre-copy pass when the phase is NC_PHASE_PRECOPY, else 0
 *
 * Return: the current phase; the last migration's terminal phase stays until a new one opens
 */
NcPhase nc_phase_tracker_current(NcPhaseTracker *tracker, const char *domain, NcSide side,
                                 guint *pass)
{
    NcMigration *m = lookup(tracker, domain, side);

    if (pass)
        *pass = m ? m->pass : 0;
    return m ? m->phase : NC_PHASE_NONE;
}

/**
 * nc_phase_tracker_steps() - the recorded timeline, in the order the steps were recorded
 * @tracker: the tracker
 * @domain:  domain key
 * @side:    side
 * @n_steps: (out): number of steps
 *
 * Return: (transfer none): the steps, valid until the next feed; NULL if none
 */
const NcPhaseStep *nc_phase_tracker_steps(NcPhaseTracker *tracker, const char *domain, NcSide side,
                                          guint *n_steps)
{
    NcMigration *m = lookup(tracker, domain, side);

    *n_steps = m ? m->steps->len : 0;
    return m ? (const NcPhaseStep *)m->steps->data : NULL;
}

gint64 nc_phase_tracker_downtime_ms(NcPhaseTracker *tracker, const char *domain, NcSide side)
{
    NcMigration *m = lookup(tracker, domain, side);

    return m ? m->downtime_ms : -1;
}

/* Return: (nullable): what ended the migration (the input's name or the fed reason) */
const char *nc_phase_tracker_reason(NcPhaseTracker *tracker, const char *domain, NcSide side)
{
    NcMigration *m = lookup(tracker, domain, side);

    return m ? m->reason : NULL;
}

/**
 * nc_phase_tracker_dump() - the timeline as text, one step per line, times relative to the first
 * @tracker: the tracker
 * @domain:  domain key
 * @side:    side
 *
 * Return: (transfer full): e.g. "   +1.822 ms stop-and-copy (QMP STOP)\n" lines; "" if no migration
 */
char *nc_phase_tracker_dump(NcPhaseTracker *tracker, const char *domain, NcSide side)
{
    NcMigration *m = lookup(tracker, domain, side);
    GString *out = g_string_new(NULL);

    if (!m)
        return g_string_free(out, FALSE);
    gint64 t0 = g_array_index(m->steps, NcPhaseStep, 0).time_us;
    g_string_append_printf(out, "%s %s\n", domain, nc_side_to_string(side));
    for (guint i = 0; i < m->steps->len; i++) {
        NcPhaseStep *s = &g_array_index(m->steps, NcPhaseStep, i);

        g_string_append_printf(out, "%+10.3f ms %s", (s->time_us - t0) / 1000.0,
                               nc_phase_to_string(s->phase));
        if (s->phase == NC_PHASE_PRECOPY)
            g_string_append_printf(out, " pass %u", s->pass);
        g_string_append_printf(out, " (%s)\n", nc_phase_input_to_string(s->cause));
    }
    if (m->downtime_ms >= 0)
        g_string_append_printf(out, "downtime %" G_GINT64_FORMAT " ms (libvirt)\n", m->downtime_ms);
    if (m->reason)
        g_string_append_printf(out, "ended by %s\n", m->reason);
    return g_string_free(out, FALSE);
}

/* Drop a domain's record, e.g. when it is undefined or its report has been written. */
void nc_phase_tracker_forget(NcPhaseTracker *tracker, const char *domain, NcSide side)
{
    g_return_if_fail(side < NC_SIDE_LAST);
    g_hash_table_remove(tracker->migrations[side], domain);
}

gboolean nc_phase_tracker_abandoned(NcPhaseTracker *tracker, const char *domain, NcSide side)
{
    NcMigration *m = lookup(tracker, domain, side);

    return m && m->abandoned;
}

gboolean nc_phase_tracker_switched_over(NcPhaseTracker *tracker, const char *domain, NcSide side)
{
    NcMigration *m = lookup(tracker, domain, side);

    return m && (m->qmp_completed || m->postcopy || m->have[NC_PHASE_STOP_AND_COPY] ||
                 m->have[NC_PHASE_RESUMED]);
}
