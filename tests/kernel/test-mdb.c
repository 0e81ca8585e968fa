/* test-mdb.c - the bridge multicast database class on real bridges in two namespaces: capture
 * and install through the command line onto a port of another name, foreign ports left alone,
 * IGMPv3/MLDv2 source entries, the admission probe (snooping off, mcast_hash_max), roll-back
 *
 * Each namespace has a bridge br0 with IGMP/MLD snooping; each "VM port" is a veth whose peer
 * stays in the namespace (IPv6 is off there, so that no port learns an MLD group of its own and
 * the tests count only the entries they made).
 */
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <net/if.h>
#include <net/ethernet.h>
#include <netpacket/packet.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <glib/gstdio.h>

#include "conf/nc-bundle.h"
#include "drivers/nc-mdb.h"
#include "drivers/nc-state-driver.h"
#include "nc-ktest.h"
#include "util/nc-error.h"
#include "util/nc-netns.h"

/* the source's tap of the guest 52:54:00:12:34:56, as libvirt makes it (first byte fe) */
#define GUEST_MAC "52:54:00:12:34:56"
#define TAP_MAC "fe:54:00:12:34:56"

typedef struct {
    NcKtestPair pair;
    char *dir;
} Fixture;

static gboolean mdb_add(const char *ns, const char *port, const char *what, GError **error)
{
    return nc_ktest_run(NULL, error, "bridge -n %s mdb add dev br0 port %s %s", ns, port, what);
}

static gboolean mdb_del(const char *ns, const char *port, const char *what, GError **error)
{
    return nc_ktest_run(NULL, error, "bridge -n %s mdb del dev br0 port %s %s", ns, port, what);
}

/* the VM's entries on the source's vnet3: IGMPv2-style (*,G) temp and permanent, an IGMPv3
 * (S,G), an MLD (*,G) and an MLDv2 (S,G); another VM's on vnet9 (one group shared) */
static const char *const VM_ENTRIES[] = {
    "grp 239.1.1.1", "grp 239.1.1.2 permanent",       "grp 239.1.1.3 src 10.0.0.9",
    "grp ff0e::1:3", "grp ff0e::1:4 src 2001:db8::9",
};

static void fixture_setup(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *bridge = g_find_program_in_path("bridge");
    gboolean ok;

    if (!bridge) {
        g_test_skip("no bridge command (Debian package iproute2) to make the test's mdb entries");
        return;
    }
    if (!nc_ktest_ns_pair("nc-mdb", f->pair.src, f->pair.dst, sizeof(f->pair.src), &f->pair.ready))
        return;
    f->dir = g_dir_make_tmp("nc-mdb-XXXXXX", &error);
    g_assert_no_error(error);
    ok = nc_ktest_snooping_bridge(f->pair.src, TRUE, &error) &&
         nc_ktest_snooping_bridge(f->pair.dst, TRUE, &error) &&
         nc_ktest_bridge_port(f->pair.src, "vnet3", TAP_MAC, &error) &&
         nc_ktest_bridge_port(f->pair.src, "vnet9", "fe:54:00:99:99:99", &error) &&
         nc_ktest_bridge_port(f->pair.dst, "vnet0", "02:00:00:00:00:01", &error) &&
         nc_ktest_bridge_port(f->pair.dst, "vnet8", "fe:54:00:88:88:88", &error);
    for (guint i = 0; ok && i < G_N_ELEMENTS(VM_ENTRIES); i++)
        ok = mdb_add(f->pair.src, "vnet3", VM_ENTRIES[i], &error);
    ok = ok && mdb_add(f->pair.src, "vnet9", "grp 239.9.9.9", &error) &&
         mdb_add(f->pair.src, "vnet9", "grp 239.1.1.1", &error) &&
         mdb_add(f->pair.dst, "vnet8", "grp 239.8.8.8 permanent", &error);
    NC_KTEST_CHECK_OK(ok, error);
    f->pair.owner = nc_owner_new();
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

/* The fixture's domain is the interface TAP_MAC on port @port (the one it had goes). */
static void owner_port(Fixture *f, const char *port)
{
    guint8 mac[6];

    g_assert_true(nc_mac_parse(TAP_MAC, mac));
    g_ptr_array_set_size(f->pair.owner->ports, 0);
    nc_owner_add_port(f->pair.owner, mac, port, NULL);
}

static const NcMdbEntry *find(const NcItemSet *set, const char *group, const char *source)
{
    g_autoptr(GPtrArray) items = nc_item_set_items(set);
    NcAddr g, s = {0};

    g_assert_true(nc_addr_parse(group, &g, NULL));
    if (source)
        g_assert_true(nc_addr_parse(source, &s, NULL));
    for (guint i = 0; i < items->len; i++) {
        const NcMdbEntry *e = items->pdata[i];

        if (nc_addr_equal(&e->group, &g) &&
            (source ? nc_addr_equal(&e->source, &s) : !e->source.family))
            return e;
    }
    return NULL;
}

static char *capture_vnet3(Fixture *f)
{
    g_autofree char *err = NULL;
    char *path = g_build_filename(f->dir, "vm.xml", NULL);

    g_assert_cmpint(nc_ktest_cli(&err, "capture", "--netns", f->pair.src, "--address", "10.0.0.5",
                                 "--class", "mdb", "--port", "vnet3", "--output", path, NULL),
                    ==, 0);
    return path;
}

/* capture --port vnet3 takes the VM's five entries (not vnet9's), with their sources and
 * states; install --port vnet0 puts exactly those on a port of another name and MAC, and
 * leaves vnet8's entry alone; a second install finds them there and adds nothing. */
static void test_cli_carry(Fixture *f, gconstpointer data)
{
    g_autofree char *path = NULL, *err = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(NcBundle) b = NULL;
    g_autoptr(NcItemSet) dst = NULL;
    g_autoptr(NcItemSet) foreign = NULL;
    g_autoptr(NcItemDiff) diff = NULL;
    const NcMdbEntry *e;

    if (!f->pair.owner)
        return;
    if (!g_getenv("NETCARRY_CLI")) {
        g_test_skip("NETCARRY_CLI is not set: run through meson test");
        return;
    }
    path = capture_vnet3(f);
    b = nc_bundle_parse_file(path, &error);
    NC_KTEST_CHECK_OK(b != NULL, error);
    g_assert_nonnull(b->mdb);
    if (!b->mdb)
        return;
    g_assert_cmpuint(nc_item_set_count(b->mdb), ==, G_N_ELEMENTS(VM_ENTRIES));
    g_assert_null(find(b->mdb, "239.9.9.9", NULL)); /* vnet9's */
    e = find(b->mdb, "239.1.1.2", NULL);
    g_assert_true(e && e->permanent);
    e = find(b->mdb, "239.1.1.1", NULL);
    g_assert_true(e && !e->permanent);
    g_assert_nonnull(find(b->mdb, "239.1.1.3", "10.0.0.9"));
    g_assert_nonnull(find(b->mdb, "ff0e::1:4", "2001:db8::9"));
    g_assert_cmpuint(b->ports->len, ==, 1);

    g_assert_cmpint(
        nc_ktest_cli(&err, "install", "--netns", f->pair.dst, "--port", "vnet0", path, NULL), ==,
        0);
    g_assert_nonnull(strstr(err, "installed 5 mdb"));
    dst = nc_ktest_mdb(f->pair.dst, TAP_MAC, "vnet0");
    diff = nc_item_set_diff(b->mdb, dst);
    g_assert_true(nc_item_diff_is_empty(diff));
    foreign = nc_ktest_mdb(f->pair.dst, "fe:54:00:88:88:88", "vnet8");
    g_assert_cmpuint(nc_item_set_count(foreign), ==, 1);
    g_assert_nonnull(find(foreign, "239.8.8.8", NULL));

    g_clear_pointer(&err, g_free);
    g_assert_cmpint(
        nc_ktest_cli(&err, "install", "--netns", f->pair.dst, "--port", "vnet0", path, NULL), ==,
        0);
    g_assert_nonnull(strstr(err, "installed 0 mdb (5 there already)"));
}

/* Without --port, install finds the port by the MAC the bundle keys the entries by (here the
 * destination's tap has the source's MAC, as libvirt's taps for one guest do); a capture of that
 * port on the destination then has no difference from the source's bundle (`netcarry diff`
 * exits 0), and one entry taken away there is a difference (exit 1, the entry named). */
static void test_cli_by_mac_diff(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *path = NULL, *err = NULL, *dst_path = NULL;
    gboolean ok;

    if (!f->pair.owner)
        return;
    if (!g_getenv("NETCARRY_CLI")) {
        g_test_skip("NETCARRY_CLI is not set: run through meson test");
        return;
    }
    ok = nc_ktest_bridge_port(f->pair.dst, "vnet1", TAP_MAC, &error);
    NC_KTEST_CHECK_OK(ok, error);
    path = capture_vnet3(f);
    g_assert_cmpint(nc_ktest_cli(&err, "install", "--netns", f->pair.dst, path, NULL), ==, 0);
    dst_path = g_build_filename(f->dir, "dst.xml", NULL);
    g_clear_pointer(&err, g_free);
    g_assert_cmpint(nc_ktest_cli(&err, "capture", "--netns", f->pair.dst, "--address", "10.0.0.5",
                                 "--class", "mdb", "--port", "vnet1", "--output", dst_path, NULL),
                    ==, 0);
    g_clear_pointer(&err, g_free);
    g_assert_cmpint(nc_ktest_cli(&err, "diff", path, dst_path, NULL), ==, 0);

    ok = mdb_del(f->pair.dst, "vnet1", "grp 239.1.1.3 src 10.0.0.9", &error);
    NC_KTEST_CHECK_OK(ok, error);
    g_clear_pointer(&err, g_free);
    g_assert_cmpint(nc_ktest_cli(&err, "capture", "--netns", f->pair.dst, "--address", "10.0.0.5",
                                 "--class", "mdb", "--port", "vnet1", "--output", dst_path, NULL),
                    ==, 0);
    g_clear_pointer(&err, g_free);
    g_assert_cmpint(nc_ktest_cli(&err, "diff", path, dst_path, NULL), ==, 1);
    g_assert_nonnull(strstr(err, "mdb: 1 missing"));
}

/* The engine's way: the entries keyed by the guest's MAC, the ports found by libvirt's tap MAC
 * (first byte fe) on both hosts, nothing named. */
static void test_by_guest_mac(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(NcItemSet) items = nc_item_set_new(&nc_mdb_class);
    g_autoptr(NcItemSet) dst = NULL;
    NcClassCarry c = {&nc_mdb_driver, NULL, items, NULL};
    gpointer src = NULL;
    guint8 mac[6];
    gboolean ok;

    if (!f->pair.owner)
        return;
    ok = nc_ktest_bridge_port(f->pair.dst, "vnet1", TAP_MAC, &error);
    NC_KTEST_CHECK_OK(ok, error);
    g_assert_true(nc_mac_parse(GUEST_MAC, mac));
    g_array_append_vals(f->pair.owner->macs, mac, 1);
    src = nc_mdb_driver.open(f->pair.src, &error);
    c.handle = nc_mdb_driver.open(f->pair.dst, &error);
    g_assert_no_error(error);
    ok = nc_mdb_driver.capture(src, f->pair.owner, items, NULL, &error);
    NC_KTEST_CHECK_OK(ok, error);
    g_assert_cmpuint(nc_item_set_count(items), ==, G_N_ELEMENTS(VM_ENTRIES));
    ok = nc_state_drivers_install_all(&c, 1, f->pair.owner, &error);
    g_assert_no_error(error);
    g_assert_true(ok);
    g_assert_cmpuint(nc_item_set_count(c.installed), ==, G_N_ELEMENTS(VM_ENTRIES));
    dst = nc_ktest_mdb(f->pair.dst, GUEST_MAC, NULL);
    g_assert_cmpuint(nc_item_set_count(dst), ==, G_N_ELEMENTS(VM_ENTRIES));
    g_clear_pointer(&c.installed, nc_item_set_free);
    nc_mdb_driver.close(src);
    nc_mdb_driver.close(c.handle);
}

/* Roll-back takes away exactly what the install added: an entry the port held before (the guest
 * reported again) stays, and so does the other port's. */
static void test_rollback(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(NcItemSet) items = nc_item_set_new(&nc_mdb_class);
    g_autoptr(NcItemSet) dst = NULL;
    g_autoptr(NcItemSet) foreign = NULL;
    NcClassCarry c = {&nc_mdb_driver, NULL, items, NULL};
    gpointer src;
    guint removed = 0;
    gboolean ok;

    if (!f->pair.owner)
        return;
    ok = mdb_add(f->pair.dst, "vnet0", "grp 239.1.1.1", &error);
    NC_KTEST_CHECK_OK(ok, error);
    owner_port(f, "vnet3");
    src = nc_mdb_driver.open(f->pair.src, &error);
    g_assert_no_error(error);
    ok = nc_mdb_driver.capture(src, f->pair.owner, items, NULL, &error);
    nc_mdb_driver.close(src);
    NC_KTEST_CHECK_OK(ok, error);
    owner_port(f, "vnet0");
    c.handle = nc_mdb_driver.open(f->pair.dst, &error);
    ok = nc_state_drivers_install_all(&c, 1, f->pair.owner, &error);
    NC_KTEST_CHECK_OK(ok, error);
    g_assert_cmpuint(nc_item_set_count(c.installed), ==, G_N_ELEMENTS(VM_ENTRIES) - 1);
    dst = nc_ktest_mdb(f->pair.dst, TAP_MAC, "vnet0");
    g_assert_cmpuint(nc_item_set_count(dst), ==, G_N_ELEMENTS(VM_ENTRIES));
    g_clear_pointer(&dst, nc_item_set_free);

    ok = nc_state_drivers_remove_all(&c, 1, &removed, &error);
    g_assert_no_error(error);
    g_assert_true(ok);
    g_assert_cmpuint(removed, ==, G_N_ELEMENTS(VM_ENTRIES) - 1);
    dst = nc_ktest_mdb(f->pair.dst, TAP_MAC, "vnet0");
    g_assert_cmpuint(nc_item_set_count(dst), ==, 1);
    g_assert_nonnull(find(dst, "239.1.1.1", NULL));
    foreign = nc_ktest_mdb(f->pair.dst, "fe:54:00:88:88:88", "vnet8");
    g_assert_cmpuint(nc_item_set_count(foreign), ==, 1);
    nc_mdb_driver.close(c.handle);
}

/* An entry the kernel refuses (224.0.0.5, link-local multicast) after others went in: the
 * install fails naming it and leaves nothing of its own behind. */
static void test_refused_undone(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(NcItemSet) items = nc_item_set_new(&nc_mdb_class);
    g_autoptr(NcItemSet) dst = NULL;
    g_autoptr(NcItemSet) installed = NULL;
    const char *const groups[] = {"239.2.2.1", "239.2.2.2", "224.0.0.5", "239.2.2.3"};
    gpointer h;
    gboolean ok;

    if (!f->pair.owner)
        return;
    for (guint i = 0; i < G_N_ELEMENTS(groups); i++) {
        NcMdbEntry *e = g_new0(NcMdbEntry, 1);

        g_assert_true(nc_mac_parse("02:00:00:00:00:01", e->mac));
        g_assert_true(nc_addr_parse(groups[i], &e->group, NULL));
        nc_item_set_upsert(items, e, NULL, NULL);
    }
    g_array_append_vals(f->pair.owner->macs,
                        ((const NcMdbEntry *)nc_item_set_items(items)->pdata[0])->mac, 1);
    h = nc_mdb_driver.open(f->pair.dst, &error);
    ok = nc_mdb_driver.install(h, f->pair.owner, items, &installed, &error);
    g_assert_false(ok);
    g_assert_nonnull(error);
    if (error)
        g_assert_nonnull(strstr(error->message, "group 224.0.0.5"));
    g_assert_null(installed);
    dst = nc_ktest_mdb(f->pair.dst, "02:00:00:00:00:01", "vnet0");
    g_assert_cmpuint(nc_item_set_count(dst), ==, 0);
    nc_mdb_driver.close(h);
}

/* Admission: a destination bridge that does not snoop refuses, naming it, whether the port
 * exists (install) or only the domain XML's bridge is known (the probe before the tap exists). */
static void test_probe_no_snooping(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *path = NULL, *err = NULL;
    g_autoptr(NcBundle) b = NULL;
    g_autoptr(NcItemSet) items = NULL;
    g_autoptr(NcOwner) owner = nc_owner_new();
    guint8 mac[6];
    gpointer h;
    gboolean ok;

    if (!f->pair.owner)
        return;
    if (!g_getenv("NETCARRY_CLI")) {
        g_test_skip("NETCARRY_CLI is not set: run through meson test");
        return;
    }
    ok = nc_ktest_run(NULL, &error, "ip -n %s link add brq type bridge mcast_snooping 0",
                      f->pair.dst) &&
         nc_ktest_run(NULL, &error, "ip -n %s link set br0 type bridge mcast_snooping 0",
                      f->pair.dst);
    NC_KTEST_CHECK_OK(ok, error);
    path = capture_vnet3(f);
    g_assert_cmpint(
        nc_ktest_cli(&err, "install", "--netns", f->pair.dst, "--port", "vnet0", path, NULL), ==,
        2);
    g_assert_nonnull(strstr(err, "bridge br0"));
    g_assert_nonnull(strstr(err, "does not snoop"));
    g_assert_nonnull(strstr(err, "nothing of any class was installed"));

    /* before the tap exists: the bridge from the domain XML */
    b = nc_bundle_parse_file(path, &error);
    NC_KTEST_CHECK_OK(b != NULL, error);
    items = nc_bundle_class_items(b, &nc_mdb_class, &error);
    g_assert_true(nc_mac_parse(TAP_MAC, mac));
    nc_owner_add_port(owner, mac, NULL, "brq");
    h = nc_mdb_driver.open(f->pair.dst, &error);
    ok = nc_mdb_driver.probe(h, owner, items, &error);
    g_assert_false(ok);
    g_assert_error(error, NC_ERROR, NC_ERROR_UNSUPPORTED);
    if (error)
        g_assert_nonnull(strstr(error->message, "bridge brq"));
    g_clear_error(&error);
    /* a bridge the XML names and the host lacks */
    g_free(((NcOwnerPort *)owner->ports->pdata[0])->bridge);
    ((NcOwnerPort *)owner->ports->pdata[0])->bridge = g_strdup("br-none");
    g_assert_false(nc_mdb_driver.probe(h, owner, items, &error));
    g_assert_error(error, NC_ERROR, NC_ERROR_NOT_FOUND);
    if (error)
        g_assert_nonnull(strstr(error->message, "br-none"));
    nc_mdb_driver.close(h);
}

/* Admission: the bridge's mdb would grow beyond mcast_hash_max (where the kernel turns snooping
 * off for the whole bridge): refused naming the bridge; with room, accepted. */
static void test_probe_hash_max(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *path = NULL, *err = NULL;
    g_autoptr(NcItemSet) dst = NULL;
    gboolean ok;

    if (!f->pair.owner)
        return;
    if (!g_getenv("NETCARRY_CLI")) {
        g_test_skip("NETCARRY_CLI is not set: run through meson test");
        return;
    }
    /* br0 holds 239.8.8.8 and 239.8.8.9; the VM brings 5 more: 7 > 6 */
    ok = mdb_add(f->pair.dst, "vnet8", "grp 239.8.8.9", &error) &&
         nc_ktest_run(NULL, &error, "ip -n %s link set br0 type bridge mcast_hash_max 6",
                      f->pair.dst);
    NC_KTEST_CHECK_OK(ok, error);
    path = capture_vnet3(f);
    g_assert_cmpint(
        nc_ktest_cli(&err, "install", "--netns", f->pair.dst, "--port", "vnet0", path, NULL), ==,
        2);
    g_assert_nonnull(strstr(err, "bridge br0"));
    g_assert_nonnull(strstr(err, "mcast_hash_max 6"));
    dst = nc_ktest_mdb(f->pair.dst, TAP_MAC, "vnet0");
    g_assert_cmpuint(nc_item_set_count(dst), ==, 0);
    g_clear_pointer(&dst, nc_item_set_free);

    ok = nc_ktest_run(NULL, &error, "ip -n %s link set br0 type bridge mcast_hash_max 7",
                      f->pair.dst);
    NC_KTEST_CHECK_OK(ok, error);
    g_clear_pointer(&err, g_free);
    g_assert_cmpint(
        nc_ktest_cli(&err, "install", "--netns", f->pair.dst, "--port", "vnet0", path, NULL), ==,
        0);
    dst = nc_ktest_mdb(f->pair.dst, TAP_MAC, "vnet0");
    g_assert_cmpuint(nc_item_set_count(dst), ==, G_N_ELEMENTS(VM_ENTRIES));
}

/* bridge -batch: @n entries "grp 239.B.C.D" from @first on @port, in one process */
static gboolean mdb_add_many(const char *ns, const char *port, guint first, guint n, GError **error)
{
    g_autoptr(GString) cmds = g_string_new(NULL);
    g_autofree char *path = NULL;
    int fd = g_file_open_tmp("nc-mdb-XXXXXX.batch", &path, error);
    gboolean ok;

    if (fd < 0)
        return FALSE;
    close(fd);
    for (guint i = first; i < first + n; i++)
        g_string_append_printf(cmds, "mdb add dev br0 port %s grp 239.%u.%u.%u\n", port,
                               (i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff);
    ok = g_file_set_contents(path, cmds->str, -1, error) &&
         nc_ktest_run(NULL, error, "bridge -n %s -batch %s", ns, path);
    g_unlink(path);
    return ok;
}

/* The figures at a scale: the VM's 200 groups among another port's 3,000 on the same bridge
 * (mcast_hash_max 4096). The capture (one dump of the links and one of the mdb) and the install
 * (one RTM_NEWMDB with its ACK per entry) are timed; every entry arrives, the other port's stay
 * and none of them is carried. */
static void test_scale(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(NcItemSet) items = nc_item_set_new(&nc_mdb_class);
    g_autoptr(NcItemSet) installed = NULL;
    g_autoptr(NcItemSet) dst = NULL;
    g_autoptr(NcItemSet) foreign = NULL;
    gpointer src, h;
    gint64 t0, t1, t2, tp, t3;
    gboolean ok;

    if (!f->pair.owner)
        return;
    ok = mdb_add_many(f->pair.src, "vnet9", 1000, 3000, &error) &&
         mdb_add_many(f->pair.src, "vnet3", 10000, 200, &error) &&
         mdb_add_many(f->pair.dst, "vnet8", 1000, 3000, &error);
    NC_KTEST_CHECK_OK(ok, error);
    owner_port(f, "vnet3");
    src = nc_mdb_driver.open(f->pair.src, &error);
    g_assert_no_error(error);
    t0 = g_get_monotonic_time();
    ok = nc_mdb_driver.capture(src, f->pair.owner, items, NULL, &error);
    t1 = g_get_monotonic_time();
    nc_mdb_driver.close(src);
    NC_KTEST_CHECK_OK(ok, error);
    g_assert_cmpuint(nc_item_set_count(items), ==, 200 + G_N_ELEMENTS(VM_ENTRIES));
    owner_port(f, "vnet0");
    h = nc_mdb_driver.open(f->pair.dst, &error);
    t2 = g_get_monotonic_time();
    ok = nc_mdb_driver.probe(h, f->pair.owner, items, &error);
    tp = g_get_monotonic_time();
    ok = ok && nc_mdb_driver.install(h, f->pair.owner, items, &installed, &error);
    t3 = g_get_monotonic_time();
    nc_mdb_driver.close(h);
    NC_KTEST_CHECK_OK(ok, error);
    g_test_message("%u entries of 6,205 on the source's bridge: captured in %.2f ms; beside "
                   "3,000: probed in %.2f ms, installed in %.2f ms (%.0f entries/s)",
                   nc_item_set_count(items), (t1 - t0) / 1000.0, (tp - t2) / 1000.0,
                   (t3 - tp) / 1000.0, nc_item_set_count(items) * 1e6 / (double)(t3 - tp));
    dst = nc_ktest_mdb(f->pair.dst, TAP_MAC, "vnet0");
    g_assert_cmpuint(nc_item_set_count(dst), ==, nc_item_set_count(items));
    foreign = nc_ktest_mdb(f->pair.dst, "fe:54:00:88:88:88", "vnet8");
    g_assert_cmpuint(nc_item_set_count(foreign), ==, 3001);
}

/* The Internet checksum of @len bytes. */
static guint16 inet_csum(const guint8 *p, gsize len)
{
    guint32 sum = 0;

    for (gsize i = 0; i + 1 < len; i += 2)
        sum += (guint32)p[i] << 8 | p[i + 1];
    if (len & 1)
        sum += (guint32)p[len - 1] << 8;
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (guint16)~sum;
}

/* Sends, from the guest's side of @port (its veth peer p-@port), an IGMPv3 report with two
 * records: MODE_IS_EXCLUDE 239.5.5.5 {10.0.0.7} and MODE_IS_INCLUDE 239.6.6.6 {10.0.0.8}, as a
 * guest's kernel sends them (to 224.0.0.22, TTL 1, router alert). */
static gboolean igmpv3_report(const char *ns, const char *port, GError **error)
{
    static const guint8 igmp_body[] = {
        0x22, 0, 0, 0, 0,   0, 0, 2,              /* type, -, checksum, -, 2 records */
        2,    0, 0, 1, 239, 5, 5, 5, 10, 0, 0, 7, /* MODE_IS_EXCLUDE {10.0.0.7} */
        1,    0, 0, 1, 239, 6, 6, 6, 10, 0, 0, 8, /* MODE_IS_INCLUDE {10.0.0.8} */
    };
    guint8 frame[14 + 24 + sizeof(igmp_body)] = {0x01, 0x00, 0x5e, 0x00, 0x00, 0x16, 0x02,
                                                 0x00, 0x00, 0x00, 0x00, 0x50, 0x08, 0x00};
    guint8 *ip = frame + 14, *igmp = ip + 24;
    g_autofree char *peer = g_strdup_printf("p-%s", port);
    struct ifreq ifr = {0};
    struct sockaddr_ll to = {
        .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_IP), .sll_halen = 6};
    guint16 c;
    int fd = nc_netns_socket(ns, AF_PACKET, SOCK_RAW, htons(ETH_P_IP), error);
    gboolean ok;

    if (fd < 0)
        return FALSE;
    memcpy(igmp, igmp_body, sizeof(igmp_body));
    c = inet_csum(igmp, sizeof(igmp_body));
    igmp[2] = c >> 8;
    igmp[3] = c & 0xff;
    ip[0] = 0x46; /* IPv4, 24-byte header: the router alert option */
    ip[1] = 0xc0;
    ip[2] = (24 + sizeof(igmp_body)) >> 8;
    ip[3] = (24 + sizeof(igmp_body)) & 0xff;
    ip[8] = 1; /* TTL */
    ip[9] = 2; /* IGMP */
    memcpy(ip + 12, (guint8[]){10, 0, 0, 50, 224, 0, 0, 22}, 8);
    memcpy(ip + 20, (guint8[]){0x94, 0x04, 0, 0}, 4);
    c = inet_csum(ip, 24);
    ip[10] = c >> 8;
    ip[11] = c & 0xff;
    g_strlcpy(ifr.ifr_name, peer, sizeof(ifr.ifr_name));
    ok = ioctl(fd, SIOCGIFINDEX, &ifr) == 0;
    to.sll_ifindex = ifr.ifr_ifindex;
    memcpy(to.sll_addr, frame, 6);
    ok = ok && sendto(fd, frame, sizeof(frame), 0, (struct sockaddr *)&to, sizeof(to)) ==
                   (ssize_t)sizeof(frame);
    if (!ok)
        g_set_error(error, NC_ERROR, NC_ERROR_IO, "sending an IGMPv3 report on %s: %s", peer,
                    g_strerror(errno));
    close(fd);
    return ok;
}

/* Memberships the bridge learned from a guest's IGMPv3 report: an INCLUDE {S} join is carried as
 * its (S,G) entry (the kernel's (*,G) INCLUDE is not an item), an EXCLUDE {S} join as its (*,G)
 * entry, and the excluded source is listed as not carried; on the destination the (S,G) and the
 * (*,G) arrive. */
static void test_igmpv3_learned(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(NcItemSet) items = nc_item_set_new(&nc_mdb_class);
    g_autoptr(NcItemSet) installed = NULL;
    g_autoptr(NcItemSet) dst = NULL;
    g_autoptr(GPtrArray) not_carried = nc_not_carried_list_new();
    g_autofree char *shown = NULL;
    gpointer h;
    gboolean ok;

    if (!f->pair.owner)
        return;
    ok = igmpv3_report(f->pair.src, "vnet3", &error);
    NC_KTEST_CHECK_OK(ok, error);
    g_usleep(100 * 1000);
    ok = nc_ktest_run(&shown, &error, "bridge -n %s -d mdb show dev br0", f->pair.src);
    NC_KTEST_CHECK_OK(ok, error);
    g_test_message("the source's bridge learned:\n%s", shown);
    owner_port(f, "vnet3");
    h = nc_mdb_driver.open(f->pair.src, &error);
    ok = nc_mdb_driver.capture(h, f->pair.owner, items, not_carried, &error);
    nc_mdb_driver.close(h);
    NC_KTEST_CHECK_OK(ok, error);
    g_assert_cmpuint(nc_item_set_count(items), ==, G_N_ELEMENTS(VM_ENTRIES) + 2);
    g_assert_nonnull(find(items, "239.5.5.5", NULL));
    g_assert_null(find(items, "239.5.5.5", "10.0.0.7"));
    g_assert_nonnull(find(items, "239.6.6.6", "10.0.0.8"));
    g_assert_null(find(items, "239.6.6.6", NULL));
    g_assert_cmpuint(not_carried->len, ==, 1);
    if (not_carried->len) {
        const NcNotCarried *nc = not_carried->pdata[0];

        g_test_message("not carried: %s: %s", nc->what, nc->reason);
        g_assert_nonnull(strstr(nc->what, "group 239.5.5.5 source 10.0.0.7"));
        g_assert_nonnull(strstr(nc->reason, "excluded"));
    }

    owner_port(f, "vnet0");
    h = nc_mdb_driver.open(f->pair.dst, &error);
    ok = nc_mdb_driver.install(h, f->pair.owner, items, &installed, &error);
    nc_mdb_driver.close(h);
    NC_KTEST_CHECK_OK(ok, error);
    dst = nc_ktest_mdb(f->pair.dst, TAP_MAC, "vnet0");
    g_assert_nonnull(find(dst, "239.5.5.5", NULL));
    g_assert_nonnull(find(dst, "239.6.6.6", "10.0.0.8"));
    g_assert_cmpuint(nc_item_set_count(dst), ==, nc_item_set_count(items));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
#define ADD(path, fn) g_test_add(path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
    ADD("/mdb/cli/carry", test_cli_carry);
    ADD("/mdb/cli/by-mac-diff", test_cli_by_mac_diff);
    ADD("/mdb/by-guest-mac", test_by_guest_mac);
    ADD("/mdb/rollback", test_rollback);
    ADD("/mdb/refused-undone", test_refused_undone);
    ADD("/mdb/probe/no-snooping", test_probe_no_snooping);
    ADD("/mdb/probe/hash-max", test_probe_hash_max);
    ADD("/mdb/scale", test_scale);
    ADD("/mdb/igmpv3-learned", test_igmpv3_learned);
#undef ADD
    return g_test_run();
}
