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

/* ---- anti-spoofing: the guest's MAC and address . MAC bindings, with real frames ---- */

/*
 * Each host namespace has a guest namespace whose eth0 (the guest's NIC: the domain's MAC,
 * 10.0.0.5 and 10.0.0.99) is a veth into the host's "nc-tap". For the bridge family the tap is a
 * port of the host's bridge br0 (10.0.0.1); for inet the host routes to the tap itself. The
 * host's table drops frames from the tap whose source MAC is not in @macs, or whose
 * `ip saddr . ether saddr` is not in @binding; a learning chain adds a binding from the guest's
 * DHCP renewal (unicast to port 67), as DHCP snooping does. Named counters count what got
 * through, per source address; "seen" counts what reached the filter at all.
 */
#define SPOOF_TABLE                                                                                \
    "table %s as {\n"                                                                              \
    "  counter seen { }\n"                                                                         \
    "  counter ok5 { }\n"                                                                          \
    "  counter ok99 { }\n"                                                                         \
    "  set macs { type ether_addr; }\n"                                                            \
    "  set binding { type ipv4_addr . ether_addr; flags dynamic,timeout; timeout 1h; }\n"          \
    "  set binding6 { type ipv6_addr . ether_addr; flags timeout; }\n"                             \
    "  chain learn { type filter hook prerouting priority -10; policy accept;\n"                   \
    "    iifname \"nc-tap\" udp dport 67 add @binding { ip saddr . ether saddr }\n"                \
    "  }\n"                                                                                        \
    "  chain check { type filter hook prerouting priority 0; policy accept;\n"                     \
    "    iifname \"nc-tap\" counter name \"seen\"\n"                                               \
    "    iifname \"nc-tap\" ether saddr != @macs drop\n"                                           \
    "    iifname \"nc-tap\" ip saddr . ether saddr != @binding drop\n"                             \
    "    iifname \"nc-tap\" ip saddr 10.0.0.5 counter name \"ok5\"\n"                              \
    "    iifname \"nc-tap\" ip saddr 10.0.0.99 counter name \"ok99\"\n"                            \
    "  }\n"                                                                                        \
    "}\n"

typedef struct {
    NcKtestPair p;
    char gsrc[40], gdst[40]; /* the guest on each host */
    gboolean guests;
} SpoofFixture;

static gboolean spoof_ip(GError **error, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static gboolean spoof_ip(GError **error, const char *fmt, ...)
{
    va_list ap;
    g_autofree char *args = NULL;

    va_start(ap, fmt);
    args = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    return nc_ktest_run(NULL, error, "ip %s", args);
}

/* The guest's NIC on @host: a veth from @guest's eth0 to the host's nc-tap, bridged or routed. */
static gboolean spoof_wire(const char *host, const char *guest, gboolean bridge, GError **error)
{
    if (!nc_ktest_ns_add(guest, error))
        return FALSE;
    if (!spoof_ip(error, "-n %s link set lo up", guest) ||
        !spoof_ip(error, "-n %s link add nc-tap type veth peer name eth0 netns %s", host, guest) ||
        !spoof_ip(error, "-n %s link set eth0 address 52:54:00:00:00:05 up", guest) ||
        !spoof_ip(error, "-n %s addr add 10.0.0.5/24 dev eth0", guest) ||
        !spoof_ip(error, "-n %s addr add 10.0.0.99/32 dev eth0", guest))
        return FALSE;
    if (bridge) {
        if (!spoof_ip(error, "-n %s link add br0 type bridge", host) ||
            !spoof_ip(error, "-n %s link set br0 address 02:00:00:00:00:01 up", host) ||
            !spoof_ip(error, "-n %s addr add 10.0.0.1/24 dev br0", host) ||
            !spoof_ip(error, "-n %s link set nc-tap master br0 up", host))
            return FALSE;
    } else if (!spoof_ip(error, "-n %s link set nc-tap address 02:00:00:00:00:01 up", host) ||
               !spoof_ip(error, "-n %s addr add 10.0.0.1/24 dev nc-tap", host)) {
        return FALSE;
    }
    /* static neighbours: the guest's frames leave whether or not the host's ARP gets through;
     * 10.0.0.2 is reached from 10.0.0.99 (an address the guest may or may not be bound to) */
    return spoof_ip(error, "-n %s neigh add 10.0.0.1 lladdr 02:00:00:00:00:01 dev eth0", guest) &&
           spoof_ip(error, "-n %s neigh add 10.0.0.2 lladdr 02:00:00:00:00:01 dev eth0", guest) &&
           spoof_ip(error, "-n %s route add 10.0.0.2/32 dev eth0 src 10.0.0.99", guest);
}

static void spoof_setup(SpoofFixture *f, gconstpointer data)
{
    const char *family = data;
    g_autoptr(GError) error = NULL;
    g_autofree char *table = g_strdup_printf(SPOOF_TABLE, family);
    gboolean bridge = g_str_equal(family, "bridge");

    fixture_setup(&f->p, NULL);
    if (!f->p.owner)
        return;
    g_snprintf(f->gsrc, sizeof(f->gsrc), "%s-g", f->p.src);
    g_snprintf(f->gdst, sizeof(f->gdst), "%s-g", f->p.dst);
    f->guests = TRUE;
    if (!spoof_wire(f->p.src, f->gsrc, bridge, &error) ||
        !spoof_wire(f->p.dst, f->gdst, bridge, &error) ||
        !nc_ktest_nft_load(f->p.src, table, &error) ||
        !nc_ktest_nft_load(f->p.dst, table, &error)) {
        /* the machine has veth, bridges and nf_tables' bridge family (docs/test-bed.md): a
         * failure here is the test's */
        g_assert_no_error(error);
        g_clear_pointer(&f->p.owner, nc_owner_free);
    }
}

static void spoof_teardown(SpoofFixture *f, gconstpointer data)
{
    if (f->guests) {
        nc_ktest_ns_del(f->gsrc);
        nc_ktest_ns_del(f->gdst);
    }
    nc_ktest_pair_teardown(&f->p, data);
}

/* One UDP datagram from @guest to @to:@port (its source address is the route's). */
static void spoof_send(const char *guest, const char *to, guint port)
{
    g_autofree char *cmd = g_strdup_printf("echo x > /dev/udp/%s/%u", to, port);
    const char *argv[] = {"ip", "netns", "exec", guest, "bash", "-c", cmd, NULL};

    nc_ktest_run_argv(argv, NULL, NULL); /* an ICMP error from the host may fail it: no matter */
}

/* The packets counted by named counter @name of table @family as in @host. */
static guint64 spoof_count(const char *host, const char *family, const char *name)
{
    g_autofree char *what = g_strdup_printf("counter %s as %s", family, name);
    g_autofree char *out = nc_ktest_nft_list(host, what);
    const char *p = strstr(out, "packets ");

    g_assert_nonnull(p);
    return p ? g_ascii_strtoull(p + strlen("packets "), NULL, 10) : 0;
}

/* Waits (up to 5 s) until the guest's frames reach @host's filter: a veth's carrier and a
 * bridge port's forwarding state come up a little after the link is set up. */
static gboolean spoof_wait_path(const char *host, const char *guest, const char *family)
{
    for (guint i = 0; i < 50; i++) {
        spoof_send(guest, "10.0.0.1", 9);
        if (spoof_count(host, family, "seen") > 0)
            return TRUE;
        g_usleep(100 * 1000);
    }
    return FALSE;
}

/* Sends 3 datagrams from each of the guest's addresses; how many of each got through. */
static void spoof_traffic(const char *host, const char *guest, const char *family, guint64 *ok5,
                          guint64 *ok99)
{
    guint64 seen = spoof_count(host, family, "seen");
    guint64 a = spoof_count(host, family, "ok5"), b = spoof_count(host, family, "ok99");

    for (guint i = 0; i < 3; i++) {
        spoof_send(guest, "10.0.0.1", 9); /* from 10.0.0.5 */
        spoof_send(guest, "10.0.0.2", 9); /* from 10.0.0.99 */
    }
    /* the filter saw them all (they were sent), whatever it did with them */
    g_assert_cmpuint(spoof_count(host, family, "seen"), >=, seen + 6);
    *ok5 = spoof_count(host, family, "ok5") - a;
    *ok99 = spoof_count(host, family, "ok99") - b;
}

/* The guest's anti-spoofing state on the source: its MAC (a static element, no timeout), its
 * binding learned from its DHCP renewal by the packet path (the set's 1 h timeout), its IPv6
 * binding from userspace (30 min), a binding of its MAC to 10.0.0.99 (which the source lets it
 * use, but which is not the domain's address), and another VM's MAC and bindings. */
static gboolean spoof_source_state(SpoofFixture *f, const char *family, GError **error)
{
    g_autofree char *elems =
        g_strdup_printf("add element %s as macs { 52:54:00:00:00:05, 52:54:00:00:00:07 }\n"
                        "add element %s as binding { 10.0.0.99 . 52:54:00:00:00:05 timeout 1h, "
                        "10.0.0.7 . 52:54:00:00:00:07 timeout 1h }\n"
                        "add element %s as binding6 { 2001:db8::5 . 52:54:00:00:00:05 timeout 30m, "
                        "2001:db8::7 . 52:54:00:00:00:07 timeout 30m }\n",
                        family, family, family);
    g_autofree char *set = g_strdup_printf("set %s as binding", family);
    g_autofree char *listed = NULL;

    if (!nc_ktest_nft_load(f->p.src, elems, error))
        return FALSE;
    spoof_send(f->gsrc, "10.0.0.1", 67); /* the renewal: the packet path learns 10.0.0.5 */
    listed = nc_ktest_nft_list(f->p.src, set);
    g_assert_nonnull(strstr(listed, "10.0.0.5 . 52:54:00:00:00:05"));
    return TRUE;
}

/* The guest's MAC and bindings move to the destination: there its frames pass from its own
 * address (dropped before the carry), and still not from 10.0.0.99; the other VM's stay behind;
 * a source claiming 10.0.0.99 for the guest's MAC installs nothing. */
static void test_antispoof(SpoofFixture *f, gconstpointer data)
{
    const char *family = data;
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) lost = nc_not_carried_list_new();
    g_autoptr(NcItemSet) got = NULL, claimed = NULL, installed = NULL, again = NULL, there = NULL;
    g_autoptr(NcOwner) wide = NULL;
    g_autofree char *what = g_strdup_printf("table %s as", family);
    g_autofree char *listed = NULL;
    guint64 ok5 = 0, ok99 = 0;
    const NcNftSetElem *e, *e2;
    gboolean ok, found = FALSE;
    NcAddr a;

    if (!f->p.owner)
        return;
    g_assert_true(spoof_wait_path(f->p.src, f->gsrc, family));
    g_assert_true(spoof_wait_path(f->p.dst, f->gdst, family));
    ok = spoof_source_state(f, family, &error);
    NC_KTEST_CHECK_OK(ok, error);

    /* the source lets the guest send from 10.0.0.5 and from 10.0.0.99 */
    spoof_traffic(f->p.src, f->gsrc, family, &ok5, &ok99);
    g_assert_cmpuint(ok5, ==, 3);
    g_assert_cmpuint(ok99, ==, 3);
    /* without netcarry the destination drops the guest until its next renewal */
    spoof_traffic(f->p.dst, f->gdst, family, &ok5, &ok99);
    g_assert_cmpuint(ok5, ==, 0);
    g_assert_cmpuint(ok99, ==, 0);

    got = capture(f->p.src, f->p.owner, lost, &error);
    NC_KTEST_CHECK_OK(got != NULL, error);
    {
        g_autoptr(GPtrArray) items = nc_item_set_items(got);

        for (guint i = 0; i < items->len; i++) {
            g_autofree char *d = nc_nft_set_describe(items->pdata[i]);

            g_test_message("captured: %s", d);
        }
    }
    /* its MAC, its learned binding, its IPv6 binding; nothing of the other VM's */
    g_assert_cmpuint(nc_item_set_count(got), ==, 3);
    e = find(got, "macs");
    g_assert_nonnull(e);
    if (e)
        g_assert_false(e->has_timeout);
    e = find(got, "binding");
    g_assert_nonnull(e);
    if (e) {
        g_autofree char *d = nc_nft_set_describe(e);
        g_autofree char *want =
            g_strdup_printf("%s/as/binding element 10.0.0.5 . 52:54:00:00:00:05", family);

        g_assert_cmpstr(d, ==, want);
        g_assert_true(e->has_timeout);
        g_assert_cmpuint(e->timeout_ms, ==, 3600000);
    }
    g_assert_nonnull(find(got, "binding6"));
    for (guint i = 0; i < lost->len; i++) {
        const NcNotCarried *nc = lost->pdata[i];

        g_test_message("not carried: %s: %s", nc->what, nc->reason);
        if (strstr(nc->what, "binding element 10.0.0.99 . 52:54:00:00:00:05"))
            found = TRUE;
    }
    g_assert_true(found);

    /* a source that claims 10.0.0.99 as the guest's sends its binding: the destination, which
     * knows the guest by 10.0.0.5 and 2001:db8::5 only, refuses the lot */
    wide = nc_owner_copy(f->p.owner);
    nc_addr_parse("10.0.0.99", &a, NULL);
    g_array_append_val(wide->addresses, a);
    claimed = capture(f->p.src, wide, NULL, &error);
    NC_KTEST_CHECK_OK(claimed != NULL, error);
    g_assert_cmpuint(nc_item_set_count(claimed), ==, 4);
    ok = install(f->p.dst, f->p.owner, claimed, NULL, &error);
    g_assert_false(ok);
    g_assert_error(error, NC_ERROR, NC_ERROR_INVALID_DATA);
    if (error) {
        g_test_message("refused: %s", error->message);
        g_assert_nonnull(strstr(error->message, "10.0.0.99"));
    }
    g_clear_error(&error);
    there = capture(f->p.dst, f->p.owner, NULL, &error);
    NC_KTEST_CHECK_OK(there != NULL, error);
    g_assert_cmpuint(nc_item_set_count(there), ==, 0);
    g_clear_pointer(&there, nc_item_set_free);

    /* the guest's own state goes in: its frames pass from its address, not from 10.0.0.99 */
    ok = install(f->p.dst, f->p.owner, got, &installed, &error);
    NC_KTEST_CHECK_OK(ok, error);
    g_assert_cmpuint(nc_item_set_count(installed), ==, 3);
    spoof_traffic(f->p.dst, f->gdst, family, &ok5, &ok99);
    g_assert_cmpuint(ok5, ==, 3);
    g_assert_cmpuint(ok99, ==, 0);

    /* the learned binding kept its remaining time; the other VM's state stayed behind */
    again = capture(f->p.src, f->p.owner, NULL, &error);
    there = capture(f->p.dst, f->p.owner, NULL, &error);
    NC_KTEST_CHECK_OK(again && there, error);
    e = find(again, "binding");
    e2 = find(there, "binding");
    g_assert_nonnull(e2);
    if (e && e2) {
        g_assert_cmpuint(e2->timeout_ms, ==, 3600000);
        g_assert_cmpint(ABS((gint64)e->expires_ms - (gint64)e2->expires_ms), <, 2000);
    }
    listed = nc_ktest_nft_list(f->p.dst, what);
    g_assert_null(strstr(listed, "52:54:00:00:00:07"));
    g_assert_null(strstr(listed, "10.0.0.99 . "));

    /* a roll-back takes the guest's state away again: its frames are dropped */
    {
        g_autoptr(NcNftNl) nl = nc_nft_nl_open(f->p.dst, &error);

        NC_KTEST_CHECK_OK(nl != NULL, error);
        ok = nc_nft_set_remove(nl, installed, NULL, &error);
        NC_KTEST_CHECK_OK(ok, error);
    }
    spoof_traffic(f->p.dst, f->gdst, family, &ok5, &ok99);
    g_assert_cmpuint(ok5, ==, 0);
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
    g_test_add("/nft-set/antispoof/bridge", SpoofFixture, "bridge", spoof_setup, test_antispoof,
               spoof_teardown);
    g_test_add("/nft-set/antispoof/inet", SpoofFixture, "inet", spoof_setup, test_antispoof,
               spoof_teardown);
    return g_test_run();
}
