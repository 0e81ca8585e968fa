/* test-state-drivers.c - the classes through the state-driver interface only (registry, vtable):
 * all or nothing across classes, roll-back of every class, verify
 */
#include <string.h>
#include <unistd.h>

#include <linux/netfilter/nf_tables.h>

#include "drivers/nc-nft-obj.h"
#include "drivers/nc-nft-set.h"
#include "drivers/nc-policy-drv.h"
#include "nc-ktest.h"
#include "util/nc-error.h"

typedef NcKtestPair Fixture;

static const char SRC[] =
    "table inet fw {\n"
    "  set authed { type ipv4_addr; flags timeout; }\n"
    "  counter vm50 { packets 9 bytes 900 }\n"
    "  map vmc { type ipv4_addr : counter; elements = { 10.0.0.5 : \"vm50\" } }\n"
    "}\n"
    "add element inet fw authed { 10.0.0.5 timeout 60s expires 40s }\n";

/* the destination, as declared by its operator; "authed" missing unless appended */
static const char DST_NO_SET[] =
    "table inet fw {\n"
    "  counter vm50 { }\n"
    "  map vmc { type ipv4_addr : counter; elements = { 10.0.0.5 : \"vm50\" } }\n"
    "}\n";

static void fixture_setup(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    NcAddr a;

    if (!nc_ktest_ns_pair("nc-sdrv", f->src, f->dst, sizeof(f->src), &f->ready))
        return;
    if (!nc_ktest_nft_load(f->src, SRC, &error) || !nc_ktest_nft_load(f->dst, DST_NO_SET, &error)) {
        g_assert_no_error(error);
        return;
    }
    f->owner = nc_owner_new();
    nc_addr_parse("10.0.0.5", &a, NULL);
    g_array_append_val(f->owner->addresses, a);
    g_ptr_array_add(f->owner->objects, nc_object_ref_new("inet", "fw", "vm50", "counter"));
}

/* Every registered class's capture on the source, by name; and the destination's handles. */
typedef struct {
    NcClassCarry classes[2];
    gpointer src_handles[2];
    guint n;
} Carry;

static void carry_clear(Carry *c)
{
    for (guint i = 0; i < c->n; i++) {
        const NcStateDriver *d = c->classes[i].driver;

        if (c->classes[i].installed)
            nc_item_set_free(c->classes[i].installed);
        nc_item_set_free((NcItemSet *)c->classes[i].items);
        if (c->classes[i].handle)
            d->close(c->classes[i].handle);
        if (c->src_handles[i])
            d->close(c->src_handles[i]);
    }
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Carry, carry_clear)

static gboolean carry_capture(Carry *c, const Fixture *f, GError **error)
{
    static const char *const order[] = {"nft-set", "nft-object"}; /* sets before objects */

    for (guint i = 0; i < G_N_ELEMENTS(order); i++) {
        const NcStateDriver *d = nc_state_driver_lookup(order[i]);
        NcItemSet *items;

        g_assert_nonnull(d);
        if (!d)
            return FALSE;
        items = nc_item_set_new(d->ops);
        c->classes[i].driver = d;
        c->classes[i].items = items;
        c->n = i + 1;
        c->src_handles[i] = d->open(f->src, error);
        c->classes[i].handle = c->src_handles[i] ? d->open(f->dst, error) : NULL;
        if (!c->classes[i].handle || !d->capture(c->src_handles[i], f->owner, items, NULL, error))
            return FALSE;
    }
    return TRUE;
}

static guint64 dst_counter_packets(const Fixture *f)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(NcNftNl) nl = nc_nft_nl_open(f->dst, &error);
    g_autoptr(NcItemSet) objs = nc_item_set_new(&nc_nft_obj_class);
    g_autoptr(GPtrArray) items = NULL;

    g_assert_no_error(error);
    if (!nl || !nc_nft_obj_capture(nl, f->owner, objs, NULL, &error) ||
        nc_item_set_count(objs) != 1)
        return G_MAXUINT64;
    items = nc_item_set_items(objs);
    return ((const NcNftObj *)items->pdata[0])->packets;
}

/* A set missing on the destination: nothing of any class is installed (the counter is not set
 * either), and the error names the class and the set. */
static void test_all_or_nothing(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    g_auto(Carry) c = {0};
    gboolean ok;

    if (!f->owner)
        return;
    ok = carry_capture(&c, f, &error);
    NC_KTEST_CHECK_OK(ok, error);
    g_assert_cmpuint(nc_item_set_count(c.classes[0].items), ==, 2); /* authed, vmc's element */
    g_assert_cmpuint(nc_item_set_count(c.classes[1].items), ==, 1);
    ok = nc_state_drivers_install_all(c.classes, c.n, f->owner, &error);
    g_assert_false(ok);
    g_assert_error(error, NC_ERROR, NC_ERROR_NOT_FOUND);
    if (error) {
        g_test_message("%s", error->message);
        g_assert_true(g_str_has_prefix(error->message, "class nft-set: set inet/fw/authed"));
    }
    g_assert_cmpuint(dst_counter_packets(f), ==, 0);
    g_assert_null(c.classes[0].installed);
    g_assert_null(c.classes[1].installed);
}

/* Every class installs; verify finds what was installed; the roll-back removes the elements the
 * carry added (not the object map's element, which the destination had) and restores the
 * counter. */
static void test_roll_back(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    g_auto(Carry) c = {0};
    g_autofree char *listed = NULL;
    guint n = 0;
    gboolean ok;

    if (!f->owner)
        return;
    ok = nc_ktest_nft_load(f->dst, "add set inet fw authed { type ipv4_addr; flags timeout; }\n",
                           &error) &&
         carry_capture(&c, f, &error);
    NC_KTEST_CHECK_OK(ok, error);
    ok = nc_state_drivers_install_all(c.classes, c.n, f->owner, &error);
    NC_KTEST_CHECK_OK(ok, error);
    g_assert_cmpuint(dst_counter_packets(f), ==, 9);
    /* the map element existed on the destination: not the carry's */
    g_assert_cmpuint(nc_item_set_count(c.classes[0].installed), ==, 1);
    for (guint i = 0; i < c.n; i++) {
        g_autoptr(NcItemDiff) diff = NULL;

        ok = nc_state_driver_verify(c.classes[i].driver, c.classes[i].handle, f->owner,
                                    c.classes[i].items, &diff, &error);
        NC_KTEST_CHECK_OK(ok, error);
        g_assert_true(nc_item_diff_is_empty(diff));
    }

    ok = nc_state_drivers_remove_all(c.classes, c.n, &n, &error);
    NC_KTEST_CHECK_OK(ok, error);
    g_assert_cmpuint(n, ==, 2); /* one element removed, one counter restored */
    g_assert_cmpuint(dst_counter_packets(f), ==, 0);
    listed = nc_ktest_nft_list(f->dst, "table inet fw");
    g_test_message("%s", listed);
    g_assert_null(strstr(listed, "expires"));                /* authed is empty again */
    g_assert_nonnull(strstr(listed, "10.0.0.5 : \"vm50\"")); /* the operator's map element */
}

/* An element the destination holds already with the same data takes the carried remaining time
 * and stays when the carry is rolled back. */
static void test_existing_element(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    g_auto(Carry) c = {0};
    g_autoptr(NcNftNl) nl = NULL;
    g_autoptr(NcItemSet) there = nc_item_set_new(&nc_nft_set_class);
    g_autoptr(GPtrArray) items = NULL;
    g_autoptr(NcOwner) sets_only = nc_owner_new();
    gboolean ok;

    if (!f->owner)
        return;
    ok = nc_ktest_nft_load(f->dst,
                           "add set inet fw authed { type ipv4_addr; flags timeout; }\n"
                           "add element inet fw authed { 10.0.0.5 timeout 60s expires 5s }\n",
                           &error) &&
         carry_capture(&c, f, &error);
    NC_KTEST_CHECK_OK(ok, error);
    ok = nc_state_drivers_install_all(c.classes, 1, f->owner, &error);
    NC_KTEST_CHECK_OK(ok, error);
    g_assert_cmpuint(nc_item_set_count(c.classes[0].installed), ==, 0);
    g_array_append_vals(sets_only->addresses, f->owner->addresses->data, 1);
    g_ptr_array_add(sets_only->objects, nc_object_ref_new("inet", "fw", "authed", "set"));
    nl = nc_nft_nl_open(f->dst, &error);
    ok = nl && nc_nft_set_capture(nl, sets_only, there, NULL, &error);
    NC_KTEST_CHECK_OK(ok, error);
    items = nc_item_set_items(there);
    g_assert_cmpuint(items->len, ==, 1);
    if (items->len == 1) {
        const NcNftSetElem *e = items->pdata[0];

        g_test_message("remaining after the install: %" G_GUINT64_FORMAT " ms", e->expires_ms);
        g_assert_cmpuint(e->expires_ms, >, 35000); /* the source's 40 s, not the 5 s it had */
    }
}

/* Whether `ip netns exec NS CMD` succeeds: the kernel's own answer, to hold the probe against. */
static gboolean in_ns(const char *ns, const char *cmd)
{
    g_autoptr(GError) error = NULL;

    return nc_ktest_run(NULL, &error, "ip netns exec %s %s", ns, cmd);
}

static NcOwner *port_owner(const char *bridge, const char *vlan, gboolean bandwidth)
{
    NcOwner *o = nc_owner_new();
    NcOwnerPort *p;

    nc_owner_add_port(o, (const guint8[]){0x52, 0x54, 0, 0, 0, 0x50}, NULL, bridge);
    p = o->ports->pdata[0];
    p->vlan = g_strdup(vlan);
    p->bandwidth = bandwidth;
    return o;
}

/* The port class on the destination: its bridge must exist there; <vlan> and <bandwidth> are
 * refused exactly when this kernel cannot make a VLAN link (nor a VLAN-filtering bridge), or the
 * qdiscs libvirt's <bandwidth> adds, as `ip` and `tc` find in the same namespace. */
static void test_port_needs(Fixture *f, gconstpointer data)
{
    const NcStateDriver *d = nc_state_driver_lookup("port");
    g_autoptr(GError) error = NULL;
    gpointer h;
    gboolean vlan_ok, bw_ok, ok;

    if (!f->owner)
        return;
    g_assert_nonnull(d);
    g_assert_true(d->checked);
    g_assert_true(in_ns(f->dst, "ip link add ncbr0 type bridge"));
    g_assert_true(in_ns(f->dst, "ip link add ncv0 type veth peer name ncv1"));
    vlan_ok = in_ns(f->dst, "ip link add link ncv0 name ncv0.10 type vlan id 10") ||
              in_ns(f->dst, "ip link add ncbr1 type bridge vlan_filtering 1");
    bw_ok =
        in_ns(f->dst, "tc qdisc add dev ncv1 root handle 1: htb default 1") &&
        in_ns(f->dst, "tc class add dev ncv1 parent 1: classid 1:1 htb rate 1mbit") &&
        in_ns(f->dst, "tc qdisc add dev ncv1 parent 1:1 handle 2: sfq perturb 10") &&
        in_ns(f->dst,
              "tc filter add dev ncv1 parent 1:0 protocol all prio 1 handle 1 fw flowid 1") &&
        in_ns(f->dst, "tc qdisc add dev ncv1 ingress") &&
        in_ns(f->dst, "tc filter add dev ncv1 parent ffff: protocol all u32 match u32 0 0 police "
                      "rate 1mbit burst 10k drop flowid :1");
    g_test_message("this kernel: VLAN %s, bandwidth %s", vlan_ok ? "yes" : "no",
                   bw_ok ? "yes" : "no");
    h = d->open(f->dst, &error);
    g_assert_no_error(error);
    {
        g_autoptr(NcOwner) o = port_owner("ncbr0", NULL, FALSE);

        ok = d->probe(h, o, NULL, &error);
        g_assert_no_error(error);
        g_assert_true(ok);
    }
    {
        g_autoptr(NcOwner) o = port_owner("nosuchbr", NULL, FALSE);

        g_assert_false(d->probe(h, o, NULL, &error));
        g_assert_error(error, NC_ERROR, NC_ERROR_NOT_FOUND);
        g_assert_nonnull(strstr(error->message, "bridge nosuchbr missing on this host"));
        g_clear_error(&error);
    }
    {
        g_autoptr(NcOwner) o = port_owner("ncbr0", "10", FALSE);

        ok = d->probe(h, o, NULL, &error);
        g_test_message("<vlan>: %s", ok ? "can be applied" : error->message);
        g_assert_cmpint(ok, ==, vlan_ok);
        if (!ok) {
            g_assert_error(error, NC_ERROR, NC_ERROR_UNSUPPORTED);
            g_assert_nonnull(strstr(error->message, "no 802.1q"));
        }
        g_clear_error(&error);
    }
    {
        g_autoptr(NcOwner) o = port_owner("ncbr0", NULL, TRUE);

        ok = d->probe(h, o, NULL, &error);
        g_test_message("<bandwidth>: %s", ok ? "can be applied" : error->message);
        g_assert_cmpint(ok, ==, bw_ok);
        if (!ok)
            g_assert_error(error, NC_ERROR, NC_ERROR_UNSUPPORTED);
        g_clear_error(&error);
    }
    d->close(h);
}

/* A per-VM chain: its rules read without handles or counter values in two namespaces, compared:
 * the same chain whose counter counted differently is the same; another verdict differs */
static void test_chain_check(Fixture *f, gconstpointer data)
{
    const NcStateDriver *d = nc_state_driver_lookup("nft-chain");
    g_autoptr(GError) error = NULL;
    g_autoptr(NcOwner) o = nc_owner_new();
    g_autoptr(NcItemSet) sent = NULL;
    gpointer hs, hd;
    gboolean ok;
    static const char chain[] =
        "table inet pol {\n"
        "  chain vmin { type filter hook forward priority 0;\n"
        "    ip daddr 10.0.0.5 tcp dport 22 counter packets 7 bytes 420 %s\n"
        "  }\n"
        "}\n";
    g_autofree char *accept = g_strdup_printf(chain, "accept");
    g_autofree char *drop = g_strdup_printf(chain, "drop");

    if (!f->owner)
        return;
    g_ptr_array_add(o->chains, nc_object_ref_new("inet", "pol", "vmin", "chain"));
    g_assert_true(nc_ktest_nft_load(f->src, accept, &error));
    hs = d->open(f->src, &error);
    hd = d->open(f->dst, &error);
    g_assert_no_error(error);
    sent = nc_item_set_new(d->ops);
    ok = d->capture(hs, o, sent, NULL, &error);
    g_assert_no_error(error);
    g_assert_true(ok);
    g_assert_cmpuint(nc_item_set_count(sent), ==, 1);
    g_assert_false(d->probe(hd, o, sent, &error));
    g_assert_error(error, NC_ERROR, NC_ERROR_NOT_FOUND);
    g_assert_nonnull(strstr(error->message, "chain inet/pol/vmin missing on this host"));
    g_clear_error(&error);
    g_assert_true(nc_ktest_nft_load(f->dst, drop, &error));
    g_assert_false(d->probe(hd, o, sent, &error));
    g_assert_error(error, NC_ERROR, NC_ERROR_FAILED);
    g_assert_nonnull(strstr(error->message, "chain inet/pol/vmin differs: rule 1"));
    g_clear_error(&error);
    g_assert_true(nc_ktest_nft_load(f->dst, "flush ruleset\n", &error));
    g_assert_true(nc_ktest_nft_load(f->dst, accept, &error));
    g_assert_true(nc_ktest_nft_load(f->dst, "reset counters table inet pol\n",
                                    &error)); /* other values, same rules */
    ok = d->probe(hd, o, sent, &error);
    g_assert_no_error(error);
    g_assert_true(ok);
    d->close(hs);
    d->close(hd);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_set_nonfatal_assertions();

#define ADD(path, fn) g_test_add(path, Fixture, NULL, fixture_setup, fn, nc_ktest_pair_teardown)
    ADD("/state-drivers/all-or-nothing", test_all_or_nothing);
    ADD("/state-drivers/roll-back", test_roll_back);
    ADD("/state-drivers/existing-element", test_existing_element);
    ADD("/state-drivers/checked/port-needs", test_port_needs);
    ADD("/state-drivers/checked/chain", test_chain_check);
    return g_test_run();
}
