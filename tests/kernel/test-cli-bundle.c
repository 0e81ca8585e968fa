/* test-cli-bundle.c - `netcarry capture` and `netcarry install` with every class, between two
 * namespaces: conntrack entries, nft set elements with timeouts (anti-spoofing bindings by MAC
 * too), a named counter and a quota
 *
 * The CLI ($NETCARRY_CLI) runs as an operator runs it; the kernels' state is read back with
 * netcarry's own drivers.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/netfilter/nf_tables.h>

#include "conf/nc-bundle.h"
#include "conf/nc-nft-items.h"
#include "drivers/nc-nft-obj.h"
#include "drivers/nc-nft-set.h"
#include "nc-ktest.h"
#include "util/nc-error.h"

#define VM "10.0.0.5"

typedef struct {
    NcKtestPair pair;
    char *dir; /* scratch directory for the bundles */
} Fixture;

static const char SRC[] = "table inet fw {\n"
                          "  set authed { type ipv4_addr; flags timeout; }\n"
                          "  counter vm50 { packets 7 bytes 700 }\n"
                          "  quota vm50q { over 1000000 bytes used 800000 bytes }\n"
                          "}\n"
                          "add element inet fw authed { " VM " timeout 600s expires 400s }\n"
                          /* another VM's element: not this bundle's */
                          "add element inet fw authed { 10.0.0.99 timeout 600s expires 300s }\n";

/* the destination as its operator declared it; "authed" only when the test adds it */
static const char DST_NO_SET[] = "table inet fw {\n"
                                 "  counter vm50 { }\n"
                                 "  quota vm50q { over 1000000 bytes }\n"
                                 "}\n";

static const char DST_SET[] = "add set inet fw authed { type ipv4_addr; flags timeout; }\n";

static void fixture_setup(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(NcCt) ct = NULL;
    NcCtEntry entries[2];
    NcAddr a;

    if (!g_getenv("NETCARRY_CLI")) {
        g_test_skip("NETCARRY_CLI is not set: run through meson test");
        return;
    }
    if (!nc_ktest_ns_pair("nc-clib", f->pair.src, f->pair.dst, sizeof(f->pair.src), &f->pair.ready))
        return;
    f->dir = g_dir_make_tmp("nc-cli-bundle-XXXXXX", &error);
    g_assert_no_error(error);
    if (!nc_ktest_nft_load(f->pair.src, SRC, &error) ||
        !nc_ktest_nft_load(f->pair.dst, DST_NO_SET, &error) ||
        (data && !nc_ktest_nft_load(f->pair.dst, DST_SET, &error))) {
        g_assert_no_error(error);
        return;
    }
    entries[0] = nc_ktest_tcp_entry(VM, 40000);
    entries[1] = nc_ktest_tcp_entry(VM, 40001);
    ct = nc_ct_open(f->pair.src, &error);
    if (!ct || !nc_ct_install(ct, entries, G_N_ELEMENTS(entries), NULL, &error)) {
        g_assert_no_error(error);
        return;
    }
    f->pair.owner = nc_owner_new();
    nc_addr_parse(VM, &a, NULL);
    g_array_append_val(f->pair.owner->addresses, a);
    g_ptr_array_add(f->pair.owner->objects, nc_object_ref_new("inet", "fw", "vm50", NULL));
    g_ptr_array_add(f->pair.owner->objects, nc_object_ref_new("inet", "fw", "vm50q", NULL));
}

static void fixture_teardown(Fixture *f, gconstpointer data)
{
    if (f->dir) {
        g_autofree char *cmd = g_strdup_printf("rm -rf %s", f->dir);

        g_assert_cmpint(system(cmd), ==, 0);
        g_free(f->dir);
    }
    nc_ktest_pair_teardown(&f->pair, data);
}

static char *capture(Fixture *f, const char *name)
{
    g_autofree char *err = NULL;
    char *path = g_build_filename(f->dir, name, NULL);
    int rc = nc_ktest_cli(&err, "capture", "--netns", f->pair.src, "--address", VM, "--object",
                          "inet/fw/vm50", "--object", "inet/fw/vm50q", "--output", path, NULL);

    g_assert_cmpint(rc, ==, 0);
    return path;
}

/* the domain's element of inet/fw/authed in @ns (NULL: none), captured now */
static NcNftSetElem *authed_element(const Fixture *f, const char *ns)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(NcNftNl) nl = nc_nft_nl_open(ns, &error);
    g_autoptr(NcItemSet) set = nc_item_set_new(&nc_nft_set_class);
    g_autoptr(GPtrArray) items = NULL;

    g_assert_no_error(error);
    if (!nl || !nc_nft_set_capture(nl, f->pair.owner, set, NULL, &error)) {
        g_assert_no_error(error);
        return NULL;
    }
    items = nc_item_set_items(set);
    for (guint i = 0; i < items->len; i++) {
        const NcNftSetElem *e = items->pdata[i];

        if (g_str_equal(e->set, "authed"))
            return nc_nft_set_elem_copy(e);
    }
    return NULL;
}

/* the values of vm50 and vm50q in @ns */
static gboolean objects_in(const Fixture *f, const char *ns, NcNftObj *counter, NcNftObj *quota)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(NcNftNl) nl = nc_nft_nl_open(ns, &error);
    g_autoptr(NcItemSet) objs = nc_item_set_new(&nc_nft_obj_class);
    g_autoptr(GPtrArray) items = NULL;

    if (!nl || !nc_nft_obj_capture(nl, f->pair.owner, objs, NULL, &error)) {
        g_assert_no_error(error);
        return FALSE;
    }
    items = nc_item_set_items(objs);
    for (guint i = 0; i < items->len; i++) {
        const NcNftObj *o = items->pdata[i];

        *(o->type == NFT_OBJECT_QUOTA ? quota : counter) = *o;
    }
    return items->len == 2;
}

static guint ct_count(const Fixture *f, const char *ns)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(NcCt) ct = nc_ct_open(ns, &error);
    g_autoptr(GArray) entries = g_array_new(FALSE, TRUE, sizeof(NcCtEntry));
    NcCtSelector sel = {.addresses = f->pair.owner->addresses};

    if (!ct || !nc_ct_capture(ct, &sel, entries, &error)) {
        g_assert_no_error(error);
        return G_MAXUINT;
    }
    return entries->len;
}

/* Every class arrives: both conntrack entries, the domain's set element (not the other VM's)
 * with the source's remaining time (within 1 s), the counter's and the quota's values; and
 * `diff` finds the source's and the destination's captures alike, class by class. */
static void test_carry(Fixture *f, gconstpointer data)
{
    g_autofree char *path = NULL, *after = NULL, *err = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(NcBundle) b = NULL;
    g_autoptr(NcNftSetElem) src_e = NULL;
    g_autoptr(NcNftSetElem) dst_e = NULL;
    NcNftObj counter = {0}, quota = {0};
    gint64 diff_ms;

    if (!f->pair.owner)
        return;
    path = capture(f, "vm.xml");
    b = nc_bundle_parse_file(path, &error);
    NC_KTEST_CHECK_OK(b != NULL, error);
    g_assert_cmpuint(b->version, ==, 2);
    g_assert_cmpuint(b->conntrack->len, ==, 2);
    g_assert_nonnull(b->nft_sets);
    g_assert_nonnull(b->nft_objects);
    if (!b->nft_sets || !b->nft_objects)
        return;
    g_assert_cmpuint(nc_item_set_count(b->nft_sets), ==, 1); /* not 10.0.0.99's */
    g_assert_cmpuint(nc_item_set_count(b->nft_objects), ==, 2);

    g_assert_cmpint(nc_ktest_cli(&err, "install", "--netns", f->pair.dst, path, NULL), ==, 0);
    g_assert_cmpuint(ct_count(f, f->pair.dst), ==, 2);
    src_e = authed_element(f, f->pair.src);
    dst_e = authed_element(f, f->pair.dst);
    g_assert_nonnull(src_e);
    g_assert_nonnull(dst_e);
    if (!src_e || !dst_e)
        return;
    g_assert_true(dst_e->has_timeout);
    g_assert_cmpuint(dst_e->timeout_ms, ==, 600000);
    diff_ms = (gint64)dst_e->expires_ms - (gint64)src_e->expires_ms;
    g_test_message("remaining: source %" G_GUINT64_FORMAT " ms, destination %" G_GUINT64_FORMAT
                   " ms",
                   src_e->expires_ms, dst_e->expires_ms);
    g_assert_cmpint(ABS(diff_ms), <=, 1000);
    g_assert_true(objects_in(f, f->pair.dst, &counter, &quota));
    g_assert_cmpuint(counter.packets, ==, 7);
    g_assert_cmpuint(counter.bytes, ==, 700);
    g_assert_cmpuint(quota.consumed, ==, 800000);

    after = capture(f, "again.xml");
    g_clear_pointer(&err, g_free);
    {
        g_autofree char *dst_path = g_build_filename(f->dir, "dst.xml", NULL);

        g_assert_cmpint(nc_ktest_cli(&err, "capture", "--netns", f->pair.dst, "--address", VM,
                                     "--object", "inet/fw/vm50", "--object", "inet/fw/vm50q",
                                     "--output", dst_path, NULL),
                        ==, 0);
        g_clear_pointer(&err, g_free);
        g_assert_cmpint(nc_ktest_cli(&err, "diff", after, dst_path, NULL), ==, 0);
    }
}

/* The destination lacks the set: nothing of any class is installed (its conntrack table and
 * its counter and quota are unchanged), and the refusal names the set. */
static void test_set_missing(Fixture *f, gconstpointer data)
{
    g_autofree char *path = NULL, *err = NULL;
    NcNftObj counter = {0}, quota = {0};

    if (!f->pair.owner)
        return;
    path = capture(f, "vm.xml");
    g_assert_cmpuint(ct_count(f, f->pair.dst), ==, 0);
    g_assert_cmpint(nc_ktest_cli(&err, "install", "--netns", f->pair.dst, path, NULL), ==, 2);
    g_assert_nonnull(strstr(err, "inet/fw/authed"));
    g_assert_nonnull(strstr(err, "nothing of any class was installed"));
    g_assert_cmpuint(ct_count(f, f->pair.dst), ==, 0);
    g_assert_true(objects_in(f, f->pair.dst, &counter, &quota));
    g_assert_cmpuint(counter.packets, ==, 0);
    g_assert_cmpuint(quota.consumed, ==, 0);
}

/* --class picks classes; an unknown one is an error that lists the known ones */
static void test_class_option(Fixture *f, gconstpointer data)
{
    g_autofree char *path = NULL, *err = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(NcBundle) b = NULL;

    if (!f->pair.owner)
        return;
    path = g_build_filename(f->dir, "sets.xml", NULL);
    g_assert_cmpint(nc_ktest_cli(&err, "capture", "--netns", f->pair.src, "--address", VM,
                                 "--class", "nft-set", "--output", path, NULL),
                    ==, 0);
    b = nc_bundle_parse_file(path, &error);
    NC_KTEST_CHECK_OK(b != NULL, error);
    g_assert_false(b->has_conntrack);
    g_assert_null(b->nft_objects);
    g_assert_nonnull(b->nft_sets);
    g_clear_pointer(&err, g_free);
    g_assert_cmpint(nc_ktest_cli(&err, "capture", "--netns", f->pair.src, "--address", VM,
                                 "--class", "arp", NULL),
                    ==, 2);
    g_assert_nonnull(strstr(err, "conntrack, nft-set, nft-object"));
}

/* A bridge's anti-spoofing sets on both hosts: the VM's MAC, its address . MAC binding, another
 * VM's, and a binding of the VM's MAC to an address that is not the VM's. */
static const char SPOOF[] = "table bridge as {\n"
                            "  set macs { type ether_addr; }\n"
                            "  set binding { type ipv4_addr . ether_addr; flags timeout; }\n"
                            "}\n";
static const char SPOOF_SRC[] =
    "add element bridge as macs { 52:54:00:00:00:05, 52:54:00:00:00:07 }\n"
    "add element bridge as binding { " VM " . 52:54:00:00:00:05 timeout 1h, "
    "10.0.0.7 . 52:54:00:00:00:07 timeout 1h, 10.0.0.99 . 52:54:00:00:00:05 timeout 1h }\n";

static gboolean has_not_carried(const NcBundle *b, const char *what)
{
    for (guint i = 0; i < b->not_carried->len; i++)
        if (g_str_equal(((NcNotCarried *)b->not_carried->pdata[i])->what, what))
            return TRUE;
    return FALSE;
}

/* `capture --mac` takes the VM's MAC and its binding (without it, the binding is not the VM's
 * as far as the bundle knows, and is listed as not carried); `install` checks them against the
 * bundle's MACs (a bundle whose <mac> was taken out installs nothing) and puts them in the
 * destination's bridge sets, leaving the other VM's and the foreign binding behind. */
static void test_antispoof(Fixture *f, gconstpointer data)
{
    g_autofree char *plain = NULL, *with_mac = NULL, *edited = NULL, *err = NULL;
    g_autofree char *text = NULL, *listed = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(NcBundle) b = NULL, bm = NULL;
    gboolean ok;

    if (!f->pair.owner)
        return;
    ok = nc_ktest_nft_load(f->pair.src, SPOOF, &error) &&
         nc_ktest_nft_load(f->pair.src, SPOOF_SRC, &error) &&
         nc_ktest_nft_load(f->pair.dst, SPOOF, &error);
    NC_KTEST_CHECK_OK(ok, error);
    plain = g_build_filename(f->dir, "plain.xml", NULL);
    with_mac = g_build_filename(f->dir, "mac.xml", NULL);
    edited = g_build_filename(f->dir, "edited.xml", NULL);

    g_assert_cmpint(nc_ktest_cli(&err, "capture", "--netns", f->pair.src, "--address", VM,
                                 "--class", "nft-set", "--output", plain, NULL),
                    ==, 0);
    b = nc_bundle_parse_file(plain, &error);
    NC_KTEST_CHECK_OK(b != NULL, error);
    g_assert_cmpuint(b->macs->len, ==, 0);
    g_assert_cmpuint(nc_item_set_count(b->nft_sets), ==, 1); /* inet/fw/authed's */
    g_assert_true(has_not_carried(b, "bridge/as/binding element " VM " . 52:54:00:00:00:05"));

    g_clear_pointer(&err, g_free);
    g_assert_cmpint(nc_ktest_cli(&err, "capture", "--netns", f->pair.src, "--address", VM, "--mac",
                                 "52:54:00:00:00:05", "--class", "nft-set", "--output", with_mac,
                                 NULL),
                    ==, 0);
    bm = nc_bundle_parse_file(with_mac, &error);
    NC_KTEST_CHECK_OK(bm != NULL, error);
    g_assert_cmpuint(bm->macs->len, ==, 1);
    g_assert_cmpuint(nc_item_set_count(bm->nft_sets), ==, 3); /* + its MAC and its binding */
    g_assert_true(has_not_carried(bm, "bridge/as/binding element 10.0.0.99 . 52:54:00:00:00:05"));
    g_assert_false(has_not_carried(bm, "bridge/as/binding element " VM " . 52:54:00:00:00:05"));

    /* without its <mac>, the bundle's binding is not the VM's: nothing is installed */
    ok = g_file_get_contents(with_mac, &text, NULL, &error);
    NC_KTEST_CHECK_OK(ok, error);
    g_assert_nonnull(strstr(text, "<mac>52:54:00:00:00:05</mac>"));
    {
        g_autofree char *cut = NULL;
        g_auto(GStrv) parts = g_strsplit(text, "    <mac>52:54:00:00:00:05</mac>\n", -1);

        cut = g_strjoinv("", parts);
        ok = g_file_set_contents(edited, cut, -1, &error);
        NC_KTEST_CHECK_OK(ok, error);
    }
    g_clear_pointer(&err, g_free);
    g_assert_cmpint(nc_ktest_cli(&err, "install", "--netns", f->pair.dst, edited, NULL), ==, 2);
    g_assert_nonnull(strstr(err, "52:54:00:00:00:05 is not the domain's"));
    g_assert_nonnull(strstr(err, "nothing of any class was installed"));
    listed = nc_ktest_nft_list(f->pair.dst, "table bridge as");
    g_assert_null(strstr(listed, "52:54:00:00:00:05"));
    g_clear_pointer(&listed, g_free);

    g_clear_pointer(&err, g_free);
    g_assert_cmpint(nc_ktest_cli(&err, "install", "--netns", f->pair.dst, with_mac, NULL), ==, 0);
    listed = nc_ktest_nft_list(f->pair.dst, "table bridge as");
    g_test_message("destination:\n%s", listed);
    g_assert_nonnull(strstr(listed, "elements = { 52:54:00:00:00:05 }"));
    g_assert_nonnull(strstr(listed, VM " . 52:54:00:00:00:05 timeout 1h expires 59m"));
    g_assert_null(strstr(listed, "52:54:00:00:00:07"));
    g_assert_null(strstr(listed, "10.0.0.99"));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_set_nonfatal_assertions();

#define ADD(path, data, fn) g_test_add(path, Fixture, data, fixture_setup, fn, fixture_teardown)
    ADD("/cli-bundle/carry", "with the set", test_carry);
    ADD("/cli-bundle/set-missing", NULL, test_set_missing);
    ADD("/cli-bundle/class-option", NULL, test_class_option);
    ADD("/cli-bundle/antispoof", "with the set", test_antispoof);
    return g_test_run();
}
