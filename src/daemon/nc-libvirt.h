/* nc-libvirt.h - netcarryd's libvirt side: the connection, domain and QMP events into the phase
 * tracker and the carry engine, the rendezvous and report in domain metadata (theory in .c)
 */
#pragma once

#include <gio/gio.h>

#include "conf/nc-report.h"
#include "nc-carry.h"
#include "nc-phase.h"

G_BEGIN_DECLS

typedef struct NcLibvirt NcLibvirt;

/* Needs gvir_event_register() (or another event implementation) before nc_libvirt_start(). */
NcLibvirt *nc_libvirt_new(const char *uri, NcPhaseTracker *phases);
void nc_libvirt_free(NcLibvirt *lv);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(NcLibvirt, nc_libvirt_free)

/* The engine the events are translated for (not owned; set before nc_libvirt_start()). */
void nc_libvirt_set_engine(NcLibvirt *lv, NcCarryEngine *engine);

/* Connects now, or keeps retrying with a bounded backoff; reconnects whenever libvirtd goes
 * away. On each connect, takes up the running domains. Never blocks longer than one
 * virConnectOpen. */
void nc_libvirt_start(NcLibvirt *lv);

/* Whether a connection to libvirtd is up (for status). */
gboolean nc_libvirt_connected(NcLibvirt *lv);

/* Gate mode suspend: resume the guest (off the main loop; failures are logged). */
void nc_libvirt_resume(NcLibvirt *lv, const char *uuid);

/* Store @report in the domain's metadata under NC_REPORT_NS: LIVE, and CONFIG too if the
 * domain is persistent (off the main loop; failures are logged). */
void nc_libvirt_store_report(NcLibvirt *lv, const char *uuid, const NcReport *report);

/* The source's witness that a migration is real: completes @task (transfer full) with TRUE if
 * libvirt has an outgoing migration job for @uuid, else with an error saying why not. */
void nc_libvirt_outgoing_job(NcLibvirt *lv, const char *uuid, GTask *task);

/* admission = refuse and the carry failed before the switchover: make @uuid's migration fail
 * (off the main loop; failures are logged). Source: abort libvirt's outgoing migration job.
 * Destination: destroy the incoming domain, which has not run here yet (libvirt cannot abort an
 * incoming job); only while QEMU's incoming migration has not completed and the domain is paused,
 * so a guest that runs here (or waits paused after `virsh migrate --suspend`) is never touched.
 * Return: FALSE if it is too late for that, or libvirtd is not connected. */
gboolean nc_libvirt_fail_migration(NcLibvirt *lv, const char *uuid, NcSide side,
                                   const char *reason);

/* The checked classes' lookups (NcPolicyLibvirt, src/drivers/nc-policy-drv.h; @data: the
 * NcLibvirt): each on a thread of its own, the caller waiting at most 2 s. */
char *nc_libvirt_nwfilter_xml(gpointer data, const char *name, GError **error);
gboolean nc_libvirt_network_active(gpointer data, const char *name, GError **error);

/* Wait (bounded) until the metadata, report and resume calls queued so far are done. */
void nc_libvirt_drain(NcLibvirt *lv, guint timeout_ms);

G_END_DECLS
