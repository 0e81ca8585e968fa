/* test-ct.c - the conntrack driver against the real kernel, in namespaces the test creates
 *
 * Suite 'kernel': needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN) and ctnetlink; skips otherwise.
 */
#include <errno.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_conntrack_tcp.h>
#include <string.h>
#include <unistd.h>

#include "drivers/nc-ct.h"
#include "nc-ktest.h"
#include "util/nc-error.h"

/* The VM whose entries are selected, and a neighbour whose entries must never be. */
#define VM4 "10.1.0.5"
#define VM6 "2001:db8:1::5"

typedef struct {
    char ns_a[64];   /* source host: populated with conntrack -I */
    char ns_b[64];   /* destination host: installed into by the driver */
    gboolean ready;  /* namespaces exist: teardown removes them */
    gboolean usable; /* and hold the test entries: the test may run */
} Fixture;

static guint ns_count(const char *ns)
{
    const char *argv[] = {"ip", "netns", "exec", ns, "conntrack", "-C", NULL};
    g_autofree char *out = NULL;
    g_autoptr(GError) error = NULL;

    if (!nc_ktest_run_argv(argv, &out, &error)) {
        g_test_message("conntrack -C in %s: %s", ns, error->message);
        return G_MAXUINT;
    }
    return (guint)g_ascii_strtoull(out, NULL, 10);
}

/* Entries of the source namespace. The VM's, by the comment's key (its original source port). */
static const char *const vm_entries[] = {
    /* 40000: the VM's own flow */
    "-I -p tcp -s " VM4 " -d 192.0.2.10 --sport 40000 --dport 80 --state ESTABLISHED "
    "-u ASSURED,SEEN_REPLY -t 600",
    /* 5555: a flow to the VM */
    "-I -p tcp -s 198.51.100.7 -d " VM4 " --sport 5555 --dport 22 --state ESTABLISHED "
    "-u ASSURED,SEEN_REPLY -t 600",
    /* 6000: DNAT to the VM (the reply comes from the VM) */
    "-I -p tcp -s 198.51.100.8 -d 203.0.113.1 --sport 6000 --dport 8080 --dst-nat " VM4
    ":80 --state ESTABLISHED -u ASSURED,SEEN_REPLY -t 600",
    /* 5353: the VM's flow, SNATed */
    "-I -p udp -s " VM4 " -d 192.0.2.53 --sport 5353 --dport 53 --src-nat 203.0.113.1:61000 "
    "-u SEEN_REPLY -t 300",
    /* 40001: IPv6, the VM's own */
    "-I -p tcp -s " VM6 " -d 2001:db8:2::1 --sport 40001 --dport 443 --state ESTABLISHED "
    "-u ASSURED,SEEN_REPLY -t 600",
    /* 1234: IPv6, to the VM */
    "-I -p udp -s 2001:db8:2::2 -d " VM6 " --sport 1234 --dport 53 -u SEEN_REPLY -t 300",
    /* 40002: zone 7 */
    "-I -p tcp -s " VM4 " -d 192.0.2.10 --sport 40002 --dport 80 --state ESTABLISHED "
    "-u ASSURED,SEEN_REPLY -t 600 --zone 7",
    /* 40003: mark 42 */
    "-I -p tcp -s " VM4 " -d 192.0.2.10 --sport 40003 --dport 80 --state ESTABLISHED "
    "-u ASSURED,SEEN_REPLY -t 600 --mark 42",
};
static const guint16 vm_sports[] = {40000, 5555, 6000, 5353, 40001, 1234, 40002, 40003};

/* Entries that must not be selected (original source ports 1xxxx mark them). */
static const char *const other_entries[] = {
    "-I -p tcp -s 10.1.0.6 -d 192.0.2.10 --sport 10001 --dport 80 --state ESTABLISHED "
    "-u ASSURED,SEEN_REPLY -t 600",
    "-I -p tcp -s 198.51.100.7 -d 10.1.0.6 --sport 10002 --dport 22 --state ESTABLISHED "
    "-u ASSURED,SEEN_REPLY -t 600",
    "-I -p tcp -s 2001:db8:1::6 -d 2001:db8:2::1 --sport 10003 --dport 443 --state ESTABLISHED "
    "-u ASSURED,SEEN_REPLY -t 600",
    /* addressed to the VM's address but DNATed away to the neighbour: not the VM's */
    "-I -p tcp -s 198.51.100.9 -d " VM4 " --sport 10004 --dport 25 --dst-nat 10.1.0.6:25 "
    "--state ESTABLISHED -u ASSURED,SEEN_REPLY -t 600",
};

static void fixture_setup(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;

    if (geteuid() != 0) {
        g_test_skip("needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN) to create network namespaces");
        return;
    }
    g_snprintf(f->ns_a, sizeof(f->ns_a), "nc-ct-%d-a", (int)getpid());
    g_snprintf(f->ns_b, sizeof(f->ns_b), "nc-ct-%d-b", (int)getpid());
    if (!nc_ktest_ns_add(f->ns_a, &error) || !nc_ktest_ns_add(f->ns_b, &error)) {
        g_autofree char *msg =
            g_strdup_printf("cannot create network namespaces: %s", error->message);
        nc_ktest_ns_del(f->ns_a);
        g_test_skip(msg);
        return;
    }
    f->ready = TRUE;

    g_autoptr(NcCt) probe = nc_ct_open(f->ns_a, &error);
    if (!probe) {
        g_autofree char *msg = g_strdup_printf("no ctnetlink: %s", error->message);
        g_test_skip(msg);
        return;
    }
    for (guint i = 0; i < G_N_ELEMENTS(vm_entries); i++)
        if (!nc_ktest_conntrack(f->ns_a, vm_entries[i], NULL, &error))
            break;
    for (guint i = 0; !error && i < G_N_ELEMENTS(other_entries); i++)
        if (!nc_ktest_conntrack(f->ns_a, other_entries[i], NULL, &error))
            break;
    if (error) {
        g_autofree char *msg =
            g_strdup_printf("conntrack -I cannot create test entries: %s", error->message);
        g_test_skip(msg);
        return;
    }
    f->usable = TRUE;
}

static void fixture_teardown(Fixture *f, gconstpointer data)
{
    if (!f->ready)
        return;
    nc_ktest_ns_del(f->ns_a);
    nc_ktest_ns_del(f->ns_b);
}

static NcCtSelector *selector_new(const char *a, const char *b)
{
    NcCtSelector *sel = g_new0(NcCtSelector, 1);
    NcAddr addr;

    sel->addresses = g_array_new(FALSE, FALSE, sizeof(NcAddr));
    g_assert_true(nc_addr_parse(a, &addr, NULL));
    g_array_append_val(sel->addresses, addr);
    if (b) {
        g_assert_true(nc_addr_parse(b, &addr, NULL));
        g_array_append_val(sel->addresses, addr);
    }
    return sel;
}

static void selector_free(NcCtSelector *sel)
{
    g_array_unref(sel->addresses);
    g_free(sel);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(NcCtSelector, selector_free)

static void assert_addr(const NcAddr *addr, const char *text)
{
    NcAddr want;

    g_assert_true(nc_addr_parse(text, &want, NULL));
    if (!nc_addr_equal(addr, &want)) {
        g_autofree char *got = nc_addr_to_string(addr);
        g_test_message("address %s, expected %s", got, text);
        g_test_fail();
    }
}

static GArray *capture(const char *ns, const NcCtSelector *sel)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(NcCt) ct = nc_ct_open(ns, &error);
    GArray *out = g_array_new(FALSE, FALSE, sizeof(NcCtEntry));

    g_assert_no_error(error);
    if (ct) {
        nc_ct_capture(ct, sel, out, &error);
        g_assert_no_error(error);
    }
    return out;
}

/* Capture returns exactly the VM's entries, both families, both directions, NAT. */
static void test_capture(Fixture *f, gconstpointer data)
{
    if (!f->usable)
        return;
    g_autoptr(NcCtSelector) sel = selector_new(VM4, VM6);
    g_autoptr(GArray) got = capture(f->ns_a, sel);

    g_assert_cmpuint(got->len, ==, G_N_ELEMENTS(vm_sports));
    for (guint i = 0; i < G_N_ELEMENTS(vm_sports); i++)
        g_assert_nonnull(nc_ktest_find_sport(got, vm_sports[i]));
    /* the neighbours' entries use original source ports 10001-10004 */
    for (guint i = 0; i < got->len; i++) {
        guint16 sport = g_array_index(got, NcCtEntry, i).orig.sport;
        g_assert_false(sport >= 10001 && sport <= 10004);
    }

    const NcCtEntry *own = nc_ktest_find_sport(got, 40000);
    if (own) {
        g_assert_true(own->has_tcp);
        g_assert_cmpuint(own->tcp_state, ==, TCP_CONNTRACK_ESTABLISHED);
        g_assert_true(own->status & IPS_ASSURED);
        g_assert_true(own->status & IPS_SEEN_REPLY);
        g_assert_cmpuint(own->timeout, >, 500);
        g_assert_cmpuint(own->timeout, <=, 600);
        assert_addr(&own->orig.dst, "192.0.2.10");
        assert_addr(&own->reply.src, "192.0.2.10");
        g_assert_cmpuint(own->reply.dport, ==, 40000);
    }
    const NcCtEntry *dnat = nc_ktest_find_sport(got, 6000);
    if (dnat) {
        assert_addr(&dnat->reply.src, VM4);
        g_assert_cmpuint(dnat->reply.sport, ==, 80);
        g_assert_true(dnat->status & IPS_DST_NAT);
    }
    const NcCtEntry *snat = nc_ktest_find_sport(got, 5353);
    if (snat) {
        assert_addr(&snat->reply.dst, "203.0.113.1");
        g_assert_cmpuint(snat->reply.dport, ==, 61000);
        g_assert_true(snat->status & IPS_SRC_NAT);
        g_assert_cmpuint(snat->orig.proto, ==, IPPROTO_UDP);
    }
    const NcCtEntry *v6 = nc_ktest_find_sport(got, 1234);
    if (v6) {
        g_assert_cmpuint(v6->orig.src.family, ==, AF_INET6);
        assert_addr(&v6->orig.dst, VM6);
    }
    const NcCtEntry *z = nc_ktest_find_sport(got, 40002);
    if (z)
        g_assert_cmpuint(z->zone, ==, 7);
    const NcCtEntry *m = nc_ktest_find_sport(got, 40003);
    if (m)
        g_assert_cmpuint(m->mark, ==, 42);
}

/* --zone and --mark narrow the selection. */
static void test_capture_zone_mark(Fixture *f, gconstpointer data)
{
    if (!f->usable)
        return;
    g_autoptr(NcCtSelector) sel = selector_new(VM4, VM6);

    sel->has_zone = TRUE;
    sel->zone = 7;
    g_autoptr(GArray) zone7 = capture(f->ns_a, sel);
    g_assert_cmpuint(zone7->len, ==, 1);
    g_assert_nonnull(nc_ktest_find_sport(zone7, 40002));

    sel->zone = 0;
    g_autoptr(GArray) zone0 = capture(f->ns_a, sel);
    g_assert_cmpuint(zone0->len, ==, G_N_ELEMENTS(vm_sports) - 1);
    g_assert_null(nc_ktest_find_sport(zone0, 40002));

    sel->has_zone = FALSE;
    sel->has_mark = TRUE;
    sel->mark = 42;
    g_autoptr(GArray) mark = capture(f->ns_a, sel);
    g_assert_cmpuint(mark->len, ==, 1);
    g_assert_nonnull(nc_ktest_find_sport(mark, 40003));
}

/* Install into a second namespace reproduces every field that matters. */
static void test_install(Fixture *f, gconstpointer data)
{
    if (!f->usable)
        return;
    g_autoptr(GError) error = NULL;
    g_autoptr(NcCtSelector) sel = selector_new(VM4, VM6);
    g_autoptr(GArray) src = capture(f->ns_a, sel);
    g_autoptr(NcCt) dst = nc_ct_open(f->ns_b, &error);
    g_autoptr(GPtrArray) failures = NULL;

    g_assert_no_error(error);
    g_assert_cmpuint(ns_count(f->ns_b), ==, 0);
    g_assert_true(nc_ct_install(dst, (NcCtEntry *)src->data, src->len, &failures, &error));
    g_assert_no_error(error);
    g_assert_null(failures);
    g_assert_cmpuint(ns_count(f->ns_b), ==, src->len);

    g_autoptr(GArray) got = capture(f->ns_b, sel);
    g_assert_cmpuint(got->len, ==, src->len);
    const guint32 nat = IPS_SRC_NAT | IPS_DST_NAT;
    for (guint i = 0; i < src->len; i++) {
        const NcCtEntry *a = &g_array_index(src, NcCtEntry, i);
        const NcCtEntry *b = nc_ktest_find_sport(got, a->orig.sport);
        g_assert_nonnull(b);
        if (!b)
            continue;
        g_assert_cmpmem(&a->orig, sizeof(a->orig), &b->orig, sizeof(b->orig));
        g_assert_cmpmem(&a->reply, sizeof(a->reply), &b->reply, sizeof(b->reply));
        g_assert_cmpuint(a->zone, ==, b->zone);
        g_assert_cmpuint(a->mark, ==, b->mark);
        g_assert_cmphex(a->status & nat, ==, b->status & nat);
        /* installed entries are always established in the firewall's eyes */
        g_assert_cmphex(b->status & (IPS_ASSURED | IPS_SEEN_REPLY | IPS_CONFIRMED), ==,
                        IPS_ASSURED | IPS_SEEN_REPLY | IPS_CONFIRMED);
        g_assert_cmpuint(b->timeout, <=, a->timeout);
        g_assert_cmpuint(b->timeout + 10, >=, a->timeout);
        g_assert_cmpint(a->has_tcp, ==, b->has_tcp);
        if (a->has_tcp) {
            g_assert_cmpuint(a->tcp_state, ==, b->tcp_state);
            /* the destination must be liberal: it cannot know the window position */
            g_assert_true(b->tcp_flags[0] & IP_CT_TCP_FLAG_BE_LIBERAL);
            g_assert_true(b->tcp_flags[1] & IP_CT_TCP_FLAG_BE_LIBERAL);
        }
    }
}

/* A batch with one bad entry installs nothing and names that entry. */
static void check_bad_batch(Fixture *f, NcCtEntry *batch, guint n, guint bad, int errnum)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(NcCt) dst = nc_ct_open(f->ns_b, &error);
    g_autoptr(GPtrArray) failures = NULL;
    guint before = ns_count(f->ns_b);

    g_assert_false(nc_ct_install(dst, batch, n, &failures, &error));
    g_assert_error(error, NC_ERROR, NC_ERROR_PARTIAL);
    g_assert_nonnull(failures);
    if (failures) {
        g_assert_cmpuint(failures->len, ==, 1);
        NcCtFailure *fl = g_ptr_array_index(failures, 0);
        g_assert_cmpuint(fl->index, ==, bad);
        g_assert_cmpint(fl->errnum, ==, errnum);
        g_test_message("reported: %s", fl->message);
        if (errnum == EEXIST)
            g_assert_nonnull(strstr(fl->message, "already present on the destination"));
    }
    g_assert_cmpuint(ns_count(f->ns_b), ==, before);
}

static void test_install_bad(Fixture *f, gconstpointer data)
{
    if (!f->usable)
        return;
    g_autoptr(GError) error = NULL;
    g_autoptr(NcCtSelector) sel = selector_new(VM4, NULL);
    g_autoptr(GArray) src = capture(f->ns_a, sel);
    const NcCtEntry *own = nc_ktest_find_sport(src, 40000);
    g_assert_nonnull(own);
    if (!own)
        return;

    /* the destination already holds the VM's 40000 entry */
    g_autoptr(NcCt) dst = nc_ct_open(f->ns_b, &error);
    g_assert_true(nc_ct_install(dst, own, 1, NULL, &error));
    g_assert_no_error(error);

    enum { N = 300 };
    g_autofree NcCtEntry *batch = g_new0(NcCtEntry, N);
    for (guint i = 0; i < N; i++) {
        batch[i] = *own;
        batch[i].orig.sport = 20000 + i;
        batch[i].reply.dport = 20000 + i;
    }
    batch[157] = *own; /* already present */
    check_bad_batch(f, batch, N, 157, EEXIST);
    g_assert_cmpuint(ns_count(f->ns_b), ==, 1);

    for (guint i = 0; i < N; i++)
        batch[i].orig.sport = batch[i].reply.dport = 30000 + i;
    batch[N - 1].tcp_state = 200; /* no such TCP state: the kernel's policy says ERANGE */
    check_bad_batch(f, batch, N, N - 1, ERANGE);
    g_assert_cmpuint(ns_count(f->ns_b), ==, 1);
}

/* Remove deletes the VM's entries and only those. */
static void test_remove(Fixture *f, gconstpointer data)
{
    if (!f->usable)
        return;
    g_autoptr(GError) error = NULL;
    g_autoptr(NcCtSelector) sel = selector_new(VM4, VM6);
    g_autoptr(NcCt) ct = nc_ct_open(f->ns_a, &error);
    guint removed = 0;

    g_assert_cmpuint(ns_count(f->ns_a), ==, G_N_ELEMENTS(vm_entries) + G_N_ELEMENTS(other_entries));
    g_assert_true(nc_ct_remove(ct, sel, &removed, &error));
    g_assert_no_error(error);
    g_assert_cmpuint(removed, ==, G_N_ELEMENTS(vm_entries));
    g_assert_cmpuint(ns_count(f->ns_a), ==, G_N_ELEMENTS(other_entries));
    g_autoptr(GArray) left = capture(f->ns_a, sel);
    g_assert_cmpuint(left->len, ==, 0);

    g_assert_true(nc_ct_remove(ct, sel, &removed, &error));
    g_assert_cmpuint(removed, ==, 0);
}

static void test_missing_netns(void)
{
    g_autoptr(GError) error = NULL;

    if (geteuid() != 0) {
        g_test_skip("needs root");
        return;
    }
    g_autoptr(NcCt) ct = nc_ct_open("nc-ct-no-such-namespace", &error);
    g_assert_null(ct);
    g_assert_error(error, NC_ERROR, NC_ERROR_NOT_FOUND);
    g_assert_nonnull(strstr(error->message, "nc-ct-no-such-namespace"));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    /* a failed check must not skip the teardown that removes the namespaces */
    g_test_set_nonfatal_assertions();

#define ADD(path, fn) g_test_add(path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
    ADD("/ct/capture", test_capture);
    ADD("/ct/capture-zone-mark", test_capture_zone_mark);
    ADD("/ct/install", test_install);
    ADD("/ct/install-bad-batch", test_install_bad);
    ADD("/ct/remove", test_remove);
    g_test_add_func("/ct/missing-netns", test_missing_netns);
    return g_test_run();
}
