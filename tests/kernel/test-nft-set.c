/* test-nft-set.c - the nft set and map element driver against real nf_tables: capture in one
 * namespace, install in another
 *
 * Each test makes two namespaces, src and dst, with the same sets (unless it tests a difference),
 * fills src, and checks what reaches dst: the domain's elements with their remaining timeout
 * (within 1 s of the source's) and counters, none of the foreign ones, and nothing at all when a
 * target set is missing, of another type or full.
 */
#include <string.h>
#include <unistd.h>

#include <linux/netfilter/nf_tables.h>

#include "drivers/nc-nft-set.h"
#include "nc-ktest.h"
#include "util/nc-error.h"

typedef NcKtestPair Fixture;

/* the domain: 10.0.0.5, 2001:db8::5, MAC 52:54:00:00:00:05 */
#define SETS_COMMON                                                                                \
    "  set authed { type ipv4_addr; flags timeout; counter; }\n"                                   \
    "  map sticky { type ipv4_addr : ipv4_addr; flags timeout; }\n"                                \
    "  set pairs { type ipv4_addr . ether_addr; flags timeout; }\n"                                \
    "  set v6 { type ipv6_addr; flags timeout; }\n"
#define RULESET "table inet fw {\n" SETS_COMMON "}\n"

static void fixture_setup(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    NcAddr a;

    if (!nc_ktest_ns_pair("nc-nset", f->src, f->dst, sizeof(f->src), &f->ready))
        return;
    /* a ruleset this kernel refuses is a failure, not a skip: the machine has nf_tables */
    if (!nc_ktest_nft_load(f->src, RULESET, &error)) {
        g_assert_no_error(error);
        return;
    }
    f->owner = nc_owner_new();
    nc_addr_parse("10.0.0.5", &a, NULL);
    g_array_append_val(f->owner->addresses, a);
    nc_addr_parse("2001:db8::5", &a, NULL);
    g_array_append_val(f->owner->addresses, a);
    g_array_append_vals(f->owner->macs, (guint8[]){0x52, 0x54, 0, 0, 0, 5}, 1);
}

#define SKIP_UNLESS_READY(f)                                                                       \
    do {                                                                                           \
        if (!(f)->owner)                                                                           \
            return;                                                                                \
    } while (0)

/* src's elements: four of the domain (by key address, by map data, by its address and MAC in a
 * concatenation, by IPv6), four foreign, and one binding of the domain's MAC to a foreign address
 * (not carried) */
static const char ELEMENTS[] =
    "add element inet fw authed { 10.0.0.5 counter packets 7 bytes 700 timeout 60s expires 30s }\n"
    "add element inet fw authed { 10.0.0.99 timeout 60s }\n"
    "add element inet fw sticky { 10.0.0.9 timeout 30s expires 12s : 10.0.0.5 }\n"
    "add element inet fw sticky { 10.0.0.8 timeout 30s : 10.0.0.77 }\n"
    "add element inet fw pairs { 10.0.0.5 . 52:54:00:00:00:05 timeout 60s }\n"
    "add element inet fw pairs { 10.0.0.99 . 52:54:00:00:00:05 timeout 60s }\n"
    "add element inet fw pairs { 10.0.0.98 . 52:54:00:00:00:99 timeout 60s }\n"
    "add element inet fw v6 { 2001:db8::5 timeout 45s }\n"
    "add element inet fw v6 { 2001:db8::99 timeout 45s }\n";

static NcItemSet *capture(const char *ns, const NcOwner *owner, GPtrArray *not_carried,
                          GError **error)
{
    g_autoptr(NcNftNl) nl = nc_nft_nl_open(ns, error);
    g_autoptr(NcItemSet) set = nc_item_set_new(&nc_nft_set_class);

    if (!nl || !nc_nft_set_capture(nl, owner, set, not_carried, error))
        return NULL;
    return g_steal_pointer(&set);
}

static gboolean install(const char *ns, const NcOwner *owner, const NcItemSet *items,
                        NcItemSet **installed, GError **error)
{
    g_autoptr(NcNftNl) nl = nc_nft_nl_open(ns, error);

    return nl && nc_nft_set_install(nl, owner, items, installed, error);
}

static const NcNftSetElem *find(const NcItemSet *set, const char *name)
{
    g_autoptr(GPtrArray) items = nc_item_set_items(set);

    for (guint i = 0; i < items->len; i++) {
        const NcNftSetElem *e = items->pdata[i];

        if (g_str_equal(e->set, name))
            return e;
    }
    return NULL;
}

/* Capture the domain's elements, install them elsewhere: they arrive with their remaining
 * timeout and counters, the foreign ones stay behind. */
static void test_carry(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(NcItemSet) got = NULL, installed = NULL, again = NULL, there = NULL;
    g_autoptr(NcItemDiff) diff = NULL;
    g_autofree char *listed = NULL;
    g_autoptr(GPtrArray) lost = nc_not_carried_list_new();
    const NcNftSetElem *e, *e2;
    gboolean ok;

    SKIP_UNLESS_READY(f);
    ok = nc_ktest_nft_load(f->src, ELEMENTS, &error) && nc_ktest_nft_load(f->dst, RULESET, &error);
    NC_KTEST_CHECK_OK(ok, error);
    got = capture(f->src, f->owner, lost, &error);
    NC_KTEST_CHECK_OK(got != NULL, error);
    g_assert_cmpuint(nc_item_set_count(got), ==, 4);
    g_assert_cmpuint(lost->len, ==, 1);
    if (lost->len)
        g_assert_cmpstr(((NcNotCarried *)lost->pdata[0])->what, ==,
                        "inet/fw/pairs element 10.0.0.99 . 52:54:00:00:00:05");

    e = find(got, "authed");
    g_assert_nonnull(e);
    if (!e)
        return;
    g_assert_true(e->has_timeout);
    g_assert_cmpuint(e->timeout_ms, ==, 60000);
    g_assert_cmpuint(e->expires_ms, <=, 30000);
    g_assert_cmpuint(e->expires_ms, >, 28000);
    g_assert_true(e->has_counter);
    g_assert_cmpuint(e->packets, ==, 7);
    g_assert_cmpuint(e->bytes, ==, 700);
    e = find(got, "sticky");
    g_assert_nonnull(e);
    if (e) {
        g_autofree char *d = nc_nft_set_class.describe(e);

        g_assert_cmpstr(d, ==, "inet/fw/sticky element 10.0.0.9 . 10.0.0.5");
    }
    e = find(got, "pairs");
    g_assert_nonnull(e);
    if (e) {
        g_autofree char *d = nc_nft_set_class.describe(e);

        g_assert_cmpuint(e->n_fields, ==, 2);
        g_assert_cmpstr(d, ==, "inet/fw/pairs element 10.0.0.5 . 52:54:00:00:00:05");
    }
    g_assert_nonnull(find(got, "v6"));

    ok = install(f->dst, f->owner, got, &installed, &error);
    NC_KTEST_CHECK_OK(ok, error);
    g_assert_cmpuint(nc_item_set_count(installed), ==, 4);

    /* the same moment on both sides: remaining times within 1 s, counters equal */
    again = capture(f->src, f->owner, NULL, &error);
    there = capture(f->dst, f->owner, NULL, &error);
    NC_KTEST_CHECK_OK(again && there, error);
    e = find(again, "authed");
    e2 = find(there, "authed");
    g_assert_nonnull(e2);
    if (e && e2) {
        gint64 delta = (gint64)e->expires_ms - (gint64)e2->expires_ms;

        g_test_message("remaining time: source %" G_GUINT64_FORMAT
                       " ms, destination %" G_GUINT64_FORMAT " ms",
                       e->expires_ms, e2->expires_ms);
        g_assert_cmpint(ABS(delta), <, 1000);
        g_assert_cmpuint(e2->timeout_ms, ==, 60000);
        g_assert_cmpuint(e2->packets, ==, 7);
        g_assert_cmpuint(e2->bytes, ==, 700);
    }
    e = find(again, "sticky");
    e2 = find(there, "sticky");
    g_assert_nonnull(e2);
    if (e && e2)
        g_assert_cmpint(ABS((gint64)e->expires_ms - (gint64)e2->expires_ms), <, 1000);
    diff = nc_item_set_diff(installed, there);
    g_assert_true(nc_item_diff_is_empty(diff));

    /* no foreign element crossed */
    listed = nc_ktest_nft_list(f->dst, "table inet fw");
    g_assert_null(strstr(listed, "10.0.0.99 timeout"));
    g_assert_null(strstr(listed, "10.0.0.77"));
    g_assert_null(strstr(listed, "52:54:00:00:00:99"));
    g_assert_null(strstr(listed, "10.0.0.99 . 52:54:00:00:00:05"));
    g_assert_null(strstr(listed, "2001:db8::99"));
    g_assert_nonnull(strstr(listed, "52:54:00:00:00:05"));
}

/* The destination decides ownership from its own view: an element that is not the domain's
 * there is refused, and nothing of the class is installed. */
static void test_foreign_refused(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(NcItemSet) got = NULL, there = NULL;
    g_autoptr(NcOwner) narrow = nc_owner_new();
    NcAddr a;
    gboolean ok;

    SKIP_UNLESS_READY(f);
    ok = nc_ktest_nft_load(f->src, ELEMENTS, &error) && nc_ktest_nft_load(f->dst, RULESET, &error);
    NC_KTEST_CHECK_OK(ok, error);
    got = capture(f->src, f->owner, NULL, &error);
    NC_KTEST_CHECK_OK(got != NULL, error);
    /* the destination knows the domain by 10.0.0.5 only: the IPv6 and MAC elements are foreign */
    nc_addr_parse("10.0.0.5", &a, NULL);
    g_array_append_val(narrow->addresses, a);
    ok = install(f->dst, narrow, got, NULL, &error);
    g_assert_false(ok);
    g_assert_error(error, NC_ERROR, NC_ERROR_INVALID_DATA);
    if (error)
        g_test_message("%s", error->message);
    g_clear_error(&error);
    there = capture(f->dst, f->owner, NULL, &error);
    NC_KTEST_CHECK_OK(there != NULL, error);
    g_assert_cmpuint(nc_item_set_count(there), ==, 0);
}

/* Admission: a target set that is missing, of another type or full is named, and nothing of any
 * set is installed. */
static void test_target(Fixture *f, gconstpointer data)
{
    const char *dst_ruleset = data;
    g_autoptr(GError) error = NULL;
    g_autoptr(NcItemSet) got = NULL, there = NULL;
    g_autoptr(NcNftNl) nl = NULL;
    gboolean ok;

    SKIP_UNLESS_READY(f);
    ok = nc_ktest_nft_load(f->src, ELEMENTS, &error) &&
         nc_ktest_nft_load(f->dst, dst_ruleset, &error);
    NC_KTEST_CHECK_OK(ok, error);
    got = capture(f->src, f->owner, NULL, &error);
    NC_KTEST_CHECK_OK(got != NULL, error);
    nl = nc_nft_nl_open(f->dst, &error);
    NC_KTEST_CHECK_OK(nl != NULL, error);

    ok = nc_nft_set_probe(nl, f->owner, got, &error);
    g_assert_false(ok);
    g_assert_nonnull(error);
    if (!error)
        return;
    g_test_message("probe: %s", error->message);
    g_assert_nonnull(strstr(error->message, "set inet/fw/"));
    g_assert_nonnull(strstr(error->message, f->dst));
    g_clear_error(&error);

    ok = nc_nft_set_install(nl, f->owner, got, NULL, &error);
    g_assert_false(ok);
    g_assert_nonnull(error);
    g_clear_error(&error);
    there = capture(f->dst, f->owner, NULL, &error);
    NC_KTEST_CHECK_OK(there != NULL, error);
    g_assert_cmpuint(nc_item_set_count(there), ==, 0);
}

/* remove() takes away exactly what install() put in; again, it is no error. */
static void test_remove(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(NcItemSet) got = NULL, installed = NULL, there = NULL;
    g_autoptr(NcNftNl) nl = NULL;
    g_autofree char *listed = NULL;
    guint n = 0;
    gboolean ok;

    SKIP_UNLESS_READY(f);
    ok =
        nc_ktest_nft_load(f->src, ELEMENTS, &error) && nc_ktest_nft_load(f->dst, RULESET, &error) &&
        nc_ktest_nft_load(f->dst, "add element inet fw authed { 10.0.0.42 timeout 60s }\n", &error);
    NC_KTEST_CHECK_OK(ok, error);
    got = capture(f->src, f->owner, NULL, &error);
    NC_KTEST_CHECK_OK(got != NULL, error);
    ok = install(f->dst, f->owner, got, &installed, &error);
    NC_KTEST_CHECK_OK(ok, error);
    nl = nc_nft_nl_open(f->dst, &error);
    NC_KTEST_CHECK_OK(nl != NULL, error);
    ok = nc_nft_set_remove(nl, installed, &n, &error);
    NC_KTEST_CHECK_OK(ok, error);
    g_assert_cmpuint(n, ==, 4);
    there = capture(f->dst, f->owner, NULL, &error);
    NC_KTEST_CHECK_OK(there != NULL, error);
    g_assert_cmpuint(nc_item_set_count(there), ==, 0);
    /* someone else's element stays */
    listed = nc_ktest_nft_list(f->dst, "set inet fw authed");
    g_assert_nonnull(strstr(listed, "10.0.0.42"));
    ok = nc_nft_set_remove(nl, installed, NULL, &error);
    g_assert_no_error(error);
    g_assert_true(ok);
}

/* An element whose limit or ct count state the kernel cannot take is listed, with why. */
static void test_not_carried(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) lost = nc_not_carried_list_new();
    g_autoptr(NcItemSet) got = NULL;
    gboolean ok, found = FALSE;

    SKIP_UNLESS_READY(f);
    ok = nc_ktest_nft_load(
        f->src,
        "table ip lim {\n"
        "  set perip { type ipv4_addr; size 1024; flags dynamic,timeout; timeout 1m; }\n"
        "  chain c { type filter hook output priority 0;\n"
        "    update @perip { ip daddr limit rate 10/second }\n"
        "  }\n"
        "}\n",
        &error);
    NC_KTEST_CHECK_OK(ok, error);
    /* the packet path adds the element (no event; captured by listing) */
    nc_ktest_run(NULL, NULL, "ip netns exec %s ip link set lo up", f->src);
    nc_ktest_run(NULL, NULL, "ip netns exec %s ip addr add 10.0.0.5/32 dev lo", f->src);
    {
        const char *argv[] = {
            "ip", "netns", "exec", f->src, "bash", "-c", "echo x > /dev/udp/10.0.0.5/9", NULL};

        nc_ktest_run_argv(argv, NULL, NULL);
    }
    got = capture(f->src, f->owner, lost, &error);
    NC_KTEST_CHECK_OK(got != NULL, error);
    for (guint i = 0; i < lost->len; i++) {
        const NcNotCarried *nc = lost->pdata[i];

        g_test_message("not carried: %s: %s", nc->what, nc->reason);
        if (strstr(nc->what, "ip/lim/perip element 10.0.0.5") && strstr(nc->what, "limit") &&
            strstr(nc->reason, "token"))
            found = TRUE;
    }
    g_assert_true(found);
    /* the element itself is carried (with a fresh bucket on the destination) */
    g_assert_nonnull(find(got, "perip"));
}

/* The kernel omits an element's timeout when it is the set's default: the element still carries
 * it (the destination's set may have another default). */
static void test_default_timeout(Fixture *f, gconstpointer data)
{
    static const char dflt[] = "table ip acl {\n"
                               "  set authed { type ipv4_addr; flags timeout; timeout 1h; }\n"
                               "}\n";
    g_autoptr(GError) error = NULL;
    g_autoptr(NcItemSet) got = NULL, there = NULL;
    const NcNftSetElem *e;
    gboolean ok;

    SKIP_UNLESS_READY(f);
    ok = nc_ktest_nft_load(f->src, dflt, &error) &&
         nc_ktest_nft_load(f->src, "add element ip acl authed { 10.0.0.5 }\n", &error) &&
         nc_ktest_nft_load(f->dst,
                           "table ip acl {\n  set authed { type ipv4_addr; flags timeout; "
                           "timeout 5m; }\n}\n",
                           &error);
    NC_KTEST_CHECK_OK(ok, error);
    got = capture(f->src, f->owner, NULL, &error);
    NC_KTEST_CHECK_OK(got != NULL, error);
    e = find(got, "authed");
    g_assert_nonnull(e);
    if (!e)
        return;
    g_assert_true(e->has_timeout);
    g_assert_cmpuint(e->timeout_ms, ==, 3600000);
    g_assert_cmpuint(e->expires_ms, >, 3590000);
    ok = install(f->dst, f->owner, got, NULL, &error);
    NC_KTEST_CHECK_OK(ok, error);
    there = capture(f->dst, f->owner, NULL, &error);
    NC_KTEST_CHECK_OK(there != NULL, error);
    e = find(there, "authed");
    g_assert_nonnull(e);
    if (e) {
        g_assert_cmpuint(e->timeout_ms, ==, 3600000); /* not the destination's 5m */
        g_assert_cmpuint(e->expires_ms, >, 3590000);
    }
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_set_nonfatal_assertions();

#define ADD(path, fn, data)                                                                        \
    g_test_add(path, Fixture, data, fixture_setup, fn, nc_ktest_pair_teardown)
    ADD("/nft-set/carry", test_carry, NULL);
    ADD("/nft-set/foreign-refused", test_foreign_refused, NULL);
    ADD("/nft-set/default-timeout", test_default_timeout, NULL);
    ADD("/nft-set/target/missing", test_target,
        "table inet fw {\n"
        "  set authed { type ipv4_addr; flags timeout; counter; }\n"
        "  map sticky { type ipv4_addr : ipv4_addr; flags timeout; }\n"
        "  set v6 { type ipv6_addr; flags timeout; }\n"
        "}\n");
    ADD("/nft-set/target/other-type", test_target,
        "table inet fw {\n"
        "  set authed { type ipv4_addr; flags timeout; counter; }\n"
        "  map sticky { type ipv4_addr : ether_addr; flags timeout; }\n"
        "  set pairs { type ipv4_addr . ether_addr; flags timeout; }\n"
        "  set v6 { type ipv6_addr; flags timeout; }\n"
        "}\n");
    ADD("/nft-set/target/no-timeout", test_target,
        "table inet fw {\n"
        "  set authed { type ipv4_addr; counter; }\n"
        "  map sticky { type ipv4_addr : ipv4_addr; flags timeout; }\n"
        "  set pairs { type ipv4_addr . ether_addr; flags timeout; }\n"
        "  set v6 { type ipv6_addr; flags timeout; }\n"
        "}\n");
    ADD("/nft-set/target/no-room", test_target,
        "table inet fw {\n"
        "  set authed { type ipv4_addr; flags timeout; counter; }\n"
        "  map sticky { type ipv4_addr : ipv4_addr; flags timeout; }\n"
        "  set pairs { type ipv4_addr . ether_addr; flags timeout; size 1; "
        "elements = { 10.0.0.1 . 52:54:00:00:00:01 } }\n"
        "  set v6 { type ipv6_addr; flags timeout; }\n"
        "}\n");
    ADD("/nft-set/remove", test_remove, NULL);
    ADD("/nft-set/not-carried", test_not_carried, NULL);
    return g_test_run();
}
