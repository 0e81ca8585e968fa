/* test-hook-server.c - the real hook binary, run as libvirt runs it, against netcarryd's real hook
 * server with a fake carry engine: admission, the policy, the tap, phases, and the status query
 */
#include <string.h>
#include <sys/stat.h>

#include <gio/gio.h>
#include <glib/gstdio.h>

#include "nc-hook-server.h"
#include "util/nc-error.h"

#define UUID "5a3c1f5e-0b7e-4c55-9f0e-000000000042"
#define XML_HEAD                                                                                   \
    "<domain type='qemu'><name>guest1</name><uuid>" UUID "</uuid>"                                 \
    "<metadata><profile xmlns='https://netcarry.dev/xmlns/profile/1'>"                             \
    "<address>192.0.2.50</address></profile></metadata><devices>"                                  \
    "<interface type='bridge'><mac address='52:54:00:00:00:42'/><source bridge='br0'/>"
#define XML XML_HEAD "</interface></devices></domain>\n"
#define XML_TAP XML_HEAD "<target dev='vnet7'/></interface></devices></domain>\n"
#define REASON "the conntrack table is 95% full (249037 of 262144 entries)"

typedef struct {
    char *dir;
    NcConfig *config;
    char *conf_path;
    NcPhaseTracker *phases;
    NcHookServer *server;
    /* the fake engine */
    gboolean refuse;
    guint admitted, admitted_anyway;
    char *anyway_reason;
    char *tap;
    const char *pin; /* the XML the fake engine pins learned addresses in, or NULL: nothing */
    /* the last hook run */
    int status;
    char *out, *err;
} Fixture;

static void fake_admit_anyway(gpointer data, const NcDomain *domain, const char *reason)
{
    Fixture *f = data;

    f->admitted_anyway++;
    g_free(f->anyway_reason);
    f->anyway_reason = g_strdup(reason);
}

static gboolean fake_set_tap(gpointer data, const char *uuid, const char *ifname, GError **error)
{
    Fixture *f = data;

    g_assert_cmpstr(uuid, ==, UUID);
    g_free(f->tap);
    f->tap = g_strdup(ifname);
    return TRUE;
}

static char *fake_status(gpointer data)
{
    return g_strdup(UUID " destination precopy\n");
}

static char *fake_pin(gpointer data, const NcDomain *domain, const char *xml, GError **error)
{
    Fixture *f = data;

    if (f->pin)
        g_assert_cmpstr(domain->uuid, ==, UUID);
    return g_strdup(f->pin);
}

static void start_server_ms(Fixture *f, NcAdmission admission, const NcHookHandlers *handlers,
                            guint hook_ms)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *conf = NULL;

    g_clear_pointer(&f->server, nc_hook_server_free);
    g_clear_pointer(&f->config, nc_config_free);
    conf = g_strdup_printf("[daemon]\nhook-socket = %s/run/hook.sock\n"
                           "[migration]\nadmission = %s\n[timeouts]\nhook-ms = %u\n",
                           f->dir, nc_admission_to_string(admission), hook_ms);
    g_assert_true(g_file_set_contents(f->conf_path, conf, -1, &error));
    f->config = nc_config_load(f->conf_path, &error);
    g_assert_no_error(error);
    f->server = nc_hook_server_new(f->config, f->phases, handlers, f, &error);
    g_assert_no_error(error);
    g_assert_nonnull(f->server);
}

static void start_server_with(Fixture *f, NcAdmission admission, const NcHookHandlers *handlers)
{
    start_server_ms(f, admission, handlers, 3000);
}

static const NcHookHandlers fake;

static void start_server(Fixture *f, NcAdmission admission)
{
    start_server_with(f, admission, &fake);
}

static void setup(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;

    f->dir = g_dir_make_tmp("test-hook-server-XXXXXX", &error);
    g_assert_no_error(error);
    f->conf_path = g_build_filename(f->dir, "netcarry.conf", NULL);
    f->phases = nc_phase_tracker_new();
    start_server(f, NC_ADMISSION_REFUSE);
}

static void teardown(Fixture *f, gconstpointer data)
{
    g_autofree char *run = g_build_filename(f->dir, "run", NULL);

    g_clear_pointer(&f->server, nc_hook_server_free);
    g_rmdir(run);
    g_unlink(f->conf_path);
    g_rmdir(f->dir);
    nc_config_free(f->config);
    nc_phase_tracker_free(f->phases);
    g_free(f->dir);
    g_free(f->conf_path);
    g_free(f->anyway_reason);
    g_free(f->tap);
    g_free(f->out);
    g_free(f->err);
}

static void communicated(GObject *proc, GAsyncResult *res, gpointer data)
{
    Fixture *f = data;
    g_autoptr(GError) error = NULL;

    g_assert_true(
        g_subprocess_communicate_utf8_finish(G_SUBPROCESS(proc), res, &f->out, &f->err, &error));
    g_assert_no_error(error);
    f->status = g_subprocess_get_exit_status(G_SUBPROCESS(proc));
}

/* run_hook() - run the hook binary as libvirt would, while this process's main loop serves it */
static void run_hook(Fixture *f, const char *op, const char *sub_op, const char *xml)
{
    g_autoptr(GSubprocessLauncher) l =
        g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                  G_SUBPROCESS_FLAGS_STDERR_PIPE);
    g_autoptr(GSubprocess) proc = NULL;
    g_autoptr(GError) error = NULL;
    gint64 deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;

    g_clear_pointer(&f->out, g_free);
    g_clear_pointer(&f->err, g_free);
    g_subprocess_launcher_setenv(l, "NETCARRY_CONF", f->conf_path, TRUE);
    proc = g_subprocess_launcher_spawn(l, &error, g_getenv("NETCARRY_HOOK"), "guest1", op, sub_op,
                                       "-", NULL);
    g_assert_no_error(error);
    g_subprocess_communicate_utf8_async(proc, xml, NULL, communicated, f);
    while (!f->err && g_get_monotonic_time() < deadline)
        g_main_context_iteration(NULL, TRUE);
    g_assert_nonnull(f->err);
    g_test_message("hook %s %s: exit %d, stderr: %s", op, sub_op, f->status, f->err);
}

static NcPhase dest_phase(Fixture *f)
{
    return nc_phase_tracker_current(f->phases, UUID, NC_SIDE_DESTINATION, NULL);
}

static void test_admit(Fixture *f, gconstpointer data)
{
    struct stat st;

    /* the socket that admits migrations is root's alone */
    g_assert_cmpint(g_stat(f->config->hook_socket, &st), ==, 0);
    g_assert_cmpint(st.st_mode & 0777, ==, 0600);

    run_hook(f, "migrate", "begin", XML);
    g_assert_cmpint(f->status, ==, 0);
    g_assert_cmpstr(f->out, ==, ""); /* the XML is unchanged */
    g_assert_cmpuint(f->admitted, ==, 1);
    g_assert_cmpint(dest_phase(f), ==, NC_PHASE_PREPARE);

    /* the tap becomes known in a later hook call: it goes to the gate */
    run_hook(f, "prepare", "begin", XML);
    g_assert_null(f->tap);
    run_hook(f, "start", "begin", XML_TAP);
    g_assert_cmpint(f->status, ==, 0);
    g_assert_cmpstr(f->tap, ==, "vnet7");
}

/* the engine pins learned addresses: the hook gives libvirt that XML */
static void test_admit_pinned(Fixture *f, gconstpointer data)
{
    static const char *pinned = "<domain type='qemu'><name>guest1</name></domain>\n";

    f->pin = pinned;
    run_hook(f, "migrate", "begin", XML);
    g_assert_cmpint(f->status, ==, 0);
    g_assert_cmpstr(f->out, ==, pinned);
    g_assert_cmpuint(f->admitted, ==, 1);
    /* nothing to pin: stdout stays empty */
    f->pin = NULL;
    run_hook(f, "migrate", "begin", XML);
    g_assert_cmpint(f->status, ==, 0);
    g_assert_cmpstr(f->out, ==, "");
}

static void test_refuse(Fixture *f, gconstpointer data)
{
    g_autofree char *line =
        g_strdup_printf("netcarry: cannot carry the network state of guest1 to %s: %s\n",
                        g_get_host_name(), REASON);

    f->refuse = TRUE;
    run_hook(f, "migrate", "begin", XML);
    g_assert_cmpint(f->status, ==, 1);
    g_assert_cmpstr(f->err, ==, line); /* what virsh shows */
    g_assert_cmpstr(f->out, ==, "");
    g_assert_cmpuint(f->admitted_anyway, ==, 0);
    /* a refused migration does not stay "in progress" */
    g_assert_cmpint(dest_phase(f), ==, NC_PHASE_FAILED);
    g_assert_cmpstr(nc_phase_tracker_reason(f->phases, UUID, NC_SIDE_DESTINATION), ==, REASON);
}

static void test_proceed(Fixture *f, gconstpointer data)
{
    start_server(f, NC_ADMISSION_PROCEED);
    f->refuse = TRUE;
    run_hook(f, "migrate", "begin", XML);
    g_assert_cmpint(f->status, ==, 0);
    g_assert_cmpstr(f->out, ==, "");
    g_assert_cmpuint(f->admitted_anyway, ==, 1);
    g_assert_cmpstr(f->anyway_reason, ==, REASON);
}

static void test_broken_xml(Fixture *f, gconstpointer data)
{
    run_hook(f, "migrate", "begin", "<domain><name>guest1</name>");
    g_assert_cmpint(f->status, ==, 1);
    g_assert_true(g_str_has_prefix(f->err, "netcarry: cannot carry the network state of guest1"));
    g_assert_cmpuint(f->admitted, ==, 0);
}

static void test_ordinary_start(Fixture *f, gconstpointer data)
{
    /* a VM that boots here (no migrate begin before): no migration, no gate */
    run_hook(f, "prepare", "begin", XML_TAP);
    g_assert_cmpint(f->status, ==, 0);
    run_hook(f, "started", "begin", XML_TAP);
    g_assert_cmpint(f->status, ==, 0);
    run_hook(f, "stopped", "end", XML_TAP);
    g_assert_cmpint(f->status, ==, 0);
    g_assert_null(f->tap);
    g_assert_cmpint(dest_phase(f), ==, NC_PHASE_NONE);
}

typedef struct {
    const char *path;
    char *text;
    GError *error;
    gboolean done;
} StatusCall;

static gpointer status_thread(gpointer data)
{
    StatusCall *c = data;

    c->text = nc_hook_status_call(c->path, g_get_monotonic_time() + 5 * G_USEC_PER_SEC, &c->error);
    g_atomic_int_set(&c->done, TRUE);
    return NULL;
}

static void test_status(Fixture *f, gconstpointer data)
{
    StatusCall c = {f->config->hook_socket, NULL, NULL, FALSE};
    GThread *t = g_thread_new("status", status_thread, &c);
    gint64 deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
    g_autoptr(GError) error = NULL;

    while (!g_atomic_int_get(&c.done) && g_get_monotonic_time() < deadline)
        g_main_context_iteration(NULL, FALSE);
    g_thread_join(t);
    g_assert_no_error(c.error);
    g_assert_cmpstr(c.text, ==, UUID " destination precopy\n");
    g_free(c.text);

    /* a second daemon must not take the socket of a live one */
    g_assert_null(nc_hook_server_new(f->config, f->phases, &fake, f, &error));
    g_assert_error(error, NC_ERROR, NC_ERROR_EXISTS);

    /* and with no daemon, the status client says so */
    g_clear_error(&error);
    g_clear_pointer(&f->server, nc_hook_server_free);
    g_assert_null(nc_hook_status_call(f->config->hook_socket,
                                      g_get_monotonic_time() + G_USEC_PER_SEC, &error));
    g_assert_error(error, NC_ERROR, NC_ERROR_NOT_FOUND);
}

/* ---- admissions answered side by side (netcarryd's asynchronous engine) ---- */

/* The fake engine refuses when f->refuse, decides domain "slow" after 1.5 s (a source that takes
 * its time), "never" only when hurried, any other at once. */
static gboolean fake_admit_decided(gpointer data)
{
    GTask *task = data;

    g_task_return_boolean(task, TRUE);
    g_object_unref(task);
    return G_SOURCE_REMOVE;
}

static GTask *never_task; /* the admission of "never", until hurried */
static guint hurried;

static void fake_admit_async(gpointer data, const NcDomain *domain, GAsyncReadyCallback callback,
                             gpointer callback_data)
{
    Fixture *f = data;
    GTask *task = g_task_new(NULL, NULL, callback, callback_data);

    if (f->refuse) {
        g_task_return_new_error(task, NC_ERROR, NC_ERROR_UNSUPPORTED, "%s", REASON);
        g_object_unref(task);
        return;
    }
    if (g_str_equal(domain->name, "never")) {
        g_assert_null(never_task);
        never_task = task;
        return;
    }
    g_timeout_add(g_str_equal(domain->name, "slow") ? 1500 : 0, fake_admit_decided, task);
}

static void fake_admit_hurry(gpointer data, const char *uuid)
{
    hurried++;
    if (never_task)
        fake_admit_decided(g_steal_pointer(&never_task));
}

static gboolean fake_admit_finish(gpointer data, GAsyncResult *result, GError **error)
{
    Fixture *f = data;

    if (!g_task_propagate_boolean(G_TASK(result), error))
        return FALSE;
    f->admitted++;
    return TRUE;
}

static const NcHookHandlers fake = {.admit_anyway = fake_admit_anyway,
                                    .set_tap = fake_set_tap,
                                    .status = fake_status,
                                    .pin = fake_pin,
                                    .admit_async = fake_admit_async,
                                    .admit_finish = fake_admit_finish,
                                    .admit_hurry = fake_admit_hurry};

/* One hook process of several at once: when it ended, how. */
typedef struct {
    gint64 ended_us;
    int status;
} HookRun;

static void hook_ended(GObject *proc, GAsyncResult *res, gpointer data)
{
    HookRun *r = data;
    g_autoptr(GError) error = NULL;

    g_assert_true(g_subprocess_wait_finish(G_SUBPROCESS(proc), res, &error));
    r->status = g_subprocess_get_exit_status(G_SUBPROCESS(proc));
    r->ended_us = g_get_monotonic_time();
}

static GSubprocess *spawn_migrate_begin(Fixture *f, const char *name, const char *uuid,
                                        HookRun *run)
{
    g_autoptr(GSubprocessLauncher) l = g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDIN_PIPE |
                                                                 G_SUBPROCESS_FLAGS_STDOUT_SILENCE);
    g_autofree char *xml = g_strdup_printf(
        "<domain type='qemu'><name>%s</name><uuid>%s</uuid><metadata><profile "
        "xmlns='https://netcarry.dev/xmlns/profile/1'><address>192.0.2.50</address></profile>"
        "</metadata></domain>\n",
        name, uuid);
    g_autoptr(GError) error = NULL;
    GSubprocess *proc;

    g_subprocess_launcher_setenv(l, "NETCARRY_CONF", f->conf_path, TRUE);
    proc = g_subprocess_launcher_spawn(l, &error, g_getenv("NETCARRY_HOOK"), name, "migrate",
                                       "begin", "-", NULL);
    g_assert_no_error(error);
    g_assert_true(g_output_stream_write_all(g_subprocess_get_stdin_pipe(proc), xml, strlen(xml),
                                            NULL, NULL, &error));
    g_assert_true(g_output_stream_close(g_subprocess_get_stdin_pipe(proc), NULL, &error));
    g_assert_no_error(error);
    g_subprocess_wait_async(proc, NULL, hook_ended, run);
    return proc;
}

/* Two domains arrive at once; the first one's admission takes 1.5 s: the second one's hook call
 * is answered at once, not after the first one's. */
static void test_admit_side_by_side(Fixture *f, gconstpointer data)
{
    HookRun slow = {0}, quick = {0};
    g_autoptr(GSubprocess) p1 = NULL;
    g_autoptr(GSubprocess) p2 = NULL;
    gint64 t0 = g_get_monotonic_time(), deadline = t0 + 10 * G_USEC_PER_SEC;

    start_server_with(f, NC_ADMISSION_REFUSE, &fake);
    p1 = spawn_migrate_begin(f, "slow", "5a3c1f5e-0b7e-4c55-9f0e-000000000001", &slow);
    /* the slow one's request is in the server's hands first (its phase opened) */
    while (nc_phase_tracker_current(f->phases, "5a3c1f5e-0b7e-4c55-9f0e-000000000001",
                                    NC_SIDE_DESTINATION, NULL) == NC_PHASE_NONE &&
           g_get_monotonic_time() < deadline)
        g_main_context_iteration(NULL, TRUE);
    p2 = spawn_migrate_begin(f, "quick", "5a3c1f5e-0b7e-4c55-9f0e-000000000002", &quick);
    while ((!slow.ended_us || !quick.ended_us) && g_get_monotonic_time() < deadline)
        g_main_context_iteration(NULL, TRUE);
    g_test_message("quick answered after %" G_GINT64_FORMAT " ms, slow after %" G_GINT64_FORMAT
                   " ms",
                   (quick.ended_us - t0) / 1000, (slow.ended_us - t0) / 1000);
    g_assert_cmpint(slow.ended_us, >, 0);
    g_assert_cmpint(quick.ended_us, >, 0);
    g_assert_cmpint(slow.status, ==, 0);
    g_assert_cmpint(quick.status, ==, 0);
    g_assert_cmpuint(f->admitted, ==, 2);
    g_assert_cmpint(quick.ended_us, <, slow.ended_us);
    g_assert_cmpint(slow.ended_us - t0, >=, 1500000);
}

/* An admission 2.5 times as long as hook-ms (the source's first copy still streaming in): the
 * real hook hears the server's progress reports and waits for the answer; nobody hurries it. */
static void test_admit_longer_than_hook_ms(Fixture *f, gconstpointer data)
{
    HookRun run = {0};
    g_autoptr(GSubprocess) p = NULL;
    gint64 t0 = g_get_monotonic_time(), deadline = t0 + 10 * G_USEC_PER_SEC;

    hurried = 0;
    start_server_ms(f, NC_ADMISSION_REFUSE, &fake, 600);
    p = spawn_migrate_begin(f, "slow", UUID, &run);
    while (!run.ended_us && g_get_monotonic_time() < deadline)
        g_main_context_iteration(NULL, TRUE);
    g_test_message("answered after %" G_GINT64_FORMAT " ms", (run.ended_us - t0) / 1000);
    g_assert_cmpint(run.ended_us, >, 0);
    g_assert_cmpint(run.status, ==, 0);
    g_assert_cmpuint(f->admitted, ==, 1);
    g_assert_cmpuint(hurried, ==, 0);
    g_assert_cmpint(run.ended_us - t0, >=, 1500000);
}

typedef struct {
    char *socket_path;
    guint hook_ms;
    NcHookAnswer *answer;
    GError *error;
    gint64 elapsed_us;
} OldHook;

/* What a hook older than progress reports does: the request, no options, one deadline. */
static gpointer old_hook_thread(gpointer data)
{
    OldHook *o = data;
    g_autofree char *xml = g_strdup_printf(
        "<domain type='qemu'><name>never</name><uuid>%s</uuid><metadata><profile "
        "xmlns='https://netcarry.dev/xmlns/profile/1'><address>192.0.2.50</address></profile>"
        "</metadata></domain>\n",
        UUID);
    NcHookRequest req = {"never", "migrate", "begin", "-", xml};
    gint64 t0 = g_get_monotonic_time();

    o->answer = nc_hook_call(o->socket_path, &req, t0 + o->hook_ms * (gint64)1000, &o->error);
    o->elapsed_us = g_get_monotonic_time() - t0;
    return NULL;
}

/* An older hook (no progress option) still waits hook-ms at most: the server hurries the engine
 * at 90 % of it, and the engine's answer (here: admitted) reaches the hook in time. */
static void test_older_hook_hurried(Fixture *f, gconstpointer data)
{
    OldHook o = {0};
    GThread *t;
    gint64 deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;

    hurried = 0;
    start_server_ms(f, NC_ADMISSION_REFUSE, &fake, 600);
    o.socket_path = f->config->hook_socket;
    o.hook_ms = 600;
    t = g_thread_new("old-hook", old_hook_thread, &o);
    while (!o.elapsed_us && g_get_monotonic_time() < deadline)
        g_main_context_iteration(NULL, FALSE);
    g_thread_join(t);
    /* the server's side of the connection ends on this loop (the answer written, the client
     * freed) before the server goes at teardown */
    deadline = g_get_monotonic_time() + 200000;
    while (g_get_monotonic_time() < deadline)
        g_main_context_iteration(NULL, FALSE);
    g_test_message("answered after %" G_GINT64_FORMAT " ms", o.elapsed_us / 1000);
    g_assert_no_error(o.error);
    g_assert_nonnull(o.answer);
    g_assert_cmpint(o.answer->verdict, ==, NC_HOOK_ACCEPT);
    g_assert_cmpuint(hurried, ==, 1);
    g_assert_cmpint(o.elapsed_us, >=, 500000);
    g_assert_cmpint(o.elapsed_us, <, 600000);
    nc_hook_answer_free(o.answer);
}

/* A daemon that hangs while it decides (its main loop stops: no more progress reports): the real
 * hook gives up hook-ms after the last report, by the admission policy. */
static void test_daemon_hangs(Fixture *f, gconstpointer data)
{
    HookRun run = {0};
    g_autoptr(GSubprocess) p = NULL;
    g_autoptr(GError) error = NULL;
    gint64 t0 = g_get_monotonic_time();

    hurried = 0;
    start_server_ms(f, NC_ADMISSION_REFUSE, &fake, 600);
    p = spawn_migrate_begin(f, "never", UUID, &run);
    /* two progress reports (every 200 ms); the hook would have given up at 600 ms without them */
    while (g_get_monotonic_time() - t0 < 1000000)
        g_main_context_iteration(NULL, FALSE);
    g_assert_cmpint(run.ended_us, ==, 0);
    /* hung: waiting for the hook without serving this process's main loop */
    g_assert_true(g_subprocess_wait(p, NULL, &error));
    g_test_message("the hook gave up after %" G_GINT64_FORMAT " ms",
                   (g_get_monotonic_time() - t0) / 1000);
    g_assert_cmpint(g_subprocess_get_exit_status(p), ==, 1);
    g_assert_cmpint(g_get_monotonic_time() - t0, <, 1000000 + 600000 + 1000000);
    /* the engine's admission ends with the server */
    g_clear_pointer(&f->server, nc_hook_server_free);
    if (never_task)
        fake_admit_decided(g_steal_pointer(&never_task));
    while (g_main_context_iteration(NULL, FALSE))
        ;
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    if (!g_getenv("NETCARRY_HOOK")) {
        g_printerr("NETCARRY_HOOK is not set: run through meson test\n");
        return 1;
    }
    g_test_add("/hook-server/admit", Fixture, NULL, setup, test_admit, teardown);
    g_test_add("/hook-server/admit-pinned", Fixture, NULL, setup, test_admit_pinned, teardown);
    g_test_add("/hook-server/refuse", Fixture, NULL, setup, test_refuse, teardown);
    g_test_add("/hook-server/proceed", Fixture, NULL, setup, test_proceed, teardown);
    g_test_add("/hook-server/broken-xml", Fixture, NULL, setup, test_broken_xml, teardown);
    g_test_add("/hook-server/ordinary-start", Fixture, NULL, setup, test_ordinary_start, teardown);
    g_test_add("/hook-server/status", Fixture, NULL, setup, test_status, teardown);
    g_test_add("/hook-server/admit-side-by-side", Fixture, NULL, setup, test_admit_side_by_side,
               teardown);
    g_test_add("/hook-server/admit-longer-than-hook-ms", Fixture, NULL, setup,
               test_admit_longer_than_hook_ms, teardown);
    g_test_add("/hook-server/older-hook-hurried", Fixture, NULL, setup, test_older_hook_hurried,
               teardown);
    g_test_add("/hook-server/daemon-hangs", Fixture, NULL, setup, test_daemon_hangs, teardown);
    return g_test_run();
}
