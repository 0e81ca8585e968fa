/* test-hook.c - the real hook binary against a fake netcarryd on a unix socket in a temp dir
 * Checks what libvirt and virsh see: exit code, stderr line, empty stdout, and bounded time.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gstdio.h>

#include "nc-hook-proto.h"

#define XML                                                                                        \
    "<domain "                                                                                     \
    "type='qemu'><name>guest1</name><uuid>5a3c1f5e-0b7e-4c55-9f0e-000000000001</uuid></domain>\n"
#define REASON "the conntrack table is full (262100 of 262144 entries)"
#define PINNED                                                                                     \
    "<?xml version=\"1.0\"?>\n<domain type='qemu'><name>guest1</name><devices><interface "         \
    "type='bridge'><mac address='52:54:00:77:00:50'/><filterref filter='clean-traffic'>"           \
    "<parameter name=\"IP\" value=\"192.168.77.50\"/></filterref></interface></devices>"           \
    "</domain>\n"

typedef enum {
    SERVER_ACCEPT,
    SERVER_REFUSE,
    SERVER_SILENT, /* reads the request, never answers */
    SERVER_GARBAGE,
    SERVER_BAD_VERSION,
    SERVER_CLOSE, /* reads the request, closes without an answer */
    SERVER_PIN,   /* accepts with a changed domain XML (learned addresses pinned) */
    /* a daemon that knows progress reports (it reads the hook's options), reporting every third
     * of hook-ms: */
    SERVER_PROGRESS,         /* for 3 x hook-ms, then accepts */
    SERVER_PROGRESS_STALL,   /* twice, then nothing (a hung daemon) */
    SERVER_PROGRESS_FOREVER, /* never answers */
} ServerMode;

typedef struct {
    char *dir;
    char *sock_path;
    char *conf_path;
    int listen_fd;
    ServerMode mode;
    GThread *thread;
    NcHookRequest *got; /* what the server received */
    int exit_status;
    char *out, *err;
    double elapsed_ms;
    guint hook_ms;
    gboolean got_progress_option; /* the hook sent the "progress" option after its request */
    guint progress_sent;
} Fixture;

/* The progress-reporting daemon's side of SERVER_PROGRESS*: reads the hook's options, then
 * reports every third of hook-ms, @n times (0: until the hook goes). */
static void serve_progress(Fixture *f, int fd, guint n, gint64 deadline)
{
    g_autoptr(GBytes) options = NULL;
    g_autoptr(GError) error = NULL;

    g_assert_true(nc_hook_fd_read_frame(fd, NC_HOOK_MSG_OPTIONS, deadline, &options, &error));
    g_assert_true(nc_hook_options_decode(g_bytes_get_data(options, NULL), g_bytes_get_size(options),
                                         &f->got_progress_option, &error));
    g_assert_no_error(error);
    for (guint i = 0; (!n || i < n) && g_get_monotonic_time() < deadline; i++) {
        g_autoptr(GBytes) frame = nc_hook_progress_encode("first copy: 1000 entries installed");

        g_usleep(f->hook_ms / 3 * 1000);
        if (!nc_hook_fd_write_all(fd, frame, deadline, NULL))
            return; /* the hook gave up */
        f->progress_sent++;
    }
}

static gpointer server_main(gpointer data)
{
    Fixture *f = data;
    struct pollfd p = {f->listen_fd, POLLIN, 0};
    g_autoptr(GBytes) payload = NULL;
    g_autoptr(GError) error = NULL;
    gint64 deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
    int fd;

    if (poll(&p, 1, 10000) != 1)
        return NULL;
    fd = accept(f->listen_fd, NULL, NULL);
    g_assert_cmpint(fd, >=, 0);
    if (nc_hook_fd_read_frame(fd, NC_HOOK_MSG_REQUEST, deadline, &payload, &error))
        f->got = nc_hook_request_decode(g_bytes_get_data(payload, NULL), g_bytes_get_size(payload),
                                        &error);
    g_assert_no_error(error);

    switch (f->mode) {
    case SERVER_ACCEPT:
    case SERVER_REFUSE: {
        NcHookAnswer a = {f->mode == SERVER_ACCEPT ? NC_HOOK_ACCEPT : NC_HOOK_REFUSE, REASON};
        g_autoptr(GBytes) frame = nc_hook_answer_encode(&a);

        g_assert_true(nc_hook_fd_write_all(fd, frame, deadline, NULL));
        break;
    }
    case SERVER_PIN: {
        NcHookAnswer a = {NC_HOOK_ACCEPT, NULL, PINNED};
        g_autoptr(GBytes) frame = nc_hook_answer_encode(&a);

        g_assert_true(nc_hook_fd_write_all(fd, frame, deadline, NULL));
        break;
    }
    case SERVER_SILENT: {
        /* hold the connection until the hook gives up and closes it */
        struct pollfd q = {fd, POLLIN, 0};
        char c;

        while (poll(&q, 1, 10000) == 1 && recv(fd, &c, 1, 0) > 0)
            ;
        break;
    }
    case SERVER_GARBAGE: {
        const char junk[] = "HTTP/1.0 200 OK\r\n\r\n";

        g_assert_cmpint(send(fd, junk, sizeof(junk) - 1, MSG_NOSIGNAL), ==, sizeof(junk) - 1);
        break;
    }
    case SERVER_BAD_VERSION: {
        NcHookAnswer a = {NC_HOOK_ACCEPT, NULL};
        g_autoptr(GBytes) frame = nc_hook_answer_encode(&a);
        g_autofree guint8 *copy = g_memdup2(g_bytes_get_data(frame, NULL), g_bytes_get_size(frame));

        copy[5] = NC_HOOK_PROTO_VERSION + 1;
        g_assert_cmpint(send(fd, copy, g_bytes_get_size(frame), MSG_NOSIGNAL), >, 0);
        break;
    }
    case SERVER_PROGRESS: {
        NcHookAnswer a = {NC_HOOK_ACCEPT, NULL};
        g_autoptr(GBytes) frame = nc_hook_answer_encode(&a);

        serve_progress(f, fd, 9, deadline);
        g_assert_true(nc_hook_fd_write_all(fd, frame, deadline, NULL));
        break;
    }
    case SERVER_PROGRESS_STALL: {
        struct pollfd q = {fd, POLLIN, 0};
        char c;

        serve_progress(f, fd, 2, deadline);
        while (poll(&q, 1, 10000) == 1 && recv(fd, &c, 1, 0) > 0)
            ;
        break;
    }
    case SERVER_PROGRESS_FOREVER:
        serve_progress(f, fd, 0, deadline);
        break;
    default:
        break;
    }
    close(fd);
    return NULL;
}

static void write_config(Fixture *f, const char *admission, guint hook_ms, const char *extra)
{
    g_autofree char *text =
        g_strdup_printf("[migration]\nadmission = %s\n[daemon]\nhook-socket = %s\n"
                        "[timeouts]\nhook-ms = %u\n%s",
                        admission, f->sock_path, hook_ms, extra ? extra : "");

    g_assert_true(g_file_set_contents(f->conf_path, text, -1, NULL));
    f->hook_ms = hook_ms;
}

static void setup(Fixture *f, gconstpointer data)
{
    f->dir = g_dir_make_tmp("nc-hook-XXXXXX", NULL);
    g_assert_nonnull(f->dir);
    f->sock_path = g_build_filename(f->dir, "netcarryd.sock", NULL);
    f->conf_path = g_build_filename(f->dir, "netcarry.conf", NULL);
    f->listen_fd = -1;
    write_config(f, "refuse", 1000, NULL);
}

static void start_server(Fixture *f, ServerMode mode)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};

    f->mode = mode;
    f->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    g_assert_cmpint(f->listen_fd, >=, 0);
    g_strlcpy(sa.sun_path, f->sock_path, sizeof(sa.sun_path));
    g_assert_cmpint(bind(f->listen_fd, (struct sockaddr *)&sa, sizeof(sa)), ==, 0);
    g_assert_cmpint(listen(f->listen_fd, 4), ==, 0);
    f->thread = g_thread_new("fake-netcarryd", server_main, f);
}

static void teardown(Fixture *f, gconstpointer data)
{
    if (f->thread)
        g_thread_join(f->thread);
    if (f->listen_fd >= 0)
        close(f->listen_fd);
    nc_hook_request_free(f->got);
    g_unlink(f->sock_path);
    g_unlink(f->conf_path);
    g_rmdir(f->dir);
    g_free(f->sock_path);
    g_free(f->conf_path);
    g_free(f->dir);
    g_free(f->out);
    g_free(f->err);
}

/* Run the hook as libvirt does: argv, the XML on stdin; collect exit status, stdout, stderr. */
static void run_hook(Fixture *f, const char *op, const char *sub_op)
{
    const char *hook = g_getenv("NETCARRY_HOOK");
    g_autoptr(GSubprocessLauncher) l = NULL;
    g_autoptr(GSubprocess) p = NULL;
    g_autoptr(GError) error = NULL;
    gint64 t0;

    g_assert_nonnull(hook);
    l = g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                  G_SUBPROCESS_FLAGS_STDERR_PIPE);
    g_subprocess_launcher_setenv(l, "NETCARRY_CONF", f->conf_path, TRUE);
    t0 = g_get_monotonic_time();
    p = g_subprocess_launcher_spawn(l, &error, hook, "guest1", op, sub_op, "-", NULL);
    g_assert_no_error(error);
    g_assert_true(g_subprocess_communicate_utf8(p, XML, NULL, &f->out, &f->err, &error));
    g_assert_no_error(error);
    f->elapsed_ms = (g_get_monotonic_time() - t0) / 1000.0;
    g_assert_true(g_subprocess_get_if_exited(p));
    f->exit_status = g_subprocess_get_exit_status(p);
    g_test_message("%s %s: exit %d in %.1f ms, stderr: %s", op, sub_op, f->exit_status,
                   f->elapsed_ms, f->err);
}

static void assert_refused(Fixture *f, const char *reason)
{
    g_autofree char *line = g_strdup_printf(
        "netcarry: cannot carry the network state of guest1 to %s: %s", g_get_host_name(), reason);

    g_assert_cmpint(f->exit_status, ==, 1);
    g_assert_cmpstr(f->out, ==, "");
    g_assert_true(g_str_has_prefix(f->err, line));
    g_assert_true(g_str_has_suffix(f->err, "\n"));
    g_assert_cmpstr(strchr(f->err, '\n'), ==, "\n"); /* one line: virsh shows it as is */
}

static void test_accept(Fixture *f, gconstpointer data)
{
    start_server(f, SERVER_ACCEPT);
    run_hook(f, "migrate", "begin");
    g_assert_cmpint(f->exit_status, ==, 0);
    g_assert_cmpstr(f->out, ==, ""); /* empty: libvirt keeps the XML unchanged */
    g_assert_cmpstr(f->err, ==, "");
    g_assert_nonnull(f->got);
    g_assert_cmpstr(f->got->domain, ==, "guest1");
    g_assert_cmpstr(f->got->op, ==, "migrate");
    g_assert_cmpstr(f->got->sub_op, ==, "begin");
    g_assert_cmpstr(f->got->extra, ==, "-");
    g_assert_cmpstr(f->got->xml, ==, XML);
}

/* admitted with learned addresses pinned: the hook prints the daemon's XML, whole, for libvirt */
static void test_accept_pinned(Fixture *f, gconstpointer data)
{
    start_server(f, SERVER_PIN);
    run_hook(f, "migrate", "begin");
    g_assert_cmpint(f->exit_status, ==, 0);
    g_assert_cmpstr(f->out, ==, PINNED);
    g_assert_cmpstr(f->err, ==, "");
}

/* only `migrate begin` may change the XML: elsewhere stdout stays empty whatever the answer */
static void test_pinned_ignored_elsewhere(Fixture *f, gconstpointer data)
{
    start_server(f, SERVER_PIN);
    run_hook(f, "prepare", "begin");
    g_assert_cmpint(f->exit_status, ==, 0);
    g_assert_cmpstr(f->out, ==, "");
}

static void test_forward_other_ops(Fixture *f, gconstpointer data)
{
    start_server(f, SERVER_ACCEPT);
    run_hook(f, "stopped", "end");
    g_assert_cmpint(f->exit_status, ==, 0);
    g_assert_cmpstr(f->out, ==, "");
    g_assert_cmpstr(f->got->op, ==, "stopped");
    g_assert_cmpstr(f->got->sub_op, ==, "end");
    g_assert_cmpstr(f->got->xml, ==, XML);
}

static void test_refuse(Fixture *f, gconstpointer data)
{
    start_server(f, SERVER_REFUSE);
    run_hook(f, "migrate", "begin");
    assert_refused(f, REASON);
}

/* A refusal only means something at migrate begin: never block a VM's start. */
static void test_refuse_ignored_elsewhere(Fixture *f, gconstpointer data)
{
    start_server(f, SERVER_REFUSE);
    run_hook(f, "start", "begin");
    g_assert_cmpint(f->exit_status, ==, 0);
    g_assert_cmpstr(f->out, ==, "");
    g_assert_cmpstr(f->err, ==, "");
}

static void test_absent_refuse(Fixture *f, gconstpointer data)
{
    g_autofree char *reason = g_strdup_printf("netcarryd is not running on %s", g_get_host_name());

    run_hook(f, "migrate", "begin");
    assert_refused(f, reason);
}

static void test_absent_refuse_other_op(Fixture *f, gconstpointer data)
{
    run_hook(f, "prepare", "begin");
    g_assert_cmpint(f->exit_status, ==, 0);
    g_assert_cmpstr(f->out, ==, "");
}

static void test_absent_proceed(Fixture *f, gconstpointer data)
{
    write_config(f, "proceed", 1000, NULL);
    run_hook(f, "migrate", "begin");
    g_assert_cmpint(f->exit_status, ==, 0);
    g_assert_cmpstr(f->out, ==, "");
    g_assert_nonnull(strstr(f->err, "netcarryd is not running"));
}

/* A stale socket file with nobody listening is the same as no daemon. */
static void test_stale_socket(Fixture *f, gconstpointer data)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    g_strlcpy(sa.sun_path, f->sock_path, sizeof(sa.sun_path));
    g_assert_cmpint(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), ==, 0);
    close(fd);
    g_assert_true(g_file_test(f->sock_path, G_FILE_TEST_EXISTS));
    run_hook(f, "migrate", "begin");
    g_assert_cmpint(f->exit_status, ==, 1);
    g_assert_nonnull(strstr(f->err, "netcarryd is not running"));
}

/* The daemon accepts and never answers: the hook gives up at hook-ms, for every operation. */
static void test_silent(Fixture *f, gconstpointer data)
{
    const char *policy = data;
    gboolean refuse = g_str_equal(policy, "refuse");

    write_config(f, policy, 300, NULL);
    start_server(f, SERVER_SILENT);
    run_hook(f, "migrate", "begin");
    g_assert_cmpfloat(f->elapsed_ms, >=, 290);
    g_assert_cmpfloat(f->elapsed_ms, <, 300 + 1500);
    g_assert_cmpint(f->exit_status, ==, refuse ? 1 : 0);
    g_assert_cmpstr(f->out, ==, "");
    g_assert_nonnull(strstr(f->err, "did not answer within 300 ms"));
    if (refuse)
        g_assert_true(
            g_str_has_prefix(f->err, "netcarry: cannot carry the network state of guest1"));
}

/* A daemon that reports progress keeps the hook waiting past hook-ms (3 x here) until it
 * answers. */
static void test_progress(Fixture *f, gconstpointer data)
{
    write_config(f, "refuse", 300, NULL);
    start_server(f, SERVER_PROGRESS);
    run_hook(f, "migrate", "begin");
    g_assert_true(f->got_progress_option);
    g_assert_cmpuint(f->progress_sent, ==, 9);
    g_assert_cmpfloat(f->elapsed_ms, >=, 3 * 290);
    g_assert_cmpint(f->exit_status, ==, 0);
    g_assert_cmpstr(f->out, ==, "");
    g_assert_cmpstr(f->err, ==, "");
}

/* Progress, then silence (a hung daemon): the hook gives up hook-ms after the last report. */
static void test_progress_stall(Fixture *f, gconstpointer data)
{
    write_config(f, "refuse", 300, NULL);
    start_server(f, SERVER_PROGRESS_STALL);
    run_hook(f, "migrate", "begin");
    g_assert_cmpuint(f->progress_sent, ==, 2);
    /* two reports a third of hook-ms apart, then hook-ms of silence */
    g_assert_cmpfloat(f->elapsed_ms, >=, 2 * 100 + 290);
    g_assert_cmpfloat(f->elapsed_ms, <, 2 * 100 + 300 + 1500);
    assert_refused(f, "netcarryd on");
    g_assert_nonnull(strstr(f->err, "did not answer within 300 ms of its last progress report"));
}

/* Progress without end: admission-max-ms + hook-ms bounds the hook all the same. */
static void test_progress_cap(Fixture *f, gconstpointer data)
{
    write_config(f, "refuse", 300, "admission-max-ms = 700\n");
    start_server(f, SERVER_PROGRESS_FOREVER);
    run_hook(f, "migrate", "begin");
    g_assert_cmpuint(f->progress_sent, >=, 3);
    g_assert_cmpfloat(f->elapsed_ms, >=, 990);
    g_assert_cmpfloat(f->elapsed_ms, <, 1000 + 1500);
    assert_refused(f, "netcarryd on");
    g_assert_nonnull(strstr(f->err, "did not answer within admission-max-ms + hook-ms"));
}

static void test_silent_other_op(Fixture *f, gconstpointer data)
{
    write_config(f, "refuse", 300, NULL);
    start_server(f, SERVER_SILENT);
    run_hook(f, "release", "end");
    g_assert_cmpfloat(f->elapsed_ms, <, 300 + 1500);
    g_assert_cmpint(f->exit_status, ==, 0);
    g_assert_cmpstr(f->err, ==, "");
}

static void test_garbage(Fixture *f, gconstpointer data)
{
    start_server(f, data == NULL ? SERVER_GARBAGE : GPOINTER_TO_INT(data));
    run_hook(f, "migrate", "begin");
    g_assert_cmpint(f->exit_status, ==, 1);
    g_assert_cmpstr(f->out, ==, "");
    g_assert_nonnull(strstr(f->err, "cannot carry the network state of guest1"));
    g_assert_nonnull(
        strstr(f->err, f->mode == SERVER_CLOSE ? "could not be asked" : "gave an invalid answer"));
}

static void test_bad_config(Fixture *f, gconstpointer data)
{
    write_config(f, "sometimes", 1000, NULL);
    run_hook(f, "migrate", "begin");
    g_assert_cmpint(f->exit_status, ==, 1);
    g_assert_nonnull(strstr(f->err, "invalid configuration"));
    g_assert_nonnull(strstr(f->err, "[migration] admission = 'sometimes'"));
    run_hook(f, "start", "begin");
    g_assert_cmpint(f->exit_status, ==, 0);
    g_assert_cmpstr(f->err, ==, "");
}

/* stdin that never closes (not what libvirt does) still cannot hold the hook past hook-ms. */
static void test_stdin_held_open(Fixture *f, gconstpointer data)
{
    const char *hook = g_getenv("NETCARRY_HOOK");
    g_autoptr(GSubprocessLauncher) l = g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDIN_PIPE |
                                                                 G_SUBPROCESS_FLAGS_STDERR_SILENCE);
    g_autoptr(GError) error = NULL;
    gint64 t0 = g_get_monotonic_time();

    write_config(f, "refuse", 300, NULL);
    g_subprocess_launcher_setenv(l, "NETCARRY_CONF", f->conf_path, TRUE);
    g_autoptr(GSubprocess) p =
        g_subprocess_launcher_spawn(l, &error, hook, "guest1", "started", "begin", "-", NULL);
    g_assert_no_error(error);
    g_assert_true(g_subprocess_wait(p, NULL, &error));
    g_assert_cmpfloat((g_get_monotonic_time() - t0) / 1000.0, <, 300 + 1500);
    g_assert_cmpint(g_subprocess_get_exit_status(p), ==, 0);
}

/* Without arguments (someone runs it by hand) it explains itself and does no harm. */
static void test_usage(void)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *err = NULL;
    g_autoptr(GSubprocess) p =
        g_subprocess_new(G_SUBPROCESS_FLAGS_STDERR_PIPE, &error, g_getenv("NETCARRY_HOOK"), NULL);

    g_assert_no_error(error);
    g_assert_true(g_subprocess_communicate_utf8(p, NULL, NULL, NULL, &err, &error));
    g_assert_cmpint(g_subprocess_get_exit_status(p), ==, 0);
    g_assert_nonnull(strstr(err, "usage:"));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    /* a hook that exits before reading all of its stdin (bad config, refusal)
     * must fail the assertion, not kill the test with SIGPIPE */
    signal(SIGPIPE, SIG_IGN);
    if (!g_getenv("NETCARRY_HOOK")) {
        g_printerr("NETCARRY_HOOK is not set: run through meson test\n");
        return 1;
    }
#define ADD(path, d, fn) g_test_add(path, Fixture, d, setup, fn, teardown)
    ADD("/hook/accept", NULL, test_accept);
    ADD("/hook/accept-pinned-xml", NULL, test_accept_pinned);
    ADD("/hook/pinned-xml-ignored-elsewhere", NULL, test_pinned_ignored_elsewhere);
    ADD("/hook/forward-other-ops", NULL, test_forward_other_ops);
    ADD("/hook/refuse", NULL, test_refuse);
    ADD("/hook/refuse-ignored-elsewhere", NULL, test_refuse_ignored_elsewhere);
    ADD("/hook/absent/refuse", NULL, test_absent_refuse);
    ADD("/hook/absent/refuse-other-op", NULL, test_absent_refuse_other_op);
    ADD("/hook/absent/proceed", NULL, test_absent_proceed);
    ADD("/hook/absent/stale-socket", NULL, test_stale_socket);
    ADD("/hook/silent/refuse", "refuse", test_silent);
    ADD("/hook/silent/proceed", "proceed", test_silent);
    ADD("/hook/silent/other-op", NULL, test_silent_other_op);
    ADD("/hook/progress/answered", NULL, test_progress);
    ADD("/hook/progress/stall", NULL, test_progress_stall);
    ADD("/hook/progress/cap", NULL, test_progress_cap);
    ADD("/hook/garbage", NULL, test_garbage);
    ADD("/hook/bad-version", GINT_TO_POINTER(SERVER_BAD_VERSION), test_garbage);
    ADD("/hook/closed-without-answer", GINT_TO_POINTER(SERVER_CLOSE), test_garbage);
    ADD("/hook/bad-config", NULL, test_bad_config);
    ADD("/hook/stdin-held-open", NULL, test_stdin_held_open);
    g_test_add_func("/hook/usage", test_usage);
    return g_test_run();
}
