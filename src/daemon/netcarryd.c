/* netcarryd.c - the per-host daemon: carries a VM's network state along with its libvirt live
 * migration; wires the carry engine to libvirt (nc-libvirt) and to the qemu hook (nc-hook-server)
 *
 * It always runs in the foreground (systemd or the operator supervises it); SIGTERM or SIGINT
 * stop it cleanly: the gates of carries that are not in progress are opened (a forgotten gate
 * would cut off a later guest with the same tap name), the hook socket is removed, queued
 * metadata writes finish (bounded), and the peer listener closes. Exit status 0 after a clean
 * stop, 1 when it cannot start (the reason on stderr, one line).
 */
#define G_LOG_DOMAIN "netcarryd"

#include <locale.h>
#include <stdio.h>
#include <string.h>

#include <glib-unix.h>
#include <libvirt-glib/libvirt-glib.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "nc-carry.h"
#include "nc-config.h"
#include "nc-hook-server.h"
#include "nc-libvirt.h"
#include "nc-metrics.h"
#include "nc-peer.h"
#include "nc-phase.h"
#include "drivers/nc-policy-drv.h"
#include "util/nc-error.h"

#define NC_DAEMON_DRAIN_MS 5000

typedef struct {
    NcConfig *config;
    char *uri;
    GMainLoop *loop;
    NcPhaseTracker *phases;
    NcLibvirt *libvirt;
    NcCarryEngine *engine;
    NcHookServer *hooks;
    NcMetrics *metrics;
    gboolean metrics_warned; /* the last write failed and said so: say it once, not per event */
} NcDaemon;

static GLogLevelFlags nc_log_threshold = G_LOG_LEVEL_MESSAGE;

/* Structured log lines to stderr, down to the configured level (G_MESSAGES_DEBUG still works). */
static GLogWriterOutput log_writer(GLogLevelFlags level, const GLogField *fields, gsize n_fields,
                                   gpointer user_data)
{
    GLogLevelFlags lvl = level & G_LOG_LEVEL_MASK;

    if (lvl > nc_log_threshold && !(lvl == G_LOG_LEVEL_DEBUG && g_getenv("G_MESSAGES_DEBUG")))
        return G_LOG_WRITER_HANDLED;
    return g_log_writer_standard_streams(level, fields, n_fields, user_data);
}

static gboolean parse_log_level(const char *text, GLogLevelFlags *level)
{
    static const struct {
        const char *name;
        GLogLevelFlags level;
    } levels[] = {
        {"error", G_LOG_LEVEL_ERROR},     {"critical", G_LOG_LEVEL_CRITICAL},
        {"warning", G_LOG_LEVEL_WARNING}, {"message", G_LOG_LEVEL_MESSAGE},
        {"info", G_LOG_LEVEL_INFO},       {"debug", G_LOG_LEVEL_DEBUG},
    };

    for (gsize i = 0; i < G_N_ELEMENTS(levels); i++) {
        if (g_str_equal(text, levels[i].name)) {
            *level = levels[i].level;
            return TRUE;
        }
    }
    return FALSE;
}

/* libvirt prints every error to stderr by default; we report them through GError instead. */
static void quiet_libvirt(void *user_data, virErrorPtr error)
{
}

/* Rewrite the metrics file after every change (a handful per migration: cheap, and a scrape
 * sees the migration at once). A missing directory means no node_exporter here: said once. */
static void metrics_publish(NcDaemon *d)
{
    g_autoptr(GError) error = NULL;

    if (nc_metrics_write(d->metrics, d->config->metrics_textfile_dir, &error)) {
        if (d->metrics_warned)
            g_message("metrics: writing %s/" NC_METRICS_FILE " again",
                      d->config->metrics_textfile_dir);
        d->metrics_warned = FALSE;
    } else if (!d->metrics_warned) {
        if (g_error_matches(error, NC_ERROR, NC_ERROR_NOT_FOUND))
            g_info("metrics: not written: %s", error->message);
        else
            g_warning("metrics: %s", error->message);
        d->metrics_warned = TRUE;
    }
}

/* --- the engine's callbacks ------------------------------------------------ */

static void on_report(const char *uuid, const NcReport *report, gpointer data)
{
    NcDaemon *d = data;

    nc_libvirt_store_report(d->libvirt, uuid, report);
    nc_metrics_add_report(d->metrics, report);
    metrics_publish(d);
}

static void on_resume(const char *uuid, gpointer data)
{
    NcDaemon *d = data;

    nc_libvirt_resume(d->libvirt, uuid);
}

static void on_job(const char *uuid, GTask *task, gpointer data)
{
    NcDaemon *d = data;

    nc_libvirt_outgoing_job(d->libvirt, uuid, task);
}

static gboolean on_fail(const char *uuid, NcSide side, const char *reason, gpointer data)
{
    NcDaemon *d = data;

    return nc_libvirt_fail_migration(d->libvirt, uuid, side, reason);
}

/* --- the hook server's handlers --------------------------------------------- */

/* Two migrations arriving at once are admitted side by side: each hook call is answered when its
 * own admission is decided (a silent source delays only its own domain). */
static void hook_admit_async(gpointer data, const NcDomain *domain, GAsyncReadyCallback callback,
                             gpointer callback_data)
{
    NcDaemon *d = data;

    nc_carry_engine_admit_async(d->engine, domain, callback, callback_data);
}

static gboolean hook_admit_finish(gpointer data, GAsyncResult *result, GError **error)
{
    NcDaemon *d = data;
    GError *err = NULL;

    if (nc_carry_engine_admit_finish(d->engine, result, &err))
        return TRUE;
    /* the hook server applies the policy next: refuse, or let it go on at risk */
    nc_metrics_add_admission_failure(d->metrics, err, d->config->admission == NC_ADMISSION_REFUSE);
    metrics_publish(d);
    g_propagate_error(error, err);
    return FALSE;
}

static void hook_admit_hurry(gpointer data, const char *uuid)
{
    NcDaemon *d = data;

    nc_carry_engine_admit_hurry(d->engine, uuid);
}

static char *hook_pin(gpointer data, const NcDomain *domain, const char *xml, GError **error)
{
    NcDaemon *d = data;

    return nc_carry_engine_pin_learned(d->engine, domain->uuid, xml, error);
}

static void hook_admit_anyway(gpointer data, const NcDomain *domain, const char *reason)
{
    NcDaemon *d = data;

    nc_carry_engine_admit_anyway(d->engine, domain, reason);
}

static gboolean hook_set_tap(gpointer data, const char *uuid, const char *ifname, GError **error)
{
    NcDaemon *d = data;

    return nc_carry_engine_set_tap(d->engine, uuid, ifname, error);
}

static char *hook_status(gpointer data)
{
    NcDaemon *d = data;
    g_autofree char *carries = nc_carry_engine_status(d->engine);

    return g_strdup_printf("netcarryd %s on %s: libvirt %s %s, peers on port %u\n%s",
                           NC_DAEMON_VERSION, g_get_host_name(), d->uri,
                           nc_libvirt_connected(d->libvirt) ? "connected" : "NOT connected",
                           nc_carry_engine_port(d->engine), carries ? carries : "");
}

static gboolean on_signal(gpointer data)
{
    NcDaemon *d = data;

    g_message("stopping");
    g_main_loop_quit(d->loop);
    return G_SOURCE_CONTINUE;
}

/**
 * daemon_start() - everything the daemon needs, in dependency order
 * @d:     config and uri set
 * @error: the first part that could not start
 *
 * Return: TRUE when running
 */
static gboolean daemon_start(NcDaemon *d, GError **error)
{
    NcHookHandlers handlers = {.admit_anyway = hook_admit_anyway,
                               .set_tap = hook_set_tap,
                               .status = hook_status,
                               .pin = hook_pin,
                               .admit_async = hook_admit_async,
                               .admit_finish = hook_admit_finish,
                               .admit_hurry = hook_admit_hurry};
    NcCarryOptions options = {0};
    g_autoptr(GError) local = NULL;

    d->metrics = nc_metrics_new();
    metrics_publish(d); /* zeros: the series exist before the first migration */
    /* before any peer link: GIO reads the priority once, at its first TLS connection */
    if (!nc_peer_tls_set_priority(d->config->tls_priority, error))
        return FALSE;
    d->phases = nc_phase_tracker_new();
    d->libvirt = nc_libvirt_new(d->uri, d->phases);
    {
        /* nwfilter definitions and networks are libvirt's: the checked classes ask this
         * connection (docs/architecture.md, "Static policy") */
        NcPolicyLibvirt lookups = {nc_libvirt_nwfilter_xml, nc_libvirt_network_active, d->libvirt};

        nc_policy_set_libvirt(&lookups);
    }
    options.config = d->config;
    options.netns = NULL;
    options.host_name = g_get_host_name();
    options.phases = d->phases;
    options.report_func = on_report;
    options.resume_func = on_resume;
    options.job_func = on_job;
    options.fail_func = on_fail;
    options.peer_idle_ms = d->config->peer_idle_timeout_ms;
    options.user_data = d;
    d->engine = nc_carry_engine_new(&options, error);
    if (!d->engine)
        return FALSE;
    nc_libvirt_set_engine(d->libvirt, d->engine);
    /* gates left by a previous run belong to no carry of ours */
    if (!nc_carry_engine_sweep_gates(d->engine, &local))
        g_warning("cannot remove stale gates: %s", local->message);
    d->hooks = nc_hook_server_new(d->config, d->phases, &handlers, d, error);
    if (!d->hooks)
        return FALSE;
    nc_libvirt_start(d->libvirt);
    g_message("netcarryd %s: peers on %s port %u, hook socket %s, libvirt %s, admission %s, "
              "gate mode %s, TLS priority %s, CRL %s",
              NC_DAEMON_VERSION, d->config->listen_address, nc_carry_engine_port(d->engine),
              d->config->hook_socket, d->uri, nc_admission_to_string(d->config->admission),
              nc_gate_mode_to_string(d->config->gate_mode), d->config->tls_priority,
              g_file_test(d->config->tls_crl_file, G_FILE_TEST_EXISTS) ? d->config->tls_crl_file
                                                                        : "none");
    return TRUE;
}

static void daemon_stop(NcDaemon *d)
{
    g_autoptr(GError) error = NULL;

    /* no new hook calls: from here the hook treats us as absent (admission policy) */
    g_clear_pointer(&d->hooks, nc_hook_server_free);
    if (d->engine && !nc_carry_engine_sweep_gates(d->engine, &error))
        g_warning("cannot open the gates: %s", error->message);
    if (d->libvirt)
        nc_libvirt_drain(d->libvirt, NC_DAEMON_DRAIN_MS);
    g_clear_pointer(&d->engine, nc_carry_engine_free);
    nc_policy_set_libvirt(NULL);
    g_clear_pointer(&d->libvirt, nc_libvirt_free);
    g_clear_pointer(&d->phases, nc_phase_tracker_free);
    g_clear_pointer(&d->metrics, nc_metrics_free);
}

/* Every carry's keepalive and bound runs on the main loop: a loop held for seconds (a call that
 * blocks) looks like a dead peer to the other host. The log says when it happened, and how long. */
#define NC_LOOP_WATCH_MS 250
#define NC_LOOP_LATE_MS 1000
static gint64 watched_us;

static gboolean loop_watch(gpointer data)
{
    gint64 *last = data, now = g_get_monotonic_time();
    gint64 late_ms = *last ? (now - *last) / 1000 - NC_LOOP_WATCH_MS : 0;

    if (late_ms > NC_LOOP_LATE_MS)
        g_warning("the main loop was held for about %" G_GINT64_FORMAT
                  " ms (timers, keepalives and events waited)",
                  late_ms);
    *last = now;
    return G_SOURCE_CONTINUE;
}

int main(int argc, char **argv)
{
    g_autofree char *config_path = NULL;
    g_autofree char *uri = NULL;
    g_autofree char *log_level = NULL;
    gboolean foreground = TRUE;
    GOptionEntry entries[] = {
        {"config", 'c', 0, G_OPTION_ARG_FILENAME, &config_path,
         "Configuration file (default " NC_CONFIG_DEFAULT_PATH ")", "FILE"},
        {"connect", 0, 0, G_OPTION_ARG_STRING, &uri, "libvirt URI (default qemu:///system)", "URI"},
        {"log-level", 'l', 0, G_OPTION_ARG_STRING, &log_level,
         "error, critical, warning, message, info or debug (default: the configuration's)",
         "LEVEL"},
        {"foreground", 'f', 0, G_OPTION_ARG_NONE, &foreground,
         "Run in the foreground (always the case; accepted for unit files)", NULL},
        {NULL}};
    g_autoptr(GOptionContext) ctx = g_option_context_new("");
    g_autoptr(GError) error = NULL;
    NcDaemon d = {0};
    int status = 0;

    setlocale(LC_ALL, "");
    g_option_context_set_summary(ctx,
                                 "Carry VMs' network state along with libvirt live migration.");
    g_option_context_add_main_entries(ctx, entries, NULL);
    if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
        g_printerr("netcarryd: %s\n", error->message);
        return 1;
    }
    d.config = nc_config_load(config_path ? config_path : NC_CONFIG_DEFAULT_PATH, &error);
    if (!d.config) {
        g_printerr("netcarryd: %s\n", error->message);
        return 1;
    }
    nc_log_threshold = d.config->log_level;
    if (log_level && !parse_log_level(log_level, &nc_log_threshold)) {
        g_printerr("netcarryd: --log-level '%s' is not one of error, critical, warning, message, "
                   "info, debug\n",
                   log_level);
        nc_config_free(d.config);
        return 1;
    }
    g_log_set_writer_func(log_writer, NULL, NULL);
    d.uri = g_strdup(uri ? uri : "qemu:///system");

    virSetErrorFunc(NULL, quiet_libvirt);
    gvir_init(NULL, NULL);
    gvir_event_register();
    d.loop = g_main_loop_new(NULL, FALSE);
    g_timeout_add(NC_LOOP_WATCH_MS, loop_watch, &watched_us);
    g_unix_signal_add(SIGTERM, on_signal, &d);
    g_unix_signal_add(SIGINT, on_signal, &d);

    if (daemon_start(&d, &error)) {
        g_main_loop_run(d.loop);
    } else {
        g_printerr("netcarryd: %s\n", error->message);
        status = 1;
    }
    daemon_stop(&d);
    g_main_loop_unref(d.loop);
    g_free(d.uri);
    nc_config_free(d.config);
    return status;
}
