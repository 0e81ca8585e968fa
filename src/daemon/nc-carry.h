/* nc-carry.h - the carry engine: moves a migrating domain's network state from
 * the source host's kernel to the destination's, between two netcarryd
 *
 * The engine knows nothing of libvirt: netcarryd's libvirt side (nc-libvirt)
 * tells it which domains run here, which one a destination admits, when the
 * source stopped, when the destination resumed and how the migration ended;
 * the engine answers with the carry itself (peer link, follower, install,
 * gate) and, on the destination, a report. So it can be tested with two
 * engines in two network namespaces and no libvirt at all.
 */
#pragma once

#include <gio/gio.h>

#include "conf/nc-domain.h"
#include "conf/nc-report.h"
#include "nc-config.h"
#include "nc-phase.h"

G_BEGIN_DECLS

typedef struct NcCarryEngine NcCarryEngine;

/**
 * NcCarryOutcome - how libvirt says a migration ended
 */
typedef enum {
    NC_CARRY_COMPLETED,
    NC_CARRY_FAILED,
    NC_CARRY_CANCELLED,
} NcCarryOutcome;

/**
 * NcCarryReportFunc - the destination's report for one migration is complete
 * @report: (transfer none): valid only during the call
 *
 * netcarryd stores it in the domain's metadata; tests inspect it.
 */
typedef void (*NcCarryReportFunc)(const char *uuid, const NcReport *report, gpointer user_data);

/**
 * NcCarryResumeFunc - gate mode "suspend": the state is installed, resume the guest now
 */
typedef void (*NcCarryResumeFunc)(const char *uuid, gpointer user_data);

/**
 * NcCarryJobFunc - the source's witness that a domain is migrating away: is there an outgoing
 * migration job for @uuid on this host right now?
 * @uuid: the domain
 * @task: (transfer full): complete it (on the engine's main context) with
 *        g_task_return_boolean(TRUE) when libvirt has an outgoing migration job for the domain,
 *        or with an error whose message says why not ("no job", "its job is a save", libvirt's
 *        error); the engine bounds the wait itself
 * @user_data: as in NcCarryOptions
 *
 * netcarryd asks libvirt (virDomainGetJobStats) off the main loop; tests answer from a flag.
 */
typedef void (*NcCarryJobFunc)(const char *uuid, GTask *task, gpointer user_data);

/**
 * NcCarryFailFunc - admission = refuse: the carry failed while the migration itself can still
 * fail instead (on the source before its stop, on the destination before the guest resumed
 * there): make it fail, so that no migration completes without its state
 * @side: NC_SIDE_SOURCE: abort libvirt's outgoing migration job; NC_SIDE_DESTINATION: end the
 *        incoming migration (libvirt cannot abort an incoming job: the incoming domain, which
 *        has never run here, is destroyed). Either way libvirt resumes the guest on the source,
 *        whose kernel still holds its connections.
 * @reason: the carry's failure, for the log
 *
 * Return: TRUE if the migration will be made to fail; FALSE if it is too late (the incoming
 * migration already completed here) or libvirt cannot be asked: the engine then keeps what it
 * installed and opens the gate, as under proceed.
 *
 * netcarryd calls libvirt off the main loop, and only while libvirt still has the migration;
 * tests record the call.
 */
typedef gboolean (*NcCarryFailFunc)(const char *uuid, NcSide side, const char *reason,
                                    gpointer user_data);

/**
 * NcCarryOptions - what the engine needs from its daemon
 * @config:      (not owned) listen address/port, TLS files, admission, gate mode,
 *               cleanup, timeouts
 * @netns:       network namespace whose conntrack and gates the engine works on;
 *               NULL (netcarryd's own) in production, a test namespace in tests
 * @host_name:   this host's identity: the name in its TLS certificate
 * @phases:      (not owned) the tracker the engine feeds netcarry's own inputs into
 *               (peer connected, peer stopped, sealed, installed, carry failed) and
 *               reads the timelines from for the report
 * @report_func, @resume_func, @user_data: see above
 * @job_func:    see above; NULL: no domain is ever served (nothing can vouch for a migration)
 * @fail_func:   see above; NULL: a failed carry never fails the migration (as admission =
 *               proceed)
 * @peer_idle_ms: the destination's longest wait for the source's next frame during pre-copy
 *               (the source sends an empty chunk once a quarter of it passed without one);
 *               0: NC_PEER_DEFAULT_IDLE_TIMEOUT_MS. Both hosts should have the same: the source
 *               paces itself by its own
 * @finish_wait_ms: the destination's longest wait, once the migration completed here, for the
 *               source's end (its FINISHED: completed step, libvirt's downtime, clean-up count)
 *               before it stores the report without it; 0: 10 s
 */
typedef struct {
    const NcConfig *config;
    const char *netns;
    const char *host_name;
    NcPhaseTracker *phases;
    NcCarryReportFunc report_func;
    NcCarryResumeFunc resume_func;
    NcCarryJobFunc job_func;
    NcCarryFailFunc fail_func;
    gpointer user_data;
    guint peer_idle_ms;
    guint finish_wait_ms;
} NcCarryOptions;

/* Starts listening for peers (config->listen_*). A port of 0 picks a free one:
 * nc_carry_engine_port() tells which. */
NcCarryEngine *nc_carry_engine_new(const NcCarryOptions *options, GError **error);
void nc_carry_engine_free(NcCarryEngine *engine);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(NcCarryEngine, nc_carry_engine_free)
guint16 nc_carry_engine_port(NcCarryEngine *engine);

/* Removes every gate in the namespace that belongs to no carry in progress
 * (a forgotten gate would cut off a later guest with the same tap name). */
gboolean nc_carry_engine_sweep_gates(NcCarryEngine *engine, GError **error);

/* --- source side ------------------------------------------------------- */

/* A domain runs here and may be migrated away: remember its addresses so a
 * destination that asks for it can be served. Called again when its XML
 * changes; removed when it stops for a reason other than migration. */
gboolean nc_carry_engine_add_local(NcCarryEngine *engine, const NcDomain *domain, GError **error);
void nc_carry_engine_remove_local(NcCarryEngine *engine, const char *uuid);

/* The profile element the source publishes in the domain's live metadata (its rendezvous: this
 * host, the listening port, its identity, and a FRESH secret that replaces the domain's previous
 * one), keeping the operator's part of @current (may be NULL). Called whenever netcarryd takes a
 * domain up: at its start, when the domain starts or arrives, after a migration away failed.
 * Return: (transfer full). */
NcProfile *nc_carry_engine_rendezvous_profile(NcCarryEngine *engine, const char *uuid,
                                              const NcProfile *current);

/* libvirt now holds @secret in the domain's live metadata: if it is the domain's freshest one,
 * every older secret is void from now on. A secret whose write failed is never published, and
 * the previous one stays valid. */
void nc_carry_engine_secret_published(NcCarryEngine *engine, const char *uuid, const char *secret);

/* The source VM stopped (QMP STOP or libvirt Suspended/Migrated, whichever came
 * first; @time_us is the earliest time reported): flush, send the last
 * changes and the seal. No-op for a domain no destination asked for. */
void nc_carry_engine_source_stopped(NcCarryEngine *engine, const char *uuid, gint64 time_us);

/* --- destination side -------------------------------------------------- */

/* `migrate begin`: can this host carry @domain's state (from the domain XML
 * the hook received: addresses, rendezvous)? Checks the kernel (ctnetlink,
 * room in the conntrack table, conntrack events), connects to the source
 * daemon and says HELLO, all within config timeouts. On TRUE the carry is
 * under way (pre-copy). On FALSE @error holds ONE line of reason, and the
 * daemon refuses or proceeds by the admission policy (on proceed it calls
 * nc_carry_engine_admit_anyway() so the report records the risk). */
gboolean nc_carry_engine_admit(NcCarryEngine *engine, const NcDomain *domain, GError **error);
/* The same without holding the caller: @callback runs when this domain's admission is decided,
 * whatever other admissions do meanwhile (netcarryd's hook server answers each hook call so). */
void nc_carry_engine_admit_async(NcCarryEngine *engine, const NcDomain *domain,
                                 GAsyncReadyCallback callback, gpointer user_data);
gboolean nc_carry_engine_admit_finish(NcCarryEngine *engine, GAsyncResult *result, GError **error);
/* The hook of @uuid's admission cannot wait longer (an older hook, without progress reports):
 * end the admission now with what it has (the first copy may still be coming). */
void nc_carry_engine_admit_hurry(NcCarryEngine *engine, const char *uuid);
char *nc_carry_engine_pin_learned(NcCarryEngine *engine, const char *uuid, const char *xml,
                                  GError **error);
void nc_carry_engine_admit_anyway(NcCarryEngine *engine, const NcDomain *domain,
                                  const char *reason);

/* The domain's tap on this host is now known (hook XML): hold its IP traffic
 * (the gate) until the state is installed. Called again if the name changes. */
gboolean nc_carry_engine_set_tap(NcCarryEngine *engine, const char *uuid, const char *ifname,
                                 GError **error);

/* The guest resumed on this host (QMP RESUME / libvirt Resumed): for the report's margin. */
void nc_carry_engine_resumed(NcCarryEngine *engine, const char *uuid, gint64 time_us);

/* --- both sides -------------------------------------------------------- */

/* libvirt says the migration ended. Destination: on failure/cancel remove
 * everything installed and the gate, and report; on completion report once the
 * source said how it ended (FINISHED), at most @finish_wait_ms later.
 * Source: on completion remove the domain's entries here if
 * config->cleanup_source; stop following; tell the destination (FINISHED, after
 * at most 1 s for libvirt's downtime to reach the phase tracker). Idempotent. */
void nc_carry_engine_finished(NcCarryEngine *engine, const char *uuid, NcSide side,
                              NcCarryOutcome outcome, const char *reason);

/* The domains whose destination carry here ended (given up, its entries kept) while libvirt has
 * not yet said how their migration ended. Return: (transfer full) (array zero-terminated=1) */
char **nc_carry_engine_arrivals(NcCarryEngine *engine);

/* One line per carry in progress or recently ended: uuid, side, phase, counts; then a line
 * "refused: N (reason=count ...)" counting every requester refused since start.
 * Return: (transfer full) for `netcarry status`. */
char *nc_carry_engine_status(NcCarryEngine *engine);

G_END_DECLS
