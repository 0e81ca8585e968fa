/* test-nft-obj.c - the named counters and quotas driver against real nf_tables: the destination's
 * objects continue from the source's values; and what cannot be carried is listed
 */
#include <string.h>
#include <unistd.h>

#include <linux/netfilter/nf_tables.h>

#include "drivers/nc-nft-obj.h"
#include "nc-ktest.h"
#include "util/nc-error.h"

typedef NcKtestPair Fixture;

/* the source: the VM has used 80 of its 100 MB and counted 1234 packets */
static const char SRC[] =
    "table inet fw {\n"
    "  counter vm50 { packets 1234 bytes 567890 }\n"
    "  quota vm50q { over 100 mbytes used 80 mbytes }\n"
    "  map vmc { type ipv4_addr : counter; elements = { 10.0.0.5 : \"vm50\" } }\n"
    "  map vmq { type ipv4_addr : quota; elements = { 10.0.0.5 : \"vm50q\" } }\n"
    "  chain vmtraffic { type filter hook forward priority 0;\n"
    "    counter name ip saddr map @vmc\n"
    "    quota name ip saddr map @vmq drop\n"
    "  }\n"
    "}\n";

/* the destination as an operator declares it: same objects at zero, referenced through object
 * maps (whose element expires, to see its remaining time survive the swap); its own limit */
static const char DST[] =
    "table inet fw {\n"
    "  counter vm50 { }\n"
    "  quota vm50q { over 200 mbytes }\n"
    "  map vmc { type ipv4_addr : counter; flags timeout; }\n"
    "  map vmq { type ipv4_addr : quota; elements = { 10.0.0.5 : \"vm50q\" } }\n"
    "  chain vmtraffic { type filter hook forward priority 0;\n"
    "    counter name ip saddr map @vmc\n"
    "    quota name ip saddr map @vmq drop\n"
    "  }\n"
    "}\n"
    "add element inet fw vmc { 10.0.0.5 timeout 1h expires 30m : \"vm50\" }\n";

static void fixture_setup(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    NcAddr a;

    if (!nc_ktest_ns_pair("nc-nobj", f->src, f->dst, sizeof(f->src), &f->ready))
        return;
    /* a ruleset this kernel refuses is a failure, not a skip: the machine has nf_tables */
    if (!nc_ktest_nft_load(f->src, SRC, &error)) {
        g_assert_no_error(error);
        return;
    }
    f->owner = nc_owner_new();
    nc_addr_parse("10.0.0.5", &a, NULL);
    g_array_append_val(f->owner->addresses, a);
    g_ptr_array_add(f->owner->objects, nc_object_ref_new("inet", "fw", "vm50", "counter"));
    g_ptr_array_add(f->owner->objects, nc_object_ref_new("inet", "fw", "vm50q", NULL));
}

#define SKIP_UNLESS_READY(f)                                                                       \
    do {                                                                                           \
        if (!(f)->owner)                                                                           \
            return;                                                                                \
    } while (0)

static NcItemSet *capture(const char *ns, const NcOwner *owner, GError **error)
{
    g_autoptr(NcNftNl) nl = nc_nft_nl_open(ns, error);
    g_autoptr(NcItemSet) set = nc_item_set_new(&nc_nft_obj_class);

    if (!nl || !nc_nft_obj_capture(nl, owner, set, NULL, error))
        return NULL;
    return g_steal_pointer(&set);
}

static const NcNftObj *find(const NcItemSet *set, guint32 type)
{
    g_autoptr(GPtrArray) items = nc_item_set_items(set);

    for (guint i = 0; i < items->len; i++)
        if (((const NcNftObj *)items->pdata[i])->type == type)
            return items->pdata[i];
    return NULL;
}

/* The counter continues from the source's packets and bytes, the quota from its used bytes with
 * the destination's own limit; the object maps still point at them; roll-back restores. */
static void test_continue(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(NcItemSet) got = NULL, previous = NULL, there = NULL, back = NULL;
    g_autoptr(NcNftNl) nl = NULL;
    g_autofree char *maps = NULL;
    const NcNftObj *c, *q;
    guint n = 0;
    gboolean ok;

    SKIP_UNLESS_READY(f);
    ok = nc_ktest_nft_load(f->dst, DST, &error);
    NC_KTEST_CHECK_OK(ok, error);
    got = capture(f->src, f->owner, &error);
    NC_KTEST_CHECK_OK(got != NULL, error);
    g_assert_cmpuint(nc_item_set_count(got), ==, 2);
    c = find(got, NFT_OBJECT_COUNTER);
    q = find(got, NFT_OBJECT_QUOTA);
    g_assert_nonnull(c);
    g_assert_nonnull(q);
    if (!c || !q)
        return;
    g_assert_cmpuint(c->packets, ==, 1234);
    g_assert_cmpuint(c->bytes, ==, 567890);
    g_assert_cmpuint(q->consumed, ==, 80 * 1024 * 1024);
    g_assert_cmpuint(q->bytes, ==, 100 * 1024 * 1024);

    nl = nc_nft_nl_open(f->dst, &error);
    NC_KTEST_CHECK_OK(nl != NULL, error);
    ok = nc_nft_obj_probe(nl, f->owner, got, &error);
    NC_KTEST_CHECK_OK(ok, error);
    ok = nc_nft_obj_driver.install(nl, f->owner, got, &previous, &error);
    NC_KTEST_CHECK_OK(ok, error);
    there = capture(f->dst, f->owner, &error);
    NC_KTEST_CHECK_OK(there != NULL, error);
    c = find(there, NFT_OBJECT_COUNTER);
    q = find(there, NFT_OBJECT_QUOTA);
    g_assert_nonnull(c);
    g_assert_nonnull(q);
    if (!c || !q)
        return;
    g_assert_cmpuint(c->packets, ==, 1234);
    g_assert_cmpuint(c->bytes, ==, 567890);
    g_assert_cmpuint(q->consumed, ==, 80 * 1024 * 1024);
    g_assert_cmpuint(q->bytes, ==, 200 * 1024 * 1024); /* the destination's own limit */
    /* the object maps point at the new objects, and the element kept its remaining time */
    maps = nc_ktest_nft_list(f->dst, "table inet fw");
    g_test_message("%s", maps);
    g_assert_nonnull(strstr(maps, "10.0.0.5 timeout 1h expires 29m"));
    g_assert_nonnull(strstr(maps, "10.0.0.5 : \"vm50q\""));

    /* roll-back: the destination's values from before */
    ok = nc_nft_obj_driver.remove(nl, previous, &n, &error);
    NC_KTEST_CHECK_OK(ok, error);
    g_assert_cmpuint(n, ==, 2);
    back = capture(f->dst, f->owner, &error);
    NC_KTEST_CHECK_OK(back != NULL, error);
    c = find(back, NFT_OBJECT_COUNTER);
    q = find(back, NFT_OBJECT_QUOTA);
    g_assert_nonnull(c);
    g_assert_nonnull(q);
    if (c && q) {
        g_assert_cmpuint(c->packets, ==, 0);
        g_assert_cmpuint(q->consumed, ==, 0);
    }
}

/* An object a rule names directly cannot be set: the probe says which and what to do, and the
 * install changes nothing (of any object). A missing object is named. */
static void test_refused(Fixture *f, gconstpointer data)
{
    const char *dst = data;
    g_autoptr(GError) error = NULL;
    g_autoptr(NcItemSet) got = NULL, there = NULL;
    g_autoptr(NcNftNl) nl = NULL;
    const NcNftObj *q;
    gboolean ok;

    SKIP_UNLESS_READY(f);
    ok = nc_ktest_nft_load(f->dst, dst, &error);
    NC_KTEST_CHECK_OK(ok, error);
    got = capture(f->src, f->owner, &error);
    NC_KTEST_CHECK_OK(got != NULL, error);
    nl = nc_nft_nl_open(f->dst, &error);
    NC_KTEST_CHECK_OK(nl != NULL, error);
    ok = nc_nft_obj_probe(nl, f->owner, got, &error);
    g_assert_false(ok);
    g_assert_nonnull(error);
    if (!error)
        return;
    g_test_message("probe: %s", error->message);
    g_assert_nonnull(strstr(error->message, "inet/fw/vm50"));
    g_clear_error(&error);
    ok = nc_nft_obj_install(nl, f->owner, got, NULL, &error);
    g_assert_false(ok);
    g_clear_error(&error);
    /* the quota, which could have been swapped, was not touched either */
    {
        g_autoptr(NcOwner) only_q = nc_owner_new();

        g_ptr_array_add(only_q->objects, nc_object_ref_new("inet", "fw", "vm50q", "quota"));
        there = capture(f->dst, only_q, &error);
        NC_KTEST_CHECK_OK(there != NULL, error);
        q = find(there, NFT_OBJECT_QUOTA);
        g_assert_nonnull(q);
        if (q)
            g_assert_cmpuint(q->consumed, ==, 0);
    }
}

/* What the kernel cannot take is listed for the report, with why. */
static void test_not_carried(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) lost = nc_not_carried_list_new();
    g_autoptr(NcNftNl) nl = NULL;
    guint limit_obj = 0, limit_rule = 0, ctcount_rule = 0;
    gboolean ok;

    SKIP_UNLESS_READY(f);
    ok = nc_ktest_nft_load(f->src,
                           "table inet pol {\n"
                           "  limit vm50lim { rate 100/second }\n"
                           "  chain in { type filter hook input priority 0;\n"
                           "    ip saddr 10.0.0.5 limit rate 10/second accept\n"
                           "    ip saddr 10.0.0.5 ct count over 4 drop\n"
                           "    ip saddr 10.0.0.99 ct count over 4 drop\n"
                           "  }\n"
                           "}\n",
                           &error);
    NC_KTEST_CHECK_OK(ok, error);
    g_ptr_array_add(f->owner->objects, nc_object_ref_new("inet", "pol", "vm50lim", NULL));
    nl = nc_nft_nl_open(f->src, &error);
    NC_KTEST_CHECK_OK(nl != NULL, error);
    ok = nc_nft_not_carried(nl, f->owner, lost, &error);
    NC_KTEST_CHECK_OK(ok, error);
    for (guint i = 0; i < lost->len; i++) {
        const NcNotCarried *nc = lost->pdata[i];

        g_test_message("not carried (%s): %s: %s", nc->class_name, nc->what, nc->reason);
        if (g_str_has_prefix(nc->what, "limit inet/pol/vm50lim"))
            limit_obj++;
        else if (g_str_has_prefix(nc->what, "limit in rule") && strstr(nc->what, "inet/pol/in"))
            limit_rule++;
        else if (g_str_has_prefix(nc->what, "ct count in rule"))
            ctcount_rule++;
    }
    g_assert_cmpuint(limit_obj, ==, 1);
    g_assert_cmpuint(limit_rule, ==, 1);
    g_assert_cmpuint(ctcount_rule, ==, 1); /* not the 10.0.0.99 rule */
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_set_nonfatal_assertions();

#define ADD(path, fn, data)                                                                        \
    g_test_add(path, Fixture, data, fixture_setup, fn, nc_ktest_pair_teardown)
    ADD("/nft-obj/continue", test_continue, NULL);
    ADD("/nft-obj/refused/direct-reference", test_refused,
        "table inet fw {\n"
        "  counter vm50 { }\n"
        "  quota vm50q { over 200 mbytes }\n"
        "  map vmq { type ipv4_addr : quota; elements = { 10.0.0.5 : \"vm50q\" } }\n"
        "  chain vmtraffic { type filter hook forward priority 0;\n"
        "    ip saddr 10.0.0.5 counter name \"vm50\"\n"
        "    quota name ip saddr map @vmq drop\n"
        "  }\n"
        "}\n");
    ADD("/nft-obj/refused/missing", test_refused,
        "table inet fw {\n"
        "  quota vm50q { over 200 mbytes }\n"
        "  map vmq { type ipv4_addr : quota; elements = { 10.0.0.5 : \"vm50q\" } }\n"
        "}\n");
    ADD("/nft-obj/not-carried", test_not_carried, NULL);
    return g_test_run();
}
