/* nc-hook-server.h - netcarryd's side of the hook socket: one request from the qemu hook drop-in,
 * one answer; also the `netcarry status` query on the same socket (theory in nc-hook-server.c)
 */
#pragma once

#include <gio/gio.h>

#include "conf/nc-domain.h"
#include "nc-config.h"
#include "nc-hook-proto.h"
#include "nc-phase.h"

G_BEGIN_DECLS

/* The hook protocol's operation that asks for the daemon's status instead of reporting a
 * libvirt hook call (libvirt has no hook operation of that name), and the frame type of the
 * answer: UTF-8 text, one line per domain. A daemon that predates it answers with an
 * NC_HOOK_MSG_ANSWER frame, which the status client reports as "too old". */
#define NC_HOOK_STATUS_OP "netcarry-status"
#define NC_HOOK_MSG_STATUS_ANSWER ((NcHookMsgType)3)

/**
 * NcHookHandlers - what the server asks of the carry engine (a parameter, so tests can fake it)
 * @admit_anyway: admission policy `proceed` after the admission said no: record the risk
 * @set_tap:      the incoming domain's tap is known: hold its traffic
 * @status:       (transfer full): the text `netcarry status` prints (may be "")
 * @admit_async, @admit_finish: `migrate begin` on the destination: can this host carry @domain?
 *                Decided without holding the main loop; the hook call is answered when
 *                @admit_finish says (FALSE with one line of reason in @error)
 * @pin:          (nullable): after the admission said yes: (transfer full) the domain XML
 *                libvirt is to start instead of @xml (the learned addresses the source sent,
 *                pinned in their interfaces' filterrefs), or NULL: @xml as it is (@error says
 *                why, if it failed)
 * @admit_hurry:  (nullable): the hook of @uuid's admission cannot wait longer (it reports no
 *                progress): decide now with what is known
 */
typedef struct {
    void (*admit_anyway)(gpointer user_data, const NcDomain *domain, const char *reason);
    gboolean (*set_tap)(gpointer user_data, const char *uuid, const char *ifname, GError **error);
    char *(*status)(gpointer user_data);
    char *(*pin)(gpointer user_data, const NcDomain *domain, const char *xml, GError **error);
    void (*admit_async)(gpointer user_data, const NcDomain *domain, GAsyncReadyCallback callback,
                        gpointer callback_data);
    gboolean (*admit_finish)(gpointer user_data, GAsyncResult *result, GError **error);
    void (*admit_hurry)(gpointer user_data, const char *uuid);
} NcHookHandlers;

typedef struct NcHookServer NcHookServer;

NcHookServer *nc_hook_server_new(const NcConfig *config, NcPhaseTracker *phases,
                                 const NcHookHandlers *handlers, gpointer user_data,
                                 GError **error);
void nc_hook_server_free(NcHookServer *server);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(NcHookServer, nc_hook_server_free)

/* The client of the status query (`netcarry status`). Return: (transfer full) the text. */
char *nc_hook_status_call(const char *socket_path, gint64 deadline_us, GError **error);

G_END_DECLS
