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

static gboolean fake_admit(gpointer data, const NcDomain *domain, GError **error)
{
    Fixture *f = data;

    g_assert_cmpstr(domain->uuid, ==, UUID);
    if (f->refuse) {
        g_set_error_literal(error, NC_ERROR, NC_ERROR_UNSUPPORTED, REASON);
        return FALSE;
    }
    f->admitted++;
    return TRUE;
}

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

    g_assert_cmpstr(domain->uuid, ==, UUID);
    return g_strdup(f->pin);
}

static const NcHookHandlers fake = {fake_admit, fake_admit_anyway, fake_set_tap, fake_status,
                                    fake_pin};

static void start_server(Fixture *f, NcAdmission admission)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *conf = NULL;

    g_clear_pointer(&f->server, nc_hook_server_free);
    g_clear_pointer(&f->config, nc_config_free);
    conf = g_strdup_printf("[daemon]\nhook-socket = %s/run/hook.sock\n"
                           "[migration]\nadmission = %s\n[timeouts]\nhook-ms = 3000\n",
                           f->dir, nc_admission_to_string(admission));
    g_assert_true(g_file_set_contents(f->conf_path, conf, -1, &error));
    f->config = nc_config_load(f->conf_path, &error);
    g_assert_no_error(error);
    f->server = nc_hook_server_new(f->config, f->phases, &fake, f, &error);
    g_assert_no_error(error);
    g_assert_nonnull(f->server);
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
    return g_test_run();
}
