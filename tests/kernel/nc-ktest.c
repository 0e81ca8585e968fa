/* nc-ktest.c - what the kernel tests share */
#include "nc-ktest.h"

#include "drivers/nc-gate.h"
#include "drivers/nc-mdb.h"
#include "util/nc-error.h"

#include <glib/gstdio.h>

#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_conntrack_tcp.h>
#include <netinet/in.h>
#include <signal.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

/* the namespaces a dying test removes: paths under /run/netns, fixed storage (signal handler) */
#define NS_SLOTS 8
static char ns_paths[NS_SLOTS][128];

gboolean nc_ktest_run_argv(const char *const *argv, char **out, GError **error)
{
    int status = 0;
    g_autofree char *stdout_text = NULL, *err = NULL;

    if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &stdout_text,
                      &err, &status, error))
        return FALSE;
    if (!g_spawn_check_wait_status(status, error)) {
        g_autofree char *line = g_strjoinv(" ", (char **)argv);
        g_prefix_error(error, "%s: %s: ", line, err ? g_strstrip(err) : "");
        return FALSE;
    }
    if (out)
        *out = g_steal_pointer(&stdout_text);
    return TRUE;
}

gboolean nc_ktest_run(char **out, GError **error, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    g_autofree char *line = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_auto(GStrv) argv = g_strsplit(line, " ", -1);
    return nc_ktest_run_argv((const char *const *)argv, out, error);
}

gboolean nc_ktest_conntrack(const char *ns, const char *args, char **out, GError **error)
{
    return nc_ktest_run(out, error, "ip netns exec %s conntrack %s", ns, args);
}

gboolean nc_ktest_ns_pair(const char *tag, char *src, char *dst, gsize len, gboolean *ready)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *nft = NULL;

    *ready = FALSE;
    if (geteuid() != 0) {
        g_test_skip("needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN) to create network namespaces");
        return FALSE;
    }
    nft = g_find_program_in_path("nft");
    if (!nft) {
        g_test_skip("no nft command (Debian package nftables) to write the test's rulesets");
        return FALSE;
    }
    g_snprintf(src, len, "%s-%d-s", tag, (int)getpid());
    g_snprintf(dst, len, "%s-%d-d", tag, (int)getpid());
    if (!nc_ktest_ns_add(src, &error) || (*ready = TRUE, !nc_ktest_ns_add(dst, &error))) {
        g_autofree char *msg =
            g_strdup_printf("cannot create network namespaces: %s", error->message);

        g_test_skip(msg);
        return FALSE;
    }
    return TRUE;
}

void nc_ktest_pair_teardown(NcKtestPair *f, gconstpointer data)
{
    g_clear_pointer(&f->owner, nc_owner_free);
    if (!f->ready)
        return;
    nc_ktest_ns_del(f->src);
    nc_ktest_ns_del(f->dst);
}

gboolean nc_ktest_nft_load(const char *ns, const char *text, GError **error)
{
    g_autofree char *path = NULL;
    int fd = g_file_open_tmp("nc-ktest-XXXXXX.nft", &path, error);
    gboolean ok;

    if (fd < 0)
        return FALSE;
    close(fd);
    if (!g_file_set_contents(path, text, -1, error))
        return FALSE;
    ok = nc_ktest_run(NULL, error, "ip netns exec %s nft -f %s", ns, path);
    unlink(path);
    return ok;
}

char *nc_ktest_nft_list(const char *ns, const char *what)
{
    g_autoptr(GError) error = NULL;
    char *out = NULL;

    if (!nc_ktest_run(&out, &error, "ip netns exec %s nft list %s", ns, what))
        return g_strdup(error->message);
    return out;
}

/* What `ip netns del` does, with async-signal-safe calls only. */
static void ns_remove_all_now(void)
{
    for (int i = 0; i < NS_SLOTS; i++) {
        if (!ns_paths[i][0])
            continue;
        umount2(ns_paths[i], MNT_DETACH);
        unlink(ns_paths[i]);
        ns_paths[i][0] = 0;
    }
}

static void on_fatal_signal(int sig)
{
    ns_remove_all_now();
    signal(sig, SIG_DFL);
    raise(sig);
}

gboolean nc_ktest_ns_add(const char *ns, GError **error)
{
    static const int sigs[] = {SIGABRT, SIGTRAP /* g_error() */, SIGSEGV, SIGTERM, SIGINT};
    static gboolean handlers;
    const char *argv[] = {"ip", "netns", "add", ns, NULL};
    int slot = -1;

    for (int i = 0; i < NS_SLOTS && slot < 0; i++)
        if (!ns_paths[i][0])
            slot = i;
    g_assert_cmpint(slot, >=, 0); /* more namespaces than slots: a test bug */
    if (!handlers) {
        for (guint i = 0; i < G_N_ELEMENTS(sigs); i++)
            signal(sigs[i], on_fatal_signal);
        handlers = TRUE;
    }
    if (!nc_ktest_run_argv(argv, NULL, error))
        return FALSE;
    g_snprintf(ns_paths[slot], sizeof(ns_paths[slot]), "/run/netns/%s", ns);
    return TRUE;
}

void nc_ktest_rm_dir(const char *dir)
{
    g_autoptr(GDir) d = dir ? g_dir_open(dir, 0, NULL) : NULL;
    const char *name;

    while (d && (name = g_dir_read_name(d))) {
        g_autofree char *p = g_build_filename(dir, name, NULL);

        g_unlink(p);
    }
    if (dir)
        g_rmdir(dir);
}

void nc_ktest_ns_del(const char *ns)
{
    const char *argv[] = {"ip", "netns", "del", ns, NULL};
    g_autofree char *path = g_strdup_printf("/run/netns/%s", ns);

    for (int i = 0; i < NS_SLOTS; i++)
        if (strcmp(ns_paths[i], path) == 0)
            ns_paths[i][0] = 0;
    nc_ktest_run_argv(argv, NULL, NULL);
}

NcCtEntry nc_ktest_tcp_entry(const char *src, guint16 sport)
{
    NcCtEntry e = {0};

    g_assert_true(nc_addr_parse(src, &e.orig.src, NULL));
    g_assert_true(nc_addr_parse("192.0.2.10", &e.orig.dst, NULL));
    e.orig.proto = IPPROTO_TCP;
    e.orig.sport = sport;
    e.orig.dport = 80;
    e.reply.src = e.orig.dst;
    e.reply.dst = e.orig.src;
    e.reply.proto = IPPROTO_TCP;
    e.reply.sport = 80;
    e.reply.dport = sport;
    e.timeout = 600;
    e.status = IPS_ASSURED | IPS_SEEN_REPLY;
    e.has_tcp = TRUE;
    e.tcp_state = TCP_CONNTRACK_ESTABLISHED;
    return e;
}

const NcCtEntry *nc_ktest_find_sport(GArray *entries, guint16 sport)
{
    for (guint i = 0; i < entries->len; i++)
        if (g_array_index(entries, NcCtEntry, i).orig.sport == sport)
            return &g_array_index(entries, NcCtEntry, i);
    return NULL;
}

int nc_ktest_cli(char **err, const char *first, ...)
{
    g_autoptr(GPtrArray) argv = g_ptr_array_new();
    g_autoptr(GError) error = NULL;
    g_autofree char *out = NULL;
    const char *arg;
    int status = -1;
    va_list ap;

    g_ptr_array_add(argv, (gpointer)g_getenv("NETCARRY_CLI"));
    va_start(ap, first);
    for (arg = first; arg; arg = va_arg(ap, const char *))
        g_ptr_array_add(argv, (gpointer)arg);
    va_end(ap);
    g_ptr_array_add(argv, NULL);
    g_assert_true(g_spawn_sync(NULL, (char **)argv->pdata, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out,
                               err, &status, &error));
    g_assert_no_error(error);
    g_test_message("netcarry %s: exit %d, stderr: %s", first, WEXITSTATUS(status), *err);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

NcItemSet *nc_ktest_mdb(const char *ns, const char *mac, const char *port)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(NcOwner) owner = nc_owner_new();
    NcItemSet *set = nc_item_set_new(&nc_mdb_class);
    gpointer h = nc_mdb_driver.open(ns, &error);
    guint8 m[6];

    g_assert_true(nc_mac_parse(mac, m));
    if (port)
        nc_owner_add_port(owner, m, port, NULL);
    else
        g_array_append_vals(owner->macs, m, 1);
    g_assert_nonnull(h);
    if (h) {
        g_assert_true(nc_mdb_driver.capture(h, owner, set, NULL, &error));
        g_assert_no_error(error);
        nc_mdb_driver.close(h);
    }
    return set;
}

gboolean nc_ktest_snooping_bridge(const char *ns, gboolean snooping, GError **error)
{
    return nc_ktest_run(NULL, error, "ip netns exec %s sysctl -qw net.ipv6.conf.all.disable_ipv6=1",
                        ns) &&
           nc_ktest_run(NULL, error,
                        "ip netns exec %s sysctl -qw net.ipv6.conf.default.disable_ipv6=1", ns) &&
           nc_ktest_run(NULL, error,
                        "ip -n %s link add br0 type bridge mcast_snooping %d mcast_igmp_version 3 "
                        "mcast_mld_version 2",
                        ns, snooping ? 1 : 0) &&
           nc_ktest_run(NULL, error, "ip -n %s link set br0 up", ns);
}

gboolean nc_ktest_bridge_port(const char *ns, const char *name, const char *mac, GError **error)
{
    gint64 end = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;

    if (!nc_ktest_run(NULL, error, "ip -n %s link add %s%s%s type veth peer name p-%s", ns, name,
                      mac ? " address " : "", mac ? mac : "", name) ||
        !nc_ktest_run(NULL, error, "ip -n %s link set %s master br0 up", ns, name) ||
        !nc_ktest_run(NULL, error, "ip -n %s link set p-%s up", ns, name))
        return FALSE;
    for (;;) {
        g_autofree char *out = NULL;

        if (!nc_ktest_run(&out, error, "bridge -n %s link show dev %s", ns, name))
            return FALSE;
        if (strstr(out, "state forwarding"))
            return TRUE;
        if (g_get_monotonic_time() > end) {
            g_set_error(error, NC_ERROR, NC_ERROR_TIMEOUT,
                        "bridge port %s in %s not forwarding within 5 s: %s", name, ns,
                        g_strstrip(out));
            return FALSE;
        }
        g_usleep(20 * 1000);
    }
}

guint nc_ktest_gate_count(const char *ns)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) gates = nc_gate_list(ns, &error);

    g_assert_no_error(error);
    return gates->len;
}

/* wakes the loop up to re-check what it does not see itself */
static gboolean tick(gpointer data)
{
    return G_SOURCE_CONTINUE;
}

void nc_ktest_spin(guint ms)
{
    gint64 end = g_get_monotonic_time() + ms * (gint64)1000;
    guint id = g_timeout_add(10, tick, NULL);

    while (g_get_monotonic_time() < end)
        g_main_context_iteration(NULL, TRUE);
    g_source_remove(id);
}

void nc_ktest_wait(gboolean (*pred)(gpointer data), gpointer data, guint max_ms, const char *what)
{
    gint64 end = g_get_monotonic_time() + max_ms * (gint64)1000;
    guint id = g_timeout_add(10, tick, NULL);

    while (!pred(data) && g_get_monotonic_time() < end)
        g_main_context_iteration(NULL, TRUE);
    g_source_remove(id);
    if (!pred(data))
        g_error("%s did not happen within %u ms", what, max_ms);
}

void nc_ktest_ct_add(const char *ns, const char *src, guint16 first, guint n)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(NcCt) ct = nc_ct_open(ns, &error);
    g_autoptr(GArray) entries = g_array_sized_new(FALSE, FALSE, sizeof(NcCtEntry), n);

    g_assert_no_error(error);
    for (guint i = 0; i < n; i++) {
        NcCtEntry e = nc_ktest_tcp_entry(src, (guint16)(first + i));

        g_array_append_val(entries, e);
    }
    g_assert_true(nc_ct_install(ct, (NcCtEntry *)entries->data, n, NULL, &error));
    g_assert_no_error(error);
}
