/* nc-phase.h - the migration-state listener's core: events in, phases per domain and side out
 * A pure state machine (no libvirt connection, no clock of its own); theory in nc-phase.c.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/**
 * NcSide - which end of a migration this host is for a domain
 */
typedef enum {
    NC_SIDE_SOURCE,
    NC_SIDE_DESTINATION,
    NC_SIDE_LAST,
} NcSide;

/**
 * NcPhase - a migration's phases, in their normal order
 * @NC_PHASE_NONE:          no migration known for this domain and side
 * @NC_PHASE_PREPARE:       a migration was announced (destination hooks, QMP setup, peer connected)
 * @NC_PHASE_PRECOPY:       the guest runs while its RAM is copied; one step per pass
 * @NC_PHASE_STOP_AND_COPY: the source guest stopped; the last changes are in flight
 * @NC_PHASE_SEALED:        netcarry's seal was sent (source) or received (destination)
 * @NC_PHASE_INSTALLED:     the sealed state is installed on the destination
 * @NC_PHASE_RESUMED:       the destination guest runs
 * @NC_PHASE_COMPLETED:     terminal: the migration and the carrying succeeded
 * @NC_PHASE_FAILED:        terminal: the migration or the carrying failed
 * @NC_PHASE_CANCELLED:     terminal: the migration was cancelled (domjobabort)
 */
typedef enum {
    NC_PHASE_NONE,
    NC_PHASE_PREPARE,
    NC_PHASE_PRECOPY,
    NC_PHASE_STOP_AND_COPY,
    NC_PHASE_SEALED,
    NC_PHASE_INSTALLED,
    NC_PHASE_RESUMED,
    NC_PHASE_COMPLETED,
    NC_PHASE_FAILED,
    NC_PHASE_CANCELLED,
    NC_PHASE_LAST,
} NcPhase;

/**
 * NcPhaseInput - what can happen to a migrating domain, as the daemon sees it
 *
 * NC_EV_LV_*: libvirt domain events (lifecycle type/detail, migration-iteration,
 * job-completed); NC_EV_QMP_*: QEMU monitor events received through libvirt;
 * NC_EV_HOOK_*: calls of the qemu hook (operation + sub-operation);
 * the rest: netcarry's own milestones, fed by the daemon.
 */
typedef enum {
    NC_EV_LV_STARTED_MIGRATED,
    NC_EV_LV_SUSPENDED_MIGRATED,
    NC_EV_LV_SUSPENDED_PAUSED,
    NC_EV_LV_RESUMED_MIGRATED,
    NC_EV_LV_RESUMED_UNPAUSED,
    NC_EV_LV_STOPPED_MIGRATED,
    NC_EV_LV_STOPPED_FAILED,
    NC_EV_LV_STOPPED_OTHER,
    NC_EV_LV_POSTCOPY_FAILED,
    NC_EV_LV_MIGRATION_ITERATION,
    NC_EV_LV_JOB_COMPLETED,
    NC_EV_QMP_MIGRATION,
    NC_EV_QMP_MIGRATION_PASS,
    NC_EV_QMP_STOP,
    NC_EV_QMP_RESUME,
    NC_EV_HOOK_MIGRATE_BEGIN,
    NC_EV_HOOK_PREPARE_BEGIN,
    NC_EV_HOOK_START_BEGIN,
    NC_EV_HOOK_STARTED_BEGIN,
    NC_EV_HOOK_STOPPED_END,
    NC_EV_HOOK_RELEASE_END,
    NC_EV_PEER_CONNECTED,
    NC_EV_PEER_STOPPED,
    NC_EV_SEALED,
    NC_EV_INSTALLED,
    NC_EV_CARRY_FAILED,
    NC_EV_CARRY_ABANDONED,
    NC_EV_LAST,
} NcPhaseInput;

/**
 * NcQmpMigStatus - the "status" of QEMU's MIGRATION event (the subset libvirt's migrations use)
 */
typedef enum {
    NC_QMP_MIG_SETUP,
    NC_QMP_MIG_ACTIVE,
    NC_QMP_MIG_PRE_SWITCHOVER,
    NC_QMP_MIG_DEVICE,
    NC_QMP_MIG_COMPLETED,
    NC_QMP_MIG_FAILED,
    NC_QMP_MIG_CANCELLING,
    NC_QMP_MIG_CANCELLED,
    NC_QMP_MIG_POSTCOPY_ACTIVE,
    NC_QMP_MIG_OTHER,
    NC_QMP_MIG_LAST,
} NcQmpMigStatus;

/**
 * NcPhaseEvent - one input, as fed to nc_phase_tracker_feed()
 * @type:        what happened
 * @side:        which side this host is for @domain
 * @domain:      key of the domain: its UUID string (names change with --dname)
 * @time_us:     when it happened, wall clock in microseconds (g_get_real_time(), or the QMP
 *               event's own timestamp) so that both hosts' timelines can be compared
 * @pass:        NC_EV_LV_MIGRATION_ITERATION, NC_EV_QMP_MIGRATION_PASS: the pass number
 * @mig_status:  NC_EV_QMP_MIGRATION: the status
 * @downtime_ms: NC_EV_LV_JOB_COMPLETED: libvirt's reported downtime, -1 if absent
 * @reason:      NC_EV_CARRY_FAILED, NC_EV_CARRY_ABANDONED (optional for others): why, for the
 *               record
 */
typedef struct {
    NcPhaseInput type;
    NcSide side;
    const char *domain;
    gint64 time_us;
    guint pass;
    NcQmpMigStatus mig_status;
    gint64 downtime_ms;
    const char *reason;
} NcPhaseEvent;

/**
 * NcPhaseStep - one entry of a recorded timeline
 * @phase:   the phase entered
 * @pass:    for NC_PHASE_PRECOPY, the pass number (1 = first); else 0
 * @time_us: the earliest time any input witnessed this step
 * @cause:   the input that made the transition
 */
typedef struct {
    NcPhase phase;
    guint pass;
    gint64 time_us;
    NcPhaseInput cause;
} NcPhaseStep;

typedef struct _NcPhaseTracker NcPhaseTracker;

/**
 * NcPhaseFunc - called after every transition, synchronously from nc_phase_tracker_feed()
 * @domain:    the domain key
 * @side:      the side
 * @step:      the step just recorded (valid only during the call)
 * @user_data: as given to nc_phase_tracker_subscribe()
 *
 * A subscriber may query the tracker but must not feed it or unsubscribe from inside the call.
 */
typedef void (*NcPhaseFunc)(const char *domain, NcSide side, const NcPhaseStep *step,
                            gpointer user_data);

const char *nc_side_to_string(NcSide side);
const char *nc_phase_to_string(NcPhase phase);
const char *nc_phase_input_to_string(NcPhaseInput input);
gboolean nc_phase_is_terminal(NcPhase phase);
NcQmpMigStatus nc_qmp_mig_status_from_string(const char *status);
gboolean nc_phase_input_from_lifecycle(int event, int detail, NcPhaseInput *input);
gboolean nc_phase_input_from_hook(const char *op, const char *sub_op, NcPhaseInput *input);

NcPhaseTracker *nc_phase_tracker_new(void);
void nc_phase_tracker_free(NcPhaseTracker *tracker);
guint nc_phase_tracker_subscribe(NcPhaseTracker *tracker, NcPhaseFunc func, gpointer user_data);
void nc_phase_tracker_unsubscribe(NcPhaseTracker *tracker, guint id);
gboolean nc_phase_tracker_feed(NcPhaseTracker *tracker, const NcPhaseEvent *ev);
NcPhase nc_phase_tracker_current(NcPhaseTracker *tracker, const char *domain, NcSide side,
                                 guint *pass);
const NcPhaseStep *nc_phase_tracker_steps(NcPhaseTracker *tracker, const char *domain, NcSide side,
                                          guint *n_steps);
gint64 nc_phase_tracker_downtime_ms(NcPhaseTracker *tracker, const char *domain, NcSide side);
const char *nc_phase_tracker_reason(NcPhaseTracker *tracker, const char *domain, NcSide side);
char *nc_phase_tracker_dump(NcPhaseTracker *tracker, const char *domain, NcSide side);
void nc_phase_tracker_forget(NcPhaseTracker *tracker, const char *domain, NcSide side);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(NcPhaseTracker, nc_phase_tracker_free)

/* Whether netcarry gave up on @domain's state (NC_EV_CARRY_ABANDONED) in its open or last
 * migration on @side. */
gboolean nc_phase_tracker_abandoned(NcPhaseTracker *tracker, const char *domain, NcSide side);

/* Whether @domain's open or last migration on @side went past the point where failing it would
 * lose the guest: QEMU's migration completed or turned post-copy (MIGRATION "completed",
 * "postcopy-active"), or the stop for the switchover or the resume was witnessed. */
gboolean nc_phase_tracker_switched_over(NcPhaseTracker *tracker, const char *domain, NcSide side);

G_END_DECLS
