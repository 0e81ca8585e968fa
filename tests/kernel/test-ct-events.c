/* test-ct-events.c - the pre-copy follower against the real kernel, in a namespace the test creates
 *
 * Suite 'kernel': needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN) and ctnetlink events; skips otherwise.
 */
#include <linux/netfilter/nf_conntrack_tcp.h>
#include <unistd.h>

#include "conf/nc-ct-items.h"
#include "conf/nc-item-set.h"
#include "drivers/nc-ct-events.h"
#include "nc-ktest.h"
#include "util/nc-error.h"

/* The VM whose events are followed, and a neighbour whose events must never be reported. */
#define VM4 "10.1.0.5"
#define VM6 "2001:db8:1::5"
#define OTHER4 "10.1.0.6"

typedef struct {
    char ns[64];
    gboolean ready;  /* the namespace exists: teardown removes it */
    gboolean usable; /* and ctnetlink works in it: the test may run */
    NcCtSelector sel;
    guint notified;
} Fixture;

/* Runs "ip netns exec NS conntrack ARGS"; asserts success. */
static void ns_conntrack(const char *ns, const char *args)
{
    g_autoptr(GError) error = NULL;

    nc_ktest_conntrack(ns, args, NULL, &error);
    g_assert_no_error(error);
}

static void on_notify(NcCtFollower *follower, gpointer data)
{
    Fixture *f = data;
    f->notified++;
}

static void fixture_setup(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    NcAddr a;

    f->sel.addresses = g_array_new(FALSE, FALSE, sizeof(NcAddr));
    g_assert_true(nc_addr_parse(VM4, &a, NULL));
    g_array_append_val(f->sel.addresses, a);
    g_assert_true(nc_addr_parse(VM6, &a, NULL));
    g_array_append_val(f->sel.addresses, a);

    if (geteuid() != 0) {
        g_test_skip("needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN) to create network namespaces");
        return;
    }
    g_snprintf(f->ns, sizeof(f->ns), "nc-ctev-%d", (int)getpid());
    if (!nc_ktest_ns_add(f->ns, &error)) {
        g_autofree char *msg =
            g_strdup_printf("cannot create a network namespace: %s", error->message);
        g_test_skip(msg);
        return;
    }
    f->ready = TRUE;
    g_autoptr(NcCtFollower) probe = nc_ct_follower_new(f->ns, &f->sel, 0, &error);
    if (!probe) {
        g_autofree char *msg = g_strdup_printf("no ctnetlink events: %s", error->message);
        g_test_skip(msg);
        return;
    }
    f->usable = TRUE;
}

static void fixture_teardown(Fixture *f, gconstpointer data)
{
    g_array_unref(f->sel.addresses);
    if (f->ready)
        nc_ktest_ns_del(f->ns);
}

static NcCtFollower *follower_new(Fixture *f, gsize rcvbuf)
{
    g_autoptr(GError) error = NULL;
    NcCtFollower *fl = nc_ct_follower_new(f->ns, &f->sel, rcvbuf, &error);

    g_assert_no_error(error);
    g_assert_nonnull(fl);
    nc_ct_follower_set_notify(fl, on_notify, f);
    g_assert_true(nc_ct_follower_needs_resync(fl));
    g_assert_null(nc_ct_follower_take_changes(fl));
    return fl;
}

static NcCtChanges *resync(NcCtFollower *fl)
{
    g_autoptr(GError) error = NULL;
    NcCtChanges *c = nc_ct_follower_resync(fl, &error);

    g_assert_no_error(error);
    g_assert_nonnull(c);
    g_assert_true(c->full);
    g_assert_false(nc_ct_follower_needs_resync(fl));
    return c;
}

/* Reads what is queued now, then takes the changes. */
static NcCtChanges *flush_take(NcCtFollower *fl)
{
    g_autoptr(GError) error = NULL;

    g_assert_true(nc_ct_follower_flush(fl, 1000, &error));
    g_assert_no_error(error);
    return nc_ct_follower_take_changes(fl);
}

static void install(Fixture *f, const NcCtEntry *entries, guint n)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(NcCt) ct = nc_ct_open(f->ns, &error);

    g_assert_no_error(error);
    g_assert_true(nc_ct_install(ct, entries, n, NULL, &error));
    g_assert_no_error(error);
}

#define EST "--state ESTABLISHED -u ASSURED,SEEN_REPLY -t 600"

/* Only the VM's events are reported, and the others never even reach the socket. */
static void test_filter(Fixture *f, gconstpointer data)
{
    if (!f->usable)
        return;
    g_autoptr(NcCtFollower) fl = follower_new(f, 0);
    g_autoptr(NcCtChanges) initial = resync(fl);
    g_assert_cmpuint(initial->upserts->len, ==, 0);

    const char *vm[] = {
        /* 40000: the VM's own; 5555: to the VM; 6000: DNAT to the VM; 40001, 1234: IPv6 */
        "-I -p tcp -s " VM4 " -d 192.0.2.10 --sport 40000 --dport 80 " EST,
        "-I -p tcp -s 198.51.100.7 -d " VM4 " --sport 5555 --dport 22 " EST,
        "-I -p tcp -s 198.51.100.8 -d 203.0.113.1 --sport 6000 --dport 8080 --dst-nat " VM4
        ":80 " EST,
        "-I -p tcp -s " VM6 " -d 2001:db8:2::1 --sport 40001 --dport 443 " EST,
        "-I -p udp -s 2001:db8:2::2 -d " VM6 " --sport 1234 --dport 53 -u SEEN_REPLY -t 300",
    };
    const guint16 vm_sports[] = {40000, 5555, 6000, 40001, 1234};
    const char *other[] = {
        /* ports 1xxxx: the neighbour's, the same shapes */
        "-I -p tcp -s " OTHER4 " -d 192.0.2.10 --sport 10001 --dport 80 " EST,
        "-I -p tcp -s 198.51.100.7 -d " OTHER4 " --sport 10002 --dport 22 " EST,
        "-I -p tcp -s 2001:db8:1::6 -d 2001:db8:2::1 --sport 10003 --dport 443 " EST,
        /* addressed to the VM but DNATed away to the neighbour: not the VM's */
        "-I -p tcp -s 198.51.100.9 -d " VM4 " --sport 10004 --dport 25 --dst-nat " OTHER4
        ":25 " EST,
        /* the VM's address as a destination only (a reply source elsewhere): not the VM's */
        "-I -p udp -s 192.0.2.99 -d 192.0.2.98 --sport 10005 --dport 53 -t 300",
    };
    for (guint i = 0; i < G_N_ELEMENTS(other); i++)
        ns_conntrack(f->ns, other[i]);
    for (guint i = 0; i < G_N_ELEMENTS(vm); i++)
        ns_conntrack(f->ns, vm[i]);

    /* through the main loop, as the daemon will */
    gint64 deadline = g_get_monotonic_time() + 2 * G_USEC_PER_SEC;
    while (nc_ct_follower_count(fl) < G_N_ELEMENTS(vm) && g_get_monotonic_time() < deadline)
        g_main_context_iteration(NULL, FALSE);
    g_assert_cmpuint(f->notified, >, 0);

    g_autoptr(NcCtChanges) c = flush_take(fl);
    g_assert_nonnull(c);
    g_assert_false(c->full);
    g_assert_cmpuint(c->generation, ==, initial->generation + 1);
    g_assert_cmpuint(c->deletions->len, ==, 0);
    g_assert_cmpuint(c->upserts->len, ==, G_N_ELEMENTS(vm));
    for (guint i = 0; i < G_N_ELEMENTS(vm_sports); i++)
        g_assert_nonnull(nc_ktest_find_sport(c->upserts, vm_sports[i]));
    for (guint i = 0; i < c->upserts->len; i++) {
        guint16 sport = g_array_index(c->upserts, NcCtEntry, i).orig.sport;
        g_assert_false(sport >= 10001 && sport <= 10005);
    }
    const NcCtEntry *own = nc_ktest_find_sport(c->upserts, 40000);
    if (own) {
        g_assert_true(own->has_tcp);
        g_assert_cmpuint(own->tcp_state, ==, TCP_CONNTRACK_ESTABLISHED);
    }

    /* the kernel's filter dropped the neighbour's events: one event per VM entry came in */
    NcCtFollowerStats st;
    nc_ct_follower_get_stats(fl, &st);
    g_assert_true(st.kernel_filter);
    g_assert_cmpuint(st.received, ==, G_N_ELEMENTS(vm));
    g_assert_cmpuint(st.ignored, ==, 0);
    g_assert_cmpuint(st.bad, ==, 0);

    /* nothing new: an empty set */
    g_autoptr(NcCtChanges) none = flush_take(fl);
    g_assert_cmpuint(none->upserts->len + none->deletions->len, ==, 0);
}

/* Updates coalesce into the latest state; what an update leaves out is kept. */
static void test_coalesce(Fixture *f, gconstpointer data)
{
    if (!f->usable)
        return;
    g_autoptr(NcCtFollower) fl = follower_new(f, 0);
    g_autoptr(NcCtChanges) initial G_GNUC_UNUSED = resync(fl);

    ns_conntrack(f->ns, "-I -p tcp -s " VM4 " -d 192.0.2.10 --sport 40000 --dport 80 " EST);
    ns_conntrack(f->ns, "-I -p tcp -s " OTHER4 " -d 192.0.2.10 --sport 10001 --dport 80 " EST);
    g_autoptr(NcCtChanges) created = flush_take(fl);
    g_assert_cmpuint(created->upserts->len, ==, 1);

    ns_conntrack(f->ns, "-U -p tcp -s " VM4 " --sport 40000 --mark 1");
    ns_conntrack(f->ns, "-U -p tcp -s " VM4 " --sport 40000 --mark 2");
    ns_conntrack(f->ns, "-U -p tcp -s " OTHER4 " --sport 10001 --mark 9");
    ns_conntrack(f->ns, "-U -p tcp -s " VM4 " --sport 40000 --mark 3");
    g_autoptr(NcCtChanges) c = flush_take(fl);
    g_assert_nonnull(c);
    g_assert_cmpuint(c->deletions->len, ==, 0);
    g_assert_cmpuint(c->upserts->len, ==, 1);
    const NcCtEntry *e = nc_ktest_find_sport(c->upserts, 40000);
    g_assert_nonnull(e);
    if (e) {
        g_assert_cmpuint(e->mark, ==, 3);
        g_assert_true(e->has_tcp);
        g_assert_cmpuint(e->tcp_state, ==, TCP_CONNTRACK_ESTABLISHED);
        g_assert_cmpuint(e->timeout, >, 500);
    }
    NcCtFollowerStats st;
    nc_ct_follower_get_stats(fl, &st);
    g_assert_cmpuint(st.ignored, ==, 0);
    g_assert_cmpuint(st.received, ==, 4); /* one create, three updates: none of the neighbour */
}

static void ns_sysctl_events(const char *ns, int value)
{
    g_autofree char *arg = g_strdup_printf("net.netfilter.nf_conntrack_events=%d", value);
    const char *argv[] = {"ip", "netns", "exec", ns, "sysctl", "-qw", arg, NULL};
    g_autoptr(GError) error = NULL;

    nc_ktest_run_argv(argv, NULL, &error);
    g_assert_no_error(error);
}

/* Deletions are reported for entries the consumer knew; a short-lived entry never shows. The
 * entries exist before the follower, so the namespace needs nf_conntrack_events=1 (see
 * test_preexisting_auto). */
static void test_delete(Fixture *f, gconstpointer data)
{
    if (!f->usable)
        return;
    ns_sysctl_events(f->ns, 1);
    ns_conntrack(f->ns, "-I -p tcp -s " VM4 " -d 192.0.2.10 --sport 40000 --dport 80 " EST);
    ns_conntrack(f->ns, "-I -p tcp -s " VM6 " -d 2001:db8:2::1 --sport 40001 --dport 443 " EST);
    ns_conntrack(f->ns, "-I -p tcp -s " OTHER4 " -d 192.0.2.10 --sport 10001 --dport 80 " EST);
    g_autoptr(NcCtFollower) fl = follower_new(f, 0);
    g_autoptr(NcCtChanges) initial = resync(fl);
    g_assert_cmpuint(initial->upserts->len, ==, 2);

    ns_conntrack(f->ns, "-D -p tcp -s " VM6 " --sport 40001");
    ns_conntrack(f->ns, "-D -p tcp -s " OTHER4 " --sport 10001");
    /* created and gone between two sets: the consumer need not hear of it */
    ns_conntrack(f->ns, "-I -p udp -s " VM4 " -d 192.0.2.53 --sport 5353 --dport 53 -t 300");
    ns_conntrack(f->ns, "-D -p udp -s " VM4 " --sport 5353");
    g_autoptr(NcCtChanges) c = flush_take(fl);
    g_assert_nonnull(c);
    g_assert_cmpuint(c->upserts->len, ==, 0);
    g_assert_cmpuint(c->deletions->len, ==, 1);
    if (c->deletions->len == 1) {
        const NcCtKey *k = &g_array_index(c->deletions, NcCtKey, 0);
        NcAddr vm6;
        g_assert_true(nc_addr_parse(VM6, &vm6, NULL));
        g_assert_true(nc_addr_equal(&k->orig.src, &vm6));
        g_assert_cmpuint(k->orig.sport, ==, 40001);
        g_assert_cmpuint(k->orig.dport, ==, 443);
        g_assert_cmpuint(k->orig.proto, ==, IPPROTO_TCP);
        g_assert_cmpuint(k->zone, ==, 0);
    }
    g_assert_cmpuint(nc_ct_follower_count(fl), ==, 1);
    NcCtFollowerStats st;
    nc_ct_follower_get_stats(fl, &st);
    g_assert_cmpuint(st.received, ==, 3); /* VM6's destroy, 5353's create and destroy */
}

/* A kernel fact the daemon must handle: with the default nf_conntrack_events=2 ("only if someone
 * listens"), an entry created while nobody listened gets no event extension and never produces
 * an event, not even DESTROY, so the follower keeps counting it until a resync. Since Linux 6.4
 * "someone" is any ctnetlink event listener on the whole machine, not in this namespace only
 * (ctnetlink's listener tracking became global), so on a host where another netcarryd or
 * `conntrack -E` runs, the entry does report its changes. Either way the follower must stay
 * consistent: what it counts is what it was told. */
static void test_preexisting_auto(Fixture *f, gconstpointer data)
{
    if (!f->usable)
        return;
    ns_sysctl_events(f->ns, 2);
    ns_conntrack(f->ns, "-I -p tcp -s " VM4 " -d 192.0.2.10 --sport 40000 --dport 80 " EST);
    g_autoptr(NcCtFollower) fl = follower_new(f, 0);
    g_autoptr(NcCtChanges) initial = resync(fl);
    g_assert_cmpuint(initial->upserts->len, ==, 1);

    ns_conntrack(f->ns, "-U -p tcp -s " VM4 " --sport 40000 --mark 7");
    ns_conntrack(f->ns, "-D -p tcp -s " VM4 " --sport 40000");
    g_autoptr(NcCtChanges) c = flush_take(fl);
    g_assert_nonnull(c);
    if (c->deletions->len == 0) {
        /* silent entry: no event at all, and the follower still counts it (stale) */
        g_assert_cmpuint(c->upserts->len, ==, 0);
        g_assert_cmpuint(nc_ct_follower_count(fl), ==, 1);
        g_test_message("the pre-existing entry sent no event (no listener anywhere at creation)");
    } else {
        /* a listener elsewhere on the machine gave it events: the delete wins over the update */
        g_assert_cmpuint(c->deletions->len, ==, 1);
        g_assert_cmpuint(c->upserts->len, ==, 0);
        g_assert_cmpuint(nc_ct_follower_count(fl), ==, 0);
        g_test_message("the pre-existing entry sent events (a ctnetlink listener elsewhere)");
    }
}

/* A change made just before flush() is in the next set, with no main loop involved. */
static void test_flush(Fixture *f, gconstpointer data)
{
    if (!f->usable)
        return;
    g_autoptr(NcCtFollower) fl = follower_new(f, 0);
    g_autoptr(NcCtChanges) initial G_GNUC_UNUSED = resync(fl);
    NcCtEntry e[2] = {nc_ktest_tcp_entry(VM4, 41000), nc_ktest_tcp_entry(OTHER4, 11000)};

    install(f, e, 2);
    g_autoptr(NcCtChanges) c = flush_take(fl);
    g_assert_nonnull(c);
    g_assert_cmpuint(c->upserts->len, ==, 1);
    g_assert_nonnull(nc_ktest_find_sport(c->upserts, 41000));

    ns_conntrack(f->ns, "-D -p tcp -s " VM4 " --sport 41000");
    g_autoptr(NcCtChanges) d = flush_take(fl);
    g_assert_cmpuint(d->upserts->len, ==, 0);
    g_assert_cmpuint(d->deletions->len, ==, 1);
    g_assert_cmpuint(d->generation, ==, c->generation + 1);
}

static gboolean same_keys(GArray *a, GArray *b)
{
    g_autoptr(GHashTable) seen = g_hash_table_new(g_direct_hash, g_direct_equal);

    if (a->len != b->len)
        return FALSE;
    for (guint i = 0; i < a->len; i++)
        g_hash_table_add(seen, GUINT_TO_POINTER(g_array_index(a, NcCtEntry, i).orig.sport));
    for (guint i = 0; i < b->len; i++)
        if (!g_hash_table_contains(seen,
                                   GUINT_TO_POINTER(g_array_index(b, NcCtEntry, i).orig.sport)))
            return FALSE;
    return TRUE;
}

/* A burst into a tiny receive buffer loses events: the follower says so, and resync recovers. */
static void test_overflow(Fixture *f, gconstpointer data)
{
    if (!f->usable)
        return;
    enum { N = 3000 };
    g_autoptr(GError) error = NULL;
    g_autoptr(NcCtFollower) fl = follower_new(f, 4096);
    g_autoptr(NcCtChanges) initial = resync(fl);
    g_autofree NcCtEntry *burst = g_new0(NcCtEntry, N + 10);

    for (guint i = 0; i < N; i++)
        burst[i] = nc_ktest_tcp_entry(VM4, 20000 + i);
    for (guint i = 0; i < 10; i++)
        burst[N + i] = nc_ktest_tcp_entry(OTHER4, 10000 + i);
    install(f, burst, N + 10);

    g_assert_true(nc_ct_follower_flush(fl, 2000, &error));
    g_assert_no_error(error);
    g_assert_true(nc_ct_follower_needs_resync(fl));
    g_assert_null(nc_ct_follower_take_changes(fl));
    NcCtFollowerStats st;
    nc_ct_follower_get_stats(fl, &st);
    g_assert_cmpuint(st.overflows, >, 0);
    g_test_message("tiny buffer: %" G_GUINT64_FORMAT " of %u events arrived before the loss",
                   st.received, N);

    /* the current set, by an independent capture */
    g_autoptr(NcCt) ct = nc_ct_open(f->ns, &error);
    g_autoptr(GArray) now = g_array_new(FALSE, FALSE, sizeof(NcCtEntry));
    g_assert_true(nc_ct_capture(ct, &f->sel, now, &error));
    g_assert_cmpuint(now->len, ==, N);

    g_autoptr(NcCtChanges) full = resync(fl);
    g_assert_cmpuint(full->generation, >, initial->generation);
    g_assert_cmpuint(full->deletions->len, ==, 0);
    g_assert_cmpuint(full->upserts->len, ==, N);
    g_assert_true(same_keys(full->upserts, now));
    g_assert_cmpuint(nc_ct_follower_count(fl), ==, N);

    /* and it follows again from there */
    ns_conntrack(f->ns, "-D -p tcp -s " VM4 " --sport 20007");
    g_autoptr(NcCtChanges) c = flush_take(fl);
    g_assert_nonnull(c);
    g_assert_cmpuint(c->deletions->len, ==, 1);
    g_assert_cmpuint(c->upserts->len, ==, 0);
}

/* Applies a set as a consumer does (deletions, then upserts) to @model. */
static void model_apply(NcItemSet *model, const NcCtChanges *c)
{
    g_autoptr(GError) error = NULL;

    for (guint i = 0; i < c->deletions->len; i++) {
        const NcCtKey *k = &g_array_index(c->deletions, NcCtKey, i);
        NcCtEntry e = {0};

        e.orig = k->orig;
        e.zone = k->zone;
        g_assert_true(nc_item_set_remove(model, &e, NULL, &error));
        g_assert_no_error(error);
    }
    for (guint i = 0; i < c->upserts->len; i++) {
        const NcCtEntry *e = &g_array_index(c->upserts, NcCtEntry, i);

        g_assert_true(nc_item_set_upsert(model, g_memdup2(e, sizeof(*e)), NULL, &error));
        g_assert_no_error(error);
    }
}

/* A resync read in pieces while entries are deleted, changed and created: what a consumer builds
 * from the sets is what the kernel holds at the end, and the follower's count and digest of what
 * it handed out are the consumer's. */
static void test_stream(Fixture *f, gconstpointer data)
{
    if (!f->usable)
        return;
    enum { N = 4000, GONE_EVERY = 40, NEW = 50 };
    g_autoptr(GError) error = NULL;
    g_autoptr(NcCt) ct = nc_ct_open(f->ns, &error);
    g_autoptr(NcItemSet) model = nc_item_set_new(&nc_ct_class);
    g_autofree NcCtEntry *all = g_new0(NcCtEntry, N);
    g_autoptr(GArray) gone = g_array_new(FALSE, FALSE, sizeof(NcCtEntry));
    g_autofree NcCtEntry *fresh = g_new0(NcCtEntry, NEW);
    gboolean done = FALSE;
    guint steps = 0, n_first;

    ns_sysctl_events(f->ns, 1);
    g_autoptr(NcCtFollower) fl = follower_new(f, 0);
    for (guint i = 0; i < N; i++)
        all[i] = nc_ktest_tcp_entry(VM4, 20000 + i);
    install(f, all, N);

    g_assert_true(nc_ct_follower_resync_begin(fl, &error));
    g_assert_no_error(error);
    g_assert_true(nc_ct_follower_resyncing(fl));
    g_assert_true(nc_ct_follower_resync_step(fl, 1, &done, &error));
    g_assert_no_error(error);
    g_assert_false(done); /* one row of N */
    {
        g_autoptr(NcCtChanges) c = nc_ct_follower_take_changes(fl);
        g_assert_nonnull(c);
        g_assert_false(c->full);
        n_first = c->upserts->len;
        g_assert_cmpuint(n_first, >, 0);
        g_assert_cmpuint(n_first, <, N);
        model_apply(model, c);
    }

    /* mid-way: some gone (dumped already or not), some changed (a mark: an update event without
     * the TCP state), some new */
    for (guint i = 0; i < N; i += GONE_EVERY)
        g_array_append_val(gone, all[i]);
    g_assert_true(nc_ct_delete(ct, (NcCtEntry *)gone->data, gone->len, NULL, &error));
    g_assert_no_error(error);
    ns_conntrack(f->ns, "-U -p tcp -s " VM4 " --sport 20001 --mark 5");
    ns_conntrack(f->ns, "-U -p tcp -s " VM4 " --sport 23999 --mark 5");
    for (guint i = 0; i < NEW; i++)
        fresh[i] = nc_ktest_tcp_entry(VM4, 30000 + i);
    install(f, fresh, NEW);

    while (!done) {
        g_assert_true(nc_ct_follower_resync_step(fl, 100, &done, &error));
        g_assert_no_error(error);
        g_autoptr(NcCtChanges) c = nc_ct_follower_take_changes(fl);
        g_assert_nonnull(c);
        model_apply(model, c);
        steps++;
        if (error || steps > N)
            break;
    }
    g_assert_false(nc_ct_follower_resyncing(fl));
    g_test_message("first step %u rows, then %u steps", n_first, steps);
    g_autoptr(NcCtChanges) last = flush_take(fl);
    g_assert_nonnull(last);
    model_apply(model, last);

    /* the kernel's set, by an independent capture */
    g_autoptr(GArray) now = g_array_new(FALSE, FALSE, sizeof(NcCtEntry));
    g_autoptr(NcItemSet) kernel = nc_item_set_new(&nc_ct_class);
    g_assert_true(nc_ct_capture(ct, &f->sel, now, &error));
    g_assert_cmpuint(now->len, ==, N - gone->len + NEW);
    for (guint i = 0; i < now->len; i++) {
        const NcCtEntry *e = &g_array_index(now, NcCtEntry, i);
        g_assert_true(nc_item_set_upsert(kernel, g_memdup2(e, sizeof(*e)), NULL, &error));
    }
    g_autoptr(NcItemDiff) diff = nc_item_set_diff(kernel, model);
    for (guint i = 0; i < diff->missing->len; i++)
        g_test_message("missing: %s", (char *)g_ptr_array_index(diff->missing, i));
    for (guint i = 0; i < diff->extra->len; i++)
        g_test_message("extra: %s", (char *)g_ptr_array_index(diff->extra, i));
    for (guint i = 0; i < diff->changed->len; i++)
        g_test_message("changed: %s", (char *)g_ptr_array_index(diff->changed, i));
    g_assert_true(nc_item_diff_is_empty(diff));
    for (guint i = 0; i < 2; i++) {
        NcCtEntry k = nc_ktest_tcp_entry(VM4, i ? 23999 : 20001);
        const NcCtEntry *e = nc_item_set_lookup(model, &k);
        g_assert_nonnull(e);
        if (e)
            g_assert_cmpuint(e->mark, ==, 5);
    }

    /* what the follower says it handed out is the consumer's set, to the digest */
    NcDigest d;
    g_assert_cmpuint(nc_ct_follower_sent(fl, &d), ==, nc_item_set_count(model));
    g_assert_true(nc_digest_equal(&d, nc_item_set_digest(model)));
    NcCtFollowerStats st;
    nc_ct_follower_get_stats(fl, &st);
    g_assert_cmpuint(st.overflows, ==, 0);
    g_assert_cmpuint(st.resyncs, ==, 1);
}

static int cmp_gint64(gconstpointer a, gconstpointer b)
{
    gint64 x = *(const gint64 *)a, y = *(const gint64 *)b;
    return x < y ? -1 : x > y;
}

/* Prints (does not assert) event latency and throughput. */
static void test_measure(Fixture *f, gconstpointer data)
{
    if (!f->usable)
        return;
    g_autoptr(NcCtFollower) fl = follower_new(f, 0);
    g_autoptr(NcCtChanges) initial G_GNUC_UNUSED = resync(fl);
    enum { RUNS = 20, SPAWNS = 5, N = 20000, BATCH = 1000 };
    gint64 lat[RUNS], spawn[SPAWNS];
    g_autoptr(GError) error = NULL;
    g_autoptr(NcCt) ct = nc_ct_open(f->ns, &error);

    /* conntrack -I (a process started through ip netns exec) -> the follower's notify */
    for (guint i = 0; i < SPAWNS; i++) {
        g_autofree char *args = g_strdup_printf(
            "-I -p tcp -s " VM4 " -d 192.0.2.20 --sport %u --dport 80 " EST, 42000 + i);
        g_autofree char *line = g_strdup_printf("ip netns exec %s conntrack %s", f->ns, args);
        g_auto(GStrv) argv = g_strsplit(line, " ", -1);
        guint before = f->notified;
        gint64 t0 = g_get_monotonic_time(), deadline = t0 + 5 * G_USEC_PER_SEC;
        g_assert_true(g_spawn_async(NULL, argv, NULL,
                                    G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL |
                                        G_SPAWN_STDERR_TO_DEV_NULL,
                                    NULL, NULL, NULL, &error));
        while (f->notified == before && g_get_monotonic_time() < deadline)
            g_main_context_iteration(NULL, TRUE);
        spawn[i] = g_get_monotonic_time() - t0;
    }
    /* one in-process create (request, kernel insert, event, ACK) -> the follower's notify */
    for (guint i = 0; i < RUNS; i++) {
        NcCtEntry e = nc_ktest_tcp_entry(VM4, 43000 + i);
        guint before = f->notified;
        gint64 t0 = g_get_monotonic_time(), deadline = t0 + G_USEC_PER_SEC;
        g_assert_true(nc_ct_install(ct, &e, 1, NULL, &error));
        while (f->notified == before && g_get_monotonic_time() < deadline)
            g_main_context_iteration(NULL, TRUE);
        lat[i] = g_get_monotonic_time() - t0;
    }
    qsort(spawn, SPAWNS, sizeof(gint64), cmp_gint64);
    qsort(lat, RUNS, sizeof(gint64), cmp_gint64);
    g_autoptr(NcCtChanges) drop G_GNUC_UNUSED = flush_take(fl);

    /* sustained: batches created while the main loop reads */
    g_autofree NcCtEntry *many = g_new0(NcCtEntry, N);
    for (guint i = 0; i < N; i++) {
        /* half IPv4, half IPv6 */
        many[i] = nc_ktest_tcp_entry(i < N / 2 ? VM4 : VM6, (guint16)(1024 + i));
        if (i >= N / 2) {
            g_assert_true(nc_addr_parse("2001:db8:2::1", &many[i].orig.dst, NULL));
            many[i].reply.src = many[i].orig.dst;
        }
    }
    gint64 t0 = g_get_monotonic_time();
    for (guint i = 0; i < N; i += BATCH) {
        g_assert_true(nc_ct_install(ct, many + i, BATCH, NULL, &error));
        while (g_main_context_iteration(NULL, FALSE))
            ;
    }
    g_assert_true(nc_ct_follower_flush(fl, 5000, &error));
    gint64 sustained = g_get_monotonic_time() - t0;
    g_autoptr(NcCtChanges) c1 = nc_ct_follower_take_changes(fl);
    g_assert_nonnull(c1);
    g_assert_cmpuint(c1->upserts->len, ==, N);

    /* decode only: N deletion events queued, then one flush */
    ns_conntrack(f->ns, "-F");
    gint64 t1 = g_get_monotonic_time();
    g_assert_true(nc_ct_follower_flush(fl, 5000, &error));
    gint64 decode = g_get_monotonic_time() - t1;
    g_autoptr(NcCtChanges) c2 = nc_ct_follower_take_changes(fl);
    g_assert_nonnull(c2);
    g_assert_cmpuint(c2->deletions->len, ==, N + RUNS + SPAWNS);

    g_printerr("# ct-events latency, conntrack -I (process spawn included) -> notify: median "
               "%" G_GINT64_FORMAT " us, worst %" G_GINT64_FORMAT " us (%u runs)\n",
               spawn[SPAWNS / 2], spawn[SPAWNS - 1], SPAWNS);
    g_printerr("# ct-events latency, in-process create + ACK -> notify: median %" G_GINT64_FORMAT
               " us, worst %" G_GINT64_FORMAT " us (%u runs)\n",
               lat[RUNS / 2], lat[RUNS - 1], RUNS);
    g_printerr("# ct-events sustained: %u creates in batches of %u followed in %.3f s = %.0f "
               "events/s (kernel create cost included)\n",
               N, BATCH, sustained / 1e6, N / (sustained / 1e6));
    g_printerr("# ct-events decode: %u queued DESTROY events read and applied in %.3f s = %.0f "
               "events/s\n",
               N + RUNS + SPAWNS, decode / 1e6, (N + RUNS + SPAWNS) / (decode / 1e6));
}

static void test_bad_selector(void)
{
    g_autoptr(GError) error = NULL;
    NcCtSelector sel = {0};

    sel.addresses = g_array_new(FALSE, FALSE, sizeof(NcAddr));
    g_assert_null(nc_ct_follower_new(NULL, &sel, 0, &error));
    g_assert_error(error, NC_ERROR, NC_ERROR_INVALID_ARG);
    g_array_unref(sel.addresses);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    /* a failed check must not skip the teardown that removes the namespace */
    g_test_set_nonfatal_assertions();

#define ADD(path, fn) g_test_add(path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
    ADD("/ct-events/filter", test_filter);
    ADD("/ct-events/coalesce", test_coalesce);
    ADD("/ct-events/delete", test_delete);
    ADD("/ct-events/preexisting-auto", test_preexisting_auto);
    ADD("/ct-events/flush", test_flush);
    ADD("/ct-events/overflow", test_overflow);
    ADD("/ct-events/measure", test_measure);
    ADD("/ct-events/stream", test_stream);
    g_test_add_func("/ct-events/bad-selector", test_bad_selector);
    return g_test_run();
}
