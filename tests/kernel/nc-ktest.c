/* nc-ktest.c - what the kernel tests share */
#include "nc-ktest.h"

#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_conntrack_tcp.h>
#include <netinet/in.h>

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

void nc_ktest_ns_del(const char *ns)
{
    const char *argv[] = {"ip", "netns", "del", ns, NULL};

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
